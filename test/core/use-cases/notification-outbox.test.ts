/**
 * NotificationOutbox: pending notifications delivered exactly once under concurrency (the claim),
 * sent again at once after a refusal (the claim released), and only after the lease after a send
 * that may have gone out (the claim kept): at least once, each copy with the notification's id. On
 * the in-memory outbox (test/support/memory-outbox.ts), which has the DynamoDB store's semantics
 * (the store's own are tested against DynamoDB Local in test/adapters/dynamodb).
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { NotificationNotSent, type Notification } from '../../../core/ports/monitoring';
import type { RegistryStore } from '../../../core/ports/registry-store';
import { silentLog, type MlopsContext } from '../../../core/use-cases/context';
import { NOTIFICATION_LEASE_MS, NotificationOutbox } from '../../../core/use-cases/notification-outbox';
import { MemoryOutbox } from '../../support/memory-outbox';

const T0 = Date.parse('2025-06-03T12:00:00.000Z');
const at = (ms: number) => new Date(T0 + ms).toISOString();

let outbox: MemoryOutbox;
let now: number;
let sent: Notification[];
/** What the notifier does at its next calls (an error to throw), in order; then it sends. */
let faults: Error[];
/** Resolved by the test to let a send finish (when set). */
let gate: Promise<void> | undefined;

function ctx(): Pick<MlopsContext, 'registry' | 'notifier' | 'clock' | 'log'> {
  return {
    registry: outbox as unknown as RegistryStore,
    notifier: {
      notify: async (notification: Notification) => {
        if (gate) await gate;
        const fault = faults.shift();
        if (fault) throw fault;
        sent.push(notification);
      },
    },
    clock: { now: () => new Date(now) },
    log: silentLog,
  };
}

/** Writes a notification as a store does when the change applied. */
function written(
  model: string,
  eventId: string,
  createdAt: string,
  kind: Notification['kind'] = 'version-promoted',
) {
  outbox.write({
    model,
    at: createdAt,
    eventId,
    type: 'PROMOTED',
    actor: 'test',
    reason: 'test',
    notification: { kind, model, subject: `${model}: ${eventId}`, message: 'body' },
  });
  return `${createdAt}#${eventId}`;
}

const throttled = () =>
  new NotificationNotSent('SNS refused Publish: Throttling: Rate exceeded', {
    cause: Object.assign(new Error('Rate exceeded'), { name: 'Throttling' }),
  });
const timedOut = () =>
  Object.assign(new Error('Connection timed out after 3000 ms'), { name: 'TimeoutError' });

beforeEach(() => {
  outbox = new MemoryOutbox();
  now = T0;
  sent = [];
  faults = [];
  gate = undefined;
});

describe('flush', () => {
  it('sends the model’s pending notifications oldest first, each with its id, and removes them', async () => {
    const second = written('churn', 'PROMOTED:2', at(2));
    const first = written('churn', 'PROMOTED:1', at(1));
    written('fraud', 'PROMOTED:1', at(0));
    const delivered = await new NotificationOutbox(ctx()).flush('churn');
    expect(sent.map((n) => n.id)).toEqual([first, second]);
    expect(sent[0]).toMatchObject({ kind: 'version-promoted', model: 'churn', subject: 'churn: PROMOTED:1' });
    expect(delivered).toEqual([
      { model: 'churn', id: first, kind: 'version-promoted' },
      { model: 'churn', id: second, kind: 'version-promoted' },
    ]);
    expect(outbox.pending().map((p) => p.model)).toEqual(['fraud']);
  });

  it('two flushes at once send a notification once: only one gets the claim', async () => {
    const id = written('churn', 'PROMOTED:1', at(0));
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
    expect(outbox.pending()).toEqual([]);
  });

  it('a refused send releases the claim and rethrows; the next flush sends it at once', async () => {
    const id = written('churn', 'PROMOTED:1', at(0));
    faults.push(throttled());
    await expect(new NotificationOutbox(ctx()).flush('churn')).rejects.toBeInstanceOf(NotificationNotSent);
    expect(outbox.pending()).toEqual([expect.not.objectContaining({ claimedUntil: expect.anything() })]);
    expect(sent).toEqual([]);

    // The retried event, a moment later: sent once.
    now += 1_000;
    await new NotificationOutbox(ctx()).flush('churn');
    expect(sent.map((n) => n.id)).toEqual([id]);
    expect(outbox.pending()).toEqual([]);
  });

  it('a send that may have gone out (timeout) keeps the claim and rethrows; nobody sends it before the lease ends', async () => {
    written('churn', 'PROMOTED:1', at(0));
    faults.push(timedOut());
    await expect(new NotificationOutbox(ctx()).flush('churn')).rejects.toMatchObject({
      name: 'TimeoutError',
    });
    expect(outbox.pending()).toEqual([expect.objectContaining({ claimedUntil: at(NOTIFICATION_LEASE_MS) })]);

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
    const id = written('churn', 'PROMOTED:1', at(0));
    faults.push(timedOut());
    await expect(new NotificationOutbox(ctx()).flush('churn')).rejects.toThrow('timed out');

    now = T0 + NOTIFICATION_LEASE_MS + 1;
    const flushed = await new NotificationOutbox(ctx()).flushAll(new Date(now - 60_000));
    expect(flushed).toEqual({ delivered: [{ model: 'churn', id, kind: 'version-promoted' }], failures: [] });
    expect(sent.map((n) => n.id)).toEqual([id]);
    expect(outbox.pending()).toEqual([]);
  });

  it('a completion that fails is tried again, not rethrown: the notification is out', async () => {
    const id = written('churn', 'PROMOTED:1', at(0));
    const complete = outbox.completeNotification.bind(outbox);
    let failures = 1;
    outbox.completeNotification = async (model, item) => {
      if (failures-- > 0) throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
      return complete(model, item);
    };
    expect(await new NotificationOutbox(ctx()).flush('churn')).toHaveLength(1);
    expect(sent.map((n) => n.id)).toEqual([id]);
    expect(outbox.pending()).toEqual([]);
  });
});

describe('flushAll', () => {
  it('sends what is older than the cut-off across models, going on past failures', async () => {
    const old1 = written('churn', 'PROMOTED:1', at(0), 'version-promoted');
    const old2 = written('fraud', 'INCIDENT_OPENED:a', at(10), 'incident-opened');
    written('leads', 'PROMOTED:1', at(120_000));
    now = T0 + 120_000;
    faults.push(throttled());
    const flushed = await new NotificationOutbox(ctx()).flushAll(new Date(now - 60_000));
    expect(flushed.failures).toEqual([
      { model: 'churn', id: old1, error: expect.stringContaining('NotificationNotSent') },
    ]);
    expect(flushed.delivered).toEqual([{ model: 'fraud', id: old2, kind: 'incident-opened' }]);
    expect(outbox.pending().map((p) => p.id)).toEqual([old1, `${at(120_000)}#PROMOTED:1`]);
  });
});
