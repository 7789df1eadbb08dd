/**
 * A harness for handler tests: the real handlers and use cases on real local parts (DynamoDB
 * Local for the registry, s3rver for the bucket), with SageMaker, CloudWatch and SNS replaced by
 * aws-sdk-client-mock. The mocks keep a little state (jobs, models, configs, endpoints, alarms) so
 * that idempotency is tested the way AWS behaves: a second CreateTrainingJob with the same name
 * answers ResourceInUse, a second CreateModel "Cannot create already existing model", and so on.
 */
import {
  CloudWatchClient,
  DescribeAlarmsCommand,
  PutMetricAlarmCommand,
  type PutMetricAlarmCommandInput,
} from '@aws-sdk/client-cloudwatch';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import {
  CreateEndpointCommand,
  CreateEndpointConfigCommand,
  CreateModelCommand,
  CreateTrainingJobCommand,
  DeleteEndpointCommand,
  DescribeEndpointCommand,
  DescribeTrainingJobCommand,
  ResourceInUse,
  SageMakerClient,
  SageMakerServiceException,
  UpdateEndpointCommand,
  type CreateTrainingJobCommandInput,
  type EndpointStatus,
} from '@aws-sdk/client-sagemaker';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import type { Context, SQSEvent } from 'aws-lambda';
import { randomBytes } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { silentLog, type MlopsContext } from '../../core/use-cases/context';
import { createAwsContext } from '../../lambdas/shared/aws-context';
import { dynamoDbLocalClientConfig } from '../../local/services/dynamodb-local';
import { s3ClientConfig } from '../../local/services/s3-server';
import { AwsCallJournal, instrumentMockedClient, instrumentSdkClient } from './aws-call-journal';
import { createRegistryTable, startDynamoDbLocal, type DynamoDbLocal } from './dynamodb-local';
import { startS3Server, type S3TestServer } from './s3-server';

export const ROLE_ARN = 'arn:aws:iam::123456789012:role/mlops-sagemaker';
export const TOPIC_ARN = 'arn:aws:sns:us-east-1:123456789012:mlops-notifications';

function validation(message: string): SageMakerServiceException {
  return new SageMakerServiceException({
    name: 'ValidationException',
    $fault: 'client',
    message,
    $metadata: {},
  });
}

interface FakeJob {
  input: CreateTrainingJobCommandInput;
  status: 'InProgress' | 'Completed' | 'Failed' | 'Stopped';
  metrics: Record<string, number>;
  failureReason?: string;
}

interface FakeEndpoint {
  config: string;
  pending?: string;
  status: EndpointStatus;
  failureReason?: string;
  modified: Date;
}

/** The simulated SageMaker, CloudWatch and SNS. */
export class FakeAws {
  readonly sagemaker = mockClient(SageMakerClient);
  readonly cloudwatch = mockClient(CloudWatchClient);
  readonly sns = mockClient(SNSClient);
  readonly jobs = new Map<string, FakeJob>();
  readonly models = new Set<string>();
  readonly configs = new Set<string>();
  readonly endpoints = new Map<string, FakeEndpoint>();
  readonly alarms = new Map<
    string,
    {
      input: PutMetricAlarmCommandInput;
      state: 'OK' | 'ALARM' | 'INSUFFICIENT_DATA';
      reason: string;
      at: Date;
    }
  >();
  /** Errors to throw from the next CreateTrainingJob calls (transient faults). */
  readonly createTrainingJobFaults: Error[] = [];

  constructor() {
    this.reset();
  }

  reset(): void {
    this.sagemaker.reset();
    this.cloudwatch.reset();
    this.sns.reset();
    this.jobs.clear();
    this.models.clear();
    this.configs.clear();
    this.endpoints.clear();
    this.alarms.clear();
    this.createTrainingJobFaults.length = 0;
    const sm = this.sagemaker;
    sm.on(CreateTrainingJobCommand).callsFake((input: CreateTrainingJobCommandInput) => {
      const fault = this.createTrainingJobFaults.shift();
      if (fault) throw fault;
      const name = input.TrainingJobName!;
      if (this.jobs.has(name)) {
        throw new ResourceInUse({
          message: `Training job names must be unique within an AWS account and region, and a training job with this name already exists (${name})`,
          $metadata: {},
        });
      }
      this.jobs.set(name, { input, status: 'InProgress', metrics: {} });
      return { TrainingJobArn: `arn:aws:sagemaker:us-east-1:123456789012:training-job/${name}` };
    });
    sm.on(DescribeTrainingJobCommand).callsFake(({ TrainingJobName }: { TrainingJobName: string }) => {
      const job = this.jobs.get(TrainingJobName);
      if (!job) throw validation(`Requested resource not found.`);
      return {
        TrainingJobName,
        TrainingJobStatus: job.status,
        SecondaryStatus: job.status === 'InProgress' ? 'Training' : job.status,
        ...(job.failureReason ? { FailureReason: job.failureReason } : {}),
        AlgorithmSpecification: job.input.AlgorithmSpecification,
        HyperParameters: job.input.HyperParameters,
        FinalMetricDataList: Object.entries(job.metrics).map(([MetricName, Value]) => ({
          MetricName,
          Value,
          Timestamp: new Date(),
        })),
        ...(job.status === 'Completed'
          ? {
              ModelArtifacts: {
                S3ModelArtifacts: `${job.input.OutputDataConfig!.S3OutputPath}${TrainingJobName}/output/model.tar.gz`,
              },
            }
          : {}),
      };
    });
    sm.on(CreateModelCommand).callsFake(({ ModelName }: { ModelName: string }) => {
      if (this.models.has(ModelName))
        throw validation(
          `Cannot create already existing model "arn:aws:sagemaker:us-east-1:123456789012:model/${ModelName}".`,
        );
      this.models.add(ModelName);
      return {};
    });
    sm.on(CreateEndpointConfigCommand).callsFake(({ EndpointConfigName }: { EndpointConfigName: string }) => {
      if (this.configs.has(EndpointConfigName)) {
        throw validation(
          `Cannot create already existing endpoint configuration "arn:aws:sagemaker:us-east-1:123456789012:endpoint-config/${EndpointConfigName}".`,
        );
      }
      this.configs.add(EndpointConfigName);
      return {};
    });
    sm.on(CreateEndpointCommand).callsFake(
      ({ EndpointName, EndpointConfigName }: { EndpointName: string; EndpointConfigName: string }) => {
        if (this.endpoints.has(EndpointName)) {
          throw validation(
            `Cannot create already existing endpoint "arn:aws:sagemaker:us-east-1:123456789012:endpoint/${EndpointName}".`,
          );
        }
        this.endpoints.set(EndpointName, {
          config: EndpointConfigName,
          status: 'Creating',
          modified: new Date(),
        });
        return {};
      },
    );
    sm.on(UpdateEndpointCommand).callsFake(
      ({ EndpointName, EndpointConfigName }: { EndpointName: string; EndpointConfigName: string }) => {
        const endpoint = this.endpoints.get(EndpointName);
        if (!endpoint) throw validation(`Could not find endpoint "${EndpointName}".`);
        if (endpoint.status !== 'InService')
          throw validation(`Cannot update in-progress endpoint "${EndpointName}".`);
        endpoint.pending = EndpointConfigName;
        endpoint.status = 'Updating';
        endpoint.modified = new Date();
        return {};
      },
    );
    sm.on(DeleteEndpointCommand).callsFake(({ EndpointName }: { EndpointName: string }) => {
      if (!this.endpoints.delete(EndpointName))
        throw validation(`Could not find endpoint "${EndpointName}".`);
      return {};
    });
    sm.on(DescribeEndpointCommand).callsFake(({ EndpointName }: { EndpointName: string }) => {
      const endpoint = this.endpoints.get(EndpointName);
      if (!endpoint) throw validation(`Could not find endpoint "${EndpointName}".`);
      return {
        EndpointName,
        EndpointConfigName: endpoint.config,
        EndpointStatus: endpoint.status,
        ...(endpoint.failureReason ? { FailureReason: endpoint.failureReason } : {}),
        ...(endpoint.pending ? { PendingDeploymentSummary: { EndpointConfigName: endpoint.pending } } : {}),
        LastModifiedTime: endpoint.modified,
        CreationTime: endpoint.modified,
      };
    });
    this.cloudwatch.on(PutMetricAlarmCommand).callsFake((input: PutMetricAlarmCommandInput) => {
      const existing = this.alarms.get(input.AlarmName!);
      this.alarms.set(input.AlarmName!, {
        input,
        state: existing?.state ?? 'INSUFFICIENT_DATA',
        reason: existing?.reason ?? '',
        at: existing?.at ?? new Date(),
      });
      return {};
    });
    this.cloudwatch.on(DescribeAlarmsCommand).callsFake(({ AlarmNames }: { AlarmNames: string[] }) => ({
      MetricAlarms: AlarmNames.filter((n) => this.alarms.has(n)).map((n) => {
        const alarm = this.alarms.get(n)!;
        return {
          AlarmName: n,
          StateValue: alarm.state,
          StateReason: alarm.reason,
          StateTransitionedTimestamp: alarm.at,
          StateUpdatedTimestamp: alarm.at,
        };
      }),
    }));
    this.sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
  }

  /** Training finishes: the job completes with these final metrics (or fails). */
  finishJob(name: string, outcome: { metrics: Record<string, number> } | { failureReason: string }): void {
    const job = this.jobs.get(name);
    if (!job) throw new Error(`no job ${name}`);
    if ('failureReason' in outcome) {
      job.status = 'Failed';
      job.failureReason = outcome.failureReason;
    } else {
      job.status = 'Completed';
      job.metrics = outcome.metrics;
    }
  }

  /** The endpoint's creation or update finishes: in service with the new config, or rolled back / failed. */
  settleEndpoint(name: string, outcome: 'in-service' | 'rolled-back' | 'failed'): void {
    const endpoint = this.endpoints.get(name);
    if (!endpoint) throw new Error(`no endpoint ${name}`);
    endpoint.modified = new Date();
    if (outcome === 'in-service') {
      endpoint.config = endpoint.pending ?? endpoint.config;
      endpoint.status = 'InService';
    } else if (outcome === 'rolled-back') {
      endpoint.status = 'InService';
      endpoint.failureReason =
        'Alarm mlops-churn-error-rate in ALARM during the baking period; traffic rolled back';
    } else {
      endpoint.status = 'Failed';
      endpoint.failureReason =
        'The primary container for production variant AllTraffic did not pass the ping health check.';
    }
    delete endpoint.pending;
  }

  setAlarm(name: string, state: 'OK' | 'ALARM', reason: string): void {
    const alarm = this.alarms.get(name);
    if (!alarm) throw new Error(`no alarm ${name}`);
    alarm.state = state;
    alarm.reason = reason;
    alarm.at = new Date();
  }

  restore(): void {
    this.sagemaker.restore();
    this.cloudwatch.restore();
    this.sns.restore();
  }
}

/** Local servers and a context wired like the Lambda functions are. */
export interface PipelineHarness {
  readonly dynamo: DynamoDbLocal;
  readonly s3: S3TestServer;
  readonly aws: FakeAws;
  readonly table: string;
  /**
   * Every AWS call the handlers' contexts made (not the test's own uploads and reads), and the
   * place to plan injected faults.
   */
  readonly journal: AwsCallJournal;
  /** The handlers' context; `registryTable` (one made by {@link newTable}) instead of {@link table}. */
  context(overrides?: { defaultModelConfig?: string; registryTable?: string }): MlopsContext;
  /**
   * Creates another empty registry table on the same DynamoDB Local and returns its name: a test
   * that needs a registry of its own (independent of the tests before it) passes it to
   * {@link context}.
   */
  newTable(): Promise<string>;
  /** Uploads an object and returns the EventBridge "Object Created" event S3 would send. */
  upload(key: string, body: string): Promise<unknown>;
  /** Reads an object straight from the S3 server (not through the adapter under test); undefined when missing. */
  read(key: string): Promise<string | undefined>;
  stop(): Promise<void>;
}

let tableCounter = 0;
/** Table names unique in the run: the test files share one DynamoDB Local (test/support/dynamodb-local.ts). */
const tablePrefix = `registry-${process.pid}-${randomBytes(4).toString('hex')}`;

export async function startPipelineHarness(): Promise<PipelineHarness> {
  const [dynamo, s3] = await Promise.all([startDynamoDbLocal(), startS3Server({ bucket: 'mlops-data-123' })]);
  const newTable = async () => {
    const name = `${tablePrefix}-${++tableCounter}`;
    await createRegistryTable(dynamo.client, name);
    return name;
  };
  const table = await newTable();
  const aws = new FakeAws();
  const journal = new AwsCallJournal();
  // The handlers get clients of their own, instrumented; the test's uploads and reads use the
  // servers' own clients and are not recorded.
  const dynamodbClient = new DynamoDBClient(dynamoDbLocalClientConfig(dynamo.endpoint));
  const s3Client = new S3Client(s3ClientConfig(s3.endpoint));
  const sagemakerClient = new SageMakerClient({ region: 'us-east-1' });
  const cloudwatchClient = new CloudWatchClient({ region: 'us-east-1' });
  const snsClient = new SNSClient({ region: 'us-east-1' });
  instrumentSdkClient(dynamodbClient, 'dynamodb', journal);
  instrumentSdkClient(s3Client, 's3', journal);
  instrumentMockedClient(sagemakerClient, 'sagemaker', journal);
  instrumentMockedClient(cloudwatchClient, 'cloudwatch', journal);
  instrumentMockedClient(snsClient, 'sns', journal);
  let sequencer = 0;
  return {
    dynamo,
    s3,
    aws,
    table,
    journal,
    newTable,
    context(overrides = {}) {
      return createAwsContext(
        silentLog,
        {
          dataBucket: s3.bucket,
          registryTable: table,
          resourcePrefix: 'mlops',
          sageMakerRoleArn: ROLE_ARN,
          notificationTopicArn: TOPIC_ARN,
          region: 'us-east-1',
          ...overrides,
        },
        {
          dynamodb: dynamodbClient,
          s3: s3Client,
          sagemaker: sagemakerClient,
          cloudwatch: cloudwatchClient,
          sns: snsClient,
        },
      );
    },
    async upload(key, body) {
      const put = await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: body }));
      return s3Event(
        s3.bucket,
        key,
        Buffer.byteLength(body),
        put.ETag?.replace(/"/g, '') ?? '',
        String(++sequencer).padStart(16, '0'),
      );
    },
    async read(key) {
      try {
        const out = await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
        return await out.Body!.transformToString();
      } catch (error) {
        if ((error as { name?: string }).name === 'NoSuchKey') return undefined;
        throw error;
      }
    },
    async stop() {
      aws.restore();
      dynamodbClient.destroy();
      s3Client.destroy();
      await Promise.allSettled([dynamo.stop(), s3.stop()]);
    },
  };
}

/** An EventBridge "Object Created" event, as documented in the S3 User Guide. */
export function s3Event(bucket: string, key: string, size: number, etag: string, sequencer: string) {
  return {
    version: '0',
    id: `evt-${sequencer}`,
    'detail-type': 'Object Created',
    source: 'aws.s3',
    account: '123456789012',
    time: new Date().toISOString(),
    region: 'us-east-1',
    resources: [`arn:aws:s3:::${bucket}`],
    detail: {
      version: '0',
      bucket: { name: bucket },
      object: { key, size, etag, sequencer },
      'request-id': 'REQ',
      requester: '123456789012',
      'source-ip-address': '203.0.113.24',
      reason: 'PutObject',
    },
  };
}

/** Wraps EventBridge events into the SQS batch the ingest function receives. */
export function sqsBatch(...events: unknown[]): SQSEvent {
  return {
    Records: events.map((event, i) => ({
      messageId: `msg-${i}-${Math.random().toString(36).slice(2, 8)}`,
      receiptHandle: 'rh',
      body: typeof event === 'string' ? event : JSON.stringify(event),
      attributes: {
        ApproximateReceiveCount: '1',
        SentTimestamp: '0',
        SenderId: 'events',
        ApproximateFirstReceiveTimestamp: '0',
      },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:mlops-ingest',
      awsRegion: 'us-east-1',
    })),
  };
}

export function trainingEvent(jobName: string, status = 'Completed') {
  return {
    version: '0',
    id: `t-${jobName}-${status}`,
    'detail-type': 'SageMaker Training Job State Change',
    source: 'aws.sagemaker',
    account: '123456789012',
    time: new Date().toISOString(),
    region: 'us-east-1',
    resources: [`arn:aws:sagemaker:us-east-1:123456789012:training-job/${jobName}`],
    detail: { TrainingJobName: jobName, TrainingJobStatus: status },
  };
}

export function endpointEvent(endpointName: string, status = 'IN_SERVICE') {
  return {
    version: '0',
    id: `e-${endpointName}-${status}`,
    'detail-type': 'SageMaker Endpoint State Change',
    source: 'aws.sagemaker',
    account: '123456789012',
    time: new Date().toISOString(),
    region: 'us-east-1',
    resources: [`arn:aws:sagemaker:us-east-1:123456789012:endpoint/${endpointName}`],
    detail: { EndpointName: endpointName, EndpointStatus: status },
  };
}

export function alarmEvent(
  alarmName: string,
  state: 'OK' | 'ALARM',
  previous: 'OK' | 'ALARM' | 'INSUFFICIENT_DATA',
) {
  return {
    version: '0',
    id: `a-${alarmName}-${state}`,
    'detail-type': 'CloudWatch Alarm State Change',
    source: 'aws.cloudwatch',
    account: '123456789012',
    time: new Date().toISOString(),
    region: 'us-east-1',
    resources: [`arn:aws:cloudwatch:us-east-1:123456789012:alarm:${alarmName}`],
    detail: {
      alarmName,
      state: { value: state, reason: `Threshold Crossed: 3 datapoints`, timestamp: new Date().toISOString() },
      previousState: { value: previous },
    },
  };
}

/** A Lambda context good enough for Powertools. */
export const lambdaContext = {
  functionName: 'test',
  functionVersion: '1',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:test',
  memoryLimitInMB: '1024',
  awsRequestId: 'req-1',
  logGroupName: '/aws/lambda/test',
  logStreamName: 's',
  callbackWaitsForEmptyEventLoop: false,
  getRemainingTimeInMillis: () => 60_000,
  done: () => undefined,
  fail: () => undefined,
  succeed: () => undefined,
} as unknown as Context;

/** A learnable binary dataset: the label depends on two of the features. */
export function churnCsv(rows: number, seed = 1): string {
  let state = seed;
  const random = () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 0x100000000;
  const lines = ['tenure,monthly_charges,support_calls,churned'];
  for (let i = 0; i < rows; i++) {
    const tenure = Math.floor(random() * 72);
    const charges = Math.round((20 + random() * 100) * 100) / 100;
    const calls = Math.floor(random() * 8);
    const churned = calls > 4 || (tenure < 12 && charges > 80) ? 1 : 0;
    lines.push(`${tenure},${charges},${calls},${churned}`);
  }
  return lines.join('\n') + '\n';
}
