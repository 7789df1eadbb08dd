/**
 * NotificationOutbox: pending notifications delivered exactly once under concurrency (the claim),
 * sent again at once after a refusal (the claim released), and only after the lease after a send
 * that may have gone out (the claim kept): at least once, each copy with the notification's id. On
 * the in-memory registry (adapters/memory/memory-registry-store.ts), which has the DynamoDB store's
 * semantics (the store's own are tested against DynamoDB Local in test/adapters/dynamodb), with its
 * injected failures for the outbox's own writes.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { MemoryRegistryStore } from '../../../adapters/memory/memory-registry-store';
import { NotificationNotSent, type Notification } from '../../../core/ports/monitoring';
import { type Log, type MlopsContext } from '../../../core/use-cases/context';
import { NOTIFICATION_LEASE_MS, NotificationOutbox } from '../../../core/use-cases/notification-outbox';
import { anything, stringContaining } from '../../support/matchers';

const T0 = Date.parse('2025-06-03T12:00:00.000Z');
const at = (ms: number) => new Date(T0 + ms).toISOString();

/** The registry, counting the outbox's claims, completions and releases (`claim <model> <id>`...). */
class CountingStore extends MemoryRegistryStore {
  readonly calls: string[] = [];
  override claimNotification(model: string, id: string, now: string, until: string): Promise<boolean> {
    this.calls.push(`claim ${model} ${id}`);
    return super.claimNotification(model, id, now, until);
  }
  override completeNotification(model: string, id: string): Promise<void> {
    this.calls.push(`complete ${model} ${id}`);
    return super.completeNotification(model, id);
  }
  override releaseNotification(model: string, id: string, until: string): Promise<void> {
    this.calls.push(`release ${model} ${id}`);
    return super.releaseNotification(model, id, until);
  }
  /** Every pending notification, oldest first. */
  pending() {
    return this.listPendingNotificationsBefore('9999-12-31T00:00:00.000Z');
  }
}

let outbox: CountingStore;
/** What the outbox logged (warnings and errors). */
let logged: { level: string; message: string }[];
let now: number;
let sent: Notification[];
/** What the notifier does at its next calls (an error to throw), in order; then it sends. */
let faults: Error[];
/** Resolved by the test to let a send finish (when set). */
let gate: Promise<void> | undefined;

function ctx(): Pick<MlopsContext, 'registry' | 'notifier' | 'clock' | 'log'> {
  return {
    registry: outbox,
    notifier: {
      notify: async (notification: Notification) => {
        if (gate) await gate;
        const fault = faults.shift();
        if (fault) throw fault;
        sent.push(notification);
      },
    },
    clock: { now: () => new Date(now) },
    log,
  };
}

const log: Log = {
  debug() {},
  info() {},
  warn: (message: string) => void logged.push({ level: 'warn', message }),
  error: (message: string) => void logged.push({ level: 'error', message }),
};

/**
 * A change that writes a notification, through the port (a rejected dataset's record, the simplest
 * notifying write); returns the outbox item's id.
 */
async function written(
  model: string,
  eventId: string,
  createdAt: string,
  kind: Notification['kind'] = 'version-promoted',
): Promise<string> {
  const applied = await outbox.recordRejectedDataset(
    {
      model,
      datasetId: eventId,
      sourceUri: `s3://data/datasets/${model}/${eventId}.csv`,
      status: 'REJECTED',
      rejection: { code: 'TEST', reason: 'test' },
      createdAt,
    },
    {
      model,
      at: createdAt,
      eventId,
      type: 'DATASET_REJECTED',
      actor: 'test',
      reason: 'test',
      notification: { kind, model, subject: `${model}: ${eventId}`, message: 'body' },
    },
  );
  if (!applied) throw new Error(`${model} ${eventId} was written already`);
  return `${createdAt}#${eventId}`;
}

const throttled = () =>
  new NotificationNotSent('SNS refused Publish: Throttling: Rate exceeded', {
    cause: Object.assign(new Error('Rate exceeded'), { name: 'Throttling' }),
  });
const timedOut = () =>
  Object.assign(new Error('Connection timed out after 3000 ms'), { name: 'TimeoutError' });

beforeEach(() => {
  outbox = new CountingStore();
  logged = [];
  now = T0;
  sent = [];
  faults = [];
  gate = undefined;
});

describe('flush', () => {
  it('sends the model’s pending notifications oldest first, each with its id, and removes them', async () => {
    const second = await written('churn', 'PROMOTED:2', at(2));
    const first = await written('churn', 'PROMOTED:1', at(1));
    await written('fraud', 'PROMOTED:1', at(0));
    const delivered = await new NotificationOutbox(ctx()).flush('churn');
    expect(sent.map((n) => n.id)).toEqual([first, second]);
    expect(sent[0]).toMatchObject({ kind: 'version-promoted', model: 'churn', subject: 'churn: PROMOTED:1' });
    expect(delivered).toEqual([
      { model: 'churn', id: first, kind: 'version-promoted' },
      { model: 'churn', id: second, kind: 'version-promoted' },
    ]);
    expect((await outbox.pending()).map((p) => p.model)).toEqual(['fraud']);
  });

  it('two flushes at once send a notification once: only one gets the claim', async () => {
    const id = await written('churn', 'PROMOTED:1', at(0));
    let open!: () => void;
    gate = new Promise((resolve) => (open = resolve));
    const a = new NotificationOutbox(ctx()).flush('churn');
    const b = new NotificationOutbox(ctx()).flush('churn');
    await new Promise((resolve) => setTimeout(resolve, 5));
    open();
    const [da, db] = await Promise.all([a, b]);
    expect(sent.map((n) => n.id)).toEqual([id]);
    expect(da.length + db.length).toBe(1);
    expect(outbox.calls.filter((c) => c.startsWith('claim'))).toHaveLength(2);
    expect(await outbox.pending()).toEqual([]);
  });

  it('a refused send releases the claim and rethrows; the next flush sends it at once', async () => {
    const id = await written('churn', 'PROMOTED:1', at(0));
    faults.push(throttled());
    await expect(new NotificationOutbox(ctx()).flush('churn')).rejects.toBeInstanceOf(NotificationNotSent);
    expect(await outbox.pending()).toEqual([expect.not.objectContaining({ claimedUntil: anything() })]);
    expect(sent).toEqual([]);

    // The retried event, a moment later: sent once.
    now += 1_000;
    await new NotificationOutbox(ctx()).flush('churn');
    expect(sent.map((n) => n.id)).toEqual([id]);
    expect(await outbox.pending()).toEqual([]);
  });

  it('a send that may have gone out (timeout) keeps the claim and rethrows; nobody sends it before the lease ends', async () => {
    await written('churn', 'PROMOTED:1', at(0));
    faults.push(timedOut());
    await expect(new NotificationOutbox(ctx()).flush('churn')).rejects.toMatchObject({
      name: 'TimeoutError',
    });
    expect(await outbox.pending()).toEqual([
      expect.objectContaining({ claimedUntil: at(NOTIFICATION_LEASE_MS) }),
    ]);

    // The retried event: the claim holds, so nothing is sent (and no claim is even tried).
    now += 1_000;
    const claims = outbox.calls.length;
    expect(await new NotificationOutbox(ctx()).flush('churn')).toEqual([]);
    expect(await new NotificationOutbox(ctx()).flushAll(new Date(now))).toEqual({
      delivered: [],
      failures: [],
    });
    expect(sent).toEqual([]);
    expect(outbox.calls).toHaveLength(claims);
  });

  it('an expired claim is sent again, with the same id (at least once)', async () => {
    const id = await written('churn', 'PROMOTED:1', at(0));
    faults.push(timedOut());
    await expect(new NotificationOutbox(ctx()).flush('churn')).rejects.toThrow('timed out');

    now = T0 + NOTIFICATION_LEASE_MS + 1;
    const flushed = await new NotificationOutbox(ctx()).flushAll(new Date(now - 60_000));
    expect(flushed).toEqual({ delivered: [{ model: 'churn', id, kind: 'version-promoted' }], failures: [] });
    expect(sent.map((n) => n.id)).toEqual([id]);
    expect(await outbox.pending()).toEqual([]);
  });

  it('a completion that fails is tried again, not rethrown: the notification is out', async () => {
    const id = await written('churn', 'PROMOTED:1', at(0));
    outbox.failNext('completeNotification');
    expect(await new NotificationOutbox(ctx()).flush('churn')).toHaveLength(1);
    expect(sent.map((n) => n.id)).toEqual([id]);
    expect(outbox.calls.filter((c) => c.startsWith('complete'))).toHaveLength(2);
    expect(await outbox.pending()).toEqual([]);
    expect(logged).toEqual([]);
  });

  it('a completion that keeps failing is logged, not rethrown; the claim ends and it is sent again, same id', async () => {
    const id = await written('churn', 'PROMOTED:1', at(0));
    for (let i = 0; i < 3; i++) outbox.failNext('completeNotification');
    expect(await new NotificationOutbox(ctx()).flush('churn')).toEqual([
      { model: 'churn', id, kind: 'version-promoted' },
    ]);
    expect(logged).toEqual([{ level: 'error', message: stringContaining('not completed') }]);
    expect(await outbox.pending()).toEqual([
      expect.objectContaining({ id, claimedUntil: at(NOTIFICATION_LEASE_MS) }),
    ]);

    // Held until the lease ends; then a second copy goes out, with the same id.
    now += 1_000;
    expect(await new NotificationOutbox(ctx()).flush('churn')).toEqual([]);
    now = T0 + NOTIFICATION_LEASE_MS + 1;
    expect(await new NotificationOutbox(ctx()).flush('churn')).toHaveLength(1);
    expect(sent.map((n) => n.id)).toEqual([id, id]);
    expect(await outbox.pending()).toEqual([]);
  });

  it('a claim that fails sends nothing and rethrows; the retried event sends it', async () => {
    const id = await written('churn', 'PROMOTED:1', at(0));
    outbox.failNext('claimNotification');
    await expect(new NotificationOutbox(ctx()).flush('churn')).rejects.toThrow('injected failure');
    expect(sent).toEqual([]);
    expect(await outbox.pending()).toEqual([expect.not.objectContaining({ claimedUntil: anything() })]);

    now += 1_000;
    expect(await new NotificationOutbox(ctx()).flush('churn')).toHaveLength(1);
    expect(sent.map((n) => n.id)).toEqual([id]);
  });

  it('a claim written whose answer was lost holds the item until its lease ends, then it is sent once', async () => {
    const id = await written('churn', 'PROMOTED:1', at(0));
    outbox.failNext('claimNotification', { when: 'after' });
    await expect(new NotificationOutbox(ctx()).flush('churn')).rejects.toThrow('injected failure');
    expect(sent).toEqual([]);

    now += 1_000;
    expect(await new NotificationOutbox(ctx()).flush('churn')).toEqual([]);
    expect(sent).toEqual([]);
    now = T0 + NOTIFICATION_LEASE_MS + 1;
    expect(await new NotificationOutbox(ctx()).flushAll(new Date(now))).toEqual({
      delivered: [{ model: 'churn', id, kind: 'version-promoted' }],
      failures: [],
    });
    expect(sent.map((n) => n.id)).toEqual([id]);
  });

  it('a refused send whose release fails is logged and rethrown; it is sent once the claim ends', async () => {
    const id = await written('churn', 'PROMOTED:1', at(0));
    faults.push(throttled());
    outbox.failNext('releaseNotification');
    await expect(new NotificationOutbox(ctx()).flush('churn')).rejects.toBeInstanceOf(NotificationNotSent);
    expect(logged).toEqual([{ level: 'warn', message: stringContaining('could not release') }]);
    expect(await outbox.pending()).toEqual([
      expect.objectContaining({ claimedUntil: at(NOTIFICATION_LEASE_MS) }),
    ]);

    now += 1_000;
    expect(await new NotificationOutbox(ctx()).flush('churn')).toEqual([]);
    now = T0 + NOTIFICATION_LEASE_MS + 1;
    expect(await new NotificationOutbox(ctx()).flush('churn')).toHaveLength(1);
    expect(sent.map((n) => n.id)).toEqual([id]);
  });
});

describe('flushAll', () => {
  it('sends what is older than the cut-off across models, going on past failures', async () => {
    const old1 = await written('churn', 'PROMOTED:1', at(0), 'version-promoted');
    const old2 = await written('fraud', 'INCIDENT_OPENED:a', at(10), 'incident-opened');
    await written('leads', 'PROMOTED:1', at(120_000));
    now = T0 + 120_000;
    faults.push(throttled());
    const flushed = await new NotificationOutbox(ctx()).flushAll(new Date(now - 60_000));
    expect(flushed.failures).toEqual([
      { model: 'churn', id: old1, error: stringContaining('NotificationNotSent') },
    ]);
    expect(flushed.delivered).toEqual([{ model: 'fraud', id: old2, kind: 'incident-opened' }]);
    expect((await outbox.pending()).map((p) => p.id)).toEqual([old1, `${at(120_000)}#PROMOTED:1`]);
  });
});
