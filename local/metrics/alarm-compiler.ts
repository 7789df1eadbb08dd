/**
 * Turns a PutMetricAlarm request into the form the local alarm evaluator runs, refusing what
 * CloudWatch would refuse. Where this stands: local runtime, part of the local CloudWatch alarms
 * (alarm-evaluator.ts); it knows the request's shape, not the metric store or the alarm's state.
 *
 * Two kinds of alarm (CloudWatch API Reference, PutMetricAlarm): single-metric alarms (Namespace,
 * MetricName, Dimensions, Statistic | ExtendedStatistic, Period) and `Metrics` alarms (MetricStat
 * queries and metric-math expressions, one query with ReturnData, or the metric plus the
 * `ThresholdMetricId` band of an anomaly-detection alarm). Not modelled:
 * EvaluateLowSampleCountPercentile, composite and Metrics Insights alarms.
 */
import type { MetricDataQuery, PutMetricAlarmCommandInput } from '@aws-sdk/client-cloudwatch';
import { isBandExpression, parseExpression, referencedIds, type Expr } from './metric-math';
import { isMetricStatistic, type MetricStatistic } from './metric-store';

/** The ComparisonOperator values the local alarms evaluate. */
export type Comparison =
  | 'GreaterThanThreshold'
  | 'GreaterThanOrEqualToThreshold'
  | 'LessThanThreshold'
  | 'LessThanOrEqualToThreshold'
  | 'GreaterThanUpperThreshold'
  | 'LessThanLowerThreshold'
  | 'LessThanLowerOrGreaterThanUpperThreshold';

const STATIC_COMPARISONS: ReadonlySet<string> = new Set([
  'GreaterThanThreshold',
  'GreaterThanOrEqualToThreshold',
  'LessThanThreshold',
  'LessThanOrEqualToThreshold',
]);
const BAND_COMPARISONS: ReadonlySet<string> = new Set([
  'GreaterThanUpperThreshold',
  'LessThanLowerThreshold',
  'LessThanLowerOrGreaterThanUpperThreshold',
]);
const TREAT_MISSING = ['missing', 'notBreaching', 'breaching', 'ignore'] as const;

/** How an alarm counts a period without data (TreatMissingData). */
export type TreatMissing = (typeof TREAT_MISSING)[number];

/** One query of an alarm: a metric read from the store, or a metric-math expression over others. */
export type AlarmQuery =
  | {
      readonly kind: 'metric';
      readonly namespace: string;
      readonly name: string;
      readonly dimensions: Readonly<Record<string, string>>;
      readonly stat: MetricStatistic;
    }
  | { readonly kind: 'expression'; readonly expr: Expr };

/** An alarm ready to evaluate: its settings checked, its queries parsed, keyed by query id. */
export interface CompiledAlarm {
  readonly periodSeconds: number;
  readonly evaluationPeriods: number;
  readonly datapointsToAlarm: number;
  readonly treatMissing: TreatMissing;
  readonly comparison: Comparison;
  /** The static threshold (absent for a band comparison). */
  readonly threshold?: number;
  readonly queries: ReadonlyMap<string, AlarmQuery>;
  /** The query whose value is compared. */
  readonly valueId: string;
  /** The ANOMALY_DETECTION_BAND query a band comparison uses. */
  readonly thresholdId?: string;
  /** The statistic named in reasonData (single-metric alarms). */
  readonly statistic?: string;
}

/** The id the single metric of a single-metric alarm goes by (in its event's `configuration` too). */
export const SINGLE_METRIC_ID = 'm1';

/** Checks a PutMetricAlarm request as CloudWatch would and compiles it; throws on what it would refuse. */
export function compileAlarm(input: PutMetricAlarmCommandInput): CompiledAlarm {
  const name = input.AlarmName as string;
  const fail = (message: string): never => {
    throw new Error(`alarm "${name}": ${message}`);
  };
  // Absent, it fails the check as 0 does.
  const evaluationPeriods = input.EvaluationPeriods ?? 0;
  if (!Number.isInteger(evaluationPeriods) || evaluationPeriods < 1)
    fail('EvaluationPeriods must be an integer >= 1');
  const datapointsToAlarm = input.DatapointsToAlarm ?? evaluationPeriods;
  if (
    !Number.isInteger(datapointsToAlarm) ||
    datapointsToAlarm < 1 ||
    datapointsToAlarm > evaluationPeriods
  ) {
    fail('DatapointsToAlarm must be between 1 and EvaluationPeriods');
  }
  const treatMissing = (input.TreatMissingData ?? 'missing') as TreatMissing;
  if (!TREAT_MISSING.includes(treatMissing))
    fail(`TreatMissingData must be one of ${TREAT_MISSING.join(', ')}`);
  const comparison = input.ComparisonOperator as Comparison;
  const isBand = BAND_COMPARISONS.has(comparison);
  if (!isBand && !STATIC_COMPARISONS.has(comparison))
    fail(`unsupported ComparisonOperator "${String(comparison)}"`);

  const queries = new Map<string, AlarmQuery>();
  let valueId: string;
  let thresholdId: string | undefined;
  let periodSeconds: number | undefined;
  let statistic: string | undefined;

  if (input.Metrics !== undefined && input.Metrics.length > 0) {
    if (input.MetricName !== undefined || input.Namespace !== undefined) {
      fail('use either MetricName/Namespace or Metrics, not both');
    }
    for (const query of input.Metrics) {
      const id = query.Id;
      if (typeof id !== 'string' || !/^[a-z][A-Za-z0-9_]*$/.test(id))
        fail(`invalid query Id "${String(id)}"`);
      if (queries.has(id as string)) fail(`duplicate query Id "${id}"`);
      queries.set(id as string, compileQuery(query, fail));
      const queryPeriod = query.MetricStat?.Period ?? query.Period;
      if (queryPeriod !== undefined) {
        if (periodSeconds !== undefined && periodSeconds !== queryPeriod)
          fail('every query must have the same Period');
        periodSeconds = queryPeriod;
      }
    }
    for (const [id, query] of queries) {
      if (query.kind !== 'expression') continue;
      for (const ref of referencedIds(query.expr)) {
        if (!queries.has(ref)) fail(`query "${id}" refers to unknown id "${ref}"`);
      }
    }
    thresholdId = input.ThresholdMetricId;
    const returned = input.Metrics.filter((query) => query.ReturnData !== false && query.Id !== thresholdId);
    if (returned.length !== 1)
      fail('exactly one query (besides ThresholdMetricId) must have ReturnData true');
    valueId = returned[0]?.Id as string;
  } else {
    if (!input.Namespace || !input.MetricName) fail('Namespace and MetricName (or Metrics) are required');
    const stat = input.ExtendedStatistic ?? input.Statistic;
    if (stat === undefined || !isMetricStatistic(stat)) fail(`unsupported statistic "${String(stat)}"`);
    if (input.Statistic !== undefined && input.ExtendedStatistic !== undefined)
      fail('use either Statistic or ExtendedStatistic');
    statistic = stat;
    valueId = SINGLE_METRIC_ID;
    queries.set(valueId, {
      kind: 'metric',
      namespace: input.Namespace as string,
      name: input.MetricName as string,
      dimensions: dimensionsOf(input.Dimensions),
      stat: stat as MetricStatistic,
    });
    periodSeconds = input.Period;
  }

  if (!(periodSeconds !== undefined && periodSeconds > 0)) fail('Period must be > 0 seconds');
  if (isBand) {
    if (thresholdId === undefined) fail(`${comparison} needs ThresholdMetricId`);
    const band = queries.get(thresholdId as string);
    if (band === undefined || band.kind !== 'expression' || !isBandExpression(band.expr)) {
      fail('ThresholdMetricId must name an ANOMALY_DETECTION_BAND expression');
    }
  } else {
    if (thresholdId !== undefined) fail(`${comparison} cannot be used with ThresholdMetricId`);
    if (typeof input.Threshold !== 'number' || !Number.isFinite(input.Threshold))
      fail('Threshold is required');
  }

  return {
    periodSeconds: periodSeconds as number,
    evaluationPeriods,
    datapointsToAlarm,
    treatMissing,
    comparison,
    ...(isBand ? { thresholdId } : { threshold: input.Threshold }),
    queries,
    valueId,
    ...(statistic !== undefined ? { statistic } : {}),
  };
}

function compileQuery(query: MetricDataQuery, fail: (message: string) => never): AlarmQuery {
  if (query.Expression !== undefined && query.MetricStat !== undefined)
    fail(`query "${query.Id}" has both Expression and MetricStat`);
  if (query.Expression !== undefined) {
    try {
      return { kind: 'expression', expr: parseExpression(query.Expression) };
    } catch (error) {
      return fail(`query "${query.Id}": ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  const stat = query.MetricStat;
  if (stat === undefined) return fail(`query "${query.Id}" needs Expression or MetricStat`);
  const metric = stat.Metric;
  if (!metric?.Namespace || !metric.MetricName)
    fail(`query "${query.Id}" needs Metric.Namespace and Metric.MetricName`);
  if (stat.Stat === undefined || !isMetricStatistic(stat.Stat))
    fail(`query "${query.Id}": unsupported Stat "${String(stat.Stat)}"`);
  return {
    kind: 'metric',
    namespace: metric.Namespace,
    name: metric.MetricName,
    dimensions: dimensionsOf(metric.Dimensions),
    stat: stat.Stat,
  };
}

/** A request's `[{ Name, Value }]` dimensions as the store's `{ name: value }` (incomplete pairs dropped). */
export function dimensionsOf(
  dimensions: readonly { Name?: string | undefined; Value?: string | undefined }[] | undefined,
): Record<string, string> {
  const result: Record<string, string> = {};
  for (const dimension of dimensions ?? []) {
    if (dimension.Name !== undefined && dimension.Value !== undefined)
      result[dimension.Name] = dimension.Value;
  }
  return result;
}
