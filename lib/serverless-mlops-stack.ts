/**
 * ServerlessMlopsStack: the whole control plane in one stack. Where this stands: infrastructure
 * (lib/); bin/app.ts instantiates it. It composes one construct per concern and wires them with
 * the handler environment of lambdas/shared/environment.ts.
 *
 *   DataBucket --(EventBridge, SQS)--> IngestPipeline --> SageMaker training
 *   SageMaker / CloudWatch --(EventBridge)--> training-, endpoint-, alarm-events handlers
 *   EventBridge schedule (hourly) --> DriftMonitor --(EMF)--> drift metrics the model alarms watch
 *   mlops CLI --(lambda:InvokeFunction)--> OperatorHandler: approve, reject, rollback, retrain
 *   RegistryTable, Notifications and SageMakerExecutionRole are shared by the handlers;
 *   OperatorAccess holds the read-only and operator policies an infra team grants the CLI's users.
 *
 * Nothing runs while idle: on-demand DynamoDB, Lambda, SQS, EventBridge and S3 only.
 */
import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { ENV } from '../lambdas/shared/environment';
import { DataBucket } from './constructs/data-bucket';
import { DriftMonitor } from './constructs/drift-monitor';
import { IngestPipeline, MAX_CONCURRENCY_RANGE } from './constructs/ingest-pipeline';
import {
  AlarmEventsHandler,
  EndpointEventsHandler,
  TrainingEventsHandler,
} from './constructs/lifecycle-handlers';
import type { PowertoolsLogLevel } from './constructs/mlops-function';
import { Notifications } from './constructs/notifications';
import { OperationalAlarms, type WatchedHandler } from './constructs/operational-alarms';
import { OperatorAccess } from './constructs/operator-access';
import { OperatorHandler } from './constructs/operator-handler';
import { Reconciler } from './constructs/reconciler';
import { RegistryTable } from './constructs/registry-table';
import { SageMakerExecutionRole } from './constructs/sagemaker-execution-role';
import { validateDefaultModelConfig, validateInteger, validateResourcePrefix } from './private/validation';

/** The prefix used when none is given. */
export const DEFAULT_RESOURCE_PREFIX = 'mlops';
/** Ingest concurrency used when none is given. */
export const DEFAULT_INGEST_MAX_CONCURRENCY = 5;

/**
 * The control plane's settings: resource prefix, default model config, ingest concurrency and batch
 * size, data retention and removal, log settings and extra image repositories.
 */
export interface ServerlessMlopsStackProps extends StackProps {
  /**
   * Prefix of every AWS name the control plane derives (training jobs, models, endpoints,
   * alarms): 1-8 lowercase letters, digits or single hyphens, starting with a letter
   * (RESOURCE_PREFIX_PATTERN in core/domain/naming.ts). Event rules and IAM are scoped to it.
   * @default 'mlops'
   */
  readonly resourcePrefix?: string;
  /**
   * Defaults merged under every model's `models/<model>/config.json`, as JSON text or an object.
   * Validated against the model config schema at synth time.
   * @default - none: the schema's own defaults apply
   */
  readonly defaultModelConfig?: string | Readonly<Record<string, unknown>>;
  /**
   * Most ingest invocations at once (SQS event source maximum concurrency, 2 to 1000). Bounds how
   * many training jobs a burst of uploads can start in parallel.
   * @default 5
   */
  readonly ingestMaxConcurrency?: number;
  /**
   * Datasets per ingest invocation (1 to 10).
   * @default 1
   */
  readonly ingestBatchSize?: number;
  /**
   * Retention of the handlers' log groups.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Powertools log level of the handlers.
   * @default 'INFO'
   */
  readonly logLevel?: PowertoolsLogLevel;
  /**
   * Removal policy of the stateful resources: data and access-log buckets, registry table
   * (RETAIN also turns on its deletion protection).
   * @default RemovalPolicy.RETAIN
   */
  readonly dataRemovalPolicy?: RemovalPolicy;
  /**
   * How long overwritten or deleted object versions are kept in the data bucket.
   * @default Duration.days(90)
   */
  readonly noncurrentVersionRetention?: Duration;
  /**
   * ECR repositories of custom training/serving images the SageMaker role may pull from.
   * @default - only the built-in XGBoost repositories
   */
  readonly extraImageRepositoryArns?: readonly string[];
}

/** The serverless MLOps control plane. */
export class ServerlessMlopsStack extends Stack {
  readonly resourcePrefix: string;
  readonly data: DataBucket;
  readonly registry: RegistryTable;
  readonly notifications: Notifications;
  readonly sageMakerRole: SageMakerExecutionRole;
  readonly ingest: IngestPipeline;
  readonly trainingEvents: TrainingEventsHandler;
  readonly endpointEvents: EndpointEventsHandler;
  readonly alarmEvents: AlarmEventsHandler;
  readonly driftMonitor: DriftMonitor;
  readonly reconciler: Reconciler;
  readonly operator: OperatorHandler;
  readonly operatorAccess: OperatorAccess;
  readonly operationalAlarms: OperationalAlarms;

  constructor(scope: Construct, id: string, props: ServerlessMlopsStackProps = {}) {
    super(scope, id, {
      description:
        'Serverless MLOps control plane: datasets in S3 -> SageMaker training -> guarded deployment -> alarms',
      ...props,
    });
    const prefix = validateResourcePrefix(props.resourcePrefix ?? DEFAULT_RESOURCE_PREFIX);
    const maxConcurrency = validateInteger(
      'ingestMaxConcurrency',
      props.ingestMaxConcurrency ?? DEFAULT_INGEST_MAX_CONCURRENCY,
      MAX_CONCURRENCY_RANGE.min,
      MAX_CONCURRENCY_RANGE.max,
    );
    const batchSize = validateInteger('ingestBatchSize', props.ingestBatchSize ?? 1, 1, 10);
    const defaultModelConfig =
      props.defaultModelConfig === undefined
        ? undefined
        : validateDefaultModelConfig(props.defaultModelConfig);
    this.resourcePrefix = prefix;
    const logOptions = {
      ...(props.logRetention ? { logRetention: props.logRetention } : {}),
      ...(props.logLevel ? { logLevel: props.logLevel } : {}),
    };

    this.data = new DataBucket(this, 'Data', {
      removalPolicy: props.dataRemovalPolicy ?? RemovalPolicy.RETAIN,
      ...(props.noncurrentVersionRetention
        ? { noncurrentVersionRetention: props.noncurrentVersionRetention }
        : {}),
    });
    this.registry = new RegistryTable(this, 'Registry', {
      removalPolicy: props.dataRemovalPolicy ?? RemovalPolicy.RETAIN,
    });
    // allowAlarmActions: the operational alarms below publish to the topic themselves.
    this.notifications = new Notifications(this, 'Notifications', {
      resourcePrefix: prefix,
      allowAlarmActions: true,
    });
    this.sageMakerRole = new SageMakerExecutionRole(this, 'SageMakerExecutionRole', {
      data: this.data,
      resourcePrefix: prefix,
      ...(props.extraImageRepositoryArns ? { extraImageRepositoryArns: props.extraImageRepositoryArns } : {}),
    });

    // Exactly the variables lambdas/shared/environment.ts reads.
    const environment: Record<string, string> = {
      [ENV.dataBucket]: this.data.bucket.bucketName,
      [ENV.registryTable]: this.registry.table.tableName,
      [ENV.resourcePrefix]: prefix,
      [ENV.sageMakerRoleArn]: this.sageMakerRole.role.roleArn,
      [ENV.notificationTopicArn]: this.notifications.topic.topicArn,
      ...(defaultModelConfig !== undefined ? { [ENV.defaultModelConfig]: defaultModelConfig } : {}),
    };
    const shared = {
      table: this.registry.table,
      topic: this.notifications.topic,
      resourcePrefix: prefix,
      environment,
      ...logOptions,
    };

    this.ingest = new IngestPipeline(this, 'Ingest', {
      ...shared,
      data: this.data,
      sageMakerRole: this.sageMakerRole.role,
      maxConcurrency,
      batchSize,
    });
    this.trainingEvents = new TrainingEventsHandler(this, 'TrainingEvents', {
      ...shared,
      sageMakerRole: this.sageMakerRole.role,
    });
    this.endpointEvents = new EndpointEventsHandler(this, 'EndpointEvents', {
      ...shared,
      sageMakerRole: this.sageMakerRole.role,
    });
    // The alarm policies roll back and retrain: it deploys, and reads configs and drift reports.
    this.alarmEvents = new AlarmEventsHandler(this, 'AlarmEvents', {
      ...shared,
      data: this.data,
      sageMakerRole: this.sageMakerRole.role,
    });
    this.driftMonitor = new DriftMonitor(this, 'DriftMonitor', {
      data: this.data,
      table: this.registry.table,
      environment,
      ...logOptions,
    });

    // Lost events: re-delivered to the handlers above every 15 minutes.
    this.reconciler = new Reconciler(this, 'Reconciler', {
      ...shared,
      data: this.data,
      sageMakerRole: this.sageMakerRole.role,
      ingestQueue: this.ingest.queue,
      trainingEventsFunction: this.trainingEvents.handler.function,
      endpointEventsFunction: this.endpointEvents.handler.function,
    });

    // Operators' commands (approve, reject, rollback, retrain) run here, with the stack's grants.
    this.operator = new OperatorHandler(this, 'Operator', {
      ...shared,
      data: this.data,
      sageMakerRole: this.sageMakerRole.role,
    });

    // The stack's own alarms (lib/constructs/operational-alarms.ts): every handler's function and
    // dead-letter queue, and the ingest backlog. A new handler construct is one more line here.
    const watched: [string, WatchedHandler][] = [
      ['ingest', this.ingest],
      ['training-events', this.trainingEvents],
      ['endpoint-events', this.endpointEvents],
      ['alarm-events', this.alarmEvents],
      ['drift-monitor', this.driftMonitor],
      ['reconciler', this.reconciler],
    ];
    this.operationalAlarms = new OperationalAlarms(this, 'OperationalAlarms', {
      topic: this.notifications.topic,
      resourcePrefix: prefix,
      deadLetterQueues: watched.map(([name, w]) => ({ name, queue: w.deadLetterQueue })),
      // The operator function has no dead-letter queue (people invoke it and read its answer),
      // but its errors (a command that threw) and throttles are alarmed like the others'.
      functions: [
        ...watched.map(([name, w]) => ({ name, function: w.handler.function })),
        { name: 'operator', function: this.operator.handler.function },
      ],
      queueAges: [{ name: 'ingest-queue', queue: this.ingest.queue }],
    });

    // What the mlops CLI's users are granted: the dead-letter queues it shows are those with an
    // output below, and the handlers an EventBridge rule invokes get their dead letters back.
    this.operatorAccess = new OperatorAccess(this, 'OperatorAccess', {
      data: this.data,
      table: this.registry.table,
      resourcePrefix: prefix,
      operatorFunction: this.operator.handler.function,
      deadLetterQueues: [
        this.ingest.deadLetterQueue,
        this.trainingEvents.deadLetterQueue,
        this.endpointEvents.deadLetterQueue,
        this.alarmEvents.deadLetterQueue,
        this.driftMonitor.deadLetterQueue,
      ],
      redriveFunctions: [
        this.trainingEvents.handler.function,
        this.endpointEvents.handler.function,
        this.alarmEvents.handler.function,
        this.driftMonitor.handler.function,
      ],
      ingest: { queue: this.ingest.queue, deadLetterQueue: this.ingest.deadLetterQueue },
    });

    new CfnOutput(this, 'DataBucketName', {
      value: this.data.bucket.bucketName,
      description: 'Drop datasets under datasets/<model>/ here',
    });
    new CfnOutput(this, 'RegistryTableName', {
      value: this.registry.table.tableName,
      description: 'Model registry table',
    });
    new CfnOutput(this, 'NotificationTopicArn', {
      value: this.notifications.topic.topicArn,
      description: 'Subscribe to incidents, rejections and approvals',
    });
    new CfnOutput(this, 'SageMakerRoleArn', {
      value: this.sageMakerRole.role.roleArn,
      description: 'Execution role of training jobs and models',
    });
    new CfnOutput(this, 'IngestDeadLetterQueueUrl', {
      value: this.ingest.deadLetterQueue.queueUrl,
      description: 'Dataset events ingest could not process',
    });
    new CfnOutput(this, 'TrainingEventsDeadLetterQueueUrl', {
      value: this.trainingEvents.deadLetterQueue.queueUrl,
      description: 'Training job events that failed',
    });
    new CfnOutput(this, 'EndpointEventsDeadLetterQueueUrl', {
      value: this.endpointEvents.deadLetterQueue.queueUrl,
      description: 'Endpoint events that failed',
    });
    new CfnOutput(this, 'AlarmEventsDeadLetterQueueUrl', {
      value: this.alarmEvents.deadLetterQueue.queueUrl,
      description: 'Alarm events that failed',
    });
    new CfnOutput(this, 'DriftMonitorFunctionName', {
      value: this.driftMonitor.handler.function.functionName,
      description: 'Invoke with {"model":"<name>"} to measure drift now',
    });
    new CfnOutput(this, 'DriftMonitorDeadLetterQueueUrl', {
      value: this.driftMonitor.deadLetterQueue.queueUrl,
      description: 'Drift monitor runs that failed',
    });
    new CfnOutput(this, 'ReconcilerFunctionName', {
      value: this.reconciler.handler.function.functionName,
      description: 'Invoke with {} to repair lost events now (it runs every 15 minutes)',
    });
    new CfnOutput(this, 'ResourcePrefix', {
      value: prefix,
      description:
        'Prefix of every derived AWS name: endpoints <prefix>-<model>, alarms <prefix>-<model>-<kind>',
    });
    new CfnOutput(this, 'OperatorFunctionName', {
      value: this.operator.handler.function.functionName,
      description: 'Runs approve, reject, rollback and retrain (the mlops CLI invokes it)',
    });
    new CfnOutput(this, 'ReadOnlyPolicyArn', {
      value: this.operatorAccess.readOnlyPolicy.managedPolicyArn,
      description: 'Attach to who reads the control plane with the mlops CLI',
    });
    new CfnOutput(this, 'OperatorPolicyArn', {
      value: this.operatorAccess.operatorPolicy.managedPolicyArn,
      description: 'Attach to who operates it: approve, reject, rollback, retrain, upload, redrive',
    });
    new CfnOutput(this, 'IngestQueueUrl', {
      value: this.ingest.queue.queueUrl,
      description: 'Where the ingest dead letters are moved back to',
    });
    new CfnOutput(this, 'TrainingEventsFunctionName', {
      value: this.trainingEvents.handler.function.functionName,
      description: 'Where training-events dead letters are sent back to',
    });
    new CfnOutput(this, 'EndpointEventsFunctionName', {
      value: this.endpointEvents.handler.function.functionName,
      description: 'Where endpoint-events dead letters are sent back to',
    });
    new CfnOutput(this, 'AlarmEventsFunctionName', {
      value: this.alarmEvents.handler.function.functionName,
      description: 'Where alarm-events dead letters are sent back to',
    });
  }
}
