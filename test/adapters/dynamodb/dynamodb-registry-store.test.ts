/**
 * The DynamoDB registry store's own integration tests, against DynamoDB Local (the run's JVM):
 * what the registry store contract (test/support/registry-store-contract.ts, run on this store by
 * dynamodb-registry-store.contract.test.ts) cannot say: the items as laid out in the table, a
 * registration that loses the race for its version number, Query pagination, SDK errors. Each test
 * uses its own model names; the pagination tests use a table of their own.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DynamoDBDocumentClient, QueryCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import {
  DOCUMENT_CLIENT_CONFIG,
  DynamoDbRegistryStore,
  RegistryStoreError,
  createRegistryStore,
} from '../../../adapters/dynamodb/dynamodb-registry-store';
import type { VersionRecord } from '../../../core/domain/registry';
import { createRegistryTable, startDynamoDbLocal, type DynamoDbLocal } from '../../support/dynamodb-local';
import {
  audit,
  newVersion,
  nextAt,
  notice,
  registeredIn,
  transition,
  uniqueModel,
} from '../../support/registry-store-contract-fixtures';

const TABLE = 'registry-store';
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

const KEY_ATTRIBUTES = ['PK', 'SK', 'GSI1PK', 'GSI1SK', 'entity'];

/** The model's items as stored, by sort key. */
async function items(model: string): Promise<Map<string, Record<string, unknown>>> {
  const page = await local.documentClient.send(
    new QueryCommand({
      TableName: TABLE,
      KeyConditionExpression: 'PK = :pk',
      ExpressionAttributeValues: { ':pk': `MODEL#${model}` },
      ConsistentRead: true,
    }),
  );
  return new Map((page.Items ?? []).map((item) => [item.SK as string, item]));
}

describe('items', () => {
  it('keeps each record under the layout’s keys, with the index keys of the fleet queries', async () => {
    const model = uniqueModel('layout');
    const n = await registeredIn(store, model, 'ds', 'DEPLOYING');
    const openedAt = nextAt();
    const opening = {
      ...audit(model, 'open', { at: openedAt }),
      notification: notice(model, 'incident-opened'),
    };
    expect(
      await store.openIncident(
        { model, alarmName: 'a-error-rate', incidentId: 'i', status: 'OPEN', openedAt, reason: 'errors' },
        opening,
      ),
    ).toBe(true);

    const stored = await items(model);
    const version = (await store.getVersion(model, n))!;
    expect([...stored.keys()].filter((sk) => !sk.startsWith('EVENT#'))).toEqual([
      'DATASET#ds',
      `INCIDENT#a-error-rate#${openedAt}`,
      'MODEL',
      'OPEN_INCIDENT#a-error-rate',
      `OUTBOX#${opening.at}#open`,
      'VERSION#000001',
    ]);
    // Registration, TRAINED, APPROVED, DEPLOYING, the incident.
    expect([...stored.keys()].filter((sk) => sk.startsWith('EVENT#'))).toHaveLength(5);
    expect(stored.get('MODEL')).toMatchObject({ entity: 'MODEL', challenger: n });
    expect(stored.get('DATASET#ds')).toMatchObject({ entity: 'DATASET', version: n });
    expect(stored.get('VERSION#000001')).toMatchObject({
      entity: 'VERSION',
      GSI1PK: 'VERSION_STATUS#DEPLOYING',
      GSI1SK: `${version.updatedAt}#${model}#000001`,
    });
    expect(stored.get(`INCIDENT#a-error-rate#${openedAt}`)).toMatchObject({
      entity: 'INCIDENT',
      GSI1PK: 'INCIDENT_STATUS#OPEN',
      GSI1SK: `${openedAt}#${model}#a-error-rate`,
    });
    expect(stored.get('OPEN_INCIDENT#a-error-rate')).toMatchObject({
      entity: 'OPEN_INCIDENT',
      incidentSk: `INCIDENT#a-error-rate#${openedAt}`,
    });
    expect(stored.get(`OUTBOX#${opening.at}#open`)).toMatchObject({
      entity: 'OUTBOX',
      GSI1PK: 'OUTBOX',
      GSI1SK: `${opening.at}#${model}#open`,
    });
    expect(stored.get(`EVENT#${opening.at}#open`)).not.toHaveProperty('notification');
    // Records are read back without the layout's attributes.
    for (const attribute of KEY_ATTRIBUTES) expect(Object.keys(version)).not.toContain(attribute);

    const resolvedAt = nextAt();
    expect(await store.resolveIncident(model, 'a-error-rate', resolvedAt, audit(model, 'resolve'))).toBe(
      true,
    );
    await store.completeNotification(model, `${opening.at}#open`);
    const after = await items(model);
    expect(after.has('OPEN_INCIDENT#a-error-rate')).toBe(false);
    expect(after.has(`OUTBOX#${opening.at}#open`)).toBe(false); // deleted, not marked
    expect(after.get(`INCIDENT#a-error-rate#${openedAt}`)).toMatchObject({
      GSI1PK: 'INCIDENT_STATUS#RESOLVED',
      GSI1SK: `${resolvedAt}#${model}#a-error-rate`,
    });
  });
});

describe('registerDatasetAndVersion', () => {
  it('retries with a fresh counter when a concurrent registration took the number it read', async () => {
    const model = uniqueModel('race');
    const client = DynamoDBDocumentClient.from(local.client, DOCUMENT_CLIENT_CONFIG);
    const racing = new DynamoDbRegistryStore(client, TABLE);
    const send = client.send.bind(client) as (command: unknown) => Promise<unknown>;
    let transactions = 0;
    vi.spyOn(client, 'send').mockImplementation((async (command: unknown) => {
      if (command instanceof TransactWriteCommand && ++transactions === 1) {
        // Between our read of the counter (0) and our transaction, another writer takes version 1.
        await store.registerDatasetAndVersion(newVersion(model, 'interloper'));
      }
      return send(command);
    }) as never);

    const result = await racing.registerDatasetAndVersion(newVersion(model, 'mine'));

    expect(transactions).toBe(2);
    expect(result).toMatchObject({ created: true, version: { version: 2, datasetId: 'mine' } });
    expect(await store.getDataset(model, 'interloper')).toMatchObject({ version: 1 });
    expect(await store.getModel(model)).toMatchObject({ versionCounter: 2 });
    client.destroy();
  });
});

describe('fleet queries and pagination (own table)', () => {
  const table = 'registry-store-fleet';
  let paged: DynamoDbRegistryStore;

  beforeAll(async () => {
    await createRegistryTable(local.client, table);
    // Pages of 7 items: every list below needs several Query pages.
    paged = createRegistryStore(local.client, table, { pageSize: 7 });
  });

  it('lists versions by status across models through the GSI', async () => {
    const register = (model: string, id: string): Promise<{ version: VersionRecord | undefined }> =>
      paged.registerDatasetAndVersion(newVersion(model, id));
    for (const id of ['1', '2', '3', '4', '5']) await register('alpha', id);
    for (const id of ['1', '2', '3', '4', '5', '6']) await register('beta', id);
    for (const [model, version] of [
      ['alpha', 1],
      ['alpha', 4],
      ['beta', 2],
    ] as const) {
      expect(await paged.transitionVersion(transition(model, version, ['TRAINING'], 'TRAINED'))).toBe(true);
    }

    const training = await paged.listVersionsByStatus('TRAINING');
    expect(training.map((v) => `${v.model}/${v.version}`).sort()).toEqual(
      ['alpha/2', 'alpha/3', 'alpha/5', 'beta/1', 'beta/3', 'beta/4', 'beta/5', 'beta/6'].sort(),
    );
    const trained = await paged.listVersionsByStatus('TRAINED');
    expect(trained.map((v) => `${v.model}/${v.version}`)).toEqual(['alpha/1', 'alpha/4', 'beta/2']); // by updatedAt
    for (const attribute of KEY_ATTRIBUTES) expect(Object.keys(trained[0]!)).not.toContain(attribute);
    expect(await paged.listVersionsByStatus('PRODUCTION')).toEqual([]);
    expect((await paged.listVersions('beta')).map((v) => v.version)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('lists every audit line across pages, oldest first, a duplicate line once', async () => {
    const model = 'gamma';
    const lines = Array.from({ length: 30 }, (_, i) => audit(model, `e${String(i).padStart(2, '0')}`));
    for (const line of lines) await paged.appendAudit(line);
    await paged.appendAudit(lines[3]!);
    await paged.appendAudit({ ...lines[4]!, reason: 'changed' });

    const trail = await paged.listAudit(model);
    expect(trail).toEqual(lines);
  });

  it('lists open incidents across pages', async () => {
    for (let i = 0; i < 16; i++) {
      const model = `m${i}`;
      expect(
        await paged.openIncident(
          {
            model,
            alarmName: `${model}-error-rate`,
            incidentId: `i${i}`,
            status: 'OPEN',
            openedAt: nextAt(),
            reason: 'errors',
          },
          audit(model, `o${i}`),
        ),
      ).toBe(true);
    }
    expect(await paged.resolveIncident('m3', 'm3-error-rate', nextAt(), audit('m3', 'r3'))).toBe(true);
    const open = await paged.listOpenIncidents();
    expect(open).toHaveLength(15);
    expect(open.map((i) => i.model)).not.toContain('m3');
  });
});

describe('errors', () => {
  it('wraps SDK errors with a name and the cause', async () => {
    const broken = new DynamoDbRegistryStore(local.documentClient, 'no-such-table');
    const error = await broken.getModel('x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryStoreError);
    expect(error).toMatchObject({
      name: 'RegistryStoreError',
      code: 'DYNAMODB_ERROR',
      operation: 'getModel',
      cause: { name: 'ResourceNotFoundException' },
    });
    await expect(broken.transitionVersion(transition('x', 1, ['TRAINING'], 'TRAINED'))).rejects.toMatchObject(
      { code: 'DYNAMODB_ERROR' },
    );
  });
});
