/**
 * Integration tests of the DynamoDB registry store against Amazon's DynamoDB Local (one JVM for
 * this file). Each test uses its own model names; the fleet (GSI) tests use their own table.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DynamoDBDocumentClient, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import {
  DOCUMENT_CLIENT_CONFIG,
  DynamoDbRegistryStore,
  RegistryStoreError,
  createRegistryStore,
} from '../../../adapters/dynamodb/dynamodb-registry-store';
import { defaultModelConfig } from '../../../core/domain/model-config';
import type {
  AuditEvent,
  DatasetRecord,
  IncidentRecord,
  VersionRecord,
  VersionStatus,
} from '../../../core/domain/registry';
import type { NewVersion, TransitionRequest } from '../../../core/ports/registry-store';
import { createRegistryTable, startDynamoDbLocal, type DynamoDbLocal } from '../../support/dynamodb-local';

const TABLE = 'registry';
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

// ------------------------------------------------------------------ fixtures

let modelCount = 0;
/** A model name no other test uses. */
function uniqueModel(label: string): string {
  modelCount += 1;
  return `${label}-${modelCount}`;
}

let tick = 0;
/** Strictly increasing ISO timestamps. */
function nextAt(): string {
  tick += 1;
  return new Date(Date.UTC(2026, 0, 1) + tick * 1000).toISOString();
}

function dataset(model: string, datasetId: string, overrides: Partial<DatasetRecord> = {}): DatasetRecord {
  return {
    model,
    datasetId,
    sourceUri: `s3://data/datasets/${model}/${datasetId}.csv`,
    contentHash: `hash-${datasetId}`,
    status: 'ACCEPTED',
    profile: {
      rows: 100,
      trainRows: 80,
      validationRows: 20,
      columns: [{ name: 'label', type: 'numeric', missing: 0, min: 0, max: 1 }],
    },
    createdAt: nextAt(),
    ...overrides,
  };
}

function audit(model: string, eventId: string, fields: Partial<AuditEvent> = {}): AuditEvent {
  return { model, at: nextAt(), eventId, type: 'TEST', actor: 'test', reason: 'because', ...fields };
}

function newVersion(model: string, datasetId: string): NewVersion {
  const ds = dataset(model, datasetId);
  return {
    dataset: ds,
    buildVersion: (version) => ({
      model,
      version,
      status: 'TRAINING',
      datasetId,
      trainingJobName: `mlops-${model}-v${version}-abcd`,
      image: 'xgboost:1.7-1',
      hyperparameters: { num_round: '10' },
      objectiveMetric: 'validation:auc',
      metrics: undefined, // undefined fields must be dropped, not rejected
      createdAt: ds.createdAt,
      updatedAt: ds.createdAt,
    }),
    audit: {
      model,
      at: ds.createdAt,
      eventId: `register-${datasetId}`,
      type: 'VERSION_REGISTERED',
      actor: 'ingest',
      to: 'TRAINING',
      reason: 'new dataset',
    },
  };
}

function transition(
  model: string,
  version: number,
  from: VersionStatus[],
  to: VersionStatus,
  set: TransitionRequest['set'] = {},
): TransitionRequest {
  const at = nextAt();
  return {
    model,
    version,
    from,
    to,
    set: { ...set, updatedAt: at },
    audit: {
      model,
      at,
      eventId: `${version}-${from.join('|')}-${to}`,
      type: 'VERSION_TRANSITION',
      actor: 'test',
      version,
      from: from.join('|'),
      to,
      reason: 'test',
    },
  };
}

/** Registers a version and walks it through the machine up to `status`. */
async function versionIn(
  model: string,
  datasetId: string,
  status: 'TRAINING' | 'TRAINED' | 'APPROVED' | 'DEPLOYING',
): Promise<number> {
  const { version } = await store.registerDatasetAndVersion(newVersion(model, datasetId));
  const n = version!.version;
  const path: [VersionStatus, VersionStatus][] = [
    ['TRAINING', 'TRAINED'],
    ['TRAINED', 'APPROVED'],
  ];
  for (const [from, to] of path) {
    if (from === status) return n;
    expect(await store.transitionVersion(transition(model, n, [from], to))).toBe(true);
  }
  if (status === 'DEPLOYING')
    expect(await store.startDeployment(transition(model, n, ['APPROVED'], 'DEPLOYING'))).toBe(true);
  return n;
}

async function statusOf(model: string, version: number): Promise<VersionStatus | undefined> {
  return (await store.getVersion(model, version))?.status;
}

const KEY_ATTRIBUTES = ['PK', 'SK', 'GSI1PK', 'GSI1SK', 'entity'];

// ------------------------------------------------------------------ tests

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
    expect(Object.keys(stored!)).not.toContain('metrics');
    for (const attribute of KEY_ATTRIBUTES) expect(Object.keys(stored!)).not.toContain(attribute);

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

  it('registers the same dataset once when it arrives three times in a row', async () => {
    const model = uniqueModel('dup');
    const results = [];
    for (let i = 0; i < 3; i++) results.push(await store.registerDatasetAndVersion(newVersion(model, 'ds')));

    expect(results.map((r) => r.created)).toEqual([true, false, false]);
    expect(results.map((r) => r.version?.version)).toEqual([1, 1, 1]);
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
    expect(await store.getDataset(model, 'bad')).toMatchObject({
      status: 'REJECTED',
      rejection: { code: 'MISSING_LABEL_COLUMN' },
    });
    expect(await store.listVersions(model)).toEqual([]);
    expect((await store.listAudit(model)).map((a) => a.eventId)).toEqual(['rejected-bad']);
  });

  it('refuses a version record whose number is not the one allocated', async () => {
    const model = uniqueModel('bug');
    const request = newVersion(model, 'ds');
    const wrong: NewVersion = {
      ...request,
      buildVersion: (n) => ({ ...request.buildVersion(n), version: n + 1 }),
    };
    await expect(store.registerDatasetAndVersion(wrong)).rejects.toMatchObject({
      name: 'RegistryStoreError',
      code: 'INVALID_REQUEST',
    });
  });
});

describe('transitionVersion', () => {
  it('applies a transition once, with its fields and one audit line', async () => {
    const model = uniqueModel('tr');
    const n = await versionIn(model, 'ds', 'TRAINING');
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
  });

  it('applies a transition once when duplicates arrive at the same time', async () => {
    const model = uniqueModel('trc');
    const n = await versionIn(model, 'ds', 'TRAINING');
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
    const n = await versionIn(model, 'ds', 'TRAINING');

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
    const n = await versionIn(model, 'ds', 'DEPLOYING');
    const request = transition(model, n, ['DEPLOYING'], 'DEPLOYING', {
      rolloutRequestedAt: '2026-02-01T00:00:00.000Z',
    });
    expect(await store.transitionVersion(request)).toBe(true);
    expect(await store.getVersion(model, n)).toMatchObject({
      status: 'DEPLOYING',
      rolloutRequestedAt: '2026-02-01T00:00:00.000Z',
    });
    expect((await store.listVersionsByStatus('DEPLOYING')).filter((v) => v.model === model)).toHaveLength(1);
  });

  it('returns false for a version that does not exist and does not create it', async () => {
    const model = uniqueModel('ghost');
    expect(await store.transitionVersion(transition(model, 7, ['TRAINING'], 'TRAINED'))).toBe(false);
    expect(await store.getVersion(model, 7)).toBeUndefined();
    expect(await store.listAudit(model)).toEqual([]);
  });
});

describe('deployments', () => {
  it('promotes: the champion moves, the previous one is archived, a second promote is refused', async () => {
    const model = uniqueModel('promo');
    const v1 = await versionIn(model, 'ds1', 'DEPLOYING');
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
    expect(afterFirst).toMatchObject({ champion: v1 });
    expect(afterFirst).not.toHaveProperty('challenger');
    expect(await statusOf(model, v1)).toBe('PRODUCTION');

    const v2 = await versionIn(model, 'ds2', 'DEPLOYING');
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
    expect(trail.find((a) => a.eventId === 'promote-2#archive')).toMatchObject({
      version: v1,
      from: 'PRODUCTION',
      to: 'ARCHIVED',
      type: 'VERSION_ARCHIVED',
    });
  });

  it('refuses a promotion whose previous champion is stale and writes nothing', async () => {
    const model = uniqueModel('stale');
    const v1 = await versionIn(model, 'ds1', 'DEPLOYING');
    expect(await store.promote({ model, version: v1, at: nextAt(), audit: audit(model, 'p1') })).toBe(true);
    const v2 = await versionIn(model, 'ds2', 'DEPLOYING');
    const auditBefore = await store.listAudit(model);

    // The caller believes there is no champion yet.
    expect(await store.promote({ model, version: v2, at: nextAt(), audit: audit(model, 'p2') })).toBe(false);
    expect(await statusOf(model, v2)).toBe('DEPLOYING');
    expect(await store.getModel(model)).toMatchObject({ champion: v1, challenger: v2 });
    expect(await store.listAudit(model)).toHaveLength(auditBefore.length);
  });

  it('ends a failed rollout: challenger cleared, champion kept, once', async () => {
    const model = uniqueModel('fail');
    const v1 = await versionIn(model, 'ds1', 'DEPLOYING');
    expect(await store.promote({ model, version: v1, at: nextAt(), audit: audit(model, 'p1') })).toBe(true);
    const v2 = await versionIn(model, 'ds2', 'DEPLOYING');

    const end = transition(model, v2, ['DEPLOYING'], 'ROLLED_BACK', { failureReason: 'alarm latency' });
    expect(await store.endFailedDeployment(end)).toBe(true);
    expect(await store.endFailedDeployment(end)).toBe(false);

    const record = await store.getModel(model);
    expect(record).toMatchObject({ champion: v1 });
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
    const v1 = await versionIn(model, 'ds1', 'DEPLOYING');
    const v2 = await versionIn(model, 'ds2', 'DEPLOYING');
    expect(await store.getModel(model)).toMatchObject({ challenger: v2 });

    expect(await store.endFailedDeployment(transition(model, v1, ['DEPLOYING'], 'DEPLOY_FAILED'))).toBe(true);
    expect(await statusOf(model, v1)).toBe('DEPLOY_FAILED');
    expect(await store.getModel(model)).toMatchObject({ challenger: v2 });
  });

  it('rejects requests the port does not allow', async () => {
    const model = uniqueModel('inv');
    await expect(
      store.startDeployment(transition(model, 1, ['APPROVED'], 'PRODUCTION')),
    ).rejects.toBeInstanceOf(RegistryStoreError);
    await expect(
      store.endFailedDeployment(transition(model, 1, ['DEPLOYING'], 'PRODUCTION')),
    ).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
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
    await store.recordModelRejection(model, { code: 'INVALID_CONFIG', reason: 'x', source: 's' }, rejection);
    expect(await store.getModel(model)).toMatchObject({ model, versionCounter: 0, createdAt: rejection.at });
    expect(await store.getModel(uniqueModel('never'))).toBeUndefined();
  });
});

describe('incidents', () => {
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
    expect(await store.resolveIncident(model, alarm, nextAt(), audit(model, 'resolve-again'))).toBe(false);

    expect(await store.listIncidents(model)).toEqual([
      { ...incident(model, alarm, openedAt), status: 'RESOLVED', resolvedAt },
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
    expect(await store.openIncident(incident(model, 'a-latency-anomaly', nextAt()), audit(model, 'o1'))).toBe(
      true,
    );
    expect(await store.openIncident(incident(model, 'a-error-rate', nextAt()), audit(model, 'o2'))).toBe(
      true,
    );
    expect(await store.resolveIncident(model, 'a-error-rate', nextAt(), audit(model, 'r2'))).toBe(true);
    expect(
      (await store.listOpenIncidents()).filter((i) => i.model === model).map((i) => i.alarmName),
    ).toEqual(['a-latency-anomaly']);
  });
});

describe('fleet queries and pagination (own table)', () => {
  const table = 'registry-fleet';
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
