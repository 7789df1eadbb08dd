/**
 * The local cloud's dead letters: listed, and redriven to the rule that gave up on them, through
 * the running cloud's bus (the control API's route) or, in a stopped cloud, through the backlog
 * its next start delivers; and `mlops dlq`, which picks the way.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { dlqCommand } from '../../cli/commands/dlq';
import { ControlServer, CONTROL_TOKEN_HEADER, newControlToken } from '../../local/control-server';
import { type CloudEvent } from '../../local/contracts';
import {
  BACKLOG_FILE,
  DEAD_LETTER_FILE,
  DEAD_LETTER_REDRIVE_ROUTE,
  DeadLetterRoutes,
  formatDeadLetters,
  moveDeadLettersToBacklog,
  readDeadLetters,
  summarize,
} from '../../local/dead-letters';
import { LocalEventBus, type BacklogEntry, type BusLogger, type DeadLetter } from '../../local/event-bus';
import { recording } from '../support/bus-targets';

const silent: BusLogger = { info: () => {}, warn: () => {}, error: () => {} };

const event = (
  id: string,
  source: string,
  detailType: string,
  detail: Record<string, unknown>,
): CloudEvent => ({
  version: '0',
  id,
  'detail-type': detailType,
  source,
  account: '000000000000',
  time: '2025-06-03T10:00:00Z',
  region: 'us-east-1',
  resources: [],
  detail,
});

const upload = event('up-1', 'aws.s3', 'Object Created', {
  bucket: { name: 'b' },
  object: { key: 'datasets/churn/a.csv' },
});
const training = event('job-1', 'aws.sagemaker', 'SageMaker Training Job State Change', {
  TrainingJobName: 'mlops-churn-v1-abcd',
});
const alarm = event('alarm-1', 'aws.cloudwatch', 'CloudWatch Alarm State Change', {
  alarmName: 'mlops-churn-errors',
});
const letter = (rule: string, e: CloudEvent, error = 'Error: down'): DeadLetter => ({
  rule,
  event: e,
  error,
  attempts: 3,
  at: '2025-06-03T10:01:00.000Z',
});
const LETTERS = [
  letter('mlops-dataset-created', upload),
  letter('mlops-training-events', training),
  letter('mlops-alarm-events', alarm),
];
const CUT_SHORT = '{"rule":"mlops-dataset-created","event":{"id":"cut';

const lines = <T>(file: string): T[] =>
  existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as T)
    : [];

function io() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (t: string) => void out.push(t), err: (t: string) => void err.push(t) } };
}

describe('dead letters', () => {
  const dirs: string[] = [];
  const closers: (() => unknown)[] = [];
  afterEach(async () => {
    for (const close of closers.splice(0)) await close();
    dirs.splice(0).forEach((dir) => rmSync(dir, { recursive: true, force: true }));
  });
  /** A cloud folder whose dead-letter file holds {@link LETTERS} and a line cut short by a crash. */
  const folder = () => {
    const dir = mkdtempSync(join(tmpdir(), 'mlops-dlq-'));
    dirs.push(dir);
    writeFileSync(
      join(dir, DEAD_LETTER_FILE),
      [...LETTERS.map((l) => JSON.stringify(l)), CUT_SHORT].map((line) => `${line}\n`).join(''),
    );
    return dir;
  };
  const newBus = (options: Partial<ConstructorParameters<typeof LocalEventBus>[0]> = {}) => {
    const bus = new LocalEventBus({ retryBaseSeconds: 0.001, log: silent, ...options });
    closers.push(() => bus.close());
    return bus;
  };

  it('are listed with what each was about', () => {
    const dir = folder();
    const { letters, unreadable } = readDeadLetters(join(dir, DEAD_LETTER_FILE));
    expect(unreadable).toBe(1);
    expect(letters.map(summarize)).toEqual([
      {
        rule: 'mlops-dataset-created',
        id: 'up-1',
        detailType: 'Object Created',
        subject: 'datasets/churn/a.csv',
        error: 'Error: down',
        attempts: 3,
        at: '2025-06-03T10:01:00.000Z',
      },
      expect.objectContaining({ rule: 'mlops-training-events', subject: 'mlops-churn-v1-abcd' }),
      expect.objectContaining({ rule: 'mlops-alarm-events', subject: 'mlops-churn-errors' }),
    ]);
    const text = formatDeadLetters(letters, unreadable);
    expect(text).toContain(
      '2025-06-03T10:01:00.000Z  mlops-dataset-created  up-1  Object Created  datasets/churn/a.csv  attempts 3  Error: down',
    );
    expect(text).toContain('1 line(s) could not be read');
    expect(readDeadLetters(join(dir, 'absent.jsonl'))).toEqual({ letters: [], unreadable: 0 });
  });

  it('in a stopped cloud, move to the backlog (the others stay, as they were), and the next start delivers them', async () => {
    const dir = folder();
    const moved = moveDeadLettersToBacklog(dir, { rule: 'mlops-training-events' });
    expect(moved.moved.map((s) => s.id)).toEqual(['job-1']);
    expect(moved.left).toBe(3);
    expect(readFileSync(join(dir, DEAD_LETTER_FILE), 'utf8')).toBe(
      [LETTERS[0], LETTERS[2]].map((l) => `${JSON.stringify(l)}\n`).join('') + `${CUT_SHORT}\n`,
    );
    expect(moveDeadLettersToBacklog(dir, { id: 'nope' })).toEqual({ moved: [], left: 3 });
    expect(moveDeadLettersToBacklog(dir, { rule: 'mlops-alarm-events', id: 'alarm-1' }).moved).toHaveLength(
      1,
    );
    const backlog = lines<BacklogEntry>(join(dir, BACKLOG_FILE));
    expect(backlog.map((entry) => [entry.rule, entry.event.id, entry.attempts])).toEqual([
      ['mlops-training-events', 'job-1', 0],
      ['mlops-alarm-events', 'alarm-1', 0],
    ]);

    // The next start: each goes to its own rule, from the first attempt.
    const bus = newBus({ backlogFile: join(dir, BACKLOG_FILE), deadLetterFile: join(dir, DEAD_LETTER_FILE) });
    const seen: string[] = [];
    for (const rule of ['mlops-dataset-created', 'mlops-training-events', 'mlops-alarm-events']) {
      bus.addRule({ name: rule, pattern: {}, target: recording((e) => seen.push(`${rule}:${e.id}`)) });
    }
    expect(bus.open().restored).toBe(2);
    await bus.drain();
    expect(seen.sort()).toEqual(['mlops-alarm-events:alarm-1', 'mlops-training-events:job-1']);
  });

  it('in a running cloud, the route redrives through its bus: selected letters with a rule leave the file', async () => {
    const dir = folder();
    const file = join(dir, DEAD_LETTER_FILE);
    const bus = newBus({ deadLetterFile: file });
    const seen: string[] = [];
    bus.addRule({
      name: 'mlops-dataset-created',
      pattern: { source: ['nothing'] },
      target: recording((e) => seen.push(e.id)),
    });
    bus.addRule({ name: 'mlops-training-events', pattern: {}, target: recording((e) => seen.push(e.id)) });
    const routes = new DeadLetterRoutes(file, bus);

    expect(routes.redrive('{"rule":')).toEqual({ status: 400, body: { error: 'the body is not JSON' } });
    expect(routes.redrive('{"rules":"x"}')).toEqual({ status: 400, body: { error: 'unknown field rules' } });
    expect(routes.redrive('{"id":""}').status).toBe(400);

    const all = routes.redrive('{}');
    expect(all.status).toBe(200);
    expect(all.body).toEqual({
      redriven: [expect.objectContaining({ id: 'up-1' }), expect.objectContaining({ id: 'job-1' })],
      // No such rule in this cloud: kept for later.
      skipped: [expect.objectContaining({ id: 'alarm-1', rule: 'mlops-alarm-events' })],
      left: 2,
    });
    await bus.drain();
    expect(seen).toEqual(['up-1', 'job-1']); // to the rule named, whatever its pattern
    expect(readFileSync(file, 'utf8')).toBe(`${JSON.stringify(LETTERS[2])}\n${CUT_SHORT}\n`);
    expect(routes.redrive('{"rule":"mlops-dataset-created"}').body).toMatchObject({ redriven: [], left: 2 });

    // A redriven event that fails again comes back to the file, attempts counted from 1.
    bus.addRule({
      name: 'mlops-alarm-events',
      pattern: { source: ['nothing'] },
      retryAttempts: 0,
      target: () => Promise.reject(new Error('still down')),
    });
    expect(routes.redrive('{"id":"alarm-1"}').body).toMatchObject({ redriven: [{ id: 'alarm-1' }], left: 1 });
    await bus.drain();
    expect(readDeadLetters(file).letters).toEqual([
      expect.objectContaining({ rule: 'mlops-alarm-events', attempts: 1, error: 'Error: still down' }),
    ]);
  });

  describe('mlops dlq', () => {
    const writeEnv = (dir: string, controlUrl: string, controlToken: string) =>
      writeFileSync(
        join(dir, 'env.json'),
        JSON.stringify({
          dir,
          pid: process.pid,
          controlUrl,
          controlToken,
          startedAt: new Date().toISOString(),
        }),
      );

    it('lists, as text or JSON', async () => {
      const dir = folder();
      const text = io();
      expect(await dlqCommand.run(['list', '--dir', dir], text.io)).toBe(0);
      expect(text.out.join('\n')).toContain(
        'mlops-training-events  job-1  SageMaker Training Job State Change',
      );
      const json = io();
      expect(await dlqCommand.run(['list', '--dir', dir, '--json'], json.io)).toBe(0);
      expect(JSON.parse(json.out.join(''))).toMatchObject({ letters: { length: 3 }, unreadable: 1 });
    });

    it('redrives a stopped cloud’s dead letters into its backlog', async () => {
      const dir = folder();
      // env.json left by a process that is gone: the cloud is stopped.
      writeFileSync(
        join(dir, 'env.json'),
        JSON.stringify({ dir, pid: 2 ** 22 + 12345, controlUrl: 'x', controlToken: 'y' }),
      );
      const run = io();
      expect(await dlqCommand.run(['redrive', '--dir', dir, '--id', 'up-1'], run.io)).toBe(0);
      expect(run.out.join('\n')).toMatch(/moved 1 dead letter[\s\S]*next start/);
      expect(lines<BacklogEntry>(join(dir, BACKLOG_FILE)).map((entry) => entry.event.id)).toEqual(['up-1']);
    });

    it('redrives a running cloud’s dead letters through its control API', async () => {
      const dir = folder();
      const token = newControlToken();
      const bus = newBus({ deadLetterFile: join(dir, DEAD_LETTER_FILE) });
      const seen: string[] = [];
      bus.addRule({ name: 'mlops-training-events', pattern: {}, target: recording((e) => seen.push(e.id)) });
      const routes = new DeadLetterRoutes(join(dir, DEAD_LETTER_FILE), bus);
      // The route as the control API serves it (local/control-server.ts: token, then the route).
      const server: Server = createServer((request, response) => {
        let body = '';
        request.on('data', (chunk) => (body += String(chunk)));
        request.on('end', () => {
          const answer =
            request.headers[CONTROL_TOKEN_HEADER] !== token
              ? { status: 401, body: { error: 'token' } }
              : request.url === DEAD_LETTER_REDRIVE_ROUTE && request.method === 'POST'
                ? routes.redrive(body)
                : { status: 404, body: { error: 'no such route' } };
          response.writeHead(answer.status, { 'content-type': 'application/json' });
          response.end(JSON.stringify(answer.body));
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      closers.push(() => new Promise((resolve) => server.close(resolve)));
      writeEnv(dir, `http://127.0.0.1:${(server.address() as AddressInfo).port}`, token);

      const run = io();
      expect(await dlqCommand.run(['redrive', '--dir', dir, '--rule', 'mlops-training-events'], run.io)).toBe(
        0,
      );
      expect(run.out.join('\n')).toMatch(/redriven 1 dead letter.*\n.*mlops-training-events {2}job-1/);
      await bus.drain();
      expect(seen).toEqual(['job-1']);
      expect(existsSync(join(dir, BACKLOG_FILE))).toBe(false);
      expect(readDeadLetters(join(dir, DEAD_LETTER_FILE)).letters.map((l) => l.event.id)).toEqual([
        'up-1',
        'alarm-1',
      ]);
    });

    it('leaves the file alone when the running cloud has no redrive route', async () => {
      const dir = folder();
      const token = newControlToken();
      const target = { endpointUrl: () => undefined, injectFault() {}, clearFault() {} };
      const control = await ControlServer.start(target, { token });
      closers.push(() => control.stop());
      writeEnv(dir, control.url, token);
      const before = readFileSync(join(dir, DEAD_LETTER_FILE), 'utf8');
      const run = io();
      expect(await dlqCommand.run(['redrive', '--dir', dir], run.io)).toBe(1);
      expect(run.err.join('\n')).toMatch(/does not offer redrive/);
      expect(readFileSync(join(dir, DEAD_LETTER_FILE), 'utf8')).toBe(before);
      expect(existsSync(join(dir, BACKLOG_FILE))).toBe(false);
    });

    it('prints the AWS commands with --aws, and refuses a bad command line', async () => {
      const list = io();
      expect(await dlqCommand.run(['list', '--aws', '--stack', 'Mine', '--rule', 'ingest'], list.io)).toBe(0);
      expect(list.out.join('\n')).toContain('ALARM=Mine-ops-ingest');
      expect(list.out.join('\n')).toContain('aws sqs receive-message');
      const redrive = io();
      expect(await dlqCommand.run(['redrive', '--aws', '--rule', 'ingest'], redrive.io)).toBe(0);
      expect(redrive.out.join('\n')).toContain('aws sqs start-message-move-task');
      const handler = io();
      expect(await dlqCommand.run(['redrive', '--aws', '--rule', 'training-events'], handler.io)).toBe(0);
      expect(handler.out.join('\n')).toContain(
        'aws lambda invoke --function-name "$FN" --invocation-type Event',
      );
      expect(handler.out.join('\n')).not.toContain('start-message-move-task');

      await expect(dlqCommand.run(['purge'], io().io)).rejects.toThrow(/unknown command "dlq purge"/);
      await expect(dlqCommand.run(['list', '--rule', 'x'], io().io)).rejects.toThrow(/list shows everything/);
      // --region and --peek are for the deployed stack's queues.
      await expect(dlqCommand.run(['list', '--region', 'eu-west-1'], io().io)).rejects.toThrow(
        /--region goes with --stack/,
      );
      await expect(dlqCommand.run(['list', '--peek', '3'], io().io)).rejects.toThrow(
        /--peek goes with --stack/,
      );
    });
  });
});
