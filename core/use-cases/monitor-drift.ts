/**
 * Use case: live drift. Where this stands: core use case, called by the monitor handler (hourly
 * schedule, or `{ "model": "<name>" }` on demand) and by the local cloud on its schedule and by
 * `mlops monitor`.
 *
 * For each model with a version in PRODUCTION (the registry's status index), over one window of
 * time (by default the last complete hour):
 * 1. read the endpoint's data capture of the window: `capture/<model>/<endpoint>/<variant>/yyyy/mm/dd/hh/`
 *    for every hour the window touches, keeping the records whose inferenceTime is in the window;
 * 2. profile the captured inputs, the columns named by the training schema
 *    (`prepared/<model>/<dataset>/schema.json`: `{label, features}`, the order the model reads),
 *    and the captured predictions;
 * 3. compare them with the champion's training baseline (`reports/<model>/<dataset>/statistics.json`,
 *    Model Monitor format, written by ingest for the version's dataset);
 * 4. publish, in namespace `ServerlessMlops/Drift` with dimension `Model` (core/domain/drift-metrics.ts):
 *    `FeatureDriftMax`, `PredictionDrift`, `MeanPredictionShift` and `CapturedRecords`, timestamped at
 *    the end of the window (its last millisecond), so the data point falls in the window's own alarm
 *    period;
 * 5. write the window's `statistics.json` and `drift.json` (summary) under
 *    `reports/<model>/monitoring/<window-id>/`.
 *
 * Prediction drift: the training data has labels, not predictions, so the baseline is the label
 * distribution of the training data, compared in the label's own terms:
 * - binary classification: predicted class (score ≥ 0.5) frequencies against the label
 *   frequencies, L-infinity distance = |predicted positive rate − training positive rate|;
 * - multiclass: predicted class frequencies against the label frequencies, L-infinity distance;
 * - regression: KS statistic between the predictions and the training labels.
 * A model that learned the training data predicts about its base rate, so this stays small while
 * the world does not move; a shift of the predicted rate or of the predicted values raises it.
 * `MeanPredictionShift` = |mean prediction (score) − mean training label|.
 *
 * Rules:
 * - a window with fewer than `minRecords` captured input rows (default 100) publishes nothing for
 *   that model: a KS distance over a handful of rows is noise (its 95 % critical value is about
 *   1.36/√n: 0.136 at n = 100, under the default alarm threshold of 0.2);
 * - idempotent per model and window: when `drift.json` of the window exists the model is skipped
 *   (`already-done`). Metrics are published before the summary is written, so a crash in between
 *   publishes the same values again on the retry, which leaves the alarms' Maximum unchanged;
 * - a malformed capture line is counted and skipped; a missing baseline skips the model with a
 *   reason; one model's failure does not stop the others (it is reported and logged).
 */
import { parseCapture } from '../domain/capture';
import {
  DRIFT_DIMENSION,
  DRIFT_METRICS,
  DRIFT_NAMESPACE,
  DRIFT_WINDOW_SECONDS,
} from '../domain/drift-metrics';
import type { ModelConfig } from '../domain/model-config';
import { capturePrefix, monitoringReportKeys, preparedKeys, reportKeys } from '../domain/naming';
import type { VersionRecord } from '../domain/registry';
import type { MetricsPublisher } from '../ports/metrics';
import type { ColumnProfile, DatasetProfile, DriftReport } from '../profiling/api';
import { compareProfiles } from '../profiling/drift';
import { fromStatisticsJson, toStatisticsJson } from '../profiling/model-monitor';
import { DatasetProfiler } from '../profiling/profiler';
import type { MlopsContext } from './context';
import { VARIANT_NAME } from './deploy-version';

/** Fewest captured input rows in a window for the monitor to publish drift. */
const DEFAULT_MIN_RECORDS = 100;

/** A window of time: `[start, end)`, and its id in report keys. */
export interface MonitoringWindow {
  readonly start: Date;
  readonly end: Date;
  /** `20250603T110000Z-20250603T120000Z` */
  readonly id: string;
}

/** The window `[start, end)`. */
export function monitoringWindow(start: Date, end: Date): MonitoringWindow {
  if (!(end.getTime() > start.getTime()))
    throw new RangeError('a monitoring window must end after it starts');
  return { start, end, id: `${compactTime(start)}-${compactTime(end)}` };
}

/** The last complete window of `lengthMs` before `at`, windows aligned on multiples of `lengthMs` since the epoch. */
export function lastCompleteWindow(
  at: Date,
  lengthMs: number = DRIFT_WINDOW_SECONDS * 1000,
): MonitoringWindow {
  const end = Math.floor(at.getTime() / lengthMs) * lengthMs;
  return monitoringWindow(new Date(end - lengthMs), new Date(end));
}

/** The window of `lengthMs` that ends at `at` (on-demand runs). */
export function trailingWindow(at: Date, lengthMs: number = DRIFT_WINDOW_SECONDS * 1000): MonitoringWindow {
  return monitoringWindow(new Date(at.getTime() - lengthMs), at);
}

/** The drift figures of one model and window. */
export interface DriftFigures {
  readonly featureDriftMax: number;
  readonly predictionDrift?: number;
  readonly meanPredictionShift?: number;
  readonly capturedRecords: number;
}

/** What the drift monitor did for one model's champion in a window. */
export type ModelDriftOutcome =
  | {
      readonly kind: 'published';
      readonly model: string;
      readonly version: number;
      readonly figures: DriftFigures;
      /** Features whose distance is above the model's feature drift threshold. */
      readonly drifted: readonly string[];
      readonly malformed: number;
    }
  | { readonly kind: 'already-done'; readonly model: string; readonly version: number }
  | {
      readonly kind: 'skipped';
      readonly model: string;
      readonly version: number;
      readonly why: string;
      readonly capturedRecords?: number;
    }
  | { readonly kind: 'failed'; readonly model: string; readonly version: number; readonly error: string };

/** What one run of the drift monitor did: its window, and each model's outcome. */
export interface MonitorOutcome {
  readonly kind: 'monitored';
  readonly window: { readonly start: string; readonly end: string; readonly id: string };
  readonly models: readonly ModelDriftOutcome[];
}

/** Tuning of {@link MonitorDrift}. */
export interface MonitorDriftOptions {
  /** Fewest captured input rows in a window to publish drift. @default {@link DEFAULT_MIN_RECORDS} */
  readonly minRecords?: number;
  /** Length of a monitoring window in milliseconds (the local cloud scales it). @default one hour */
  readonly windowMs?: number;
}

/**
 * Which window to monitor:
 * - `scheduledAt`: a scheduled run: the last complete window before the schedule's time, so that a
 *   retried or late delivery of the same event monitors the same window (and finds it done);
 * - `endingNow`: an on-demand run: the window ending now, of `lengthMs` (default: the window length);
 * - `window`: exactly this one;
 * - none: the last complete window before now.
 */
export interface MonitorRequest {
  readonly model?: string;
  readonly window?: MonitoringWindow;
  readonly scheduledAt?: Date;
  readonly endingNow?: boolean;
  readonly lengthMs?: number;
}

/** What the summary `drift.json` holds. */
export interface DriftSummary {
  readonly model: string;
  readonly version: number;
  readonly datasetId: string;
  readonly window: { readonly start: string; readonly end: string; readonly id: string };
  readonly capturedRecords: number;
  readonly predictions: number;
  readonly malformedLines: number;
  readonly rejectedRows: number;
  readonly metrics: DriftFigures;
  readonly thresholds: { readonly featureDrift: number; readonly predictionDrift: number };
  readonly features: DriftReport['columns'];
  readonly drifted: readonly string[];
  readonly publishedAt: string;
}

/** Training schema written next to the prepared channels. */
interface TrainingSchema {
  readonly label: string;
  readonly features: readonly string[];
}

/** Use case: compare an hour of each champion's captured traffic with its training baseline, and publish the drift. */
export class MonitorDrift {
  private readonly minRecords: number;
  private readonly windowMs: number;

  constructor(
    private readonly ctx: MlopsContext,
    private readonly metrics: MetricsPublisher,
    options: MonitorDriftOptions = {},
  ) {
    this.minRecords = options.minRecords ?? DEFAULT_MIN_RECORDS;
    this.windowMs = options.windowMs ?? DRIFT_WINDOW_SECONDS * 1000;
    if (!Number.isInteger(this.minRecords) || this.minRecords < 1)
      throw new RangeError(`minRecords must be a positive integer, got ${this.minRecords}`);
  }

  /**
   * Monitors every model in production (or only `model`) over `window`.
   * @param window default: the last complete hour before now
   */
  async execute(request: MonitorRequest = {}): Promise<MonitorOutcome> {
    const { ctx } = this;
    const window =
      request.window ??
      (request.endingNow
        ? trailingWindow(ctx.clock.now(), request.lengthMs ?? this.windowMs)
        : lastCompleteWindow(request.scheduledAt ?? ctx.clock.now(), request.lengthMs ?? this.windowMs));
    const champions = (await ctx.registry.listVersionsByStatus('PRODUCTION'))
      .filter((v) => request.model === undefined || v.model === request.model)
      .sort((a, b) => a.model.localeCompare(b.model) || a.version - b.version);
    const models: ModelDriftOutcome[] = [];
    for (const version of champions) {
      try {
        models.push(await this.monitorModel(version, window));
      } catch (error) {
        ctx.log.error('drift monitoring of a model failed', {
          model: version.model,
          version: version.version,
          window: window.id,
          error: String(error),
        });
        models.push({ kind: 'failed', model: version.model, version: version.version, error: String(error) });
      }
    }
    return {
      kind: 'monitored',
      window: { start: window.start.toISOString(), end: window.end.toISOString(), id: window.id },
      models,
    };
  }

  private async monitorModel(version: VersionRecord, window: MonitoringWindow): Promise<ModelDriftOutcome> {
    const { ctx } = this;
    const { model } = version;
    const base = { model, version: version.version };
    const keys = monitoringReportKeys(model, window.id);
    if ((await ctx.objects.readText(ctx.bucket, keys.summary)) !== undefined)
      return { kind: 'already-done', ...base };

    const modelRecord = await ctx.registry.getModel(model);
    if (modelRecord?.champion !== undefined && modelRecord.champion !== version.version)
      return { kind: 'skipped', ...base, why: `v${version.version} is no longer the champion` };
    const config = modelRecord?.config;
    if (!config) return { kind: 'skipped', ...base, why: 'the model has no config' };

    const baselineKey = reportKeys(model, version.datasetId).statistics;
    const baselineText = await ctx.objects.readText(ctx.bucket, baselineKey);
    if (baselineText === undefined)
      return { kind: 'skipped', ...base, why: `no training baseline at ${baselineKey}` };
    const baseline = fromStatisticsJson(JSON.parse(baselineText) as unknown);
    const schema = await this.schema(model, version.datasetId, config, baseline);

    // 1-2. Captured traffic of the window, profiled.
    const inputs = new DatasetProfiler(schema.features);
    const predictions: number[] = [];
    let malformedLines = 0;
    let rejectedRows = 0;
    let capturedRecords = 0;
    const endpointName = version.endpointName ?? ctx.names.endpoint(model);
    for (const key of await this.captureKeys(model, endpointName, window)) {
      const text = await ctx.objects.readText(ctx.bucket, key);
      if (text === undefined) continue;
      const parsed = parseCapture(text, { featureNames: schema.features });
      malformedLines += parsed.malformed;
      for (const problem of parsed.problems) ctx.log.warn('malformed capture line skipped', { key, problem });
      for (const event of parsed.events) {
        if (!inWindow(event.inferenceTime, window)) continue;
        for (const row of event.inputs) {
          if (row.length !== schema.features.length) {
            rejectedRows++;
            continue;
          }
          inputs.add(row);
          capturedRecords++;
        }
        for (const p of event.predictions) predictions.push(p);
      }
    }
    if (capturedRecords < this.minRecords) {
      return {
        kind: 'skipped',
        ...base,
        why: `${capturedRecords} captured record(s) in the window; at least ${this.minRecords} are needed`,
        capturedRecords,
      };
    }

    // 3. Against the training baseline.
    const current = inputs.finish();
    const featureSet = new Set(schema.features);
    const baselineFeatures: DatasetProfile = {
      rows: baseline.rows,
      columns: baseline.columns.filter((c) => featureSet.has(c.name)),
    };
    const m = config.monitoring;
    const report = compareProfiles(current, baselineFeatures, {
      distance: m.featureDriftThreshold,
      psi: config.dataQuality.psiThreshold,
    });
    const featureColumns = report.columns.filter((c) => featureSet.has(c.column));
    const featureDriftMax = featureColumns.reduce((max, c) => Math.max(max, c.distance), 0);
    const labelColumn = baseline.columns.find((c) => c.name === schema.label);
    const prediction =
      labelColumn && predictions.length >= this.minRecords
        ? predictionDrift(
            config.problemType,
            predictions,
            labelColumn,
            schema.label,
            m.predictionDriftThreshold,
          )
        : undefined;
    const figures: DriftFigures = {
      featureDriftMax,
      ...(prediction ? prediction : {}),
      capturedRecords,
    };

    // 4. Metrics, then 5. the reports (the summary marks the window done).
    await this.metrics.publish({
      namespace: DRIFT_NAMESPACE,
      dimensions: { [DRIFT_DIMENSION]: model },
      timestamp: new Date(window.end.getTime() - 1),
      metrics: [
        { name: DRIFT_METRICS.featureDriftMax, value: featureDriftMax, unit: 'None' },
        ...(prediction
          ? [
              {
                name: DRIFT_METRICS.predictionDrift,
                value: prediction.predictionDrift,
                unit: 'None' as const,
              },
              {
                name: DRIFT_METRICS.meanPredictionShift,
                value: prediction.meanPredictionShift,
                unit: 'None' as const,
              },
            ]
          : []),
        { name: DRIFT_METRICS.capturedRecords, value: capturedRecords, unit: 'Count' },
      ],
    });
    const drifted = featureColumns.filter((c) => c.distance > m.featureDriftThreshold).map((c) => c.column);
    const summary: DriftSummary = {
      model,
      version: version.version,
      datasetId: version.datasetId,
      window: { start: window.start.toISOString(), end: window.end.toISOString(), id: window.id },
      capturedRecords,
      predictions: predictions.length,
      malformedLines,
      rejectedRows,
      metrics: figures,
      thresholds: { featureDrift: m.featureDriftThreshold, predictionDrift: m.predictionDriftThreshold },
      features: featureColumns,
      drifted,
      publishedAt: ctx.clock.now().toISOString(),
    };
    await ctx.objects.write(
      ctx.bucket,
      keys.statistics,
      JSON.stringify(toStatisticsJson(current), null, 2),
      'application/json',
    );
    await ctx.objects.write(ctx.bucket, keys.summary, JSON.stringify(summary, null, 2), 'application/json');
    ctx.log.info('drift published', {
      model,
      version: version.version,
      window: window.id,
      ...figures,
      drifted,
    });
    return { kind: 'published', ...base, figures, drifted, malformed: malformedLines };
  }

  /** The training schema: `schema.json` next to the prepared channels, else the baseline's columns minus the label. */
  private async schema(
    model: string,
    datasetId: string,
    config: ModelConfig,
    baseline: DatasetProfile,
  ): Promise<TrainingSchema> {
    const key = preparedKeys(model, datasetId).schema;
    const text = await this.ctx.objects.readText(this.ctx.bucket, key);
    if (text !== undefined) {
      const parsed = JSON.parse(text) as Partial<TrainingSchema>;
      if (
        typeof parsed.label === 'string' &&
        Array.isArray(parsed.features) &&
        parsed.features.every((f) => typeof f === 'string')
      ) {
        return { label: parsed.label, features: parsed.features };
      }
      this.ctx.log.warn('unreadable training schema; using the baseline columns', { key });
    }
    return {
      label: config.labelColumn,
      features: baseline.columns.map((c) => c.name).filter((name) => name !== config.labelColumn),
    };
  }

  /** Capture objects of the hours the window touches, in key order. */
  private async captureKeys(
    model: string,
    endpointName: string,
    window: MonitoringWindow,
  ): Promise<string[]> {
    const hourMs = 3_600_000;
    const keys: string[] = [];
    const first = Math.floor(window.start.getTime() / hourMs) * hourMs;
    for (let hour = first; hour < window.end.getTime(); hour += hourMs) {
      const prefix = `${capturePrefix(model)}${endpointName}/${VARIANT_NAME}/${hourPath(new Date(hour))}/`;
      for (const object of await this.ctx.objects.list(this.ctx.bucket, prefix)) {
        if (object.key.endsWith('.jsonl')) keys.push(object.key);
      }
    }
    return keys;
  }
}

/** Prediction drift and mean shift against the training labels (see the file comment). */
export function predictionDrift(
  problemType: ModelConfig['problemType'],
  predictions: readonly number[],
  label: ColumnProfile,
  labelName: string,
  threshold: number,
): { predictionDrift: number; meanPredictionShift: number } {
  const mean = predictions.reduce((sum, p) => sum + p, 0) / predictions.length;
  const labelMean = label.numeric?.mean ?? labelFrequencies(label).get('1') ?? 0;
  const meanPredictionShift = Math.abs(mean - labelMean);
  if (problemType === 'regression') {
    const profiler = new DatasetProfiler([labelName]);
    for (const p of predictions) profiler.add([String(p)]);
    const report = compareProfiles(
      profiler.finish(),
      { rows: label.present + label.missing, columns: [label] },
      { distance: threshold, psi: Number.POSITIVE_INFINITY },
    );
    return { predictionDrift: report.columns[0]?.distance ?? report.maxDistance, meanPredictionShift };
  }
  const predicted = new Map<string, number>();
  for (const p of predictions) {
    const cls = problemType === 'binary_classification' ? (p >= 0.5 ? '1' : '0') : String(Math.round(p));
    predicted.set(cls, (predicted.get(cls) ?? 0) + 1);
  }
  const expected = labelFrequencies(label);
  let distance = 0;
  for (const cls of new Set([...predicted.keys(), ...expected.keys()])) {
    const observed = (predicted.get(cls) ?? 0) / predictions.length;
    distance = Math.max(distance, Math.abs(observed - (expected.get(cls) ?? 0)));
  }
  return { predictionDrift: distance, meanPredictionShift };
}

/**
 * Class frequencies of a label column. A numeric label (Model Monitor keeps no top values for
 * numeric columns) is read from its quantile sketch: the share of class k is
 * rank(k + 0.5) − rank(k − 0.5); text labels from their top values (`true`/`false` read as 1/0).
 */
function labelFrequencies(label: ColumnProfile): Map<string, number> {
  const frequencies = new Map<string, number>();
  const sketch = label.numeric?.sketch;
  if (sketch && sketch.count > 0) {
    const low = Math.max(0, Math.floor(label.numeric.min));
    const high = Math.min(low + 1000, Math.ceil(label.numeric.max));
    for (let k = low; k <= high; k++) {
      const share = sketch.rank(k + 0.5) - sketch.rank(k - 0.5);
      if (share > 0) frequencies.set(String(k), share);
    }
    return frequencies;
  }
  const total = label.topValues.reduce((sum, v) => sum + v.count, 0) || 1;
  for (const { value, count } of label.topValues) {
    const lower = value.trim().toLowerCase();
    const key =
      lower === 'true'
        ? '1'
        : lower === 'false'
          ? '0'
          : Number.isFinite(Number(lower))
            ? String(Number(lower))
            : value;
    frequencies.set(key, (frequencies.get(key) ?? 0) + count / total);
  }
  return frequencies;
}

/** A record is in the window when its inference time (to the second) is; a record without one is kept. */
function inWindow(at: Date | undefined, window: MonitoringWindow): boolean {
  if (!at) return true;
  const t = at.getTime();
  const startSecond = Math.floor(window.start.getTime() / 1000) * 1000;
  return t >= startSecond && t < window.end.getTime();
}

function hourPath(at: Date): string {
  const p2 = (n: number) => String(n).padStart(2, '0');
  return `${at.getUTCFullYear()}/${p2(at.getUTCMonth() + 1)}/${p2(at.getUTCDate())}/${p2(at.getUTCHours())}`;
}

function compactTime(at: Date): string {
  return at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.000Z$/, 'Z');
}
