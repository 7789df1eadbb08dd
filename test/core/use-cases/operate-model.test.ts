/**
 * OperateModel on the memory context: each operator command runs through its use case and answers
 * an OperatorResult; refusals come back with their code (not-found, conflict, regression, failed),
 * never as exceptions. The approval is re-checked against the champion of the moment.
 */
import { SageMakerServiceException } from '@aws-sdk/client-sagemaker';
import { describe, expect, it } from 'vitest';
import { OperateModel } from '../../../core/use-cases/operate-model';
import {
  settleRollout,
  trainVersion,
  useMemoryContext,
  type MemoryContext,
} from '../../support/memory-context';

const MODEL = 'churn';
const MANUAL = { gate: { approval: 'manual', regressionTolerance: 0.01 } };

const run = (m: MemoryContext, command: Parameters<OperateModel['execute']>[0]) =>
  new OperateModel(m).execute(command);

describe('OperateModel', () => {
  const memory = useMemoryContext();

  it('approve: rolls the waiting version out, audited with the approver', async () => {
    const m = memory();
    await trainVersion(m, MODEL, MANUAL, 0.8, 'gated');
    expect(
      await run(m, { action: 'approve', model: MODEL, version: 1, actor: 'arn:aws:iam::1:user/alice' }),
    ).toEqual({
      ok: true,
      action: 'approve',
      model: MODEL,
      version: 1,
      message: expect.stringContaining(
        'churn v1 approved by arn:aws:iam::1:user/alice; creating mlops-churn',
      ) as string,
      deploy: expect.objectContaining({ kind: 'creating' }) as unknown,
    });
    expect((await m.registry.listAudit(MODEL)).find((a) => a.type === 'APPROVED')).toMatchObject({
      actor: 'arn:aws:iam::1:user/alice',
    });
  });

  it('approve: refused as a regression against the champion of the moment; the version stays PENDING_APPROVAL', async () => {
    const m = memory();
    await trainVersion(m, MODEL, MANUAL, 0.8, 'gated');
    await run(m, { action: 'approve', model: MODEL, version: 1, actor: 'alice' });
    await settleRollout(m, MODEL);
    await trainVersion(m, MODEL, MANUAL, 0.85, 'gated'); // v2 waits: better than v1
    await trainVersion(m, MODEL, MANUAL, 0.95, 'gated'); // v3 waits
    await run(m, { action: 'approve', model: MODEL, version: 3, actor: 'alice' });
    await settleRollout(m, MODEL); // v3 serves

    const refused = await run(m, { action: 'approve', model: MODEL, version: 2, actor: 'bob' });

    expect(refused).toEqual({
      ok: false,
      action: 'approve',
      model: MODEL,
      error: {
        code: 'regression',
        message: expect.stringMatching(
          /validation:auc 0\.85 against champion v3 0\.95 \(tolerance 0\.01\).*stays PENDING_APPROVAL/,
        ) as string,
      },
    });
    expect((await m.registry.getVersion(MODEL, 2))?.status).toBe('PENDING_APPROVAL');
    expect((await m.registry.listAudit(MODEL)).filter((a) => a.type === 'APPROVAL_REFUSED')).toEqual([
      expect.objectContaining({ actor: 'bob', version: 2 }),
    ]);
    // Within the tolerance it goes through.
    await trainVersion(m, MODEL, MANUAL, 0.945, 'gated');
    expect(await run(m, { action: 'approve', model: MODEL, version: 4, actor: 'bob' })).toMatchObject({
      ok: true,
    });
  });

  it('approve and reject: not-found and conflict, changing nothing', async () => {
    const m = memory();
    await trainVersion(m, MODEL, MANUAL, 0.8, 'gated');
    const error = (result: Awaited<ReturnType<typeof run>>) => (result.ok ? undefined : result.error.code);
    expect(error(await run(m, { action: 'approve', model: 'nobody', version: 1, actor: 'a' }))).toBe(
      'not-found',
    );
    expect(error(await run(m, { action: 'approve', model: MODEL, version: 7, actor: 'a' }))).toBe(
      'not-found',
    );
    expect(
      await run(m, { action: 'reject', model: MODEL, version: 1, actor: 'bob', reason: 'too slow' }),
    ).toMatchObject({
      ok: true,
      message: 'churn v1 rejected by bob: too slow',
    });
    expect(await run(m, { action: 'approve', model: MODEL, version: 1, actor: 'a' })).toMatchObject({
      ok: false,
      error: {
        code: 'conflict',
        message: 'churn v1 is REJECTED, not waiting for approval (PENDING_APPROVAL)',
      },
    });
    expect(error(await run(m, { action: 'reject', model: MODEL, version: 1, actor: 'a', reason: 'x' }))).toBe(
      'conflict',
    );
  });

  it('rollback: ok with the rollout, or a conflict', async () => {
    const m = memory();
    await trainVersion(m, MODEL, {}, 0.8);
    expect(await run(m, { action: 'rollback', model: MODEL, actor: 'alice' })).toMatchObject({
      ok: false,
      error: { code: 'conflict' },
    });
    await trainVersion(m, MODEL, {}, 0.85);
    expect(await run(m, { action: 'rollback', model: MODEL, to: 1, actor: 'alice' })).toMatchObject({
      ok: true,
      version: 1,
      message: expect.stringContaining('v1 goes back in place of v2') as string,
      deploy: { kind: 'updating' },
    });
  });

  it('retrain: ok, idempotent on the request id, not-found, and failed when the service refuses the job', async () => {
    const m = memory();
    await trainVersion(m, MODEL, {}, 0.8);
    const command = { action: 'retrain', model: MODEL, actor: 'alice', requestId: 'req-1' } as const;
    expect(await run(m, command)).toMatchObject({
      ok: true,
      version: 2,
      message: expect.stringContaining('is training') as string,
    });
    expect(await run(m, command)).toMatchObject({
      ok: true,
      version: 2,
      message: expect.stringContaining('already made') as string,
    });
    expect(await run(m, { ...command, requestId: 'req-2', datasetId: 'nope' })).toMatchObject({
      ok: false,
      error: { code: 'not-found' },
    });
    m.aws.createTrainingJobFaults.push(
      new SageMakerServiceException({
        name: 'ValidationException',
        $fault: 'client',
        message: 'no',
        $metadata: {},
      }),
    );
    expect(await run(m, { ...command, requestId: 'req-3' })).toMatchObject({
      ok: false,
      error: { code: 'failed' },
    });
  });

  it('throws only for an infrastructure error', async () => {
    const m = memory();
    await trainVersion(m, MODEL, MANUAL, 0.8, 'gated');
    m.registry.failNext('getVersion');
    await expect(run(m, { action: 'approve', model: MODEL, version: 1, actor: 'a' })).rejects.toThrow(
      'injected failure',
    );
  });
});
