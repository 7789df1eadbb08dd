/**
 * Test support for the `mlops` operator commands: a captured terminal, a target on any registry
 * with fake alarms, operator and uploader, and running one command through the CLI's dispatcher
 * (so exit codes of CliError and UsageError are the real ones). Where this stands: test
 * infrastructure for test/cli/.
 */
import type { CliCommand, CliIo } from '../../../cli/command';
import { runCli } from '../../../cli/main';
import type {
  AlarmState,
  DatasetUploader,
  OperatorClient,
  RegistryReader,
  Target,
  TargetOptions,
  TargetResolver,
} from '../../../cli/target/target';
import type { OperatorCommand, OperatorResult } from '../../../core/domain/operator-commands';

/** A terminal whose output is kept. */
export interface CapturedIo extends CliIo {
  stdout: string;
  stderr: string;
}

/** A captured terminal; `tty` and `env` as given. */
export function captureIo(
  options: { tty?: boolean; env?: Record<string, string | undefined> } = {},
): CapturedIo {
  const io: CapturedIo = {
    stdout: '',
    stderr: '',
    out: (t) => void (io.stdout += t.endsWith('\n') ? t : `${t}\n`),
    err: (t) => void (io.stderr += t.endsWith('\n') ? t : `${t}\n`),
    progress: (t) => void (io.stderr += t),
    tty: options.tty ?? false,
    env: options.env ?? {},
  };
  return io;
}

/** An operator client that records the commands and answers `answer`. */
export function fakeOperator(answer: (command: OperatorCommand) => OperatorResult): OperatorClient & {
  sent: OperatorCommand[];
} {
  const sent: OperatorCommand[] = [];
  return {
    sent,
    send: (command) => {
      sent.push(command);
      return Promise.resolve(answer(command));
    },
  };
}

/** A target on `registry` with fakes for the rest; the options each resolution got are kept. */
export function fakeTarget(
  registry: Partial<RegistryReader>,
  parts: {
    alarms?: readonly AlarmState[] | Error;
    operator?: OperatorClient;
    uploader?: DatasetUploader;
    resourcePrefix?: string;
  } = {},
): { target: Target; resolver: TargetResolver; resolved: TargetOptions[]; closed: () => number } {
  const resolved: TargetOptions[] = [];
  let closes = 0;
  const missing = (name: string) => () => Promise.reject(new Error(`the fake target has no ${name}`));
  const target: Target = {
    kind: 'local',
    description: 'test cloud',
    bucket: 'data',
    ...(parts.resourcePrefix !== undefined ? { resourcePrefix: parts.resourcePrefix } : {}),
    registry: new Proxy(registry as RegistryReader, {
      get: (t, p: string) => (t as unknown as Record<string, unknown>)[p] ?? missing(p),
    }),
    alarms: {
      listAlarms: (models) =>
        parts.alarms instanceof Error
          ? Promise.reject(parts.alarms)
          : Promise.resolve(
              (parts.alarms ?? []).filter((a) => a.model !== undefined && models.includes(a.model)),
            ),
    },
    operator:
      parts.operator ??
      fakeOperator(() => ({ ok: false, error: { code: 'failed', message: 'no operator' } })),
    uploader: parts.uploader ?? { upload: missing('uploader') },
    actor: () => Promise.resolve('local:tester'),
    close: () => void closes++,
  };
  return {
    target,
    resolved,
    closed: () => closes,
    resolver: (options) => {
      resolved.push(options);
      return Promise.resolve(target);
    },
  };
}

/** Runs `mlops <args>` with only `commands`; resolves to the exit code and the output. */
export async function run(
  commands: readonly CliCommand[],
  args: readonly string[],
  io: CapturedIo = captureIo(),
): Promise<{ code: number; stdout: string; stderr: string; json: () => unknown }> {
  const code = await runCli(args, io, commands);
  return { code, stdout: io.stdout, stderr: io.stderr, json: () => JSON.parse(io.stdout) as unknown };
}
