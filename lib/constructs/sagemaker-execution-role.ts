/**
 * SageMakerExecutionRole: the role SageMaker assumes for training jobs and for the models behind
 * endpoints (hosting and data capture use the model's execution role). Where this stands:
 * infrastructure (lib/constructs); the handlers pass it (iam:PassRole, to SageMaker only) in
 * CreateTrainingJob and CreateModel.
 *
 * It can read the prepared channels, write and read artifacts, write data capture, pull the
 * training/inference image, write its logs under /aws/sagemaker/ and its metrics in the SageMaker
 * namespaces, and read the product's alarms (deployment guardrails). Nothing more.
 */
import { ArnFormat, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { BUCKET_PREFIXES } from '../../core/domain/naming';
import { acknowledge, acknowledgeWildcardResource } from '../private/nag';
import { alarmArn } from '../private/permissions';
import type { DataBucket } from './data-bucket';

/** Pattern of an ECR repository ARN accepted in `extraImageRepositoryArns`. */
export const ECR_REPOSITORY_ARN_PATTERN =
  /^arn:aws[a-z-]*:ecr:[a-z0-9-]+:\d{12}:repository\/[a-z0-9][a-z0-9._/-]*$/;

/** CloudWatch namespaces SageMaker jobs and endpoints publish to. */
export const SAGEMAKER_METRIC_NAMESPACES = [
  '/aws/sagemaker/TrainingJobs',
  '/aws/sagemaker/Endpoints',
] as const;

/** What SageMaker jobs and models may read: the data bucket, alarms and image repositories. */
export interface SageMakerExecutionRoleProps {
  readonly data: DataBucket;
  /** The stack's resource prefix (alarms the guardrails read are `<prefix>-*`). */
  readonly resourcePrefix: string;
  /**
   * ECR repositories of custom training/serving images (algorithm `image` or `script` in a
   * model config), as full ARNs `arn:aws:ecr:<region>:<account>:repository/<name>` (no wildcards).
   * @default - only the AWS-owned built-in XGBoost repositories
   */
  readonly extraImageRepositoryArns?: readonly string[];
}

/** The execution role of SageMaker training jobs and models. */
export class SageMakerExecutionRole extends Construct {
  readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: SageMakerExecutionRoleProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const extraRepos = props.extraImageRepositoryArns ?? [];
    for (const arn of extraRepos) {
      if (!ECR_REPOSITORY_ARN_PATTERN.test(arn)) {
        throw new Error(
          `extraImageRepositoryArns: "${arn}" is not an ECR repository ARN (arn:aws:ecr:<region>:<12-digit account>:repository/<name>)`,
        );
      }
    }

    // Confused-deputy protection: only SageMaker acting for this account may assume the role
    // (SageMaker Developer Guide, "Cross-service confused deputy prevention").
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com').withConditions({
        StringEquals: { 'aws:SourceAccount': stack.account },
      }),
      description: 'Execution role of the MLOps SageMaker training jobs and models',
    });
    const bucket = props.data.bucket;
    const prepared = props.data.objectsArn(BUCKET_PREFIXES.prepared);
    const artifacts = props.data.objectsArn(BUCKET_PREFIXES.artifacts);
    const capture = props.data.objectsArn(BUCKET_PREFIXES.capture);

    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ReadPreparedChannels',
        actions: ['s3:GetObject'],
        resources: [prepared],
      }),
    );
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ListPreparedAndArtifacts',
        actions: ['s3:ListBucket'],
        resources: [bucket.bucketArn],
        conditions: {
          StringLike: { 's3:prefix': [`${BUCKET_PREFIXES.prepared}*`, `${BUCKET_PREFIXES.artifacts}*`] },
        },
      }),
    );
    // Training writes model.tar.gz; hosting reads it back (CreateModel's ModelDataUrl).
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'WriteAndReadArtifacts',
        actions: ['s3:PutObject', 's3:GetObject'],
        resources: [artifacts],
      }),
    );
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({ sid: 'WriteDataCapture', actions: ['s3:PutObject'], resources: [capture] }),
    );
    // Script mode: the framework container downloads sourcedir.tar.gz, which must live under
    // models/<model>/code/ (checked by ingest), and nowhere else.
    const scriptSources = props.data.objectsArn(`${BUCKET_PREFIXES.models}*/code/`);
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ReadScriptSources',
        actions: ['s3:GetObject'],
        resources: [scriptSources],
      }),
    );

    // The built-in XGBoost image lives in an AWS-owned account that differs per region
    // (core/domain/algorithm-images.ts), hence the account wildcard on a fixed repository name.
    const xgboostRepo = stack.formatArn({
      service: 'ecr',
      account: '*',
      resource: 'repository',
      resourceName: 'sagemaker-xgboost',
    });
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'PullAlgorithmImages',
        actions: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability'],
        resources: [xgboostRepo, ...extraRepos],
      }),
    );
    // ecr:GetAuthorizationToken has no resource type (Service Authorization Reference, Amazon
    // ECR): it only returns a registry login token; pulls stay limited by the statement above.
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({ sid: 'EcrLogin', actions: ['ecr:GetAuthorizationToken'], resources: ['*'] }),
    );

    const sageMakerLogs = stack.formatArn({
      service: 'logs',
      resource: 'log-group',
      resourceName: '/aws/sagemaker/*',
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'SageMakerLogs',
        actions: [
          'logs:CreateLogGroup',
          'logs:CreateLogStream',
          'logs:PutLogEvents',
          'logs:DescribeLogStreams',
        ],
        resources: [sageMakerLogs],
      }),
    );
    // cloudwatch:PutMetricData has no resource type; the namespace condition key is the only way
    // to scope it (CloudWatch User Guide, "Using condition keys to limit access to CloudWatch namespaces").
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'SageMakerMetrics',
        actions: ['cloudwatch:PutMetricData'],
        resources: ['*'],
        conditions: { StringEquals: { 'cloudwatch:namespace': [...SAGEMAKER_METRIC_NAMESPACES] } },
      }),
    );
    // Deployment guardrails: "Ensure that your IAM execution role has permission to perform the
    // cloudwatch:DescribeAlarms action on the auto-rollback alarms you specify" (SageMaker
    // Developer Guide, "Auto-Rollback Configuration and Monitoring").
    const alarms = alarmArn(this, props.resourcePrefix);
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ReadRollbackAlarms',
        actions: ['cloudwatch:DescribeAlarms'],
        resources: [alarms],
      }),
    );

    acknowledgeWildcardResource(
      this.role,
      prepared,
      'Training reads every prepared channel under prepared/<model>/<dataset>/; the object keys are generated per dataset, so the grant is the prepared/ prefix and only s3:GetObject.',
    );
    acknowledgeWildcardResource(
      this.role,
      artifacts,
      'Training writes model.tar.gz under artifacts/<model>/<job>/ and hosting reads it back; job names are generated per version, so the grant is the artifacts/ prefix.',
    );
    acknowledgeWildcardResource(
      this.role,
      scriptSources,
      'Script-mode training downloads the sourcedir.tar.gz a data scientist keeps under models/<model>/code/; model names are chosen per model, so the grant is models/*/code/* and only s3:GetObject.',
    );
    acknowledgeWildcardResource(
      this.role,
      capture,
      'Endpoint data capture writes under capture/<model>/ with time-partitioned keys chosen by SageMaker; only s3:PutObject on the capture/ prefix.',
    );
    acknowledgeWildcardResource(
      this.role,
      xgboostRepo,
      'The built-in SageMaker XGBoost repository is owned by a different AWS account in every region; the repository name is fixed and only pull actions are granted.',
    );
    acknowledgeWildcardResource(
      this.role,
      sageMakerLogs,
      'SageMaker writes to the log groups /aws/sagemaker/TrainingJobs and /aws/sagemaker/Endpoints/<endpoint> with streams named per job/instance; the grant is limited to /aws/sagemaker/.',
    );
    acknowledgeWildcardResource(
      this.role,
      alarms,
      'Auto-rollback alarms are created per model as <prefix>-<model>-*; only the read-only cloudwatch:DescribeAlarms is granted on them.',
    );
    acknowledge(
      this.role,
      'AwsSolutions-IAM5[Resource::*]',
      'Only ecr:GetAuthorizationToken and cloudwatch:PutMetricData use "*": neither supports resource-level permissions; PutMetricData is limited by the cloudwatch:namespace condition to the two SageMaker namespaces.',
    );
  }
}
