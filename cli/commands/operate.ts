/**
 * The operator's mutations: `mlops approve`, `reject`, `rollback`, `retrain`. Each sends one
 * OperatorCommand (core/domain/operator-commands.ts) with the caller as actor, to the stack's
 * operator function (Lambda Invoke) or the local cloud's (`POST /operator`): the same use cases
 * and conditional transitions as the pipeline, never a write around them. Where this stands: CLI
 * command.
 */
import { randomUUID } from 'node:crypto';
import {
  REQUEST_ID_PATTERN,
  type OperatorCommand,
  type OperatorResult,
} from '../../core/domain/operator-commands';
import { UsageError, type CliCommand, type CliIo } from '../command';
import { paletteFor, printJson } from '../format/style';
import {
  modelArgument,
  positionals,
  stringOption,
  TARGET_HELP,
  versionArgument,
  type ParsedCommandLine,
} from '../options';
import { exitCodeOf } from '../target/operator-result';
import type { Target, TargetResolver } from '../target/target';
import { defineOperatorCommand } from './define';

const RESULT_HELP = `Output: the result's message (stdout), or why it was refused (stderr).
  --json prints { "command": <the OperatorCommand sent>, "result": <the OperatorResult>:
  { "ok": true, "action", "model", "version", "message", "deploy"? } or
  { "ok": false, "error": { "code": "malformed|not-found|conflict|regression|failed", "message" } } }

Exit codes: 0 done, 2 malformed, 3 model/version/dataset not found, 4 refused (the version is not
in a state that allows it, a rollout is in flight, or the champion is better), 1 failed.`;

const APPROVE_HELP = `Usage: mlops approve <model> <version> [--note <text>] [options]

Approves a version waiting in PENDING_APPROVAL (gate.approval "manual"). The approval is checked
again against the current champion (no regression), audited with who you are (your IAM ARN in
AWS, local:<user> locally), and the version is rolled out through the guarded blue/green path.

Options:
  --note <text>   why, for the audit trail (default "approved")
  --json          print JSON (below)
  -h, --help      show this help

${TARGET_HELP}

${RESULT_HELP}

Examples:
  mlops approve churn 4 --note "reviewed the lift chart"
  mlops approve churn 4 --stack ServerlessMlops --json
`;

const REJECT_HELP = `Usage: mlops reject <model> <version> --reason <text> [options]

Rejects a version waiting in PENDING_APPROVAL; the reason is recorded on it and in the audit trail.

Options:
  --reason <text>  why (required)
  --json           print JSON (below)
  -h, --help       show this help

${TARGET_HELP}

${RESULT_HELP}

Example:
  mlops reject churn 4 --reason "trained on the March export with the duplicated rows"
`;

const ROLLBACK_HELP = `Usage: mlops rollback <model> [--to <version>] [--reason <text>] [options]

Puts an earlier version back in production through the same guarded blue/green rollout as any
approved version (the version goes ARCHIVED -> APPROVED -> DEPLOYING -> PRODUCTION). Without
--to: the version that served before the champion.

Options:
  --to <version>   the version to serve again (e.g. 1 or v1)
  --reason <text>  why, for the audit trail
  --json           print JSON (below)
  -h, --help       show this help

${TARGET_HELP}

${RESULT_HELP}

Examples:
  mlops rollback churn
  mlops rollback churn --to 1 --reason "v3 mis-scores new customers"
`;

const RETRAIN_HELP = `Usage: mlops retrain <model> [--dataset <id>] [--reason <text>] [options]

Trains a new version from a dataset already registered, without uploading it again: --dataset
(an accepted dataset's id, see mlops show), else the latest accepted one. The new version goes
through the same gate and rollout as an upload. A request id is generated, so a retried request
makes no second version (give your own with --request-id).

Options:
  --dataset <id>       the dataset to train on
  --reason <text>      why, for the audit trail
  --request-id <id>    idempotency key (1-64 of A-Z a-z 0-9 - _; default: a new UUID)
  --json               print JSON (below)
  -h, --help           show this help

${TARGET_HELP}

${RESULT_HELP}

Examples:
  mlops retrain churn
  mlops retrain churn --dataset leads-2025-05-3f9a1c0b2e --reason "new labels"
`;

/** `mlops approve|reject|rollback|retrain --json`. */
export interface OperateOutput {
  readonly command: OperatorCommand;
  readonly result: OperatorResult;
}

/** Sends `command` and prints what came back; resolves to the exit code. */
export async function sendOperatorCommand(
  target: Target,
  command: OperatorCommand,
  json: boolean,
  io: CliIo,
): Promise<number> {
  const result = await target.operator.send(command);
  if (json) printJson(io, { command, result } satisfies OperateOutput);
  else if (result.ok) io.out(paletteFor(io).green(result.message));
  else io.err(`${result.error.code}: ${result.error.message}`);
  return exitCodeOf(result);
}

type Build = (line: ParsedCommandLine, actor: string) => OperatorCommand;

function operatorCommand(
  spec: {
    name: string;
    summary: string;
    help: string;
    options?: Parameters<typeof defineOperatorCommand>[0]['options'];
  },
  validate: (line: ParsedCommandLine) => void,
  build: Build,
  resolver?: TargetResolver,
): CliCommand {
  return defineOperatorCommand(
    {
      ...spec,
      validate,
      async run(line, target, io) {
        return sendOperatorCommand(target, build(line, await target.actor()), line.json, io);
      },
    },
    resolver,
  );
}

/** Optional free text: non-empty when given. */
function text(line: ParsedCommandLine, flag: string): string | undefined {
  const value = stringOption(line.values, flag);
  if (value !== undefined && value.trim() === '') throw new UsageError(`--${flag} must not be empty`);
  return value;
}

/** The `mlops approve` command. */
export function createApproveCommand(resolver?: TargetResolver): CliCommand {
  return operatorCommand(
    {
      name: 'approve',
      summary: 'approve a version waiting for approval; it rolls out',
      help: APPROVE_HELP,
      options: { note: { type: 'string' } },
    },
    (line) => {
      const [model, version] = positionals(line.positionals, ['model', 'version']);
      modelArgument(model!);
      versionArgument(version!);
      text(line, 'note');
    },
    (line, actor) => {
      const note = text(line, 'note');
      return {
        action: 'approve',
        model: line.positionals[0]!,
        version: versionArgument(line.positionals[1]!),
        actor,
        ...(note !== undefined ? { note } : {}),
      };
    },
    resolver,
  );
}

/** The `mlops reject` command. */
export function createRejectCommand(resolver?: TargetResolver): CliCommand {
  return operatorCommand(
    {
      name: 'reject',
      summary: 'reject a version waiting for approval, with a reason',
      help: REJECT_HELP,
      options: { reason: { type: 'string' } },
    },
    (line) => {
      const [model, version] = positionals(line.positionals, ['model', 'version']);
      modelArgument(model!);
      versionArgument(version!);
      if (text(line, 'reason') === undefined) throw new UsageError('--reason is required: say why');
    },
    (line, actor) => ({
      action: 'reject',
      model: line.positionals[0]!,
      version: versionArgument(line.positionals[1]!),
      actor,
      reason: text(line, 'reason')!,
    }),
    resolver,
  );
}

/** The `mlops rollback` command. */
export function createRollbackCommand(resolver?: TargetResolver): CliCommand {
  return operatorCommand(
    {
      name: 'rollback',
      summary: 'serve an earlier version again, through a guarded blue/green rollout',
      help: ROLLBACK_HELP,
      options: { to: { type: 'string' }, reason: { type: 'string' } },
    },
    (line) => {
      modelArgument(positionals(line.positionals, ['model'])[0]!);
      const to = stringOption(line.values, 'to');
      if (to !== undefined) versionArgument(to, '--to');
      text(line, 'reason');
    },
    (line, actor) => {
      const to = stringOption(line.values, 'to');
      const reason = text(line, 'reason');
      return {
        action: 'rollback',
        model: line.positionals[0]!,
        actor,
        ...(to !== undefined ? { to: versionArgument(to, '--to') } : {}),
        ...(reason !== undefined ? { reason } : {}),
      };
    },
    resolver,
  );
}

/** The `mlops retrain` command; `newRequestId` is injectable for tests. */
export function createRetrainCommand(
  resolver?: TargetResolver,
  newRequestId: () => string = randomUUID,
): CliCommand {
  return operatorCommand(
    {
      name: 'retrain',
      summary: 'train a new version from a registered dataset, no re-upload',
      help: RETRAIN_HELP,
      options: { dataset: { type: 'string' }, reason: { type: 'string' }, 'request-id': { type: 'string' } },
    },
    (line) => {
      modelArgument(positionals(line.positionals, ['model'])[0]!);
      text(line, 'dataset');
      text(line, 'reason');
      const id = stringOption(line.values, 'request-id');
      if (id !== undefined && !REQUEST_ID_PATTERN.test(id))
        throw new UsageError('--request-id must be 1 to 64 characters from A-Z, a-z, 0-9, "-" and "_"');
    },
    (line, actor) => {
      const datasetId = text(line, 'dataset');
      const reason = text(line, 'reason');
      return {
        action: 'retrain',
        model: line.positionals[0]!,
        actor,
        requestId: stringOption(line.values, 'request-id') ?? newRequestId(),
        ...(datasetId !== undefined ? { datasetId } : {}),
        ...(reason !== undefined ? { reason } : {}),
      };
    },
    resolver,
  );
}
