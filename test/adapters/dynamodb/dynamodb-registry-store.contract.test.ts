/**
 * The registry store contract (test/support/registry-store-contract.ts) on the DynamoDB store,
 * against DynamoDB Local (the run's JVM), one table for the file shared by every test: the suite
 * the in-memory store passes too (test/adapters/memory/memory-registry-store.test.ts).
 */
import { afterAll, beforeAll } from 'vitest';
import { DynamoDbRegistryStore } from '../../../adapters/dynamodb/dynamodb-registry-store';
import { createRegistryTable, startDynamoDbLocal, type DynamoDbLocal } from '../../support/dynamodb-local';
import { registryStoreContract } from '../../support/registry-store-contract';

const TABLE = 'registry-contract';
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

registryStoreContract('DynamoDbRegistryStore', () => Promise.resolve({ store }));
