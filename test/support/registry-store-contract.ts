/**
 * The registry store contract: what every {@link RegistryStore} must do, as one suite run against
 * each store (the DynamoDB store on DynamoDB Local, test/adapters/dynamodb/
 * dynamodb-registry-store.contract.test.ts; the memory store, test/adapters/memory/
 * memory-registry-store.test.ts), so the memory store the use cases' tests run on is held to the
 * DynamoDB store's behaviour. Only the port is used; what is about one store (item layout, SDK
 * errors, pagination, lost responses) stays in that store's tests.
 *
 * Each test uses its own model names, and reads the fleet queries filtered to them, so it holds
 * whether the store is fresh or shared with the other tests.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { RegistryStoreError } from '../../adapters/dynamodb/table-layout';
import { defaultModelConfig } from '../../core/domain/model-config';
import {
  ForbiddenTransitionError,
  VERSION_STATUSES,
  VERSION_TRANSITIONS,
  type IncidentAction,
  type IncidentRecord,
  type VersionRecord,
  type VersionStatus,
} from '../../core/domain/registry';
import type {
  NewRetrainVersion,
  NewVersion,
  NotifyingAuditEvent,
  RegistryStore,
  TransitionRequest,
} from '../../core/ports/registry-store';
import {
  audit,
  dataset,
  newVersion,
  nextAt,
  notice,
  notifying,
  registeredIn,
  transition,
  uniqueModel,
  versionIn,
} from './registry-store-contract-fixtures';

/** What a store's test file gives the contract. */
export interface RegistryStoreSubject {
  readonly store: RegistryStore;
}

/**
 * Defines the contract's tests for one store, under `describe(name)`. `setup` runs before each
 * test: it may return a fresh store each time or the same one (the tests do not depend on which).
 */
export function registryStoreContract(name: string, setup: () => Promise<RegistryStoreSubject>): void {
  describe(name, () => {
    let store: RegistryStore;

    beforeEach(async () => {
      ({ store } = await setup());
    });

    async function statusOf(model: string, version: number): Promise<VersionStatus | undefined> {
      return (await store.getVersion(model, version))?.status;
    }

    /** What a refused write must not change: the version, the model, the audit trail, the outbox. */
    async function snapshot(model: string, version: number) {
      return {
        version: await store.getVersion(model, version),
        model: await store.getModel(model),
        audit: await store.listAudit(model),
        outbox: await store.listPendingNotifications(model),
      };
    }

    function incident(model: string, alarmName: string, openedAt: string): IncidentRecord {
      return {
        model,
        alarmName,
        incidentId: `${alarmName}@${openedAt}`,
        status: 'OPEN',
        openedAt,
        reason: 'latency anomaly',
        version: 1,
      };
    }

    describe('registerDatasetAndVersion', () => {
      it('gives version 1, then 2, with the dataset, the model counter and an audit line each', async () => {
        const model = uniqueModel('reg');
        const first = await store.registerDatasetAndVersion(newVersion(model, 'ds-a'));
        const second = await store.registerDatasetAndVersion(newVersion(model, 'ds-b'));

        expect(first).toMatchObject({
          created: true,
          version: { model, version: 1, status: 'TRAINING', datasetId: 'ds-a' },
        });
        expect(second).toMatchObject({ created: true, version: { version: 2, datasetId: 'ds-b' } });

        const stored = await store.getVersion(model, 1);
        expect(stored).toEqual(first.version);
        // Records come back as written: no undefined field, no attribute of the store's own.
        expect(Object.keys(stored!).sort()).toEqual(
          [
            'model',
            'version',
            'status',
            'datasetId',
            'trainingJobName',
            'image',
            'hyperparameters',
            'objectiveMetric',
            'createdAt',
            'updatedAt',
          ].sort(),
        );

        expect(await store.getDataset(model, 'ds-a')).toMatchObject({
          datasetId: 'ds-a',
          version: 1,
          status: 'ACCEPTED',
          profile: { rows: 100 },
        });
        expect(await store.getDataset(model, 'ds-b')).toMatchObject({ version: 2 });
        expect(await store.getModel(model)).toMatchObject({ model, versionCounter: 2 });
        expect((await store.listVersions(model)).map((v) => v.version)).toEqual([1, 2]);
        expect((await store.listAudit(model)).map((a) => [a.eventId, a.version])).toEqual([
          ['register-ds-a', 1],
          ['register-ds-b', 2],
        ]);
      });

      it('creates the model item with its counter, createdAt and updatedAt', async () => {
        const model = uniqueModel('first');
        const request = newVersion(model, 'ds');
        await store.registerDatasetAndVersion(request);
        expect(await store.getModel(model)).toEqual({
          model,
          versionCounter: 1,
          createdAt: request.dataset.createdAt,
          updatedAt: request.dataset.createdAt,
        });
      });

      it('registers the same dataset once when it arrives three times in a row', async () => {
        const model = uniqueModel('dup');
        const results = [];
        for (let i = 0; i < 3; i++)
          results.push(await store.registerDatasetAndVersion(newVersion(model, 'ds')));

        expect(results.map((r) => r.created)).toEqual([true, false, false]);
        expect(results.map((r) => r.version?.version)).toEqual([1, 1, 1]);
        expect(results[2]!.version).toEqual(results[0]!.version);
        expect(await store.listVersions(model)).toHaveLength(1);
        expect(await store.listAudit(model)).toHaveLength(1);
        expect(await store.getModel(model)).toMatchObject({ versionCounter: 1 });
      });

      it('registers the same dataset once when it arrives three times at once', async () => {
        const model = uniqueModel('dupc');
        const results = await Promise.all(
          [1, 2, 3].map(() => store.registerDatasetAndVersion(newVersion(model, 'ds'))),
        );

        expect(results.filter((r) => r.created)).toHaveLength(1);
        expect(results.map((r) => r.version?.version)).toEqual([1, 1, 1]);
        expect(await store.listVersions(model)).toHaveLength(1);
        expect(await store.getDataset(model, 'ds')).toMatchObject({ version: 1 });
        expect(await store.listAudit(model)).toHaveLength(1);
        expect(await store.getModel(model)).toMatchObject({ versionCounter: 1 });
      });

      it('gives concurrent registrations of different datasets distinct consecutive numbers', async () => {
        const model = uniqueModel('conc');
        const ids = ['a', 'b', 'c', 'd', 'e', 'f'];
        const results = await Promise.all(
          ids.map((id) => store.registerDatasetAndVersion(newVersion(model, id))),
        );

        expect(results.every((r) => r.created)).toBe(true);
        expect(results.map((r) => r.version!.version).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6]);
        for (const result of results) {
          expect(await store.getDataset(model, result.version!.datasetId)).toMatchObject({
            version: result.version!.version,
          });
        }
        expect(await store.getModel(model)).toMatchObject({ versionCounter: 6 });
        expect(await store.listAudit(model)).toHaveLength(6);
      });

      it('returns created: false and no version for a dataset recorded as rejected', async () => {
        const model = uniqueModel('rej');
        const rejected = dataset(model, 'bad', {
          status: 'REJECTED',
          rejection: { code: 'MISSING_LABEL_COLUMN', reason: 'no label column' },
        });
        expect(await store.recordRejectedDataset(rejected, audit(model, 'rejected-bad'))).toBe(true);
        expect(await store.recordRejectedDataset(rejected, audit(model, 'rejected-bad-again'))).toBe(false);

        expect(await store.registerDatasetAndVersion(newVersion(model, 'bad'))).toEqual({
          created: false,
          version: undefined,
        });
        expect(await store.getDataset(model, 'bad')).toEqual(rejected);
        expect(await store.listVersions(model)).toEqual([]);
        expect((await store.listAudit(model)).map((a) => a.eventId)).toEqual(['rejected-bad']);
        // The rejection took no version number.
        expect((await store.registerDatasetAndVersion(newVersion(model, 'good'))).version?.version).toBe(1);
      });

      it('refuses a version record whose number is not the one allocated, and writes nothing', async () => {
        const model = uniqueModel('bug');
        const request = newVersion(model, 'ds');
        const wrong: NewVersion = {
          ...request,
          buildVersion: (n) => ({ ...request.buildVersion(n), version: n + 1 }),
        };
        const error = await store.registerDatasetAndVersion(wrong).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(RegistryStoreError);
        expect(error).toMatchObject({
          name: 'RegistryStoreError',
          code: 'INVALID_REQUEST',
          operation: 'registerDatasetAndVersion',
        });
        expect(await store.getDataset(model, 'ds')).toBeUndefined();
        expect(await store.getModel(model)).toBeUndefined();
      });

      it('records the baseline dataset once: the first one given stays', async () => {
        const model = uniqueModel('base');
        await store.registerDatasetAndVersion(newVersion(model, 'plain'));
        expect(await store.getModel(model)).not.toHaveProperty('baselineDatasetId');
        await store.registerDatasetAndVersion({ ...newVersion(model, 'ds-a'), baselineDatasetId: 'ds-a' });
        await store.registerDatasetAndVersion({ ...newVersion(model, 'ds-b'), baselineDatasetId: 'ds-b' });
        expect(await store.getModel(model)).toMatchObject({ baselineDatasetId: 'ds-a', versionCounter: 3 });
      });
    });

    describe('transitionVersion', () => {
      it('applies a transition once, with its fields and one audit line', async () => {
        const model = uniqueModel('tr');
        const n = await registeredIn(store, model, 'ds', 'TRAINING');
        const request = transition(model, n, ['TRAINING'], 'TRAINED', {
          metrics: { 'validation:auc': 0.91 },
          artifactUri: 's3://a/model.tar.gz',
        });

        expect(await store.transitionVersion(request)).toBe(true);
        expect(await store.transitionVersion(request)).toBe(false);

        expect(await store.getVersion(model, n)).toMatchObject({
          status: 'TRAINED',
          metrics: { 'validation:auc': 0.91 },
          artifactUri: 's3://a/model.tar.gz',
          updatedAt: request.set!.updatedAt,
        });
        expect((await store.listAudit(model)).map((a) => a.to)).toEqual(['TRAINING', 'TRAINED']);
        expect((await store.listAudit(model)).at(-1)).toEqual(request.audit);
      });

      it('applies a transition once when duplicates arrive at the same time', async () => {
        const model = uniqueModel('trc');
        const n = await registeredIn(store, model, 'ds', 'TRAINING');
        const request = transition(model, n, ['TRAINING'], 'FAILED', { failureReason: 'AlgorithmError' });
        const results = await Promise.all([1, 2, 3, 4].map(() => store.transitionVersion(request)));

        expect(results.filter(Boolean)).toHaveLength(1);
        expect(await store.getVersion(model, n)).toMatchObject({
          status: 'FAILED',
          failureReason: 'AlgorithmError',
        });
        expect(await store.listAudit(model)).toHaveLength(2);
      });

      it('refuses an out-of-order transition and writes nothing', async () => {
        const model = uniqueModel('ooo');
        const n = await registeredIn(store, model, 'ds', 'TRAINING');

        expect(await store.transitionVersion(transition(model, n, ['TRAINED'], 'APPROVED'))).toBe(false);
        expect(
          await store.transitionVersion(transition(model, n, ['TRAINED', 'PENDING_APPROVAL'], 'REJECTED')),
        ).toBe(false);
        expect(await statusOf(model, n)).toBe('TRAINING');
        expect(await store.listAudit(model)).toHaveLength(1);

        // A later event finds it in one of several accepted states (each allowed by the machine:
        // TRAINED -> TRAINED is not, so it cannot be listed as a source of TRAINED).
        expect(await store.transitionVersion(transition(model, n, ['TRAINING'], 'TRAINED'))).toBe(true);
        expect(
          await store.transitionVersion(transition(model, n, ['TRAINED', 'PENDING_APPROVAL'], 'APPROVED')),
        ).toBe(true);
      });

      it('allows a self-transition that only records fields (DEPLOYING -> DEPLOYING)', async () => {
        const model = uniqueModel('self');
        const n = await registeredIn(store, model, 'ds', 'DEPLOYING');
        const request = transition(model, n, ['DEPLOYING'], 'DEPLOYING', {
          rolloutRequestedAt: '2026-02-01T00:00:00.000Z',
        });
        expect(await store.transitionVersion(request)).toBe(true);
        expect(await store.getVersion(model, n)).toMatchObject({
          status: 'DEPLOYING',
          rolloutRequestedAt: '2026-02-01T00:00:00.000Z',
        });
        expect((await store.listVersionsByStatus('DEPLOYING')).filter((v) => v.model === model)).toHaveLength(
          1,
        );
      });

      it('returns false for a version that does not exist and does not create it', async () => {
        const model = uniqueModel('ghost');
        expect(await store.transitionVersion(transition(model, 7, ['TRAINING'], 'TRAINED'))).toBe(false);
        expect(await store.getVersion(model, 7)).toBeUndefined();
        expect(await store.listAudit(model)).toEqual([]);
      });

      it('returns false, writing nothing, when no source status is given', async () => {
        const { model, version } = await versionIn(store, 'nofrom', 'TRAINING');
        const before = await snapshot(model, version);
        expect(await store.transitionVersion(transition(model, version, [], 'TRAINED'))).toBe(false);
        expect(await store.startDeployment(transition(model, version, [], 'DEPLOYING'))).toBe(false);
        expect(await store.endFailedDeployment(transition(model, version, [], 'DEPLOY_FAILED'))).toBe(false);
        expect(await snapshot(model, version)).toEqual(before);
      });

      it('stamps the version with the audit time when no updatedAt is set, and keeps its createdAt', async () => {
        const { model, version } = await versionIn(store, 'stamp', 'TRAINING');
        const created = (await store.getVersion(model, version))!.createdAt;
        const request: TransitionRequest = {
          ...transition(model, version, ['TRAINING'], 'TRAINED'),
          set: {},
        };
        expect(await store.transitionVersion(request)).toBe(true);
        expect(await store.getVersion(model, version)).toMatchObject({
          status: 'TRAINED',
          createdAt: created,
          updatedAt: request.audit.at,
        });
      });
    });

    describe('the status machine', () => {
      const allowed = VERSION_STATUSES.flatMap((from) =>
        VERSION_TRANSITIONS[from].map((to) => [from, to] as const),
      );

      it.each(allowed)('applies %s -> %s', async (from, to) => {
        const { model, version } = await versionIn(store, 'ok', from);
        expect(await store.transitionVersion(transition(model, version, [from], to))).toBe(true);
        expect((await store.getVersion(model, version))?.status).toBe(to);
      });

      it('refuses PRODUCTION -> TRAINING and writes nothing', async () => {
        const { model, version } = await versionIn(store, 'prod', 'PRODUCTION');
        const before = await snapshot(model, version);

        const refused = await store
          .transitionVersion(notifying(transition(model, version, ['PRODUCTION'], 'TRAINING')))
          .catch((error: unknown) => error);

        expect(refused).toBeInstanceOf(ForbiddenTransitionError);
        expect(refused).toMatchObject({ model, version, from: ['PRODUCTION'], to: 'TRAINING' });
        expect(await snapshot(model, version)).toEqual(before);
      });

      it('refuses FAILED -> DEPLOYING (startDeployment) and takes no rollout lock', async () => {
        const { model, version } = await versionIn(store, 'failed', 'FAILED');
        const before = await snapshot(model, version);

        await expect(
          store.startDeployment(transition(model, version, ['FAILED'], 'DEPLOYING')),
        ).rejects.toMatchObject({ name: 'ForbiddenTransitionError', from: ['FAILED'], to: 'DEPLOYING' });

        expect(await snapshot(model, version)).toEqual(before);
        expect(before.model).not.toHaveProperty('challenger');
      });

      it('refuses ROLLED_BACK -> DEPLOY_FAILED (endFailedDeployment)', async () => {
        const { model, version } = await versionIn(store, 'rb', 'ROLLED_BACK');
        const before = await snapshot(model, version);
        await expect(
          store.endFailedDeployment(transition(model, version, ['ROLLED_BACK'], 'DEPLOY_FAILED')),
        ).rejects.toBeInstanceOf(ForbiddenTransitionError);
        expect(await snapshot(model, version)).toEqual(before);
      });

      it('refuses a request naming one forbidden source among allowed ones', async () => {
        const { model, version } = await versionIn(store, 'mixed', 'TRAINED');
        const before = await snapshot(model, version);
        await expect(
          store.transitionVersion(transition(model, version, ['TRAINED', 'FAILED'], 'APPROVED')),
        ).rejects.toMatchObject({ name: 'ForbiddenTransitionError', from: ['FAILED'], to: 'APPROVED' });
        expect(await snapshot(model, version)).toEqual(before);
      });

      it('refuses every transition the table does not list, whatever the version is in', async () => {
        // One assertion for the ~100 answers (each `expect` costs more than the memory store's call).
        const notRefused: string[] = [];
        let refused = 0;
        for (const from of VERSION_STATUSES) {
          const { model, version } = await versionIn(store, 'all', from);
          const before = await snapshot(model, version);
          for (const to of VERSION_STATUSES) {
            if (VERSION_TRANSITIONS[from].includes(to)) continue;
            const answer = await store.transitionVersion(transition(model, version, [from], to)).then(
              (applied) => `answered ${applied}`,
              (error: unknown) => (error instanceof ForbiddenTransitionError ? undefined : String(error)),
            );
            if (answer === undefined) refused += 1;
            else notRefused.push(`${from} -> ${to}: ${answer}`);
          }
          expect(await snapshot(model, version)).toEqual(before);
        }
        expect(notRefused).toEqual([]);
        // Every pair of statuses but the allowed ones: 121 - 15.
        expect(refused).toBe(VERSION_STATUSES.length ** 2 - allowed.length);
        expect(refused).toBe(106);
      });

      it('still answers false (no error) to a duplicate or late event: the version moved on', async () => {
        // What the use cases rely on for "already processed": a legal request whose `from` is stale.
        const { model, version } = await versionIn(store, 'late', 'TRAINING');
        const failed = transition(model, version, ['TRAINING'], 'FAILED', {
          failureReason: 'AlgorithmError',
        });
        expect(await store.transitionVersion(failed)).toBe(true);
        expect(await store.transitionVersion(transition(model, version, ['TRAINING'], 'FAILED'))).toBe(false);
        expect(await store.transitionVersion(transition(model, version, ['TRAINING'], 'TRAINED'))).toBe(
          false,
        );
        expect((await store.getVersion(model, version))?.status).toBe('FAILED');
      });

      it('promote still archives the previous champion (PRODUCTION -> ARCHIVED)', async () => {
        const first = await versionIn(store, 'champ', 'DEPLOYING');
        const { model } = first;
        const at = nextAt();
        expect(await store.promote({ model, version: first.version, at, audit: audit(model, 'p1') })).toBe(
          true,
        );
        // A second version of the same model, through the rollout lock.
        const second = await registeredIn(store, model, 'ds2', 'DEPLOYING');
        expect(
          await store.promote({
            model,
            version: second,
            previousChampion: first.version,
            at: nextAt(),
            audit: audit(model, 'p2'),
          }),
        ).toBe(true);
        expect((await store.getVersion(model, first.version))?.status).toBe('ARCHIVED');
        expect((await store.getVersion(model, second))?.status).toBe('PRODUCTION');
      });
    });

    describe('deployments', () => {
      it('promotes: the champion moves, the previous one is archived, a second promote is refused', async () => {
        const model = uniqueModel('promo');
        const v1 = await registeredIn(store, model, 'ds1', 'DEPLOYING');
        expect(await store.getModel(model)).toMatchObject({ challenger: v1 });
        expect(await store.startDeployment(transition(model, v1, ['APPROVED'], 'DEPLOYING'))).toBe(false);

        const promoteV1 = {
          model,
          version: v1,
          at: nextAt(),
          audit: audit(model, 'promote-1', { version: v1, to: 'PRODUCTION' }),
        };
        expect(await store.promote(promoteV1)).toBe(true);
        expect(await store.promote(promoteV1)).toBe(false);
        const afterFirst = await store.getModel(model);
        expect(afterFirst).toMatchObject({ champion: v1, updatedAt: promoteV1.at });
        expect(afterFirst).not.toHaveProperty('challenger');
        expect(await store.getVersion(model, v1)).toMatchObject({
          status: 'PRODUCTION',
          updatedAt: promoteV1.at,
        });

        const v2 = await registeredIn(store, model, 'ds2', 'DEPLOYING');
        const promoteV2 = {
          model,
          version: v2,
          previousChampion: v1,
          at: nextAt(),
          audit: audit(model, 'promote-2', { version: v2 }),
        };
        expect(await store.promote(promoteV2)).toBe(true);
        expect(await store.promote(promoteV2)).toBe(false);

        const afterSecond = await store.getModel(model);
        expect(afterSecond).toMatchObject({ champion: v2 });
        expect(afterSecond).not.toHaveProperty('challenger');
        expect(await statusOf(model, v1)).toBe('ARCHIVED');
        expect(await statusOf(model, v2)).toBe('PRODUCTION');
        const trail = await store.listAudit(model);
        expect(trail.filter((a) => a.eventId.startsWith('promote-'))).toHaveLength(3); // promote-1, promote-2, promote-2#archive
        expect(trail.find((a) => a.eventId === 'promote-2#archive')).toEqual({
          model,
          at: promoteV2.at,
          eventId: 'promote-2#archive',
          type: 'VERSION_ARCHIVED',
          actor: 'test',
          version: v1,
          from: 'PRODUCTION',
          to: 'ARCHIVED',
          reason: `superseded by version ${v2}`,
        });
      });

      it('refuses a promotion whose previous champion is stale and writes nothing', async () => {
        const model = uniqueModel('stale');
        const v1 = await registeredIn(store, model, 'ds1', 'DEPLOYING');
        expect(await store.promote({ model, version: v1, at: nextAt(), audit: audit(model, 'p1') })).toBe(
          true,
        );
        const v2 = await registeredIn(store, model, 'ds2', 'DEPLOYING');
        const before = await snapshot(model, v2);

        // The caller believes there is no champion yet.
        const promotion = { model, version: v2, at: nextAt(), audit: audit(model, 'p2') };
        expect(await store.promote(promotion)).toBe(false);
        expect(await snapshot(model, v2)).toEqual(before);
        expect(before.model).toMatchObject({ champion: v1, challenger: v2 });
        // Nor does another champion than the one in place do.
        expect(await store.promote({ ...promotion, previousChampion: v2 + 1 })).toBe(false);
        expect(await snapshot(model, v2)).toEqual(before);
      });

      it('refuses a promotion whose previous champion is no longer PRODUCTION and writes nothing', async () => {
        const model = uniqueModel('gone');
        const v1 = await registeredIn(store, model, 'ds1', 'DEPLOYING');
        // v1's rollout ends without serving, releasing the lock for v2's.
        expect(await store.endFailedDeployment(transition(model, v1, ['DEPLOYING'], 'DEPLOY_FAILED'))).toBe(
          true,
        );
        const v2 = await registeredIn(store, model, 'ds2', 'DEPLOYING');
        const before = await snapshot(model, v2);
        // v1 is DEPLOY_FAILED, not PRODUCTION: it cannot be archived, so v2 is not promoted either.
        expect(
          await store.promote({
            model,
            version: v2,
            previousChampion: v1,
            at: nextAt(),
            audit: { ...audit(model, 'p2'), notification: notice(model, 'version-promoted') },
          }),
        ).toBe(false);
        expect(await snapshot(model, v2)).toEqual(before);
        expect(await statusOf(model, v1)).toBe('DEPLOY_FAILED');
      });

      it('ends a failed rollout: challenger cleared, champion kept, once', async () => {
        const model = uniqueModel('fail');
        const v1 = await registeredIn(store, model, 'ds1', 'DEPLOYING');
        expect(await store.promote({ model, version: v1, at: nextAt(), audit: audit(model, 'p1') })).toBe(
          true,
        );
        const v2 = await registeredIn(store, model, 'ds2', 'DEPLOYING');

        const end = transition(model, v2, ['DEPLOYING'], 'ROLLED_BACK', { failureReason: 'alarm latency' });
        expect(await store.endFailedDeployment(end)).toBe(true);
        expect(await store.endFailedDeployment(end)).toBe(false);

        const record = await store.getModel(model);
        expect(record).toMatchObject({ champion: v1, updatedAt: end.set!.updatedAt });
        expect(record).not.toHaveProperty('challenger');
        expect(await store.getVersion(model, v2)).toMatchObject({
          status: 'ROLLED_BACK',
          failureReason: 'alarm latency',
        });
        expect(await statusOf(model, v1)).toBe('PRODUCTION');
        expect((await store.listAudit(model)).filter((a) => a.to === 'ROLLED_BACK')).toHaveLength(1);
      });

      it('leaves another version as challenger when ending a rollout that was superseded', async () => {
        const model = uniqueModel('super');
        // startDeployment no longer lets a second rollout take the lock (see the race below), but a
        // registry written before the lock was conditional can hold a DEPLOYING version that lost
        // it: ending that one must still leave the holder's lock alone. The state is built as such
        // a registry holds it: v2 holds the lock, v1 reached DEPLOYING without it.
        const v1 = await registeredIn(store, model, 'ds1', 'APPROVED');
        const v2 = await registeredIn(store, model, 'ds2', 'DEPLOYING');
        expect(await store.startDeployment(transition(model, v1, ['APPROVED'], 'DEPLOYING'))).toBe(false);
        expect(await store.transitionVersion(transition(model, v1, ['APPROVED'], 'DEPLOYING'))).toBe(true);
        const locked = await store.getModel(model);
        expect(locked).toMatchObject({ challenger: v2 });

        expect(await store.endFailedDeployment(transition(model, v1, ['DEPLOYING'], 'DEPLOY_FAILED'))).toBe(
          true,
        );
        expect(await statusOf(model, v1)).toBe('DEPLOY_FAILED');
        // The model item is untouched, updatedAt included.
        expect(await store.getModel(model)).toEqual(locked);
      });

      it('takes the rollout lock once when two deployers race: the loser stays APPROVED', async () => {
        for (let round = 0; round < 6; round++) {
          const model = uniqueModel('race');
          const a = await registeredIn(store, model, 'ds-a', 'APPROVED');
          const b = await registeredIn(store, model, 'ds-b', 'APPROVED');
          const start = (version: number): TransitionRequest =>
            notifying(transition(model, version, ['APPROVED'], 'DEPLOYING'), 'approval-needed');
          // Either deployer may be first to send: alternate the order between rounds.
          const order = round % 2 === 0 ? [a, b] : [b, a];
          const results = await Promise.all(order.map((version) => store.startDeployment(start(version))));
          expect(results.filter(Boolean), `round ${round}: ${String(results)}`).toHaveLength(1);
          const winner = order[results.indexOf(true)]!;
          const loser = winner === a ? b : a;

          expect(await store.getModel(model)).toMatchObject({ challenger: winner });
          expect(await statusOf(model, winner)).toBe('DEPLOYING');
          expect(await statusOf(model, loser)).toBe('APPROVED');
          const trail = await store.listAudit(model);
          expect(trail.filter((line) => line.to === 'DEPLOYING').map((line) => line.version)).toEqual([
            winner,
          ]);
          expect(await store.listPendingNotifications(model)).toHaveLength(1);

          // While the lock is held: the loser is refused again, and a repeat by the holder answers
          // false (its version is DEPLOYING already); neither writes anything.
          const held = await snapshot(model, loser);
          expect(await store.startDeployment(start(loser))).toBe(false);
          expect(await store.startDeployment(start(winner))).toBe(false);
          expect(await snapshot(model, loser)).toEqual(held);

          // The holder's rollout ends: the loser takes the lock.
          expect(
            await store.endFailedDeployment(transition(model, winner, ['DEPLOYING'], 'DEPLOY_FAILED')),
          ).toBe(true);
          expect(await store.startDeployment(start(loser))).toBe(true);
          expect(await store.getModel(model)).toMatchObject({ challenger: loser });
          expect(await statusOf(model, loser)).toBe('DEPLOYING');
        }
      });

      it('rejects requests the port does not allow, before anything else', async () => {
        const { model, version } = await versionIn(store, 'inv', 'APPROVED');
        const before = await snapshot(model, version);
        const start = await store
          .startDeployment(transition(model, version, ['APPROVED'], 'PRODUCTION'))
          .catch((e: unknown) => e);
        expect(start).toBeInstanceOf(RegistryStoreError);
        expect(start).toMatchObject({ code: 'INVALID_REQUEST', operation: 'startDeployment' });
        // Checked before an empty `from` answers false.
        await expect(store.startDeployment(transition(model, version, [], 'TRAINED'))).rejects.toMatchObject({
          code: 'INVALID_REQUEST',
        });
        await expect(
          store.endFailedDeployment(transition(model, version, ['DEPLOYING'], 'PRODUCTION')),
        ).rejects.toMatchObject({
          name: 'RegistryStoreError',
          code: 'INVALID_REQUEST',
          operation: 'endFailedDeployment',
        });
        await expect(
          store.endFailedDeployment(transition(model, version, [], 'ARCHIVED')),
        ).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
        expect(await snapshot(model, version)).toEqual(before);
      });
    });

    describe('models', () => {
      it('saves the config, keeps createdAt and counter, marks alarms and records rejections', async () => {
        const model = uniqueModel('cfg');
        const config = defaultModelConfig();
        const firstAt = nextAt();
        await store.saveModelConfig(model, config, firstAt);
        expect(await store.getModel(model)).toEqual({
          model,
          config,
          versionCounter: 0,
          createdAt: firstAt,
          updatedAt: firstAt,
        });

        expect((await store.registerDatasetAndVersion(newVersion(model, 'ds'))).version?.version).toBe(1);
        const laterAt = nextAt();
        await store.saveModelConfig(model, config, laterAt);
        expect(await store.getModel(model)).toMatchObject({
          versionCounter: 1,
          createdAt: firstAt,
          updatedAt: laterAt,
        });

        const alarmsAt = nextAt();
        await store.markAlarmsCreated(model, alarmsAt);
        await store.markAlarmsCreated(model, nextAt());
        expect(await store.getModel(model)).toMatchObject({ alarmsCreated: true, updatedAt: alarmsAt });

        const rejection = audit(model, 'bad-config', { type: 'MODEL_REJECTED' });
        await store.recordModelRejection(
          model,
          { code: 'INVALID_CONFIG', reason: 'metric missing', source: 'models/x/config.json' },
          rejection,
        );
        expect(await store.getModel(model)).toMatchObject({
          versionCounter: 1,
          updatedAt: rejection.at,
          lastRejection: {
            code: 'INVALID_CONFIG',
            reason: 'metric missing',
            source: 'models/x/config.json',
            at: rejection.at,
          },
        });
        expect((await store.listAudit(model)).map((a) => a.eventId)).toContain('bad-config');
      });

      it('creates the model item on a rejection of a model never seen', async () => {
        const model = uniqueModel('new');
        const rejection = audit(model, 'r');
        await store.recordModelRejection(
          model,
          { code: 'INVALID_CONFIG', reason: 'x', source: 's' },
          rejection,
        );
        expect(await store.getModel(model)).toMatchObject({
          model,
          versionCounter: 0,
          createdAt: rejection.at,
        });
        expect(await store.listAudit(model)).toEqual([rejection]);
        expect(await store.getModel(uniqueModel('never'))).toBeUndefined();
      });

      it('creates the model item when marking the alarms of a model never seen', async () => {
        const model = uniqueModel('alarms');
        const at = nextAt();
        await store.markAlarmsCreated(model, at);
        expect(await store.getModel(model)).toEqual({
          model,
          versionCounter: 0,
          alarmsCreated: true,
          createdAt: at,
          updatedAt: at,
        });
      });
    });

    describe('audit', () => {
      it('lists the trail oldest first and writes a line with the same at and eventId once', async () => {
        const model = uniqueModel('trail');
        const lines = Array.from({ length: 12 }, (_, i) => audit(model, `e${String(i).padStart(2, '0')}`));
        // Written out of order: the trail is in time order all the same.
        for (const line of [...lines].reverse()) await store.appendAudit(line);
        await store.appendAudit(lines[3]!);
        await store.appendAudit({ ...lines[4]!, reason: 'changed' });
        // Same time, another id: another line.
        const twin = { ...lines[5]!, eventId: 'e05-twin' };
        await store.appendAudit(twin);

        expect(await store.listAudit(model)).toEqual([...lines.slice(0, 6), twin, ...lines.slice(6)]);
        expect(await store.listAudit(uniqueModel('empty'))).toEqual([]);
      });
    });

    describe('incidents', () => {
      it('opens once under duplicates, resolves once, and does not reopen on a late duplicate', async () => {
        const model = uniqueModel('inc');
        const alarm = `mlops-${model}-latency-anomaly`;
        const openedAt = nextAt();
        const opened = await Promise.all(
          [1, 2, 3].map(() =>
            store.openIncident(incident(model, alarm, openedAt), audit(model, 'open', { at: openedAt })),
          ),
        );
        expect(opened.filter(Boolean)).toHaveLength(1);
        expect(
          await store.openIncident(incident(model, alarm, openedAt), audit(model, 'open', { at: openedAt })),
        ).toBe(false);
        // Another ALARM event for the same alarm while the incident is open: still one incident.
        expect(await store.openIncident(incident(model, alarm, nextAt()), audit(model, 'open-again'))).toBe(
          false,
        );

        expect(await store.listIncidents(model)).toEqual([incident(model, alarm, openedAt)]);
        expect((await store.listOpenIncidents()).filter((i) => i.model === model)).toHaveLength(1);

        const resolvedAt = nextAt();
        const resolved = await Promise.all(
          [1, 2, 3].map(() =>
            store.resolveIncident(model, alarm, resolvedAt, audit(model, 'resolve', { at: resolvedAt })),
          ),
        );
        expect(resolved.filter(Boolean)).toHaveLength(1);
        expect(await store.resolveIncident(model, alarm, nextAt(), audit(model, 'resolve-again'))).toBe(
          false,
        );

        expect(await store.listIncidents(model)).toEqual([
          {
            ...incident(model, alarm, openedAt),
            status: 'RESOLVED',
            resolvedAt,
            timeToRecoverSeconds: (Date.parse(resolvedAt) - Date.parse(openedAt)) / 1000,
          },
        ]);
        expect((await store.listOpenIncidents()).filter((i) => i.model === model)).toEqual([]);
        // The first ALARM event delivered again after the OK: the resolved incident stays resolved.
        expect(
          await store.openIncident(incident(model, alarm, openedAt), audit(model, 'open', { at: openedAt })),
        ).toBe(false);

        const secondAt = nextAt();
        expect(await store.openIncident(incident(model, alarm, secondAt), audit(model, 'open-2'))).toBe(true);
        expect((await store.listIncidents(model)).map((i) => [i.openedAt, i.status])).toEqual([
          [secondAt, 'OPEN'],
          [openedAt, 'RESOLVED'],
        ]);
        expect((await store.listAudit(model)).map((a) => a.eventId)).toEqual(['open', 'resolve', 'open-2']);
      });

      it('keeps incidents of different alarms apart', async () => {
        const model = uniqueModel('inc2');
        expect(
          await store.openIncident(incident(model, 'a-latency-anomaly', nextAt()), audit(model, 'o1')),
        ).toBe(true);
        expect(await store.openIncident(incident(model, 'a-error-rate', nextAt()), audit(model, 'o2'))).toBe(
          true,
        );
        expect(await store.resolveIncident(model, 'a-error-rate', nextAt(), audit(model, 'r2'))).toBe(true);
        expect(
          (await store.listOpenIncidents()).filter((i) => i.model === model).map((i) => i.alarmName),
        ).toEqual(['a-latency-anomaly']);
      });

      it('answers false to resolving an alarm that never opened an incident, and writes nothing', async () => {
        const model = uniqueModel('noinc');
        expect(await store.resolveIncident(model, 'quiet', nextAt(), audit(model, 'r'))).toBe(false);
        expect(await store.listIncidents(model)).toEqual([]);
        expect(await store.listAudit(model)).toEqual([]);
      });

      it('stores an opened incident as OPEN without resolvedAt, whatever the record said', async () => {
        const model = uniqueModel('increc');
        const openedAt = nextAt();
        const odd: IncidentRecord = {
          ...incident(model, 'x-error-rate', openedAt),
          status: 'RESOLVED',
          resolvedAt: nextAt(),
        };
        expect(await store.openIncident(odd, audit(model, 'o'))).toBe(true);
        expect(await store.listIncidents(model)).toEqual([incident(model, 'x-error-rate', openedAt)]);
      });

      it('lists a model’s incidents newest first, then by alarm name', async () => {
        const model = uniqueModel('incorder');
        const early = nextAt();
        const late = nextAt();
        for (const [alarm, at] of [
          ['b', early],
          ['c', late],
          ['a', early],
        ] as const)
          expect(await store.openIncident(incident(model, alarm, at), audit(model, `o-${alarm}`))).toBe(true);
        expect((await store.listIncidents(model)).map((i) => i.alarmName)).toEqual(['c', 'a', 'b']);
      });
    });

    describe('fleet queries', () => {
      it('lists versions by status across models, oldest change first', async () => {
        const alpha = uniqueModel('alpha');
        const beta = uniqueModel('beta');
        const ours = (records: { model: string; version: number }[]): string[] =>
          records.filter((v) => v.model === alpha || v.model === beta).map((v) => `${v.model}/${v.version}`);
        for (const id of ['1', '2', '3']) await store.registerDatasetAndVersion(newVersion(alpha, id));
        for (const id of ['1', '2', '3']) await store.registerDatasetAndVersion(newVersion(beta, id));
        for (const [model, version] of [
          [beta, 2],
          [alpha, 3],
          [alpha, 1],
        ] as const) {
          expect(await store.transitionVersion(transition(model, version, ['TRAINING'], 'TRAINED'))).toBe(
            true,
          );
        }

        expect(ours(await store.listVersionsByStatus('TRAINING'))).toEqual([
          `${alpha}/2`,
          `${beta}/1`,
          `${beta}/3`,
        ]);
        // By updatedAt, the time of the transition.
        const trained = await store.listVersionsByStatus('TRAINED');
        expect(ours(trained)).toEqual([`${beta}/2`, `${alpha}/3`, `${alpha}/1`]);
        expect(trained.find((v) => v.model === beta)).toEqual(await store.getVersion(beta, 2));
        expect(ours(await store.listVersionsByStatus('PRODUCTION'))).toEqual([]);
      });

      it('lists open incidents across models, oldest first', async () => {
        const models = [uniqueModel('fleet'), uniqueModel('fleet'), uniqueModel('fleet')];
        const opened: IncidentRecord[] = [];
        for (const model of models) {
          const record = incident(model, `${model}-error-rate`, nextAt());
          opened.push(record);
          expect(await store.openIncident(record, audit(model, 'o'))).toBe(true);
        }
        expect(
          await store.resolveIncident(
            models[1]!,
            `${models[1]}-error-rate`,
            nextAt(),
            audit(models[1]!, 'r'),
          ),
        ).toBe(true);
        const open = (await store.listOpenIncidents()).filter((i) => models.includes(i.model));
        expect(open).toEqual([opened[0], opened[2]]);
      });
    });

    describe('the notification outbox: written with the change, iff it applied', () => {
      it('a transition writes its notification once; duplicates (in a row and at once) write none', async () => {
        const { model, version } = await versionIn(store, 'tr', 'TRAINING');
        const request = notifying(
          transition(model, version, ['TRAINING'], 'FAILED', { failureReason: 'oom' }),
        );
        const results = await Promise.all([1, 2, 3].map(() => store.transitionVersion(request)));
        expect(results.filter(Boolean)).toHaveLength(1);
        expect(await store.transitionVersion(request)).toBe(false);
        expect(
          await store.transitionVersion(
            notifying(transition(model, version, ['TRAINING'], 'FAILED', { failureReason: 'again' })),
          ),
        ).toBe(false);

        expect(await store.listPendingNotifications(model)).toEqual([
          {
            id: `${request.audit.at}#${request.audit.eventId}`,
            model,
            notification: notice(model),
            createdAt: request.audit.at,
          },
        ]);
        // The audit line is stored without the notification.
        const trail = await store.listAudit(model);
        expect(trail.at(-1)).toEqual(
          Object.fromEntries(Object.entries(request.audit).filter(([k]) => k !== 'notification')),
        );
        expect(trail.at(-1)).not.toHaveProperty('notification');
      });

      it('a refused transition writes no notification, and one without a notification writes none', async () => {
        const { model, version } = await versionIn(store, 'refused', 'TRAINING');
        expect(
          await store.transitionVersion(notifying(transition(model, version, ['TRAINED'], 'APPROVED'))),
        ).toBe(false);
        expect(await store.transitionVersion(transition(model, version, ['TRAINING'], 'TRAINED'))).toBe(true);
        expect(await store.listPendingNotifications(model)).toEqual([]);
      });

      it('stores the notification without an id: the outbox gives it the item’s', async () => {
        const { model, version } = await versionIn(store, 'noid', 'TRAINING');
        const request = transition(model, version, ['TRAINING'], 'FAILED');
        const withId: TransitionRequest = {
          ...request,
          audit: { ...request.audit, notification: { ...notice(model), id: 'stale-id' } },
        };
        expect(await store.transitionVersion(withId)).toBe(true);
        const [pending] = await store.listPendingNotifications(model);
        expect(pending!.notification).toEqual(notice(model));
        expect(pending!.notification).not.toHaveProperty('id');
      });

      it('a rejected dataset: the notification once, a duplicate rejection none', async () => {
        const model = uniqueModel('rej');
        const rejected = dataset(model, 'bad.csv-1', {
          status: 'REJECTED',
          rejection: { code: 'EMPTY_DATASET', reason: 'no rows' },
        });
        const line = (): NotifyingAuditEvent => ({
          ...audit(model, 'DATASET_REJECTED:bad.csv-1'),
          notification: notice(model, 'dataset-rejected'),
        });
        const first = line();
        expect(await store.recordRejectedDataset(rejected, first)).toBe(true);
        expect(await store.recordRejectedDataset(rejected, line())).toBe(false);
        expect((await store.listPendingNotifications(model)).map((p) => p.id)).toEqual([
          `${first.at}#DATASET_REJECTED:bad.csv-1`,
        ]);
        expect(await store.listAudit(model)).toHaveLength(1);
      });

      it('a promotion and a failed rollout carry theirs; a second promotion none', async () => {
        const { model, version } = await versionIn(store, 'promo', 'DEPLOYING');
        const at = nextAt();
        const promotion = {
          model,
          version,
          at,
          audit: {
            ...audit(model, `PROMOTED:${version}`, { at }),
            notification: notice(model, 'version-promoted'),
          },
        };
        expect(await store.promote(promotion)).toBe(true);
        expect(await store.promote({ ...promotion, at: nextAt() })).toBe(false);
        expect((await store.listPendingNotifications(model)).map((p) => p.notification.kind)).toEqual([
          'version-promoted',
        ]);

        const failed = await versionIn(store, 'fail', 'DEPLOYING');
        const end = notifying(
          transition(failed.model, failed.version, ['DEPLOYING'], 'DEPLOY_FAILED', { failureReason: 'x' }),
          'deployment-failed',
        );
        expect(await store.endFailedDeployment(end)).toBe(true);
        expect(await store.endFailedDeployment(end)).toBe(false);
        expect((await store.listPendingNotifications(failed.model)).map((p) => p.notification.kind)).toEqual([
          'deployment-failed',
        ]);
      });

      it('a rollout start carries its notification; a refused one none', async () => {
        const { model, version } = await versionIn(store, 'start', 'APPROVED');
        const start = notifying(transition(model, version, ['APPROVED'], 'DEPLOYING'), 'approval-needed');
        expect(await store.startDeployment(start)).toBe(true);
        expect(await store.startDeployment(start)).toBe(false);
        expect(await store.getModel(model)).toMatchObject({ challenger: version });
        expect((await store.listPendingNotifications(model)).map((p) => p.createdAt)).toEqual([
          start.audit.at,
        ]);
      });

      it('an incident opened and resolved: one notification each, whatever the duplicates', async () => {
        const model = uniqueModel('inc');
        const alarm = `mlops-${model}-error-rate`;
        const openedAt = nextAt();
        const record: IncidentRecord = {
          model,
          alarmName: alarm,
          incidentId: `${alarm}@${openedAt}`,
          status: 'OPEN',
          openedAt,
          reason: 'errors',
        };
        const opening = {
          ...audit(model, 'open', { at: openedAt }),
          notification: notice(model, 'incident-opened'),
        };
        const opened = await Promise.all([1, 2, 3].map(() => store.openIncident(record, opening)));
        expect(opened.filter(Boolean)).toHaveLength(1);
        const resolvedAt = nextAt();
        const resolving = {
          ...audit(model, 'resolve', { at: resolvedAt }),
          notification: notice(model, 'incident-resolved'),
        };
        const resolved = await Promise.all(
          [1, 2, 3].map(() => store.resolveIncident(model, alarm, resolvedAt, resolving)),
        );
        expect(resolved.filter(Boolean)).toHaveLength(1);
        expect((await store.listPendingNotifications(model)).map((p) => p.notification.kind)).toEqual([
          'incident-opened',
          'incident-resolved',
        ]);
      });
    });

    describe('the notification outbox: delivery', () => {
      /** A model with one pending notification; its id. */
      async function pendingOne(label: string): Promise<{ model: string; id: string }> {
        const { model, version } = await versionIn(store, label, 'TRAINING');
        const request = notifying(transition(model, version, ['TRAINING'], 'FAILED', { failureReason: 'x' }));
        expect(await store.transitionVersion(request)).toBe(true);
        return { model, id: `${request.audit.at}#${request.audit.eventId}` };
      }
      const T = (minute: number) => new Date(Date.UTC(2030, 0, 1, 0, minute)).toISOString();

      it('a claim is taken once, held until it ends, then taken again', async () => {
        const { model, id } = await pendingOne('claim');
        const claims = await Promise.all([1, 2, 3].map(() => store.claimNotification(model, id, T(0), T(5))));
        expect(claims.filter(Boolean)).toHaveLength(1);
        expect((await store.listPendingNotifications(model))[0]).toMatchObject({ id, claimedUntil: T(5) });
        expect(await store.claimNotification(model, id, T(4), T(9))).toBe(false);
        // A claim ending exactly now still holds.
        expect(await store.claimNotification(model, id, T(5), T(10))).toBe(false);
        expect(await store.claimNotification(model, id, T(6), T(11))).toBe(true);
        expect((await store.listPendingNotifications(model))[0]).toMatchObject({ claimedUntil: T(11) });
      });

      it('a release frees only the caller’s own claim', async () => {
        const { model, id } = await pendingOne('release');
        expect(await store.claimNotification(model, id, T(0), T(5))).toBe(true);
        await store.releaseNotification(model, id, T(4)); // not the claim held: nothing happens
        expect(await store.claimNotification(model, id, T(1), T(6))).toBe(false);
        await store.releaseNotification(model, id, T(5));
        expect((await store.listPendingNotifications(model))[0]).not.toHaveProperty('claimedUntil');
        expect(await store.claimNotification(model, id, T(1), T(6))).toBe(true);
      });

      it('a completed notification is gone: completing again is fine, claiming or releasing it writes nothing', async () => {
        const { model, id } = await pendingOne('complete');
        expect(await store.claimNotification(model, id, T(0), T(5))).toBe(true);
        await store.completeNotification(model, id);
        await store.completeNotification(model, id);
        expect(await store.listPendingNotifications(model)).toEqual([]);
        expect(await store.claimNotification(model, id, T(10), T(15))).toBe(false);
        await store.releaseNotification(model, id, T(15));
        expect(await store.listPendingNotifications(model)).toEqual([]);
        expect((await store.listPendingNotificationsBefore('9999')).map((p) => p.id)).not.toContain(id);
        // Never written at all: the same.
        expect(await store.claimNotification(model, 'no-such-id', T(0), T(5))).toBe(false);
        expect(await store.listPendingNotifications(model)).toEqual([]);
      });

      it('lists pending notifications across models written before a time, oldest first', async () => {
        const a = await pendingOne('fleet-a');
        const b = await pendingOne('fleet-b');
        const cut = nextAt();
        const c = await pendingOne('fleet-c');
        const before = (await store.listPendingNotificationsBefore(cut)).map((p) => p.id);
        expect(before).toEqual(expect.arrayContaining([a.id, b.id]));
        expect(before).not.toContain(c.id);
        expect(before.indexOf(a.id)).toBeLessThan(before.indexOf(b.id));
        // Written at `createdBefore` exactly: not before it.
        expect(
          (await store.listPendingNotificationsBefore(c.id.split('#')[0]!)).map((p) => p.id),
        ).not.toContain(c.id);
        const all = await store.listPendingNotificationsBefore('9999');
        expect(all.find((p) => p.id === c.id)).toEqual((await store.listPendingNotifications(c.model))[0]);
        await store.completeNotification(a.model, a.id);
        expect((await store.listPendingNotificationsBefore(cut)).map((p) => p.id)).not.toContain(a.id);
      });

      it('lists a model’s pending notifications oldest first', async () => {
        const model = uniqueModel('order');
        const lines = [nextAt(), nextAt(), nextAt()].map((at, i): NotifyingAuditEvent => ({
          ...audit(model, `o${i}`, { at }),
          notification: notice(model, 'incident-opened'),
        }));
        for (const [i, line] of [...lines.entries()].reverse())
          expect(await store.openIncident(incident(model, `alarm-${i}`, line.at), line)).toBe(true);
        expect((await store.listPendingNotifications(model)).map((p) => p.createdAt)).toEqual(
          lines.map((line) => line.at),
        );
      });
    });

    describe('values stored as DynamoDB stores them', () => {
      it('drops undefined fields and nested functions, and reads -0 back as 0', async () => {
        const { model, version } = await versionIn(store, 'drop', 'TRAINING');
        const set = {
          metrics: { auc: 0.9, loss: undefined, zero: -0, f: () => 1 } as unknown as Record<string, number>,
          failureReason: undefined,
        };
        expect(await store.transitionVersion(transition(model, version, ['TRAINING'], 'TRAINED', set))).toBe(
          true,
        );
        const stored = (await store.getVersion(model, version))!;
        expect(Object.keys(stored.metrics!).sort()).toEqual(['auc', 'zero']);
        expect(stored.metrics).toEqual({ auc: 0.9, zero: 0 });
        expect(Object.is(stored.metrics!.zero, 0)).toBe(true);
        expect(stored).not.toHaveProperty('failureReason');
      });

      it('refuses what the document client cannot marshal with a DYNAMODB_ERROR, writing nothing', async () => {
        const { model, version } = await versionIn(store, 'values', 'TRAINING');
        const before = await snapshot(model, version);
        const refused: TransitionRequest['set'][] = [
          { metrics: { auc: Number.NaN } },
          { metrics: { auc: Number.POSITIVE_INFINITY } },
          { metrics: { auc: 2 ** 60 } },
          { artifactUri: (() => 's3://x') as unknown as string },
        ];
        for (const set of refused) {
          const error = await store
            .transitionVersion(notifying(transition(model, version, ['TRAINING'], 'TRAINED', set)))
            .catch((e: unknown) => e);
          expect(error, String(Object.keys(set!))).toBeInstanceOf(RegistryStoreError);
          expect(error).toMatchObject({ code: 'DYNAMODB_ERROR', operation: 'transitionVersion' });
        }
        const dated = dataset(model, 'dated', { createdAt: new Date() as unknown as string });
        await expect(store.recordRejectedDataset(dated, audit(model, 'd'))).rejects.toMatchObject({
          name: 'RegistryStoreError',
          code: 'DYNAMODB_ERROR',
        });
        expect(await snapshot(model, version)).toEqual(before);
        expect(await store.getDataset(model, 'dated')).toBeUndefined();
      });

      it('refuses an item over 400 KB with a DYNAMODB_ERROR, writing nothing of the transaction', async () => {
        const model = uniqueModel('big');
        const rejected = dataset(model, 'big', {
          status: 'REJECTED',
          rejection: { code: 'TOO_BIG', reason: 'x'.repeat(405 * 1024) },
        });
        await expect(store.recordRejectedDataset(rejected, audit(model, 'big'))).rejects.toMatchObject({
          name: 'RegistryStoreError',
          code: 'DYNAMODB_ERROR',
        });
        // The dataset fits but its audit line does not: neither is written.
        const fits = dataset(model, 'fits', {
          status: 'REJECTED',
          rejection: { code: 'FITS', reason: 'x'.repeat(350 * 1024) },
        });
        const tooLong = { ...audit(model, 'long'), reason: 'y'.repeat(405 * 1024) };
        await expect(store.recordRejectedDataset(fits, tooLong)).rejects.toMatchObject({
          code: 'DYNAMODB_ERROR',
        });
        expect(await store.getDataset(model, 'big')).toBeUndefined();
        expect(await store.getDataset(model, 'fits')).toBeUndefined();
        expect(await store.listAudit(model)).toEqual([]);
        expect(await store.recordRejectedDataset(fits, audit(model, 'fits'))).toBe(true);
        expect(await store.getDataset(model, 'fits')).toEqual(fits);
      });
    });

    describe('operating models: the fleet, datasets, retrains, incident actions', () => {
      /** A retrain of `datasetId` under `requestId`, as RetrainModel asks for it. */
      function retrain(model: string, datasetId: string, requestId: string): NewRetrainVersion {
        const at = nextAt();
        return {
          model,
          datasetId,
          requestId,
          buildVersion: (version): VersionRecord => ({
            model,
            version,
            status: 'TRAINING',
            datasetId,
            trainingJobName: `mlops-${model}-v${version}-abcd`,
            image: 'xgboost:1.7-1',
            hyperparameters: { num_round: '10' },
            objectiveMetric: 'validation:auc',
            origin: { kind: 'retrain', by: 'alice', reason: 'drift' },
            createdAt: at,
            updatedAt: at,
          }),
          audit: {
            model,
            at,
            eventId: `retrain-${requestId}`,
            type: 'VERSION_CREATED',
            actor: 'alice',
            to: 'TRAINING',
            reason: 'retrain',
          },
        };
      }

      it('lists every model, by name, whichever write created its item; an incident alone makes none', async () => {
        const [a, b, c, d, e] = ['fa', 'fb', 'fc', 'fd', 'fe'].map((label) => uniqueModel(label));
        await store.saveModelConfig(b!, defaultModelConfig(), nextAt());
        await store.recordModelRejection(
          a!,
          { code: 'INVALID_CONFIG', reason: 'bad', source: 'x' },
          audit(a!, 'rejected'),
        );
        await store.markAlarmsCreated(c!, nextAt());
        await store.registerDatasetAndVersion(newVersion(d!, 'ds'));
        await store.openIncident(incident(e!, `mlops-${e!}-error-rate`, nextAt()), audit(e!, 'o'));
        // A second write of the same model lists it once.
        await store.saveModelConfig(d!, defaultModelConfig(), nextAt());

        const ours = (await store.listModels()).filter((m) => [a, b, c, d, e].includes(m.model));
        expect(ours.map((m) => m.model)).toEqual([a, b, c, d].sort());
        expect(ours.find((m) => m.model === d)).toEqual(await store.getModel(d!));
      });

      it('lists a model’s datasets, accepted and rejected, by id', async () => {
        const model = uniqueModel('dsl');
        await store.registerDatasetAndVersion(newVersion(model, 'b'));
        const rejected = dataset(model, 'a', {
          status: 'REJECTED',
          rejection: { code: 'EMPTY_DATASET', reason: 'empty' },
        });
        await store.recordRejectedDataset(rejected, audit(model, 'rej'));
        expect((await store.listDatasets(model)).map((d) => [d.datasetId, d.status])).toEqual([
          ['a', 'REJECTED'],
          ['b', 'ACCEPTED'],
        ]);
        expect(await store.listDatasets(uniqueModel('none'))).toEqual([]);
      });

      it('registers a retrain: the next number, its origin and audit line, the dataset untouched; a retried request id makes none', async () => {
        const model = uniqueModel('rt');
        await store.registerDatasetAndVersion(newVersion(model, 'ds'));
        const datasetBefore = await store.getDataset(model, 'ds');
        const request = retrain(model, 'ds', 'req-1');

        const first = await store.registerRetrainVersion(request);
        expect(first).toMatchObject({
          created: true,
          version: {
            version: 2,
            datasetId: 'ds',
            status: 'TRAINING',
            origin: { kind: 'retrain', by: 'alice' },
          },
        });
        expect(await store.getVersion(model, 2)).toEqual(first.version);
        expect(await store.getModel(model)).toMatchObject({ versionCounter: 2 });
        expect(await store.getDataset(model, 'ds')).toEqual(datasetBefore);

        // The same request again, even built anew: the first one's version, nothing written.
        for (const again of [request, retrain(model, 'ds', 'req-1')])
          expect(await store.registerRetrainVersion(again)).toEqual({
            created: false,
            version: first.version,
          });
        expect(await store.listVersions(model)).toHaveLength(2);
        expect((await store.listAudit(model)).map((a) => [a.eventId, a.version])).toEqual([
          ['register-ds', 1],
          ['retrain-req-1', 2],
        ]);
        expect(await store.getModel(model)).toMatchObject({ versionCounter: 2 });
      });

      it('registers a retrain once when the same request arrives three times at once', async () => {
        const model = uniqueModel('rtc');
        await store.registerDatasetAndVersion(newVersion(model, 'ds'));
        const results = await Promise.all(
          [1, 2, 3].map(() => store.registerRetrainVersion(retrain(model, 'ds', 'r'))),
        );
        expect(results.filter((r) => r.created)).toHaveLength(1);
        expect(results.map((r) => r.version?.version)).toEqual([2, 2, 2]);
        expect(await store.listVersions(model)).toHaveLength(2);
        expect(await store.getModel(model)).toMatchObject({ versionCounter: 2 });
      });

      it('gives retrains and uploads at once distinct consecutive numbers', async () => {
        const model = uniqueModel('rtmix');
        await store.registerDatasetAndVersion(newVersion(model, 'ds'));
        const results = await Promise.all([
          store.registerRetrainVersion(retrain(model, 'ds', 'r1')),
          store.registerRetrainVersion(retrain(model, 'ds', 'r2')),
          store.registerDatasetAndVersion(newVersion(model, 'ds2')),
          store.registerRetrainVersion(retrain(model, 'ds', 'r3')),
        ]);
        expect(results.every((r) => r.created)).toBe(true);
        expect(results.map((r) => r.version!.version).sort((x, y) => x - y)).toEqual([2, 3, 4, 5]);
        expect(await store.getModel(model)).toMatchObject({ versionCounter: 5 });
      });

      it('refuses a retrain from a rejected or unknown dataset, or of an unknown model, and writes nothing', async () => {
        const model = uniqueModel('rtbad');
        await store.registerDatasetAndVersion(newVersion(model, 'ds'));
        await store.recordRejectedDataset(
          dataset(model, 'bad', { status: 'REJECTED', rejection: { code: 'X', reason: 'no' } }),
          audit(model, 'rej'),
        );
        const before = await snapshot(model, 1);
        for (const datasetId of ['bad', 'missing']) {
          const error = await store
            .registerRetrainVersion(retrain(model, datasetId, `q-${datasetId}`))
            .catch((e: unknown) => e);
          expect(error).toBeInstanceOf(RegistryStoreError);
          expect(error).toMatchObject({
            code: 'INVALID_REQUEST',
            message: expect.stringContaining(datasetId) as string,
          });
        }
        expect(await snapshot(model, 1)).toEqual(before);
        // The request id was not used up: a valid retrain under it works.
        expect(await store.registerRetrainVersion(retrain(model, 'ds', 'q-bad'))).toMatchObject({
          created: true,
          version: { version: 2 },
        });

        const ghost = uniqueModel('ghost');
        await expect(store.registerRetrainVersion(retrain(ghost, 'ds', 'q'))).rejects.toMatchObject({
          code: 'INVALID_REQUEST',
        });
        expect(await store.getModel(ghost)).toBeUndefined();
      });

      it('stores an incident’s evidence, finds it by id, and computes its time to recover', async () => {
        const model = uniqueModel('ev');
        const alarm = `mlops-${model}-feature-drift`;
        const openedAt = nextAt();
        const record: IncidentRecord = {
          ...incident(model, alarm, openedAt),
          policy: 'retrain',
          evidence: {
            threshold: 0.2,
            comparison: 'GreaterThanThreshold',
            datapoints: [{ at: openedAt, value: 0.62 }],
            driftedFeatures: [{ feature: 'tenure', distance: 0.62, psi: 1.4 }],
            reportUri: 's3://data/reports/x/drift.json',
          },
          timeToDetectSeconds: 120,
        };
        expect(await store.openIncident(record, audit(model, 'o'))).toBe(true);
        expect(await store.getIncident(model, record.incidentId)).toEqual(record);
        for (const id of [`${alarm}@${nextAt()}`, 'no-at-sign', `${alarm}@`])
          expect(await store.getIncident(model, id)).toBeUndefined();
        expect(await store.getIncident(uniqueModel('other'), record.incidentId)).toBeUndefined();

        const resolvedAt = new Date(Date.parse(openedAt) + 754_400).toISOString();
        expect(await store.resolveIncident(model, alarm, resolvedAt, audit(model, 'r'))).toBe(true);
        expect(await store.getIncident(model, record.incidentId)).toEqual({
          ...record,
          status: 'RESOLVED',
          resolvedAt,
          timeToRecoverSeconds: 754,
        });
      });

      it('claims one action per incident, even at once; only while it is open', async () => {
        const model = uniqueModel('act');
        const alarm = `mlops-${model}-error-rate`;
        const record = incident(model, alarm, nextAt());
        await store.openIncident(record, audit(model, 'o'));
        const action = (detail: string): IncidentAction => ({
          kind: 'rollback',
          status: 'started',
          at: nextAt(),
          detail,
          version: 1,
        });

        const results = await Promise.all(
          ['a', 'b', 'c'].map((d) =>
            store.recordIncidentAction(model, record.incidentId, action(d), {
              ...audit(model, `act-${d}`),
              notification: notice(model, 'incident-opened'),
            }),
          ),
        );
        expect(results.filter((r) => r === 'recorded')).toHaveLength(1);
        expect(results.filter((r) => r === 'conflict')).toHaveLength(2);
        const stored = (await store.getIncident(model, record.incidentId))!.action!;
        expect(['a', 'b', 'c']).toContain(stored.detail);
        expect((await store.listAudit(model)).filter((a) => a.eventId.startsWith('act-'))).toHaveLength(1);
        expect(await store.listPendingNotifications(model)).toHaveLength(1);

        // A resolved incident takes no action; an unknown one neither.
        const other = incident(model, `mlops-${model}-latency-anomaly`, nextAt());
        await store.openIncident(other, audit(model, 'o2'));
        await store.resolveIncident(model, other.alarmName, nextAt(), audit(model, 'r2'));
        expect(
          await store.recordIncidentAction(model, other.incidentId, action('late'), audit(model, 'late')),
        ).toBe('conflict');
        expect(
          await store.recordIncidentAction(model, `${alarm}@${nextAt()}`, action('x'), audit(model, 'x')),
        ).toBe('conflict');
        expect(await store.recordIncidentAction(model, 'malformed', action('x'), audit(model, 'y'))).toBe(
          'conflict',
        );
        expect((await store.getIncident(model, other.incidentId))!.action).toBeUndefined();
        expect((await store.listAudit(model)).map((a) => a.eventId)).not.toEqual(
          expect.arrayContaining(['late', 'x', 'y']),
        );
      });

      it('replaces an action with its outcome only while it is the one expected, once under duplicates', async () => {
        const model = uniqueModel('outcome');
        const record = incident(model, `mlops-${model}-feature-drift`, nextAt());
        await store.openIncident(record, audit(model, 'o'));
        const claim: IncidentAction = {
          kind: 'retrain',
          status: 'started',
          at: nextAt(),
          detail: 'retraining from ds',
        };
        expect(await store.recordIncidentAction(model, record.incidentId, claim, audit(model, 'claim'))).toBe(
          'recorded',
        );
        // Resolved meanwhile: the outcome is still recorded.
        await store.resolveIncident(model, record.alarmName, nextAt(), audit(model, 'r'));

        const outcome: IncidentAction = { ...claim, version: 2, detail: 'v2 training' };
        const results = await Promise.all(
          [1, 2].map(() =>
            store.recordIncidentAction(model, record.incidentId, outcome, audit(model, 'outcome'), {
              expected: claim,
            }),
          ),
        );
        expect(results.sort()).toEqual(['conflict', 'recorded']);
        expect((await store.getIncident(model, record.incidentId))!.action).toEqual(outcome);
        // Expecting something else (the claim again, or another detail) changes nothing.
        const failed: IncidentAction = { ...claim, status: 'failed', detail: 'refused' };
        expect(
          await store.recordIncidentAction(model, record.incidentId, failed, audit(model, 'f'), {
            expected: claim,
          }),
        ).toBe('conflict');
        expect(
          await store.recordIncidentAction(model, record.incidentId, failed, audit(model, 'f2'), {
            expected: { ...outcome, version: 3 },
          }),
        ).toBe('conflict');
        expect((await store.getIncident(model, record.incidentId))!.action).toEqual(outcome);
        expect((await store.listAudit(model)).filter((a) => a.eventId === 'outcome')).toHaveLength(1);
      });

      it('holds one automatic action per model during the cool-down, even for incidents at once', async () => {
        const model = uniqueModel('cool');
        await store.saveModelConfig(model, defaultModelConfig(), nextAt());
        const records = ['error-rate', 'latency-anomaly', 'feature-drift'].map((alarm) =>
          incident(model, `mlops-${model}-${alarm}`, nextAt()),
        );
        for (const record of records) await store.openIncident(record, audit(model, `o-${record.alarmName}`));
        const since = nextAt();
        const claims = records.map((record): IncidentAction => ({
          kind: 'rollback',
          status: 'started',
          at: nextAt(),
          detail: record.alarmName,
        }));

        const results = await Promise.all(
          records.map((record, i) =>
            store.recordIncidentAction(
              model,
              record.incidentId,
              claims[i]!,
              { ...audit(model, `claim-${i}`), notification: notice(model, 'incident-opened') },
              { cooldownSince: since },
            ),
          ),
        );
        expect(results.filter((r) => r === 'recorded')).toHaveLength(1);
        expect(results.filter((r) => r === 'cooling-down')).toHaveLength(2);
        const winner = results.indexOf('recorded');
        expect((await store.getModel(model))?.lastAutomaticActionAt).toBe(claims[winner]!.at);
        const actions = await Promise.all(
          records.map(async (r) => (await store.getIncident(model, r.incidentId))!.action),
        );
        expect(actions.filter((a) => a !== undefined)).toEqual([claims[winner]]);
        expect(await store.listPendingNotifications(model)).toHaveLength(1);

        // The cool-down over (the claim is not later than `cooldownSince`): the next one is taken.
        const loser = results.indexOf('cooling-down');
        const later: IncidentAction = { ...claims[loser]!, at: nextAt() };
        expect(
          await store.recordIncidentAction(model, records[loser]!.incidentId, later, audit(model, 'later'), {
            cooldownSince: claims[winner]!.at,
          }),
        ).toBe('recorded');
        expect((await store.getModel(model))?.lastAutomaticActionAt).toBe(later.at);
        // A model never seen has no claim to take: nothing is created.
        const ghost = uniqueModel('ghost');
        const ghostIncident = incident(ghost, `mlops-${ghost}-error-rate`, nextAt());
        await store.openIncident(ghostIncident, audit(ghost, 'o'));
        expect(
          await store.recordIncidentAction(ghost, ghostIncident.incidentId, later, audit(ghost, 'c'), {
            cooldownSince: since,
          }),
        ).toBe('cooling-down');
        expect(await store.getModel(ghost)).toBeUndefined();
      });

      it('re-approves a version that served (ARCHIVED -> APPROVED), removing what its last rollout left', async () => {
        const { model, version } = await versionIn(store, 'reapprove', 'DEPLOYING');
        const steps: TransitionRequest[] = [
          transition(model, version, ['DEPLOYING'], 'DEPLOYING', { rolloutRequestedAt: nextAt() }),
          transition(model, version, ['DEPLOYING'], 'PRODUCTION'),
          transition(model, version, ['PRODUCTION'], 'ARCHIVED'),
        ];
        for (const step of steps) expect(await store.transitionVersion(step)).toBe(true);
        expect(await store.getVersion(model, version)).toHaveProperty('rolloutRequestedAt');
        const request = {
          ...transition(model, version, ['ARCHIVED'], 'APPROVED', {
            origin: { kind: 'rollback' as const, by: 'alice', reason: 'bad v2' },
          }),
          remove: ['rolloutRequestedAt', 'failureReason'] as const,
        };
        expect(await store.transitionVersion(request)).toBe(true);
        const record = await store.getVersion(model, version);
        expect(record).toMatchObject({ status: 'APPROVED', origin: { kind: 'rollback', by: 'alice' } });
        expect(record).not.toHaveProperty('rolloutRequestedAt');
        expect(await store.transitionVersion(request)).toBe(false);
      });

      it('removes attributes with a transition, and sets one both set and removed', async () => {
        const { model, version } = await versionIn(store, 'remove', 'DEPLOYING');
        const at = nextAt();
        expect(
          await store.transitionVersion(
            transition(model, version, ['DEPLOYING'], 'DEPLOYING', {
              rolloutRequestedAt: at,
              failureReason: 'x',
            }),
          ),
        ).toBe(true);
        expect(
          await store.transitionVersion({
            ...transition(model, version, ['DEPLOYING'], 'DEPLOYING', { failureReason: 'kept' }),
            remove: ['rolloutRequestedAt', 'failureReason'],
          }),
        ).toBe(true);
        const record = await store.getVersion(model, version);
        expect(record).not.toHaveProperty('rolloutRequestedAt');
        expect(record?.failureReason).toBe('kept');
      });
    });

    describe('records are copies', () => {
      it('a caller changing a record it read, or one it wrote, does not change the store', async () => {
        const model = uniqueModel('copy');
        const request = newVersion(model, 'ds');
        const built = (await store.registerDatasetAndVersion(request)).version!;
        (built.hyperparameters as Record<string, string>).num_round = 'changed by the caller';
        (request.dataset as { sourceUri: string }).sourceUri = 'changed by the caller';

        const read = (await store.getVersion(model, 1))!;
        (read.hyperparameters as Record<string, string>).num_round = 'changed too';
        (read as { status: string }).status = 'PRODUCTION';
        const listed = await store.listVersions(model);
        (listed[0]!.hyperparameters as Record<string, string>).extra = 'x';

        expect(await store.getVersion(model, 1)).toMatchObject({
          status: 'TRAINING',
          hyperparameters: { num_round: '10' },
        });
        expect((await store.getVersion(model, 1))!.hyperparameters).toEqual({ num_round: '10' });
        expect((await store.getDataset(model, 'ds'))!.sourceUri).toBe(`s3://data/datasets/${model}/ds.csv`);

        const config = defaultModelConfig();
        await store.saveModelConfig(model, config, nextAt());
        const before = structuredClone((await store.getModel(model))!.config);
        (config.training as { instanceCount: number }).instanceCount = 7;
        expect((await store.getModel(model))!.config).toEqual(before);
      });
    });
  });
}
