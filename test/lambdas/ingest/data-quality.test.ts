/**
 * The data-quality gate in the ingest path, end to end on local parts (s3rver + DynamoDB Local,
 * SageMaker mocked): reports written under `reports/<model>/<dataset>/`, the first dataset as the
 * baseline, schema and quality violations refused before any training job, drift recorded (and
 * refused only when the model's policy says so).
 */
import { CreateTrainingJobCommand } from '@aws-sdk/client-sagemaker';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { MlopsContext } from '../../../core/use-cases/context';
import { createIngestHandler } from '../../../lambdas/ingest/handler';
import { stringMatching } from '../../support/matchers';
import {
  churnCsv,
  lambdaContext,
  sqsBatch,
  startPipelineHarness,
  type PipelineHarness,
} from '../../support/pipeline-harness';

let harness: PipelineHarness;
let ctx: MlopsContext;
let handler: ReturnType<typeof createIngestHandler>;

beforeAll(async () => {
  harness = await startPipelineHarness();
  ctx = harness.context();
  handler = createIngestHandler(() => ctx);
});
afterAll(async () => harness?.stop());
beforeEach(() => harness.aws.reset());

async function readJson(key: string): Promise<Record<string, unknown> | undefined> {
  const text = await harness.read(key);
  return text === undefined ? undefined : (JSON.parse(text) as Record<string, unknown>);
}

/** Uploads a config and a dataset, runs ingest, returns the dataset record. */
async function ingest(model: string, file: string, csv: string, config?: Record<string, unknown>) {
  if (config) await harness.upload(`models/${model}/config.json`, JSON.stringify(config));
  const event = await harness.upload(`datasets/${model}/${file}`, csv);
  const result = await handler(sqsBatch(event), lambdaContext);
  expect(result.batchItemFailures).toEqual([]);
  const audit = await ctx.registry.listAudit(model);
  const line = audit.filter((a) => a.reason.includes(file) || a.type === 'VERSION_CREATED').at(-1);
  const versions = await ctx.registry.listVersions(model);
  const datasetId =
    versions.find((v) => line?.version === v.version)?.datasetId ??
    /dataset ([a-z0-9-]+)/.exec(line?.reason ?? '')?.[1];
  if (datasetId === undefined) throw new Error(`ingesting ${model}/${file} left no dataset in the audit`);
  return { dataset: await ctx.registry.getDataset(model, datasetId), datasetId, audit, versions };
}

/** Maps one column of a CSV (by header name) through `f`, or drops it when `f` is undefined. */
function editColumn(csv: string, column: string, f?: (value: string, row: number) => string): string {
  const lines = csv.trimEnd().split('\n');
  const header = lines[0]!.split(',');
  const index = header.indexOf(column);
  return (
    lines
      .map((line, row) => {
        const fields = line.split(',');
        if (!f) fields.splice(index, 1);
        else if (row > 0) fields[index] = f(fields[index]!, row);
        return fields.join(',');
      })
      .join('\n') + '\n'
  );
}

/** Moves a TRAINING version to PRODUCTION through the registry's transitions (what the pipeline does). */
async function makeChampion(model: string, version: number): Promise<void> {
  const at = new Date().toISOString();
  const audit = (type: string) => ({
    model,
    at,
    eventId: `test:${type}:${version}`,
    type,
    actor: 'test',
    version,
    reason: type,
  });
  expect(
    await ctx.registry.transitionVersion({
      model,
      version,
      from: ['TRAINING'],
      to: 'TRAINED',
      audit: audit('TRAINED'),
    }),
  ).toBe(true);
  expect(
    await ctx.registry.transitionVersion({
      model,
      version,
      from: ['TRAINED'],
      to: 'APPROVED',
      audit: audit('APPROVED'),
    }),
  ).toBe(true);
  expect(
    await ctx.registry.startDeployment({
      model,
      version,
      from: ['APPROVED'],
      to: 'DEPLOYING',
      audit: audit('DEPLOYING'),
    }),
  ).toBe(true);
  expect(await ctx.registry.promote({ model, version, at, audit: audit('PROMOTED') })).toBe(true);
  expect((await ctx.registry.getModel(model))?.champion).toBe(version);
}

const CONFIG = { labelColumn: 'churned' };
const ROWS = 2000;

describe('ingest: data-quality reports and baseline', () => {
  it('writes statistics.json and constraints.json for the first dataset, which becomes the baseline', async () => {
    const { dataset, datasetId } = await ingest('dq-first', 'jan.csv', churnCsv(ROWS, 1), CONFIG);
    expect(dataset).toMatchObject({ status: 'ACCEPTED', version: 1 });
    expect(harness.aws.jobs.size).toBe(1);

    const prefix = `reports/dq-first/${datasetId}/`;
    const statistics = await readJson(`${prefix}statistics.json`);
    expect(statistics).toMatchObject({ version: 0, dataset: { item_count: ROWS } });
    const features = statistics!['features'] as { name: string; inferred_type: string }[];
    expect(features.map((f) => [f.name, f.inferred_type])).toEqual([
      ['tenure', 'Integral'],
      ['monthly_charges', 'Fractional'],
      ['support_calls', 'Integral'],
      ['churned', 'Integral'],
    ]);
    expect(features[1]).toHaveProperty('numerical_statistics.common.num_present', ROWS);
    expect(features[1]).toHaveProperty('numerical_statistics.distribution.kll.buckets');

    const constraints = await readJson(`${prefix}constraints.json`);
    expect(constraints).toHaveProperty('version');
    expect(constraints).toHaveProperty('features');
    expect(constraints).toHaveProperty('monitoring_config');
    expect(constraints!['features']).toContainEqual(
      expect.objectContaining({ name: 'tenure', inferred_type: 'Integral', completeness: 1 }),
    );
    // Nothing to check against: no violations report.
    expect(await readJson(`${prefix}constraint_violations.json`)).toBeUndefined();

    expect(dataset!.dataQuality).toMatchObject({
      decision: 'accepted',
      baselineSource: 'none',
      drift: [],
      violations: [],
      reports: {
        statistics: `s3://mlops-data-123/${prefix}statistics.json`,
        constraints: `s3://mlops-data-123/${prefix}constraints.json`,
      },
    });
    expect(dataset!.dataQuality!.baselineDatasetId).toBeUndefined();
    expect((await ctx.registry.getModel('dq-first'))?.baselineDatasetId).toBe(datasetId);
    const audit = await ctx.registry.listAudit('dq-first');
    expect(audit.find((a) => a.type === 'VERSION_CREATED')?.reason).toMatch(
      /data quality no baseline yet: dataset .* becomes the model's data-quality baseline; training starts/,
    );
  });

  it('checks a second dataset against the baseline and keeps the baseline', async () => {
    const first = await ingest('dq-second', 'jan.csv', churnCsv(ROWS, 1), CONFIG);
    const { dataset, datasetId } = await ingest('dq-second', 'feb.csv', churnCsv(ROWS, 2));
    expect(dataset).toMatchObject({ status: 'ACCEPTED', version: 2 });
    expect(harness.aws.jobs.size).toBe(2);
    const dq = dataset!.dataQuality!;
    expect(dq).toMatchObject({
      baselineDatasetId: first.datasetId,
      baselineSource: 'first-accepted',
      violations: [],
      violationCount: 0,
      reports: {
        violations: `s3://mlops-data-123/reports/dq-second/${datasetId}/constraint_violations.json`,
      },
    });
    expect(dq.decision).toBe('accepted');
    expect(dq.drift.map((d) => d.column)).toEqual(['tenure', 'monthly_charges', 'support_calls', 'churned']);
    for (const d of dq.drift) {
      expect(d.distance).toBeGreaterThanOrEqual(0);
      expect(d.distance).toBeLessThan(0.1);
      expect(d.drifted).toBe(false);
    }
    expect(dq.drift.find((d) => d.column === 'monthly_charges')?.psi).toEqual(expect.any(Number));
    const report = await readJson(`reports/dq-second/${datasetId}/constraint_violations.json`);
    expect(report).toEqual({ violations: [] });
    expect((await ctx.registry.getModel('dq-second'))?.baselineDatasetId).toBe(first.datasetId);
  });
});

describe('ingest: schema and quality violations refuse the dataset before training', () => {
  const cases: [string, (csv: string) => string, Record<string, unknown>, RegExp, RegExp][] = [
    [
      'a missing column',
      (csv) => editColumn(csv, 'support_calls'),
      CONFIG,
      /support_calls/,
      /missing_column_check/,
    ],
    [
      'a wrong data type (text where the baseline has integers)',
      (csv) => editColumn(csv, 'tenure', (v, row) => (row % 2 ? `${v} months` : v)),
      // A custom image takes text features, so the preparer lets the text through: the gate must not.
      {
        ...CONFIG,
        algorithm: { type: 'image', imageUri: '123456789012.dkr.ecr.us-east-1.amazonaws.com/churn:1' },
      },
      /tenure/,
      /data_type_check/,
    ],
    [
      'a completeness drop',
      (csv) => editColumn(csv, 'monthly_charges', (v, row) => (row % 4 === 0 ? '' : v)),
      CONFIG,
      /monthly_charges/,
      /completeness_check/,
    ],
    [
      'negative values where the baseline had none',
      (csv) => editColumn(csv, 'support_calls', (v, row) => (row % 10 === 0 ? '-1' : v)),
      CONFIG,
      /support_calls/,
      /data_type_check.*Non-negativity requirement is not met/,
    ],
  ];

  it.each(cases)('%s', async (what, edit, config, column, check) => {
    const model = `dq-${what
      .split(' ')
      .slice(1, 3)
      .join('-')
      .replace(/[^a-z-]/g, '')}`;
    await ingest(model, 'jan.csv', churnCsv(ROWS, 1), config);
    harness.aws.reset();
    const event = await harness.upload(`datasets/${model}/feb.csv`, edit(churnCsv(ROWS, 2)));
    const result = await handler(sqsBatch(event, event), lambdaContext);
    expect(result.batchItemFailures).toEqual([]);

    expect(harness.aws.sagemaker).not.toHaveReceivedCommand(CreateTrainingJobCommand);
    expect(await ctx.registry.listVersions(model)).toHaveLength(1);
    const rejected = (await ctx.registry.listAudit(model)).filter((a) => a.type === 'DATASET_REJECTED');
    expect(rejected).toHaveLength(1);
    expect(rejected[0]!.reason).toMatch(/^datasets\/.*\/feb\.csv: data quality/);
    expect(rejected[0]!.reason).toMatch(column);
    expect(rejected[0]!.reason).toMatch(check);

    const datasetId = /dataset (\S+) /.exec(rejected[0]!.reason)?.[1];
    const dataset = (await ctx.registry.getDataset(model, datasetId!))!;
    expect(dataset).toMatchObject({ status: 'REJECTED', rejection: { code: 'DATA_QUALITY' } });
    expect(dataset.dataQuality!.decision).toBe('rejected');
    expect(dataset.dataQuality!.violations).toContainEqual(
      expect.objectContaining({ feature_name: stringMatching(column) }),
    );
    const report = (await readJson(`reports/${model}/${datasetId}/constraint_violations.json`)) as {
      violations: { feature_name: string; constraint_check_type: string; description: string }[];
    };
    expect(
      report.violations.map((v) => `${v.feature_name} ${v.constraint_check_type}: ${v.description}`),
    ).toContainEqual(expect.stringMatching(check));
  });
});

describe('ingest: drift', () => {
  /** Newer customers on pricier plans: tenure and charges shift, support calls do not. */
  const drifted = (seed: number) =>
    editColumn(
      editColumn(churnCsv(ROWS, seed), 'monthly_charges', (v) => (Number(v) + 30).toFixed(2)),
      'tenure',
      (v) => String(Math.floor(Number(v) / 2)),
    );

  it('records the drift per column and trains by default', async () => {
    await ingest('dq-drift', 'jan.csv', churnCsv(ROWS, 1), CONFIG);
    const { dataset, versions } = await ingest('dq-drift', 'feb.csv', drifted(2));
    expect(dataset).toMatchObject({ status: 'ACCEPTED', version: 2 });
    expect(versions.map((v) => v.status)).toEqual(['TRAINING', 'TRAINING']);
    expect(harness.aws.jobs.size).toBe(2);
    const dq = dataset!.dataQuality!;
    expect(dq.decision).toBe('accepted-with-drift');
    expect(dq.driftedColumns).toEqual(expect.arrayContaining(['tenure', 'monthly_charges']));
    expect(dq.driftedColumns).not.toContain('support_calls');
    const charges = dq.drift.find((d) => d.column === 'monthly_charges')!;
    expect(charges).toMatchObject({ kind: 'numeric', drifted: true });
    expect(charges.distance).toBeGreaterThan(0.2);
    expect(charges.psi).toBeGreaterThan(0.25);
    expect(dq.summary).toMatch(/drift in monthly_charges|drift in tenure/);
    const audit = await ctx.registry.listAudit('dq-drift');
    expect(audit.filter((a) => a.type === 'VERSION_CREATED').at(-1)?.reason).toMatch(
      /data quality accepted-with-drift: drift in .*monthly_charges \(KS 0\.\d+, PSI \d+\.\d+\)/,
    );
  });

  it("compares with the champion's training data once there is a champion", async () => {
    const model = 'dq-champion';
    const first = await ingest(model, 'jan.csv', churnCsv(ROWS, 1), CONFIG);
    const second = await ingest(model, 'feb.csv', drifted(2));
    expect(second.dataset!.dataQuality).toMatchObject({
      decision: 'accepted-with-drift',
      baselineDatasetId: first.datasetId,
    });
    await makeChampion(model, 2);

    // Like the champion's data (the new market), unlike the first dataset.
    const { dataset } = await ingest(model, 'mar.csv', drifted(3));
    expect(dataset!.dataQuality).toMatchObject({
      decision: 'accepted',
      baselineDatasetId: second.datasetId,
      baselineSource: 'champion',
      driftedColumns: [],
    });
    // The first accepted dataset stays recorded as the fallback baseline.
    expect((await ctx.registry.getModel(model))?.baselineDatasetId).toBe(first.datasetId);
  });

  it('refuses a drifted dataset when the policy blocks on drift', async () => {
    const config = { ...CONFIG, dataQuality: { blockOnDrift: true } };
    await ingest('dq-block', 'jan.csv', churnCsv(ROWS, 1), config);
    harness.aws.reset();
    const { dataset } = await ingest('dq-block', 'feb.csv', drifted(2));
    expect(harness.aws.sagemaker).not.toHaveReceivedCommand(CreateTrainingJobCommand);
    expect(await ctx.registry.listVersions('dq-block')).toHaveLength(1);
    expect(dataset).toMatchObject({ status: 'REJECTED', rejection: { code: 'DATA_DRIFT' } });
    expect(dataset!.rejection!.reason).toMatch(/drift.*(tenure|monthly_charges).*blockOnDrift/);
    expect(dataset!.dataQuality).toMatchObject({ decision: 'rejected' });
  });
});
