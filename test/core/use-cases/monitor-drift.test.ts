/**
 * MonitorDrift on in-memory ports (the registry and object stores of adapters/memory, the registry
 * seeded through its port as the use cases write it): matching traffic gives small drift, shifted
 * traffic large drift and the metrics; windows, idempotency, too little traffic, malformed lines;
 * the champion the registry holds is the version monitored.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { MemoryObjectStore } from '../../../adapters/memory/memory-object-store';
import { MemoryRegistryStore } from '../../../adapters/memory/memory-registry-store';
import { DRIFT_NAMESPACE } from '../../../core/domain/drift-metrics';
import { defaultModelConfig, type ModelConfig } from '../../../core/domain/model-config';
import { ResourceNames } from '../../../core/domain/naming';
import type { VersionStatus } from '../../../core/domain/registry';
import type { MetricBatch, MetricsPublisher } from '../../../core/ports/metrics';
import { toStatisticsJson } from '../../../core/profiling/model-monitor';
import { DatasetProfiler } from '../../../core/profiling/profiler';
import { silentLog, type MlopsContext } from '../../../core/use-cases/context';
import { monitoringReportKeys } from '../../../core/domain/naming';
import {
  lastCompleteWindow,
  monitoringWindow,
  MonitorDrift,
  predictionDrift,
  trailingWindow,
  type DriftSummary,
} from '../../../core/use-cases/monitor-drift';
import { captureKey, captureLine } from '../../../local/inference/data-capture';
import { seededRandom } from '../../../local/training/gbm';

const BUCKET = 'data';
const NOW = new Date('2025-06-03T12:10:00.000Z');
const WINDOW = lastCompleteWindow(NOW); // 11:00 - 12:00
const FEATURES = ['x1', 'x2'];

function normal(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

/** Rows of (x1, x2): x1 ~ N(shift, 1), x2 ~ U(0, 10). */
function rows(count: number, seed: number, shift = 0): number[][] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, () => [normal(random) + shift, random() * 10]);
}

/** The model: P(y = 1) = sigmoid(3 x1); the training label is x1 > 0 (a base rate of one half). */
const score = (row: number[]) => 1 / (1 + Math.exp(-3 * row[0]!));

/** Training statistics of 2000 rows, profiled once per (seed, shift): every setup writes the same. */
const statisticsCache = new Map<string, string>();
function trainingStatistics(seed = 1, shift = 0): string {
  const key = `${seed}/${shift}`;
  let text = statisticsCache.get(key);
  if (text === undefined) {
    const profiler = new DatasetProfiler(['label', ...FEATURES]);
    for (const row of rows(2000, seed, shift)) profiler.add([row[0]! > 0 ? '1' : '0', ...row.map(String)]);
    statisticsCache.set(key, (text = JSON.stringify(toStatisticsJson(profiler.finish()))));
  }
  return text;
}

interface Setup {
  readonly objects: MemoryObjectStore;
  readonly registry: MemoryRegistryStore;
  readonly published: MetricBatch[];
  readonly monitor: MonitorDrift;
  readonly ctx: MlopsContext;
}

/** A champion to seed: `model` v`n` in production, trained from `datasetId`. */
interface Champion {
  readonly model: string;
  readonly version: number;
  readonly datasetId: string;
}

/**
 * The stores with `versions` in production (each its model's champion, with the model's config
 * unless `config: null`) and, unless `baseline: false`, their training baselines and schemas.
 */
async function setup(
  options: {
    versions?: Champion[];
    config?: ModelConfig | null;
    minRecords?: number;
    baseline?: boolean;
  } = {},
): Promise<Setup> {
  const objects = new MemoryObjectStore();
  const registry = new MemoryRegistryStore();
  const config = options.config === undefined ? defaultModelConfig() : options.config;
  const versions = options.versions ?? [version('churn', 3)];
  for (const v of versions) {
    if (config) await registry.saveModelConfig(v.model, config, SEEDED_AT);
    await promoted(registry, v);
    if (options.baseline !== false) await baselineOf(objects, v);
  }
  const ctx = {
    registry,
    objects,
    clock: { now: () => NOW },
    names: new ResourceNames('mlops'),
    log: silentLog,
    bucket: BUCKET,
    region: 'us-east-1',
  } as unknown as MlopsContext;
  const published: MetricBatch[] = [];
  const publisher: MetricsPublisher = {
    publish: (batch) => {
      published.push(batch);
      return Promise.resolve();
    },
  };
  return {
    objects,
    registry,
    published,
    ctx,
    monitor: new MonitorDrift(ctx, publisher, options.minRecords ? { minRecords: options.minRecords } : {}),
  };
}

function version(model: string, n: number, datasetId = `ds-${model}`): Champion {
  return { model, version: n, datasetId };
}

const SEEDED_AT = '2025-06-01T00:00:00.000Z';

/**
 * Registers `model`'s versions up to `champion.version` through the registry port (the earlier
 * ones from datasets of their own, left TRAINING) and walks the last one to production as the use
 * cases do: trained, approved, rolled out to `mlops-<model>`, promoted (archiving the champion
 * before it). Each write must apply.
 */
async function promoted(registry: MemoryRegistryStore, champion: Champion): Promise<void> {
  const { model, version: n, datasetId } = champion;
  const applied = (what: string, ok: boolean) => {
    if (!ok) throw new Error(`seed: ${model} v${n} ${what} did not apply`);
  };
  const audit = (type: string, v: number) => ({
    model,
    at: SEEDED_AT,
    eventId: `seed:${type}:${v}`,
    type,
    actor: 'seed',
    version: v,
    reason: 'seed',
  });
  for (;;) {
    const next = ((await registry.getModel(model))?.versionCounter ?? 0) + 1;
    if (next > n) throw new Error(`seed: ${model} already has v${n}`);
    const id = next === n ? datasetId : `${model}-old-${next}`;
    const { created } = await registry.registerDatasetAndVersion({
      dataset: {
        model,
        datasetId: id,
        sourceUri: `s3://${BUCKET}/datasets/${model}/${id}.csv`,
        status: 'ACCEPTED',
        createdAt: SEEDED_AT,
      },
      buildVersion: (v) => ({
        model,
        version: v,
        status: 'TRAINING',
        datasetId: id,
        trainingJobName: `mlops-${model}-v${v}-abcd`,
        image: 'xgboost',
        hyperparameters: {},
        objectiveMetric: 'validation:auc',
        createdAt: SEEDED_AT,
        updatedAt: SEEDED_AT,
      }),
      audit: audit('REGISTERED', next),
    });
    applied(`v${next} registered`, created);
    if (next === n) break;
  }
  const move = (from: 'TRAINING' | 'TRAINED' | 'APPROVED', to: 'TRAINED' | 'APPROVED' | 'DEPLOYING') => ({
    model,
    version: n,
    from: [from],
    to,
    set:
      to === 'DEPLOYING'
        ? { endpointName: `mlops-${model}`, updatedAt: SEEDED_AT }
        : { updatedAt: SEEDED_AT },
    audit: audit(to, n),
  });
  applied('TRAINED', await registry.transitionVersion(move('TRAINING', 'TRAINED')));
  applied('APPROVED', await registry.transitionVersion(move('TRAINED', 'APPROVED')));
  applied('DEPLOYING', await registry.startDeployment(move('APPROVED', 'DEPLOYING')));
  const previous = (await registry.getModel(model))?.champion;
  applied(
    'promoted',
    await registry.promote({
      model,
      version: n,
      ...(previous !== undefined ? { previousChampion: previous } : {}),
      at: SEEDED_AT,
      audit: audit('PROMOTED', n),
    }),
  );
}

/** The training baseline and schema ingest writes for the champion's dataset. */
async function baselineOf(
  objects: MemoryObjectStore,
  champion: Champion,
  seed = 1,
  shift = 0,
): Promise<void> {
  const { model, datasetId } = champion;
  await objects.put(BUCKET, `reports/${model}/${datasetId}/statistics.json`, trainingStatistics(seed, shift));
  await objects.put(
    BUCKET,
    `prepared/${model}/${datasetId}/schema.json`,
    JSON.stringify({ label: 'label', features: FEATURES }),
  );
}

/** An object's text now. */
function text(objects: MemoryObjectStore, key: string): string | undefined {
  return objects.peek(BUCKET, key)?.text;
}

/** Writes capture files for `traffic` rows, `perRequest` rows per invocation, spread over the window. */
async function capture(
  objects: MemoryObjectStore,
  model: string,
  traffic: number[][],
  options: { perRequest?: number; at?: (i: number) => Date; json?: boolean; extraLines?: string[] } = {},
): Promise<void> {
  const perRequest = options.perRequest ?? 5;
  const lines: { at: Date; text: string }[] = [];
  for (let i = 0; i * perRequest < traffic.length; i++) {
    const batch = traffic.slice(i * perRequest, (i + 1) * perRequest);
    const at = options.at?.(i) ?? new Date(WINDOW.start.getTime() + 1000 + i * 2000);
    const request = options.json
      ? JSON.stringify({ instances: batch })
      : batch.map((row) => row.join(',')).join('\n');
    const response = options.json
      ? JSON.stringify({ predictions: batch.map(score) })
      : batch.map(score).join('\n');
    const line = captureLine(
      {
        at,
        requestContentType: options.json ? 'application/json' : 'text/csv',
        requestBody: Buffer.from(request),
        responseContentType: options.json ? 'application/json' : 'text/csv',
        responseBody: Buffer.from(response),
      },
      { csv: ['text/csv'], json: ['application/json'] },
      `event-${i}`,
    );
    lines.push({ at, text: JSON.stringify(line) });
  }
  // One file per hour, as the capture writes them.
  const byHour = new Map<string, string[]>();
  for (const { at, text } of lines) {
    const key = captureKey(
      `capture/${model}`,
      `mlops-${model}`,
      'AllTraffic',
      new Date(Math.floor(at.getTime() / 3_600_000) * 3_600_000),
      `f${byHour.size}`,
    );
    byHour.set(key, [...(byHour.get(key) ?? []), text]);
  }
  let first = true;
  for (const [key, texts] of byHour) {
    const extra = first ? (options.extraLines ?? []) : [];
    first = false;
    await objects.put(BUCKET, key, [...texts, ...extra].join('\n') + '\n');
  }
}

describe('monitoring windows', () => {
  it('the last complete hour, a trailing window, ids without separators', () => {
    expect(WINDOW).toEqual({
      start: new Date('2025-06-03T11:00:00Z'),
      end: new Date('2025-06-03T12:00:00Z'),
      id: '20250603T110000Z-20250603T120000Z',
    });
    expect(lastCompleteWindow(new Date('2025-06-03T12:00:00Z')).id).toBe('20250603T110000Z-20250603T120000Z');
    expect(trailingWindow(NOW, 60_000).id).toBe('20250603T120900Z-20250603T121000Z');
    expect(monitoringWindow(new Date(1500), new Date(2500)).id).toBe(
      '19700101T000001.500Z-19700101T000002.500Z',
    );
    expect(() => monitoringWindow(NOW, NOW)).toThrow(RangeError);
    expect(monitoringReportKeys('churn', WINDOW.id)).toEqual({
      statistics: 'reports/churn/monitoring/20250603T110000Z-20250603T120000Z/statistics.json',
      summary: 'reports/churn/monitoring/20250603T110000Z-20250603T120000Z/drift.json',
    });
  });
});

describe('MonitorDrift', () => {
  let s: Setup;
  beforeEach(async () => {
    s = await setup();
  });

  it('matching traffic: small drift, published once per model with dimension Model at the window end', async () => {
    await capture(s.objects, 'churn', rows(600, 7));
    const outcome = await s.monitor.execute();
    expect(outcome.window.id).toBe(WINDOW.id);
    expect(outcome.models).toHaveLength(1);
    const [result] = outcome.models;
    expect(result).toMatchObject({
      kind: 'published',
      model: 'churn',
      version: 3,
      drifted: [],
      malformed: 0,
    });
    if (result?.kind !== 'published') throw new Error('not published');
    expect(result.figures.capturedRecords).toBe(600);
    expect(result.figures.featureDriftMax).toBeLessThan(0.1);
    expect(result.figures.predictionDrift).toBeLessThan(0.1);
    expect(result.figures.meanPredictionShift).toBeLessThan(0.1);

    expect(s.published).toEqual([
      {
        namespace: DRIFT_NAMESPACE,
        dimensions: { Model: 'churn' },
        timestamp: new Date('2025-06-03T11:59:59.999Z'),
        metrics: [
          { name: 'FeatureDriftMax', value: result.figures.featureDriftMax, unit: 'None' },
          { name: 'PredictionDrift', value: result.figures.predictionDrift, unit: 'None' },
          { name: 'MeanPredictionShift', value: result.figures.meanPredictionShift, unit: 'None' },
          { name: 'CapturedRecords', value: 600, unit: 'Count' },
        ],
      },
    ]);
    const keys = monitoringReportKeys('churn', WINDOW.id);
    const summary = JSON.parse(text(s.objects, keys.summary)!) as DriftSummary;
    expect(summary).toMatchObject({
      model: 'churn',
      version: 3,
      datasetId: 'ds-churn',
      capturedRecords: 600,
      predictions: 600,
      thresholds: { featureDrift: 0.2, predictionDrift: 0.2 },
      drifted: [],
    });
    expect(summary.features.map((f) => f.column).sort()).toEqual(FEATURES);
    const statistics = JSON.parse(text(s.objects, keys.statistics)!) as {
      dataset: { item_count: number };
    };
    expect(statistics.dataset.item_count).toBe(600);
  });

  it('shifted traffic: large feature and prediction drift, the shifted feature named', async () => {
    await capture(s.objects, 'churn', rows(600, 7, 2), { json: true });
    const [result] = (await s.monitor.execute()).models;
    if (result?.kind !== 'published') throw new Error(`not published: ${JSON.stringify(result)}`);
    expect(result.drifted).toEqual(['x1']);
    expect(result.figures.featureDriftMax).toBeGreaterThan(0.5);
    expect(result.figures.predictionDrift).toBeGreaterThan(0.3);
    expect(result.figures.meanPredictionShift).toBeGreaterThan(0.3);
    const summary = JSON.parse(
      text(s.objects, monitoringReportKeys('churn', WINDOW.id).summary)!,
    ) as DriftSummary;
    expect(summary.features.find((f) => f.column === 'x2')!.distance).toBeLessThan(0.1);
  });

  it('is idempotent per window: a second run publishes nothing', async () => {
    await capture(s.objects, 'churn', rows(300, 7));
    await s.monitor.execute();
    const again = await s.monitor.execute({ window: WINDOW });
    expect(again.models).toEqual([{ kind: 'already-done', model: 'churn', version: 3 }]);
    expect(s.published).toHaveLength(1);
  });

  it('skips a model with too little traffic, publishing nothing and marking nothing done', async () => {
    await capture(s.objects, 'churn', rows(99, 7));
    const [result] = (await s.monitor.execute()).models;
    expect(result).toMatchObject({ kind: 'skipped', capturedRecords: 99 });
    expect(s.published).toEqual([]);
    expect(await s.objects.list(BUCKET, 'reports/churn/monitoring/')).toEqual([]);
  });

  it('keeps only the records of the window, counts malformed lines and rows of the wrong width', async () => {
    const inside = rows(200, 7);
    await capture(s.objects, 'churn', [...inside, ...rows(200, 8, 5)], {
      perRequest: 10,
      // the first 20 requests in the window, the next 20 an hour later (next window)
      at: (i) => new Date(WINDOW.start.getTime() + (i < 20 ? 60_000 + i * 1000 : 3_600_000 + i * 1000)),
      extraLines: [
        'not json',
        JSON.stringify(
          captureLine(
            {
              at: new Date(WINDOW.start.getTime() + 5000),
              requestContentType: 'text/csv',
              requestBody: Buffer.from('1,2,3'),
              responseContentType: 'text/csv',
              responseBody: Buffer.from('0.5'),
            },
            { csv: ['text/csv'], json: [] },
          ),
        ),
      ],
    });
    const [result] = (await s.monitor.execute()).models;
    if (result?.kind !== 'published') throw new Error(`not published: ${JSON.stringify(result)}`);
    expect(result.figures.capturedRecords).toBe(200);
    expect(result.malformed).toBe(1);
    expect(result.figures.featureDriftMax).toBeLessThan(0.15);
    const summary = JSON.parse(
      text(s.objects, monitoringReportKeys('churn', WINDOW.id).summary)!,
    ) as DriftSummary;
    expect(summary).toMatchObject({ malformedLines: 1, rejectedRows: 1 });
  });

  it('skips a model without a training baseline', async () => {
    s = await setup({ baseline: false });
    await capture(s.objects, 'churn', rows(300, 7));
    const [result] = (await s.monitor.execute()).models;
    expect(result).toMatchObject({
      kind: 'skipped',
      why: 'no training baseline at reports/churn/ds-churn/statistics.json',
    });
    expect(s.published).toEqual([]);
  });

  it('monitors one model on demand, or every model in production', async () => {
    s = await setup({ versions: [version('churn', 3), version('fraud', 1)] });
    await capture(s.objects, 'churn', rows(300, 7));
    await capture(s.objects, 'fraud', rows(300, 9, 3));
    const one = await s.monitor.execute({ model: 'fraud', window: WINDOW });
    expect(one.models.map((m) => [m.model, m.kind])).toEqual([['fraud', 'published']]);
    const all = await s.monitor.execute({ window: WINDOW });
    expect(all.models.map((m) => [m.model, m.kind])).toEqual([
      ['churn', 'published'],
      ['fraud', 'already-done'],
    ]);
    expect(s.published.map((b) => b.dimensions.Model)).toEqual(['fraud', 'churn']);
  });

  it('reports a model that fails and goes on with the others', async () => {
    s = await setup({ versions: [version('churn', 3), version('fraud', 1)] });
    await s.objects.put(BUCKET, 'reports/churn/ds-churn/statistics.json', '{"not":"statistics"}');
    await capture(s.objects, 'fraud', rows(300, 9));
    const outcome = await s.monitor.execute();
    expect(outcome.models.map((m) => [m.model, m.kind])).toEqual([
      ['churn', 'failed'],
      ['fraud', 'published'],
    ]);
  });

  it('monitors the champion the registry holds: after a promotion, the new one against its own baseline', async () => {
    // v4 trained on shifted data is promoted (v3 archived); the traffic matches v4's data.
    await promoted(s.registry, version('churn', 4, 'ds-churn-4'));
    await baselineOf(s.objects, version('churn', 4, 'ds-churn-4'), 1, 2);
    await capture(s.objects, 'churn', rows(600, 7, 2));
    const outcome = await s.monitor.execute();
    expect(outcome.models).toMatchObject([{ kind: 'published', model: 'churn', version: 4, drifted: [] }]);
    const summary = JSON.parse(
      text(s.objects, monitoringReportKeys('churn', WINDOW.id).summary)!,
    ) as DriftSummary;
    expect(summary).toMatchObject({ version: 4, datasetId: 'ds-churn-4' });
    expect((await s.registry.getVersion('churn', 3))?.status).toBe('ARCHIVED');
  });

  it('skips a version the status index, lagging a promotion, still lists in production', async () => {
    await promoted(s.registry, version('churn', 4, 'ds-churn-4'));
    await baselineOf(s.objects, version('churn', 4, 'ds-churn-4'));
    await capture(s.objects, 'churn', rows(300, 7));
    // DynamoDB's status index is eventually consistent: a read may still list v3 (archived) there.
    const archived = { ...(await s.registry.getVersion('churn', 3))!, status: 'PRODUCTION' as const };
    const registry = s.registry;
    const lagging = new Proxy(registry, {
      get(target, property, receiver) {
        if (property === 'listVersionsByStatus')
          return async (status: VersionStatus) => [
            ...(status === 'PRODUCTION' ? [archived] : []),
            ...(await target.listVersionsByStatus(status)),
          ];
        const value = Reflect.get(target, property, receiver) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const monitor = new MonitorDrift(
      { ...s.ctx, registry: lagging },
      {
        publish: (batch) => {
          s.published.push(batch);
          return Promise.resolve();
        },
      },
    );
    expect((await monitor.execute()).models).toEqual([
      { kind: 'skipped', model: 'churn', version: 3, why: 'v3 is no longer the champion' },
      expect.objectContaining({ kind: 'published', model: 'churn', version: 4 }),
    ]);
    expect(s.published).toHaveLength(1);
  });

  it('skips a model in production without a config', async () => {
    s = await setup({ config: null });
    await capture(s.objects, 'churn', rows(300, 7));
    expect((await s.monitor.execute()).models).toEqual([
      { kind: 'skipped', model: 'churn', version: 3, why: 'the model has no config' },
    ]);
    expect(s.published).toEqual([]);
  });

  it('refuses a minRecords below 1', () => {
    expect(() => new MonitorDrift(s.ctx, { publish: async () => {} }, { minRecords: 0 })).toThrow(RangeError);
  });
});

describe('predictionDrift', () => {
  const labelProfile = (values: string[]) => {
    const profiler = new DatasetProfiler(['y']);
    for (const v of values) profiler.add([v]);
    return profiler.finish().columns[0]!;
  };

  it('binary: |predicted positive rate - training positive rate|', () => {
    const label = labelProfile([...Array<string>(70).fill('0'), ...Array<string>(30).fill('1')]);
    const result = predictionDrift(
      'binary_classification',
      [...Array<number>(50).fill(0.9), ...Array<number>(50).fill(0.1)],
      label,
      'y',
      0.2,
    );
    expect(result.predictionDrift).toBeCloseTo(0.2, 10);
    expect(result.meanPredictionShift).toBeCloseTo(0.2, 10);
  });

  it('multiclass: L-infinity distance of the class frequencies', () => {
    const label = labelProfile([
      ...Array<string>(50).fill('0'),
      ...Array<string>(25).fill('1'),
      ...Array<string>(25).fill('2'),
    ]);
    const result = predictionDrift(
      'multiclass_classification',
      [...Array<number>(25).fill(0), ...Array<number>(75).fill(2)],
      label,
      'y',
      0.2,
    );
    expect(result.predictionDrift).toBeCloseTo(0.5, 10);
  });

  it('regression: KS between predictions and labels, small for the same distribution', () => {
    const random = seededRandom(3);
    const values = Array.from({ length: 2000 }, () => normal(random) * 10 + 50);
    const label = labelProfile(values.map(String));
    const same = predictionDrift('regression', values.slice(0, 1000), label, 'y', 0.2);
    expect(same.predictionDrift).toBeLessThan(0.05);
    const shifted = predictionDrift(
      'regression',
      values.slice(0, 1000).map((v) => v + 15),
      label,
      'y',
      0.2,
    );
    expect(shifted.predictionDrift).toBeGreaterThan(0.4);
    expect(shifted.meanPredictionShift).toBeGreaterThan(14);
  });
});
