import { Match, Template } from 'aws-cdk-lib/assertions';
import { afterAll, describe, expect, it } from 'vitest';
import { Notifications } from '../../../lib/constructs/notifications';
import { cleanupOutdirs, constructTestStack } from '../helpers';

afterAll(cleanupOutdirs);

function build(allowAlarmActions?: boolean): Template {
  const stack = constructTestStack();
  new Notifications(stack, 'Notifications', {
    resourcePrefix: 'mlops',
    ...(allowAlarmActions === undefined ? {} : { allowAlarmActions }),
  });
  return Template.fromStack(stack);
}

describe('Notifications', () => {
  it('encrypts the topic with a rotating customer-managed key under an alias', () => {
    const template = build();
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    template.hasResourceProperties('AWS::KMS::Alias', { AliasName: 'alias/mlops-notifications' });
    template.hasResourceProperties('AWS::SNS::Topic', {
      KmsMasterKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^NotificationsKey'), 'Arn'] },
    });
  });

  it("denies publishing without TLS and, when asked, lets only this account's alarms publish", () => {
    const template = build(true);
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          Match.objectLike({
            Sid: 'AlarmActions',
            Effect: 'Allow',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: 'sns:Publish',
            Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
          }),
        ]),
      },
    });
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Sid: 'AlarmActions',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
            Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
          }),
        ]),
      },
    });
  });

  it('keeps CloudWatch out by default (alarms reach people through the alarm-events handler)', () => {
    const json = JSON.stringify(build().toJSON());
    expect(json).not.toContain('cloudwatch.amazonaws.com');
  });
});
