/**
 * The status machine as the registry store enforces it: the inverse of the transition table, the
 * error a forbidden transition raises, and the transitions the pipeline's use cases make.
 */
import { describe, expect, it } from 'vitest';
import {
  VERSION_STATUSES,
  VERSION_TRANSITIONS,
  ForbiddenTransitionError,
  assertTransition,
  canTransition,
  transitionSources,
  type VersionStatus,
} from '../../../core/domain/registry';

/**
 * Every `from -> to` the use cases ask the store for (grep `from: [` in core/use-cases and the
 * store's own promote): if one of these is missing from the table, the pipeline stops.
 */
const PIPELINE_TRANSITIONS: readonly (readonly [VersionStatus, VersionStatus, string])[] = [
  ['TRAINING', 'FAILED', 'ingest: SageMaker refused the job; training-events: job failed'],
  ['TRAINING', 'TRAINED', 'training-events: job completed'],
  ['TRAINED', 'REJECTED', 'gate 2 rejected'],
  ['TRAINED', 'PENDING_APPROVAL', 'gate 2 asks for approval'],
  ['TRAINED', 'APPROVED', 'gate 2 approved'],
  ['PENDING_APPROVAL', 'APPROVED', 'ApproveVersion.approve'],
  ['PENDING_APPROVAL', 'REJECTED', 'ApproveVersion.reject'],
  ['APPROVED', 'DEPLOYING', 'DeployVersion: startDeployment'],
  ['DEPLOYING', 'DEPLOYING', 'DeployVersion.markRequested: records rolloutRequestedAt'],
  ['DEPLOYING', 'DEPLOY_FAILED', 'DeployVersion.fail, endpoint-events: endpoint Failed'],
  ['DEPLOYING', 'ROLLED_BACK', 'endpoint-events: the update was rolled back'],
  ['DEPLOYING', 'PRODUCTION', 'promote'],
  ['PRODUCTION', 'ARCHIVED', 'promote: the previous champion'],
  ['ARCHIVED', 'APPROVED', 'RollbackModel: a version that served is re-approved'],
];

describe('the status machine, as the store enforces it', () => {
  it('allows every transition the pipeline makes', () => {
    for (const [from, to, who] of PIPELINE_TRANSITIONS) {
      expect(canTransition(from, to), `${from} -> ${to} (${who})`).toBe(true);
      expect(transitionSources(to), `${from} -> ${to} (${who})`).toContain(from);
    }
  });

  it('derives the sources of each status from the single transition table', () => {
    for (const to of VERSION_STATUSES) {
      const expected = VERSION_STATUSES.filter((from) => VERSION_TRANSITIONS[from].includes(to));
      expect([...transitionSources(to)].sort()).toEqual([...expected].sort());
    }
    expect(transitionSources('TRAINING')).toEqual([]); // only ever created, never entered
    expect([...transitionSources('REJECTED')].sort()).toEqual(['PENDING_APPROVAL', 'TRAINED']);
  });

  it('refuses a forbidden transition with an error naming model, version, from and to', () => {
    let error: unknown;
    try {
      assertTransition('churn', 3, ['PRODUCTION'], 'TRAINING');
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ForbiddenTransitionError);
    expect(error).toMatchObject({
      name: 'ForbiddenTransitionError',
      model: 'churn',
      version: 3,
      from: ['PRODUCTION'],
      to: 'TRAINING',
    });
    expect((error as Error).message).toMatch(/churn.*v3.*PRODUCTION -> TRAINING/);
  });

  it('names only the forbidden sources of a request that lists several', () => {
    expect(() => assertTransition('churn', 2, ['TRAINED', 'FAILED'], 'APPROVED')).toThrow(
      expect.objectContaining({ from: ['FAILED'], to: 'APPROVED' }) as Error,
    );
    expect(() => assertTransition('churn', 2, ['TRAINED', 'PENDING_APPROVAL'], 'APPROVED')).not.toThrow();
  });

  it('allows nothing out of a final state', () => {
    for (const final of ['FAILED', 'REJECTED', 'DEPLOY_FAILED', 'ROLLED_BACK'] as const) {
      for (const to of VERSION_STATUSES) expect(canTransition(final, to)).toBe(false);
    }
  });

  it('lets a version that served come back only through approval (a rollback), never straight to production', () => {
    expect(VERSION_STATUSES.filter((to) => canTransition('ARCHIVED', to))).toEqual(['APPROVED']);
    // A version that never served (rolled back, failed, rejected) cannot be re-approved.
    for (const never of ['ROLLED_BACK', 'DEPLOY_FAILED', 'REJECTED', 'FAILED'] as const)
      expect(canTransition(never, 'APPROVED')).toBe(false);
  });
});
