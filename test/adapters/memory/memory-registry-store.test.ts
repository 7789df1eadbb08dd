/**
 * The in-memory registry store: the registry store contract (the same suite the DynamoDB store
 * passes on DynamoDB Local), on a fresh store per test, then what is its own: the failure hook and
 * its asynchrony.
 */
import { describe, expect, it } from 'vitest';
import { RegistryStoreError } from '../../../adapters/dynamodb/table-layout';
import { MemoryRegistryStore } from '../../../adapters/memory/memory-registry-store';
import { registryStoreContract } from '../../support/registry-store-contract';
import {
  newVersion,
  notifying,
  transition,
  uniqueModel,
  versionIn,
} from '../../support/registry-store-contract-fixtures';

registryStoreContract('MemoryRegistryStore', () => Promise.resolve({ store: new MemoryRegistryStore() }));

describe('MemoryRegistryStore.failNext', () => {
  it('fails the next call of a method with a DYNAMODB_ERROR before writing, then works again', async () => {
    const store = new MemoryRegistryStore();
    const { model, version } = await versionIn(store, 'fail', 'TRAINING');
    store.failNext('transitionVersion');

    const request = notifying(transition(model, version, ['TRAINING'], 'FAILED'));
    const error = await store.transitionVersion(request).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryStoreError);
    expect(error).toMatchObject({ code: 'DYNAMODB_ERROR', operation: 'transitionVersion' });
    expect((await store.getVersion(model, version))?.status).toBe('TRAINING');
    expect(await store.listPendingNotifications(model)).toEqual([]);

    // Other methods are not affected, and the next call of this one works.
    expect(await store.listAudit(model)).toHaveLength(1);
    expect(await store.transitionVersion(request)).toBe(true);
  });

  it('applies the write and then throws, with `when: after`; failures queue up', async () => {
    const store = new MemoryRegistryStore();
    const { model, version } = await versionIn(store, 'lost', 'TRAINING');
    const lost = new Error('response lost');
    store.failNext('transitionVersion', { error: lost, when: 'after' });
    store.failNext('transitionVersion');

    const request = transition(model, version, ['TRAINING'], 'TRAINED');
    await expect(store.transitionVersion(request)).rejects.toBe(lost);
    expect((await store.getVersion(model, version))?.status).toBe('TRAINED');
    await expect(store.transitionVersion(request)).rejects.toMatchObject({ code: 'DYNAMODB_ERROR' });
    // The retry of the event meets the version moved on: false, as on DynamoDB.
    expect(await store.transitionVersion(request)).toBe(false);
  });

  it('runs no call synchronously, as no network call runs', async () => {
    const store = new MemoryRegistryStore();
    const request = newVersion(uniqueModel('async'), 'ds');
    let built = false;
    const registering = store.registerDatasetAndVersion({
      ...request,
      buildVersion: (n) => ((built = true), request.buildVersion(n)),
    });
    expect(built).toBe(false);
    expect(await registering).toMatchObject({ created: true });
    expect(built).toBe(true);
  });
});
