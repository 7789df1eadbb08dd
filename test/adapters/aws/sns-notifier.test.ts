import { PublishCommand, SNSClient, SNSServiceException } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  createNotifier,
  NoopNotifier,
  sanitizeSubject,
  SnsNotifier,
} from '../../../adapters/aws/sns-notifier';
import type { Notification } from '../../../core/ports/monitoring';

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

  it('rethrows errors', async () => {
    sns.on(PublishCommand).rejects(
      new SNSServiceException({
        name: 'Throttling',
        $fault: 'client',
        message: 'Rate exceeded',
        $metadata: {},
      }),
    );
    await expect(new SnsNotifier(client, TOPIC).notify(notification)).rejects.toMatchObject({
      name: 'Throttling',
    });
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
