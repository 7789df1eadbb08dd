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
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type { IConstruct } from 'constructs';
import { REGISTRY_TABLE_LAYOUT } from '../../adapters/dynamodb/table-layout';
import { BUCKET_PREFIXES } from '../../core/domain/naming';
import { acknowledgeWildcardAction, acknowledgeWildcardResource } from './nag';

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

/** Options of {@link grantReadObjects}. */
export interface ReadObjectsOptions {
  /** Also s3:GetObjectVersion, to read a given version of an object (ingest reads the upload's). */
  readonly versions?: boolean;
}

/**
 * s3:GetObject (and s3:GetObjectVersion with `versions`) on objects of the data bucket, in one
 * statement named `sid`. `objects` are object ARNs, usually a prefix (DataBucket.objectsArn);
 * the caller acknowledges each wildcard with its own reason.
 */
export function grantReadObjects(
  grantee: iam.IGrantable,
  sid: string,
  objects: readonly string[],
  options: ReadObjectsOptions = {},
): void {
  grantee.grantPrincipal.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid,
      actions: ['s3:GetObject', ...(options.versions ? ['s3:GetObjectVersion'] : [])],
      resources: [...objects],
    }),
  );
}

/** Options of {@link grantWriteObjects}. */
export interface WriteObjectsOptions {
  /** Also s3:AbortMultipartUpload, for a writer that uploads in parts (lib-storage's Upload). */
  readonly multipart?: boolean;
}

/**
 * s3:PutObject (and s3:AbortMultipartUpload with `multipart`) on objects of the data bucket, in
 * one statement named `sid`. `objects` are object ARNs; the caller acknowledges each wildcard.
 */
export function grantWriteObjects(
  grantee: iam.IGrantable,
  sid: string,
  objects: readonly string[],
  options: WriteObjectsOptions = {},
): void {
  grantee.grantPrincipal.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid,
      actions: ['s3:PutObject', ...(options.multipart ? ['s3:AbortMultipartUpload'] : [])],
      resources: [...objects],
    }),
  );
}

/**
 * Unconditioned s3:ListBucket on the bucket (statement `ListDataBucket`). Without it S3 answers a
 * GetObject of a missing key with 403 instead of 404 (S3 API Reference, GetObject,
 * "Permissions"), which would turn "no such object, use the default" into an error; ingest also
 * lists folder datasets.
 */
export function grantListDataBucket(grantee: iam.IGrantable, bucket: s3.IBucket): void {
  grantee.grantPrincipal.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'ListDataBucket',
      actions: ['s3:ListBucket'],
      resources: [bucket.bucketArn],
    }),
  );
}

/**
 * What a retrain calls besides the registry (core/use-cases/retrain-model.ts): a read of the model
 * config, as ingest reads it (models/, with an unconditioned ListBucket so that a model without a
 * config file is a 404, not a 403); CreateTrainingJob on `<prefix>-` jobs with the AddTags its Tags
 * need (SAR, Amazon SageMaker: CreateTrainingJob, dependent action AddTags); PassRole of the
 * SageMaker role to SageMaker. No read of the prepared channels: their URIs come from the registry,
 * and the training job reads them with the SageMaker role. The operator function (`mlops retrain`)
 * and the alarm-events handler (the `retrain` alarm policy) retrain.
 */
export function grantRetrain(
  role: iam.IRole,
  scope: IConstruct,
  prefix: string,
  bucket: s3.IBucket,
  sageMakerRole: iam.IRole,
): void {
  const configs = bucket.arnForObjects(`${BUCKET_PREFIXES.models}*`);
  const trainingJobs = sageMakerArn(scope, 'training-job', prefix);
  grantReadObjects(role, 'ReadModelConfigs', [configs]);
  grantListDataBucket(role, bucket);
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'StartTrainingJobs',
      actions: ['sagemaker:CreateTrainingJob', 'sagemaker:AddTags'],
      resources: [trainingJobs],
    }),
  );
  grantPassSageMakerRole(role, sageMakerRole);
  acknowledgeWildcardResource(
    role,
    configs,
    'A retrain reads the model config models/<model>/config.json of whichever model it retrains; read-only on the models/ prefix.',
  );
  acknowledgeWildcardResource(
    role,
    trainingJobs,
    'Training job names are generated per model version as <prefix>-<model>-v<n>-<hash> (core/domain/naming.ts), so the grant is the <prefix>- name prefix.',
  );
}

/** The ARN of the registry's `byStatus` index (no `index/*`). */
export function statusIndexArn(table: dynamodb.ITable): string {
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

/**
 * Deployment permissions (core/use-cases/deploy-version.ts through the SageMaker endpoint adapter):
 * CreateModel, CreateEndpointConfig, DescribeEndpoint, CreateEndpoint, UpdateEndpoint (blue/green
 * with the model's alarms as rollback alarms) and DeleteEndpoint (only an endpoint that failed
 * before it ever served), AddTags for the Tags the Create* calls carry, PassRole for CreateModel.
 * Training-events (a version passed gate 2), endpoint-events (the next APPROVED version once the
 * endpoint is free) and the reconciler (a rollout re-applied, and the version after a refused one)
 * deploy.
 */
export function grantDeployment(
  role: iam.IRole,
  scope: IConstruct,
  prefix: string,
  sageMakerRole: iam.IRole,
): void {
  const models = sageMakerArn(scope, 'model', prefix);
  const endpointConfigs = sageMakerArn(scope, 'endpoint-config', prefix);
  const endpoints = sageMakerArn(scope, 'endpoint', prefix);
  const alarms = alarmArn(scope, prefix);
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({ sid: 'CreateModels', actions: ['sagemaker:CreateModel'], resources: [models] }),
  );
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'CreateEndpointConfigs',
      actions: ['sagemaker:CreateEndpointConfig'],
      resources: [endpointConfigs],
    }),
  );
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'DeployEndpoints',
      actions: ['sagemaker:CreateEndpoint', 'sagemaker:UpdateEndpoint'],
      resources: [endpoints, endpointConfigs],
    }),
  );
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'ManageEndpoints',
      actions: ['sagemaker:DescribeEndpoint', 'sagemaker:DeleteEndpoint'],
      resources: [endpoints],
    }),
  );
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'TagDeployments',
      actions: ['sagemaker:AddTags'],
      resources: [models, endpointConfigs, endpoints],
    }),
  );
  // UpdateEndpoint's AutoRollbackConfiguration names the model's alarms; reading them is the
  // permission the SageMaker guardrails docs ask for ("Auto-Rollback Configuration and Monitoring").
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'ReadRollbackAlarms',
      actions: ['cloudwatch:DescribeAlarms'],
      resources: [alarms],
    }),
  );
  grantPassSageMakerRole(role, sageMakerRole);

  acknowledgeWildcardResource(
    role,
    models,
    'SageMaker model names are generated per version (same name as the training job); the grant is limited to the <prefix>- name prefix.',
  );
  acknowledgeWildcardResource(
    role,
    endpointConfigs,
    'Endpoint config names are generated per version (same name as the training job); the grant is limited to the <prefix>- name prefix.',
  );
  acknowledgeWildcardResource(
    role,
    endpoints,
    'One endpoint per model, named <prefix>-<model>; models are created by users at run time, so the grant is the <prefix>- name prefix.',
  );
  acknowledgeWildcardResource(
    role,
    alarms,
    'Model alarms are named <prefix>-<model>-<kind> and created at run time; the grant is limited to the <prefix>- alarm name prefix.',
  );
}
