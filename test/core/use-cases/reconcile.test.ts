/**
 * Reconcile on in-memory parts (test/support/memory-context.ts: the registry and object stores in
 * memory, SageMaker and SNS answered by a stateful fake through the real adapters): each trace a
 * lost event leaves is set up by the use cases themselves (ingest, training events, deploy), and a
 * re-delivered event is handed to the use case its handler runs, so these tests show which traces
 * count as lost events, that a repair does what the lost event would have done, and that a second
 * run does nothing. Then the bounds (caps, the cursor), the APPROVED guards and the pending
 * notifications. The same repairs through the real handlers on DynamoDB Local and an S3 server are
 * in test/lambdas/reconciler/repairs.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { compareUtf8 } from '../../../adapters/memory/memory-object-store';
import type { VersionRecord, VersionStatus } from '../../../core/domain/registry';
import type { EventRedelivery, RedeliveredObject } from '../../../core/ports/event-redelivery';
import type { InventoryObject, InventoryPage, ObjectInventory } from '../../../core/ports/object-inventory';
import type { MlopsContext } from '../../../core/use-cases/context';
import { IngestDataset, type ObjectCreated } from '../../../core/use-cases/ingest-dataset';
import { ProcessEndpointChange } from '../../../core/use-cases/process-endpoint-change';
import { ProcessTrainingJob } from '../../../core/use-cases/process-training-job';
import {
  datasetIdentity,
  Reconcile,
  RECONCILER_CURSOR_KEY,
  type ReconcileOptions,
  type ReconcilePorts,
} from '../../../core/use-cases/reconcile';
import { rejectedKeyRecordOf } from '../../../core/domain/dataset-ids';
import {
  churnCsv,
  createMemoryContext,
  MEMORY_START,
  type MemoryContext,
} from '../../support/memory-context';
import { stringContaining, stringMatching } from '../../support/matchers';

const MINUTE = 60_000;
const T0 = Date.parse(MEMORY_START);

/**
 * The data bucket's objects as the inventory port lists them (key order, paged), each with the
 * time it was written: objects are written through {@link MemoryInventory.put}, which notes it.
 */
class MemoryInventory implements ObjectInventory {
  private readonly written = new Map<string, Date>();
  constructor(private readonly m: MemoryContext) {}

  /** Uploads an object now (by the context's clock); returns what its "Object Created" event says. */
  async put(key: string, body: string): Promise<ObjectCreated> {
    const created = await this.m.upload(key, body);
    this.written.set(key, this.m.clock.now());
    return created;
  }

  listPage(
    bucket: string,
    prefix: string,
    options: { readonly startAfter?: string; readonly maxKeys: number },
  ): Promise<InventoryPage> {
    const { startAfter, maxKeys } = options;
    const keys = this.m.objects
      .keys(bucket, prefix)
      .filter((key) => startAfter === undefined || compareUtf8(key, startAfter) > 0);
    const objects = keys.slice(0, maxKeys).map((key): InventoryObject => {
      const { info } = this.m.objects.peek(bucket, key)!;
      const written = this.written.get(key);
      if (!written) throw new Error(`${key} was not written through MemoryInventory.put`);
      return {
        key,
        size: info.size,
        etag: info.etag,
        ...(info.versionId !== undefined ? { versionId: info.versionId } : {}),
        lastModified: written,
      };
    });
    return Promise.resolve({ objects, truncated: keys.length > maxKeys });
  }
}

/** Hands each re-delivered event to the use case its handler runs (as AWS would deliver it), and records it. */
class UseCaseRedelivery implements EventRedelivery {
  readonly delivered: string[] = [];
  constructor(private readonly ctx: MlopsContext) {}

  async objectCreated(object: RedeliveredObject): Promise<void> {
    this.delivered.push(`object ${object.key}`);
    await new IngestDataset(this.ctx).execute(object);
  }

  async trainingJobStateChange(change: { jobName: string; status: string }): Promise<void> {
    this.delivered.push(`training ${change.jobName} ${change.status}`);
    await new ProcessTrainingJob(this.ctx).execute(change.jobName);
  }

  async endpointStateChange(change: { endpointName: string; status: string }): Promise<void> {
    this.delivered.push(`endpoint ${change.endpointName} ${change.status}`);
    await new ProcessEndpointChange(this.ctx).execute(change.endpointName);
  }
}

let m: MemoryContext;
let inventory: MemoryInventory;
let redelivery: UseCaseRedelivery;

beforeEach(() => {
  m = createMemoryContext();
  inventory = new MemoryInventory(m);
  redelivery = new UseCaseRedelivery(m);
});
afterEach(() => m.dispose());

/** The clock, `minutes` after the context's start. */
function at(minutes: number): string {
  m.clock.set(new Date(T0 + minutes * MINUTE));
  return m.clock.now().toISOString();
}

/** One run of the reconciler, now. */
function reconcile(options: ReconcileOptions = {}, ports: Partial<ReconcilePorts> = {}) {
  return new Reconcile(m, { redelivery, inventory, ...ports }, options).execute();
}

/** Uploads a dataset for `model` and ingests it (its event delivered); returns the version (TRAINING). */
async function ingested(model: string, seed: number): Promise<VersionRecord> {
  const upload = await inventory.put(
    `datasets/${model}/batch-${seed}.csv`,
    churnCsv(300, seed).replace('churned', 'label'),
  );
  const outcome = await new IngestDataset(m).execute(upload);
  if (outcome.kind !== 'training') throw new Error(`ingest of ${upload.key}: ${JSON.stringify(outcome)}`);
  return (await m.registry.getVersion(model, outcome.version))!;
}

/** The version's job completes with `auc`, and its event reaches training-events. */
function trained(version: VersionRecord, auc = 0.9) {
  m.finishTraining(version.trainingJobName, { metrics: { 'validation:auc': auc } });
  return new ProcessTrainingJob(m).execute(version.trainingJobName);
}

/**
 * A rollout that was never requested: the training event of `version` (its job completed) passes
 * the gate, the version takes the rollout lock (DEPLOYING) and CreateEndpoint is throttled; the
 * event fails, and every retry of it would find the version DEPLOYING.
 */
async function strandRollout(version: VersionRecord): Promise<void> {
  m.finishTraining(version.trainingJobName, { metrics: { 'validation:auc': 0.8 } });
  const endpoints = new Proxy(m.endpoints, {
    get(target, property, receiver) {
      if (property === 'createEndpoint')
        return () =>
          Promise.reject(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
      const value = Reflect.get(target, property, receiver) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  await expect(
    new ProcessTrainingJob(m.with({ endpoints })).execute(version.trainingJobName),
  ).rejects.toThrow('Rate exceeded');
  const stuck = await m.registry.getVersion(version.model, version.version);
  expect(stuck).toMatchObject({ status: 'DEPLOYING' });
  expect(stuck!.rolloutRequestedAt).toBeUndefined();
}

const versionOf = (version: VersionRecord) => m.registry.getVersion(version.model, version.version);
const statusOf = async (version: VersionRecord) => (await versionOf(version))?.status;

describe('a lost training job event', () => {
  it('is left alone while the job runs or the version is young; then re-delivered: TRAINED, gate, deploy', async () => {
    await m.putModelConfig('churn', { gate: { threshold: 0.7 } });
    const v1 = await ingested('churn', 1);
    at(20);
    expect((await reconcile({ scanDatasets: false })).versions).toEqual([]); // job InProgress
    m.finishTraining(v1.trainingJobName, { metrics: { 'validation:auc': 0.9 } });
    at(5);
    expect((await reconcile({ scanDatasets: false })).versions).toEqual([]); // not stale yet
    expect(redelivery.delivered).toEqual([]);
    expect(await statusOf(v1)).toBe('TRAINING');

    at(20);
    expect(await reconcile({ scanDatasets: false })).toMatchObject({
      kind: 'reconciled',
      versions: [
        {
          kind: 'training-event',
          model: 'churn',
          version: v1.version,
          status: 'TRAINING',
          jobName: v1.trainingJobName,
          jobStatus: 'Completed',
        },
      ],
      unrepairable: [],
      failures: [],
    });
    const version = await versionOf(v1);
    expect(version).toMatchObject({ status: 'DEPLOYING', metrics: { 'validation:auc': 0.9 } });
    expect(version!.gate!.passed).toBe(true);
    expect(version!.rolloutRequestedAt).toBe(at(20));
    expect(m.rolloutRequests()).toEqual({ create: 1, update: 0 });

    // A second run, much later: the endpoint is still being created, its own event is to come.
    at(60);
    expect((await reconcile({ scanDatasets: false })).versions).toEqual([]);
    expect(m.rolloutRequests()).toEqual({ create: 1, update: 0 });
    expect(redelivery.delivered).toHaveLength(1);
  });

  it('a job that failed is re-delivered with its status: the version ends FAILED, once', async () => {
    const v1 = await ingested('churn', 1);
    m.finishTraining(v1.trainingJobName, { failureReason: 'AlgorithmError: out of memory' });
    at(20);
    expect((await reconcile({ scanDatasets: false })).versions).toEqual([
      expect.objectContaining({ kind: 'training-event', status: 'TRAINING', jobStatus: 'Failed' }),
    ]);
    expect(await versionOf(v1)).toMatchObject({
      status: 'FAILED',
      failureReason: stringContaining('AlgorithmError: out of memory'),
    });
    expect(m.notifications().map((n) => n.kind)).toEqual(['training-failed']);
    at(40);
    expect((await reconcile({ scanDatasets: false })).versions).toEqual([]);
  });

  it('a TRAINED version whose gate never ran is re-delivered once stale, and gated', async () => {
    const v1 = await ingested('churn', 1);
    m.finishTraining(v1.trainingJobName, { metrics: { 'validation:auc': 0.9 } });
    // The training event recorded TRAINED, and its handler died before the gate.
    at(1);
    expect(
      await m.registry.transitionVersion({
        model: 'churn',
        version: v1.version,
        from: ['TRAINING'],
        to: 'TRAINED',
        set: {
          metrics: { 'validation:auc': 0.9 },
          artifactUri: `s3://${m.bucket}/artifacts/churn/${v1.trainingJobName}/output/model.tar.gz`,
          updatedAt: at(1),
        },
        audit: {
          model: 'churn',
          at: at(1),
          eventId: 'TRAINED:1',
          type: 'TRAINED',
          actor: 'training-events',
          reason: 'r',
        },
      }),
    ).toBe(true);
    at(10);
    expect((await reconcile({ scanDatasets: false })).versions).toEqual([]);
    at(20);
    expect((await reconcile({ scanDatasets: false })).versions).toEqual([
      expect.objectContaining({ kind: 'training-event', status: 'TRAINED', jobStatus: 'Completed' }),
    ]);
    expect(await versionOf(v1)).toMatchObject({ status: 'DEPLOYING', rolloutRequestedAt: at(20) });
  });

  it('a TRAINING version whose job was never started is reported, not re-delivered', async () => {
    const { version } = await m.registry.registerDatasetAndVersion({
      dataset: {
        model: 'churn',
        datasetId: 'd1',
        sourceUri: 's3://b/datasets/churn/d1.csv',
        status: 'ACCEPTED',
        createdAt: at(0),
      },
      buildVersion: (n) => ({
        model: 'churn',
        version: n,
        status: 'TRAINING',
        datasetId: 'd1',
        trainingJobName: m.names.trainingJob('churn', n, 'd1'),
        image: 'xgboost',
        hyperparameters: {},
        objectiveMetric: 'validation:auc',
        createdAt: at(0),
        updatedAt: at(0),
      }),
      audit: {
        model: 'churn',
        at: at(0),
        eventId: 'REGISTERED:d1',
        type: 'VERSION_REGISTERED',
        actor: 'ingest',
        reason: 'r',
      },
    });
    at(20);
    expect(await reconcile({ scanDatasets: false })).toMatchObject({
      kind: 'reconciled',
      versions: [],
      unrepairable: [
        { model: 'churn', version: 1, why: `training job ${version!.trainingJobName} does not exist` },
      ],
    });
    expect(redelivery.delivered).toEqual([]);
    expect(m.log.entries).toContainEqual(
      expect.objectContaining({ level: 'warn', message: 'stuck version the reconciler cannot repair' }),
    );
  });
});

describe('a lost endpoint event', () => {
  let v1: VersionRecord;
  const endpointName = 'mlops-churn';
  beforeEach(async () => {
    v1 = await ingested('churn', 1);
    expect(await trained(v1)).toMatchObject({ deploy: { kind: 'creating' } });
  });

  it('a settled endpoint is re-delivered once the rollout is stale: the version is promoted, and nothing more', async () => {
    m.aws.settleEndpoint(endpointName, 'in-service');
    at(5);
    expect((await reconcile({ scanDatasets: false })).versions).toEqual([]);
    at(20);
    expect((await reconcile({ scanDatasets: false })).versions).toEqual([
      {
        kind: 'endpoint-event',
        model: 'churn',
        version: v1.version,
        endpointName,
        endpointStatus: 'InService',
      },
    ]);
    expect(await statusOf(v1)).toBe('PRODUCTION');
    expect(await m.registry.getModel('churn')).toMatchObject({ champion: v1.version, alarmsCreated: true });
    expect(m.notifications().map((n) => n.kind)).toEqual(['version-promoted']);
    at(40);
    expect((await reconcile({ scanDatasets: false })).versions).toEqual([]);
    expect(redelivery.delivered).toEqual([`endpoint ${endpointName} InService`]);
  });

  it('a failed first rollout is re-delivered: DEPLOY_FAILED, and the endpoint that never served removed', async () => {
    m.aws.settleEndpoint(endpointName, 'failed');
    at(20);
    expect((await reconcile({ scanDatasets: false })).versions).toEqual([
      expect.objectContaining({ kind: 'endpoint-event', endpointStatus: 'Failed' }),
    ]);
    expect(await statusOf(v1)).toBe('DEPLOY_FAILED');
    expect(m.aws.endpoints.has(endpointName)).toBe(false);
    expect((await m.registry.getModel('churn'))?.challenger).toBeUndefined();
  });

  it('an endpoint still being rolled out is left to its own event; one that is gone is reported', async () => {
    at(20);
    expect(await reconcile({ scanDatasets: false })).toMatchObject({ versions: [], unrepairable: [] });
    m.aws.endpoints.delete(endpointName);
    expect(await reconcile({ scanDatasets: false })).toMatchObject({
      versions: [],
      unrepairable: [{ model: 'churn', version: v1.version, why: `endpoint ${endpointName} does not exist` }],
    });
    expect(redelivery.delivered).toEqual([]);
    expect(await statusOf(v1)).toBe('DEPLOYING');
  });
});

describe('a rollout that was never requested', () => {
  it('a stale DEPLOYING version without rolloutRequestedAt gets its rollout re-applied, once', async () => {
    const v1 = await ingested('leads', 2);
    await strandRollout(v1);
    expect(m.aws.endpoints.has('mlops-leads')).toBe(false);
    at(5);
    expect((await reconcile({ scanDatasets: false })).versions).toEqual([]);

    at(20);
    expect((await reconcile({ scanDatasets: false })).versions).toEqual([
      {
        kind: 'rollout-retried',
        model: 'leads',
        version: v1.version,
        deploy: { kind: 'creating', endpointName: 'mlops-leads', configName: v1.trainingJobName },
      },
    ]);
    expect((await versionOf(v1))!.rolloutRequestedAt).toBe(at(20));
    expect(m.aws.endpoints.get('mlops-leads')).toMatchObject({
      config: v1.trainingJobName,
      status: 'Creating',
    });
    at(30);
    expect((await reconcile({ scanDatasets: false })).versions).toEqual([]);
    expect(m.rolloutRequests().create).toBe(1);
    expect(redelivery.delivered).toEqual([]); // re-applied here, not re-delivered
  });
});

/**
 * `model`'s next version in `status`, written through the port at the clock's time as the use cases
 * write it: registered (its job named as ingest names it, its artifact set), then walked through
 * the machine; DEPLOYING takes the rollout lock, PRODUCTION is a promotion. Each write must apply.
 */
async function versionIn(
  model: string,
  status: Extract<
    VersionStatus,
    'TRAINING' | 'TRAINED' | 'PENDING_APPROVAL' | 'APPROVED' | 'DEPLOYING' | 'PRODUCTION'
  >,
): Promise<VersionRecord> {
  const now = m.clock.now().toISOString();
  const n = ((await m.registry.getModel(model))?.versionCounter ?? 0) + 1;
  const datasetId = `d${n}`;
  const audit = (type: string) => ({
    model,
    at: now,
    eventId: `seed:${type}:${n}`,
    type,
    actor: 'seed',
    version: n,
    reason: 'seed',
  });
  const { created } = await m.registry.registerDatasetAndVersion({
    dataset: {
      model,
      datasetId,
      sourceUri: `s3://${m.bucket}/datasets/${model}/${datasetId}.csv`,
      status: 'ACCEPTED',
      createdAt: now,
    },
    buildVersion: (v) => ({
      model,
      version: v,
      status: 'TRAINING',
      datasetId,
      trainingJobName: m.names.trainingJob(model, v, datasetId),
      image: 'xgboost',
      hyperparameters: {},
      objectiveMetric: 'validation:auc',
      artifactUri: `s3://${m.bucket}/artifacts/${model}/v${v}/model.tar.gz`,
      createdAt: now,
      updatedAt: now,
    }),
    audit: audit('REGISTERED'),
  });
  const path: [VersionStatus, VersionStatus][] = [['TRAINING', 'TRAINED']];
  if (status === 'PENDING_APPROVAL') path.push(['TRAINED', 'PENDING_APPROVAL']);
  else if (status !== 'TRAINED') path.push(['TRAINED', 'APPROVED']);
  const steps: boolean[] = [created];
  for (const [from, to] of status === 'TRAINING' ? [] : path) {
    steps.push(
      await m.registry.transitionVersion({
        model,
        version: n,
        from: [from],
        to,
        set: { updatedAt: now },
        audit: audit(to),
      }),
    );
  }
  if (status === 'DEPLOYING' || status === 'PRODUCTION') {
    const move = {
      model,
      version: n,
      from: ['APPROVED' as const],
      to: 'DEPLOYING' as const,
      set: { updatedAt: now },
      audit: audit('DEPLOYING'),
    };
    steps.push(await m.registry.startDeployment(move));
  }
  if (status === 'PRODUCTION') {
    const champion = (await m.registry.getModel(model))?.champion;
    steps.push(
      await m.registry.promote({
        model,
        version: n,
        ...(champion !== undefined ? { previousChampion: champion } : {}),
        at: now,
        audit: audit('PROMOTED'),
      }),
    );
  }
  if (!steps.every(Boolean)) throw new Error(`seed: ${model} v${n} not ${status} (${steps.join()})`);
  return (await m.registry.getVersion(model, n))!;
}

/** Records what it is asked to re-deliver, and delivers nothing. */
class RecordingRedelivery implements EventRedelivery {
  readonly objects: string[] = [];
  readonly training: string[] = [];
  readonly endpoints: string[] = [];
  onObject: (o: RedeliveredObject) => Promise<void> | void = () => {};
  onTraining: (jobName: string) => Promise<void> | void = () => {};
  async objectCreated(o: RedeliveredObject) {
    this.objects.push(o.key);
    await this.onObject(o);
  }
  async trainingJobStateChange(c: { jobName: string }) {
    this.training.push(c.jobName);
    await this.onTraining(c.jobName);
  }
  endpointStateChange(c: { endpointName: string }) {
    this.endpoints.push(c.endpointName);
    return Promise.resolve();
  }
}

describe('an approval whose rollout was lost', () => {
  it('the newest APPROVED version of a quiet model with no rollout in flight is re-delivered, and deployed', async () => {
    await m.putModelConfig('scoring', { gate: { approval: 'manual' } });
    const v1 = await ingested('scoring', 3);
    expect(await trained(v1, 0.85)).toMatchObject({ kind: 'pending-approval' });
    // Approved (ApproveVersion's first step), and the process died before the rollout started.
    at(1);
    expect(
      await m.registry.transitionVersion({
        model: 'scoring',
        version: v1.version,
        from: ['PENDING_APPROVAL'],
        to: 'APPROVED',
        set: { updatedAt: at(1) },
        audit: {
          model: 'scoring',
          at: at(1),
          eventId: 'APPROVED:1',
          type: 'APPROVED',
          actor: 'alice',
          version: 1,
          reason: 'ok',
        },
      }),
    ).toBe(true);
    at(6);
    expect((await reconcile({ scanDatasets: false })).versions).toEqual([]); // not quiet yet
    at(21);
    expect((await reconcile({ scanDatasets: false })).versions).toEqual([
      {
        kind: 'training-event',
        model: 'scoring',
        version: v1.version,
        status: 'APPROVED',
        jobName: v1.trainingJobName,
        jobStatus: 'Completed',
      },
    ]);
    expect(await versionOf(v1)).toMatchObject({ status: 'DEPLOYING', rolloutRequestedAt: at(21) });
    expect(m.aws.endpoints.get('mlops-scoring')).toMatchObject({ config: v1.trainingJobName });
  });

  describe('the APPROVED guards', () => {
    const run = async () => {
      const recording = new RecordingRedelivery();
      at(60);
      await reconcile({ scanDatasets: false }, { redelivery: recording });
      return recording.training;
    };

    it('deploys only the newest approved version, and only when it is newer than the champion', async () => {
      await versionIn('m', 'PRODUCTION');
      await versionIn('m', 'APPROVED');
      const v3 = await versionIn('m', 'APPROVED');
      // Superseded: n's v2 waits behind a newer champion (v3, which archived v1).
      await versionIn('n', 'PRODUCTION');
      await versionIn('n', 'APPROVED');
      await versionIn('n', 'PRODUCTION');
      expect(await run()).toEqual([v3.trainingJobName]);
    });

    it('waits while a rollout is in flight', async () => {
      await versionIn('m', 'PRODUCTION');
      await versionIn('m', 'APPROVED');
      const v3 = await versionIn('m', 'DEPLOYING');
      // v3's update was requested long ago and is still running: nothing to repair there either.
      expect(
        await m.registry.transitionVersion({
          model: 'm',
          version: 3,
          from: ['DEPLOYING'],
          to: 'DEPLOYING',
          set: { rolloutRequestedAt: at(0), updatedAt: at(0) },
          audit: {
            model: 'm',
            at: at(0),
            eventId: 'ROLLOUT_REQUESTED:3',
            type: 'ROLLOUT_REQUESTED',
            actor: 'deployer',
            reason: 'r',
          },
        }),
      ).toBe(true);
      m.aws.endpoints.set('mlops-m', {
        config: 'old',
        pending: v3.trainingJobName,
        status: 'Updating',
        modified: new Date(T0),
      });
      expect(await run()).toEqual([]);
    });

    it('waits while the model is not quiet: a version changed a moment ago', async () => {
      await versionIn('m', 'APPROVED');
      at(59);
      await versionIn('m', 'TRAINING');
      expect(await run()).toEqual([]);
    });
  });
});

describe('a lost upload event', () => {
  const data = churnCsv(200, 9).replace('churned', 'label');

  it('is left alone while the object is young; then ingested; a second run does nothing more', async () => {
    // Delivered as usual: never re-delivered.
    await new IngestDataset(m).execute(await inventory.put('datasets/fraud/delivered.csv', data));
    // Events never delivered: a file, a complete folder, and what ingest skips.
    await inventory.put('datasets/fraud/lost.csv', data);
    const [header, ...rows] = data.trimEnd().split('\n');
    await inventory.put(
      'datasets/fraud/june/part-00000.csv',
      `${header}\n${rows.slice(0, 100).join('\n')}\n`,
    );
    await inventory.put('datasets/fraud/june/part-00001.csv', `${header}\n${rows.slice(100).join('\n')}\n`);
    await inventory.put('datasets/fraud/june/_SUCCESS', '');
    await inventory.put('datasets/fraud/incomplete/part-00000.csv', data);
    await inventory.put('datasets/fraud/.DS_Store', 'x');
    await inventory.put('datasets/fraud/_scratch.csv', data);

    at(2);
    expect((await reconcile()).datasets).toMatchObject({ examined: 8, redelivered: [] }); // may be in flight
    const jobsBefore = m.trainingJobs().length;

    at(11);
    const first = await reconcile();
    expect(first.kind).toBe('reconciled');
    expect(first.datasets!.redelivered.map((r) => r.key)).toEqual([
      'datasets/fraud/june/_SUCCESS',
      'datasets/fraud/lost.csv',
    ]);
    for (const { model, datasetId } of first.datasets!.redelivered) {
      expect(model).toBe('fraud');
      expect(await m.registry.getDataset(model, datasetId)).toMatchObject({ status: 'ACCEPTED' });
    }
    expect(m.trainingJobs()).toHaveLength(jobsBefore + 2);
    const versions = await m.registry.listVersions('fraud');
    expect(versions.map((v) => v.status)).toEqual(['TRAINING', 'TRAINING', 'TRAINING']);
    expect(
      versions
        .slice(1)
        .map((v) => v.datasetId)
        .sort(),
    ).toEqual(first.datasets!.redelivered.map((r) => r.datasetId).sort());

    const second = await reconcile();
    expect(second.datasets).toEqual({ examined: 8, redelivered: [] });
    expect(m.trainingRequests()).toHaveLength(jobsBefore + 2);
    expect(redelivery.delivered).toEqual([
      'object datasets/fraud/june/_SUCCESS',
      'object datasets/fraud/lost.csv',
    ]);
    expect(m.text(RECONCILER_CURSOR_KEY)).toBeUndefined(); // every run finished: no cursor to keep
  });

  it('an upload under a refused key is re-delivered once: ingest records its rejection where the reconciler looks', async () => {
    await inventory.put('datasets/Bad_Model/x.csv', data);
    at(11);
    const first = await reconcile();
    const identity = rejectedKeyRecordOf({
      bucket: m.bucket,
      ...m.objects.peek(m.bucket, 'datasets/Bad_Model/x.csv')!.info,
    });
    expect(first.datasets!.redelivered).toEqual([{ key: 'datasets/Bad_Model/x.csv', ...identity }]);
    expect(await m.registry.getDataset(identity.model, identity.datasetId)).toMatchObject({
      status: 'REJECTED',
    });
    expect((await reconcile()).datasets!.redelivered).toEqual([]);
  });

  it('a registry lookup that fails is counted, and the object is looked at again next run', async () => {
    await inventory.put('datasets/fraud/lost.csv', data);
    at(11);
    m.registry.failNext('getDataset');
    expect(await reconcile()).toMatchObject({
      kind: 'partial',
      failures: [
        {
          what: 'dataset lookup of datasets/fraud/lost.csv',
          error: stringContaining('injected failure'),
        },
      ],
      datasets: { examined: 1, redelivered: [] },
    });
    expect((await reconcile()).datasets!.redelivered.map((r) => r.key)).toEqual(['datasets/fraud/lost.csv']);
  });
});

// ---------------------------------------------------------------------------------------------
// Bounds: caps and the cursor.

class ArrayInventory implements ObjectInventory {
  readonly calls: { startAfter?: string; maxKeys: number }[] = [];
  constructor(private readonly objects: InventoryObject[]) {}
  listPage(_bucket: string, _prefix: string, options: { startAfter?: string; maxKeys: number }) {
    this.calls.push(options);
    const rest = this.objects.filter((o) => options.startAfter === undefined || o.key > options.startAfter);
    return Promise.resolve({
      objects: rest.slice(0, options.maxKeys),
      truncated: rest.length > options.maxKeys,
    });
  }
}

describe('bounded work and the cursor', () => {
  const old = new Date(T0 - 60 * MINUTE);
  const files = ['a', 'b', 'c', 'd', 'e'].map((n): InventoryObject => ({
    key: `datasets/m/${n}.csv`,
    size: 1,
    etag: `etag-${n}`,
    lastModified: old,
  }));
  /** Ingest records what it is sent (here: as rejected, which is enough for the reconciler to see it). */
  const recordedByIngest = async (o: RedeliveredObject) => {
    const identity = datasetIdentity(m.bucket, o)!;
    await m.registry.recordRejectedDataset(
      {
        ...identity,
        sourceUri: `s3://${o.bucket}/${o.key}`,
        status: 'REJECTED',
        rejection: { code: 'TEST', reason: 'test' },
        createdAt: m.clock.now().toISOString(),
      },
      {
        model: identity.model,
        at: m.clock.now().toISOString(),
        eventId: identity.datasetId,
        type: 'DATASET_REJECTED',
        actor: 'ingest',
        reason: 'test',
      },
    );
  };

  it('re-delivers at most the cap per run, and the next run goes on where it stopped', async () => {
    const inventory = new ArrayInventory(files);
    const redelivery = new RecordingRedelivery();
    redelivery.onObject = recordedByIngest;
    const run = () => reconcile({ maxDatasetRepairsPerRun: 2, pageSize: 2 }, { redelivery, inventory });

    expect((await run()).datasets).toMatchObject({ examined: 2, nextStartAfter: 'datasets/m/b.csv' });
    expect(JSON.parse(m.text(RECONCILER_CURSOR_KEY)!)).toMatchObject({ startAfter: 'datasets/m/b.csv' });
    expect((await run()).datasets).toMatchObject({ examined: 2, nextStartAfter: 'datasets/m/d.csv' });
    const third = (await run()).datasets!;
    expect(third.examined).toBe(1);
    expect(third.nextStartAfter).toBeUndefined();
    expect(JSON.parse(m.text(RECONCILER_CURSOR_KEY)!)).not.toHaveProperty('startAfter');
    expect(redelivery.objects).toEqual(files.map((f) => f.key));
    // Wrapped around: the next run starts from the first key and finds everything registered.
    expect((await run()).datasets).toMatchObject({ examined: 5, redelivered: [] });
    expect(inventory.calls.at(-3)).toEqual({ maxKeys: 2 });
  });

  it('examines at most maxObjectsPerRun keys per run', async () => {
    const inventory = new ArrayInventory(files);
    const outcome = await reconcile(
      { maxObjectsPerRun: 3, pageSize: 2 },
      { redelivery: new RecordingRedelivery(), inventory },
    );
    expect(outcome.datasets).toMatchObject({ examined: 3, nextStartAfter: 'datasets/m/c.csv' });
    expect(inventory.calls).toEqual([{ maxKeys: 2 }, { startAfter: 'datasets/m/b.csv', maxKeys: 1 }]);
  });

  it('a failed re-delivery ends the scan there, and the run is partial', async () => {
    const redelivery = new RecordingRedelivery();
    redelivery.onObject = (o) => {
      if (o.key.endsWith('b.csv')) throw new Error('SQS is down');
    };
    const outcome = await reconcile({}, { redelivery, inventory: new ArrayInventory(files) });
    expect(outcome).toMatchObject({
      kind: 'partial',
      failures: [{ what: 'upload datasets/m/b.csv', error: 'Error: SQS is down' }],
      datasets: { examined: 1, nextStartAfter: 'datasets/m/a.csv' },
    });
  });

  it('an unreadable cursor is logged, and the scan starts from the first key', async () => {
    await m.objects.write(m.bucket, RECONCILER_CURSOR_KEY, 'not json', 'application/json');
    const inventory = new ArrayInventory(files);
    expect(
      (await reconcile({}, { redelivery: new RecordingRedelivery(), inventory })).datasets,
    ).toMatchObject({
      examined: 5,
    });
    expect(inventory.calls[0]).toEqual({ maxKeys: 1000 });
    expect(m.log.entries).toContainEqual(
      expect.objectContaining({
        level: 'warn',
        message: 'unreadable reconciler cursor; scanning from the first key',
      }),
    );
  });

  it('repairs at most maxVersionRepairsPerRun versions, the longest lost first; the rest next run', async () => {
    const lost: VersionRecord[] = [];
    for (const [i, model] of ['c', 'a', 'b'].entries()) {
      at(i);
      lost.push(await ingested(model, i + 1));
      m.finishTraining(lost[i]!.trainingJobName, { failureReason: 'AlgorithmError' });
    }
    at(30);
    const first = await reconcile({ scanDatasets: false, maxVersionRepairsPerRun: 2 });
    expect(first.versions.map((r) => r.model)).toEqual(['c', 'a']);
    expect(m.log.entries.filter((e) => e.message.startsWith('version repair cap reached'))).toHaveLength(1);
    expect(await Promise.all(lost.map(statusOf))).toEqual(['FAILED', 'FAILED', 'TRAINING']);
    expect(
      (await reconcile({ scanDatasets: false, maxVersionRepairsPerRun: 2 })).versions.map((r) => r.model),
    ).toEqual(['b']);
    expect((await reconcile({ scanDatasets: false, maxVersionRepairsPerRun: 2 })).versions).toEqual([]);
  });

  it('a repair that fails is counted, and the others go on', async () => {
    const a = await ingested('a', 1);
    const b = await ingested('b', 2);
    for (const v of [a, b]) m.finishTraining(v.trainingJobName, { metrics: { 'validation:auc': 0.9 } });
    const recording = new RecordingRedelivery();
    recording.onTraining = (jobName) => {
      if (jobName === a.trainingJobName) throw new Error('Lambda is down');
    };
    at(20);
    expect(await reconcile({ scanDatasets: false }, { redelivery: recording })).toMatchObject({
      kind: 'partial',
      versions: [{ model: 'b' }],
      failures: [{ what: `training job ${a.trainingJobName}`, error: 'Error: Lambda is down' }],
    });
    expect(recording.training).toEqual([a.trainingJobName, b.trainingJobName]);
  });
});

describe('what counts as a dataset', () => {
  const object = (key: string) => ({ key, size: 1, etag: 'e', versionId: 'v1' });

  it('derives the ids ingest derives, and skips what ingest skips', () => {
    expect(datasetIdentity('b', object('datasets/churn/jan.csv'))).toEqual({
      model: 'churn',
      datasetId: stringMatching(/^jan-[0-9a-f]{10}$/),
    });
    expect(datasetIdentity('b', object('datasets/churn/june/_SUCCESS'))).toEqual({
      model: 'churn',
      datasetId: stringMatching(/^june-[0-9a-f]{10}$/),
    });
    // A refused key: the very record ingest writes for it (one function derives both).
    const refused = object('datasets/Bad_Model/x.csv');
    expect(datasetIdentity('b', refused)).toEqual({
      model: 'Bad_Model',
      datasetId: stringMatching(/^key-[0-9a-f]{64}$/),
    });
    expect(datasetIdentity('b', refused)).toEqual(rejectedKeyRecordOf({ bucket: 'b', ...refused }));
    for (const skipped of [
      'datasets/churn/june/part-0.csv',
      'datasets/churn/',
      'datasets/churn/.DS_Store',
      'datasets/churn/_tmp.csv',
      'datasets/churn/_tmp/_SUCCESS',
      'datasets/churn/_SUCCESS',
    ]) {
      expect(datasetIdentity('b', object(skipped))).toBeUndefined();
    }
  });
});

describe('pending notifications', () => {
  /**
   * alarm-events opened an incident of `model` at `when` with its notification (written in the
   * same transaction), and died before sending it; returns the notification's id.
   */
  const opened = async (model: string, eventId: string, when: string) => {
    const alarmName = m.names.alarms(model).errorRate;
    const written = await m.registry.openIncident(
      {
        model,
        alarmName,
        incidentId: `${alarmName}@${when}`,
        status: 'OPEN',
        openedAt: when,
        reason: 'errors',
      },
      {
        model,
        at: when,
        eventId,
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
    );
    if (!written) throw new Error(`${model}: an incident is open already`);
    return `${when}#${eventId}`;
  };
  const pending = () => m.registry.listPendingNotificationsBefore('9999-12-31T00:00:00.000Z');

  it('a notification whose event was lost after its write is sent once a minute old, with its id, only once', async () => {
    const id = await opened('churn', 'INCIDENT_OPENED:a', at(0));
    m.clock.advance(30_000);
    expect((await reconcile({ scanDatasets: false })).notifications).toEqual([]); // its event may be sending it
    expect(m.notifications()).toEqual([]);
    at(2);
    expect((await reconcile({ scanDatasets: false })).notifications).toEqual([
      { model: 'churn', id, kind: 'incident-opened' },
    ]);
    expect(m.notifications()).toEqual([
      expect.objectContaining({
        id,
        kind: 'incident-opened',
        subject: 'churn: mlops-churn-error-rate in ALARM',
      }),
    ]);
    at(3);
    expect((await reconcile({ scanDatasets: false })).notifications).toEqual([]);
    expect(m.notifications()).toHaveLength(1);
    expect(await pending()).toEqual([]);
  });

  it('sends those pending for over a minute (counted), leaves younger ones and held claims alone', async () => {
    const lost = await opened('churn', 'lost', at(40));
    const held = await opened('fraud', 'held', at(58));
    expect(await m.registry.claimNotification('fraud', held, at(58), at(63))).toBe(true);
    await opened('leads', 'young', new Date(T0 + 59.5 * MINUTE).toISOString());
    at(60);
    expect(await reconcile({ scanDatasets: false })).toMatchObject({
      kind: 'reconciled',
      notifications: [{ model: 'churn', id: lost, kind: 'incident-opened' }],
      failures: [],
    });
    expect(m.notifications()).toEqual([expect.objectContaining({ id: lost, model: 'churn' })]);
    expect((await pending()).map((p) => p.model)).toEqual(['fraud', 'leads']);
  });

  it('a failed send is counted as a failure and tried again once its claim has ended', async () => {
    const id = await opened('churn', 'lost', at(40));
    const down = m.with({
      notifier: {
        notify: () =>
          Promise.reject(
            Object.assign(new Error('We encountered an internal error.'), { name: 'InternalError' }),
          ),
      },
    });
    at(60);
    expect(
      await new Reconcile(down, { redelivery, inventory }, { scanDatasets: false }).execute(),
    ).toMatchObject({
      kind: 'partial',
      notifications: [],
      failures: [{ what: `notification ${id} of churn`, error: stringContaining('InternalError') }],
    });
    // Maybe sent: the claim is kept until its lease ends (5 minutes), then it is sent again.
    at(64);
    expect((await reconcile({ scanDatasets: false })).notifications).toEqual([]);
    at(65.1);
    expect((await reconcile({ scanDatasets: false })).notifications).toHaveLength(1);
    expect(m.notifications().map((n) => n.id)).toEqual([id]);
  });
});
