/**
 * A run of the REAL reconciler handler (lambdas/reconciler/handler.ts: createReconcilerHandler with
 * createAwsReconcilePorts) over every situation it repairs, on a fresh {@link PipelineHarness},
 * with every AWS call it made recorded by the harness's journal. Where this stands: test
 * infrastructure for the contract tests (IAM: is each call allowed by the reconciler's role;
 * request validity: is each request one AWS accepts, and is each re-delivered event the one
 * EventBridge would have delivered).
 *
 * The situations, set up through the real handlers (test/support/reconcile-situations.ts), one
 * model each:
 * - `churn`: TRAINING, its job ended (DescribeTrainingJob -> Invoke training-events);
 * - `fraud`: DEPLOYING, rollout requested, the endpoint InService (DescribeEndpoint -> Invoke
 *   endpoint-events);
 * - `leads`: DEPLOYING without `rolloutRequestedAt`, a first version: the rollout is re-applied
 *   (DeployVersion: DescribeEndpoint, CreateEndpoint with Tags, registry writes);
 * - `upsell`: v1 in production with its alarms, v2 DEPLOYING without `rolloutRequestedAt`: the
 *   blue/green update is re-applied (UpdateEndpoint with the rollback alarms);
 * - `pricing`: v1 DEPLOYING without `rolloutRequestedAt`, v2 APPROVED behind it: the re-applied
 *   CreateEndpoint is refused for good (a ValidationException injected through the journal, as
 *   SageMaker refuses an invalid request), so DeployVersion ends v1 DEPLOY_FAILED (registry, SNS
 *   notification) and rolls the waiting v2 out (CreateModel, CreateEndpointConfig, CreateEndpoint);
 * - `scoring`: the newest APPROVED version of a quiet model (Invoke training-events);
 * - `orphan`: an object under `datasets/`, older than the settle time, with no dataset record: the
 *   lost upload (ListObjectVersions -> SendMessage to the ingest queue).
 * Then two scheduled runs, 20 and 21 minutes later: the first stops at its listing cap and keeps its
 * cursor (GetObject of a missing cursor, PutObject), the next reads it (GetObject), goes on from
 * there (ListObjectVersions with KeyMarker) and resets it (PutObject).
 *
 * What is simulated: SQS and Lambda are mocked with aws-sdk-client-mock (the re-delivered events
 * are recorded, not run); SageMaker, CloudWatch and SNS are the harness's fakes. The data bucket
 * is versioned in AWS but the local S3 server keeps no versions and has no ListObjectVersions, so
 * the reconciler's S3 client answers ListObjectVersions from the server's ListObjectsV2 (each key
 * one latest version, with the version id its upload was given), below the journal's middleware:
 * the request is recorded as the handler sent it. Every other S3 call reaches the server.
 *
 * The scenario checks its own outcome (each repair happened, no run failed) and throws otherwise,
 * so a contract built on it cannot pass on a run that silently repaired nothing.
 */
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import {
  ListObjectsV2Command,
  S3Client,
  type ListObjectVersionsCommandInput,
  type ListObjectVersionsCommandOutput,
} from '@aws-sdk/client-s3';
import { SendMessageCommand, SQSClient, type SendMessageCommandInput } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { createHash, randomUUID } from 'node:crypto';
import type { ReconcileOutcome, ReconcileOptions } from '../../../core/use-cases/reconcile';
import { createEndpointEventsHandler } from '../../../lambdas/endpoint-events/handler';
import { createIngestHandler } from '../../../lambdas/ingest/handler';
import { createAwsReconcilePorts, createReconcilerHandler } from '../../../lambdas/reconciler/handler';
import type { ReconcilerSettings } from '../../../lambdas/reconciler/settings';
import { createTrainingEventsHandler } from '../../../lambdas/training-events/handler';
import { s3ClientConfig } from '../../../local/services/s3-server';
import {
  instrumentMockedClient,
  instrumentSdkClient,
  type RecordedCall,
} from '../../support/aws-call-journal';
import {
  churnCsv,
  endpointEvent,
  lambdaContext,
  trainingEvent,
  type PipelineHarness,
} from '../../support/pipeline-harness';
import { approveWithoutRollout, ingestDataset, strandRollout } from '../../support/reconcile-situations';

/**
 * Where the reconciler re-delivers, named as CloudFormation names the stack's resources (the
 * default when the caller does not resolve them from the template).
 */
export const SCENARIO_TARGETS: ReconcilerSettings = {
  ingestQueueUrl:
    'https://sqs.us-east-1.amazonaws.com/123456789012/ServerlessMlops-IngestQueueB3A2A7E0-Ab12Cd34Ef56',
  trainingEventsFunction:
    'arn:aws:lambda:us-east-1:123456789012:function:ServerlessMlops-TrainingEventsHandlerFunc-Ab12Cd34Ef56',
  endpointEventsFunction:
    'arn:aws:lambda:us-east-1:123456789012:function:ServerlessMlops-EndpointEventsHandlerFunc-Ab12Cd34Ef56',
};

/** The model of each situation (see the file comment). */
export const RECONCILER_SCENARIO_MODELS = {
  trainingEnded: 'churn',
  endpointSettled: 'fraud',
  createNeverRequested: 'leads',
  updateNeverRequested: 'upsell',
  refusedWithNextApproved: 'pricing',
  approvedQuiet: 'scoring',
  lostUpload: 'orphan',
} as const;

/** The lost upload's key. */
export const LOST_UPLOAD_KEY = `datasets/${RECONCILER_SCENARIO_MODELS.lostUpload}/lost.csv`;

/** The first run's listing cap: it stops inside `datasets/` and keeps a cursor. */
const FIRST_RUN_OPTIONS: ReconcileOptions = { maxObjectsPerRun: 3 };

const MINUTE = 60_000;

/** Where a re-delivered event went. */
export type RedeliveryTarget = 'ingest' | 'training-events' | 'endpoint-events';

/** An event the reconciler re-delivered, decoded from the request that carried it. */
export interface RedeliveredEvent {
  readonly target: RedeliveryTarget;
  /** `sqs.SendMessage` (the message body) or `lambda.Invoke` (the payload). */
  readonly via: string;
  readonly event: unknown;
}

/** The run: the reconciler's calls, the outcomes of its two runs, what it re-delivered. */
export interface ReconcilerScenario {
  /** Every AWS call the reconciler handler made, both runs, in order. */
  readonly calls: readonly RecordedCall[];
  /** The calls the other handlers made to set the situations up (e.g. the endpoint configs created). */
  readonly setupCalls: readonly RecordedCall[];
  /** What each run returned. */
  readonly runs: readonly ReconcileOutcome[];
  /** Where the reconciler re-delivered to. */
  readonly targets: ReconcilerSettings;
  /** The re-delivered events, decoded from the SendMessage and Invoke requests. */
  readonly redelivered: readonly RedeliveredEvent[];
}

/** Options of {@link runReconcilerScenario}. */
export interface ReconcilerScenarioOptions {
  /** Where the reconciler re-delivers (e.g. resolved from the synthesized template). @default SCENARIO_TARGETS */
  readonly targets?: ReconcilerSettings;
}

/** Sets every situation up, then runs the reconciler handler twice (see the file comment). */
export async function runReconcilerScenario(
  harness: PipelineHarness,
  options: ReconcilerScenarioOptions = {},
): Promise<ReconcilerScenario> {
  const targets = options.targets ?? SCENARIO_TARGETS;
  const versions = new Map<string, string>();
  const setupFrom = harness.journal.calls.length;
  const { refusedConfig } = await setUpSituations(harness, versions);
  const setupCalls = harness.journal.calls.slice(setupFrom);
  // SageMaker refuses the re-applied first rollout of `pricing` v1, once (and nothing else).
  harness.journal.injectFault('sagemaker', 'CreateEndpoint', 'validation', {
    when: (input) => input.EndpointConfigName === refusedConfig,
  });

  // Re-delivery: the ingest queue and the two lifecycle functions accept what they are sent.
  const sqs = mockClient(SQSClient);
  const lambda = mockClient(LambdaClient);
  try {
    sqs.on(SendMessageCommand).callsFake((input: SendMessageCommandInput) => ({
      MessageId: randomUUID(),
      MD5OfMessageBody: createHash('md5')
        .update(input.MessageBody ?? '')
        .digest('hex'),
    }));
    // An accepted asynchronous invocation answers 202 (Lambda API Reference, Invoke).
    lambda.on(InvokeCommand).resolves({ StatusCode: 202 });
    const sqsClient = new SQSClient({ region: 'us-east-1' });
    const lambdaClient = new LambdaClient({ region: 'us-east-1' });
    const s3Client = new S3Client(s3ClientConfig(harness.s3.endpoint));
    instrumentMockedClient(sqsClient, 'sqs', harness.journal);
    instrumentMockedClient(lambdaClient, 'lambda', harness.journal);
    instrumentSdkClient(s3Client, 's3', harness.journal);
    serveVersionListing(s3Client, harness.s3.client, versions);
    const ports = createAwsReconcilePorts(targets, 'us-east-1', {
      s3: s3Client,
      sqs: sqsClient,
      lambda: lambdaClient,
    });

    const from = harness.journal.calls.length;
    const settled = Date.now();
    const runs: ReconcileOutcome[] = [];
    for (const [minutes, runOptions] of [
      [20, FIRST_RUN_OPTIONS],
      [21, {}],
    ] as const) {
      const now = new Date(settled + minutes * MINUTE);
      const ctx = { ...harness.context(), clock: { now: () => now } };
      const handler = createReconcilerHandler(
        () => ctx,
        () => ports,
        runOptions,
      );
      const outcome = await handler(scheduledEvent(now), lambdaContext);
      if (outcome.kind === 'malformed')
        throw new Error('the reconciler dropped its scheduled event as malformed');
      runs.push(outcome);
    }
    s3Client.destroy();
    if (harness.journal.pendingFaults() > 0)
      throw new Error(
        `the refused rollout (${refusedConfig}) was never re-applied: its fault is still pending`,
      );
    const calls = harness.journal.calls.slice(from);
    const scenario = { calls, setupCalls, runs, targets, redelivered: redeliveredEvents(calls, targets) };
    checkRepairs(scenario);
    return scenario;
  } finally {
    sqs.restore();
    lambda.restore();
  }
}

/**
 * Every situation of the file comment, through the real handlers at the harness's "now". Returns
 * the endpoint config of the rollout SageMaker is to refuse (`pricing` v1).
 */
async function setUpSituations(
  harness: PipelineHarness,
  versions: Map<string, string>,
): Promise<{ refusedConfig: string }> {
  const ctx = harness.context();
  const ingest = createIngestHandler(() => ctx);
  const training = createTrainingEventsHandler(() => ctx);
  const endpoints = createEndpointEventsHandler(() => ctx);
  const m = RECONCILER_SCENARIO_MODELS;
  let seed = 0;
  /** A dataset of `model`, ingested, its job finished with `auc`. */
  const trained = async (model: string, auc: number) => {
    const key = `datasets/${model}/batch-${++seed}.csv`;
    const version = await ingestDataset(harness, ingest, ctx.registry, key, labelled(300, seed), {
      versionId: versionIdOf(key, versions),
    });
    harness.aws.finishJob(version.trainingJobName, { metrics: { 'validation:auc': auc } });
    return version;
  };
  const expectKind = (what: string, outcome: unknown, kind: string) => {
    if ((outcome as { kind?: unknown }).kind !== kind)
      throw new Error(`${what}: expected ${kind}, got ${JSON.stringify(outcome)}`);
  };

  // A training job that ended; its event never came.
  await trained(m.trainingEnded, 0.9);

  // A rollout requested; the endpoint went InService and its event never came.
  const fraud = await trained(m.endpointSettled, 0.9);
  expectKind(
    'fraud: training Completed',
    await training(trainingEvent(fraud.trainingJobName), lambdaContext),
    'deploying',
  );
  harness.aws.settleEndpoint(ctx.names.endpoint(m.endpointSettled), 'in-service');

  // A first rollout whose CreateEndpoint never succeeded.
  await strandRollout(ctx, await trained(m.createNeverRequested, 0.88), 'createEndpoint');

  // A blue/green update whose UpdateEndpoint never succeeded, guarded by v1's alarms.
  await harness.upload(
    `models/${m.updateNeverRequested}/config.json`,
    JSON.stringify({
      gate: { threshold: 0.7, regressionTolerance: 0.01 },
      deployment: { strategy: 'linear', initialInstanceCount: 4, stepPercent: 25, bakeSeconds: 600 },
    }),
  );
  const upsell1 = await trained(m.updateNeverRequested, 0.9);
  expectKind(
    'upsell v1: training Completed',
    await training(trainingEvent(upsell1.trainingJobName), lambdaContext),
    'deploying',
  );
  const upsellEndpoint = ctx.names.endpoint(m.updateNeverRequested);
  harness.aws.settleEndpoint(upsellEndpoint, 'in-service');
  expectKind(
    'upsell v1: endpoint InService',
    await endpoints(endpointEvent(upsellEndpoint), lambdaContext),
    'promoted',
  );
  if (!(await ctx.registry.getModel(m.updateNeverRequested))?.alarmsCreated)
    throw new Error('upsell v1: its alarms were not created');
  await strandRollout(ctx, await trained(m.updateNeverRequested, 0.92), 'updateEndpoint');

  // A first rollout whose CreateEndpoint never succeeded, and a better version queued behind it.
  const pricing1 = await strandRollout(ctx, await trained(m.refusedWithNextApproved, 0.86), 'createEndpoint');
  const pricing2 = await trained(m.refusedWithNextApproved, 0.87);
  const queued = await training(trainingEvent(pricing2.trainingJobName), lambdaContext);
  if (JSON.stringify(queued).includes('"queued"') === false)
    throw new Error(`pricing v2: expected to queue behind v1, got ${JSON.stringify(queued)}`);

  // An approved version whose rollout never started.
  await harness.upload(
    `models/${m.approvedQuiet}/config.json`,
    JSON.stringify({ gate: { approval: 'manual' } }),
  );
  const scoring = await trained(m.approvedQuiet, 0.85);
  expectKind(
    'scoring: training Completed',
    await training(trainingEvent(scoring.trainingJobName), lambdaContext),
    'pending-approval',
  );
  await approveWithoutRollout(ctx, scoring);

  // An upload whose event never came: in the bucket (with its version id), never delivered to ingest.
  versionIdOf(LOST_UPLOAD_KEY, versions);
  await harness.upload(LOST_UPLOAD_KEY, labelled(200, 99));
  if (pricing1.endpointConfigName === undefined) throw new Error('pricing v1 took the lock without a config');
  return { refusedConfig: pricing1.endpointConfigName };
}

/** Throws unless the runs repaired every situation, without a failure. */
function checkRepairs(scenario: ReconcilerScenario): void {
  const m = RECONCILER_SCENARIO_MODELS;
  const problems: string[] = [];
  const [first, second] = scenario.runs;
  for (const run of scenario.runs)
    if (run.kind !== 'reconciled' || run.failures.length > 0)
      problems.push(`a run failed: ${JSON.stringify(run.failures)}`);
  const repairs = (first?.versions ?? []).map((r) =>
    r.kind === 'rollout-retried'
      ? `${r.kind} ${r.model} ${r.deploy.kind}${r.deploy.kind === 'failed' && r.deploy.next ? `, next ${r.deploy.next.kind}` : ''}`
      : `${r.kind} ${r.model}`,
  );
  for (const expected of [
    `training-event ${m.trainingEnded}`,
    `endpoint-event ${m.endpointSettled}`,
    `rollout-retried ${m.createNeverRequested} creating`,
    `rollout-retried ${m.updateNeverRequested} updating`,
    `rollout-retried ${m.refusedWithNextApproved} failed, next creating`,
    `training-event ${m.approvedQuiet}`,
  ])
    if (!repairs.includes(expected))
      problems.push(`the first run did not repair "${expected}" (did: ${repairs.join(', ')})`);
  if (first?.datasets?.nextStartAfter === undefined)
    problems.push('the first run did not stop at its listing cap (no cursor to keep)');
  if (second?.datasets?.nextStartAfter !== undefined)
    problems.push(`the second run did not finish the listing: ${JSON.stringify(second?.datasets)}`);
  const uploads = scenario.runs.flatMap((run) => run.datasets?.redelivered.map((r) => r.key) ?? []);
  if (JSON.stringify(uploads) !== JSON.stringify([LOST_UPLOAD_KEY]))
    problems.push(
      `the lost upload (and only it) should have been re-delivered, once: ${JSON.stringify(uploads)}`,
    );
  if (problems.length > 0)
    throw new Error(`the reconciler scenario did not do what it should:\n${problems.join('\n')}`);
}

/** The events carried by the SendMessage and Invoke requests among `calls`, with their target. */
export function redeliveredEvents(
  calls: readonly RecordedCall[],
  targets: ReconcilerSettings,
): RedeliveredEvent[] {
  const events: RedeliveredEvent[] = [];
  for (const call of calls) {
    const input = call.input as Record<string, unknown>;
    if (call.service === 'sqs' && call.operation === 'SendMessage') {
      if (input.QueueUrl !== targets.ingestQueueUrl)
        throw new Error(`SendMessage to a queue that is not the ingest queue: ${String(input.QueueUrl)}`);
      events.push({ target: 'ingest', via: 'sqs.SendMessage', event: JSON.parse(String(input.MessageBody)) });
    } else if (call.service === 'lambda' && call.operation === 'Invoke') {
      const target =
        input.FunctionName === targets.trainingEventsFunction
          ? 'training-events'
          : input.FunctionName === targets.endpointEventsFunction
            ? 'endpoint-events'
            : undefined;
      if (!target)
        throw new Error(`Invoke of a function that is not a target: ${String(input.FunctionName)}`);
      const payload = input.Payload;
      const text = typeof payload === 'string' ? payload : new TextDecoder().decode(payload as Uint8Array);
      events.push({ target, via: 'lambda.Invoke', event: JSON.parse(text) });
    }
  }
  return events;
}

/**
 * Answers ListObjectVersions on `client` from `server`'s ListObjectsV2 (the local S3 server has no
 * versions): each current object is its key's one, latest, version, with the version id its upload
 * was given. Added below the journal's middleware, so the request is still recorded as sent.
 */
function serveVersionListing(client: S3Client, server: S3Client, versions: Map<string, string>): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName !== 'ListObjectVersionsCommand') return next(args);
      const output = await listVersions(server, args.input as ListObjectVersionsCommandInput, versions);
      return { output, response: {} };
    },
    { step: 'initialize', name: 'versionListingFromServer', priority: 'low' },
  );
}

async function listVersions(
  server: S3Client,
  input: ListObjectVersionsCommandInput,
  versions: Map<string, string>,
): Promise<ListObjectVersionsCommandOutput> {
  if (input.Delimiter !== undefined) throw new Error('the version listing shim does not group by Delimiter');
  // One version per key: going on after (KeyMarker, VersionIdMarker) is going on after KeyMarker.
  const page = await server.send(
    new ListObjectsV2Command({
      Bucket: input.Bucket,
      ...(input.Prefix !== undefined ? { Prefix: input.Prefix } : {}),
      ...(input.MaxKeys !== undefined ? { MaxKeys: input.MaxKeys } : {}),
      ...(input.KeyMarker !== undefined ? { StartAfter: input.KeyMarker } : {}),
    }),
  );
  const listed = (page.Contents ?? []).map((object) => ({
    Key: object.Key!,
    VersionId: versionIdOf(object.Key!, versions),
    IsLatest: true,
    ...(object.ETag !== undefined ? { ETag: object.ETag } : {}),
    ...(object.Size !== undefined ? { Size: object.Size } : {}),
    ...(object.LastModified !== undefined ? { LastModified: object.LastModified } : {}),
    StorageClass: 'STANDARD' as const,
  }));
  const last = listed.at(-1);
  const truncated = page.IsTruncated === true && last !== undefined;
  return {
    $metadata: { httpStatusCode: 200 },
    Name: input.Bucket,
    ...(input.Prefix !== undefined ? { Prefix: input.Prefix } : {}),
    ...(input.KeyMarker !== undefined ? { KeyMarker: input.KeyMarker } : {}),
    ...(input.MaxKeys !== undefined ? { MaxKeys: input.MaxKeys } : {}),
    IsTruncated: truncated,
    ...(truncated ? { NextKeyMarker: last.Key, NextVersionIdMarker: last.VersionId } : {}),
    Versions: listed,
  };
}

/** The version id S3 gave a key's upload (made up once per key, kept for the listing and the event). */
function versionIdOf(key: string, versions: Map<string, string>): string {
  let id = versions.get(key);
  if (id === undefined) {
    // S3 version ids are opaque URL-safe strings of up to 1024 bytes (S3 User Guide, "Working with
    // objects in a versioning-enabled bucket"); 32 characters, as S3 hands them out.
    id = createHash('sha256').update(`${key}#${versions.size}`).digest('base64url').slice(0, 32);
    versions.set(key, id);
  }
  return id;
}

/** `churnCsv` with the default label column name. */
function labelled(rows: number, seed: number): string {
  return churnCsv(rows, seed).replace('churned', 'label');
}

/** EventBridge's "Scheduled Event" of the reconciler's rule, at `time`. */
function scheduledEvent(time: Date) {
  return {
    version: '0',
    id: `schedule-${time.getTime()}`,
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: '123456789012',
    time: time.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region: 'us-east-1',
    resources: ['arn:aws:events:us-east-1:123456789012:rule/ServerlessMlops-ReconcilerSchedule'],
    detail: {},
  };
}
