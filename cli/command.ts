/**
 * The shape of an `mlops` CLI command. Where this stands: the CLI's plumbing; each command is its
 * own module under `cli/commands/` and is listed in `cli/commands/index.ts`.
 */

/** Where a command writes (injectable for tests). */
export interface CliIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

/** The real terminal: stdout and stderr, a newline added where missing. */
export const processIo: CliIo = {
  out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
  err: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
};

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
