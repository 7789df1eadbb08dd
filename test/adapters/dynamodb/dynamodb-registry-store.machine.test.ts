/**
 * The registry store enforces the status machine itself (DynamoDB Local, one JVM for this file):
 * every transition of the table is applied, every other one is refused before anything is written.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbRegistryStore } from '../../../adapters/dynamodb/dynamodb-registry-store';
import {
  ForbiddenTransitionError,
  VERSION_STATUSES,
  VERSION_TRANSITIONS,
  type VersionStatus,
} from '../../../core/domain/registry';
import { createRegistryTable, startDynamoDbLocal, type DynamoDbLocal } from '../../support/dynamodb-local';
import { audit, newVersion, transition, versionIn } from './registry-fixtures';

const TABLE = 'registry-machine';
let local: DynamoDbLocal;
let store: DynamoDbRegistryStore;

beforeAll(async () => {
  local = await startDynamoDbLocal();
  await createRegistryTable(local.client, TABLE);
  store = new DynamoDbRegistryStore(local.documentClient, TABLE);
});

afterAll(async () => {
  await local?.stop();
});

/** The version's status and the length of its model's audit trail: what a refused write must not change. */
async function snapshot(model: string, version: number) {
  return {
    version: await store.getVersion(model, version),
    model: await store.getModel(model),
    audit: (await store.listAudit(model)).length,
  };
}

describe('the store enforces the status machine', () => {
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
      .transitionVersion(transition(model, version, ['PRODUCTION'], 'TRAINING'))
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

  it('refuses every transition the table does not list, whatever the version is in', async () => {
    for (const from of VERSION_STATUSES) {
      const { model, version } = await versionIn(store, 'all', from);
      const before = await snapshot(model, version);
      for (const to of VERSION_STATUSES) {
        if (VERSION_TRANSITIONS[from].includes(to)) continue;
        await expect(
          store.transitionVersion(transition(model, version, [from], to)),
          `${from} -> ${to}`,
        ).rejects.toBeInstanceOf(ForbiddenTransitionError);
      }
      expect(await snapshot(model, version)).toEqual(before);
    }
  });

  it('still answers false (no error) to a duplicate or late event: the version moved on', async () => {
    // What the use cases rely on for "already processed": a legal request whose `from` is stale.
    const { model, version } = await versionIn(store, 'late', 'TRAINING');
    const failed = transition(model, version, ['TRAINING'], 'FAILED', { failureReason: 'AlgorithmError' });
    expect(await store.transitionVersion(failed)).toBe(true);
    expect(await store.transitionVersion(transition(model, version, ['TRAINING'], 'FAILED'))).toBe(false);
    expect(await store.transitionVersion(transition(model, version, ['TRAINING'], 'TRAINED'))).toBe(false);
    expect((await store.getVersion(model, version))?.status).toBe('FAILED');
  });

  it('promote still archives the previous champion (PRODUCTION -> ARCHIVED)', async () => {
    const first = await versionIn(store, 'champ', 'DEPLOYING');
    const { model } = first;
    const at = audit(model, 'p1').at;
    expect(await store.promote({ model, version: first.version, at, audit: audit(model, 'p1') })).toBe(true);
    // A second version of the same model, through the rollout lock.
    const second = (await store.registerDatasetAndVersion(newVersion(model, 'ds2'))).version!.version;
    for (const [from, to] of [
      ['TRAINING', 'TRAINED'],
      ['TRAINED', 'APPROVED'],
    ] as [VersionStatus, VersionStatus][])
      expect(await store.transitionVersion(transition(model, second, [from], to))).toBe(true);
    expect(await store.startDeployment(transition(model, second, ['APPROVED'], 'DEPLOYING'))).toBe(true);
    expect(
      await store.promote({
        model,
        version: second,
        previousChampion: first.version,
        at: audit(model, 'x').at,
        audit: audit(model, 'p2'),
      }),
    ).toBe(true);
    expect((await store.getVersion(model, first.version))?.status).toBe('ARCHIVED');
    expect((await store.getVersion(model, second))?.status).toBe('PRODUCTION');
  });
});
