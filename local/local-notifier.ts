/**
 * Local adapter of the {@link Notifier} port: the local cloud's outbox, in place of an SNS topic.
 * Where this stands: adapter for the local cloud; the alarm-events and deployment use cases tell
 * people what happened through it. Each notification is kept in memory, appended as one JSON line
 * (with the time) to a file and, optionally, printed.
 */
import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Notification, Notifier } from '../core/ports/monitoring';

/** A notification as the outbox recorded it. */
export interface SentNotification extends Notification {
  /** ISO 8601. */
  readonly time: string;
}

/** Where a {@link LocalNotifier} sends its lines besides memory; without options, memory only. */
export interface LocalNotifierOptions {
  /** JSON-lines file to append to (its folder is created). */
  readonly file?: string;
  /**
   * Called with each line, e.g. to show it in the supervisor's console; `true` prints to stdout.
   * @default nothing printed
   */
  readonly print?: ((line: string) => void) | boolean;
  /** @default () => new Date() */
  readonly now?: () => Date;
}

/**
 * The {@link Notifier} port of the local cloud (its `notifications.jsonl`, and the console unless
 * quiet). It never refuses a notification; a failed append fails that call, once the notification
 * is already kept and printed, so the outbox's retry may record it twice.
 */
export class LocalNotifier implements Notifier {
  private readonly sent: SentNotification[] = [];
  /** Appends one after the other, in notification order. */
  private writes: Promise<void> = Promise.resolve();

  constructor(private readonly options: LocalNotifierOptions = {}) {}

  async notify(notification: Notification): Promise<void> {
    const entry: SentNotification = {
      time: (this.options.now?.() ?? new Date()).toISOString(),
      ...notification,
    };
    this.sent.push(entry);
    const line = JSON.stringify(entry);
    const { print } = this.options;
    if (typeof print === 'function') print(line);
    else if (print === true) console.log(line);
    const { file } = this.options;
    if (file === undefined) return;
    const write = this.writes.then(async () => {
      await mkdir(dirname(file), { recursive: true });
      await appendFile(file, `${line}\n`);
    });
    // A failed write fails this notify call, not the following ones.
    this.writes = write.catch(() => {});
    await write;
  }

  /** Notifications sent so far, oldest first. */
  messages(): readonly SentNotification[] {
    return [...this.sent];
  }
}
