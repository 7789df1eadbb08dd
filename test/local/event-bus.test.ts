import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { silentLog } from '../../core/use-cases/context';
import { openHeldBus } from '../../local/cloud';
import { resolveSettings } from '../../local/cloud-settings';
import { type CloudEvent } from '../../local/contracts';
import s3Created from '../fixtures/events/s3-object-created.json';
import trainingChange from '../fixtures/events/sagemaker-training-job-state-change.json';
import alarmChange from '../fixtures/events/cloudwatch-alarm-state-change.json';
import {
  LocalEventBus,
  fromCdkEventPattern,
  matches,
  validatePattern,
  type BusLogger,
  type EventPattern,
} from '../../local/event-bus';
import { recording } from '../support/bus-targets';

const silent: BusLogger = { info: () => {}, warn: () => {}, error: () => {} };
// The default backoff is real seconds: here the first retry waits 1 ms, the third 4 ms.
const fast = { retryBaseSeconds: 0.001 };

const event = (detail: Record<string, unknown>, overrides: Partial<CloudEvent> = {}): CloudEvent => ({
  version: '0',
  id: 'e-1',
  'detail-type': 'Test Event',
  source: 'test.source',
  account: '000000000000',
  time: '2025-06-03T10:00:00Z',
  region: 'us-east-1',
  resources: ['arn:aws:s3:::bucket-a', 'arn:aws:s3:::bucket-b'],
  detail,
  ...overrides,
});

// The stack's three rule patterns (lib/constructs/ingest-pipeline.ts, lifecycle-handlers.ts), in
// EventBridge's JSON spelling.
const s3Pattern: EventPattern = {
  source: ['aws.s3'],
  'detail-type': ['Object Created'],
  detail: { bucket: { name: ['mlops-data-123'] }, object: { key: [{ prefix: 'datasets/' }] } },
};
const trainingPattern: EventPattern = {
  source: ['aws.sagemaker'],
  'detail-type': ['SageMaker Training Job State Change'],
  detail: { TrainingJobName: [{ prefix: 'mlops-' }] },
};
const alarmPattern: EventPattern = {
  source: ['aws.cloudwatch'],
  'detail-type': ['CloudWatch Alarm State Change'],
  detail: { alarmName: [{ prefix: 'mlops-' }] },
};

describe('matches (EventBridge content filtering)', () => {
  const e = event({
    state: 'running',
    count: 3,
    ratio: 0.5,
    flag: false,
    nothing: null,
    ip: '10.0.0.42',
    file: 'reports/2025/summary.PNG',
    tags: ['blue', 'green'],
    nested: { deep: { value: 'x' } },
    items: [{ name: 'a' }, { name: 'b' }],
  });

  it.each<[string, EventPattern, boolean]>([
    ['exact value', { source: ['test.source'] }, true],
    ['OR list', { source: ['other', 'test.source'] }, true],
    ['no alternative matches', { source: ['other'] }, false],
    ['every field must match (AND)', { source: ['test.source'], 'detail-type': ['Other'] }, false],
    ['number exact', { detail: { count: [3] } }, true],
    ['types are not coerced', { detail: { count: ['3'] } }, false],
    ['boolean and null', { detail: { flag: [false], nothing: [null] } }, true],
    ['prefix', { detail: { state: [{ prefix: 'run' }] } }, true],
    ['prefix mismatch', { detail: { state: [{ prefix: 'stop' }] } }, false],
    ['prefix ignoring case', { detail: { state: [{ prefix: { 'equals-ignore-case': 'RUN' } }] } }, true],
    ['suffix', { detail: { file: [{ suffix: '.PNG' }] } }, true],
    ['suffix ignoring case', { detail: { file: [{ suffix: { 'equals-ignore-case': '.png' } }] } }, true],
    ['equals-ignore-case', { detail: { state: [{ 'equals-ignore-case': 'RUNNING' }] } }, true],
    ['wildcard', { detail: { file: [{ wildcard: 'reports/*/summary.*' }] } }, true],
    ['anything-but a value', { detail: { state: [{ 'anything-but': 'stopped' }] } }, true],
    ['anything-but the value', { detail: { state: [{ 'anything-but': 'running' }] } }, false],
    ['anything-but a list', { detail: { state: [{ 'anything-but': ['stopped', 'running'] }] } }, false],
    ['anything-but a prefix', { detail: { state: [{ 'anything-but': { prefix: 'run' } }] } }, false],
    ['anything-but needs the field', { detail: { missing: [{ 'anything-but': 'x' }] } }, false],
    ['numeric range', { detail: { count: [{ numeric: ['>', 0, '<=', 5] }] } }, true],
    ['numeric out of range', { detail: { count: [{ numeric: ['>', 3] }] } }, false],
    ['numeric equals', { detail: { ratio: [{ numeric: ['=', 0.5] }] } }, true],
    ['numeric on a string', { detail: { state: [{ numeric: ['>', 0] }] } }, false],
    ['exists true', { detail: { state: [{ exists: true }] } }, true],
    ['exists true on a missing field', { detail: { missing: [{ exists: true }] } }, false],
    ['exists false on a missing field', { detail: { missing: [{ exists: false }] } }, true],
    ['exists false on a present field', { detail: { state: [{ exists: false }] } }, false],
    ['exists only works on leaves', { detail: { nested: [{ exists: true }] } }, false],
    ['exists false under a missing object', { detail: { absent: { leaf: [{ exists: false }] } } }, true],
    ['cidr', { detail: { ip: [{ cidr: '10.0.0.0/24' }] } }, true],
    ['cidr outside', { detail: { ip: [{ cidr: '10.0.1.0/24' }] } }, false],
    ['nested objects recurse', { detail: { nested: { deep: { value: ['x'] } } } }, true],
    ['nested mismatch', { detail: { nested: { deep: { value: ['y'] } } } }, false],
    ['a leaf pattern does not match an object', { detail: { nested: ['x'] } }, false],
    ['event array: any element', { detail: { tags: ['green'] } }, true],
    ['event array: no element', { detail: { tags: ['red'] } }, false],
    ['event array of objects', { detail: { items: { name: ['b'] } } }, true],
    ['top-level array (resources)', { resources: ['arn:aws:s3:::bucket-b'] }, true],
    ['missing field', { detail: { missing: ['x'] } }, false],
    ['$or', { $or: [{ source: ['nope'] }, { detail: { count: [3] } }] }, true],
    ['$or none', { $or: [{ source: ['nope'] }, { detail: { count: [4] } }] }, false],
    ['empty pattern matches everything', {}, true],
  ])('%s', (_name, pattern, expected) => {
    validatePattern(pattern);
    expect(matches(pattern, e)).toBe(expected);
  });

  it('matches the stack rules against the AWS fixtures, and only their own', () => {
    expect(matches(s3Pattern, s3Created)).toBe(true);
    expect(matches(trainingPattern, trainingChange)).toBe(true);
    expect(matches(alarmPattern, alarmChange)).toBe(true);
    for (const [pattern, fixture] of [
      [s3Pattern, trainingChange],
      [trainingPattern, alarmChange],
      [alarmPattern, s3Created],
    ] as const) {
      expect(matches(pattern, fixture)).toBe(false);
    }
    const other = structuredClone(s3Created);
    other.detail.object.key = 'models/churn/config.json';
    expect(matches(s3Pattern, other)).toBe(false);
    other.detail.object.key = 'datasets/churn/x.csv';
    other.detail.bucket.name = 'someone-else';
    expect(matches(s3Pattern, other)).toBe(false);
    const foreignJob = structuredClone(trainingChange);
    foreignJob.detail.TrainingJobName = 'other-job';
    expect(matches(trainingPattern, foreignJob)).toBe(false);
  });

  it('renames the CDK spelling detailType', () => {
    expect(fromCdkEventPattern({ source: ['aws.s3'], detailType: ['Object Created'] })).toEqual({
      source: ['aws.s3'],
      'detail-type': ['Object Created'],
    });
  });

  it.each<[string, unknown]>([
    ['a scalar leaf', { source: 'aws.s3' }],
    ['an empty array', { source: [] }],
    ['an unknown matcher', { source: [{ startsWith: 'a' }] }],
    ['a bad numeric', { detail: { n: [{ numeric: ['>'] }] } }],
    ['a bad exists', { detail: { n: [{ exists: 'yes' }] } }],
  ])('rejects %s', (_name, pattern) => {
    expect(() => validatePattern(pattern)).toThrow(/invalid event pattern/);
  });
});

describe('LocalEventBus', () => {
  const dirs: string[] = [];
  const buses: LocalEventBus[] = [];
  const newBus = (options: { deadLetterFile?: string } = {}) => {
    const bus = new LocalEventBus({ ...fast, log: silent, ...options });
    buses.push(bus);
    return bus;
  };
  afterEach(() => {
    buses.splice(0).forEach((bus) => bus.close());
    dirs.splice(0).forEach((dir) => rmSync(dir, { recursive: true, force: true }));
  });

  it('delivers asynchronously to every matching rule, a copy each', async () => {
    const bus = newBus();
    const received: Record<string, CloudEvent[]> = { a: [], b: [], c: [] };
    bus.addRule({
      name: 'a',
      pattern: { source: ['test.source'] },
      target: recording((e) => received.a?.push(e)),
    });
    bus.addRule({
      name: 'b',
      pattern: { detail: { n: [{ numeric: ['>', 1] }] } },
      target: recording((e) => received.b?.push(e)),
    });
    bus.addRule({ name: 'c', pattern: { source: ['other'] }, target: recording((e) => received.c?.push(e)) });
    const published = event({ n: 2 });

    bus.publish(published);
    expect(received.a).toHaveLength(0); // not synchronous
    await bus.drain();

    expect(received.a).toEqual([published]);
    expect(received.b).toEqual([published]);
    expect(received.c).toEqual([]);
    expect(received.a?.[0]).not.toBe(published);
    expect(received.a?.[0]).not.toBe(received.b?.[0]);
    expect(bus.deliveries()).toMatchObject({
      published: 1,
      matched: 2,
      succeeded: 2,
      failed: 0,
      deadLettered: 0,
    });
  });

  it('retries a failing target with exponential backoff, then succeeds', async () => {
    const delays: unknown[] = [];
    const bus = new LocalEventBus({
      ...fast,
      log: { ...silent, warn: (_message, context) => delays.push(context?.retryInSeconds) },
    });
    buses.push(bus);
    let attempts = 0;
    bus.addRule({
      name: 'flaky',
      pattern: {},
      retryAttempts: 3,
      target: () => {
        attempts++;
        return attempts < 4 ? Promise.reject(new Error('not yet')) : Promise.resolve();
      },
    });
    bus.publish(event({}));
    await bus.drain();

    expect(attempts).toBe(4);
    expect(delays).toEqual([0.001, 0.002, 0.004]); // seconds, doubling
    expect(bus.deliveries().byRule.flaky).toEqual({
      matched: 1,
      attempts: 4,
      succeeded: 1,
      failed: 3,
      retried: 3,
      deadLettered: 0,
      lost: 0,
    });
    expect(bus.deadLetters()).toEqual([]);
  });

  it("the local cloud's retries wait real seconds, whatever its time scale (issue 16)", async () => {
    // At --time-scale 3600 a scaled backoff spent an ingest's four retries in 4 ms: a DynamoDB
    // Local restarting meanwhile dead-lettered the upload.
    vi.useFakeTimers();
    const dir = mkdtempSync(join(tmpdir(), 'mlops-bus-scale-'));
    try {
      const bus = openHeldBus(resolveSettings({ dir, timeScale: 3600, quiet: true, log: silentLog }));
      buses.push(bus);
      let attempts = 0;
      bus.addRule({
        name: 'ingest',
        pattern: {},
        retryAttempts: 4,
        target: () => {
          attempts++;
          return Promise.reject(new Error('DynamoDB Local is restarting'));
        },
      });
      bus.open();
      bus.publish(event({}));
      await vi.advanceTimersByTimeAsync(999);
      expect(attempts).toBe(1);
      await vi.advanceTimersByTimeAsync(1);
      expect(attempts).toBe(2);
      // Then 2, 4 and 8 real seconds: 15 s in all before the dead letter.
      await vi.advanceTimersByTimeAsync(2_000 + 4_000 + 7_999);
      expect(attempts).toBe(4);
      expect(bus.deadLetters()).toEqual([]);
      await vi.advanceTimersByTimeAsync(1);
      expect(attempts).toBe(5);
      expect(bus.deadLetters()).toHaveLength(1);
    } finally {
      vi.useRealTimers();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('loses the next events of a rule when told to (an injected fault), then delivers again', async () => {
    const bus = newBus();
    const received: unknown[] = [];
    bus.addRule({ name: 'a', pattern: {}, target: recording((e) => received.push(e.detail)) });
    bus.addRule({ name: 'b', pattern: {}, target: async () => {} });
    bus.loseNext('a', 2);
    for (const n of [1, 2, 3]) bus.publish(event({ n }));
    await bus.drain();

    expect(received).toEqual([{ n: 3 }]);
    expect(bus.deliveries().byRule.a).toMatchObject({ matched: 3, attempts: 1, succeeded: 1, lost: 2 });
    expect(bus.deliveries().byRule.b).toMatchObject({ matched: 3, succeeded: 3, lost: 0 });
    expect(bus.deadLetters()).toEqual([]);
    bus.loseNext('a', 5);
    bus.loseNext('a', 0); // ends the fault
    bus.publish(event({ n: 4 }));
    await bus.drain();
    expect(received).toEqual([{ n: 3 }, { n: 4 }]);
    expect(() => bus.loseNext('missing')).toThrow('no rule "missing"');
  });

  it('dead-letters the event after the last retry, as a JSON line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bus-'));
    dirs.push(dir);
    const file = join(dir, 'nested', 'dead-letters.jsonl');
    const bus = newBus({ deadLetterFile: file });
    let calls = 0;
    bus.addRule({
      name: 'broken',
      pattern: { source: ['test.source'] },
      retryAttempts: 2,
      target: () => {
        calls++;
        return Promise.reject(new TypeError(`boom ${calls}`));
      },
    });
    const published = event({ n: 1 }, { id: 'dead-1' });
    bus.publish(published);
    await bus.drain();

    expect(calls).toBe(3); // first attempt + 2 retries
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(1);
    const letter: unknown = JSON.parse(lines[0] as string);
    expect(letter).toMatchObject({
      rule: 'broken',
      event: published,
      error: 'TypeError: boom 3',
      attempts: 3,
    });
    expect(bus.deadLetters()).toEqual([letter]);
    expect(bus.deliveries()).toMatchObject({ failed: 3, retried: 2, deadLettered: 1, waitingForRetry: 0 });
  });

  it('never runs more than maxConcurrency deliveries of a rule at once', async () => {
    const bus = newBus();
    let running = 0;
    let peak = 0;
    const done: string[] = [];
    bus.addRule({
      name: 'limited',
      pattern: {},
      maxConcurrency: 2,
      target: async (e) => {
        running++;
        peak = Math.max(peak, running);
        await new Promise((resolve) => setTimeout(resolve, 2));
        running--;
        done.push(e.id);
      },
    });
    let unlimitedPeak = 0;
    let unlimitedRunning = 0;
    bus.addRule({
      name: 'unlimited',
      pattern: {},
      target: async () => {
        unlimitedRunning++;
        unlimitedPeak = Math.max(unlimitedPeak, unlimitedRunning);
        await new Promise((resolve) => setTimeout(resolve, 2));
        unlimitedRunning--;
      },
    });
    for (let i = 0; i < 6; i++) bus.publish(event({}, { id: `e-${i}` }));
    await bus.drain();

    expect(peak).toBe(2);
    expect(unlimitedPeak).toBe(6);
    expect(done.sort()).toEqual(['e-0', 'e-1', 'e-2', 'e-3', 'e-4', 'e-5']);
  });

  it('drain waits for deliveries published by targets and for pending retries', async () => {
    const bus = newBus();
    const seen: string[] = [];
    let failOnce = true;
    bus.addRule({
      name: 'first',
      pattern: { 'detail-type': ['Step 1'] },
      target: recording((e) => {
        seen.push(e['detail-type']);
        bus.publish(event({}, { 'detail-type': 'Step 2' }));
      }),
    });
    bus.addRule({
      name: 'second',
      pattern: { 'detail-type': ['Step 2'] },
      target: (e) => {
        if (failOnce) {
          failOnce = false;
          return Promise.reject(new Error('transient'));
        }
        seen.push(e['detail-type']);
        return Promise.resolve();
      },
    });
    await bus.drain(); // idle bus: resolves at once
    bus.publish(event({}, { 'detail-type': 'Step 1' }));
    await bus.drain();
    expect(seen).toEqual(['Step 1', 'Step 2']);
    expect(bus.deliveries()).toMatchObject({ queued: 0, inFlight: 0, waitingForRetry: 0 });
  });

  it('publish never throws, even for a throwing pattern evaluation or after close', () => {
    const bus = newBus();
    bus.addRule({ name: 'any', pattern: {}, target: async () => {} });
    const circular = event({}) as CloudEvent & { detail: Record<string, unknown> };
    circular.detail.self = circular; // cannot be serialized
    expect(() => bus.publish(circular)).not.toThrow();
    bus.close();
    expect(() => bus.publish(event({}))).not.toThrow();
    expect(bus.deliveries().published).toBe(1);
  });

  it('close stops the retry timers and dead-letters what was waiting', async () => {
    const bus = new LocalEventBus({ log: silent }); // the default: a real 1 s backoff
    buses.push(bus);
    bus.addRule({
      name: 'slow',
      pattern: {},
      target: () => Promise.reject(new Error('down')),
    });
    bus.publish(event({}));
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(bus.deliveries().waitingForRetry).toBe(1);
    bus.close();
    await bus.drain();
    expect(bus.deadLetters()).toHaveLength(1);
    expect(bus.deadLetters()[0]?.error).toMatch(/bus closed/);
  });

  it('rejects a duplicate rule, a bad pattern and bad limits', () => {
    const bus = newBus();
    const target = async () => {};
    bus.addRule({ name: 'r', pattern: {}, target });
    expect(() => bus.addRule({ name: 'r', pattern: {}, target })).toThrow(/already exists/);
    expect(() => bus.addRule({ name: 's', pattern: { source: 'x' }, target })).toThrow(
      /invalid event pattern/,
    );
    expect(() => bus.addRule({ name: 't', pattern: {}, target, retryAttempts: -1 })).toThrow(/retryAttempts/);
    expect(() => bus.addRule({ name: 'u', pattern: {}, target, maxConcurrency: 0 })).toThrow(
      /maxConcurrency/,
    );
  });
});
