/**
 * Notifications: the SNS topic people subscribe to (incidents, rejections, approvals), encrypted
 * with a customer-managed KMS key. Where this stands: infrastructure (lib/constructs); the handlers
 * publish to it through the Notifier port.
 *
 * Publishers: the handlers (IAM grants on their roles) and, when `allowAlarmActions` is on,
 * CloudWatch alarms: the stack turns it on for its operational alarms (operational-alarms.ts);
 * the model alarms could use it too (adapters/aws/cloudwatch-alarm-service.ts sets
 * AlarmActions/OKActions when given the topic) but are not given it. An alarm action on an
 * encrypted topic needs both a topic policy statement for cloudwatch.amazonaws.com and
 * kms:Decrypt + kms:GenerateDataKey* for it in the key policy; without the key statement the
 * alarm action fails with an authorization error on the key (visible in the alarm's history) and
 * nothing is delivered, which is also why an AWS managed key (alias/aws/sns), whose policy cannot
 * be changed, does not work (SNS Developer Guide, "Key management", "Enable compatibility between
 * event sources from AWS services and encrypted topics",
 * https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services;
 * AWS re:Post Knowledge Center, https://repost.aws/knowledge-center/cloudwatch-configure-alarm-sns).
 * Both statements are limited to this account with aws:SourceAccount.
 */
import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';

/** The notification topic's key alias, key removal and who may publish. */
export interface NotificationsProps {
  /** The stack's resource prefix; names the key alias `alias/<prefix>-notifications`. */
  readonly resourcePrefix: string;
  /**
   * Removal policy of the KMS key (a deleted key makes old messages unreadable).
   * @default RemovalPolicy.RETAIN
   */
  readonly keyRemovalPolicy?: RemovalPolicy;
  /**
   * Let CloudWatch alarms of this account publish to the topic (alarm actions). Off by default:
   * model alarm state changes reach people through the alarm-events handler, which opens the
   * incident and writes a readable message, so raw alarm actions on them would only send every
   * alarm twice. ServerlessMlopsStack turns it on for its operational alarms, which no handler
   * watches.
   * @default false
   */
  readonly allowAlarmActions?: boolean;
}

/** Encrypted, TLS-only notification topic. */
export class Notifications extends Construct {
  readonly topic: sns.Topic;
  readonly key: kms.Key;

  constructor(scope: Construct, id: string, props: NotificationsProps) {
    super(scope, id);
    this.key = new kms.Key(this, 'Key', {
      alias: `alias/${props.resourcePrefix}-notifications`,
      description: `Encrypts the ${props.resourcePrefix} MLOps notification topic`,
      enableKeyRotation: true,
      removalPolicy: props.keyRemovalPolicy ?? RemovalPolicy.RETAIN,
    });
    this.topic = new sns.Topic(this, 'Topic', {
      displayName: `${props.resourcePrefix} MLOps notifications`,
      masterKey: this.key,
      enforceSSL: true,
    });

    if (props.allowAlarmActions ?? false) {
      const sameAccount = { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } };
      const cloudwatch = new iam.ServicePrincipal('cloudwatch.amazonaws.com');
      this.topic.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'AlarmActions',
          principals: [cloudwatch],
          actions: ['sns:Publish'],
          resources: [this.topic.topicArn],
          conditions: sameAccount,
        }),
      );
      // In a key policy "*" means this key.
      this.key.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'AlarmActions',
          principals: [cloudwatch],
          actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
          resources: ['*'],
          conditions: sameAccount,
        }),
      );
    }
  }
}
