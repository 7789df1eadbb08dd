/**
 * Reads an alarm's evaluation range from the local metric store: resolves its queries (metrics
 * and metric math) and says of each evaluated period whether it is breaching, not breaching or
 * missing. Where this stands: local runtime, part of the local CloudWatch alarms
 * (alarm-evaluator.ts, which turns the periods into a state).
 *
 * As CloudWatch does it (CloudWatch User Guide, "Using Amazon CloudWatch alarms": evaluation
 * period): one period lasts `time.ms(Period)` real milliseconds; periods are aligned on multiples
 * of that length and only complete periods are evaluated: the last `EvaluationPeriods` of them. An
 * anomaly band also reads the periods before them that it learns from. Not modelled: CloudWatch
 * looking further back than the evaluation range when data is missing.
 */
import type { LocalTime } from '../contracts';
import type { Comparison, CompiledAlarm } from './alarm-compiler';
import { evaluateExpression, values, type AnomalyBandOptions, type MathValue } from './metric-math';
import { periodStart, type LocalMetricStore } from './metric-store';

/** One evaluated period. */
export interface Datapoint {
  /** Start of the period, epoch milliseconds. */
  readonly timestamp: number;
  /** NaN when the period has no data point. */
  readonly value: number;
  /** The band's bounds (band comparisons). */
  readonly lower?: number;
  readonly upper?: number;
  /** The static threshold (static comparisons). */
  readonly threshold?: number;
  readonly status: 'breaching' | 'ok' | 'missing';
}

/** The evaluated periods of one evaluation, oldest first, and where they start. */
export interface EvaluationRange {
  readonly datapoints: readonly Datapoint[];
  /** Start of the first evaluated period, epoch milliseconds. */
  readonly start: number;
}

/** What reading an evaluation range needs besides the alarm. */
export interface EvaluationSources {
  readonly metrics: Pick<LocalMetricStore, 'query'>;
  readonly time: LocalTime;
  /** How anomaly bands learn (see metric-math.ts). */
  readonly anomaly: AnomalyBandOptions;
}

/**
 * The last `evaluationPeriods` complete periods before `now`, each classified against the alarm's
 * threshold or band. Throws when a query cannot be resolved (unknown id, a cycle, a threshold
 * query that is not a band).
 */
export function readEvaluationRange(
  alarm: CompiledAlarm,
  now: Date,
  sources: EvaluationSources,
): EvaluationRange {
  const periodMs = sources.time.ms(alarm.periodSeconds);
  const usesBand = alarm.thresholdId !== undefined;
  const history = usesBand ? sources.anomaly.trainingPeriods : 0;
  const length = history + alarm.evaluationPeriods;
  const end = periodStart(now.getTime(), periodMs); // the current period is not complete yet
  const start = end - length * periodMs;

  const cache = new Map<string, MathValue>();
  const resolving = new Set<string>();
  const resolve = (id: string): MathValue => {
    const cached = cache.get(id);
    if (cached !== undefined) return cached;
    const query = alarm.queries.get(id);
    if (query === undefined) throw new Error(`expression refers to unknown query id "${id}"`);
    if (resolving.has(id)) throw new Error(`query "${id}" refers to itself`);
    resolving.add(id);
    let value: MathValue;
    if (query.kind === 'metric') {
      const slots = new Array<number>(length).fill(Number.NaN);
      const points = sources.metrics.query({
        namespace: query.namespace,
        name: query.name,
        dimensions: query.dimensions,
        stat: query.stat,
        periodMs,
        start: new Date(start),
        end: new Date(end),
      });
      for (const point of points) {
        const index = Math.round((point.timestamp.getTime() - start) / periodMs);
        if (index >= 0 && index < length) slots[index] = point.value;
      }
      value = { kind: 'series', values: slots };
    } else {
      value = evaluateExpression(query.expr, { length, resolve, anomaly: sources.anomaly });
    }
    resolving.delete(id);
    cache.set(id, value);
    return value;
  };

  const metric = values(resolve(alarm.valueId), length);
  let lower: readonly number[] | undefined;
  let upper: readonly number[] | undefined;
  if (alarm.thresholdId !== undefined) {
    const band = resolve(alarm.thresholdId);
    if (band.kind !== 'band')
      throw new Error(`ThresholdMetricId "${alarm.thresholdId}" is not an ANOMALY_DETECTION_BAND`);
    lower = band.lower;
    upper = band.upper;
  }

  const datapoints: Datapoint[] = [];
  for (let i = history; i < length; i++) {
    const value = metric[i] as number;
    const timestamp = start + i * periodMs;
    if (lower !== undefined && upper !== undefined) {
      const lo = lower[i] as number;
      const hi = upper[i] as number;
      const missing = Number.isNaN(value) || Number.isNaN(lo) || Number.isNaN(hi);
      const breaching = !missing && crossesBand(alarm.comparison, value, lo, hi);
      datapoints.push({
        timestamp,
        value,
        lower: lo,
        upper: hi,
        status: missing ? 'missing' : breaching ? 'breaching' : 'ok',
      });
    } else {
      const threshold = alarm.threshold as number;
      const missing = Number.isNaN(value);
      datapoints.push({
        timestamp,
        value,
        threshold,
        status: missing
          ? 'missing'
          : crossesThreshold(alarm.comparison, value, threshold)
            ? 'breaching'
            : 'ok',
      });
    }
  }
  return { datapoints, start: start + history * periodMs };
}

function crossesThreshold(comparison: Comparison, value: number, threshold: number): boolean {
  switch (comparison) {
    case 'GreaterThanThreshold':
      return value > threshold;
    case 'GreaterThanOrEqualToThreshold':
      return value >= threshold;
    case 'LessThanThreshold':
      return value < threshold;
    case 'LessThanOrEqualToThreshold':
      return value <= threshold;
    default:
      return false;
  }
}

function crossesBand(comparison: Comparison, value: number, lower: number, upper: number): boolean {
  return (
    (comparison === 'GreaterThanUpperThreshold' && value > upper) ||
    (comparison === 'LessThanLowerThreshold' && value < lower) ||
    (comparison === 'LessThanLowerOrGreaterThanUpperThreshold' && (value < lower || value > upper))
  );
}
