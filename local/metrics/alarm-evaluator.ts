/**
 * The local cloud's CloudWatch alarms: it stores PutMetricAlarm inputs as they are (the very
 * requests the AWS adapter sends), evaluates them against the local metric store and publishes a
 * "CloudWatch Alarm State Change" event on each transition. Where this stands: local runtime; the
 * local alarm service puts alarms, local endpoints read states to roll back a blue/green update.
 *
 * Evaluation, as CloudWatch does it (CloudWatch User Guide, "Using Amazon CloudWatch alarms":
 * evaluation period, datapoints to alarm, "Configuring how CloudWatch alarms treat missing data";
 * API Reference, PutMetricAlarm):
 * - one period lasts `time.ms(Period)` real milliseconds; periods are aligned on multiples of that
 *   length and only complete periods are evaluated: the last `EvaluationPeriods` of them;
 * - a period is breaching, not breaching or missing; missing periods count as breaching /
 *   not breaching under `TreatMissingData` breaching / notBreaching;
 * - `DatapointsToAlarm` (default `EvaluationPeriods`) breaching periods -> ALARM; otherwise, when
 *   every period is missing, `missing` (the default) -> INSUFFICIENT_DATA and `ignore` -> the
 *   state is kept; otherwise -> OK;
 * - a new alarm starts in INSUFFICIENT_DATA; PutMetricAlarm on an existing alarm replaces its
 *   configuration and leaves its state unchanged;
 * - single-metric alarms (Namespace, MetricName, Dimensions, Statistic | ExtendedStatistic,
 *   Period) and `Metrics` alarms (MetricStat queries and metric-math expressions, one query with
 *   ReturnData, or the metric plus the `ThresholdMetricId` band of an anomaly-detection alarm).
 * Not modelled: CloudWatch looking further back than the evaluation range when data is missing,
 * EvaluateLowSampleCountPercentile, alarm actions (state changes reach handlers through the bus),
 * composite and Metrics Insights alarms.
 */
import { randomUUID } from 'node:crypto';
import type { MetricDataQuery, PutMetricAlarmCommandInput } from '@aws-sdk/client-cloudwatch';
import {
  LOCAL_ACCOUNT,
  LOCAL_REGION,
  type AlarmStateReader,
  type CloudEvent,
  type EventPublisher,
  type LocalTime,
} from '../contracts';
import { isMetricStatistic, periodStart, type LocalMetricStore, type MetricStatistic } from './metric-store';
import {
  DEFAULT_ANOMALY_BAND,
  evaluateExpression,
  isBandExpression,
  parseExpression,
  referencedIds,
  values,
  type AnomalyBandOptions,
  type Expr,
  type MathValue,
} from './metric-math';

export type AlarmStateValue = 'OK' | 'ALARM' | 'INSUFFICIENT_DATA';

export interface AlarmDescription {
  readonly state: AlarmStateValue;
  readonly reason: string;
  /** JSON, as StateReasonData. */
  readonly reasonData: string;
  /** When the state last changed (StateTransitionedTimestamp). */
  readonly updatedAt: Date;
  readonly input: PutMetricAlarmCommandInput;
}

export interface AlarmStateChange {
  readonly alarmName: string;
  readonly previousState: AlarmStateValue;
  readonly state: AlarmStateValue;
  readonly reason: string;
  readonly at: Date;
  /** The event published for the change. */
  readonly event: CloudEvent;
}

export interface LocalAlarmEvaluatorOptions {
  readonly metrics: Pick<LocalMetricStore, 'query'>;
  readonly events: EventPublisher;
  readonly time: LocalTime;
  /** @default () => new Date() */
  readonly now?: () => Date;
  /** Real milliseconds between two evaluations after start(). @default time.ms(60) */
  readonly evaluationIntervalMs?: number;
  /** How the local anomaly band learns (see metric-math.ts). */
  readonly anomalyDetection?: Partial<AnomalyBandOptions>;
  /** Told about an alarm that cannot be evaluated. @default console.error */
  readonly onError?: (alarmName: string, error: unknown) => void;
}

type Comparison =
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
type TreatMissing = (typeof TREAT_MISSING)[number];

type Query =
  | {
      readonly kind: 'metric';
      readonly namespace: string;
      readonly name: string;
      readonly dimensions: Readonly<Record<string, string>>;
      readonly stat: MetricStatistic;
    }
  | { readonly kind: 'expression'; readonly expr: Expr };

interface CompiledAlarm {
  readonly periodSeconds: number;
  readonly evaluationPeriods: number;
  readonly datapointsToAlarm: number;
  readonly treatMissing: TreatMissing;
  readonly comparison: Comparison;
  readonly threshold?: number;
  readonly queries: ReadonlyMap<string, Query>;
  readonly valueId: string;
  readonly thresholdId?: string;
  /** The statistic named in reasonData (single-metric alarms). */
  readonly statistic?: string;
}

interface AlarmRecord {
  input: PutMetricAlarmCommandInput;
  compiled: CompiledAlarm;
  state: AlarmStateValue;
  reason: string;
  reasonData: string;
  updatedAt: Date;
}

/** One evaluated period. */
interface Datapoint {
  readonly timestamp: number;
  /** NaN when the period has no data point. */
  readonly value: number;
  readonly lower?: number;
  readonly upper?: number;
  readonly threshold?: number;
  readonly status: 'breaching' | 'ok' | 'missing';
}

const SINGLE_METRIC_ID = 'm1';

export class LocalAlarmEvaluator implements AlarmStateReader {
  private readonly alarms = new Map<string, AlarmRecord>();
  private readonly now: () => Date;
  private readonly anomaly: AnomalyBandOptions;
  private readonly onError: (alarmName: string, error: unknown) => void;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: LocalAlarmEvaluatorOptions) {
    this.now = options.now ?? (() => new Date());
    this.anomaly = { ...DEFAULT_ANOMALY_BAND, ...options.anomalyDetection };
    this.onError =
      options.onError ?? ((name, error) => console.error(`[alarms] cannot evaluate ${name}:`, error));
  }

  /** Creates or replaces an alarm (PutMetricAlarm). Throws on an input CloudWatch would reject. */
  putMetricAlarm(input: PutMetricAlarmCommandInput): void {
    const name = input.AlarmName;
    if (typeof name !== 'string' || name === '') throw new Error('AlarmName is required');
    const copy = structuredClone(input);
    const compiled = compileAlarm(copy);
    const existing = this.alarms.get(name);
    if (existing !== undefined) {
      existing.input = copy;
      existing.compiled = compiled;
      return;
    }
    this.alarms.set(name, {
      input: copy,
      compiled,
      state: 'INSUFFICIENT_DATA',
      reason: 'Unchecked: Initial alarm creation',
      reasonData: '',
      updatedAt: this.now(),
    });
  }

  deleteAlarm(name: string): boolean {
    return this.alarms.delete(name);
  }

  names(): string[] {
    return [...this.alarms.keys()];
  }

  describe(name: string): AlarmDescription | undefined {
    const alarm = this.alarms.get(name);
    if (alarm === undefined) return undefined;
    return {
      state: alarm.state,
      reason: alarm.reason,
      reasonData: alarm.reasonData,
      updatedAt: new Date(alarm.updatedAt),
      input: structuredClone(alarm.input),
    };
  }

  states(names: readonly string[]): ReadonlyMap<string, AlarmStateValue> {
    const result = new Map<string, AlarmStateValue>();
    for (const name of names) {
      const alarm = this.alarms.get(name);
      if (alarm !== undefined) result.set(name, alarm.state);
    }
    return result;
  }

  /** Evaluates every alarm periodically (the timer does not keep the process alive). */
  start(): void {
    if (this.timer !== undefined) return;
    const interval = this.options.evaluationIntervalMs ?? this.options.time.ms(60);
    this.timer = setInterval(() => this.evaluateNow(), interval);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Evaluates every alarm once; returns the state changes (each one also published). */
  evaluateNow(): ReadonlyArray<AlarmStateChange> {
    const changes: AlarmStateChange[] = [];
    const now = this.now();
    for (const [name, alarm] of this.alarms) {
      try {
        const outcome = this.evaluate(alarm, now);
        if (outcome === undefined || outcome.state === alarm.state) continue;
        changes.push(this.transition(name, alarm, outcome.state, outcome.reason, outcome.reasonData, now));
      } catch (error) {
        this.onError(name, error);
      }
    }
    return changes;
  }

  /**
   * Sets the state (SetAlarmState): publishes the change if the state differs; the next evaluation
   * may change it back. Throws when the alarm does not exist.
   */
  setState(
    name: string,
    state: AlarmStateValue,
    reason: string,
    reasonData?: string,
  ): AlarmStateChange | undefined {
    const alarm = this.alarms.get(name);
    if (alarm === undefined) throw new Error(`alarm "${name}" does not exist`);
    if (alarm.state === state) return undefined;
    return this.transition(name, alarm, state, reason, reasonData ?? '{"version":"1.0"}', this.now());
  }

  private transition(
    name: string,
    alarm: AlarmRecord,
    state: AlarmStateValue,
    reason: string,
    reasonData: string,
    at: Date,
  ): AlarmStateChange {
    const previous = {
      value: alarm.state,
      reason: alarm.reason,
      reasonData: alarm.reasonData,
      timestamp: alarm.updatedAt,
    };
    const previousState = alarm.state;
    alarm.state = state;
    alarm.reason = reason;
    alarm.reasonData = reasonData;
    alarm.updatedAt = at;
    const event = alarmStateChangeEvent(name, alarm.input, previous, {
      value: state,
      reason,
      reasonData,
      timestamp: at,
    });
    this.options.events.publish(event);
    return { alarmName: name, previousState, state, reason, at, event };
  }

  private evaluate(
    alarm: AlarmRecord,
    now: Date,
  ): { state: AlarmStateValue; reason: string; reasonData: string } | undefined {
    const c = alarm.compiled;
    const periodMs = this.options.time.ms(c.periodSeconds);
    const usesBand = c.thresholdId !== undefined;
    const history = usesBand ? this.anomaly.trainingPeriods : 0;
    const length = history + c.evaluationPeriods;
    const end = periodStart(now.getTime(), periodMs); // the current period is not complete yet
    const start = end - length * periodMs;

    const cache = new Map<string, MathValue>();
    const resolving = new Set<string>();
    const resolve = (id: string): MathValue => {
      const cached = cache.get(id);
      if (cached !== undefined) return cached;
      const query = c.queries.get(id);
      if (query === undefined) throw new Error(`expression refers to unknown query id "${id}"`);
      if (resolving.has(id)) throw new Error(`query "${id}" refers to itself`);
      resolving.add(id);
      let value: MathValue;
      if (query.kind === 'metric') {
        const slots = new Array<number>(length).fill(Number.NaN);
        const points = this.options.metrics.query({
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
        value = evaluateExpression(query.expr, { length, resolve, anomaly: this.anomaly });
      }
      resolving.delete(id);
      cache.set(id, value);
      return value;
    };

    const metric = values(resolve(c.valueId), length);
    let lower: readonly number[] | undefined;
    let upper: readonly number[] | undefined;
    if (c.thresholdId !== undefined) {
      const band = resolve(c.thresholdId);
      if (band.kind !== 'band')
        throw new Error(`ThresholdMetricId "${c.thresholdId}" is not an ANOMALY_DETECTION_BAND`);
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
        const breaching =
          !missing &&
          ((c.comparison === 'GreaterThanUpperThreshold' && value > hi) ||
            (c.comparison === 'LessThanLowerThreshold' && value < lo) ||
            (c.comparison === 'LessThanLowerOrGreaterThanUpperThreshold' && (value < lo || value > hi)));
        datapoints.push({
          timestamp,
          value,
          lower: lo,
          upper: hi,
          status: missing ? 'missing' : breaching ? 'breaching' : 'ok',
        });
      } else {
        const threshold = c.threshold as number;
        const missing = Number.isNaN(value);
        datapoints.push({
          timestamp,
          value,
          threshold,
          status: missing ? 'missing' : compareStatic(c.comparison, value, threshold) ? 'breaching' : 'ok',
        });
      }
    }

    const missing = datapoints.filter((point) => point.status === 'missing').length;
    const breachingPresent = datapoints.filter((point) => point.status === 'breaching').length;
    const breaching = breachingPresent + (c.treatMissing === 'breaching' ? missing : 0);
    const n = c.evaluationPeriods;
    const reasonData = buildReasonData(c, datapoints, now, start + history * periodMs);

    if (breaching >= c.datapointsToAlarm) {
      return { state: 'ALARM', reason: alarmReason(c, datapoints, alarm.state, missing), reasonData };
    }
    if (missing === n) {
      if (c.treatMissing === 'missing') {
        return {
          state: 'INSUFFICIENT_DATA',
          reason: `Insufficient Data: ${plural(n, 'datapoint')} ${n === 1 ? 'was' : 'were'} unknown.`,
          reasonData,
        };
      }
      if (c.treatMissing === 'ignore') return undefined;
      if (c.treatMissing === 'notBreaching') {
        return {
          state: 'OK',
          reason: `Threshold Crossed: no datapoints were received for ${plural(n, 'period')} and ${plural(n, 'missing datapoint')} ${n === 1 ? 'was' : 'were'} treated as [NonBreaching].`,
          reasonData,
        };
      }
    }
    return { state: 'OK', reason: okReason(c, datapoints, alarm.state, missing), reasonData };
  }
}

// ---------------------------------------------------------------------------------------------
// Compiling a PutMetricAlarm input

function compileAlarm(input: PutMetricAlarmCommandInput): CompiledAlarm {
  const name = input.AlarmName as string;
  const fail = (message: string): never => {
    throw new Error(`alarm "${name}": ${message}`);
  };
  const evaluationPeriods = input.EvaluationPeriods;
  if (!Number.isInteger(evaluationPeriods) || (evaluationPeriods as number) < 1)
    fail('EvaluationPeriods must be an integer >= 1');
  const datapointsToAlarm = input.DatapointsToAlarm ?? (evaluationPeriods as number);
  if (
    !Number.isInteger(datapointsToAlarm) ||
    datapointsToAlarm < 1 ||
    datapointsToAlarm > (evaluationPeriods as number)
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

  const queries = new Map<string, Query>();
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
    statistic = stat as string;
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
    evaluationPeriods: evaluationPeriods as number,
    datapointsToAlarm,
    treatMissing,
    comparison,
    ...(isBand ? { thresholdId: thresholdId as string } : { threshold: input.Threshold as number }),
    queries,
    valueId,
    ...(statistic !== undefined ? { statistic } : {}),
  };
}

function compileQuery(query: MetricDataQuery, fail: (message: string) => never): Query {
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
    namespace: metric?.Namespace as string,
    name: metric?.MetricName as string,
    dimensions: dimensionsOf(metric?.Dimensions),
    stat: stat.Stat as MetricStatistic,
  };
}

function dimensionsOf(
  dimensions: readonly { Name?: string | undefined; Value?: string | undefined }[] | undefined,
): Record<string, string> {
  const result: Record<string, string> = {};
  for (const dimension of dimensions ?? []) {
    if (dimension.Name !== undefined && dimension.Value !== undefined)
      result[dimension.Name] = dimension.Value;
  }
  return result;
}

function compareStatic(comparison: Comparison, value: number, threshold: number): boolean {
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

// ---------------------------------------------------------------------------------------------
// Reasons and events, in CloudWatch's words

const COMPARISON_TEXT: Readonly<Record<Comparison, string>> = {
  GreaterThanThreshold: 'greater than the threshold',
  GreaterThanOrEqualToThreshold: 'greater than or equal to the threshold',
  LessThanThreshold: 'less than the threshold',
  LessThanOrEqualToThreshold: 'less than or equal to the threshold',
  GreaterThanUpperThreshold: 'greater than the upper thresholds',
  LessThanLowerThreshold: 'less than the lower thresholds',
  LessThanLowerOrGreaterThanUpperThreshold:
    'less than the lower thresholds or greater than the upper thresholds',
};

function alarmReason(
  c: CompiledAlarm,
  datapoints: readonly Datapoint[],
  from: AlarmStateValue,
  missing: number,
): string {
  const listed = newestFirst(datapoints.filter((point) => point.status === 'breaching'));
  const count = listed.length + (c.treatMissing === 'breaching' ? missing : 0);
  return describeCrossing(
    c,
    listed,
    count,
    datapoints.length,
    '',
    c.datapointsToAlarm,
    `${from} -> ALARM`,
    c.treatMissing === 'breaching' ? missing : 0,
    'Breaching',
  );
}

function okReason(
  c: CompiledAlarm,
  datapoints: readonly Datapoint[],
  from: AlarmStateValue,
  missing: number,
): string {
  const listed = newestFirst(datapoints.filter((point) => point.status === 'ok'));
  const treated = c.treatMissing === 'notBreaching' ? missing : 0;
  return describeCrossing(
    c,
    listed,
    listed.length + treated,
    datapoints.length,
    'not ',
    1,
    `${from} -> OK`,
    treated,
    'NonBreaching',
  );
}

function describeCrossing(
  c: CompiledAlarm,
  listed: readonly Datapoint[],
  count: number,
  of: number,
  negation: string,
  minimum: number,
  transition: string,
  treatedMissing: number,
  treatedAs: string,
): string {
  const points = listed
    .map((point) => `${formatNumber(point.value)} (${formatReasonDate(point.timestamp)})`)
    .join(', ');
  const verb = count === 1 ? 'was' : 'were';
  const band = c.thresholdId !== undefined;
  const target = band
    ? `${COMPARISON_TEXT[c.comparison]} [${listed.map((point) => bandText(c.comparison, point)).join(', ')}]`
    : `${COMPARISON_TEXT[c.comparison]} (${formatNumber(c.threshold as number)})`;
  const treated =
    treatedMissing > 0
      ? ` and ${plural(treatedMissing, 'missing datapoint')} ${treatedMissing === 1 ? 'was' : 'were'} treated as [${treatedAs}]`
      : '';
  return (
    `${band ? 'Thresholds' : 'Threshold'} Crossed: ${count} out of the last ${of} datapoints [${points}] ${verb} ` +
    `${negation}${target}${treated} (minimum ${plural(minimum, 'datapoint')} for ${transition} transition).`
  );
}

function bandText(comparison: Comparison, point: Datapoint): string {
  if (comparison === 'GreaterThanUpperThreshold') return formatNumber(point.upper as number);
  if (comparison === 'LessThanLowerThreshold') return formatNumber(point.lower as number);
  return `${formatNumber(point.lower as number)}..${formatNumber(point.upper as number)}`;
}

function buildReasonData(
  c: CompiledAlarm,
  datapoints: readonly Datapoint[],
  now: Date,
  startDate: number,
): string {
  const present = datapoints.filter((point) => point.status !== 'missing');
  return JSON.stringify({
    version: '1.0',
    queryDate: formatEventDate(now),
    startDate: formatEventDate(new Date(startDate)),
    ...(c.statistic !== undefined ? { statistic: c.statistic } : {}),
    period: c.periodSeconds,
    recentDatapoints: present.map((point) => point.value),
    ...(c.thresholdId !== undefined
      ? {
          recentLowerThresholds: present.map((point) => point.lower),
          recentUpperThresholds: present.map((point) => point.upper),
        }
      : { threshold: c.threshold }),
    evaluatedDatapoints: newestFirst(datapoints).map((point) => ({
      timestamp: formatEventDate(new Date(point.timestamp)),
      ...(point.status !== 'missing' ? { value: point.value } : {}),
    })),
  });
}

/** The ARN CloudWatch gives the alarm. */
function localAlarmArn(name: string): string {
  return `arn:aws:cloudwatch:${LOCAL_REGION}:${LOCAL_ACCOUNT}:alarm:${name}`;
}

interface EventState {
  readonly value: AlarmStateValue;
  readonly reason: string;
  readonly reasonData: string;
  readonly timestamp: Date;
}

/** The EventBridge event CloudWatch sends when an alarm changes state (same keys as AWS's). */
export function alarmStateChangeEvent(
  name: string,
  input: PutMetricAlarmCommandInput,
  previous: EventState,
  current: EventState,
): CloudEvent {
  const state = (s: EventState) => ({
    value: s.value,
    reason: s.reason,
    ...(s.reasonData !== '' ? { reasonData: s.reasonData } : {}),
    timestamp: formatEventDate(s.timestamp),
  });
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'CloudWatch Alarm State Change',
    source: 'aws.cloudwatch',
    account: LOCAL_ACCOUNT,
    time: current.timestamp.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region: LOCAL_REGION,
    resources: [localAlarmArn(name)],
    detail: {
      alarmName: name,
      state: state(current),
      previousState: state(previous),
      configuration: eventConfiguration(input),
    },
  };
}

function eventConfiguration(input: PutMetricAlarmCommandInput): Record<string, unknown> {
  const metricStat = (
    namespace: string | undefined,
    metricName: string | undefined,
    dimensions: PutMetricAlarmCommandInput['Dimensions'],
    period: number | undefined,
    stat: string | undefined,
  ) => ({
    metric: { dimensions: dimensionsOf(dimensions), name: metricName, namespace },
    period,
    stat,
  });
  const metrics =
    input.Metrics !== undefined && input.Metrics.length > 0
      ? input.Metrics.map((query) => ({
          id: query.Id,
          ...(query.MetricStat !== undefined
            ? {
                metricStat: metricStat(
                  query.MetricStat.Metric?.Namespace,
                  query.MetricStat.Metric?.MetricName,
                  query.MetricStat.Metric?.Dimensions,
                  query.MetricStat.Period,
                  query.MetricStat.Stat,
                ),
              }
            : {}),
          ...(query.Expression !== undefined ? { expression: query.Expression } : {}),
          ...(query.Label !== undefined ? { label: query.Label } : {}),
          returnData: query.ReturnData !== false,
        }))
      : [
          {
            id: SINGLE_METRIC_ID,
            metricStat: metricStat(
              input.Namespace,
              input.MetricName,
              input.Dimensions,
              input.Period,
              input.ExtendedStatistic ?? input.Statistic,
            ),
            returnData: true,
          },
        ];
  return {
    ...(input.AlarmDescription !== undefined ? { description: input.AlarmDescription } : {}),
    metrics,
  };
}

function newestFirst(points: readonly Datapoint[]): Datapoint[] {
  return [...points].sort((a, b) => b.timestamp - a.timestamp);
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

/** Like Java's Double.toString for everyday values: `0.0`, `0.125`, `42.0`. */
function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value)) return value.toFixed(1);
  return String(Number(value.toPrecision(12)));
}

/** `2025-06-03T11:05:09.415+0000`, as in alarm events. */
function formatEventDate(date: Date): string {
  return date.toISOString().replace('Z', '+0000');
}

/** `03/06/25 11:04:00` (dd/MM/yy HH:mm:ss, UTC), as in state reasons. */
function formatReasonDate(time: number): string {
  const d = new Date(time);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(d.getUTCDate())}/${two(d.getUTCMonth() + 1)}/${two(d.getUTCFullYear() % 100)} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}`;
}
