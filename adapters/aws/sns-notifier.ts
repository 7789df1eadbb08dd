/**
 * SNS adapter of the {@link Notifier} port. Where this stands: adapter; the notification outbox
 * (core/use-cases/notification-outbox.ts) delivers through it what the use cases wrote with their
 * state changes.
 *
 * A Publish that SNS answered with a client error (HTTP 4xx: throttling, validation, access denied)
 * certainly published nothing: it is thrown as {@link NotificationNotSent}, so the outbox sends it
 * again without risking a duplicate. A server error, a timeout or a dropped connection is thrown as
 * the SDK threw it: the message may have gone out.
 */
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import { NotificationNotSent, type Notification, type Notifier } from '../../core/ports/monitoring';
import { errorMessage, errorName } from './aws-errors';

/**
 * Publish's Subject must be "UTF-8 text with no line breaks or control characters, and less than
 * 100 characters long" (SNS API reference, Publish); email endpoints mangle non-ASCII subjects, so
 * the subject is kept to printable ASCII.
 */
export const MAX_SUBJECT_LENGTH = 99;

/**
 * The message attribute carrying the notification's stable id ({@link Notification.id}), the same
 * on every send of one notification, so a subscriber can drop a second copy. SNS attribute names:
 * letters, digits, `_`, `-` and `.`, no leading, trailing or doubled `.`, no `AWS.` / `Amazon.`
 * prefix, at most 256 characters (SNS developer guide, "Amazon SNS message attributes").
 */
export const NOTIFICATION_ID_ATTRIBUTE = 'mlops.notificationId';

/**
 * The {@link Notifier} port on one SNS topic: a Publish per notification, with `model`, `kind` and
 * the notification's id as message attributes (for subscription filter policies, and to drop a
 * second copy). {@link createNotifier} builds it when the stack has a topic.
 */
export class SnsNotifier implements Notifier {
  constructor(
    private readonly client: SNSClient,
    private readonly topicArn: string,
  ) {}

  async notify(notification: Notification): Promise<void> {
    try {
      await this.client.send(
        new PublishCommand({
          TopicArn: this.topicArn,
          Subject: sanitizeSubject(notification.subject),
          Message: notification.message,
          // Attributes let subscribers filter (subscription filter policies) by model or kind,
          // and recognise a notification sent twice (delivery is at least once) by its id.
          MessageAttributes: {
            model: { DataType: 'String', StringValue: notification.model },
            kind: { DataType: 'String', StringValue: notification.kind },
            ...(notification.id
              ? { [NOTIFICATION_ID_ATTRIBUTE]: { DataType: 'String', StringValue: notification.id } }
              : {}),
          },
        }),
      );
    } catch (error) {
      if (!refused(error)) throw error;
      throw new NotificationNotSent(`SNS refused Publish: ${errorName(error)}: ${errorMessage(error)}`, {
        cause: error,
      });
    }
  }
}

/** True when SNS answered with a client error (HTTP < 500): the request published nothing. */
function refused(error: unknown): boolean {
  const status = (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata
    ?.httpStatusCode;
  return error instanceof Error && status !== undefined && status < 500;
}

/** The notifier of a stack without a topic: notifications are dropped. */
export class NoopNotifier implements Notifier {
  async notify(_notification: Notification): Promise<void> {}
}

/** An SNS notifier when a topic is configured, otherwise a no-op one. */
export function createNotifier(client: SNSClient, topicArn: string | undefined): Notifier {
  return topicArn ? new SnsNotifier(client, topicArn) : new NoopNotifier();
}

/**
 * A valid SNS subject: printable ASCII only (anything else, line breaks included, becomes a space
 * or `?`), whitespace collapsed, at most {@link MAX_SUBJECT_LENGTH} characters (cut with `...`),
 * never empty.
 */
export function sanitizeSubject(subject: string): string {
  const ascii = subject
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '') // accents dropped: "é" -> "e"
    .replace(/\s+/g, ' ')
    .replace(/[^\x20-\x7e]/gu, '?') // per code point: an emoji is one '?'
    .trim();
  const text = ascii === '' ? 'serverless-mlops notification' : ascii;
  return text.length <= MAX_SUBJECT_LENGTH ? text : `${text.slice(0, MAX_SUBJECT_LENGTH - 3).trimEnd()}...`;
}
