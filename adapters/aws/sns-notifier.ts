/**
 * SNS adapter of the {@link Notifier} port. Where this stands: adapter; the alarm-events and
 * deployment use cases tell people what happened through it.
 */
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import type { Notification, Notifier } from '../../core/ports/monitoring';

/**
 * Publish's Subject must be "UTF-8 text with no line breaks or control characters, and less than
 * 100 characters long" (SNS API reference, Publish); email endpoints mangle non-ASCII subjects, so
 * the subject is kept to printable ASCII.
 */
export const MAX_SUBJECT_LENGTH = 99;

export class SnsNotifier implements Notifier {
  constructor(
    private readonly client: SNSClient,
    private readonly topicArn: string,
  ) {}

  async notify(notification: Notification): Promise<void> {
    await this.client.send(
      new PublishCommand({
        TopicArn: this.topicArn,
        Subject: sanitizeSubject(notification.subject),
        Message: notification.message,
        // Attributes let subscribers filter (subscription filter policies) by model or kind.
        MessageAttributes: {
          model: { DataType: 'String', StringValue: notification.model },
          kind: { DataType: 'String', StringValue: notification.kind },
        },
      }),
    );
  }
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
