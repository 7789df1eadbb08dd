/**
 * The machinery of the fault table (test/contracts/fault-table.test.ts): call sites, rows, and the
 * judgement of a faulted run's end state. Where this stands: test infrastructure.
 *
 * A run of the pipeline here is one "stack": the pipeline scenario (pipeline-scenario.ts) under
 * model names of its own (a suffix), with clients of its own recording into a journal of its own,
 * on the servers one {@link PipelineHarness} shares between all runs. The registry the run's
 * handlers see lists only the run's own models (`listVersionsByStatus` is fleet-wide: the drift
 * monitor and the reconciler would otherwise pick up the other runs' versions), so runs are as
 * isolated as separate stacks and can go concurrently.
 *
 * A run is driven as AWS drives the stack: each handler invocation that fails is delivered again
 * ({@link AWS_REDELIVERY}), and once the scenario is over, {@link driveToRest} plays what comes
 * after: SageMaker finishes the jobs and rollouts still in flight and their events are delivered,
 * and the reconciler (core/use-cases/reconcile.ts), which the stack runs every 15 minutes, runs
 * with its clock 20 minutes further each round, re-delivering the events AWS gave up on (after its
 * retries, a dead-lettered event is never retried by AWS itself).
 *
 * Runs are cheap to stop and to chain (see {@link runTable}): the clean run records each story's
 * normalized state after each of its steps ({@link snapshot}); a faulted run whose state after a
 * step is the clean run's is the clean run from there on, so its row converged, and the same run
 * carries on with another row whose site comes later in the story.
 *
 * Notifications are delivered at least once (the registry's outbox, core/use-cases/
 * notification-outbox.ts): after a Publish that took effect but answered with an error, the
 * reconciler sends it again with the same notification id. {@link notificationCheck} counts such a
 * copy once and the row converges with {@link RESENT_NOTE}; every other second copy is doubled.
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SageMakerClient } from '@aws-sdk/client-sagemaker';
import { SNSClient } from '@aws-sdk/client-sns';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import {
  endpointStateChangeEvent,
  objectCreatedEvent,
  trainingJobStateChangeEvent,
} from '../../../adapters/aws/redelivered-events';
import { BUCKET_PREFIXES } from '../../../core/domain/naming';
import type { AuditEvent, DatasetRecord, ModelRecord, VersionRecord } from '../../../core/domain/registry';
import type { EventRedelivery, RedeliveredObject } from '../../../core/ports/event-redelivery';
import type { InventoryObject, InventoryPage, ObjectInventory } from '../../../core/ports/object-inventory';
import type { RegistryStore } from '../../../core/ports/registry-store';
import { silentLog, type MlopsContext } from '../../../core/use-cases/context';
import { datasetIdentity, Reconcile } from '../../../core/use-cases/reconcile';
import { createEndpointEventsHandler } from '../../../lambdas/endpoint-events/handler';
import { createIngestHandler } from '../../../lambdas/ingest/handler';
import { createAwsContext } from '../../../lambdas/shared/aws-context';
import { createTrainingEventsHandler } from '../../../lambdas/training-events/handler';
import { FUNCTION_ASYNC_RETRY_ATTEMPTS } from '../../../lib/constructs/event-handler';
import { INGEST_MAX_RECEIVE_COUNT } from '../../../lib/constructs/ingest-pipeline';
import { dynamoDbLocalClientConfig } from '../../../local/services/dynamodb-local';
import { s3ClientConfig } from '../../../local/services/s3-server';
import {
  AwsCallJournal,
  instrumentMockedClient,
  instrumentSdkClient,
  type AwsService,
  type FaultKind,
  type RecordedCall,
} from '../../support/aws-call-journal';
import {
  endpointEvent,
  lambdaContext,
  ROLE_ARN,
  sqsBatch,
  TOPIC_ARN,
  trainingEvent,
  type PipelineHarness,
} from '../../support/pipeline-harness';
import {
  runPipelineScenario,
  SCENARIO_MODELS,
  scenarioModels,
  type PipelineScenario,
  type ScenarioCall,
  type ScenarioHandler,
  type ScenarioJobOutcome,
  type ScenarioStep,
  type ScenarioStory,
} from './pipeline-scenario';

/**
 * How many times AWS delivers one event at most, the first delivery included, per handler:
 * ingest's SQS queue redelivers a failed message up to its maxReceiveCount, then moves it to the
 * dead-letter queue; an EventBridge rule invokes its function asynchronously and Lambda retries a
 * failed invocation FUNCTION_ASYNC_RETRY_ATTEMPTS times, then sends it to the function's
 * dead-letter queue (the drift monitor's schedule alike); an operator whose approval fails runs
 * the command once more.
 */
export const AWS_REDELIVERY: Readonly<Record<ScenarioHandler, number>> = {
  ingest: INGEST_MAX_RECEIVE_COUNT,
  'training-events': 1 + FUNCTION_ASYNC_RETRY_ATTEMPTS,
  'endpoint-events': 1 + FUNCTION_ASYNC_RETRY_ATTEMPTS,
  'alarm-events': 1 + FUNCTION_ASYNC_RETRY_ATTEMPTS,
  monitor: 1 + FUNCTION_ASYNC_RETRY_ATTEMPTS,
  approval: 2,
};

/** Default end of a training job the scenario did not decide on (one started late). */
const DEFAULT_JOB_OUTCOME: ScenarioJobOutcome = { metrics: { 'validation:auc': 0.9 } };

/** Rounds of "SageMaker settles, events are delivered, the reconciler runs" after the scenario. */
const REST_ROUNDS = 4;

// ------------------------------------------------------------------------------------------------
// Call sites

/**
 * A place in the handlers' code that calls AWS: the handler, the use-case method (and line) that
 * made the call, the port method it went through, and the API operation. Read from the call's
 * JavaScript stack ({@link siteKeyOf}).
 */
export interface CallSite {
  /** `handler | caller | port | service.operation`: the site's identity. */
  readonly id: string;
  readonly handler: ScenarioHandler;
  readonly service: AwsService;
  readonly operation: string;
  /** The innermost use-case frame, e.g. `DeployVersion.applyToEndpoint:129`. */
  readonly caller: string;
  /** The port method, e.g. `endpoints.createEndpoint`. */
  readonly port: string;
  /** The scenario step of its first occurrence in the clean run. */
  readonly step: string;
  /** That step's story, and its place among the story's steps (0 for the first). */
  readonly story: ScenarioStory;
  readonly ordinal: number;
  /** How often the clean run made the call there. */
  readonly occurrences: number;
}

/** Adapter classes and the port they implement. */
const PORTS: Readonly<Record<string, string>> = {
  DynamoDbRegistryStore: 'registry',
  S3ObjectStore: 'objects',
  SageMakerTrainingService: 'training',
  SageMakerEndpointService: 'endpoints',
  CloudWatchAlarmService: 'alarms',
  SnsNotifier: 'notifier',
};

interface Frame {
  readonly fn: string;
  readonly file: string;
  readonly line: number;
}

function frames(stack: string): Frame[] {
  const out: Frame[] = [];
  for (const line of stack.split('\n')) {
    const named = /^\s*at (?:async )?(.+?) \((.+):(\d+):\d+\)$/.exec(line);
    const anonymous = named ? undefined : /^\s*at (?:async )?(.+):(\d+):\d+$/.exec(line);
    if (named) out.push({ fn: named[1]!, file: named[2]!, line: Number(named[3]) });
    else if (anonymous) out.push({ fn: '<anonymous>', file: anonymous[1]!, line: Number(anonymous[2]) });
  }
  return out;
}

const inAdapters = (f: Frame) => /\/adapters\//.test(f.file);
const inCore = (f: Frame) => /\/core\//.test(f.file);
/** The notification outbox's own frames: plumbing every notifying use case shares. */
const inOutbox = (f: Frame) => /\/core\/use-cases\/notification-outbox\.ts$/.test(f.file);

/**
 * The site key of a call made at `stack`: caller and port method (the handler comes from the step).
 * A call the notification outbox makes (its Query, claim, Publish, completion) is sited at the
 * use-case line that flushed it, not in the outbox, so each notification stays a site of its own.
 */
export function siteKeyOf(stack: string): { caller: string; port: string } {
  const all = frames(stack);
  const first = all.findIndex(inAdapters);
  let port = '(no adapter frame)';
  let rest = all;
  if (first >= 0) {
    let last = first;
    while (last + 1 < all.length && inAdapters(all[last + 1]!)) last++;
    const adapter = all[last]!;
    const [cls, method] = adapter.fn.split('.');
    port = `${PORTS[cls ?? ''] ?? cls}.${method ?? adapter.fn}`;
    rest = all.slice(last + 1);
  }
  const core = rest.find((f) => inCore(f) && !inOutbox(f));
  // lib-storage's Upload sends its PutObject from its own queue: no use-case frame is on the stack.
  const caller = core ? `${core.fn}:${core.line}` : '(off the await chain)';
  return { caller, port };
}

function siteId(handler: ScenarioHandler, key: { caller: string; port: string }, call: RecordedCall): string {
  return `${handler} | ${key.caller} | ${key.port} | ${call.service}.${call.operation}`;
}

/** The call sites of a clean run (journal created with stacks), in order of first occurrence. */
export function callSites(calls: readonly ScenarioCall[], steps: readonly ScenarioStep[]): CallSite[] {
  const place = new Map<string, { story: ScenarioStory; ordinal: number }>();
  const counters = new Map<ScenarioStory, number>();
  for (const step of steps) {
    if (step.attempt !== 1 || place.has(step.name)) continue;
    const ordinal = counters.get(step.story) ?? 0;
    counters.set(step.story, ordinal + 1);
    place.set(step.name, { story: step.story, ordinal });
  }
  const sites = new Map<string, CallSite>();
  for (const call of calls) {
    if (!call.stack) throw new Error('callSites needs a journal that records stacks');
    const key = siteKeyOf(call.stack);
    const id = siteId(call.handler, key, call);
    const seen = sites.get(id);
    if (seen) {
      sites.set(id, { ...seen, occurrences: seen.occurrences + 1 });
      continue;
    }
    const where = place.get(call.step);
    if (!where) throw new Error(`no step "${call.step}" in the clean run`);
    sites.set(id, {
      id,
      handler: call.handler,
      service: call.service,
      operation: call.operation,
      ...key,
      step: call.step,
      ...where,
      occurrences: 1,
    });
  }
  return [...sites.values()];
}

// ------------------------------------------------------------------------------------------------
// One run ("stack") on the shared harness

/** A run's own clients, journal and context on the shared servers. */
export interface RunSession {
  readonly suffix: string;
  readonly journal: AwsCallJournal;
  readonly ctx: MlopsContext;
  /** The harness as the scenario sees it: the run's journal and context, the shared servers. */
  readonly harness: PipelineHarness;
  /** Which handler is running (faults are planned per handler). */
  handler: ScenarioHandler | 'reconciler' | undefined;
  close(): void;
}

export function openSession(
  harness: PipelineHarness,
  suffix: string,
  options: { stacks?: boolean; models: readonly string[] },
): RunSession {
  const journal = new AwsCallJournal({ stacks: options.stacks ?? false });
  const clients = {
    dynamodb: new DynamoDBClient(dynamoDbLocalClientConfig(harness.dynamo.endpoint)),
    s3: new S3Client(s3ClientConfig(harness.s3.endpoint)),
    sagemaker: new SageMakerClient({ region: 'us-east-1' }),
    cloudwatch: new CloudWatchClient({ region: 'us-east-1' }),
    sns: new SNSClient({ region: 'us-east-1' }),
  };
  instrumentSdkClient(clients.dynamodb, 'dynamodb', journal);
  instrumentSdkClient(clients.s3, 's3', journal);
  instrumentMockedClient(clients.sagemaker, 'sagemaker', journal);
  instrumentMockedClient(clients.cloudwatch, 'cloudwatch', journal);
  instrumentMockedClient(clients.sns, 'sns', journal);
  const base = createAwsContext(
    silentLog,
    {
      dataBucket: harness.s3.bucket,
      registryTable: harness.table,
      resourcePrefix: 'mlops',
      sageMakerRoleArn: ROLE_ARN,
      notificationTopicArn: TOPIC_ARN,
      region: 'us-east-1',
    },
    clients,
  );
  const ctx: MlopsContext = { ...base, registry: ownModelsOnly(base.registry, new Set(options.models)) };
  const session: RunSession = {
    suffix,
    journal,
    ctx,
    harness: { ...harness, journal, context: () => ctx },
    handler: undefined,
    close() {
      clients.dynamodb.destroy();
      clients.s3.destroy();
    },
  };
  return session;
}

/** The registry as one run's stack sees it: the fleet-wide listings hold its own models only. */
function ownModelsOnly(registry: RegistryStore, models: ReadonlySet<string>): RegistryStore {
  return new Proxy(registry, {
    get(target, property, receiver) {
      if (property === 'listVersionsByStatus')
        return async (...args: Parameters<RegistryStore['listVersionsByStatus']>) =>
          (await target.listVersionsByStatus(...args)).filter((v) => models.has(v.model));
      if (property === 'listOpenIncidents')
        return async () => (await target.listOpenIncidents()).filter((i) => models.has(i.model));
      if (property === 'listPendingNotificationsBefore')
        return async (...args: Parameters<RegistryStore['listPendingNotificationsBefore']>) =>
          (await target.listPendingNotificationsBefore(...args)).filter((n) => models.has(n.model));
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** The handlers a run's stack delivers events to outside the scenario's script. */
interface RunHandlers {
  readonly ingest: ReturnType<typeof createIngestHandler>;
  readonly training: ReturnType<typeof createTrainingEventsHandler>;
  readonly endpoints: ReturnType<typeof createEndpointEventsHandler>;
}

/** An event delivered as AWS would: again on failure, up to the handler's deliveries. */
async function deliver(
  session: RunSession,
  handler: ScenarioHandler,
  invoke: () => Promise<unknown>,
  deadLettered: string[],
  what: string,
): Promise<void> {
  const previous = session.handler;
  let failure: string | undefined;
  for (let attempt = 1; attempt <= AWS_REDELIVERY[handler]; attempt++) {
    session.handler = handler;
    failure = undefined;
    try {
      const outcome = await invoke();
      const failed = (outcome as { batchItemFailures?: unknown[] } | undefined)?.batchItemFailures;
      if (failed && failed.length > 0) failure = 'batch item failed';
    } catch (error) {
      failure = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    }
    if (failure === undefined) break;
  }
  session.handler = previous;
  if (failure !== undefined) deadLettered.push(`${what}: ${failure}`);
}

/** The reconciler's re-deliveries, to the run's handlers, through AWS's delivery. */
class RunRedelivery implements EventRedelivery {
  private readonly origin = { region: 'us-east-1', account: '123456789012' };
  constructor(
    private readonly session: RunSession,
    private readonly handlers: RunHandlers,
    private readonly deadLettered: string[],
  ) {}

  async objectCreated(object: RedeliveredObject): Promise<void> {
    const event = objectCreatedEvent(object, this.origin);
    await deliver(
      this.session,
      'ingest',
      () => this.handlers.ingest(sqsBatch(event), lambdaContext),
      this.deadLettered,
      `re-delivered upload ${object.key}`,
    );
  }

  async trainingJobStateChange(change: { jobName: string; status: string }): Promise<void> {
    const event = trainingJobStateChangeEvent(change, this.origin);
    await deliver(
      this.session,
      'training-events',
      () => this.handlers.training(event, lambdaContext),
      this.deadLettered,
      `re-delivered training event ${change.jobName}`,
    );
  }

  async endpointStateChange(change: { endpointName: string; status: string; configName?: string }) {
    const event = endpointStateChangeEvent(change, this.origin);
    await deliver(
      this.session,
      'endpoint-events',
      () => this.handlers.endpoints(event, lambdaContext),
      this.deadLettered,
      `re-delivered endpoint event ${change.endpointName}`,
    );
  }
}

/** The run's uploads under `datasets/`, as the bucket would list them (with their identities). */
class UploadInventory implements ObjectInventory {
  constructor(private readonly objects: readonly InventoryObject[]) {}

  listPage(
    _bucket: string,
    prefix: string,
    options: { readonly startAfter?: string; readonly maxKeys: number },
  ): Promise<InventoryPage> {
    const after = options.startAfter;
    const matching = this.objects
      .filter((o) => o.key.startsWith(prefix) && (after === undefined || o.key > after))
      .sort((a, b) => (a.key < b.key ? -1 : 1));
    return Promise.resolve({
      objects: matching.slice(0, options.maxKeys),
      truncated: matching.length > options.maxKeys,
    });
  }
}

/** What {@link driveToRest} did. */
export interface RestOutcome {
  /** Handler invocations it made (SageMaker's events and the reconciler's re-deliveries). */
  readonly deliveries: number;
  readonly reconciled: readonly string[];
  readonly deadLettered: readonly string[];
}

/**
 * After the scenario: until nothing moves (at most {@link REST_ROUNDS} rounds), SageMaker finishes
 * the run's training jobs and rollouts still in flight (as the scenario meant them to end) and
 * their events are delivered; then the reconciler runs, its clock 20 minutes further each round.
 */
export async function driveToRest(
  session: RunSession,
  scenario: PipelineScenario,
  startedAt: Date,
): Promise<RestOutcome> {
  const { ctx, harness } = session;
  const aws = harness.aws;
  const models = new Set(Object.values(scenario.models));
  const mine = (name: string) => models.has(ctx.names.parseTrainingJob(name)?.model ?? '');
  const myEndpoint = (name: string) => models.has(ctx.names.modelFromEndpoint(name) ?? '');
  let deliveries = 0;
  const ingest = createIngestHandler(() => ctx);
  const training = createTrainingEventsHandler(() => ctx);
  const endpoints = createEndpointEventsHandler(() => ctx);
  const handlers: RunHandlers = {
    ingest: (event, context) => (deliveries++, ingest(event, context)),
    training: (event, context) => (deliveries++, training(event, context)),
    endpoints: (event, context) => (deliveries++, endpoints(event, context)),
  };
  const deadLettered: string[] = [];
  const reconciled: string[] = [];
  // The bucket's listing of the run's uploads, each with the identity its event carried (a
  // versioned bucket lists version ids; s3rver keeps none, so the listing is the run's own record).
  const inventory = new UploadInventory(
    scenario.uploads
      .filter((u) => u.key.startsWith(BUCKET_PREFIXES.datasets))
      .map((u) => ({ ...u, lastModified: startedAt })),
  );
  for (let round = 1; round <= REST_ROUNDS; round++) {
    const before = deliveries;
    // SageMaker finishes what is in flight, and EventBridge delivers its events.
    for (const [name, job] of aws.jobs) {
      if (!mine(name) || job.status !== 'InProgress') continue;
      const outcome = scenario.jobOutcomes.get(name) ?? DEFAULT_JOB_OUTCOME;
      aws.finishJob(name, outcome);
      const status = 'failureReason' in outcome ? 'Failed' : 'Completed';
      await deliver(
        session,
        'training-events',
        () => handlers.training(trainingEvent(name, status), lambdaContext),
        deadLettered,
        `training event ${name}`,
      );
    }
    for (const [name, endpoint] of aws.endpoints) {
      if (!myEndpoint(name) || (endpoint.status !== 'Creating' && endpoint.status !== 'Updating')) continue;
      aws.settleEndpoint(name, 'in-service');
      await deliver(
        session,
        'endpoint-events',
        () => handlers.endpoints(endpointEvent(name), lambdaContext),
        deadLettered,
        `endpoint event ${name}`,
      );
    }
    // The reconciler's scheduled run, 20 minutes on.
    session.handler = 'reconciler';
    const at = new Date(Date.now() + round * 20 * 60_000);
    const outcome = await new Reconcile(
      { ...ctx, clock: { now: () => at } },
      { redelivery: new RunRedelivery(session, handlers, deadLettered), inventory },
    ).execute();
    session.handler = undefined;
    for (const repair of outcome.versions)
      reconciled.push(`${repair.kind} ${repair.model} v${repair.version}`);
    for (const repair of outcome.datasets?.redelivered ?? []) reconciled.push(`upload ${repair.key}`);
    for (const sent of outcome.notifications) reconciled.push(`notification ${sent.kind} ${sent.model}`);
    for (const failure of outcome.failures) reconciled.push(`failed: ${failure.what}: ${failure.error}`);
    const moved =
      deliveries > before ||
      outcome.versions.length > 0 ||
      outcome.notifications.length > 0 ||
      outcome.failures.length > 0;
    if (!moved) break;
  }
  return { deliveries, reconciled, deadLettered };
}

// ------------------------------------------------------------------------------------------------
// State: snapshots (early stop) and end states (judgement)

/** A model's items in the registry, as stored. */
async function registryItems(harness: PipelineHarness, model: string): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await harness.dynamo.documentClient.send(
      new QueryCommand({
        TableName: harness.table,
        KeyConditionExpression: 'PK = :pk',
        ExpressionAttributeValues: { ':pk': `MODEL#${model}` },
        ConsistentRead: true,
        ...(start ? { ExclusiveStartKey: start } : {}),
      }),
    );
    items.push(...((page.Items ?? []) as Record<string, unknown>[]));
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}

/** Operations whose effect a second time is a second effect (not an idempotent overwrite). */
const COUNTED_EFFECTS = new Set([
  'Publish',
  'CreateEndpoint',
  'UpdateEndpoint',
  'DeleteEndpoint',
  'CreateTrainingJob',
]);
/** Operations that overwrite (or refuse a second time): their effect is the set of what they wrote. */
const IDEMPOTENT_EFFECTS = new Set(['PutObject', 'PutMetricAlarm', 'CreateModel', 'CreateEndpointConfig']);

/** A request field as text: a string as is, anything else as its JSON (not `[object Object]`). */
function fieldText(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function effectOf(call: RecordedCall): string {
  const i = call.input;
  switch (call.operation) {
    case 'Publish':
      return `Publish ${String(i.Subject)}`;
    case 'PutObject':
      return `PutObject ${String(i.Key)}`;
    case 'PutMetricAlarm':
      return `PutMetricAlarm ${String(i.AlarmName)}`;
    default:
      return `${call.operation} ${fieldText(i.EndpointName ?? '')} ${fieldText(i.EndpointConfigName ?? i.TrainingJobName ?? i.ModelName ?? '')}`;
  }
}

/**
 * Everything a run did to one model, normalized so that two runs under different suffixes (and at
 * different times) compare equal when they did the same: the model's registry items, SageMaker's
 * and CloudWatch's state of its resources, the effects of the calls about it (counted ones as a
 * list, overwrites as a set), what the monitor published, the events that went to a dead-letter
 * queue.
 */
export async function snapshot(
  session: RunSession,
  model: string,
  extra: { readonly published: number; readonly deadLettered: number },
): Promise<string> {
  const items = await registryItems(session.harness, model);
  const aws = session.harness.aws;
  const owned = (name: string) => name.includes(`-${model}-`) || name.endsWith(`-${model}`);
  const effects = session.journal.calls.filter((c) => c.outcome === 'ok').map((c) => ({ c, e: effectOf(c) }));
  const state = {
    registry: items.map((item) => JSON.stringify(item)),
    jobs: [...aws.jobs]
      .filter(([n]) => owned(n))
      .map(([n, j]) => `${n} ${j.status} ${j.failureReason ?? ''}`),
    models: [...aws.models].filter(owned),
    configs: [...aws.configs].filter(owned),
    endpoints: [...aws.endpoints]
      .filter(([n]) => owned(n))
      .map(([n, e]) => `${n} ${e.config} ${e.pending ?? ''} ${e.status}`),
    alarms: [...aws.alarms].filter(([n]) => owned(n)).map(([n, a]) => `${n} ${a.state}`),
    counted: effects
      .filter(({ c, e }) => COUNTED_EFFECTS.has(c.operation) && e.includes(model))
      .map(({ e }) => e),
    overwritten: [
      ...new Set(
        effects
          .filter(({ c, e }) => IDEMPOTENT_EFFECTS.has(c.operation) && e.includes(model))
          .map(({ e }) => e),
      ),
    ],
    ...extra,
  };
  const normalized = Object.fromEntries(
    Object.entries(state).map(([k, v]) => [
      k,
      Array.isArray(v) ? v.map((x: string) => normalize(x, session.suffix)).sort() : v,
    ]),
  );
  // The counted effects keep their order: a second Publish is a second notification.
  normalized.counted = state.counted.map((x) => normalize(x, session.suffix));
  return JSON.stringify(normalized);
}

/** Drops what differs between runs that did the same: the suffix, times, hashes, sequencers. */
function normalize(text: string, suffix: string): string {
  return text
    .replaceAll(`-${suffix}`, '')
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z/g, 'T')
    .replace(/\d{8}T\d{6}Z/g, 'T')
    .replace(/\b[0-9a-f]{4,}\b/g, 'H');
}

/** A model's end state, read for the judgement. */
export interface ModelEnd {
  readonly record: ModelRecord | undefined;
  readonly versions: VersionRecord[];
  readonly datasets: DatasetRecord[];
  readonly audit: AuditEvent[];
  readonly incidents: { alarmName: string; status: string }[];
}

export async function modelEnd(harness: PipelineHarness, model: string): Promise<ModelEnd> {
  const items = await registryItems(harness, model);
  const of = <T>(entity: string) =>
    items
      .filter((i) => i.entity === entity)
      .map((i) => {
        const record: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(i))
          if (!['PK', 'SK', 'GSI1PK', 'GSI1SK', 'entity'].includes(k)) record[k] = v;
        return record as T;
      });
  return {
    record: of<ModelRecord>('MODEL')[0],
    versions: of<VersionRecord>('VERSION').sort((a, b) => a.version - b.version),
    datasets: of<DatasetRecord>('DATASET'),
    audit: of<AuditEvent>('EVENT'),
    incidents: of<{ alarmName: string; status: string }>('INCIDENT'),
  };
}

// ------------------------------------------------------------------------------------------------
// Judgement

export type RowVerdict = 'converged' | 'recorded-failure' | 'VIOLATION';

/**
 * First line of the detail of a row whose run sent a notification twice with the same id after a
 * Publish that took effect but answered with an error: allowed, delivery is at least once.
 */
export const RESENT_NOTE = 'converged (notification re-sent after an ambiguous Publish)';

export interface RowResult {
  readonly site: CallSite;
  readonly kind: FaultKind;
  readonly verdict: RowVerdict;
  /** Why: the invariants broken, or the failures recorded, or how it converged. */
  readonly detail: readonly string[];
  /** From the fault's planning to the verdict. */
  readonly ms: number;
}

/** Statuses a run may not end in: work left half done. */
const STUCK = new Set(['TRAINING', 'TRAINED', 'DEPLOYING']);
/** Statuses that record a failure, with a reason. */
const FAILED = new Set(['FAILED', 'DEPLOY_FAILED', 'ROLLED_BACK', 'REJECTED']);

/** Audit lines that come with a notification, and the notification's kind. */
const NOTIFIED: Readonly<Record<string, string>> = {
  DATASET_REJECTED: 'dataset-rejected',
  TRAINING_FAILED: 'training-failed',
  GATE_REJECTED: 'version-rejected',
  GATE_PENDING_APPROVAL: 'approval-needed',
  PROMOTED: 'version-promoted',
  DEPLOY_FAILED: 'deployment-failed',
  ROLLED_BACK: 'deployment-failed',
  INCIDENT_OPENED: 'incident-opened',
  INCIDENT_RESOLVED: 'incident-resolved',
};

/** A finished run, one story's model. */
export interface RunFacts {
  readonly session: RunSession;
  readonly scenario: PipelineScenario;
  readonly story: ScenarioStory;
  readonly model: string;
  readonly end: ModelEnd;
}

/** Every invariant the end of a run breaks, each a sentence naming the base model. */
export function violations(facts: RunFacts, bucket: string): string[] {
  const { session, scenario, model, end } = facts;
  const { versions, datasets, record } = end;
  const m = SCENARIO_MODELS[facts.story];
  const out: string[] = [];
  const calls = session.journal.calls.filter((c) => c.outcome === 'ok');
  // Stuck, and the rollout lock.
  for (const v of versions) {
    if (STUCK.has(v.status)) out.push(`stuck: ${m} v${v.version} left ${v.status}`);
    if (v.status === 'APPROVED' && (record?.champion === undefined || v.version > record.champion))
      out.push(`stuck: ${m} v${v.version} left APPROVED, never rolled out`);
    if (FAILED.has(v.status) && !v.failureReason)
      out.push(`unrecorded: ${m} v${v.version} is ${v.status} without a reason`);
  }
  if (record?.challenger !== undefined) out.push(`lock held: ${m} challenger v${record.challenger}`);
  // Every upload became one dataset record (accepted with its version, or rejected with a reason).
  const expected = new Set<string>();
  for (const upload of scenario.uploads.filter((u) =>
    u.key.startsWith(`${BUCKET_PREFIXES.datasets}${model}/`),
  )) {
    const identity = datasetIdentity(bucket, upload);
    if (!identity) continue;
    const key = upload.key.replace(model, m);
    expected.add(identity.datasetId);
    const dataset = datasets.find((d) => d.datasetId === identity.datasetId);
    if (!dataset) out.push(`lost: upload ${key} has no dataset record`);
    else if (dataset.status === 'REJECTED' && !dataset.rejection?.reason)
      out.push(`unrecorded: the dataset of ${key} is REJECTED without a reason`);
    else if (dataset.status === 'ACCEPTED' && !versions.some((v) => v.version === dataset.version))
      out.push(`lost: the dataset of ${key} was accepted without its version`);
  }
  for (const d of datasets)
    if (!expected.has(d.datasetId)) out.push(`doubled: ${m} has a dataset record no upload accounts for`);
  // One version per dataset, one training job per version.
  const perDataset = new Map<string, number>();
  for (const v of versions) perDataset.set(v.datasetId, (perDataset.get(v.datasetId) ?? 0) + 1);
  for (const n of perDataset.values()) if (n > 1) out.push(`doubled: ${m} has ${n} versions of one dataset`);
  for (const job of session.harness.aws.jobs.keys()) {
    if (session.ctx.names.parseTrainingJob(job)?.model !== model) continue;
    if (!versions.some((v) => v.trainingJobName === job))
      out.push(`doubled: ${m} has a training job of no version`);
  }
  const started = calls.filter((c) => c.operation === 'CreateTrainingJob');
  for (const v of versions) {
    const n = started.filter((c) => c.input.TrainingJobName === v.trainingJobName).length;
    if (n > 1) out.push(`doubled: ${m} v${v.version} training job created ${n} times`);
    const refused = v.status === 'FAILED' && /refused the training job/.test(v.failureReason ?? '');
    if (n === 0 && !refused) out.push(`lost: ${m} v${v.version} training job never created`);
  }
  // One endpoint call applied per rollout.
  const endpoint = session.ctx.names.endpoint(model);
  const applied = calls.filter(
    (c) =>
      (c.operation === 'CreateEndpoint' || c.operation === 'UpdateEndpoint') &&
      c.input.EndpointName === endpoint,
  );
  for (const v of versions) {
    if (!v.endpointConfigName) continue;
    const n = applied.filter((c) => c.input.EndpointConfigName === v.endpointConfigName).length;
    if (n > 1) out.push(`doubled: ${m} v${v.version} rollout applied ${n} times`);
    if (n === 0 && (v.status === 'PRODUCTION' || v.status === 'ARCHIVED'))
      out.push(`lost: ${m} v${v.version} is ${v.status} but its rollout was never applied`);
  }
  // One notification per recorded transition (a copy re-sent after an ambiguous Publish allowed).
  out.push(...notificationCheck(facts).violations);
  // A model in production watches itself.
  if (record?.champion !== undefined) {
    const alarms = session.ctx.names.alarms(model);
    if (!record.alarmsCreated || !session.harness.aws.alarms.has(alarms.errorRate))
      out.push(`lost: ${m} serves v${record.champion} without its alarms`);
  }
  // Incidents: one per alarm episode, resolved once the alarm is OK.
  const opened = end.audit.filter((a) => a.type === 'INCIDENT_OPENED').length;
  if (end.incidents.length !== opened)
    out.push(`doubled: ${m} has ${end.incidents.length} incidents for ${opened} openings`);
  for (const incident of end.incidents) {
    const alarm = session.harness.aws.alarms.get(incident.alarmName);
    if (incident.status === 'OPEN' && alarm?.state === 'OK')
      out.push(`lost: ${m} incident still OPEN, its alarm is OK`);
  }
  // The drift monitor's window: its summary written (the monitor ran on a champion).
  if (scenario.steps.some((s) => s.handler === 'monitor') && facts.story === 'main') {
    const written = calls.some(
      (c) => c.operation === 'PutObject' && /\/monitoring\/.*\/drift\.json$/.test(String(c.input.Key)),
    );
    if (!written && record?.champion !== undefined) out.push(`lost: ${m} drift window never summarized`);
  }
  return out;
}

/** The message attribute holding a notification's id (adapters/aws/sns-notifier.ts). */
const NOTIFICATION_ID = 'mlops.notificationId';

/**
 * The notifications of a run's model against the transitions its audit trail records: one each.
 * Delivery is at least once: a Publish that took effect but whose caller got an error instead of
 * the response (`responseLost`, the table's timeout) is sent again once its claim ends, with the
 * same notification id. Such copies count once (listed in `resent`); any other second Publish of
 * a transition (another id, or the same id without an ambiguous Publish before it) is doubled.
 */
export function notificationCheck(facts: RunFacts): { violations: string[]; resent: string[] } {
  const { session, model, end } = facts;
  const m = SCENARIO_MODELS[facts.story];
  const violations: string[] = [];
  const resent: string[] = [];
  const key = (kind: string, version: string | number | undefined) =>
    `${kind}${version !== undefined && !kind.startsWith('incident') && kind !== 'dataset-rejected' ? ` v${version}` : ''}`;
  const want = new Map<string, number>();
  for (const line of end.audit) {
    const kind = NOTIFIED[line.type];
    if (kind) want.set(key(kind, line.version), (want.get(key(kind, line.version)) ?? 0) + 1);
  }
  /** Per key: the notification ids of the Publishes that took effect (undefined: sent without one). */
  const sent = new Map<string, (string | undefined)[]>();
  /** Ids of Publishes that took effect and whose caller was told they failed. */
  const ambiguous = new Set<string>();
  for (const c of session.journal.calls.filter((c) => c.operation === 'Publish' && c.outcome === 'ok')) {
    const attributes = c.input.MessageAttributes as Record<string, { StringValue?: string }>;
    if (attributes.model?.StringValue !== model) continue;
    const id = attributes[NOTIFICATION_ID]?.StringValue;
    const k = key(attributes.kind?.StringValue ?? '?', /\bv(\d+)\b/.exec(String(c.input.Subject))?.[1]);
    // A copy counts once only when an ambiguous Publish of the same id came before it.
    const allowed = id !== undefined && ambiguous.has(id) && (sent.get(k) ?? []).includes(id);
    if (allowed) resent.push(`re-sent: ${m} notification ${k} (same id after an ambiguous Publish)`);
    else sent.set(k, [...(sent.get(k) ?? []), id]);
    if (id !== undefined && c.responseLost !== undefined) ambiguous.add(id);
  }
  for (const k of new Set([...want.keys(), ...sent.keys()])) {
    const w = want.get(k) ?? 0;
    const g = sent.get(k)?.length ?? 0;
    if (g < w) violations.push(`lost: ${m} notification ${k} (${g} sent for ${w} transitions)`);
    if (g > w) violations.push(`doubled: ${m} notification ${k} (${g} sent for ${w} transitions)`);
  }
  return { violations, resent };
}

/** How a run's end differs from the clean run's: versions, datasets, incidents. */
export function differences(run: RunFacts, clean: RunFacts): { changed: string[]; failures: string[] } {
  const changed: string[] = [];
  const failures: string[] = [];
  const m = SCENARIO_MODELS[run.story];
  const mine = run.end.versions;
  const theirs = clean.end.versions;
  for (let n = 1; n <= Math.max(mine.length, theirs.length); n++) {
    const a = mine.find((v) => v.version === n);
    const b = theirs.find((v) => v.version === n);
    if (a?.status === b?.status) continue;
    changed.push(`${m} v${n} ${a?.status ?? 'missing'} (clean: ${b?.status ?? 'missing'})`);
    if (a && FAILED.has(a.status) && a.failureReason)
      failures.push(`${m} v${n} ${a.status}: ${a.failureReason}`);
  }
  /** The upload's name under its model's folder (the model names differ between runs). */
  const file = (d: DatasetRecord) => d.sourceUri.split('/').slice(5).join('/');
  const statuses = (list: DatasetRecord[]) => list.map((d) => `${file(d)} ${d.status}`).sort();
  const da = statuses(run.end.datasets);
  const db = statuses(clean.end.datasets);
  if (JSON.stringify(da) !== JSON.stringify(db)) {
    changed.push(`${m} datasets ${da.join(', ')} (clean: ${db.join(', ')})`);
    for (const d of run.end.datasets)
      if (d.status === 'REJECTED' && !db.includes(`${file(d)} REJECTED`))
        failures.push(`${m} dataset ${file(d)} REJECTED: ${d.rejection?.reason ?? ''}`);
  }
  const ia = run.end.incidents.map((i) => i.status).sort();
  const ib = clean.end.incidents.map((i) => i.status).sort();
  if (JSON.stringify(ia) !== JSON.stringify(ib))
    changed.push(`${m} incidents ${ia.join(', ')} (clean: ${ib.join(', ')})`);
  return { changed, failures };
}

// ------------------------------------------------------------------------------------------------
// The clean run and the table

/** The clean run: call sites, the state after each step, the end of each story. */
export interface CleanRun {
  readonly sites: readonly CallSite[];
  /** Per story, the normalized state of its model after each of its steps, in order. */
  readonly snapshots: Readonly<
    Record<ScenarioStory, readonly { readonly step: string; readonly state: string }[]>
  >;
  readonly ends: Readonly<Record<ScenarioStory, RunFacts>>;
  /** Checks that did not hold, events dead-lettered, repairs needed, invariants broken: none expected. */
  readonly problems: readonly string[];
  readonly ms: number;
}

const STORIES: readonly ScenarioStory[] = ['main', 'folder', 'approval'];
let runCounter = 0;

/**
 * Runs the whole scenario without a fault, driven exactly as the faulted runs are: enumerates the
 * call sites, records each story's state after each of its steps, and ends as every row is
 * compared with.
 */
export async function runClean(harness: PipelineHarness): Promise<CleanRun> {
  const started = Date.now();
  const suffix = `c${++runCounter}`;
  const models = scenarioModels(suffix);
  const session = openSession(harness, suffix, { stacks: true, models: Object.values(models) });
  const snapshots: Record<ScenarioStory, { step: string; state: string }[]> = {
    main: [],
    folder: [],
    approval: [],
  };
  try {
    const scenario = await runPipelineScenario(session.harness, {
      suffix,
      redelivery: AWS_REDELIVERY,
      monitor: 'scheduled',
      beforeStep: (_name, handler) => void (session.handler = handler),
      afterStep: async (step, _index, progress) => {
        const extra = { published: step.story === 'main' ? progress.published : 0, deadLettered: 0 };
        snapshots[step.story].push({
          step: step.name,
          state: await snapshot(session, models[step.story], extra),
        });
        return true;
      },
    });
    const rest = await driveToRest(session, scenario, new Date());
    const ends = {} as Record<ScenarioStory, RunFacts>;
    const problems = [
      ...scenario.deviations,
      ...scenario.deadLettered.map((d) => `dead-lettered: ${d.step}: ${d.error}`),
      ...(rest.deliveries > 0 ? [`needed repairs: ${rest.reconciled.join('; ')}`] : []),
    ];
    for (const story of STORIES) {
      const model = models[story];
      ends[story] = { session, scenario, story, model, end: await modelEnd(harness, model) };
      problems.push(...violations(ends[story], harness.s3.bucket));
    }
    return {
      sites: callSites(scenario.calls, scenario.steps),
      snapshots,
      ends,
      problems,
      ms: Date.now() - started,
    };
  } finally {
    session.close();
  }
}

/** The stack here, deep enough to reach the handler (the call-site key reads it). */
function deepStack(): string {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 60;
  try {
    return new Error('fault site').stack ?? '';
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** One row of the table: a fault of `kind` at the first call made at `site`. */
export interface FaultRow {
  readonly site: CallSite;
  readonly kind: FaultKind;
}

/**
 * Runs every row and judges it. A run plays one story of the scenario with one fault planned; as
 * soon as the fault has been thrown and the story's state after a step is the clean run's state
 * after that step, the row converged (from there on the run is the clean run), and the same run
 * goes on with the next row whose site first occurs in a later step of the story (its fault is
 * planned then; the run up to there is the clean run's, so the row is as if run alone). A row
 * whose state does not come back to the clean run's is played to the end: the scenario, then
 * {@link driveToRest}, then the judgement ({@link violations}, {@link differences}).
 */
export async function runTable(
  harness: PipelineHarness,
  clean: CleanRun,
  rows: readonly FaultRow[],
  concurrency: number,
): Promise<{ results: RowResult[]; runs: number; steps: number }> {
  const pending = new Map<ScenarioStory, FaultRow[]>(STORIES.map((s) => [s, []]));
  for (const row of rows) pending.get(row.site.story)!.push(row);
  for (const list of pending.values()) list.sort((a, b) => a.site.ordinal - b.site.ordinal);
  /** Takes the first pending row of the story whose site first occurs after step `after`. */
  const claim = (story: ScenarioStory, after: number): FaultRow | undefined => {
    const list = pending.get(story)!;
    const i = list.findIndex((r) => r.site.ordinal > after);
    return i < 0 ? undefined : list.splice(i, 1)[0];
  };
  const results: RowResult[] = [];
  let runs = 0;
  let steps = 0;
  const worker = async () => {
    for (;;) {
      const story = [...pending.entries()].sort((a, b) => b[1].length - a[1].length)[0]!;
      if (story[1].length === 0) return;
      const chain = await runChain(harness, clean, story[0], claim(story[0], -1)!, claim);
      results.push(...chain.results);
      runs++;
      steps += chain.steps;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { results, runs, steps };
}

/** One run of a story, through as many rows as stay chained (see {@link runTable}). */
async function runChain(
  harness: PipelineHarness,
  clean: CleanRun,
  story: ScenarioStory,
  first: FaultRow,
  claim: (story: ScenarioStory, after: number) => FaultRow | undefined,
): Promise<{ results: RowResult[]; steps: number }> {
  const suffix = `f${++runCounter}`;
  const models = scenarioModels(suffix);
  const model = models[story];
  const session = openSession(harness, suffix, { models: Object.values(models) });
  const results: RowResult[] = [];
  let armed: FaultRow | undefined;
  let armedAt = 0;
  const arm = (row: FaultRow) => {
    armed = row;
    armedAt = Date.now();
    const { site } = row;
    session.journal.injectFault(site.service, site.operation, row.kind, {
      // A timeout leaves the caller not knowing: the table's is one whose request got through.
      applied: row.kind === 'timeout',
      when: (_input, call) =>
        session.handler === site.handler && siteId(site.handler, siteKeyOf(deepStack()), call) === site.id,
    });
  };
  const verdict = (v: RowVerdict, detail: string[]) => {
    results.push({ site: armed!.site, kind: armed!.kind, verdict: v, detail, ms: Date.now() - armedAt });
    armed = undefined;
  };
  arm(first);
  let ordinal = -1;
  let redelivered: string[] = [];
  const retried = () => `redelivered: ${redelivered.join(', ') || 'none'}`;
  try {
    const scenario = await runPipelineScenario(session.harness, {
      suffix,
      stories: [story],
      redelivery: AWS_REDELIVERY,
      monitor: 'scheduled',
      beforeStep: (_name, handler) => void (session.handler = handler),
      afterStep: async (step, _index, progress) => {
        ordinal++;
        if (step.attempt > 1) redelivered.push(`${step.name} (${step.attempt} deliveries)`);
        if (!armed || session.journal.pendingFaults() > 0) return true;
        const expected = clean.snapshots[story][ordinal];
        if (expected?.step !== step.name) return true;
        if ((await snapshot(session, model, progress)) !== expected.state) return true;
        verdict('converged', [`${retried()}; as clean after "${step.name}"`]);
        redelivered = [];
        const next = claim(story, ordinal);
        if (!next) return false;
        arm(next);
        return true;
      },
    });
    if (!armed) return { results, steps: ordinal + 1 };
    if (session.journal.pendingFaults() > 0) {
      verdict('VIOLATION', ['the fault was never thrown: the site was not reached']);
      return { results, steps: ordinal + 1 };
    }
    const rest = await driveToRest(session, scenario, new Date());
    const facts: RunFacts = { session, scenario, story, model, end: await modelEnd(harness, model) };
    const broken = violations(facts, harness.s3.bucket);
    const context = [
      ...notificationCheck(facts).resent,
      retried(),
      ...(scenario.deadLettered.length
        ? [`dead-lettered: ${scenario.deadLettered.map((d) => d.step).join(', ')}`]
        : []),
      ...(rest.reconciled.length ? [`reconciler: ${rest.reconciled.join(', ')}`] : []),
    ];
    const resent = context[0]?.startsWith('re-sent:') === true;
    if (broken.length > 0) verdict('VIOLATION', [...broken, ...context]);
    else {
      const { changed, failures } = differences(facts, clean.ends[story]);
      if (changed.length === 0) verdict('converged', resent ? [RESENT_NOTE, ...context] : context);
      else if (failures.length > 0) verdict('recorded-failure', [...failures, ...context]);
      else
        verdict('VIOLATION', [
          ...changed.map((c) => `diverged without a recorded failure: ${c}`),
          ...context,
        ]);
    }
  } catch (error) {
    if (armed)
      verdict('VIOLATION', [
        `the run threw: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
      ]);
  } finally {
    session.close();
  }
  return { results, steps: ordinal + 1 };
}
