/**
 * ProcessTrainingJob on the in-memory registry and bucket, with SageMaker, CloudWatch and SNS
 * answered by FakeAws through the real adapters (test/support/memory-context.ts): the behaviours
 * test/lambdas/pipeline.test.ts shows through the handlers, at the use case. A completed job records
 * its metrics and artifact, the gate rejects, waits for approval or approves and deploys; a failed
 * job ends FAILED; duplicate and late events change nothing twice, and faults around the registry's
 * writes are finished by the retried event.
 */
import { CreateEndpointCommand, CreateModelCommand, UpdateEndpointCommand } from '@aws-sdk/client-sagemaker';
import { describe, expect, it } from 'vitest';
import { RegistryStoreError } from '../../../adapters/dynamodb/table-layout';
import { IngestDataset } from '../../../core/use-cases/ingest-dataset';
import { NOTIFICATION_LEASE_MS } from '../../../core/use-cases/notification-outbox';
import { ProcessEndpointChange } from '../../../core/use-cases/process-endpoint-change';
import { ProcessTrainingJob } from '../../../core/use-cases/process-training-job';
import {
  churnCsv,
  MEMORY_BUCKET as BUCKET,
  ROLE_ARN,
  useMemoryContext,
  type MemoryContext,
} from '../../support/memory-context';
import { stringMatching } from '../../support/matchers';

const MODEL = 'churn';
const ENDPOINT = 'mlops-churn';

let seed = 0;

/** Uploads a dataset (and the config, when given), runs ingest, returns the new version's job. */
async function newVersion(
  m: MemoryContext,
  config?: Record<string, unknown>,
): Promise<{ version: number; jobName: string }> {
  if (config) await m.putModelConfig(MODEL, { labelColumn: 'churned', ...config });
  const n = ++seed;
  const outcome = await new IngestDataset(m).execute(
    await m.upload(`datasets/${MODEL}/batch-${n}.csv`, churnCsv(120, n)),
  );
  if (outcome.kind !== 'training')
    throw new Error(`ingest did not start training: ${JSON.stringify(outcome)}`);
  return { version: outcome.version, jobName: outcome.jobName };
}

function processJob(m: MemoryContext, jobName: string) {
  return new ProcessTrainingJob(m).execute(jobName);
}

async function versionOf(m: MemoryContext, n: number) {
  return m.registry.getVersion(MODEL, n);
}

async function auditTypes(m: MemoryContext): Promise<string[]> {
  return (await m.registry.listAudit(MODEL)).map((a) => a.type);
}

/** v(n) completes with these metrics, passes the gate, rolls out and is promoted: the champion. */
async function champion(m: MemoryContext, metrics: Record<string, number>, config?: Record<string, unknown>) {
  const v = await newVersion(m, config);
  m.finishTraining(v.jobName, { metrics });
  expect(await processJob(m, v.jobName)).toMatchObject({ kind: 'deploying' });
  m.aws.settleEndpoint(ENDPOINT, 'in-service');
  expect(await new ProcessEndpointChange(m).execute(ENDPOINT)).toMatchObject({ kind: 'promoted' });
  expect((await m.registry.getModel(MODEL))?.champion).toBe(v.version);
  return v;
}

describe('ProcessTrainingJob: a completed job', () => {
  const memory = useMemoryContext();

  it('records metrics and artifact, passes the gate and requests the rollout, once however often the event comes', async () => {
    const m = memory();
    const v1 = await newVersion(m, { gate: { threshold: 0.7 } });
    m.finishTraining(v1.jobName, { metrics: { 'validation:auc': 0.91, 'train:auc': 0.95 } });
    m.clock.advance(60_000);

    const outcome = await processJob(m, v1.jobName);

    expect(outcome).toEqual({
      kind: 'deploying',
      version: 1,
      deploy: { kind: 'creating', endpointName: ENDPOINT, configName: v1.jobName },
    });
    const version = await versionOf(m, 1);
    expect(version).toMatchObject({
      status: 'DEPLOYING',
      metrics: { 'validation:auc': 0.91, 'train:auc': 0.95 },
      artifactUri: `s3://${BUCKET}/artifacts/churn/${v1.jobName}/output/model.tar.gz`,
      endpointName: ENDPOINT,
      endpointConfigName: v1.jobName,
    });
    expect(version!.rolloutRequestedAt).toBeDefined();
    expect(version!.gate).toMatchObject({ passed: true });
    expect(version!.gate!.checks.map((c) => [c.name, c.passed])).toEqual([
      ['metric-reported', true],
      ['threshold', true],
      ['no-regression', true],
      ['approval', true],
    ]);
    expect(m.aws.sagemaker).toHaveReceivedCommandWith(CreateModelCommand, {
      ModelName: v1.jobName,
      ExecutionRoleArn: ROLE_ARN,
      PrimaryContainer: {
        Image: '683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1',
        ModelDataUrl: version!.artifactUri,
      },
    });
    expect(m.aws.sagemaker).toHaveReceivedCommandWith(CreateEndpointCommand, {
      EndpointName: ENDPOINT,
      EndpointConfigName: v1.jobName,
    });

    // A duplicate, and a late InProgress event: nothing more.
    expect(await processJob(m, v1.jobName)).toEqual({
      kind: 'already-processed',
      version: 1,
      status: 'DEPLOYING',
    });
    expect(await processJob(m, v1.jobName)).toMatchObject({ kind: 'already-processed' });
    expect(m.rolloutRequests()).toEqual({ create: 1, update: 0 });
    expect(m.aws.sagemaker).toHaveReceivedCommandTimes(CreateModelCommand, 1);
    const types = await auditTypes(m);
    expect(types.filter((t) => t === 'TRAINED')).toHaveLength(1);
    expect(types.filter((t) => t === 'GATE_APPROVED')).toHaveLength(1);
    const trained = (await m.registry.listAudit(MODEL)).find((a) => a.type === 'TRAINED')!;
    expect(trained).toMatchObject({
      actor: 'training-events',
      from: 'TRAINING',
      to: 'TRAINED',
      at: '2026-11-26T10:01:00.000Z',
      reason: `training job ${v1.jobName} completed: validation:auc=0.91, train:auc=0.95`,
    });
    expect(m.notifications()).toEqual([]);
  });

  it('an InProgress job changes nothing', async () => {
    const m = memory();
    const v1 = await newVersion(m, {});
    expect(await processJob(m, v1.jobName)).toEqual({ kind: 'in-progress' });
    expect(await versionOf(m, 1)).toMatchObject({ status: 'TRAINING' });
    expect(await auditTypes(m)).toEqual(['VERSION_CREATED']);
  });

  it('rejects a candidate below the threshold, with its reason, notified once, and deploys nothing', async () => {
    const m = memory();
    const v1 = await newVersion(m, { gate: { threshold: 0.8 } });
    m.finishTraining(v1.jobName, { metrics: { 'validation:auc': 0.75 } });

    const outcome = await processJob(m, v1.jobName);
    expect(await processJob(m, v1.jobName)).toEqual({
      kind: 'already-processed',
      version: 1,
      status: 'REJECTED',
    });

    const reason = 'gate rejected the candidate: validation:auc 0.75 misses the threshold (>= 0.8)';
    expect(outcome).toEqual({ kind: 'rejected', version: 1, reason });
    expect(await versionOf(m, 1)).toMatchObject({
      status: 'REJECTED',
      failureReason: reason,
      metrics: { 'validation:auc': 0.75 },
      gate: { passed: false },
    });
    expect(m.notifications().map((n) => [n.kind, n.subject, n.message])).toEqual([
      ['version-rejected', 'churn v1: candidate rejected', reason],
    ]);
    expect(m.aws.sagemaker).not.toHaveReceivedCommand(CreateModelCommand);
    expect(m.rolloutRequests()).toEqual({ create: 0, update: 0 });
    expect((await auditTypes(m)).filter((t) => t === 'GATE_REJECTED')).toHaveLength(1);
  });

  it('rejects a job that reported no objective metric', async () => {
    const m = memory();
    const v1 = await newVersion(m, {});
    m.finishTraining(v1.jobName, { metrics: { 'train:auc': 0.99 } });
    expect(await processJob(m, v1.jobName)).toMatchObject({
      kind: 'rejected',
      reason: stringMatching(/reported no validation:auc \(it reported: train:auc\)/),
    });
    expect(m.rolloutRequests()).toEqual({ create: 0, update: 0 });
  });

  it('rejects a candidate worse than the champion; a better one rolls out blue/green', async () => {
    const m = memory();
    await champion(m, { 'validation:auc': 0.93 }, { gate: { regressionTolerance: 0.01 } });

    const worse = await newVersion(m);
    m.finishTraining(worse.jobName, { metrics: { 'validation:auc': 0.9 } });
    expect(await processJob(m, worse.jobName)).toMatchObject({
      kind: 'rejected',
      reason: stringMatching(
        /validation:auc 0\.9 against champion v1 0\.93 \(tolerance 0\.01\): worse than the champion/,
      ),
    });

    const within = await newVersion(m);
    m.finishTraining(within.jobName, { metrics: { 'validation:auc': 0.925 } });
    expect(await processJob(m, within.jobName)).toEqual({
      kind: 'deploying',
      version: within.version,
      deploy: { kind: 'updating', endpointName: ENDPOINT, configName: within.jobName },
    });
    expect(m.aws.sagemaker).toHaveReceivedCommandWith(UpdateEndpointCommand, {
      EndpointName: ENDPOINT,
      EndpointConfigName: within.jobName,
    });
    expect(m.rolloutRequests()).toEqual({ create: 1, update: 1 });
    expect((await versionOf(m, within.version))!.gate!.checks).toContainEqual(
      expect.objectContaining({ name: 'no-regression', passed: true }),
    );
  });

  it('with manual approval waits in PENDING_APPROVAL, notified once, and deploys nothing', async () => {
    const m = memory();
    const v1 = await newVersion(m, { gate: { approval: 'manual' } });
    m.finishTraining(v1.jobName, { metrics: { 'validation:auc': 0.8 } });

    expect(await processJob(m, v1.jobName)).toEqual({ kind: 'pending-approval', version: 1 });
    expect(await processJob(m, v1.jobName)).toEqual({
      kind: 'already-processed',
      version: 1,
      status: 'PENDING_APPROVAL',
    });

    const version = await versionOf(m, 1);
    expect(version).toMatchObject({ status: 'PENDING_APPROVAL', gate: { passed: true } });
    expect(version!.gate!.checks.at(-1)).toMatchObject({ name: 'approval', passed: true });
    expect(m.notifications()).toEqual([
      expect.objectContaining({
        kind: 'approval-needed',
        model: MODEL,
        subject: 'churn v1: waiting for approval',
        message: stringMatching(/Approve it to roll it out\.$/),
      }),
    ]);
    expect(m.rolloutRequests()).toEqual({ create: 0, update: 0 });
  });

  it('queues a second approved version behind the rollout in flight', async () => {
    const m = memory();
    const v1 = await newVersion(m, {});
    const v2 = await newVersion(m);
    m.finishTraining(v1.jobName, { metrics: { 'validation:auc': 0.9 } });
    m.finishTraining(v2.jobName, { metrics: { 'validation:auc': 0.91 } });
    expect(await processJob(m, v1.jobName)).toMatchObject({
      kind: 'deploying',
      deploy: { kind: 'creating' },
    });
    expect(await processJob(m, v2.jobName)).toMatchObject({
      kind: 'deploying',
      deploy: { kind: 'queued', behind: 1 },
    });
    expect(await versionOf(m, 2)).toMatchObject({ status: 'APPROVED' });
    expect(m.rolloutRequests()).toEqual({ create: 1, update: 0 });
  });
});

describe('ProcessTrainingJob: a failed or stopped job', () => {
  const memory = useMemoryContext();

  it('ends FAILED with its reason and metrics, notified once, however often the event comes', async () => {
    const m = memory();
    const v1 = await newVersion(m, {});
    m.finishTraining(v1.jobName, { failureReason: 'AlgorithmError: feature_names mismatch' });

    const reason = `training job ${v1.jobName} failed: AlgorithmError: feature_names mismatch`;
    expect(await processJob(m, v1.jobName)).toEqual({ kind: 'failed', reason });
    expect(await processJob(m, v1.jobName)).toEqual({
      kind: 'already-processed',
      version: 1,
      status: 'FAILED',
    });
    expect(await versionOf(m, 1)).toMatchObject({ status: 'FAILED', failureReason: reason, metrics: {} });
    expect((await auditTypes(m)).filter((t) => t === 'TRAINING_FAILED')).toHaveLength(1);
    expect(m.notifications().map((n) => [n.kind, n.subject, n.message])).toEqual([
      ['training-failed', 'churn v1: training failed', reason],
    ]);
    expect(m.rolloutRequests()).toEqual({ create: 0, update: 0 });
  });

  it('a stopped job ends FAILED as stopped', async () => {
    const m = memory();
    const v1 = await newVersion(m, {});
    Object.assign(m.aws.jobs.get(v1.jobName)!, { status: 'Stopped', failureReason: 'MaxRuntimeExceeded' });
    expect(await processJob(m, v1.jobName)).toEqual({
      kind: 'failed',
      reason: `training job ${v1.jobName} was stopped: MaxRuntimeExceeded`,
    });
    expect(await versionOf(m, 1)).toMatchObject({ status: 'FAILED' });
  });
});

describe('ProcessTrainingJob: events about other jobs', () => {
  const memory = useMemoryContext();

  it('ignores a job that is not of this stack, one with no version, and one the version does not name', async () => {
    const m = memory();
    const v1 = await newVersion(m, {});
    expect(await processJob(m, 'someone-elses-job')).toMatchObject({ kind: 'ignored' });
    expect(await processJob(m, 'mlops-churn-v7-abcd')).toMatchObject({
      kind: 'ignored',
      why: 'no registry version for mlops-churn-v7-abcd',
    });
    const otherSuffix = v1.jobName.replace(/-[0-9a-f]{4}$/, (s) => (s === '-0000' ? '-0001' : '-0000'));
    expect(await processJob(m, otherSuffix)).toMatchObject({ kind: 'ignored' });
    expect(await versionOf(m, 1)).toMatchObject({ status: 'TRAINING' });
    expect(await auditTypes(m)).toEqual(['VERSION_CREATED']);
  });

  it('ignores a job the training service does not know', async () => {
    const m = memory();
    await newVersion(m, {});
    m.aws.jobs.clear();
    const [version] = await m.registry.listVersions(MODEL);
    expect(await processJob(m, version!.trainingJobName)).toEqual({
      kind: 'ignored',
      why: `${version!.trainingJobName} does not exist in the training service`,
    });
    expect(version).toMatchObject({ status: 'TRAINING' });
  });
});

describe('ProcessTrainingJob: faults are thrown, and the retried event finishes the work once', () => {
  const memory = useMemoryContext();

  it('TRAINED applied but its answer lost: the retry gates and deploys, each once', async () => {
    const m = memory();
    const v1 = await newVersion(m, {});
    m.finishTraining(v1.jobName, { metrics: { 'validation:auc': 0.9 } });
    m.registry.failNext('transitionVersion', { when: 'after' });
    await expect(processJob(m, v1.jobName)).rejects.toBeInstanceOf(RegistryStoreError);
    expect(await versionOf(m, 1)).toMatchObject({ status: 'TRAINED', metrics: { 'validation:auc': 0.9 } });

    expect(await processJob(m, v1.jobName)).toMatchObject({
      kind: 'deploying',
      deploy: { kind: 'creating' },
    });
    expect((await auditTypes(m)).sort()).toEqual([
      'DEPLOYMENT_STARTED',
      'GATE_APPROVED',
      'ROLLOUT_REQUESTED',
      'TRAINED',
      'VERSION_CREATED',
    ]);
    expect(m.rolloutRequests()).toEqual({ create: 1, update: 0 });
  });

  it('TRAINED refused before its write: nothing changes; the retry does it all', async () => {
    const m = memory();
    const v1 = await newVersion(m, {});
    m.finishTraining(v1.jobName, { metrics: { 'validation:auc': 0.9 } });
    m.registry.failNext('transitionVersion');
    await expect(processJob(m, v1.jobName)).rejects.toBeInstanceOf(RegistryStoreError);
    expect(await versionOf(m, 1)).toMatchObject({ status: 'TRAINING' });
    expect(await processJob(m, v1.jobName)).toMatchObject({ kind: 'deploying' });
    expect(await versionOf(m, 1)).toMatchObject({ status: 'DEPLOYING' });
  });

  it('a rollout whose endpoint call failed is sent again by the retried event', async () => {
    const m = memory();
    const v1 = await newVersion(m, {});
    m.finishTraining(v1.jobName, { metrics: { 'validation:auc': 0.9 } });
    // The endpoint service throttles the first CreateEndpoint (before SageMaker got it).
    let throttled = false;
    const endpoints = Object.assign(Object.create(m.endpoints) as typeof m.endpoints, {
      createEndpoint: async (...args: Parameters<typeof m.endpoints.createEndpoint>) => {
        if (!throttled) {
          throttled = true;
          throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
        }
        return m.endpoints.createEndpoint(...args);
      },
    });
    await expect(new ProcessTrainingJob(m.with({ endpoints })).execute(v1.jobName)).rejects.toMatchObject({
      name: 'ThrottlingException',
    });
    const locked = await versionOf(m, 1);
    expect(locked).toMatchObject({ status: 'DEPLOYING' });
    expect(locked!.rolloutRequestedAt).toBeUndefined();
    expect(m.aws.endpoints.size).toBe(0);

    expect(await processJob(m, v1.jobName)).toMatchObject({
      kind: 'deploying',
      deploy: { kind: 'creating' },
    });
    expect((await versionOf(m, 1))!.rolloutRequestedAt).toBeDefined();
    expect([...m.aws.endpoints.keys()]).toEqual([ENDPOINT]);
    expect(await processJob(m, v1.jobName)).toMatchObject({ kind: 'already-processed', status: 'DEPLOYING' });
    expect(m.rolloutRequests()).toEqual({ create: 1, update: 0 });
  });

  it('a rejection applied but its answer lost: the retry notifies, once', async () => {
    const m = memory();
    const v1 = await newVersion(m, { gate: { threshold: 0.95 } });
    m.finishTraining(v1.jobName, { metrics: { 'validation:auc': 0.9 } });
    // A first delivery records TRAINED, then fails reading the model for the gate.
    m.registry.failNext('getModel');
    await expect(processJob(m, v1.jobName)).rejects.toBeInstanceOf(RegistryStoreError);
    expect(await versionOf(m, 1)).toMatchObject({ status: 'TRAINED', metrics: { 'validation:auc': 0.9 } });
    // A second one gates from TRAINED: REJECTED applies, its answer is lost.
    m.registry.failNext('transitionVersion', { when: 'after' });
    await expect(processJob(m, v1.jobName)).rejects.toBeInstanceOf(RegistryStoreError);
    expect(await versionOf(m, 1)).toMatchObject({ status: 'REJECTED' });
    expect(m.notifications()).toEqual([]);
    // A third finds the work done and sends what the second wrote.
    expect(await processJob(m, v1.jobName)).toEqual({
      kind: 'already-processed',
      version: 1,
      status: 'REJECTED',
    });
    expect(await processJob(m, v1.jobName)).toMatchObject({ kind: 'already-processed' });
    expect(m.notifications().map((n) => n.kind)).toEqual(['version-rejected']);
    expect((await auditTypes(m)).filter((t) => t.startsWith('GATE_'))).toEqual(['GATE_REJECTED']);
  });

  it('a FAILED move applied but its answer lost: the retry sends the notification, once', async () => {
    const m = memory();
    const v1 = await newVersion(m, {});
    m.finishTraining(v1.jobName, { failureReason: 'OOM' });
    m.registry.failNext('transitionVersion', { when: 'after' });
    await expect(processJob(m, v1.jobName)).rejects.toBeInstanceOf(RegistryStoreError);
    expect(m.notifications()).toEqual([]);
    expect(await processJob(m, v1.jobName)).toEqual({
      kind: 'already-processed',
      version: 1,
      status: 'FAILED',
    });
    expect(await processJob(m, v1.jobName)).toMatchObject({ kind: 'already-processed' });
    expect(m.notifications().map((n) => n.kind)).toEqual(['training-failed']);
  });

  it('an approval notice SNS may have sent is sent again only after its claim ends', async () => {
    const m = memory();
    const v1 = await newVersion(m, { gate: { approval: 'manual' } });
    m.finishTraining(v1.jobName, { metrics: { 'validation:auc': 0.9 } });
    m.failNextPublish('unknown');
    await expect(processJob(m, v1.jobName)).rejects.toMatchObject({ name: 'InternalErrorException' });
    expect(await versionOf(m, 1)).toMatchObject({ status: 'PENDING_APPROVAL' });
    await processJob(m, v1.jobName);
    expect(m.notifications()).toEqual([]);
    m.clock.advance(NOTIFICATION_LEASE_MS + 1);
    await processJob(m, v1.jobName);
    await processJob(m, v1.jobName);
    expect(m.notifications().map((n) => n.kind)).toEqual(['approval-needed']);
  });
});
