import { PublishCommand, SNSClient, SNSServiceException } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  createNotifier,
  NoopNotifier,
  NOTIFICATION_ID_ATTRIBUTE,
  sanitizeSubject,
  SnsNotifier,
} from '../../../adapters/aws/sns-notifier';
import { NotificationNotSent, type Notification } from '../../../core/ports/monitoring';

const sns = mockClient(SNSClient);
const client = new SNSClient({ region: 'us-east-1' });
const TOPIC = 'arn:aws:sns:us-east-1:123456789012:mlops';

const notification: Notification = {
  subject: 'churn v3 promoted to production',
  message: 'Version 3 of churn (validation:auc 0.91) is now serving on mlops-churn.',
  model: 'churn',
  kind: 'version-promoted',
};

beforeEach(() => {
  sns.reset();
});

describe('SnsNotifier', () => {
  it('publishes exactly the notification with model and kind attributes', async () => {
    sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
    await new SnsNotifier(client, TOPIC).notify(notification);
    const expected = {
      TopicArn: TOPIC,
      Subject: 'churn v3 promoted to production',
      Message: 'Version 3 of churn (validation:auc 0.91) is now serving on mlops-churn.',
      MessageAttributes: {
        model: { DataType: 'String', StringValue: 'churn' },
        kind: { DataType: 'String', StringValue: 'version-promoted' },
      },
    };
    expect(sns).toHaveReceivedCommandExactlyOnceWith(PublishCommand, expected);
    expect(sns.commandCalls(PublishCommand)[0]?.args[0].input).toEqual(expected);
  });

  it('sends the notification id as the mlops.notificationId attribute', async () => {
    sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
    const id = '2025-06-03T12:00:00.000Z#PROMOTED:3';
    await new SnsNotifier(client, TOPIC).notify({ ...notification, id });
    expect(NOTIFICATION_ID_ATTRIBUTE).toBe('mlops.notificationId');
    expect(sns.commandCalls(PublishCommand)[0]?.args[0].input.MessageAttributes).toEqual({
      model: { DataType: 'String', StringValue: 'churn' },
      kind: { DataType: 'String', StringValue: 'version-promoted' },
      'mlops.notificationId': { DataType: 'String', StringValue: id },
    });
  });

  it('the attribute name is one SNS accepts', () => {
    // Letters, digits, _ - . ; no leading, trailing or doubled period; no AWS./Amazon. prefix; <= 256.
    expect(NOTIFICATION_ID_ATTRIBUTE).toMatch(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/);
    expect(NOTIFICATION_ID_ATTRIBUTE).not.toMatch(/^(aws|amazon)\./i);
    expect(NOTIFICATION_ID_ATTRIBUTE.length).toBeLessThanOrEqual(256);
  });

  const failure = (name: string, fault: 'client' | 'server', httpStatusCode?: number) =>
    new SNSServiceException({
      name,
      $fault: fault,
      message: `${name} happened`,
      $metadata: httpStatusCode === undefined ? {} : { httpStatusCode },
    });

  it.each([
    ['Throttling', 400],
    ['InvalidParameter', 400],
    ['AuthorizationError', 403],
  ])('a refusal (%s, HTTP %i) is NotificationNotSent: nothing was published', async (name, status) => {
    sns.on(PublishCommand).rejects(failure(name, 'client', status));
    const error = await new SnsNotifier(client, TOPIC).notify(notification).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotificationNotSent);
    expect((error as Error).message).toContain(`${name}: ${name} happened`);
    expect((error as Error).cause).toMatchObject({ name });
  });

  it('a server error or an error without a response is rethrown as is: it may have been published', async () => {
    sns
      .on(PublishCommand)
      .rejectsOnce(failure('InternalError', 'server', 500))
      .rejectsOnce(Object.assign(new Error('socket hang up'), { name: 'TimeoutError' }));
    await expect(new SnsNotifier(client, TOPIC).notify(notification)).rejects.toMatchObject({
      name: 'InternalError',
    });
    const error = await new SnsNotifier(client, TOPIC).notify(notification).catch((e: unknown) => e);
    expect(error).not.toBeInstanceOf(NotificationNotSent);
    expect(error).toMatchObject({ name: 'TimeoutError' });
  });
});

describe('sanitizeSubject', () => {
  it('keeps a short ASCII subject', () => {
    expect(sanitizeSubject('Incident opened: churn error rate')).toBe('Incident opened: churn error rate');
  });

  it('removes line breaks, control characters and non-ASCII', () => {
    expect(sanitizeSubject('Modèle\nchurn\t— alarme\u0007 🔥')).toBe('Modele churn ? alarme? ?');
  });

  it('truncates to fewer than 100 characters', () => {
    const subject = sanitizeSubject('x'.repeat(150));
    expect(subject).toHaveLength(99);
    expect(subject.endsWith('...')).toBe(true);
  });

  it('never returns an empty subject', () => {
    expect(sanitizeSubject(' \n ')).toBe('serverless-mlops notification');
  });
});

describe('createNotifier', () => {
  it('is a no-op without a topic', async () => {
    const notifier = createNotifier(client, undefined);
    expect(notifier).toBeInstanceOf(NoopNotifier);
    await notifier.notify(notification);
    expect(sns).not.toHaveReceivedAnyCommand();
  });

  it('publishes with a topic', () => {
    expect(createNotifier(client, TOPIC)).toBeInstanceOf(SnsNotifier);
  });
});
