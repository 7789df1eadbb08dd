/**
 * Reconciler: repairs lost events on a schedule. Where this stands: infrastructure
 * (lib/constructs); an EventBridge schedule runs lambdas/reconciler/handler.ts, which finds what a
 * lost event left behind (core/use-cases/reconcile.ts) and re-delivers the event to the handler
 * that would have acted on it.
 *
 *   EventBridge rule rate(15 minutes) --> reconciler function
 *     lost upload          --(sqs:SendMessage, the S3 event EventBridge would have queued)--> ingest queue
 *     lost training event  --(lambda:InvokeFunction, asynchronous)--> training-events function
 *     lost endpoint event  --(lambda:InvokeFunction, asynchronous)--> endpoint-events function
 *     rollout never requested --(DescribeEndpoint, Create/UpdateEndpoint)--> the model's endpoint
 *
 * As in DriftMonitor, both hops can fail: the target retries delivery and then dead-letters the
 * event, and a failed run leaves an on-failure record in the same queue (the wiring all three
 * share: lib/private/rule-function.ts, createRuleFunction). A failed run is not retried by Lambda:
 * the next scheduled run does the same work.
 *
 * Least privilege. Re-delivering instead of repairing in place keeps the repair's permissions with
 * the handlers that already have them: no CreateTrainingJob, no PutMetricAlarm. The reconciler
 * itself reads the registry (the status index), lists object versions under `datasets/` only,
 * reads DescribeTrainingJob and DescribeEndpoint to re-deliver only events that were really lost,
 * and reads and writes one object, its cursor. The one repair it does in place (a DEPLOYING
 * version whose create/update call never succeeded) runs DeployVersion; when SageMaker refuses
 * that rollout for good, DeployVersion ends the version DEPLOY_FAILED and rolls out the approved
 * version waiting behind it (core/use-cases/deploy-version.ts: failed -> deployNextApproved),
 * creating its model and endpoint config. So the reconciler has the deployment grants of the
 * handlers that deploy (lib/private/permissions.ts, grantDeployment), the registry and the topic.
 * test/contracts/iam-contract.test.ts runs every one of these repairs through the real handler
 * against this role.
 */
import { Duration } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { BUCKET_PREFIXES } from '../../core/domain/naming';
import { RECONCILER_CURSOR_KEY } from '../../core/domain/reconciliation';
import { RECONCILER_ENV } from '../../lambdas/reconciler/settings';
import { HANDLER_ENTRIES } from '../paths';
import { acknowledgeWildcardResource } from '../private/nag';
import {
  grantDeployment,
  grantListDataBucket,
  grantPublishNotifications,
  grantRegistryReadWrite,
  sageMakerArn,
} from '../private/permissions';
import { createRuleFunction } from '../private/rule-function';
import type { DataBucket } from './data-bucket';
import type { MlopsFunction, PowertoolsLogLevel } from './mlops-function';

/** How often the reconciler runs by default. */
export const DEFAULT_RECONCILE_INTERVAL = Duration.minutes(15);

/** What the reconciler reads, where it re-delivers lost events, and how often it runs. */
export interface ReconcilerProps {
  readonly data: DataBucket;
  /**
   * The SageMaker execution role: a re-applied rollout that is refused rolls out the next approved
   * version, whose CreateModel passes this role.
   */
  readonly sageMakerRole: iam.IRole;
  readonly table: dynamodb.ITable;
  readonly topic: sns.ITopic;
  /** The stack's resource prefix: SageMaker and alarm grants are limited to `<prefix>-*`. */
  readonly resourcePrefix: string;
  /** Handler environment (lambdas/shared/environment.ts); the re-delivery targets are added. */
  readonly environment: Readonly<Record<string, string>>;
  /** Where lost uploads are re-delivered. */
  readonly ingestQueue: sqs.IQueue;
  /** Where lost training job events are re-delivered. */
  readonly trainingEventsFunction: lambda.IFunction;
  /** Where lost endpoint events are re-delivered. */
  readonly endpointEventsFunction: lambda.IFunction;
  /**
   * Time between two runs (1 to 45 minutes, whole minutes): a lost event is repaired within about
   * this plus 15 minutes (the use case's staleness threshold).
   * @default Duration.minutes(15)
   */
  readonly interval?: Duration;
  /**
   * Run on the schedule (off: only on-demand invocations with `{}`).
   * @default true
   */
  readonly scheduleEnabled?: boolean;
  /**
   * Function timeout: a run lists up to 10 000 keys and re-delivers up to 100 uploads and 100 versions.
   * @default Duration.minutes(5)
   */
  readonly timeout?: Duration;
  /**
   * Retention of the log group.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Powertools log level.
   * @default 'INFO'
   */
  readonly logLevel?: PowertoolsLogLevel;
}

/** The scheduled reconciler: rule, function and dead-letter queue. */
export class Reconciler extends Construct {
  /** The schedule, its only target the function. */
  readonly rule: events.Rule;
  /** The reconciler function. */
  readonly handler: MlopsFunction;
  /** What the schedule could not deliver and the on-failure records of failed runs. */
  readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: ReconcilerProps) {
    super(scope, id);
    const interval = props.interval ?? DEFAULT_RECONCILE_INTERVAL;
    const minutes = interval.toSeconds() / 60;
    if (!Number.isInteger(minutes) || minutes < 1 || minutes > 45) {
      throw new Error(
        `interval must be a whole number of minutes between 1 and 45, got ${interval.toSeconds()} seconds`,
      );
    }
    const timeout = props.timeout ?? Duration.minutes(5);
    if (timeout.toSeconds() < 30 || timeout.toSeconds() > 900) {
      throw new Error(
        `timeout must be between 30 seconds and 15 minutes, got ${timeout.toSeconds()} seconds`,
      );
    }

    const wired = createRuleFunction(this, {
      ruleId: 'Schedule',
      rule: {
        description: `Runs the reconciler every ${minutes} minutes`,
        schedule: events.Schedule.rate(interval),
        enabled: props.scheduleEnabled ?? true,
      },
      function: {
        entry: HANDLER_ENTRIES.reconciler,
        serviceName: 'reconciler',
        description: 'Repairs lost events: stuck versions and uploads ingest never saw',
        memorySize: 512,
        timeout,
        environment: {
          ...props.environment,
          [RECONCILER_ENV.ingestQueueUrl]: props.ingestQueue.queueUrl,
          [RECONCILER_ENV.trainingEventsFunction]: props.trainingEventsFunction.functionArn,
          [RECONCILER_ENV.endpointEventsFunction]: props.endpointEventsFunction.functionArn,
        },
        ...(props.logRetention ? { logRetention: props.logRetention } : {}),
        ...(props.logLevel ? { logLevel: props.logLevel } : {}),
      },
      // A failed run is not retried: the next scheduled run does the same work.
      functionRetryAttempts: 0,
      deliveryRetryAttempts: 4,
      // Later than the next run it is pointless.
      maxEventAge: interval,
      deadLetterQueueOf: 'the reconciler',
    });
    this.rule = wired.rule;
    this.handler = wired.handler;
    this.deadLetterQueue = wired.deadLetterQueue;

    this.grantPermissions(props);
  }

  private grantPermissions(props: ReconcilerProps): void {
    const role = this.handler.role;
    const bucket = props.data.bucket;
    const cursor = bucket.arnForObjects(RECONCILER_CURSOR_KEY);
    const trainingJobs = sageMakerArn(this, 'training-job', props.resourcePrefix);

    // The dataset scan: the latest version of each key under datasets/ (ingest's id uses it).
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ListDatasetVersions',
        actions: ['s3:ListBucketVersions'],
        resources: [bucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': [`${BUCKET_PREFIXES.datasets}*`] } },
      }),
    );
    // Unconditioned ListBucket: without it a missing cursor is a 403, not a 404.
    grantListDataBucket(role, bucket);
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ScanCursor',
        actions: ['s3:GetObject', 's3:PutObject'],
        resources: [cursor],
      }),
    );
    // Re-delivery.
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'RedeliverUploads',
        actions: ['sqs:SendMessage'],
        resources: [props.ingestQueue.queueArn],
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'RedeliverSageMakerEvents',
        actions: ['lambda:InvokeFunction'],
        resources: [props.trainingEventsFunction.functionArn, props.endpointEventsFunction.functionArn],
      }),
    );
    // Only events that were lost are re-delivered: read the job's and the endpoint's state first.
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ReadTrainingJobs',
        actions: ['sagemaker:DescribeTrainingJob'],
        resources: [trainingJobs],
      }),
    );
    // Re-applying a rollout that was never requested (DeployVersion on a DEPLOYING version), and
    // rolling out the approved version waiting behind one that is refused for good
    // (DeployVersion.failed -> deployNextApproved): the deployment grants of the handlers that deploy.
    grantDeployment(role, this, props.resourcePrefix, props.sageMakerRole);
    grantRegistryReadWrite(role, props.table);
    grantPublishNotifications(role, props.topic);

    acknowledgeWildcardResource(
      role,
      trainingJobs,
      'Training job names are generated per model version (<prefix>-<model>-v<n>-<hash>); read-only DescribeTrainingJob on the <prefix>- name prefix, to re-deliver only the events of jobs that ended.',
    );
  }
}
