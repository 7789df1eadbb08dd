/**
 * RollbackModel on the memory context: an earlier version that served goes back through the same
 * guarded blue/green rollout (SageMaker answered by FakeAws through the real adapter), re-approved
 * with its origin and an audit line; every refusal says why and changes nothing; a repeated call
 * goes on with the rollback instead of starting another.
 */
import { UpdateEndpointCommand } from '@aws-sdk/client-sagemaker';
import { describe, expect, it } from 'vitest';
import { previousChampionOf, RollbackModel } from '../../../core/use-cases/rollback-model';
import {
  settleRollout,
  trainVersion,
  useMemoryContext,
  type MemoryContext,
} from '../../support/memory-context';

const MODEL = 'churn';

const statusOf = async (m: MemoryContext, n: number) => (await m.registry.getVersion(MODEL, n))?.status;
const updates = (m: MemoryContext) =>
  m.aws.sagemaker.commandCalls(UpdateEndpointCommand).map((c) => c.args[0].input);

describe('RollbackModel', () => {
  const memory = useMemoryContext();

  it('puts the previous champion back through a blue/green update, then the one before it again', async () => {
    const m = memory();
    const v1 = await trainVersion(m, MODEL, {}, 0.8);
    await trainVersion(m, MODEL, {}, 0.85);
    const before = (await m.registry.getVersion(MODEL, 1))!.rolloutRequestedAt;
    m.clock.advance(60_000);

    const outcome = await new RollbackModel(m).execute({ model: MODEL, actor: 'alice', reason: 'bad v2' });

    expect(outcome).toEqual({
      kind: 'started',
      version: 1,
      from: 2,
      resumed: false,
      deploy: { kind: 'updating', endpointName: 'mlops-churn', configName: v1.jobName },
    });
    const v1Record = await m.registry.getVersion(MODEL, 1);
    expect(v1Record).toMatchObject({
      status: 'DEPLOYING',
      origin: { kind: 'rollback', by: 'alice', reason: 'bad v2' },
    });
    // This rollout's request time, not the one its first rollout left.
    expect(v1Record!.rolloutRequestedAt).not.toBe(before);
    expect((await m.registry.listAudit(MODEL)).filter((a) => a.type === 'ROLLBACK_REQUESTED')).toEqual([
      expect.objectContaining({ actor: 'alice', version: 1, from: 'ARCHIVED', to: 'APPROVED' }),
    ]);
    expect(updates(m).at(-1)).toMatchObject({ EndpointName: 'mlops-churn', EndpointConfigName: v1.jobName });

    await settleRollout(m, MODEL);
    expect(await m.registry.getModel(MODEL)).toMatchObject({ champion: 1 });
    expect(await statusOf(m, 2)).toBe('ARCHIVED');

    // The previous champion is now v2: a second rollback swaps them back.
    expect(await new RollbackModel(m).execute({ model: MODEL, actor: 'bob' })).toMatchObject({
      kind: 'started',
      version: 2,
      from: 1,
    });
  });

  it('goes to the version named by --to, and a repeated call goes on with it, asking SageMaker once', async () => {
    const m = memory();
    await trainVersion(m, MODEL, {}, 0.8);
    await trainVersion(m, MODEL, {}, 0.85);
    await trainVersion(m, MODEL, {}, 0.9);
    const rollback = new RollbackModel(m);
    expect(await rollback.execute({ model: MODEL, to: 1, actor: 'alice' })).toMatchObject({
      kind: 'started',
      version: 1,
      from: 3,
      resumed: false,
    });
    const sent = updates(m).length;
    expect(await rollback.execute({ model: MODEL, to: 1, actor: 'alice' })).toMatchObject({
      kind: 'started',
      version: 1,
      resumed: true,
      deploy: { kind: 'in-flight' },
    });
    expect(updates(m)).toHaveLength(sent);
    expect((await m.registry.listAudit(MODEL)).filter((a) => a.type === 'ROLLBACK_REQUESTED')).toHaveLength(
      1,
    );
  });

  it('refuses, changing nothing: no model, no champion, the champion itself, a version that never served, a missing one, a rollout in flight', async () => {
    const m = memory();
    const rollback = new RollbackModel(m);
    expect(await rollback.execute({ model: 'nobody', actor: 'a' })).toMatchObject({
      kind: 'refused',
      code: 'not-found',
    });

    await trainVersion(m, 'fresh', { gate: { approval: 'manual' } }, 0.8, 'gated');
    expect(await rollback.execute({ model: 'fresh', actor: 'a' })).toMatchObject({
      kind: 'refused',
      code: 'conflict',
      reason: expect.stringContaining('no version in production') as string,
    });

    await trainVersion(m, MODEL, {}, 0.8);
    expect(await rollback.execute({ model: MODEL, actor: 'a' })).toMatchObject({
      code: 'conflict',
      reason: expect.stringContaining('first version') as string,
    });
    await trainVersion(m, MODEL, { gate: { threshold: 0.7 } }, 0.5, 'gated'); // v2 REJECTED
    await trainVersion(m, MODEL, {}, 0.85); // v3 champion, v1 ARCHIVED
    const trail = await m.registry.listAudit(MODEL);
    for (const [to, code, words] of [
      [3, 'conflict', 'already in production'],
      [2, 'conflict', 'REJECTED: only a version that served'],
      [9, 'not-found', 'no version 9'],
    ] as const)
      expect(await rollback.execute({ model: MODEL, to, actor: 'a' })).toEqual({
        kind: 'refused',
        code,
        reason: expect.stringContaining(words) as string,
      });

    await trainVersion(m, MODEL, {}, 0.9, 'gated'); // v4 rolling out
    expect(await rollback.execute({ model: MODEL, to: 1, actor: 'a' })).toMatchObject({
      code: 'conflict',
      reason: expect.stringContaining('rollout of churn v4 is in flight') as string,
    });
    expect(await statusOf(m, 1)).toBe('ARCHIVED');
    expect((await m.registry.listAudit(MODEL)).filter((a) => a.type === 'ROLLBACK_REQUESTED')).toEqual([]);
    expect(trail.length).toBeGreaterThan(0);
  });

  it('rolls out while the model’s alarm fires, without that alarm among the rollback alarms, and says so', async () => {
    const m = memory();
    await trainVersion(m, MODEL, {}, 0.8);
    await trainVersion(m, MODEL, {}, 0.85);
    const alarms = m.names.alarms(MODEL);
    m.aws.setAlarm(alarms.errorRate, 'ALARM', 'errors');

    const outcome = await new RollbackModel(m).execute({ model: MODEL, actor: 'alice' });

    expect(outcome).toMatchObject({ kind: 'started', deploy: { kind: 'updating' } });
    expect(updates(m).at(-1)!.DeploymentConfig?.AutoRollbackConfiguration?.Alarms).toEqual([
      { AlarmName: alarms.latency },
    ]);
    const requested = (await m.registry.listAudit(MODEL))
      .filter((a) => a.type === 'ROLLOUT_REQUESTED')
      .at(-1);
    expect(requested!.reason).toContain(`${alarms.errorRate} left out of the rollback alarms`);
  });
});

describe('previousChampionOf', () => {
  const promoted = (...versions: number[]) =>
    versions.map((version, i) => ({
      model: MODEL,
      at: `t${i}`,
      eventId: `p${i}`,
      type: 'PROMOTED',
      actor: 'x',
      version,
      reason: '',
    }));

  it('is the version promoted before the champion’s latest promotion', () => {
    expect(previousChampionOf(promoted(1, 2, 3), 3)).toBe(2);
    expect(previousChampionOf(promoted(1, 2, 1), 1)).toBe(2);
    expect(previousChampionOf(promoted(1, 2, 1, 1), 1)).toBe(2);
    expect(previousChampionOf(promoted(1), 1)).toBeUndefined();
    expect(previousChampionOf(promoted(1, 2), 5)).toBeUndefined();
  });
});
