/**
 * Hostile inputs ingest once lost (issue 16, items 4 to 6), on the in-memory registry, whose store
 * refuses an item over DynamoDB's 400 KB as DynamoDB does: a permanent fault is a recorded
 * rejection (never a transient error retried into the dead-letter queue), names starting with `_`
 * or `.` are skipped by ingest and the reconciler alike, and every refused upload keeps its own
 * rejection record. The same cases through the real handler on DynamoDB Local and an S3 server are
 * in test/hostile/ingest.test.ts.
 */
import { describe, expect, it } from 'vitest';
import {
  legacyRejectedKeyIdOf,
  rejectedKeyRecordOf,
  skippedDatasetObject,
} from '../../../core/domain/dataset-ids';
import { REGISTRY_ITEM_BUDGET } from '../../../core/domain/registry';
import { parseModelConfig } from '../../../core/domain/model-config';
import type { EventRedelivery, RedeliveredObject } from '../../../core/ports/event-redelivery';
import type { InventoryObject, ObjectInventory } from '../../../core/ports/object-inventory';
import { IngestDataset, type ObjectCreated } from '../../../core/use-cases/ingest-dataset';
import { datasetIdentity, Reconcile } from '../../../core/use-cases/reconcile';
import { startTraining } from '../../../core/use-cases/training-start';
import {
  churnCsv,
  MEMORY_BUCKET as BUCKET,
  useMemoryContext,
  type MemoryContext,
} from '../../support/memory-context';
import { stringMatching } from '../../support/matchers';

function ingest(m: MemoryContext, object: ObjectCreated) {
  return new IngestDataset(m).execute(object);
}

/** A CSV of `columns` columns (the last one the 0/1 `label`) and `rows` rows of numbers. */
function wideCsv(columns: number, rows: number, shift = 0): string {
  const header = [...Array.from({ length: columns - 1 }, (_, i) => `feature_${i}`), 'label'].join(',');
  const lines = [header];
  for (let r = 0; r < rows; r++) {
    const fields = Array.from({ length: columns - 1 }, (_, i) => shift + ((r * 31 + i * 7) % 97) / 10);
    lines.push([...fields, r % 2].join(','));
  }
  return `${lines.join('\n')}\n`;
}

describe('a dataset too wide for one registry item (10,000 columns)', () => {
  const memory = useMemoryContext();

  it('is recorded on its first delivery, with the first column summaries, their count and the full report', async () => {
    const m = memory();
    const upload = await m.upload('datasets/wide/data.csv', wideCsv(10_000, 40));

    const outcome = await ingest(m, upload);

    expect(outcome).toMatchObject({ kind: 'training', model: 'wide', version: 1 });
    const datasetId = outcome.kind === 'training' ? outcome.datasetId : '';
    const dataset = (await m.registry.getDataset('wide', datasetId))!;
    expect(dataset).toMatchObject({ status: 'ACCEPTED', version: 1 });
    const profile = dataset.profile!;
    expect(profile.rows).toBe(40);
    expect(profile.columns.length).toBeGreaterThan(100);
    expect(profile.columns.length).toBeLessThan(10_000);
    expect(profile.columns[0]).toMatchObject({ name: 'feature_0', type: 'numeric' });
    const statistics = `s3://${BUCKET}/reports/wide/${datasetId}/statistics.json`;
    expect(profile.omittedColumns).toEqual({
      total: 10_000,
      omitted: 10_000 - profile.columns.length,
      statistics,
    });
    // The report the pointer names describes every column.
    const report = JSON.parse(m.text(`reports/wide/${datasetId}/statistics.json`)!) as {
      features: unknown[];
    };
    expect(report.features).toHaveLength(10_000);
    expect(JSON.stringify(profile.columns).length).toBeLessThanOrEqual(
      REGISTRY_ITEM_BUDGET.columnSummaryBytes,
    );
    expect(m.trainingRequests()).toHaveLength(1);
  });

  it('drifting in every column against a wide baseline: the drift, the names and the sentences fit too', async () => {
    const m = memory();
    await m.putModelConfig('wide', { dataQuality: { blockOnDrift: true } });
    expect(await ingest(m, await m.upload('datasets/wide/a.csv', wideCsv(4_000, 40)))).toMatchObject({
      kind: 'training',
    });

    const outcome = await ingest(m, await m.upload('datasets/wide/b.csv', wideCsv(4_000, 40, 1_000)));

    expect(outcome).toMatchObject({ kind: 'rejected', model: 'wide', code: 'DATA_DRIFT' });
    const datasetId = outcome.kind === 'rejected' ? outcome.datasetId : '';
    const dataset = (await m.registry.getDataset('wide', datasetId))!;
    const quality = dataset.dataQuality!;
    expect(quality.decision).toBe('rejected');
    expect(quality.drift.length + quality.driftOmitted!).toBe(4_000); // the label too
    expect(quality.driftedColumns.length + quality.driftedColumnsOmitted!).toBe(3_999);
    expect(quality.summary.length).toBeLessThanOrEqual(REGISTRY_ITEM_BUDGET.textChars);
    expect(dataset.rejection!.reason).toMatch(
      /^datasets\/wide\/b\.csv: data quality check .* more characters left out/,
    );
    // The audit line and the notification say the same, cut the same way.
    const [audit] = (await m.registry.listAudit('wide')).filter((a) => a.type === 'DATASET_REJECTED');
    expect(audit!.reason).toBe(dataset.rejection!.reason);
    expect(m.notifications().at(-1)!.message).toContain(dataset.rejection!.reason);
  });
});

describe('a config the training plan refuses (multiclass without num_class)', () => {
  const memory = useMemoryContext();

  const multiclass = (rows: number) =>
    `a,b,label\n${Array.from({ length: rows }, (_, i) => `${i % 7},${(i * 3) % 11},${i % 3}`).join('\n')}\n`;

  it('is a recorded INVALID_CONFIG rejection, not a transient error; a redelivery records nothing twice', async () => {
    const m = memory();
    await m.putModelConfig('species', { problemType: 'multiclass_classification' });
    const upload = await m.upload('datasets/species/data.csv', multiclass(90));

    const outcome = await ingest(m, upload);
    const again = await ingest(m, upload);

    const reason =
      /models\/species\/config\.json is invalid: hyperparameters\.num_class: a multiclass_classification model needs "num_class"/;
    expect(outcome).toMatchObject({
      kind: 'rejected',
      code: 'INVALID_CONFIG',
      reason: stringMatching(reason),
    });
    expect(again).toMatchObject({ kind: 'duplicate' });
    const datasetId = outcome.kind === 'rejected' ? outcome.datasetId : '';
    expect(await m.registry.getDataset('species', datasetId)).toMatchObject({
      status: 'REJECTED',
      rejection: { code: 'INVALID_CONFIG', reason: stringMatching(reason) },
    });
    expect((await m.registry.getModel('species'))?.lastRejection).toMatchObject({
      code: 'INVALID_CONFIG',
      source: 'models/species/config.json',
    });
    expect(await m.registry.listVersions('species')).toEqual([]);
    expect(m.trainingRequests()).toEqual([]);
    expect(m.notifications().map((n) => n.kind)).toEqual(['dataset-rejected']);
  });

  it('with num_class it trains', async () => {
    const m = memory();
    await m.putModelConfig('species', {
      problemType: 'multiclass_classification',
      hyperparameters: { num_class: 3 },
    });
    const outcome = await ingest(m, await m.upload('datasets/species/data.csv', multiclass(90)));
    expect(outcome).toMatchObject({ kind: 'training', version: 1 });
  });

  it('a version whose config lost num_class since it was registered ends FAILED when its start is retried', async () => {
    const m = memory();
    await m.putModelConfig('species', {
      problemType: 'multiclass_classification',
      hyperparameters: { num_class: 3 },
    });
    const upload = await m.upload('datasets/species/data.csv', multiclass(90));
    // Registered, but the job never started (SageMaker throttled it): the version waits in TRAINING.
    m.aws.createTrainingJobFaults.push(
      Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $fault: 'client' }),
    );
    await expect(ingest(m, upload)).rejects.toThrow();
    const [version] = await m.registry.listVersions('species');
    const dataset = (await m.registry.getDataset('species', version!.datasetId))!;
    const parsed = parseModelConfig(JSON.stringify({ problemType: 'multiclass_classification' }));
    if (!parsed.ok) throw new Error(parsed.problems.join('; '));

    const started = await startTraining(m, version!, dataset, parsed.config, 'ingest');

    expect(started).toEqual({
      kind: 'training-failed',
      reason: stringMatching(
        /cannot start: hyperparameters\.num_class: a multiclass_classification model needs/,
      ),
    });
    expect(await m.registry.getVersion('species', 1)).toMatchObject({ status: 'FAILED' });
  });
});

describe("names starting with '_' or '.' are skipped (the README's rule)", () => {
  const memory = useMemoryContext();

  const skipped = [
    'datasets/m/_tmp.csv',
    'datasets/m/.hidden.csv',
    'datasets/m/.DS_Store',
    'datasets/m/_staging/data.csv',
    'datasets/m/june/.part-0.csv.crc',
    'datasets/m/_tmp/_SUCCESS',
    'datasets/m/.spark-staging/june/_SUCCESS',
    'datasets/.DS_Store',
    'datasets/_scratch/data.csv',
  ];

  it.each(skipped)('%s: no dataset, no rejection, an info line saying why', async (key) => {
    const m = memory();
    const outcome = await ingest(m, await m.upload(key, churnCsv(60).replace('churned', 'label')));

    expect(outcome).toEqual({
      kind: 'ignored',
      why: stringMatching(
        /starts with "[_.]": files and folders whose name starts with "_" or "\." are skipped/,
      ),
    });
    const model = key.split('/')[1]!;
    expect(await m.registry.listDatasets(model)).toEqual([]);
    expect(await m.registry.listAudit(model)).toEqual([]);
    expect(m.trainingRequests()).toEqual([]);
    expect(m.notifications()).toEqual([]);
    expect(m.log.entries).toContainEqual({
      level: 'info',
      message: 'object skipped',
      extra: [{ key, why: outcome.kind === 'ignored' ? outcome.why : '' }],
    });
  });

  it('a folder dataset still starts on its _SUCCESS marker, and its hidden parts are not read', async () => {
    const m = memory();
    const [header, ...rows] = churnCsv(120).replace('churned', 'label').trim().split('\n');
    await m.upload('datasets/m/june/part-0.csv', `${header}\n${rows.join('\n')}\n`);
    await m.upload('datasets/m/june/_tmp/part-9.csv', 'garbage,"\n');
    await m.upload('datasets/m/june/.part-0.csv.crc', 'garbage');
    const outcome = await ingest(m, await m.upload('datasets/m/june/_SUCCESS', ''));
    expect(outcome).toMatchObject({ kind: 'training', model: 'm' });
    const datasetId = outcome.kind === 'training' ? outcome.datasetId : '';
    expect((await m.registry.getDataset('m', datasetId))!.profile!.rows).toBe(120);
  });

  it('the reconciler skips exactly what ingest skips (one predicate), and re-delivers nothing of it', async () => {
    const m = memory();
    const keys = [...skipped, 'datasets/m/ok.csv', 'datasets/m/june/_SUCCESS'];
    for (const key of keys)
      expect(datasetIdentity(BUCKET, object(key)) === undefined).toBe(
        skippedDatasetObject(key) !== undefined,
      );
    expect(keys.filter((key) => skippedDatasetObject(key) === undefined)).toEqual([
      'datasets/m/ok.csv',
      'datasets/m/june/_SUCCESS',
    ]);

    for (const key of keys) await m.upload(key, 'x,label\n1,0\n');
    expect((await reconcileUploads(m)).sort()).toEqual(['datasets/m/june/_SUCCESS', 'datasets/m/ok.csv']);
  });
});

describe('every refused upload keeps its own rejection record', () => {
  const memory = useMemoryContext();

  it('600 refused uploads under one bad model name: 600 records, 600 audit lines, 600 notifications', async () => {
    const m = memory();
    const outcomes = [];
    for (let i = 0; i < 600; i++)
      outcomes.push(await ingest(m, await m.upload(`datasets/Bad_Model/upload-${i}.csv`, 'a,label\n1,0\n')));

    expect(outcomes.every((o) => o.kind === 'rejected' && o.code === 'INVALID_MODEL_NAME')).toBe(true);
    expect(await m.registry.listDatasets('Bad_Model')).toHaveLength(600);
    expect(
      (await m.registry.listAudit('Bad_Model')).filter((a) => a.type === 'DATASET_REJECTED'),
    ).toHaveLength(600);
    expect(m.notifications()).toHaveLength(600);
  });

  it('the id is the whole SHA-256 of the key and the version identity: the same for a redelivery, its own for each version', () => {
    const first = { bucket: BUCKET, key: 'datasets/Bad_Model/a.csv', versionId: 'v1', sequencer: '01' };
    expect(rejectedKeyRecordOf(first)).toEqual({
      model: 'Bad_Model',
      datasetId: stringMatching(/^key-[0-9a-f]{64}$/),
    });
    expect(rejectedKeyRecordOf({ ...first })).toEqual(rejectedKeyRecordOf(first));
    // The same key, another version; a version id that reads like another upload's sequencer.
    const ids = new Set(
      [first, { ...first, versionId: 'v2' }, { ...first, versionId: undefined, sequencer: 'v1' }].map(
        (u) => rejectedKeyRecordOf(u).datasetId,
      ),
    );
    expect(ids.size).toBe(3);
  });

  it('an upload refused before the id took the whole hash is found under its old id: not recorded or notified twice', async () => {
    const m = memory();
    const upload = await m.upload('datasets/Bad_Model/old.csv', 'a,label\n1,0\n');
    const { model } = rejectedKeyRecordOf(upload);
    // As the previous ingest recorded it.
    await m.registry.recordRejectedDataset(
      {
        model,
        datasetId: legacyRejectedKeyIdOf(upload),
        sourceUri: `s3://${BUCKET}/${upload.key}`,
        status: 'REJECTED',
        rejection: { code: 'INVALID_MODEL_NAME', reason: 'old' },
        createdAt: m.clock.now().toISOString(),
      },
      {
        model,
        at: m.clock.now().toISOString(),
        eventId: 'old',
        type: 'DATASET_REJECTED',
        actor: 'ingest',
        reason: 'old',
      },
    );

    expect(await ingest(m, upload)).toMatchObject({ kind: 'duplicate', model });
    expect(await m.registry.listDatasets(model)).toHaveLength(1);
    expect(m.notifications()).toEqual([]);

    // The reconciler finds it there too: nothing to re-deliver.
    expect(await reconcileUploads(m)).toEqual([]);
  });
});

/**
 * Runs the reconciler over the memory bucket (every object long settled) and returns the keys it
 * re-delivered to ingest (recorded, not delivered).
 */
async function reconcileUploads(m: MemoryContext): Promise<string[]> {
  const inventory: ObjectInventory = {
    listPage: (bucket, prefix) =>
      Promise.resolve({
        objects: m.objects.keys(bucket, prefix).map((key): InventoryObject => ({
          ...m.objects.peek(bucket, key)!.info,
          lastModified: new Date(0),
        })),
        truncated: false,
      }),
  };
  const delivered: string[] = [];
  const redelivery: EventRedelivery = {
    objectCreated: (o: RedeliveredObject) => Promise.resolve(void delivered.push(o.key)),
    trainingJobStateChange: () => Promise.resolve(),
    endpointStateChange: () => Promise.resolve(),
  };
  const run = await new Reconcile(m, { redelivery, inventory }).execute();
  expect(run.failures).toEqual([]);
  return delivered;
}

function object(key: string): InventoryObject {
  return { key, size: 1, etag: 'e', versionId: 'v', lastModified: new Date(0) };
}
