/**
 * IngestDataset on the in-memory registry and bucket (test/support/memory-context.ts), with the
 * real SageMaker and SNS adapters answered by FakeAws: the behaviours test/lambdas/ingest/handler.test.ts
 * shows through the handler, at the use case, in milliseconds. An upload becomes a dataset, a version
 * in TRAINING and one CreateTrainingJob request however often its event comes; bad input is recorded
 * with its reason and starts nothing; a fault before or after a registry write is thrown, and the
 * retried event finishes the work without doing any of it twice.
 */
import { SageMakerServiceException } from '@aws-sdk/client-sagemaker';
import { describe, expect, it } from 'vitest';
import { RegistryStoreError } from '../../../adapters/dynamodb/table-layout';
import { rejectedKeyRecordOf } from '../../../core/domain/dataset-ids';
import { NotificationNotSent } from '../../../core/ports/monitoring';
import { IngestDataset, type ObjectCreated } from '../../../core/use-cases/ingest-dataset';
import { NOTIFICATION_LEASE_MS } from '../../../core/use-cases/notification-outbox';
import {
  churnCsv,
  MEMORY_BUCKET as BUCKET,
  ROLE_ARN,
  useMemoryContext,
  type MemoryContext,
} from '../../support/memory-context';
import { stringContaining, stringMatching } from '../../support/matchers';

const CONFIG = { labelColumn: 'churned' };

function ingest(m: MemoryContext, object: ObjectCreated) {
  return new IngestDataset(m).execute(object);
}

async function auditOf(m: MemoryContext, model: string, type: string) {
  return (await m.registry.listAudit(model)).filter((a) => a.type === type);
}

/** A CSV whose label column is `label` (the default config's). */
function labelled(rows: number, seed = 1): string {
  return churnCsv(rows, seed).replace('churned', 'label');
}

function sageMakerError(name: string, message: string): SageMakerServiceException {
  return new SageMakerServiceException({ name, $fault: 'client', message, $metadata: {} });
}

describe('IngestDataset: an accepted upload', () => {
  const memory = useMemoryContext();

  it('prepares the data, registers dataset and version 1 (TRAINING) and requests one training job', async () => {
    const m = memory();
    await m.putModelConfig('churn', CONFIG);
    const upload = await m.upload('datasets/churn/customers.csv', churnCsv(500));

    const outcome = await ingest(m, upload);

    const [version, ...others] = await m.registry.listVersions('churn');
    expect(others).toEqual([]);
    expect(version).toMatchObject({
      version: 1,
      status: 'TRAINING',
      objectiveMetric: 'validation:auc',
      trainingJobName: m.names.trainingJob('churn', 1, version!.datasetId),
    });
    expect(outcome).toEqual({
      kind: 'training',
      model: 'churn',
      datasetId: version!.datasetId,
      version: 1,
      jobName: version!.trainingJobName,
    });
    expect(version!.datasetId).toMatch(/^customers-[0-9a-f]{10}$/);

    const dataset = await m.registry.getDataset('churn', version!.datasetId);
    expect(dataset).toMatchObject({
      status: 'ACCEPTED',
      version: 1,
      sourceUri: `s3://${BUCKET}/datasets/churn/customers.csv`,
      sourceVersionId: upload.versionId,
      sourceEtag: upload.etag,
      createdAt: '2026-11-26T10:00:00.000Z',
      preparedTrainUri: `s3://${BUCKET}/prepared/churn/${version!.datasetId}/train/train.csv`,
      preparedValidationUri: `s3://${BUCKET}/prepared/churn/${version!.datasetId}/validation/validation.csv`,
    });
    expect(dataset!.profile!.rows).toBe(500);
    expect(dataset!.profile!.trainRows + dataset!.profile!.validationRows).toBe(500);
    expect(dataset!.contentHash).toMatch(/^[0-9a-f]{64}$/);

    // The one request SageMaker received, exactly.
    expect(m.trainingRequests()).toEqual([
      {
        TrainingJobName: version!.trainingJobName,
        RoleArn: ROLE_ARN,
        AlgorithmSpecification: {
          TrainingImage: '683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1',
          TrainingInputMode: 'File',
        },
        HyperParameters: { objective: 'binary:logistic', eval_metric: 'auc', num_round: '100' },
        InputDataConfig: ['train', 'validation'].map((channel) => ({
          ChannelName: channel,
          ContentType: 'text/csv',
          CompressionType: 'None',
          DataSource: {
            S3DataSource: {
              S3DataType: 'S3Prefix',
              S3Uri: `s3://${BUCKET}/prepared/churn/${version!.datasetId}/${channel}/`,
              S3DataDistributionType: 'FullyReplicated',
            },
          },
        })),
        OutputDataConfig: { S3OutputPath: `s3://${BUCKET}/artifacts/churn/` },
        ResourceConfig: { InstanceType: 'ml.m5.large', InstanceCount: 1, VolumeSizeInGB: 10 },
        StoppingCondition: { MaxRuntimeInSeconds: 3600 },
        EnableManagedSpotTraining: false,
        Tags: expect.arrayContaining<unknown>([
          { Key: 'mlops:model', Value: 'churn' },
          { Key: 'mlops:version', Value: '1' },
          { Key: 'mlops:dataset', Value: version!.datasetId },
        ]) as unknown,
      },
    ]);
    expect(m.trainingJobs()).toEqual([version!.trainingJobName]);

    // The prepared channels: XGBoost CSV, label first, no header, every row once.
    const prefix = `prepared/churn/${version!.datasetId}`;
    const train = m.text(`${prefix}/train/train.csv`)!.trim().split('\n');
    const validation = m.text(`${prefix}/validation/validation.csv`)!.trim().split('\n');
    expect(train).toHaveLength(dataset!.profile!.trainRows);
    expect(validation).toHaveLength(dataset!.profile!.validationRows);
    expect(validation.length).toBeGreaterThan(50);
    for (const line of [...train, ...validation]) expect(line).toMatch(/^[01],\d+,[\d.]+,\d+$/);
    expect(JSON.parse(m.text(`${prefix}/schema.json`)!)).toEqual({
      label: 'churned',
      features: ['tenure', 'monthly_charges', 'support_calls'],
    });
    // The data-quality reports, and this first dataset as the model's baseline.
    expect(m.objects.keys(BUCKET, `reports/churn/${version!.datasetId}/`)).toEqual([
      `reports/churn/${version!.datasetId}/constraints.json`,
      `reports/churn/${version!.datasetId}/statistics.json`,
    ]);
    const model = await m.registry.getModel('churn');
    expect(model).toMatchObject({
      baselineDatasetId: version!.datasetId,
      config: { labelColumn: 'churned' },
    });

    expect(await auditOf(m, 'churn', 'VERSION_CREATED')).toEqual([
      expect.objectContaining({ actor: 'ingest', version: 1, to: 'TRAINING' }),
    ]);
    // The raw upload is untouched, and nobody was notified.
    expect(m.text('datasets/churn/customers.csv')).toBe(churnCsv(500));
    expect(m.notifications()).toEqual([]);
  });

  it('reads the version the event names, not a later upload of the same key', async () => {
    const m = memory();
    const first = await m.upload('datasets/fraud/day.csv', labelled(120, 1));
    await m.upload('datasets/fraud/day.csv', labelled(300, 2));
    await ingest(m, first);
    const [version] = await m.registry.listVersions('fraud');
    const dataset = await m.registry.getDataset('fraud', version!.datasetId);
    expect(dataset!.profile!.rows).toBe(120);
    expect(dataset!.sourceVersionId).toBe(first.versionId);
  });

  it('still reads an upload deleted since, by its version id', async () => {
    const m = memory();
    const upload = await m.upload('datasets/fraud/day.csv', labelled(100));
    await m.objects.delete(BUCKET, 'datasets/fraud/day.csv');
    expect(await ingest(m, upload)).toMatchObject({ kind: 'training' });
  });

  it('gives a new upload of the same file name a new version and its own job', async () => {
    const m = memory();
    await ingest(m, await m.upload('datasets/renewals/data.csv', labelled(120, 1)));
    await ingest(m, await m.upload('datasets/renewals/data.csv', labelled(120, 2)));
    const versions = await m.registry.listVersions('renewals');
    expect(versions.map((v) => [v.version, v.status])).toEqual([
      [1, 'TRAINING'],
      [2, 'TRAINING'],
    ]);
    expect(new Set(versions.map((v) => v.datasetId)).size).toBe(2);
    expect(m.trainingJobs()).toEqual(versions.map((v) => v.trainingJobName));
  });

  it('uses the model config: label column, problem type, hyperparameters, spot', async () => {
    const m = memory();
    await m.putModelConfig('prices', {
      labelColumn: 'price',
      problemType: 'regression',
      hyperparameters: { max_depth: 4, num_round: 50 },
      training: { instanceType: 'ml.m5.xlarge', spot: true, maxRuntimeSeconds: 1800, maxWaitSeconds: 3600 },
    });
    const csv =
      'rooms,area,price\n' +
      Array.from({ length: 60 }, (_, i) => `${i % 5},${50 + i},${100 + i * 3.5}`).join('\n');
    await ingest(m, await m.upload('datasets/prices/houses.csv', csv));
    expect(m.trainingRequests()).toEqual([
      expect.objectContaining({
        HyperParameters: {
          objective: 'reg:squarederror',
          eval_metric: 'rmse',
          num_round: '50',
          max_depth: '4',
        },
        ResourceConfig: { InstanceType: 'ml.m5.xlarge', InstanceCount: 1, VolumeSizeInGB: 10 },
        StoppingCondition: { MaxRuntimeInSeconds: 1800, MaxWaitTimeInSeconds: 3600 },
        EnableManagedSpotTraining: true,
      }),
    ]);
    const [version] = await m.registry.listVersions('prices');
    expect(version).toMatchObject({ objectiveMetric: 'validation:rmse', status: 'TRAINING' });
  });

  it("merges the model's config over the stack's defaults, and uses the defaults alone without a file", async () => {
    const m = memory();
    const ctx = m.with({
      defaultModelConfig: { labelColumn: 'churned', training: { instanceType: 'ml.c5.xlarge' } },
    });
    await new IngestDataset(ctx).execute(await m.upload('datasets/plain/a.csv', churnCsv(80)));
    await m.putModelConfig('spot', { training: { spot: true } });
    await new IngestDataset(ctx).execute(await m.upload('datasets/spot/a.csv', churnCsv(80)));
    expect(
      m.trainingRequests().map((r) => [r.ResourceConfig!.InstanceType, r.EnableManagedSpotTraining]),
    ).toEqual([
      ['ml.c5.xlarge', false],
      ['ml.c5.xlarge', true],
    ]);
  });

  it('finds an upload whose event carries its key URL-encoded', async () => {
    const m = memory();
    const upload = await m.upload('datasets/churn/my customers.csv', labelled(90));
    const outcome = await ingest(m, { ...upload, key: 'datasets/churn/my+customers.csv' });
    expect(outcome).toMatchObject({ kind: 'training', version: 1 });
    const [version] = await m.registry.listVersions('churn');
    expect((await m.registry.getDataset('churn', version!.datasetId))!.profile!.rows).toBe(90);
  });

  it('starts a folder dataset only on its _SUCCESS marker, reading its parts in key order', async () => {
    const m = memory();
    const lines = labelled(300).trimEnd().split('\n');
    const header = lines[0]!;
    const partA = await m.upload(
      'datasets/upsell/2026-11-26/part-00000.csv',
      [header, ...lines.slice(1, 150)].join('\n') + '\n',
    );
    await m.upload('datasets/upsell/2026-11-26/part-00001.csv', [header, ...lines.slice(150)].join('\n'));
    // Spark's side files are not data.
    await m.upload('datasets/upsell/2026-11-26/_committed_123', 'x');
    await m.upload('datasets/upsell/2026-11-26/.part-00000.csv.crc', 'x');

    expect(await ingest(m, partA)).toMatchObject({ kind: 'ignored' });
    expect(await m.registry.listVersions('upsell')).toEqual([]);
    expect(m.objects.keys(BUCKET, 'prepared/')).toEqual([]);

    const marker = await m.upload('datasets/upsell/2026-11-26/_SUCCESS', '');
    expect(await ingest(m, marker)).toMatchObject({ kind: 'training', version: 1 });
    const [version] = await m.registry.listVersions('upsell');
    const dataset = await m.registry.getDataset('upsell', version!.datasetId);
    expect(dataset).toMatchObject({ sourceUri: `s3://${BUCKET}/datasets/upsell/2026-11-26/` });
    expect(dataset!.profile!.rows).toBe(300);
    expect(version!.datasetId).toMatch(/^2026-11-26-[0-9a-f]{10}$/);
    // Part 0's rows come before part 1's in each channel: label first, in the source's order.
    const source = lines.slice(1).map((line) => {
      const [tenure, charges, calls, label] = line.split(',');
      return [label, tenure, charges, calls].join(',');
    });
    for (const channel of ['train', 'validation']) {
      const prepared = m
        .text(`prepared/upsell/${version!.datasetId}/${channel}/${channel}.csv`)!
        .trim()
        .split('\n');
      let at = -1;
      for (const line of prepared) {
        const next = source.indexOf(line, at + 1);
        expect(next, `${channel}: "${line}" after source row ${at}`).toBeGreaterThan(at);
        at = next;
      }
    }
  });

  it('ignores folder placeholders and stray markers without writing anything', async () => {
    const m = memory();
    for (const key of ['datasets/churn/', 'datasets/churn/_SUCCESS']) {
      expect(await ingest(m, await m.upload(key, ''))).toMatchObject({ kind: 'ignored' });
    }
    expect(await m.registry.getModel('churn')).toBeUndefined();
    expect(await m.registry.listAudit('churn')).toEqual([]);
    expect(m.trainingRequests()).toEqual([]);
  });
});

describe('IngestDataset: the same event more than once', () => {
  const memory = useMemoryContext();

  it('registers one dataset and one version and creates one job for three deliveries', async () => {
    const m = memory();
    await m.putModelConfig('churn', CONFIG);
    const upload = await m.upload('datasets/churn/customers.csv', churnCsv(200));

    const first = await ingest(m, upload);
    const again = await Promise.all([ingest(m, upload), ingest(m, upload)]);

    expect(first).toMatchObject({ kind: 'training', version: 1 });
    expect(again).toEqual([
      {
        kind: 'duplicate',
        model: 'churn',
        datasetId: first.kind === 'training' ? first.datasetId : '',
        version: 1,
      },
      {
        kind: 'duplicate',
        model: 'churn',
        datasetId: first.kind === 'training' ? first.datasetId : '',
        version: 1,
      },
    ]);
    expect(await m.registry.listVersions('churn')).toHaveLength(1);
    // A duplicate makes sure the job exists: SageMaker answers ResourceInUse, and there is still one.
    expect(m.trainingJobs()).toHaveLength(1);
    expect(new Set(m.trainingRequests().map((r) => r.TrainingJobName)).size).toBe(1);
    expect(await auditOf(m, 'churn', 'VERSION_CREATED')).toHaveLength(1);
  });

  it('registers one version for concurrent first deliveries', async () => {
    const m = memory();
    const upload = await m.upload('datasets/fraud/day-1.csv', labelled(200));
    const outcomes = await Promise.all([ingest(m, upload), ingest(m, upload), ingest(m, upload)]);
    expect(outcomes.map((o) => o.kind)).toEqual(['training', 'training', 'training']);
    expect(new Set(outcomes.map((o) => (o.kind === 'training' ? o.jobName : ''))).size).toBe(1);
    expect(await m.registry.listVersions('fraud')).toHaveLength(1);
    expect(m.trainingJobs()).toHaveLength(1);
    expect(await auditOf(m, 'fraud', 'VERSION_CREATED')).toHaveLength(1);
  });
});

describe('IngestDataset: rejections are recorded with their reason and start nothing', () => {
  const memory = useMemoryContext();

  const cases: [string, string, string, string | undefined, string, RegExp][] = [
    [
      'a dataset without its label column',
      'datasets/nolabel/data.csv',
      'a,b,c\n1,2,3\n4,5,6\n',
      undefined,
      'MISSING_LABEL_COLUMN',
      /no label column "label".*columns found: a, b, c/,
    ],
    ['an empty file', 'datasets/empty/data.csv', '', undefined, 'EMPTY_DATASET', /the file is empty/],
    [
      'a header with no rows',
      'datasets/headeronly/data.csv',
      'x,label\n',
      undefined,
      'EMPTY_DATASET',
      /header but no data rows/,
    ],
    [
      'text in a numeric feature',
      'datasets/textual/data.csv',
      'plan,label\n1,0\ngold,1\n',
      undefined,
      'INVALID_DATASET',
      /line 3: column "plan" holds text \("gold"\)/,
    ],
    [
      'a ragged row',
      'datasets/ragged/data.csv',
      'x,y,label\n1,2,0\n1,2\n',
      undefined,
      'INVALID_DATASET',
      /line 3 has 2 fields; the header has 3/,
    ],
    [
      'an unsupported format',
      'datasets/parquety/data.parquet',
      'PAR1',
      undefined,
      'UNSUPPORTED_FORMAT',
      /"\.parquet" files are not supported/,
    ],
    [
      'an invalid config',
      'datasets/badconfig/data.csv',
      churnCsv(50),
      '{"labelColumn": "churned", "training": {"instanceType": "m5.large"}, "colour": "blue"}',
      'INVALID_CONFIG',
      /config\.json is invalid: training\.instanceType: must look like ml\.m5\.large; \(root\): Unrecognized key: "colour"/,
    ],
    [
      'a config that is not JSON',
      'datasets/notjson/data.csv',
      churnCsv(50),
      '{"labelColumn": ',
      'INVALID_CONFIG',
      /config\.json is invalid: not valid JSON/,
    ],
  ];

  it.each(cases)('%s', async (_what, key, body, config, code, reason) => {
    const m = memory();
    const model = key.split('/')[1]!;
    if (config) await m.putModelConfig(model, config);
    const upload = await m.upload(key, body);

    const outcome = await ingest(m, upload);
    const again = await ingest(m, upload);

    expect(outcome).toMatchObject({ kind: 'rejected', model, code, reason: stringMatching(reason) });
    expect(again).toMatchObject({ kind: 'duplicate', model });
    const datasetId = outcome.kind === 'rejected' ? outcome.datasetId : '';
    expect(await m.registry.getDataset(model, datasetId)).toMatchObject({
      status: 'REJECTED',
      rejection: { code, reason: stringMatching(reason) },
      sourceUri: `s3://${BUCKET}/${key}`,
    });
    expect(await m.registry.listVersions(model)).toEqual([]);
    expect(m.trainingRequests()).toEqual([]);
    // Twice delivered, recorded once, notified once.
    const rejected = await auditOf(m, model, 'DATASET_REJECTED');
    expect(rejected).toHaveLength(1);
    expect(rejected[0]!.reason).toMatch(reason);
    expect(m.notifications()).toEqual([
      expect.objectContaining({
        kind: 'dataset-rejected',
        model,
        subject: `${model}: dataset ${datasetId} rejected`,
        message: stringContaining(`The raw data is kept at s3://${BUCKET}/${key}`),
      }),
    ]);
    expect(m.notifications()[0]!.message).toMatch(reason);
    // The raw object is kept; no prepared data is left behind.
    expect(m.text(key)).toBe(body);
    expect(m.objects.keys(BUCKET, 'prepared/')).toEqual([]);
  });

  it('records a config error against the model too', async () => {
    const m = memory();
    await m.putModelConfig('badconfig', { labelColumn: 'churned', colour: 'blue' });
    await ingest(m, await m.upload('datasets/badconfig/data.csv', churnCsv(50)));
    const model = await m.registry.getModel('badconfig');
    expect(model?.lastRejection).toMatchObject({
      code: 'INVALID_CONFIG',
      source: 'models/badconfig/config.json',
      reason: stringMatching(/Unrecognized key: "colour"/),
    });
    expect(model?.config).toBeUndefined();
    expect(await auditOf(m, 'badconfig', 'CONFIG_REJECTED')).toHaveLength(1);
  });

  it('an invalid model name, recorded under the name as written', async () => {
    const m = memory();
    const upload = await m.upload('datasets/Churn_Model/data.csv', churnCsv(20));
    const outcome = await ingest(m, upload);
    await ingest(m, upload);
    const { model, datasetId } = rejectedKeyRecordOf(upload);
    expect(model).toBe('Churn_Model');
    expect(outcome).toMatchObject({ kind: 'rejected', model, datasetId, code: 'INVALID_MODEL_NAME' });
    expect(await m.registry.getDataset(model, datasetId)).toMatchObject({
      status: 'REJECTED',
      rejection: { code: 'INVALID_MODEL_NAME' },
    });
    const audit = await m.registry.listAudit('Churn_Model');
    expect(audit).toHaveLength(1);
    expect(audit[0]!.reason).toMatch(
      /datasets\/Churn_Model\/data\.csv: the model name "Churn_Model" must use only lowercase letters, digits and single hyphens/,
    );
    expect(m.notifications().map((n) => [n.kind, n.model])).toEqual([['dataset-rejected', 'Churn_Model']]);
    expect(m.trainingRequests()).toEqual([]);
  });

  it('a key outside a model folder', async () => {
    const m = memory();
    const outcome = await ingest(m, await m.upload('datasets/loose.csv', churnCsv(20)));
    expect(outcome).toMatchObject({ kind: 'rejected', code: 'INVALID_KEY' });
    expect(m.trainingRequests()).toEqual([]);
  });

  it('a folder with a _SUCCESS marker and no data files', async () => {
    const m = memory();
    await m.upload('datasets/churn/2026-11-26/_committed_1', 'x');
    const outcome = await ingest(m, await m.upload('datasets/churn/2026-11-26/_SUCCESS', ''));
    expect(outcome).toMatchObject({
      kind: 'rejected',
      code: 'EMPTY_DATASET',
      reason: stringMatching(
        /datasets\/churn\/2026-11-26\/: the folder has a _SUCCESS marker but no data files/,
      ),
    });
  });

  it('a script whose source lies outside the model folder', async () => {
    const m = memory();
    await m.putModelConfig('scripted', {
      labelColumn: 'churned',
      algorithm: {
        type: 'script',
        imageUri: '683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1',
        entryPoint: 'train.py',
        sourceUri: 's3://elsewhere/code/sourcedir.tar.gz',
      },
    });
    const outcome = await ingest(m, await m.upload('datasets/scripted/a.csv', churnCsv(60)));
    expect(outcome).toMatchObject({
      kind: 'rejected',
      code: 'INVALID_CONFIG',
      reason: stringMatching(
        /algorithm\.sourceUri: must be under s3:\/\/mlops-data-123\/models\/scripted\/code\//,
      ),
    });
    expect(m.trainingRequests()).toEqual([]);
    expect(await m.registry.listVersions('scripted')).toEqual([]);
  });
});

describe('IngestDataset: a bucket without versions (the local S3)', () => {
  const memory = useMemoryContext({ versioning: false });

  it('records an upload overwritten before it was read as superseded, and ingests the later one', async () => {
    const m = memory();
    const first = await m.upload('datasets/churn/data.csv', labelled(100, 1));
    const second = await m.upload('datasets/churn/data.csv', labelled(140, 2));
    expect(first.versionId).toBeUndefined();

    const refused = await ingest(m, first);
    expect(refused).toMatchObject({
      kind: 'rejected',
      code: 'SOURCE_SUPERSEDED',
      reason: stringContaining(`this upload's ETag ${first.etag}, the object now holds ${second.etag}`),
    });
    expect(m.trainingRequests()).toEqual([]);
    expect(m.objects.keys(BUCKET, 'prepared/')).toEqual([]);

    expect(await ingest(m, second)).toMatchObject({ kind: 'training', version: 1 });
    const [version] = await m.registry.listVersions('churn');
    expect((await m.registry.getDataset('churn', version!.datasetId))!.profile!.rows).toBe(140);
  });

  it('records an upload deleted before it was read', async () => {
    const m = memory();
    const upload = await m.upload('datasets/churn/data.csv', labelled(100));
    await m.objects.delete(BUCKET, 'datasets/churn/data.csv');
    expect(await ingest(m, upload)).toMatchObject({
      kind: 'rejected',
      code: 'INVALID_DATASET',
      reason: 'datasets/churn/data.csv: the object no longer exists',
    });
  });
});

describe('IngestDataset: faults are thrown, and the retried event finishes the work once', () => {
  const memory = useMemoryContext();

  it('registration refused before its write: nothing registered; the retry registers and trains once', async () => {
    const m = memory();
    const upload = await m.upload('datasets/churn/data.csv', labelled(120));
    m.registry.failNext('registerDatasetAndVersion');
    await expect(ingest(m, upload)).rejects.toBeInstanceOf(RegistryStoreError);
    expect(await m.registry.listVersions('churn')).toEqual([]);
    expect(m.trainingRequests()).toEqual([]);

    expect(await ingest(m, upload)).toMatchObject({ kind: 'training', version: 1 });
    expect(await m.registry.listVersions('churn')).toHaveLength(1);
    expect(m.trainingJobs()).toHaveLength(1);
    expect(await auditOf(m, 'churn', 'VERSION_CREATED')).toHaveLength(1);
  });

  it('registration applied but its answer lost: the retry finds the version and starts its job', async () => {
    const m = memory();
    const upload = await m.upload('datasets/churn/data.csv', labelled(120));
    m.registry.failNext('registerDatasetAndVersion', { when: 'after' });
    await expect(ingest(m, upload)).rejects.toBeInstanceOf(RegistryStoreError);
    const [version] = await m.registry.listVersions('churn');
    expect(version).toMatchObject({ version: 1, status: 'TRAINING' });
    expect(m.trainingJobs()).toEqual([]);

    expect(await ingest(m, upload)).toMatchObject({ kind: 'duplicate', version: 1 });
    expect(m.trainingJobs()).toEqual([version!.trainingJobName]);
    expect(await m.registry.listVersions('churn')).toHaveLength(1);
    expect(await auditOf(m, 'churn', 'VERSION_CREATED')).toHaveLength(1);
  });

  it('a rejection applied but its answer lost: the retry sends its notification, once', async () => {
    const m = memory();
    const upload = await m.upload('datasets/empty/data.csv', '');
    m.registry.failNext('recordRejectedDataset', { when: 'after' });
    await expect(ingest(m, upload)).rejects.toBeInstanceOf(RegistryStoreError);
    expect(await auditOf(m, 'empty', 'DATASET_REJECTED')).toHaveLength(1);
    expect(m.notifications()).toEqual([]);

    expect(await ingest(m, upload)).toMatchObject({ kind: 'duplicate' });
    expect(await ingest(m, upload)).toMatchObject({ kind: 'duplicate' });
    expect(m.notifications().map((n) => n.kind)).toEqual(['dataset-rejected']);
    expect(await auditOf(m, 'empty', 'DATASET_REJECTED')).toHaveLength(1);
  });

  it('a rejection refused before its write: the retry records it and notifies once', async () => {
    const m = memory();
    const upload = await m.upload('datasets/empty/data.csv', '');
    m.registry.failNext('recordRejectedDataset');
    await expect(ingest(m, upload)).rejects.toBeInstanceOf(RegistryStoreError);
    expect(await m.registry.listAudit('empty')).toEqual([]);
    expect(await ingest(m, upload)).toMatchObject({ kind: 'rejected', code: 'EMPTY_DATASET' });
    expect(m.notifications()).toHaveLength(1);
  });

  it('a notification SNS refused is sent by the retry at once', async () => {
    const m = memory();
    const upload = await m.upload('datasets/empty/data.csv', '');
    m.failNextPublish('refused');
    await expect(ingest(m, upload)).rejects.toBeInstanceOf(NotificationNotSent);
    expect(m.notifications()).toEqual([]);
    expect(await ingest(m, upload)).toMatchObject({ kind: 'duplicate' });
    expect(m.notifications().map((n) => n.kind)).toEqual(['dataset-rejected']);
  });

  it('a notification whose send may have gone out is sent again only once its claim has ended', async () => {
    const m = memory();
    const upload = await m.upload('datasets/empty/data.csv', '');
    m.failNextPublish('unknown');
    await expect(ingest(m, upload)).rejects.toMatchObject({ name: 'InternalErrorException' });
    await ingest(m, upload);
    expect(m.notifications()).toEqual([]);
    m.clock.advance(NOTIFICATION_LEASE_MS + 1);
    await ingest(m, upload);
    await ingest(m, upload);
    expect(m.notifications().map((n) => n.kind)).toEqual(['dataset-rejected']);
    expect(await m.registry.listPendingNotifications('empty')).toEqual([]);
  });

  it('a transient SageMaker fault is thrown; the retry starts the job once', async () => {
    const m = memory();
    m.aws.createTrainingJobFaults.push(sageMakerError('ThrottlingException', 'Rate exceeded'));
    const upload = await m.upload('datasets/retry/data.csv', labelled(100));
    await expect(ingest(m, upload)).rejects.toMatchObject({ name: 'ThrottlingException' });
    expect(await m.registry.listVersions('retry')).toMatchObject([{ status: 'TRAINING' }]);
    expect(m.trainingJobs()).toEqual([]);

    expect(await ingest(m, upload)).toMatchObject({ kind: 'duplicate', version: 1 });
    expect(m.trainingJobs()).toHaveLength(1);
    expect(await m.registry.listVersions('retry')).toHaveLength(1);
  });

  it('a read that fails is thrown and retried; nothing is recorded meanwhile', async () => {
    const m = memory();
    const upload = await m.upload('datasets/garbled/data.csv', labelled(80));
    m.objects.failNext('read', { error: new SyntaxError('Unexpected token < in JSON at position 0') });
    await expect(ingest(m, upload)).rejects.toBeInstanceOf(SyntaxError);
    expect(await m.registry.getModel('garbled')).toBeUndefined();
    expect(await ingest(m, upload)).toMatchObject({ kind: 'training' });
  });

  it(
    'a prepared channel whose upload fails is thrown; nothing is registered; the retry ingests',
    { timeout: 5000 },
    async () => {
      const m = memory();
      const upload = await m.upload('datasets/churn/data.csv', labelled(120));
      m.objects.failNext('writeStream');
      await expect(ingest(m, upload)).rejects.toMatchObject({ name: 'InternalError' });
      expect(await m.registry.getModel('churn')).toBeUndefined();
      expect(m.trainingRequests()).toEqual([]);
      expect(await ingest(m, upload)).toMatchObject({ kind: 'training', version: 1 });
    },
  );

  it('a request SageMaker refuses for good ends the version FAILED with its reason, notified once', async () => {
    const m = memory();
    m.aws.createTrainingJobFaults.push(
      sageMakerError('ValidationException', 'Instance type ml.m5.large is not supported for spot'),
    );
    const upload = await m.upload('datasets/refused/data.csv', labelled(80));
    const outcome = await ingest(m, upload);
    expect(outcome).toMatchObject({
      kind: 'training-failed',
      version: 1,
      reason: stringMatching(/SageMaker refused the training job .*not supported for spot/),
    });
    expect(await ingest(m, upload)).toMatchObject({ kind: 'duplicate', version: 1 });
    const [version] = await m.registry.listVersions('refused');
    expect(version).toMatchObject({ status: 'FAILED' });
    expect(version!.failureReason).toMatch(/SageMaker refused the training job .*not supported for spot/);
    expect(m.trainingRequests()).toHaveLength(1);
    expect(m.notifications().map((n) => [n.kind, n.subject])).toEqual([
      ['training-failed', 'refused v1: training could not start'],
    ]);
    expect(await auditOf(m, 'refused', 'TRAINING_FAILED')).toHaveLength(1);
  });

  it('the FAILED move applied but its answer lost: the retry sends the notification', async () => {
    const m = memory();
    m.aws.createTrainingJobFaults.push(sageMakerError('ValidationException', 'bad hyperparameter'));
    const upload = await m.upload('datasets/refused/data.csv', labelled(80));
    m.registry.failNext('transitionVersion', { when: 'after' });
    await expect(ingest(m, upload)).rejects.toBeInstanceOf(RegistryStoreError);
    expect(m.notifications()).toEqual([]);
    expect(await ingest(m, upload)).toMatchObject({ kind: 'duplicate', version: 1 });
    expect(m.notifications().map((n) => n.kind)).toEqual(['training-failed']);
    expect(m.trainingRequests()).toHaveLength(1);
  });
});
