/**
 * The shape of an `mlops` CLI command. Where this stands: the CLI's plumbing; each command is its
 * own module under `cli/commands/` and is listed in `cli/commands/index.ts`.
 */

/** Where a command writes (injectable for tests). */
export interface CliIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  /** Whether stdout is a terminal (tables may use colour, uploads draw a progress bar). @default false */
  readonly tty?: boolean;
  /** Writes to stderr as it is, no newline added (a progress bar redrawn with `\r`). */
  readonly progress?: (text: string) => void;
  /** The environment read for NO_COLOR. @default process.env */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** The real terminal: stdout and stderr, a newline added where missing. */
export const processIo: CliIo = {
  out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
  err: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
  tty: process.stdout.isTTY === true,
  progress: (text) => process.stderr.write(text),
};

/** The exit codes of every `mlops` command, for scripts. */
export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  notFound: 3,
  /** Refused: the record was not in a state that allows it, or the gate's regression check said no. */
  refused: 4,
} as const;

/** An exit code of {@link EXIT}. */
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** One `mlops` command, listed in `cli/commands/index.ts`; `run` resolves to the exit code. */
export interface CliCommand {
  /** The first word: `mlops <name> ...`. */
  readonly name: string;
  /** One line for `mlops --help`. */
  readonly summary: string;
  /** Full help text for `mlops <name> --help`. */
  readonly help: string;
  /** Runs with the arguments after the name; resolves to the exit code. */
  run(args: readonly string[], io: CliIo): Promise<number>;
}

/** A mistake in the command line: printed with the command's help, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/**
 * A command that cannot go on, with the exit code scripts see and a message that says what to do
 * (printed without the help): no local cloud, no credentials, a model that does not exist.
 */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: ExitCode = EXIT.failure,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
