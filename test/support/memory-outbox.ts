/**
 * The registry's notification outbox in memory, for in-memory registries in tests: the five outbox
 * methods of the {@link RegistryStore} port, with the DynamoDB store's semantics (the claim is
 * conditional and atomic, completion is idempotent, a release only gives up the caller's own
 * claim), plus {@link MemoryOutbox.write} for a fake's write to call when its change applied.
 * Where this stands: test infrastructure.
 */
import type {
  NotifyingAuditEvent,
  PendingNotification,
  RegistryStore,
} from '../../core/ports/registry-store';

/** The outbox methods of the port. */
export type OutboxMethods = Pick<
  RegistryStore,
  | 'listPendingNotifications'
  | 'listPendingNotificationsBefore'
  | 'claimNotification'
  | 'completeNotification'
  | 'releaseNotification'
>;

/** Pending notifications, keyed by model and id, as the DynamoDB store keeps them. */
export class MemoryOutbox implements OutboxMethods {
  readonly items = new Map<string, PendingNotification>();
  /** Calls of the port methods, in order (`claim model id`, `complete model id`...). */
  readonly calls: string[] = [];

  /** Stores the audit line's notification, if any: call it only when the change applied. */
  write(audit: NotifyingAuditEvent): void {
    if (!audit.notification) return;
    const id = `${audit.at}#${audit.eventId}`;
    // Stored without an id, as the store does: the outbox gives it the item's id when it sends it.
    const notification = { ...audit.notification };
    delete (notification as { id?: string }).id;
    this.items.set(key(audit.model, id), { id, model: audit.model, notification, createdAt: audit.at });
  }

  /** All pending items, oldest first. */
  pending(): PendingNotification[] {
    return [...this.items.values()].sort((a, b) => compare(a.createdAt, b.createdAt) || compare(a.id, b.id));
  }

  listPendingNotifications(model: string): Promise<PendingNotification[]> {
    return Promise.resolve(this.pending().filter((item) => item.model === model));
  }

  listPendingNotificationsBefore(createdBefore: string): Promise<PendingNotification[]> {
    return Promise.resolve(this.pending().filter((item) => item.createdAt < createdBefore));
  }

  claimNotification(model: string, id: string, now: string, until: string): Promise<boolean> {
    this.calls.push(`claim ${model} ${id}`);
    const item = this.items.get(key(model, id));
    if (!item || (item.claimedUntil !== undefined && !(item.claimedUntil < now)))
      return Promise.resolve(false);
    this.items.set(key(model, id), { ...item, claimedUntil: until });
    return Promise.resolve(true);
  }

  completeNotification(model: string, id: string): Promise<void> {
    this.calls.push(`complete ${model} ${id}`);
    this.items.delete(key(model, id));
    return Promise.resolve();
  }

  releaseNotification(model: string, id: string, until: string): Promise<void> {
    this.calls.push(`release ${model} ${id}`);
    const item = this.items.get(key(model, id));
    if (item?.claimedUntil !== until) return Promise.resolve();
    const { id: itemId, notification, createdAt } = item;
    this.items.set(key(model, id), { id: itemId, model, notification, createdAt });
    return Promise.resolve();
  }
}

function key(model: string, id: string): string {
  return `${model}\u0000${id}`;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
