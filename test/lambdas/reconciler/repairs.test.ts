/**
 * The reconciler repairs lost events, through the real handlers on local parts (DynamoDB Local,
 * s3rver, SageMaker mocked by FakeAws): a re-delivered event is shaped as AWS sends it
 * (adapters/aws/redelivered-events.ts) and handed to the handler its rule targets, so these tests
 * show that a repair does what the lost event would have done, and that a second run does nothing.
 * The use case's own decisions (which trace is a lost event, caps, the cursor) are unit-tested on
 * in-memory parts in test/core/use-cases/reconcile.test.ts.
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { PublishCommand } from '@aws-sdk/client-sns';
import { CreateEndpointCommand, CreateTrainingJobCommand } from '@aws-sdk/client-sagemaker';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3ListingInventory } from '../../../adapters/aws/s3-object-inventory';
import {
  endpointStateChangeEvent,
  objectCreatedEvent,
  trainingJobStateChangeEvent,
} from '../../../adapters/aws/redelivered-events';
import type { VersionRecord } from '../../../core/domain/registry';
import type { EventRedelivery, RedeliveredObject } from '../../../core/ports/event-redelivery';
import type { ObjectInventory } from '../../../core/ports/object-inventory';
import type { MlopsContext } from '../../../core/use-cases/context';
import { Reconcile, type ReconcileOptions } from '../../../core/use-cases/reconcile';
import { createEndpointEventsHandler } from '../../../lambdas/endpoint-events/handler';
import { createIngestHandler } from '../../../lambdas/ingest/handler';
import { createTrainingEventsHandler } from '../../../lambdas/training-events/handler';
import { LedgerInventory, ObjectIdentityLedger } from '../../../local/reconciler';
import type { CloudEvent } from '../../../local/contracts';
import {
  churnCsv,
  lambdaContext,
  sqsBatch,
  startPipelineHarness,
  trainingEvent,
  type PipelineHarness,
} from '../../support/pipeline-harness';
import { approveWithoutRollout, ingestDataset, strandRollout } from '../../support/reconcile-situations';
import { anyString, objectContaining } from '../../support/matchers';

const MINUTE = 60_000;
const origin = { region: 'us-east-1', account: '123456789012' };

/** Hands each re-delivered event to the handler its rule targets, as AWS would deliver it. */
class HandlerRedelivery implements EventRedelivery {
  readonly delivered: { kind: string; what: string }[] = [];
  constructor(
    private readonly handlers: {
      ingest: ReturnType<typeof createIngestHandler>;
      training: ReturnType<typeof createTrainingEventsHandler>;
      endpoints: ReturnType<typeof createEndpointEventsHandler>;
    },
  ) {}

  async objectCreated(object: RedeliveredObject): Promise<void> {
    this.delivered.push({ kind: 'object', what: object.key });
    const result = await this.handlers.ingest(sqsBatch(objectCreatedEvent(object, origin)), lambdaContext);
    expect(result.batchItemFailures).toEqual([]);
  }

  async trainingJobStateChange(change: { jobName: string; status: string }): Promise<void> {
    this.delivered.push({ kind: 'training', what: change.jobName });
    await this.handlers.training(trainingJobStateChangeEvent(change, origin), lambdaContext);
  }

  async endpointStateChange(change: { endpointName: string; status: string; configName?: string }) {
    this.delivered.push({ kind: 'endpoint', what: change.endpointName });
    const outcome = await this.handlers.endpoints(endpointStateChangeEvent(change, origin), lambdaContext);
    expect(outcome.kind).not.toBe('malformed');
  }
}

let harness: PipelineHarness;
let ctx: MlopsContext;
let redelivery: HandlerRedelivery;
let ingest: ReturnType<typeof createIngestHandler>;
let training: ReturnType<typeof createTrainingEventsHandler>;
let ledgerDir: string;
let ledger: ObjectIdentityLedger;
let inventory: ObjectInventory;

beforeAll(async () => {
  harness = await startPipelineHarness();
  ctx = harness.context();
  ingest = createIngestHandler(() => ctx);
  training = createTrainingEventsHandler(() => ctx);
  redelivery = new HandlerRedelivery({
    ingest,
    training,
    endpoints: createEndpointEventsHandler(() => ctx),
  });
  // s3rver keeps no versions: the harness's events carry a sequencer, as the local cloud's do,
  // and the ledger gives the listing the same identity (local/reconciler.ts).
  ledgerDir = await mkdtemp(join(tmpdir(), 'reconcile-ledger-'));
  ledger = new ObjectIdentityLedger(join(ledgerDir, 's3-object-events.jsonl'));
  inventory = new LedgerInventory(new S3ListingInventory(harness.s3.client), ledger);
});
afterAll(async () => {
  await harness?.stop();
  if (ledgerDir) await rm(ledgerDir, { recursive: true, force: true });
});

/** Runs the reconciler with its clock `minutesLater` ahead of now. */
function reconcile(minutesLater: number, options: ReconcileOptions = {}) {
  const at = new Date(Date.now() + minutesLater * MINUTE);
  return new Reconcile({ ...ctx, clock: { now: () => at } }, { redelivery, inventory }, options).execute();
}

/** Uploads a dataset and delivers its event to ingest (recorded by the ledger as the local cloud does). */
function ingested(model: string, seed: number): Promise<VersionRecord> {
  return ingestDataset(
    harness,
    ingest,
    ctx.registry,
    `datasets/${model}/batch-${seed}.csv`,
    churnCsv(300, seed).replace('churned', 'label'),
    { onEvent: (event) => ledger.record(event as CloudEvent) },
  );
}

async function status(model: string, version: number) {
  return (await ctx.registry.getVersion(model, version))?.status;
}

describe('a lost training job event', () => {
  const model = 'churn';
  let v1: VersionRecord;

  it('is left alone while the version is younger than the threshold, or its job still runs', async () => {
    await harness.upload('models/churn/config.json', JSON.stringify({ gate: { threshold: 0.7 } }));
    v1 = await ingested(model, 1);
    expect(v1.status).toBe('TRAINING');
    expect((await reconcile(20, { scanDatasets: false })).versions).toEqual([]); // job InProgress
    harness.aws.finishJob(v1.trainingJobName, { metrics: { 'validation:auc': 0.9 } });
    expect((await reconcile(5, { scanDatasets: false })).versions).toEqual([]); // not stale yet
    expect(await status(model, v1.version)).toBe('TRAINING');
  });

  it('is repaired: the version moves on as the event would have moved it (TRAINED, gate, deploy)', async () => {
    const outcome = await reconcile(20, { scanDatasets: false });
    expect(outcome).toMatchObject({
      kind: 'reconciled',
      versions: [
        {
          kind: 'training-event',
          model,
          version: v1.version,
          status: 'TRAINING',
          jobName: v1.trainingJobName,
          jobStatus: 'Completed',
        },
      ],
      failures: [],
    });
    const version = await ctx.registry.getVersion(model, v1.version);
    expect(version).toMatchObject({ status: 'DEPLOYING', metrics: { 'validation:auc': 0.9 } });
    expect(version!.gate!.passed).toBe(true);
    expect(version!.rolloutRequestedAt).toBeDefined();
    expect(harness.aws.sagemaker).toHaveReceivedCommandTimes(CreateEndpointCommand, 1);
  });

  it('a second run does nothing more while the endpoint is still being created', async () => {
    expect((await reconcile(20, { scanDatasets: false })).versions).toEqual([]);
    expect(harness.aws.sagemaker).toHaveReceivedCommandTimes(CreateEndpointCommand, 1);
  });

  it('a lost endpoint event: a DEPLOYING version whose endpoint is InService with its config is promoted', async () => {
    harness.aws.settleEndpoint('mlops-churn', 'in-service');
    expect((await reconcile(20, { scanDatasets: false })).versions).toEqual([
      {
        kind: 'endpoint-event',
        model,
        version: v1.version,
        endpointName: 'mlops-churn',
        endpointStatus: 'InService',
      },
    ]);
    expect(await status(model, v1.version)).toBe('PRODUCTION');
    expect((await ctx.registry.getModel(model))?.champion).toBe(v1.version);
    expect((await reconcile(20, { scanDatasets: false })).versions).toEqual([]);
  });
});

describe('a rollout that was never requested, and an approval whose rollout was lost', () => {
  it('a DEPLOYING version without rolloutRequestedAt gets its rollout re-applied', async () => {
    const model = 'leads';
    await harness.upload('models/leads/config.json', JSON.stringify({}));
    const v1 = await ingested(model, 2);
    harness.aws.finishJob(v1.trainingJobName, { metrics: { 'validation:auc': 0.8 } });
    // The endpoint call fails after the version took the rollout lock, and every retry of the
    // training event finds the version DEPLOYING.
    await strandRollout(ctx, v1, 'createEndpoint');
    const stuck = await ctx.registry.getVersion(model, v1.version);
    expect(stuck).toMatchObject({ status: 'DEPLOYING' });
    expect(stuck!.rolloutRequestedAt).toBeUndefined();
    expect(harness.aws.endpoints.has('mlops-leads')).toBe(false);

    expect((await reconcile(20, { scanDatasets: false })).versions).toEqual([
      {
        kind: 'rollout-retried',
        model,
        version: v1.version,
        deploy: { kind: 'creating', endpointName: 'mlops-leads', configName: v1.trainingJobName },
      },
    ]);
    expect((await ctx.registry.getVersion(model, v1.version))!.rolloutRequestedAt).toBeDefined();
    expect(harness.aws.endpoints.get('mlops-leads')).toMatchObject({
      config: v1.trainingJobName,
      status: 'Creating',
    });
    expect((await reconcile(20, { scanDatasets: false })).versions).toEqual([]);
  });

  it('the newest APPROVED version of a quiet model with no rollout in flight is deployed', async () => {
    const model = 'scoring';
    await harness.upload('models/scoring/config.json', JSON.stringify({ gate: { approval: 'manual' } }));
    const v1 = await ingested(model, 3);
    harness.aws.finishJob(v1.trainingJobName, { metrics: { 'validation:auc': 0.85 } });
    await training(trainingEvent(v1.trainingJobName), lambdaContext);
    expect(await status(model, v1.version)).toBe('PENDING_APPROVAL');
    // Approved, and the process died before its rollout started (ApproveVersion's second step).
    await approveWithoutRollout(ctx, v1);
    expect((await reconcile(5, { scanDatasets: false })).versions).toEqual([]); // not quiet yet
    expect((await reconcile(20, { scanDatasets: false })).versions).toEqual([
      {
        kind: 'training-event',
        model,
        version: v1.version,
        status: 'APPROVED',
        jobName: v1.trainingJobName,
        jobStatus: 'Completed',
      },
    ]);
    expect(await ctx.registry.getVersion(model, v1.version)).toMatchObject({
      status: 'DEPLOYING',
      rolloutRequestedAt: anyString(),
    });
    expect(harness.aws.endpoints.get('mlops-scoring')).toMatchObject({ config: v1.trainingJobName });
  });
});

describe('a lost upload event', () => {
  const put = (key: string, body: string) =>
    harness.s3.client.send(new PutObjectCommand({ Bucket: harness.s3.bucket, Key: key, Body: body }));
  const data = churnCsv(200, 9).replace('churned', 'label');

  it('is left alone while the object is young; then ingested; a second run does nothing more', async () => {
    const delivered = redelivery.delivered.length;
    // Events never delivered: a file, a complete folder, and what ingest skips.
    await put('datasets/fraud/lost.csv', data);
    const [header, ...rows] = data.trimEnd().split('\n');
    await put('datasets/fraud/june/part-00000.csv', `${header}\n${rows.slice(0, 100).join('\n')}\n`);
    await put('datasets/fraud/june/part-00001.csv', `${header}\n${rows.slice(100).join('\n')}\n`);
    await put('datasets/fraud/june/_SUCCESS', '');
    await put('datasets/fraud/incomplete/part-00000.csv', data);
    await put('datasets/fraud/.DS_Store', 'x');
    await put('datasets/fraud/_scratch.csv', data);

    expect((await reconcile(2)).datasets).toMatchObject({ redelivered: [] }); // uploads may be in flight
    const jobsBefore = harness.aws.jobs.size;

    const first = await reconcile(11);
    expect(first.kind).toBe('reconciled');
    expect(first.datasets!.redelivered.map((r) => r.key)).toEqual([
      'datasets/fraud/june/_SUCCESS',
      'datasets/fraud/lost.csv',
    ]);
    for (const { model, datasetId } of first.datasets!.redelivered) {
      expect(model).toBe('fraud');
      expect(await ctx.registry.getDataset(model, datasetId)).toMatchObject({ status: 'ACCEPTED' });
    }
    expect(harness.aws.jobs.size).toBe(jobsBefore + 2);
    const versions = await ctx.registry.listVersions('fraud');
    expect(versions.map((v) => v.status)).toEqual(['TRAINING', 'TRAINING']);
    expect(versions.map((v) => v.datasetId).sort()).toEqual(
      first.datasets!.redelivered.map((r) => r.datasetId).sort(),
    );

    const second = await reconcile(11);
    expect(second.datasets).toMatchObject({ redelivered: [] });
    expect(harness.aws.jobs.size).toBe(jobsBefore + 2);
    expect(harness.aws.sagemaker).toHaveReceivedCommandTimes(CreateTrainingJobCommand, jobsBefore + 2);
    // Nothing the earlier tests ingested (through their delivered events) was re-delivered.
    expect(redelivery.delivered.slice(delivered).filter((d) => d.kind === 'object')).toHaveLength(2);
    expect(second.datasets!.nextStartAfter).toBeUndefined();
  });
});

describe('a notification whose event was lost after its write', () => {
  it('is sent by the reconciler once it is a minute old, with its id, and only once', async () => {
    const model = 'outbox';
    const openedAt = new Date().toISOString();
    const alarmName = `mlops-${model}-error-rate`;
    // The alarm-events handler wrote the incident and its notification, then died before sending.
    expect(
      await ctx.registry.openIncident(
        {
          model,
          alarmName,
          incidentId: `${alarmName}@${openedAt}`,
          status: 'OPEN',
          openedAt,
          reason: 'errors',
        },
        {
          model,
          at: openedAt,
          eventId: `INCIDENT_OPENED:${alarmName}`,
          type: 'INCIDENT_OPENED',
          actor: 'alarm-events',
          reason: 'errors',
          notification: {
            kind: 'incident-opened',
            model,
            subject: `${model}: ${alarmName} in ALARM`,
            message: 'm',
          },
        },
      ),
    ).toBe(true);
    const published = () =>
      harness.aws.sns
        .commandCalls(PublishCommand)
        .map((c) => c.args[0].input)
        .filter((input) => input.MessageAttributes?.model?.StringValue === model);

    const mine = (outcome: { notifications: readonly { model: string }[] }) =>
      outcome.notifications.filter((n) => n.model === model);
    expect(mine(await reconcile(0.5, { scanDatasets: false }))).toEqual([]); // younger than a minute
    expect(published()).toEqual([]);
    expect(mine(await reconcile(2, { scanDatasets: false }))).toEqual([
      { model, id: `${openedAt}#INCIDENT_OPENED:${alarmName}`, kind: 'incident-opened' },
    ]);
    expect(published()).toEqual([
      expect.objectContaining({
        Subject: `${model}: ${alarmName} in ALARM`,
        MessageAttributes: objectContaining({
          'mlops.notificationId': {
            DataType: 'String',
            StringValue: `${openedAt}#INCIDENT_OPENED:${alarmName}`,
          },
        }),
      }),
    ]);
    expect(mine(await reconcile(3, { scanDatasets: false }))).toEqual([]);
    expect(published()).toHaveLength(1);
    expect(await ctx.registry.listPendingNotifications(model)).toEqual([]);
  });
});
