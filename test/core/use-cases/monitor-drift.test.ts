/**
 * MonitorDrift with in-memory ports: matching traffic gives small drift, shifted traffic large
 * drift and the metrics; windows, idempotency, too little traffic, malformed lines.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { DRIFT_NAMESPACE } from '../../../core/domain/drift-metrics';
import { defaultModelConfig, type ModelConfig } from '../../../core/domain/model-config';
import { ResourceNames } from '../../../core/domain/naming';
import type { ModelRecord, VersionRecord } from '../../../core/domain/registry';
import type { MetricBatch, MetricsPublisher } from '../../../core/ports/metrics';
import type { ObjectInfo, ObjectStore } from '../../../core/ports/object-store';
import type { RegistryStore } from '../../../core/ports/registry-store';
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

class MemoryObjects implements ObjectStore {
  readonly objects = new Map<string, string>();
  async read(_bucket: string, key: string) {
    const text = this.objects.get(key);
    if (text === undefined) return undefined;
    return {
      info: { key, size: text.length },
      body: (async function* () {
        yield new TextEncoder().encode(text);
      })(),
    };
  }
  async readText(_bucket: string, key: string) {
    return this.objects.get(key);
  }
  async write(_bucket: string, key: string, body: string | Uint8Array) {
    this.objects.set(key, typeof body === 'string' ? body : new TextDecoder().decode(body));
  }
  async writeStream(_bucket: string, key: string, body: AsyncIterable<string | Uint8Array>) {
    let text = '';
    for await (const chunk of body)
      text += typeof chunk === 'string' ? chunk : new TextDecoder().decode(chunk);
    this.objects.set(key, text);
  }
  async list(_bucket: string, prefix: string): Promise<ObjectInfo[]> {
    return [...this.objects.keys()]
      .filter((key) => key.startsWith(prefix))
      .sort()
      .map((key) => ({ key, size: this.objects.get(key)!.length }));
  }
}

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

function trainingStatistics(count = 2000): string {
  const profiler = new DatasetProfiler(['label', ...FEATURES]);
  for (const row of rows(count, 1)) profiler.add([row[0]! > 0 ? '1' : '0', ...row.map(String)]);
  return JSON.stringify(toStatisticsJson(profiler.finish()));
}

interface Setup {
  readonly objects: MemoryObjects;
  readonly published: MetricBatch[];
  readonly monitor: MonitorDrift;
  readonly ctx: MlopsContext;
}

function setup(
  options: { versions?: VersionRecord[]; config?: ModelConfig; minRecords?: number; baseline?: boolean } = {},
): Setup {
  const objects = new MemoryObjects();
  const config = options.config ?? defaultModelConfig();
  const versions = options.versions ?? [version('churn', 3)];
  if (options.baseline !== false) {
    for (const v of versions) {
      objects.objects.set(`reports/${v.model}/${v.datasetId}/statistics.json`, trainingStatistics());
      objects.objects.set(
        `prepared/${v.model}/${v.datasetId}/schema.json`,
        JSON.stringify({ label: 'label', features: FEATURES }),
      );
    }
  }
  const registry: Pick<RegistryStore, 'listVersionsByStatus' | 'getModel'> = {
    listVersionsByStatus: async (status) => versions.filter((v) => v.status === status),
    getModel: async (model) => {
      const champion = versions.find((v) => v.model === model);
      return champion
        ? ({ model, config, champion: champion.version, nextVersion: 4 } as unknown as ModelRecord)
        : undefined;
    },
  };
  const ctx = {
    registry: registry as RegistryStore,
    objects,
    clock: { now: () => NOW },
    names: new ResourceNames('mlops'),
    log: silentLog,
    bucket: BUCKET,
    region: 'us-east-1',
  } as unknown as MlopsContext;
  const published: MetricBatch[] = [];
  const publisher: MetricsPublisher = { publish: async (batch) => void published.push(batch) };
  return {
    objects,
    published,
    ctx,
    monitor: new MonitorDrift(ctx, publisher, options.minRecords ? { minRecords: options.minRecords } : {}),
  };
}

function version(model: string, n: number): VersionRecord {
  return {
    model,
    version: n,
    status: 'PRODUCTION',
    datasetId: `ds-${model}`,
    trainingJobName: `mlops-${model}-v${n}-abcd`,
    image: 'xgboost',
    hyperparameters: {},
    objectiveMetric: 'validation:auc',
    endpointName: `mlops-${model}`,
  } as VersionRecord;
}

/** Writes capture files for `traffic` rows, `perRequest` rows per invocation, spread over the window. */
function capture(
  objects: MemoryObjects,
  model: string,
  traffic: number[][],
  options: { perRequest?: number; at?: (i: number) => Date; json?: boolean; extraLines?: string[] } = {},
): void {
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
    objects.objects.set(key, [...texts, ...extra].join('\n') + '\n');
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
  beforeEach(() => {
    s = setup();
  });

  it('matching traffic: small drift, published once per model with dimension Model at the window end', async () => {
    capture(s.objects, 'churn', rows(600, 7));
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
    const summary = JSON.parse(s.objects.objects.get(keys.summary)!) as DriftSummary;
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
    const statistics = JSON.parse(s.objects.objects.get(keys.statistics)!) as {
      dataset: { item_count: number };
    };
    expect(statistics.dataset.item_count).toBe(600);
  });

  it('shifted traffic: large feature and prediction drift, the shifted feature named', async () => {
    capture(s.objects, 'churn', rows(600, 7, 2), { json: true });
    const [result] = (await s.monitor.execute()).models;
    if (result?.kind !== 'published') throw new Error(`not published: ${JSON.stringify(result)}`);
    expect(result.drifted).toEqual(['x1']);
    expect(result.figures.featureDriftMax).toBeGreaterThan(0.5);
    expect(result.figures.predictionDrift).toBeGreaterThan(0.3);
    expect(result.figures.meanPredictionShift).toBeGreaterThan(0.3);
    const summary = JSON.parse(
      s.objects.objects.get(monitoringReportKeys('churn', WINDOW.id).summary)!,
    ) as DriftSummary;
    expect(summary.features.find((f) => f.column === 'x2')!.distance).toBeLessThan(0.1);
  });

  it('is idempotent per window: a second run publishes nothing', async () => {
    capture(s.objects, 'churn', rows(300, 7));
    await s.monitor.execute();
    const again = await s.monitor.execute({ window: WINDOW });
    expect(again.models).toEqual([{ kind: 'already-done', model: 'churn', version: 3 }]);
    expect(s.published).toHaveLength(1);
  });

  it('skips a model with too little traffic, publishing nothing and marking nothing done', async () => {
    capture(s.objects, 'churn', rows(99, 7));
    const [result] = (await s.monitor.execute()).models;
    expect(result).toMatchObject({ kind: 'skipped', capturedRecords: 99 });
    expect(s.published).toEqual([]);
    expect(await s.objects.list(BUCKET, 'reports/churn/monitoring/')).toEqual([]);
  });

  it('keeps only the records of the window, counts malformed lines and rows of the wrong width', async () => {
    const inside = rows(200, 7);
    capture(s.objects, 'churn', [...inside, ...rows(200, 8, 5)], {
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
      s.objects.objects.get(monitoringReportKeys('churn', WINDOW.id).summary)!,
    ) as DriftSummary;
    expect(summary).toMatchObject({ malformedLines: 1, rejectedRows: 1 });
  });

  it('skips a model without a training baseline', async () => {
    s = setup({ baseline: false });
    capture(s.objects, 'churn', rows(300, 7));
    const [result] = (await s.monitor.execute()).models;
    expect(result).toMatchObject({
      kind: 'skipped',
      why: 'no training baseline at reports/churn/ds-churn/statistics.json',
    });
    expect(s.published).toEqual([]);
  });

  it('monitors one model on demand, or every model in production', async () => {
    s = setup({ versions: [version('churn', 3), version('fraud', 1)] });
    capture(s.objects, 'churn', rows(300, 7));
    capture(s.objects, 'fraud', rows(300, 9, 3));
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
    s = setup({ versions: [version('churn', 3), version('fraud', 1)] });
    s.objects.objects.set('reports/churn/ds-churn/statistics.json', '{"not":"statistics"}');
    capture(s.objects, 'fraud', rows(300, 9));
    const outcome = await s.monitor.execute();
    expect(outcome.models.map((m) => [m.model, m.kind])).toEqual([
      ['churn', 'failed'],
      ['fraud', 'published'],
    ]);
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
    const label = labelProfile([...Array(70).fill('0'), ...Array(30).fill('1')]);
    const result = predictionDrift(
      'binary_classification',
      [...Array(50).fill(0.9), ...Array(50).fill(0.1)],
      label,
      'y',
      0.2,
    );
    expect(result.predictionDrift).toBeCloseTo(0.2, 10);
    expect(result.meanPredictionShift).toBeCloseTo(0.2, 10);
  });

  it('multiclass: L-infinity distance of the class frequencies', () => {
    const label = labelProfile([...Array(50).fill('0'), ...Array(25).fill('1'), ...Array(25).fill('2')]);
    const result = predictionDrift(
      'multiclass_classification',
      [...Array(25).fill(0), ...Array(75).fill(2)],
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
