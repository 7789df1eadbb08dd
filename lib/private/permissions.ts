/**
 * IAM building blocks shared by the constructs: resource ARNs derived from the resource prefix and
 * the statements every handler needs. Where this stands: infrastructure helper (lib/private).
 *
 * Every ARN here is scoped by the stack's resource prefix; the handlers only ever create or touch
 * resources whose names start with `<prefix>-` (core/domain/naming.ts, ResourceNames).
 */
import { ArnFormat, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type { IConstruct } from 'constructs';
import { REGISTRY_TABLE_LAYOUT } from '../../adapters/dynamodb/table-layout';
import { acknowledgeWildcardAction } from './nag';

/** SageMaker resource types the control plane creates (Service Authorization Reference, Amazon SageMaker). */
export type SageMakerResourceType = 'training-job' | 'model' | 'endpoint-config' | 'endpoint';

/**
 * `arn:${Partition}:sagemaker:${Region}:${Account}:<type>/<prefix>-*`. SageMaker lower-cases names
 * in ARNs; our names are lowercase already (MODEL_NAME_PATTERN, RESOURCE_PREFIX_PATTERN).
 */
export function sageMakerArn(scope: IConstruct, type: SageMakerResourceType, prefix: string): string {
  return Stack.of(scope).formatArn({
    service: 'sagemaker',
    resource: type,
    resourceName: `${prefix}-*`,
    arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
  });
}

/** `arn:${Partition}:cloudwatch:${Region}:${Account}:alarm:<prefix>-*` (alarm ARNs use a colon). */
export function alarmArn(scope: IConstruct, prefix: string): string {
  return Stack.of(scope).formatArn({
    service: 'cloudwatch',
    resource: 'alarm',
    resourceName: `${prefix}-*`,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
}

/**
 * Item-level actions on the registry. No Scan (fleet questions go through the `byStatus` GSI), no
 * table management. Transactions need no action of their own: TransactWriteItems is authorised by
 * the PutItem/UpdateItem/DeleteItem/ConditionCheckItem of each element.
 */
export const REGISTRY_TABLE_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:BatchGetItem',
  'dynamodb:Query',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:BatchWriteItem',
  'dynamodb:ConditionCheckItem',
  'dynamodb:DescribeTable',
] as const;

/** Read/write on the registry items, and Query on the `byStatus` index only (no `index/*`). */
export function grantRegistryReadWrite(grantee: iam.IGrantable, table: dynamodb.ITable): void {
  grantee.grantPrincipal.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'RegistryItems',
      actions: [...REGISTRY_TABLE_ACTIONS],
      resources: [table.tableArn],
    }),
  );
  grantee.grantPrincipal.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'RegistryStatusIndex',
      actions: ['dynamodb:Query'],
      resources: [statusIndexArn(table)],
    }),
  );
}

/** Read-only on the registry: GetItem and Query on the items, Query on the `byStatus` index. */
export function grantRegistryRead(grantee: iam.IGrantable, table: dynamodb.ITable): void {
  grantee.grantPrincipal.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'ReadRegistry',
      actions: ['dynamodb:GetItem', 'dynamodb:Query'],
      resources: [table.tableArn],
    }),
  );
  grantee.grantPrincipal.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'ReadRegistryStatusIndex',
      actions: ['dynamodb:Query'],
      resources: [statusIndexArn(table)],
    }),
  );
}

/** The ARN of the registry's `byStatus` index (no `index/*`). */
function statusIndexArn(table: dynamodb.ITable): string {
  return `${table.tableArn}/index/${REGISTRY_TABLE_LAYOUT.statusIndex.name}`;
}

/**
 * sns:Publish on the topic, plus the KMS use the encrypted topic needs. `topic.grantPublish` adds
 * `kms:Decrypt` and `kms:GenerateDataKey*` on the topic's key only: the wildcard covers the
 * GenerateDataKey variants SNS may call, as in the SNS SSE docs ("Enable compatibility between
 * event sources from AWS services and encrypted topics").
 */
export function grantPublishNotifications(role: iam.IRole, topic: sns.ITopic): void {
  topic.grantPublish(role);
  acknowledgeWildcardAction(
    role,
    'kms:GenerateDataKey*',
    'Publishing to the KMS-encrypted notification topic needs kms:GenerateDataKey* and kms:Decrypt; the grant is scoped to the single topic key (resource is the key ARN, no wildcard).',
  );
}

/**
 * iam:PassRole on the SageMaker execution role, and only towards SageMaker
 * (`iam:PassedToService`, IAM User Guide "Granting a user permissions to pass a role to an AWS service").
 */
export function grantPassSageMakerRole(grantee: iam.IGrantable, sageMakerRole: iam.IRole): void {
  grantee.grantPrincipal.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'PassSageMakerExecutionRole',
      actions: ['iam:PassRole'],
      resources: [sageMakerRole.roleArn],
      conditions: { StringEquals: { 'iam:PassedToService': 'sagemaker.amazonaws.com' } },
    }),
  );
}
