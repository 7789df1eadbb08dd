/**
 * ApproveVersion on the in-memory registry, with SageMaker answered by FakeAws through the real
 * adapter (test/support/memory-context.ts): a person approves a version waiting in
 * PENDING_APPROVAL and it rolls out at once, or rejects it with a reason; a version that is not
 * waiting is left alone, and a second approval rolls nothing out twice.
 */
import { describe, expect, it } from 'vitest';
import { RegistryStoreError } from '../../../adapters/dynamodb/table-layout';
import { ApproveVersion } from '../../../core/use-cases/approve-version';
import { IngestDataset } from '../../../core/use-cases/ingest-dataset';
import { ProcessTrainingJob } from '../../../core/use-cases/process-training-job';
import { churnCsv, useMemoryContext, type MemoryContext } from '../../support/memory-context';

const MODEL = 'leads';
const ENDPOINT = 'mlops-leads';

let seed = 0;

/** A new version of MODEL, trained with this AUC and gated under manual approval (or left TRAINING). */
async function version(
  m: MemoryContext,
  auc: number | 'training' = 0.8,
): Promise<{ version: number; jobName: string }> {
  await m.putModelConfig(MODEL, { labelColumn: 'churned', gate: { approval: 'manual', threshold: 0.7 } });
  const n = ++seed;
  const outcome = await new IngestDataset(m).execute(
    await m.upload(`datasets/${MODEL}/d${n}.csv`, churnCsv(100, n)),
  );
  if (outcome.kind !== 'training') throw new Error(`ingest did not start training: ${outcome.kind}`);
  if (auc !== 'training') {
    m.finishTraining(outcome.jobName, { metrics: { 'validation:auc': auc } });
    await new ProcessTrainingJob(m).execute(outcome.jobName);
  }
  return { version: outcome.version, jobName: outcome.jobName };
}

async function statusOf(m: MemoryContext, n: number) {
  return (await m.registry.getVersion(MODEL, n))?.status;
}

async function auditOf(m: MemoryContext, type: string) {
  return (await m.registry.listAudit(MODEL)).filter((a) => a.type === type);
}

describe('ApproveVersion.approve', () => {
  const memory = useMemoryContext();

  it('approves a waiting version and rolls it out at once', async () => {
    const m = memory();
    const v1 = await version(m);
    expect(await statusOf(m, 1)).toBe('PENDING_APPROVAL');
    m.clock.advance(3_600_000);

    const result = await new ApproveVersion(m).approve(MODEL, 1, 'alice@example.com', 'looks good');

    expect(result).toEqual({
      approved: true,
      deploy: { kind: 'creating', endpointName: ENDPOINT, configName: v1.jobName },
    });
    const record = await m.registry.getVersion(MODEL, 1);
    expect(record).toMatchObject({
      status: 'DEPLOYING',
      endpointName: ENDPOINT,
      endpointConfigName: v1.jobName,
    });
    expect(record!.rolloutRequestedAt).toBeDefined();
    expect(await auditOf(m, 'APPROVED')).toEqual([
      expect.objectContaining({
        actor: 'alice@example.com',
        version: 1,
        from: 'PENDING_APPROVAL',
        to: 'APPROVED',
        reason: 'looks good',
        at: '2026-11-26T11:00:00.000Z',
      }),
    ]);
    expect([...m.aws.endpoints.keys()]).toEqual([ENDPOINT]);
    expect(m.rolloutRequests()).toEqual({ create: 1, update: 0 });
    expect((await m.registry.getModel(MODEL))?.challenger).toBe(1);
  });

  it('approves once: a second approval, or two at once, roll out nothing more', async () => {
    const m = memory();
    await version(m);
    const approval = new ApproveVersion(m);
    const [a, b] = await Promise.all([
      approval.approve(MODEL, 1, 'alice'),
      approval.approve(MODEL, 1, 'bob'),
    ]);
    expect([a.approved, b.approved].sort()).toEqual([false, true]);
    expect(await approval.approve(MODEL, 1, 'carol')).toEqual({ approved: false });
    expect(await auditOf(m, 'APPROVED')).toHaveLength(1);
    expect(m.rolloutRequests()).toEqual({ create: 1, update: 0 });
    expect(await statusOf(m, 1)).toBe('DEPLOYING');
  });

  it('uses "approved" as the note when none is given', async () => {
    const m = memory();
    await version(m);
    await new ApproveVersion(m).approve(MODEL, 1, 'alice');
    expect((await auditOf(m, 'APPROVED'))[0]!.reason).toBe('approved');
  });

  it('leaves a version that is not waiting for approval alone', async () => {
    const m = memory();
    await version(m, 'training'); // v1 TRAINING
    await version(m, 0.5); // v2 REJECTED by the gate (threshold 0.7)
    const approval = new ApproveVersion(m);
    expect(await approval.approve(MODEL, 1, 'alice')).toEqual({ approved: false });
    expect(await approval.approve(MODEL, 2, 'alice')).toEqual({ approved: false });
    expect(await approval.approve(MODEL, 9, 'alice')).toEqual({ approved: false });
    expect(await approval.approve('nobody', 1, 'alice')).toEqual({ approved: false });
    expect(await statusOf(m, 1)).toBe('TRAINING');
    expect(await statusOf(m, 2)).toBe('REJECTED');
    expect(await auditOf(m, 'APPROVED')).toEqual([]);
    expect(m.rolloutRequests()).toEqual({ create: 0, update: 0 });
  });

  it('queues an approved version behind the rollout in flight', async () => {
    const m = memory();
    await version(m);
    await version(m, 0.85);
    const approval = new ApproveVersion(m);
    expect(await approval.approve(MODEL, 1, 'alice')).toMatchObject({
      approved: true,
      deploy: { kind: 'creating' },
    });
    expect(await approval.approve(MODEL, 2, 'alice')).toEqual({
      approved: true,
      deploy: { kind: 'queued', behind: 1 },
    });
    expect(await statusOf(m, 2)).toBe('APPROVED');
    expect(m.rolloutRequests()).toEqual({ create: 1, update: 0 });
  });

  it('an approval whose write failed changes nothing and can be given again', async () => {
    const m = memory();
    await version(m);
    m.registry.failNext('transitionVersion');
    const approval = new ApproveVersion(m);
    await expect(approval.approve(MODEL, 1, 'alice')).rejects.toBeInstanceOf(RegistryStoreError);
    expect(await statusOf(m, 1)).toBe('PENDING_APPROVAL');
    expect(await approval.approve(MODEL, 1, 'alice')).toMatchObject({ approved: true });
    expect(m.rolloutRequests()).toEqual({ create: 1, update: 0 });
  });

  it('an approval applied whose answer was lost: approving again reports false and rolls nothing out', async () => {
    // The version stays APPROVED until a training event or the reconciler deploys it (see the report).
    const m = memory();
    await version(m);
    m.registry.failNext('transitionVersion', { when: 'after' });
    const approval = new ApproveVersion(m);
    await expect(approval.approve(MODEL, 1, 'alice')).rejects.toBeInstanceOf(RegistryStoreError);
    expect(await statusOf(m, 1)).toBe('APPROVED');
    expect(await approval.approve(MODEL, 1, 'alice')).toEqual({ approved: false });
    expect(m.rolloutRequests()).toEqual({ create: 0, update: 0 });
    // A redelivered training event of the version rolls it out.
    const { trainingJobName } = (await m.registry.getVersion(MODEL, 1))!;
    expect(await new ProcessTrainingJob(m).execute(trainingJobName)).toMatchObject({
      kind: 'deploying',
      deploy: { kind: 'creating' },
    });
  });
});

describe('ApproveVersion.reject', () => {
  const memory = useMemoryContext();

  it('rejects a waiting version with the reason, once', async () => {
    const m = memory();
    await version(m);
    const approval = new ApproveVersion(m);
    expect(await approval.reject(MODEL, 1, 'bob@example.com', 'recall too low on the new segment')).toBe(
      true,
    );
    expect(await approval.reject(MODEL, 1, 'bob@example.com', 'again')).toBe(false);
    expect(await approval.approve(MODEL, 1, 'alice')).toEqual({ approved: false });

    expect(await m.registry.getVersion(MODEL, 1)).toMatchObject({
      status: 'REJECTED',
      failureReason: 'rejected by bob@example.com: recall too low on the new segment',
    });
    expect(await auditOf(m, 'REJECTED')).toEqual([
      expect.objectContaining({
        actor: 'bob@example.com',
        from: 'PENDING_APPROVAL',
        to: 'REJECTED',
        reason: 'recall too low on the new segment',
      }),
    ]);
    expect(m.rolloutRequests()).toEqual({ create: 0, update: 0 });
  });

  it('leaves a version that is not waiting alone', async () => {
    const m = memory();
    await version(m, 'training');
    expect(await new ApproveVersion(m).reject(MODEL, 1, 'bob', 'no')).toBe(false);
    expect(await statusOf(m, 1)).toBe('TRAINING');
    expect(await auditOf(m, 'REJECTED')).toEqual([]);
  });
});
