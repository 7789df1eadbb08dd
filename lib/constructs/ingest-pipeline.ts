/**
 * IngestPipeline: dataset drops -> EventBridge -> SQS -> ingest handler. Where this stands:
 * infrastructure (lib/constructs); the start of the flow drawn in the README, "Architecture".
 *
 * The queue absorbs bursts: thousands of uploads become queued messages that the ingest function
 * drains at most `maxConcurrency` at a time (SQS event source "maximum concurrency"), so SageMaker
 * never receives more CreateTrainingJob calls than that in parallel. A message that fails five
 * times goes to the dead-letter queue; partial batch failures only retry the failed records.
 */
import { Duration } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { BUCKET_PREFIXES, reportKeys } from '../../core/domain/naming';
import { HANDLER_ENTRIES } from '../paths';
import { acknowledgeWildcardResource } from '../private/nag';
import { createDeadLetterQueue } from '../private/queues';
import { validateInteger } from '../private/validation';
import {
  grantListDataBucket,
  grantPassSageMakerRole,
  grantPublishNotifications,
  grantReadObjects,
  grantRegistryReadWrite,
  grantWriteObjects,
  sageMakerArn,
} from '../private/permissions';
import type { DataBucket } from './data-bucket';
import { MlopsFunction, type PowertoolsLogLevel } from './mlops-function';

/** Lambda allows an SQS event source maximum concurrency of 2 to 1000 (Lambda API, ScalingConfig). */
export const MAX_CONCURRENCY_RANGE = { min: 2, max: 1000 } as const;
/** Ingest timeout: profiling, splitting and writing a dataset take minutes, not seconds. */
export const INGEST_TIMEOUT = Duration.minutes(5);
/** Receives before a message goes to the dead-letter queue. */
export const INGEST_MAX_RECEIVE_COUNT = 5;

/** What ingest reads, writes and calls, and how much of it runs at once. */
export interface IngestPipelineProps {
  readonly data: DataBucket;
  readonly table: dynamodb.ITable;
  readonly topic: sns.ITopic;
  readonly sageMakerRole: iam.IRole;
  /** The stack's resource prefix; training jobs are named `<prefix>-...`. */
  readonly resourcePrefix: string;
  /** Handler environment (the ENV names of lambdas/shared/environment.ts). */
  readonly environment: Readonly<Record<string, string>>;
  /**
   * Most ingest invocations running at once (SQS event source maximum concurrency, 2 to 1000).
   * @default 5
   */
  readonly maxConcurrency?: number;
  /**
   * Messages per invocation (1 to 10). Each message is one dataset: keep it small.
   * @default 1
   */
  readonly batchSize?: number;
  /**
   * Retention of the ingest log group.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Powertools log level.
   * @default 'INFO'
   */
  readonly logLevel?: PowertoolsLogLevel;
}

/** The S3 rule, the queue and its DLQ, and the ingest function. */
export class IngestPipeline extends Construct {
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  readonly rule: events.Rule;
  readonly handler: MlopsFunction;

  constructor(scope: Construct, id: string, props: IngestPipelineProps) {
    super(scope, id);
    const maxConcurrency = props.maxConcurrency ?? 5;
    const batchSize = props.batchSize ?? 1;
    validateInteger('maxConcurrency', maxConcurrency, MAX_CONCURRENCY_RANGE.min, MAX_CONCURRENCY_RANGE.max);
    validateInteger('batchSize', batchSize, 1, 10);

    this.deadLetterQueue = createDeadLetterQueue(this);
    // Lambda recommends a visibility timeout of at least six times the function timeout
    // (Lambda Developer Guide, "Using Lambda with Amazon SQS": configuring a queue).
    this.queue = new sqs.Queue(this, 'Queue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(INGEST_TIMEOUT.toSeconds() * 6),
      retentionPeriod: Duration.days(4),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: INGEST_MAX_RECEIVE_COUNT },
    });

    // "Object Created" events for datasets/ only (EventBridge content filtering, prefix matching).
    this.rule = new events.Rule(this, 'DatasetCreatedRule', {
      description: 'Dataset objects created under datasets/ in the data bucket',
      eventPattern: {
        source: ['aws.s3'],
        detailType: ['Object Created'],
        detail: {
          bucket: { name: [props.data.bucket.bucketName] },
          object: { key: [{ prefix: BUCKET_PREFIXES.datasets }] },
        },
      },
    });
    // An event EventBridge cannot deliver lands in the same DLQ as a message that failed five
    // times: both are the original S3 event, replayable the same way.
    this.rule.addTarget(
      new targets.SqsQueue(this.queue, {
        deadLetterQueue: this.deadLetterQueue,
        retryAttempts: 8,
        maxEventAge: Duration.hours(6),
      }),
    );

    this.handler = new MlopsFunction(this, 'Handler', {
      entry: HANDLER_ENTRIES.ingest,
      serviceName: 'ingest',
      description: 'Validates a dropped dataset, prepares its channels and starts training',
      memorySize: 1024,
      timeout: INGEST_TIMEOUT,
      environment: props.environment,
      ...(props.logRetention ? { logRetention: props.logRetention } : {}),
      ...(props.logLevel ? { logLevel: props.logLevel } : {}),
    });
    this.handler.function.addEventSource(
      new SqsEventSource(this.queue, { batchSize, reportBatchItemFailures: true, maxConcurrency }),
    );

    this.grantPermissions(props);
  }

  private grantPermissions(props: IngestPipelineProps): void {
    const role = this.handler.role;
    const data = props.data;
    const datasets = data.objectsArn(BUCKET_PREFIXES.datasets);
    const models = data.objectsArn(BUCKET_PREFIXES.models);
    const prepared = data.objectsArn(BUCKET_PREFIXES.prepared);
    // The data-quality gate's reports, reports/<model>/<dataset>/<file> (core/domain/naming.ts,
    // reportKeys): only these three file names, never the monitor's drift.json.
    const reportFiles = reportKeys('*', '*');
    const reports = {
      statistics: data.bucket.arnForObjects(reportFiles.statistics),
      constraints: data.bucket.arnForObjects(reportFiles.constraints),
      violations: data.bucket.arnForObjects(reportFiles.violations),
    };

    grantReadObjects(role, 'ReadDatasetsAndConfigs', [datasets, models], { versions: true });
    // Unconditioned ListBucket: folder datasets are listed, and a missing
    // models/<model>/config.json must be a 404 ("no config, use defaults"), not a 403.
    grantListDataBucket(role, data.bucket);
    grantWriteObjects(role, 'WritePreparedChannels', [prepared], { multipart: true });

    // The data-quality gate (core/use-cases/data-quality-gate.ts) reads the baseline's statistics
    // and constraints, and writes the dataset's statistics, suggested constraints and violations.
    grantReadObjects(role, 'ReadDataQualityBaselines', [reports.statistics, reports.constraints]);
    grantWriteObjects(role, 'WriteDataQualityReports', [
      reports.statistics,
      reports.constraints,
      reports.violations,
    ]);

    grantRegistryReadWrite(role, props.table);
    const trainingJobs = sageMakerArn(this, 'training-job', props.resourcePrefix);
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'StartTrainingJobs',
        actions: ['sagemaker:CreateTrainingJob', 'sagemaker:DescribeTrainingJob', 'sagemaker:AddTags'],
        resources: [trainingJobs],
      }),
    );
    grantPassSageMakerRole(role, props.sageMakerRole);
    grantPublishNotifications(role, props.topic);

    acknowledgeWildcardResource(
      role,
      datasets,
      'Ingest reads whichever dataset was dropped under datasets/<model>/...; keys are user-chosen, so the grant is the datasets/ prefix, read-only.',
    );
    acknowledgeWildcardResource(
      role,
      models,
      'Ingest reads the model config models/<model>/config.json for any model; read-only on the models/ prefix.',
    );
    acknowledgeWildcardResource(
      role,
      prepared,
      'Ingest writes the prepared train/validation channels under prepared/<model>/<dataset>/; write is limited to the prepared/ prefix.',
    );
    acknowledgeWildcardResource(
      role,
      reports.statistics,
      "The data-quality gate writes each dataset's statistics.json under reports/<model>/<dataset>/ and reads the baseline dataset's; model and dataset ids are chosen at run time, so only the file name is fixed.",
    );
    acknowledgeWildcardResource(
      role,
      reports.constraints,
      "The data-quality gate writes each dataset's suggested constraints.json under reports/<model>/<dataset>/ and reads the baseline dataset's; only the file name is fixed.",
    );
    acknowledgeWildcardResource(
      role,
      reports.violations,
      'The data-quality gate writes constraint_violations.json of a dataset checked against a baseline under reports/<model>/<dataset>/; write-only, only the file name is fixed.',
    );
    acknowledgeWildcardResource(
      role,
      trainingJobs,
      'Training job names are generated per model version as <prefix>-<model>-v<n>-<hash> (core/domain/naming.ts), so the grant is the <prefix>- name prefix.',
    );
  }
}
