/**
 * `mlops dlq [list|redrive]`: the dead letters of the local cloud in `--dir`, listed, and delivered
 * again to the rule that gave up on them; with `--stack`, the deployed stack's dead-letter queues:
 * their depth and first messages, and `redrive` (or `--redrive`) sends them back (the ingest DLQ
 * with an SQS message move task, the others by invoking their function with each event); with
 * `--aws`, the AWS CLI commands that do the same. Where this stands: CLI command; the local work is
 * in local/dead-letters.ts, the AWS work in cli/target/dead-letter-queues.ts.
 */
import { parseArgs } from 'node:util';
import type { DeadLetterFilter, DeadLetterSummary, RedriveOutcome } from '../../local/dead-letters';
import { UsageError, type CliCommand, type CliIo } from '../command';
import { formatTable } from '../../core/support/text-table';
import { printJson } from '../format/style';
import type { AwsTarget } from '../target/aws-target';
import {
  DEAD_LETTER_QUEUES,
  type DeadLetterQueueState,
  type RedriveResult,
} from '../target/dead-letter-queues';

const HELP = `Usage: mlops dlq [list|redrive] [options]

The events a rule of the local cloud in --dir gave up on after all its retries
(<dir>/dead-letters.jsonl), the local twin of the stack's dead-letter queues. Fix the cause, then
redrive them.

Commands:
  list        (the default) one line per dead letter: when, rule, event id, detail-type, what it is about
              (dataset key, training job, endpoint, alarm), attempts, error
  redrive     deliver them again (all, or those of --rule and/or --id) to the rule that gave up on
              them, with their retries starting over: through the running local cloud, or, when
              it is stopped, at its next start (they move to <dir>/backlog.jsonl). Redriven lines
              leave the file, the others stay. The handlers are idempotent: an event that was in
              fact processed changes nothing.

Options:
  --rule <name>   only this rule's dead letters (e.g. mlops-dataset-created, mlops-training-events)
  --id <id>       only the event with this id
  --dir <path>    the local cloud's folder (default .mlops-local)
  --json          print JSON
  --redrive       the same as the redrive command
  --stack <name>  the deployed stack's dead-letter queues instead, with your AWS credentials:
                  list shows each queue's depth and its first messages (--peek); redrive sends
                  them back: the ingest DLQ with an SQS message move task to the ingest queue,
                  the event handlers' DLQs by invoking the handler's function asynchronously with
                  each original event, deleting the message once invoked (--rule is then the
                  handler: ${DEAD_LETTER_QUEUES.map((q) => q.handler).join(', ')})
  --region <r>    with --stack: the stack's Region
  --peek <n>      with --stack: messages shown per queue (default 3, at most 10; 0 for none)
  --aws           print the AWS CLI commands that do the same instead (--stack then names the
                  stack, default ServerlessMlops)
  -h, --help      show this help

JSON with --stack: list { "queues": [{ "handler", "url", "messages", "inFlight",
  "peeked": [{ "messageId", "sentAt"?, "what", "error"?, "body" }] }] };
  redrive { "redriven": [{ "handler", "kind": "move-task", "taskHandle", "messages" } |
  { "handler", "kind": "invoked", "redriven", "failed": [{ "messageId", "error" }] }] }

Exit codes: 0, 1 when a message could not be redriven.

Examples:
  mlops dlq
  mlops dlq redrive --rule mlops-dataset-created
  mlops dlq --stack ServerlessMlops --region eu-west-1
  mlops dlq --stack ServerlessMlops --redrive --rule training-events
`;

function parse(args: readonly string[]) {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: {
      rule: { type: 'string' },
      id: { type: 'string' },
      dir: { type: 'string' },
      json: { type: 'boolean', default: false },
      aws: { type: 'boolean', default: false },
      stack: { type: 'string' },
      region: { type: 'string' },
      peek: { type: 'string' },
      redrive: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    allowPositionals: true,
    strict: true,
  });
  const [given, ...extra] = positionals;
  if (values.help) return { help: true as const };
  const sub = given ?? (values.redrive ? 'redrive' : 'list');
  if (sub !== 'list' && sub !== 'redrive') throw new UsageError(`unknown command "dlq ${sub}"`);
  if (values.redrive && sub === 'list') throw new UsageError('--redrive is the redrive command: drop list');
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
  const live = values.stack !== undefined && !values.aws;
  if (sub === 'list' && !values.aws && !live && (values.rule !== undefined || values.id !== undefined)) {
    throw new UsageError('--rule and --id select what to redrive; list shows everything');
  }
  if (values.region !== undefined && !live) throw new UsageError('--region goes with --stack');
  if (values.peek !== undefined && !live) throw new UsageError('--peek goes with --stack');
  if (live && values.id !== undefined)
    throw new UsageError('--id selects a local dead letter; with --stack use --rule');
  if (live && values.rule !== undefined && !DEAD_LETTER_QUEUES.some((q) => q.handler === values.rule))
    throw new UsageError(
      `--rule with --stack is a handler: ${DEAD_LETTER_QUEUES.map((q) => q.handler).join(', ')}`,
    );
  const peek = values.peek === undefined ? 3 : Number(values.peek);
  if (!Number.isInteger(peek) || peek < 0 || peek > 10)
    throw new UsageError(`--peek must be a whole number from 0 to 10, got "${values.peek}"`);
  const command: 'list' | 'redrive' = sub; // narrowed above; a literal type for the options
  const filter: DeadLetterFilter = {
    ...(values.rule !== undefined ? { rule: values.rule } : {}),
    ...(values.id !== undefined ? { id: values.id } : {}),
  };
  return {
    help: false as const,
    sub: command,
    filter,
    dir: values.dir ?? '.mlops-local',
    json: values.json,
    aws: values.aws,
    live,
    stack: values.stack ?? 'ServerlessMlops',
    region: values.region,
    peek,
  };
}

/**
 * The AWS CLI commands of README's "When the stack's own alarms fire": find a handler's DLQ from
 * its alarm, look at the messages, and redrive them (a message move task for ingest, an
 * asynchronous invoke per message for the event handlers).
 */
function awsDeadLetterCommands(sub: 'list' | 'redrive', stack: string, handler?: string): string {
  const find = [
    `ALARM=${stack}-ops-${handler ?? '<handler>'}   # handlers: ingest, training-events, endpoint-events, alarm-events, drift-monitor, reconciler`,
    `DLQ_URL=$(aws sqs get-queue-url --output text --queue-name \\`,
    `  "$(aws cloudwatch describe-alarms --alarm-names "$ALARM-dlq" --query 'MetricAlarms[0].Dimensions[0].Value' --output text)")`,
  ];
  if (sub === 'list') {
    return [
      ...find,
      'aws sqs receive-message --queue-url "$DLQ_URL" --max-number-of-messages 10 --visibility-timeout 30 --message-attribute-names All',
    ].join('\n');
  }
  const ingest = [
    '# ingest: move the messages back to the ingest queue',
    'aws sqs start-message-move-task --source-arn <ingest dlq arn> --destination-arn <ingest queue arn>',
    'aws sqs list-message-move-tasks --source-arn <ingest dlq arn>',
  ];
  const replay = [
    '# an event handler: invoke the function asynchronously with each event, then delete the message',
    `FN=$(aws cloudwatch describe-alarms --alarm-names "$ALARM-errors" --query 'MetricAlarms[0].Dimensions[0].Value' --output text)`,
    'aws sqs receive-message --queue-url "$DLQ_URL" --max-number-of-messages 10 --visibility-timeout 300 > batch.json',
    "jq -c '.Messages[]?' batch.json | while read -r message; do",
    '  echo "$message" | jq \'.Body | fromjson | (.requestPayload // .)\' > event.json',
    '  aws lambda invoke --function-name "$FN" --invocation-type Event --payload fileb://event.json /dev/null &&',
    '    aws sqs delete-message --queue-url "$DLQ_URL" --receipt-handle "$(echo "$message" | jq -r .ReceiptHandle)"',
    'done',
  ];
  const steps = handler === 'ingest' ? ingest : handler === undefined ? [...ingest, '', ...replay] : replay;
  return [...find, '', ...steps, '', '(README: "When the stack\'s own alarms fire")'].join('\n');
}

function describeRedrive(verb: string, redriven: readonly DeadLetterSummary[], left: number): string {
  if (redriven.length === 0) return `no dead letter to redrive (${left} line(s) in the file)`;
  const lines = redriven.map((s) => `  ${s.rule}  ${s.id}  ${s.detailType}  ${s.subject || '-'}`);
  return [`${verb} ${redriven.length} dead letter(s):`, ...lines, `${left} line(s) left in the file`].join(
    '\n',
  );
}

/** Builds the AWS target of `--stack` (tests give one on mocked clients). */
export type AwsTargetResolver = (options: { stack: string; region?: string }) => Promise<AwsTarget>;

const defaultAwsTarget: AwsTargetResolver = async (options) =>
  (await import('../target/aws-target')).awsTarget(options);

/** `mlops dlq --stack` (list): each queue's depth and first messages. */
export function formatQueues(queues: readonly DeadLetterQueueState[]): string {
  const lines = [
    formatTable(
      queues.map((q) => [q.handler, String(q.messages), String(q.inFlight), q.url]),
      { header: ['HANDLER', 'MESSAGES', 'IN FLIGHT', 'QUEUE'] },
    ),
  ];
  for (const q of queues.filter((x) => x.peeked.length > 0)) {
    lines.push('', `${q.handler}:`);
    for (const m of q.peeked)
      lines.push(`  ${m.sentAt ?? '-'}  ${m.what}  ${m.messageId}${m.error ? `  ${m.error}` : ''}`);
  }
  return lines.join('\n');
}

/** `mlops dlq --stack --redrive`: what each queue's redrive did. */
export function formatRedrives(results: readonly RedriveResult[]): string {
  return results
    .map((r) =>
      r.kind === 'move-task'
        ? `${r.handler}: message move task started for ${r.messages} message(s) (task ${r.taskHandle}); progress: aws sqs list-message-move-tasks`
        : `${r.handler}: ${r.redriven} event(s) sent back to the function${r.failed.length ? `, ${r.failed.length} failed (kept in the queue): ${r.failed.map((f) => `${f.messageId} ${f.error}`).join('; ')}` : ''}`,
    )
    .join('\n');
}

async function liveDeadLetters(
  options: {
    sub: 'list' | 'redrive';
    stack: string;
    region?: string;
    rule?: string;
    peek: number;
    json: boolean;
  },
  io: CliIo,
  resolve: AwsTargetResolver,
): Promise<number> {
  const target = await resolve({
    stack: options.stack,
    ...(options.region ? { region: options.region } : {}),
  });
  try {
    const queues = target.deadLetters.select(options.rule);
    if (options.sub === 'list') {
      const states: DeadLetterQueueState[] = [];
      for (const q of queues) states.push(await target.deadLetters.inspect(q, options.peek));
      if (options.json) printJson(io, { queues: states });
      else io.out(formatQueues(states));
      return 0;
    }
    const results: RedriveResult[] = [];
    for (const q of queues) {
      // An empty queue needs no move task (SQS refuses a second one while one runs).
      if (q.redrive === 'move' && (await target.deadLetters.inspect(q, 0)).messages === 0) continue;
      results.push(await target.deadLetters.redrive(q));
    }
    if (options.json) printJson(io, { redriven: results });
    else io.out(results.length === 0 ? 'nothing to redrive' : formatRedrives(results));
    return results.some((r) => r.kind === 'invoked' && r.failed.length > 0) ? 1 : 0;
  } finally {
    target.close();
  }
}

/** The `mlops dlq` command, building `--stack` targets with `resolveAws`. */
export function createDlqCommand(resolveAws: AwsTargetResolver = defaultAwsTarget): CliCommand {
  return {
    name: 'dlq',
    summary: 'dead letters: the local cloud’s, or a stack’s queues (--stack): list and redrive',
    help: HELP,
    async run(args: readonly string[], io: CliIo): Promise<number> {
      const options = parse(args);
      if (options.help) {
        io.out(HELP);
        return 0;
      }
      if (options.live) {
        return liveDeadLetters(
          {
            sub: options.sub,
            stack: options.stack,
            ...(options.region !== undefined ? { region: options.region } : {}),
            ...(options.filter.rule !== undefined ? { rule: options.filter.rule } : {}),
            peek: options.peek,
            json: options.json,
          },
          io,
          resolveAws,
        );
      }
      if (options.aws) {
        io.out(awsDeadLetterCommands(options.sub, options.stack, options.filter.rule));
        return 0;
      }
      const path = await import('node:path');
      const deadLetters = await import('../../local/dead-letters');
      const dir = path.resolve(options.dir);
      const file = path.join(dir, deadLetters.DEAD_LETTER_FILE);

      if (options.sub === 'list') {
        const { letters, unreadable } = deadLetters.readDeadLetters(file);
        io.out(
          options.json
            ? JSON.stringify({ letters: letters.map(deadLetters.summarize), unreadable }, null, 2)
            : deadLetters.formatDeadLetters(letters, unreadable),
        );
        return 0;
      }

      const running = await runningCloud(dir);
      if (running.kind === 'unreachable') {
        io.err(
          `a local cloud seems to run in ${options.dir} (pid ${running.pid}) but its control API does not answer; stop it (Ctrl-C) and redrive again: the events then go to its next start`,
        );
        return 1;
      }
      if (running.kind === 'stopped') {
        const { moved, left } = deadLetters.moveDeadLettersToBacklog(dir, options.filter);
        io.out(
          options.json
            ? JSON.stringify({ movedToBacklog: moved, left }, null, 2)
            : moved.length === 0
              ? describeRedrive('moved', moved, left)
              : `${describeRedrive('moved', moved, left)}\nno local cloud is running in ${options.dir}: the next start (npm run local) delivers them`,
        );
        return 0;
      }
      const { controlFetch } = await import('../../local/control-server');
      const response = await controlFetch(running.env, deadLetters.DEAD_LETTER_REDRIVE_ROUTE, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(options.filter),
      });
      const body = (await response.json().catch(() => ({}))) as RedriveOutcome & { error?: string };
      if (!response.ok) {
        io.err(
          response.status === 404
            ? `the local cloud running in ${options.dir} does not offer redrive (an older version?); stop it and redrive again: the events then go to its next start`
            : `the local cloud refused the redrive (HTTP ${response.status}): ${body.error ?? JSON.stringify(body)}`,
        );
        return 1;
      }
      if (options.json) io.out(JSON.stringify(body, null, 2));
      else {
        io.out(describeRedrive('redriven', body.redriven, body.left));
        for (const s of body.skipped) io.err(`kept ${s.id}: no rule ${s.rule} in the running local cloud`);
      }
      return 0;
    },
  };
}

/** The `mlops dlq` command. */
export const dlqCommand: CliCommand = createDlqCommand();

/** Whether a local cloud runs in `dir`: stopped (no env.json, or its process is gone), running, or running without answering. */
async function runningCloud(
  dir: string,
): Promise<
  | { kind: 'stopped' }
  | { kind: 'unreachable'; pid: number }
  | { kind: 'running'; env: import('../../local/cloud').LocalCloudEnv }
> {
  const [{ readLocalCloudEnv }, { findRunningCloud }] = await Promise.all([
    import('../../local/cloud'),
    import('../../local/demo/remote-cloud'),
  ]);
  const env = readLocalCloudEnv(dir);
  if (!env) return { kind: 'stopped' };
  try {
    process.kill(env.pid, 0);
  } catch (error) {
    // EPERM: a process of another user has that pid, so ours is gone.
    if (
      (error as NodeJS.ErrnoException).code === 'ESRCH' ||
      (error as NodeJS.ErrnoException).code === 'EPERM'
    )
      return { kind: 'stopped' };
  }
  // Its process is alive: only the cloud itself may rewrite the file (its bus appends to it).
  const answering = await findRunningCloud(dir);
  return answering ? { kind: 'running', env: answering } : { kind: 'unreachable', pid: env.pid };
}
