/**
 * A full {@link MlopsContext} for unit tests of the use cases, in memory: no DynamoDB Local, no S3
 * server, no Java; a test's setup takes microseconds. Where this stands: test infrastructure.
 *
 * - registry: {@link MemoryRegistryStore} (the DynamoDB store's semantics; `failNext` injects faults);
 * - objects: {@link MemoryObjectStore} (S3's behaviour; versioned like the stack's data bucket unless
 *   `versioning: false`, the local S3);
 * - training, endpoints, alarms, notifier: the real AWS adapters (SageMakerTrainingService,
 *   SageMakerEndpointService, CloudWatchAlarmService, SnsNotifier) on SDK clients answered by the
 *   stateful {@link FakeAws} of pipeline-harness.ts, which answers as AWS does (ResourceInUse for a
 *   training job name taken, "Cannot create already existing model", an endpoint update refused while
 *   the endpoint is busy...). So what a use case sends is checked as the SDK request AWS would get;
 *   FakeAws keeps its own times (an endpoint's LastModifiedTime, an alarm's state time) on the
 *   wall clock, not on the context's clock;
 * - SNS accepts every Publish unless {@link MemoryContext.failNextPublish} says otherwise;
 *   {@link MemoryContext.notifications} lists what it accepted;
 * - clock: a {@link SettableClock}; names: {@link ResourceNames} with prefix `mlops`; log: a silent
 *   log that records what it is given ({@link RecordingLog}).
 *
 * Usage (`useMemoryContext` gives each test a new context and removes the SDK stubs after it):
 *
 * ```ts
 * const memory = useMemoryContext();
 *
 * it('trains', async () => {
 *   const m = memory();
 *   await m.putModelConfig('churn', { labelColumn: 'churned' });
 *   const upload = await m.upload('datasets/churn/customers.csv', churnCsv(200));
 *   await new IngestDataset(m).execute(upload); // a MemoryContext is an MlopsContext
 *   const [job] = m.trainingJobs(); // created through SageMakerTrainingService on FakeAws
 *   m.finishTraining(job!, { metrics: { 'validation:auc': 0.9 } });
 *   await new ProcessTrainingJob(m).execute(job!);
 *   expect(m.notifications()).toMatchObject([{ kind: 'approval-needed' }]); // with gate.approval manual
 * });
 * ```
 *
 * One FakeAws at a time: aws-sdk-client-mock stubs the SDK clients' prototypes, so the context
 * created last answers for every context's clients. Do not run the tests of a file concurrently
 * (`describe.concurrent`). The stubs stay in place until {@link MemoryContext.dispose} (which
 * `useMemoryContext` calls after each test): call it when you use {@link createMemoryContext}
 * yourself, since test/core/use-cases files share a worker's modules (vitest.config.ts,
 * `isolate: false`) and a stub left behind would answer the next file's clients.
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import {
  CreateEndpointCommand,
  CreateTrainingJobCommand,
  SageMakerClient,
  UpdateEndpointCommand,
  type CreateTrainingJobCommandInput,
} from '@aws-sdk/client-sagemaker';
import {
  PublishCommand,
  SNSClient,
  SNSServiceException,
  type PublishCommandInput,
} from '@aws-sdk/client-sns';
import { afterEach, beforeEach } from 'vitest';
import { CloudWatchAlarmService } from '../../adapters/aws/cloudwatch-alarm-service';
import { SageMakerEndpointService } from '../../adapters/aws/sagemaker-endpoint-service';
import { SageMakerTrainingService } from '../../adapters/aws/sagemaker-training-service';
import { NOTIFICATION_ID_ATTRIBUTE, SnsNotifier } from '../../adapters/aws/sns-notifier';
import { MemoryObjectStore } from '../../adapters/memory/memory-object-store';
import { MemoryRegistryStore } from '../../adapters/memory/memory-registry-store';
import { modelConfigKey, ResourceNames } from '../../core/domain/naming';
import type { Clock } from '../../core/ports/clock';
import type { Notification } from '../../core/ports/monitoring';
import type { Log, MlopsContext } from '../../core/use-cases/context';
import { IngestDataset, type ObjectCreated } from '../../core/use-cases/ingest-dataset';
import { ProcessEndpointChange } from '../../core/use-cases/process-endpoint-change';
import { ProcessTrainingJob } from '../../core/use-cases/process-training-job';
import { churnCsv, FakeAws, ROLE_ARN, TOPIC_ARN } from './pipeline-harness';

export { churnCsv, FakeAws, ROLE_ARN, TOPIC_ARN };

/** The data bucket of a memory context (the pipeline harness's name, so requests read the same). */
export const MEMORY_BUCKET = 'mlops-data-123';
export const MEMORY_REGION = 'us-east-1';
export const MEMORY_PREFIX = 'mlops';
/** Where a memory context's clock starts. */
export const MEMORY_START = '2026-11-26T10:00:00.000Z';

/** A clock a test sets and moves. */
export class SettableClock implements Clock {
  private current: number;

  constructor(start: Date | string = MEMORY_START) {
    this.current = new Date(start).getTime();
  }

  now(): Date {
    return new Date(this.current);
  }

  /** Sets the time. */
  set(at: Date | string): void {
    this.current = new Date(at).getTime();
  }

  /** Moves the time forward (or back, with a negative amount) by `ms` milliseconds. */
  advance(ms: number): void {
    this.current += ms;
  }
}

/** One line a {@link RecordingLog} was given. */
export interface LogEntry {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly message: string;
  readonly extra: readonly unknown[];
}

/** A silent log that keeps what it is given, for tests that assert a warning. */
export class RecordingLog implements Log {
  readonly entries: LogEntry[] = [];
  debug(message: string, ...extra: unknown[]): void {
    this.entries.push({ level: 'debug', message, extra });
  }
  info(message: string, ...extra: unknown[]): void {
    this.entries.push({ level: 'info', message, extra });
  }
  warn(message: string, ...extra: unknown[]): void {
    this.entries.push({ level: 'warn', message, extra });
  }
  error(message: string, ...extra: unknown[]): void {
    this.entries.push({ level: 'error', message, extra });
  }
}

/** A notification SNS accepted (one successful Publish), with the request itself. */
export interface SentNotification extends Notification {
  readonly request: PublishCommandInput;
}

/**
 * How the next Publish fails: `refused` is a 4xx answer (throttled; the adapter throws
 * NotificationNotSent, nothing went out), `unknown` a 5xx (the message may or may not have gone out).
 */
export type PublishFailure = 'refused' | 'unknown';

/** Options of {@link createMemoryContext}. */
export interface MemoryContextOptions {
  /** @default {@link MEMORY_BUCKET} */
  readonly bucket?: string;
  /** @default {@link MEMORY_REGION} */
  readonly region?: string;
  /** The resource prefix. @default {@link MEMORY_PREFIX} */
  readonly prefix?: string;
  /** Where the clock starts. @default {@link MEMORY_START} */
  readonly now?: Date | string;
  /** The stack's default model config (DEFAULT_MODEL_CONFIG, parsed). */
  readonly defaultModelConfig?: Readonly<Record<string, unknown>>;
  /**
   * Whether the data bucket keeps versions (uploads get version ids, and their events carry them),
   * as the stack's bucket on AWS does. `false` is the local S3, where ingest checks the upload's
   * ETag against the bytes it read.
   * @default true
   */
  readonly versioning?: boolean;
}

/**
 * An {@link MlopsContext} (pass it to any use case as is) whose ports are in memory or faked, with
 * helpers to set up and inspect what the use cases did.
 */
export interface MemoryContext extends MlopsContext {
  readonly registry: MemoryRegistryStore;
  readonly objects: MemoryObjectStore;
  readonly clock: SettableClock;
  readonly log: RecordingLog;
  /**
   * The faked SageMaker, CloudWatch and SNS: state (`jobs`, `endpoints`, `alarms`), the mocks
   * (`sagemaker`, `cloudwatch`, `sns`: call history, custom answers), `createTrainingJobFaults`,
   * `finishJob`, `settleEndpoint`, `setAlarm`. Do not call its `reset()` (it would drop
   * {@link MemoryContext.failNextPublish}'s hook): make a new context instead. An answer set with
   * `aws.sagemaker.on(Command)` replaces FakeAws's for that command for good, `rejectsOnce`
   * included (later calls get `undefined`, not FakeAws's answer): to make one call fail, queue a
   * `createTrainingJobFaults` entry or wrap the port (`m.with({ endpoints: wrapped })`).
   */
  readonly aws: FakeAws;
  /** Writes `models/<model>/config.json` (an object is written as JSON, a string as is). */
  putModelConfig(model: string, config: Readonly<Record<string, unknown>> | string): Promise<void>;
  /**
   * Uploads an object to the data bucket and returns what its EventBridge "Object Created" event
   * tells ingest (the ingest handler's mapping): bucket, key, size, ETag, a new sequencer and, in a
   * versioned bucket, the version id. Pass it to `IngestDataset.execute`.
   */
  upload(key: string, body: string | Uint8Array): Promise<ObjectCreated>;
  /** The text of an object in the data bucket now, or undefined. */
  text(key: string): string | undefined;
  /** The notifications SNS accepted, in order (a failed Publish is not one). */
  notifications(): SentNotification[];
  /** Makes the next Publish fail (queued: call it twice for two failures). */
  failNextPublish(failure?: PublishFailure): void;
  /** Every CreateTrainingJob request SageMaker received, in order (refused ones included). */
  trainingRequests(): CreateTrainingJobCommandInput[];
  /** The training jobs SageMaker holds (each created once), by name, in creation order. */
  trainingJobs(): string[];
  /** The job finishes: completed with these final metrics, or failed with a reason (FakeAws.finishJob). */
  finishTraining(
    jobName: string,
    outcome: { metrics: Record<string, number> } | { failureReason: string },
  ): void;
  /** How many CreateEndpoint and UpdateEndpoint requests SageMaker received (rollouts requested). */
  rolloutRequests(): { create: number; update: number };
  /** A context with the same stores, clock and fakes, and some settings replaced. */
  with(overrides: Partial<MlopsContext>): MlopsContext;
  /** Removes the SDK stubs (aws-sdk-client-mock's restore). Safe to call twice. */
  dispose(): void;
}

/** Builds a {@link MemoryContext}; see the file's comment. Call `dispose()` when done. */
export function createMemoryContext(options: MemoryContextOptions = {}): MemoryContext {
  const bucket = options.bucket ?? MEMORY_BUCKET;
  const region = options.region ?? MEMORY_REGION;
  const aws = new FakeAws();
  // Static credentials: nothing is resolved from the environment; every command of the mocked
  // clients is answered by the mock, so nothing reaches AWS.
  const clientConfig = { region, credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test' } };
  const sagemaker = new SageMakerClient(clientConfig);
  const registry = new MemoryRegistryStore();
  const objects = new MemoryObjectStore({
    buckets: [bucket],
    ...(options.versioning !== undefined ? { versioning: options.versioning } : {}),
  });
  const clock = new SettableClock(options.now);
  const log = new RecordingLog();
  let sequencer = 0;
  let disposed = false;

  // SNS: accepted notifications are recorded; queued failures answer first.
  const published: SentNotification[] = [];
  const publishFailures: PublishFailure[] = [];
  aws.sns.on(PublishCommand).callsFake((request: PublishCommandInput) => {
    const failure = publishFailures.shift();
    if (failure) throw publishError(failure);
    published.push(sentNotification(request));
    return { MessageId: `m-${published.length}` };
  });

  const base: MlopsContext = {
    registry,
    objects,
    training: new SageMakerTrainingService(sagemaker, ROLE_ARN),
    endpoints: new SageMakerEndpointService(sagemaker, ROLE_ARN),
    alarms: new CloudWatchAlarmService(new CloudWatchClient(clientConfig)),
    notifier: new SnsNotifier(new SNSClient(clientConfig), TOPIC_ARN),
    clock,
    names: new ResourceNames(options.prefix ?? MEMORY_PREFIX),
    log,
    bucket,
    region,
    ...(options.defaultModelConfig ? { defaultModelConfig: options.defaultModelConfig } : {}),
  };

  return {
    ...base,
    registry,
    objects,
    clock,
    log,
    aws,
    async putModelConfig(model, config) {
      const text = typeof config === 'string' ? config : JSON.stringify(config);
      await objects.write(bucket, modelConfigKey(model), text, 'application/json');
    },
    async upload(key, body) {
      const put = await objects.put(bucket, key, body, 'text/csv');
      return {
        bucket,
        key,
        size: put.size,
        etag: put.etag,
        ...(put.versionId !== undefined ? { versionId: put.versionId } : {}),
        sequencer: (0x17e0000000000 + ++sequencer).toString(16).toUpperCase().padStart(16, '0'),
      };
    },
    text(key) {
      return objects.peek(bucket, key)?.text;
    },
    notifications() {
      return [...published];
    },
    failNextPublish(failure = 'refused') {
      publishFailures.push(failure);
    },
    trainingRequests() {
      return aws.sagemaker.commandCalls(CreateTrainingJobCommand).map((call) => call.args[0].input);
    },
    trainingJobs() {
      return [...aws.jobs.keys()];
    },
    finishTraining(jobName, outcome) {
      aws.finishJob(jobName, outcome);
    },
    rolloutRequests() {
      return {
        create: aws.sagemaker.commandCalls(CreateEndpointCommand).length,
        update: aws.sagemaker.commandCalls(UpdateEndpointCommand).length,
      };
    },
    with(overrides) {
      return { ...base, ...overrides };
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      aws.restore();
    },
  };
}

/**
 * Registers, in the calling file's current suite, a `beforeEach` that creates a new
 * {@link MemoryContext} and an `afterEach` that disposes it; returns the current test's context.
 * Call it at the top level of a test file (or of a `describe`).
 */
export function useMemoryContext(options: MemoryContextOptions = {}): () => MemoryContext {
  let current: MemoryContext | undefined;
  beforeEach(() => {
    current = createMemoryContext(options);
  });
  afterEach(() => {
    current?.dispose();
    current = undefined;
  });
  return () => {
    if (!current) throw new Error('useMemoryContext: no context outside a test');
    return current;
  };
}

let uploads = 0;

/**
 * Trains `model` (its config written first) on a new upload and runs the version through the
 * pipeline's use cases as the events would: ingest, the training job completes with this AUC, the
 * gate, and (`until: 'production'`, the default) the rollout settles in service and is promoted.
 * Returns the version, its dataset and what the gate decided.
 */
export async function trainVersion(
  m: MemoryContext,
  model: string,
  config: Readonly<Record<string, unknown>>,
  auc: number,
  until: 'gated' | 'production' = 'production',
): Promise<{ version: number; datasetId: string; jobName: string }> {
  await m.putModelConfig(model, { labelColumn: 'churned', ...config });
  uploads += 1;
  m.clock.advance(60_000);
  const ingested = await new IngestDataset(m).execute(
    await m.upload(`datasets/${model}/d${uploads}.csv`, churnCsv(100, uploads)),
  );
  if (ingested.kind !== 'training') throw new Error(`trainVersion: ingest answered ${ingested.kind}`);
  m.finishTraining(ingested.jobName, { metrics: { 'validation:auc': auc } });
  m.clock.advance(60_000);
  const trained = await new ProcessTrainingJob(m).execute(ingested.jobName);
  const result = { version: ingested.version, datasetId: ingested.datasetId, jobName: ingested.jobName };
  if (until === 'gated') return result;
  if (trained.kind !== 'deploying') throw new Error(`trainVersion: v${ingested.version} was ${trained.kind}`);
  await settleRollout(m, model);
  return result;
}

/** The model's rollout in flight settles in service, and its endpoint event promotes it. */
export async function settleRollout(m: MemoryContext, model: string): Promise<void> {
  const endpoint = m.names.endpoint(model);
  m.aws.settleEndpoint(endpoint, 'in-service');
  m.clock.advance(60_000);
  const outcome = await new ProcessEndpointChange(m).execute(endpoint);
  if (outcome.kind !== 'promoted') throw new Error(`settleRollout: ${model} was ${outcome.kind}`);
}

function sentNotification(request: PublishCommandInput): SentNotification {
  const attributes = request.MessageAttributes ?? {};
  const id = attributes[NOTIFICATION_ID_ATTRIBUTE]?.StringValue;
  return {
    subject: request.Subject ?? '',
    message: request.Message ?? '',
    model: attributes['model']?.StringValue ?? '',
    kind: attributes['kind']?.StringValue as Notification['kind'],
    ...(id !== undefined ? { id } : {}),
    request,
  };
}

function publishError(failure: PublishFailure): SNSServiceException {
  return failure === 'refused'
    ? new SNSServiceException({
        name: 'ThrottledException',
        $fault: 'client',
        message: 'Rate exceeded',
        $metadata: { httpStatusCode: 400 },
      })
    : new SNSServiceException({
        name: 'InternalErrorException',
        $fault: 'server',
        message: 'Internal error',
        $metadata: { httpStatusCode: 500 },
      });
}
