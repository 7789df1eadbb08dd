/**
 * DeployVersion when two approved versions of one model are rolled out at the same moment (two
 * approvals, two training jobs gated together): the model's challenger is the rollout lock, so one
 * rollout starts and the other is queued behind it, staying APPROVED with nothing sent to the
 * endpoint; when the first rollout ends, its endpoint event rolls the queued one out. At no point
 * are two versions DEPLOYING (issue 16, item 1: 50 concurrent uploads once left a model with two).
 * On the memory context (test/support/memory-context.ts): the in-memory registry held to the
 * DynamoDB store's contract, SageMaker answered by FakeAws through the real adapter.
 */
import { describe, expect, it } from 'vitest';
import type { VersionStatus } from '../../../core/domain/registry';
import { DeployVersion, type DeployOutcome } from '../../../core/use-cases/deploy-version';
import {
  settleRollout,
  trainVersion,
  useMemoryContext,
  type MemoryContext,
} from '../../support/memory-context';

const MODEL = 'churn';
const MANUAL = { gate: { approval: 'manual', threshold: 0.7 } };

/** The versions of MODEL in DEPLOYING now. */
async function deploying(m: MemoryContext): Promise<number[]> {
  return (await m.registry.listVersions(MODEL)).filter((v) => v.status === 'DEPLOYING').map((v) => v.version);
}

async function statusOf(m: MemoryContext, n: number): Promise<VersionStatus | undefined> {
  return (await m.registry.getVersion(MODEL, n))?.status;
}

/** A version trained and gated under manual approval, then approved (not yet rolled out). */
async function approved(m: MemoryContext, auc: number): Promise<number> {
  const { version } = await trainVersion(m, MODEL, MANUAL, auc, 'gated');
  expect(await statusOf(m, version)).toBe('PENDING_APPROVAL');
  const at = m.clock.now().toISOString();
  const moved = await m.registry.transitionVersion({
    model: MODEL,
    version,
    from: ['PENDING_APPROVAL'],
    to: 'APPROVED',
    set: { updatedAt: at },
    audit: {
      model: MODEL,
      at,
      eventId: `approve-${version}`,
      type: 'APPROVED',
      actor: 'test',
      version,
      reason: 'ok',
    },
  });
  expect(moved).toBe(true);
  return version;
}

const rollouts = (m: MemoryContext) => {
  const { create, update } = m.rolloutRequests();
  return create + update;
};

describe('two approved versions deploying at once', () => {
  const memory = useMemoryContext();

  it.each([
    { champion: false, newerFirst: false },
    { champion: false, newerFirst: true },
    { champion: true, newerFirst: false },
    { champion: true, newerFirst: true },
  ])(
    'one rolls out, the other waits in APPROVED and follows when it ends (champion: $champion, newer first: $newerFirst)',
    async ({ champion, newerFirst }) => {
      const m = memory();
      if (champion) await trainVersion(m, MODEL, {}, 0.8);
      const older = await approved(m, 0.85);
      const newer = await approved(m, 0.9);
      const requestsBefore = rollouts(m);

      const order = newerFirst ? [newer, older] : [older, newer];
      const outcomes: DeployOutcome[] = await Promise.all(
        order.map((n) => new DeployVersion(m).execute(MODEL, n)),
      );

      // Exactly one took the lock; the other is queued behind it and sent nothing.
      const started = outcomes.filter((o) => o.kind === 'creating' || o.kind === 'updating');
      expect(outcomes.map((o) => o.kind).sort(), JSON.stringify(outcomes)).toEqual(
        [champion ? 'updating' : 'creating', 'queued'].sort(),
      );
      expect(started).toHaveLength(1);
      const winner = order[outcomes.indexOf(started[0]!)]!;
      const loser = winner === older ? newer : older;
      expect(outcomes).toContainEqual({ kind: 'queued', behind: winner });
      expect(await deploying(m)).toEqual([winner]);
      expect(await statusOf(m, loser)).toBe('APPROVED');
      expect((await m.registry.getModel(MODEL))?.challenger).toBe(winner);
      expect(rollouts(m) - requestsBefore).toBe(1);
      const starts = (await m.registry.listAudit(MODEL)).filter((a) => a.type === 'DEPLOYMENT_STARTED');
      expect(starts.map((a) => a.version)).toEqual([...(champion ? [1] : []), winner]);

      // The first rollout ends in service: its endpoint event promotes it and rolls the queued one out.
      await settleRollout(m, MODEL);
      expect(await statusOf(m, winner)).toBe('PRODUCTION');
      expect(await deploying(m)).toEqual([loser]);
      expect((await m.registry.getModel(MODEL))?.challenger).toBe(loser);

      await settleRollout(m, MODEL);
      expect(await deploying(m)).toEqual([]);
      expect(await statusOf(m, loser)).toBe('PRODUCTION');
      expect(await statusOf(m, winner)).toBe('ARCHIVED');
      expect(await m.registry.getModel(MODEL)).not.toHaveProperty('challenger');
    },
  );
});
