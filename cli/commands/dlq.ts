/**
 * `mlops dlq list|redrive`: the dead letters of the local cloud in `--dir`, listed, and delivered
 * again to the rule that gave up on them; with `--aws`, the AWS CLI commands that do the same on
 * the deployed stack. Where this stands: CLI command; the work is in local/dead-letters.ts.
 */
import { parseArgs } from 'node:util';
import type { DeadLetterFilter, DeadLetterSummary, RedriveOutcome } from '../../local/dead-letters';
import { UsageError, type CliCommand, type CliIo } from '../command';

const HELP = `Usage: mlops dlq <list|redrive> [options]

The events a rule of the local cloud in --dir gave up on after all its retries
(<dir>/dead-letters.jsonl), the local twin of the stack's dead-letter queues. Fix the cause, then
redrive them.

Commands:
  list        one line per dead letter: when, rule, event id, detail-type, what it is about
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
  --aws           print the AWS CLI commands for the deployed stack's dead-letter queues instead
                  (--rule is then the handler: ingest, training-events, endpoint-events, ...)
  --stack <name>  with --aws: the stack's name (default ServerlessMlops)
  -h, --help      show this help
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
      help: { type: 'boolean', short: 'h', default: false },
    },
    allowPositionals: true,
    strict: true,
  });
  const [sub, ...extra] = positionals;
  if (values.help) return { help: true as const };
  if (sub !== 'list' && sub !== 'redrive') {
    throw new UsageError(sub === undefined ? 'say list or redrive' : `unknown command "dlq ${sub}"`);
  }
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
  if (sub === 'list' && !values.aws && (values.rule !== undefined || values.id !== undefined)) {
    throw new UsageError('--rule and --id select what to redrive; list shows everything');
  }
  if (values.stack !== undefined && !values.aws) throw new UsageError('--stack goes with --aws');
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
    stack: values.stack ?? 'ServerlessMlops',
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

/** The `mlops dlq` command. */
export const dlqCommand: CliCommand = {
  name: 'dlq',
  summary: 'list the local cloud’s dead letters, or redrive them (--aws: the commands for the stack)',
  help: HELP,
  async run(args: readonly string[], io: CliIo): Promise<number> {
    const options = parse(args);
    if (options.help) {
      io.out(HELP);
      return 0;
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
