/**
 * Use case component: delivers the notifications the use cases wrote with their state changes (the
 * registry's transactional outbox, {@link PendingNotification}). Where this stands: core; every use
 * case that writes a notifying change flushes its model's outbox right after the write, on the path
 * where the write applied and on the one where an earlier delivery of the event had applied it, and
 * the reconciler flushes what no event did ({@link NotificationOutbox.flushAll}).
 *
 * One delivery of an item: claim it (a conditional write: a delivery holds it until its lease ends),
 * send it with its id, delete it. Two deliveries at once send it once: only one gets the claim.
 * When the send fails:
 * - certainly not sent ({@link NotificationNotSent}: the channel answered with a refusal): the
 *   claim is released and the error rethrown, so the retried event sends it at once;
 * - maybe sent (a server error, a timeout, a dropped connection): the claim is kept and the error
 *   rethrown; nobody sends it until the lease ends, then the reconciler (or a later flush of the
 *   model) sends it again. So delivery is at least once: a subscriber may get a second copy after
 *   such a failure, with the same id.
 */
import { NotificationNotSent, type Notification } from '../ports/monitoring';
import type { PendingNotification } from '../ports/registry-store';
import type { MlopsContext } from './context';

/** How long a delivery holds its claim: far longer than one send takes, SDK retries included. */
export const NOTIFICATION_LEASE_MS = 5 * 60_000;

/** Sends of a delivered item's completion: giving up means the item is sent again later. */
const COMPLETE_ATTEMPTS = 3;

/** A notification delivered by a flush. */
export interface DeliveredNotification {
  readonly model: string;
  readonly id: string;
  readonly kind: Notification['kind'];
}

/** What {@link NotificationOutbox.flushAll} did. */
export interface OutboxFlush {
  readonly delivered: readonly DeliveredNotification[];
  /** Deliveries that failed (each tried again by a later flush). */
  readonly failures: readonly { readonly model: string; readonly id: string; readonly error: string }[];
}

/** Delivers pending notifications exactly once under concurrency; at least once across failures. */
export class NotificationOutbox {
  private readonly leaseMs: number;

  constructor(
    private readonly ctx: Pick<MlopsContext, 'registry' | 'notifier' | 'clock' | 'log'>,
    options: { readonly leaseMs?: number } = {},
  ) {
    this.leaseMs = options.leaseMs ?? NOTIFICATION_LEASE_MS;
  }

  /**
   * Delivers the model's pending notifications, oldest first. Throws the first failure (the items
   * after it stay pending), so the event that called it is retried and the retry delivers them.
   * Items another delivery holds are left to it.
   */
  async flush(model: string): Promise<DeliveredNotification[]> {
    const delivered: DeliveredNotification[] = [];
    for (const item of await this.ctx.registry.listPendingNotifications(model)) {
      if (await this.deliver(item)) delivered.push(described(item));
    }
    return delivered;
  }

  /**
   * Delivers the pending notifications of every model written before `olderThan` (those no event
   * delivered: its flush failed, or the event was lost), going on past failures.
   */
  async flushAll(olderThan: Date): Promise<OutboxFlush> {
    const delivered: DeliveredNotification[] = [];
    const failures: { model: string; id: string; error: string }[] = [];
    const pending = await this.ctx.registry.listPendingNotificationsBefore(olderThan.toISOString());
    for (const item of pending) {
      try {
        if (await this.deliver(item)) delivered.push(described(item));
      } catch (error) {
        failures.push({ model: item.model, id: item.id, error: describeError(error) });
      }
    }
    return { delivered, failures };
  }

  /** Claims, sends and completes one item; false when another delivery holds it or it is gone. */
  private async deliver(item: PendingNotification): Promise<boolean> {
    const { registry, notifier, clock, log } = this.ctx;
    const now = clock.now();
    const at = now.toISOString();
    // A claim still running is another delivery's (a failed conditional write would say the same).
    if (item.claimedUntil !== undefined && item.claimedUntil >= at) return false;
    const until = new Date(now.getTime() + this.leaseMs).toISOString();
    if (!(await registry.claimNotification(item.model, item.id, at, until))) return false;
    try {
      await notifier.notify({ ...item.notification, id: item.id });
    } catch (error) {
      if (error instanceof NotificationNotSent) {
        // Nothing went out: let the retried event (or anyone) send it at once.
        await registry.releaseNotification(item.model, item.id, until).catch((releaseError: unknown) =>
          log.warn('could not release a notification claim; it is sent once the claim ends', {
            model: item.model,
            id: item.id,
            error: describeError(releaseError),
          }),
        );
      } else {
        // It may have gone out: keep the claim, so only the lease's end lets it be sent again.
        log.warn('notification may or may not have been sent; it is sent again once its claim ends', {
          model: item.model,
          id: item.id,
          until,
          error: describeError(error),
        });
      }
      throw error;
    }
    await this.complete(item);
    return true;
  }

  /**
   * Deletes a sent item, trying a few times: once sent, a completion given up on means a second
   * copy after the lease. Not rethrown: the notification is out, the event's work is done.
   */
  private async complete(item: PendingNotification): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.ctx.registry.completeNotification(item.model, item.id);
        return;
      } catch (error) {
        if (attempt >= COMPLETE_ATTEMPTS) {
          this.ctx.log.error('sent notification not completed; it is sent again once its claim ends', {
            model: item.model,
            id: item.id,
            error: describeError(error),
          });
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 20 * attempt));
      }
    }
  }
}

function described(item: PendingNotification): DeliveredNotification {
  return { model: item.model, id: item.id, kind: item.notification.kind };
}

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
