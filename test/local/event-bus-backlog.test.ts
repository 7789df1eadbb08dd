/**
 * The event bus across a stop and a start (issue 15): with a backlog file, close saves what it
 * has not delivered (queued, waiting for a retry, failed while closing, published while the
 * process stops) and the next bus's open delivers it to the same rules, attempts included; with
 * holdUntilOpen, what is published before the rules exist waits for them.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type CloudEvent } from '../../local/contracts';
import { LocalEventBus, type BacklogEntry, type BusLogger } from '../../local/event-bus';
import { recording } from '../support/bus-targets';
import { stringMatching } from '../support/matchers';

const silent: BusLogger = { info: () => {}, warn: () => {}, error: () => {} };
// The default backoff is real seconds: here retries wait milliseconds.
const fast = { retryBaseSeconds: 0.001 };

const event = (id: string, detail: Record<string, unknown> = {}): CloudEvent => ({
  version: '0',
  id,
  'detail-type': 'Test Event',
  source: 'test.source',
  account: '000000000000',
  time: '2025-06-03T10:00:00Z',
  region: 'us-east-1',
  resources: [],
  detail,
});

const lines = <T>(file: string): T[] =>
  existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as T)
    : [];

describe('LocalEventBus backlog across a restart', () => {
  const dirs: string[] = [];
  const buses: LocalEventBus[] = [];
  afterEach(() => {
    buses.splice(0).forEach((bus) => bus.close());
    dirs.splice(0).forEach((dir) => rmSync(dir, { recursive: true, force: true }));
  });
  const files = () => {
    const dir = mkdtempSync(join(tmpdir(), 'bus-backlog-'));
    dirs.push(dir);
    return { backlogFile: join(dir, 'backlog.jsonl'), deadLetterFile: join(dir, 'dead-letters.jsonl') };
  };
  const newBus = (options: Partial<ConstructorParameters<typeof LocalEventBus>[0]> = {}) => {
    const bus = new LocalEventBus({ ...fast, log: silent, ...options });
    buses.push(bus);
    return bus;
  };

  it('close saves queued deliveries, and waiting retries with their attempts, per rule; open delivers each to its rule only', async () => {
    const paths = files();
    const first = newBus({ ...paths, retryBaseSeconds: 1 }); // real 1 s backoff: the retry waits
    let release!: () => void;
    const blocked = new Promise<void>((resolve) => (release = resolve));
    const seenByA: string[] = [];
    first.addRule({
      name: 'a',
      pattern: { source: ['test.source'] },
      maxConcurrency: 1,
      target: async (e) => {
        seenByA.push(e.id);
        await blocked;
      },
    });
    first.addRule({
      name: 'b',
      pattern: { detail: { failing: [true] } },
      target: () => Promise.reject(new Error('down')),
    });
    first.publish(event('e1'));
    first.publish(event('e2'));
    first.publish(event('e3', { failing: true }));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(first.deliveries()).toMatchObject({ inFlight: 1, queued: 2, waitingForRetry: 1 });

    first.close();
    release();
    await first.drain();
    expect(seenByA).toEqual(['e1']);
    expect(first.deadLetters()).toEqual([]);
    expect(first.deliveries().saved).toBe(3);
    const saved = lines<BacklogEntry>(paths.backlogFile);
    expect(
      saved.map(({ rule, event: e, attempts, reason }) => ({ rule, id: e.id, attempts, reason })),
    ).toEqual(
      expect.arrayContaining([
        { rule: 'b', id: 'e3', attempts: 1, reason: 'waiting for a retry' },
        { rule: 'a', id: 'e2', attempts: 0, reason: 'queued' },
        { rule: 'a', id: 'e3', attempts: 0, reason: 'queued' },
      ]),
    );
    expect(saved).toHaveLength(3);

    // The next process: same rules, the backlog goes to each one's own rule, attempts kept.
    const second = newBus(paths);
    const delivered: string[] = [];
    const attemptsOfB: number[] = [];
    second.addRule({
      name: 'a',
      pattern: { source: ['test.source'] },
      target: recording((e) => delivered.push(`a:${e.id}`)),
    });
    second.addRule({
      name: 'b',
      pattern: { detail: { failing: [true] } },
      retryAttempts: 2,
      target: (e) => {
        attemptsOfB.push(1);
        return Promise.reject(new Error(`still down (${e.id})`));
      },
    });
    expect(second.open()).toEqual({ restored: 3, orphaned: 0, released: 0 });
    expect(existsSync(paths.backlogFile)).toBe(false);
    await second.drain();
    expect(delivered.sort()).toEqual(['a:e2', 'a:e3']);
    // One attempt was made before the stop: two more here (retryAttempts 2), then the dead letter.
    expect(attemptsOfB).toHaveLength(2);
    expect(second.deadLetters()).toEqual([expect.objectContaining({ rule: 'b', attempts: 3 })]);
    expect(second.open()).toEqual({ restored: 0, orphaned: 0, released: 0 });
  });

  it('saves a delivery that fails while closing with retries left, and what a rule wants published after close', async () => {
    const paths = files();
    const bus = newBus(paths);
    let fail!: (error: Error) => void;
    bus.addRule({
      name: 'ingest',
      pattern: { source: ['test.source'] },
      target: () => new Promise<void>((_, reject) => (fail = reject)),
    });
    bus.publish(event('running'));
    await new Promise((resolve) => setImmediate(resolve));
    bus.close();
    fail(new Error('DynamoDB went away'));
    await bus.drain();
    bus.publish(event('late')); // e.g. a training job stopped by the shutdown
    bus.publish({ ...event('unwanted'), source: 'nobody.cares' });
    const saved = lines<BacklogEntry>(paths.backlogFile);
    expect(saved.map((entry) => [entry.rule, entry.event.id, entry.attempts])).toEqual([
      ['ingest', 'running', 1],
      ['ingest', 'late', 0],
    ]);
    expect(saved[0]?.reason).toMatch(/failed while the bus was closing: Error: DynamoDB went away/);
    expect(bus.deadLetters()).toEqual([]);
  });

  it('holdUntilOpen: events published before the rules exist are delivered at open, after the backlog', async () => {
    const paths = files();
    writeFileSync(
      paths.backlogFile,
      [
        JSON.stringify({ rule: 'r', event: event('saved'), attempts: 0, reason: 'queued', at: 'x' }),
        JSON.stringify({ rule: 'gone', event: event('orphan'), attempts: 2, reason: 'queued', at: 'x' }),
        '{"rule":"r","event":{"id":"cut sh', // a line a crash cut short
      ].join('\n'),
    );
    const bus = newBus({ ...paths, holdUntilOpen: true });
    bus.publish(event('early'));
    expect(bus.deliveries()).toMatchObject({ published: 1, held: 1 });
    const order: string[] = [];
    bus.addRule({
      name: 'r',
      pattern: { source: ['test.source'] },
      target: recording((e) => order.push(e.id)),
    });
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(order).toEqual([]); // held until open
    expect(bus.open()).toEqual({ restored: 1, orphaned: 1, released: 1 });
    await bus.drain();
    expect(order).toEqual(['saved', 'early']);
    expect(lines(paths.deadLetterFile)).toEqual([
      expect.objectContaining({ rule: 'gone', attempts: 2, error: stringMatching(/no rule "gone"/) }),
    ]);
    expect(bus.deliveries()).toMatchObject({ held: 0 });
  });

  it('close before open saves the held events for the rules they match', () => {
    const paths = files();
    const bus = newBus({ ...paths, holdUntilOpen: true });
    bus.addRule({ name: 'r', pattern: { source: ['test.source'] }, target: async () => {} });
    bus.publish(event('early'));
    bus.close();
    expect(lines<BacklogEntry>(paths.backlogFile).map((entry) => [entry.rule, entry.event.id])).toEqual([
      ['r', 'early'],
    ]);
    expect(() => bus.open()).toThrow(/closed/);
  });

  it('without a backlog file, close dead-letters as before; deliverTo queues one event for one rule', async () => {
    const bus = newBus();
    const seen: string[] = [];
    bus.addRule({ name: 'r', pattern: { source: ['nothing'] }, target: recording((e) => seen.push(e.id)) });
    expect(bus.deliverTo('r', event('redriven'), 5)).toBe(true); // the pattern is not asked again
    expect(bus.deliverTo('missing', event('x'))).toBe(false);
    await bus.drain();
    expect(seen).toEqual(['redriven']);
    bus.deliverTo('r', event('queued'));
    bus.close();
    expect(bus.deadLetters()).toEqual([
      expect.objectContaining({ rule: 'r', error: 'bus closed before delivery' }),
    ]);
    expect(bus.deliverTo('r', event('after'))).toBe(false);
  });
});
