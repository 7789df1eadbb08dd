/**
 * CloudWatch adapter of the {@link AlarmService} port. Where this stands: adapter; the
 * endpoint-events use case ensures a model's alarms once its endpoint is in service. Alarm state
 * changes reach the alarm-events handler through EventBridge, so alarm actions are optional.
 *
 * Five alarms per model. Three on the endpoint variant's AWS/SageMaker metrics (dimensions
 * EndpointName and VariantName, one-minute periods):
 * - latency: `ModelLatency` (Average) above its anomaly-detection band;
 * - invocations: `Invocations` (Sum) outside its band, either way (a surge or a collapse);
 * - error rate: (`Invocation4XXErrors` + `Invocation5XXErrors`) / `Invocations` above a threshold.
 * Two on the drift monitor's metrics (core/domain/drift-metrics.ts: namespace
 * `ServerlessMlops/Drift`, dimension Model, one data point per model and hour):
 * - feature drift: `FeatureDriftMax` (Maximum over an hour) above monitoring.featureDriftThreshold;
 * - prediction drift: `PredictionDrift` (Maximum over an hour) above monitoring.predictionDriftThreshold.
 * A drift alarm trips on one drifted window (EvaluationPeriods = DatapointsToAlarm = 1) and an hour
 * without a measurement (too little traffic) is not breaching.
 * PutMetricAlarm is an upsert, so ensuring the alarms twice changes nothing.
 *
 * An alarm's state is read with DescribeAlarms, with the evidence of the evaluation that set it:
 * `Threshold` and `ComparisonOperator`, and the datapoints of its `StateReasonData`
 * ({@link parseStateReasonData}).
 */
import {
  DescribeAlarmsCommand,
  PutMetricAlarmCommand,
  type CloudWatchClient,
  type MetricDataQuery,
  type PutMetricAlarmCommandInput,
} from '@aws-sdk/client-cloudwatch';
import {
  DRIFT_DIMENSION,
  DRIFT_METRICS,
  DRIFT_NAMESPACE,
  DRIFT_WINDOW_SECONDS,
} from '../../core/domain/drift-metrics';
import { isPlainObject } from '../../core/support/objects';
import type { AlarmService, AlarmState, ModelAlarmsSpec } from '../../core/ports/monitoring';
import { toTags } from './tags';

const NAMESPACE = 'AWS/SageMaker';
const PERIOD_SECONDS = 60;

/**
 * The {@link AlarmService} port on CloudWatch, built by the handlers' AWS context: the model's five
 * alarms ({@link buildModelAlarmRequests}) put one after the other, so a call that fails part-way is
 * completed by the retried event.
 */
export class CloudWatchAlarmService implements AlarmService {
  constructor(private readonly client: CloudWatchClient) {}

  async ensureModelAlarms(spec: ModelAlarmsSpec): Promise<void> {
    for (const request of buildModelAlarmRequests(spec)) {
      await this.client.send(new PutMetricAlarmCommand(request));
    }
  }

  async describeAlarmState(alarmName: string): Promise<AlarmState | undefined> {
    // DescribeAlarms answers an unknown name with an empty list, not an error.
    const response = await this.client.send(
      new DescribeAlarmsCommand({ AlarmNames: [alarmName], AlarmTypes: ['MetricAlarm'] }),
    );
    const alarm = response.MetricAlarms?.find((candidate) => candidate.AlarmName === alarmName);
    if (alarm === undefined) return undefined;
    const state = alarm.StateValue;
    if (state !== 'OK' && state !== 'ALARM' && state !== 'INSUFFICIENT_DATA') {
      throw new Error(`alarm "${alarmName}" has an unknown state "${String(state)}"`);
    }
    // StateTransitionedTimestamp: when StateValue last changed (StateUpdatedTimestamp also moves
    // when only the reason is updated).
    const at = alarm.StateTransitionedTimestamp ?? alarm.StateUpdatedTimestamp;
    const evidence = parseStateReasonData(alarm.StateReasonData);
    // An anomaly-band alarm has no Threshold (ThresholdMetricId names its band instead).
    const threshold = alarm.Threshold ?? evidence.threshold;
    return {
      state,
      reason: alarm.StateReason ?? '',
      updatedAt: at !== undefined ? at.toISOString() : '',
      ...(threshold !== undefined ? { threshold } : {}),
      ...(alarm.ComparisonOperator !== undefined ? { comparison: alarm.ComparisonOperator } : {}),
      ...(evidence.datapoints !== undefined ? { datapoints: evidence.datapoints } : {}),
    };
  }
}

/** What a StateReasonData says about the evaluation that set the alarm's state. */
export interface StateReasonEvidence {
  /** `threshold` (a static-threshold alarm). */
  readonly threshold?: number;
  /** The evaluated datapoints that had a value, oldest first, `at` in ISO 8601. */
  readonly datapoints?: readonly { readonly at: string; readonly value: number }[];
}

/**
 * Reads an alarm's StateReasonData (DescribeAlarms, and the state change event's `reasonData`):
 * a JSON object whose documented keys (CloudWatch User Guide, "Alarm events and EventBridge" and
 * "How partial data is handled") are `startDate` (the first datapoint's period), `period`
 * (seconds), `recentDatapoints` (the values, oldest first, without times), `threshold` (static
 * alarms; anomaly-band alarms carry `recentLowerThresholds`/`recentUpperThresholds` instead) and,
 * in newer alarms, `evaluatedDatapoints` (`timestamp`, and `value` when the period had data).
 *
 * `evaluatedDatapoints` may list fewer periods than `recentDatapoints` has values (the documented
 * partial-data sample: three recent values, one evaluated datapoint, the newest). The recent values
 * get their times when they are provably one period apart: the newest evaluated timestamp is
 * `startDate + (n - 1) × period` (or, with no evaluated datapoint, there is a single value, at
 * `startDate`); otherwise only the evaluated datapoints with a value are kept. Defensive: anything
 * malformed (not JSON, a field of the wrong type, an unreadable time) leaves the field out instead
 * of guessing.
 */
export function parseStateReasonData(text: string | undefined): StateReasonEvidence {
  if (text === undefined || text === '') return {};
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return {};
  }
  if (!isPlainObject(data)) return {};
  const threshold = isFiniteNumber(data.threshold) ? data.threshold : undefined;
  const datapoints = reasonDatapoints(data);
  return {
    ...(threshold !== undefined ? { threshold } : {}),
    ...(datapoints !== undefined && datapoints.length > 0 ? { datapoints } : {}),
  };
}

/** The datapoints of a parsed StateReasonData (see {@link parseStateReasonData}); undefined when malformed. */
function reasonDatapoints(data: Record<string, unknown>): { at: string; value: number }[] | undefined {
  const evaluated = evaluatedDatapoints(data.evaluatedDatapoints);
  if (evaluated === undefined) return undefined;
  const byTime = new Map<number, number>(evaluated.map((point) => [point.at, point.value]));

  const recent = data.recentDatapoints;
  if (recent !== undefined && !(Array.isArray(recent) && recent.every(isFiniteNumber))) return undefined;
  const start = data.startDate === undefined ? undefined : parseEventDate(data.startDate);
  const periodMs = isFiniteNumber(data.period) && data.period > 0 ? data.period * 1000 : undefined;
  if (
    (data.startDate !== undefined && start === undefined) ||
    (data.period !== undefined && periodMs === undefined)
  )
    return undefined;
  if (Array.isArray(recent) && recent.length > 0 && start !== undefined && periodMs !== undefined) {
    const newestEvaluated =
      evaluated.length > 0 ? Math.max(...evaluated.map((point) => point.at)) : undefined;
    const contiguous =
      newestEvaluated !== undefined
        ? newestEvaluated === start + (recent.length - 1) * periodMs
        : recent.length === 1;
    if (contiguous) {
      recent.forEach((value, i) => {
        if (!byTime.has(start + i * periodMs)) byTime.set(start + i * periodMs, value);
      });
    }
  }
  return [...byTime.entries()]
    .sort(([a], [b]) => a - b)
    .map(([at, value]) => ({ at: new Date(at).toISOString(), value }));
}

/**
 * The entries of `evaluatedDatapoints` that have a value (a period without data has only its
 * timestamp), as epoch milliseconds; `[]` when absent, undefined when malformed.
 */
function evaluatedDatapoints(value: unknown): { at: number; value: number }[] | undefined {
  if (value === undefined) return [];
  if (!Array.isArray(value)) return undefined;
  const points: { at: number; value: number }[] = [];
  for (const entry of value) {
    if (!isPlainObject(entry)) return undefined;
    const at = parseEventDate(entry.timestamp);
    if (at === undefined) return undefined;
    if (entry.value === undefined) continue;
    if (!isFiniteNumber(entry.value)) return undefined;
    points.push({ at, value: entry.value });
  }
  return points;
}

/** `2022-11-08T11:25:00.000+0000` (CloudWatch's own form) or any ISO 8601 time, as epoch milliseconds. */
function parseEventDate(value: unknown): number | undefined {
  if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}T/.test(value)) return undefined;
  // `+0000` is not ISO 8601's extended form, which Date.parse is only required to read.
  const time = Date.parse(value.replace(/([+-]\d{2})(\d{2})$/, '$1:$2'));
  return Number.isNaN(time) ? undefined : time;
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/**
 * The PutMetricAlarm requests of a model: latency, invocations, error rate, feature drift,
 * prediction drift (in that order).
 */
export function buildModelAlarmRequests(spec: ModelAlarmsSpec): PutMetricAlarmCommandInput[] {
  const common = {
    EvaluationPeriods: spec.evaluationPeriods,
    DatapointsToAlarm: spec.datapointsToAlarm,
    // No traffic is not an incident: SageMaker publishes no data points for an idle endpoint.
    TreatMissingData: 'notBreaching',
    ...(spec.notificationTopicArn !== undefined
      ? { AlarmActions: [spec.notificationTopicArn], OKActions: [spec.notificationTopicArn] }
      : {}),
    // PutMetricAlarm applies Tags when it creates the alarm and ignores them on updates.
    Tags: toTags(spec.tags),
  } as const;
  const variant = { endpointName: spec.endpointName, variantName: spec.variantName };
  const band = `ANOMALY_DETECTION_BAND(m1, ${spec.anomalyBandWidth})`;

  return [
    {
      AlarmName: spec.names.latency,
      AlarmDescription: `Model ${spec.model}: latency of endpoint ${spec.endpointName} (${spec.variantName}) above its expected band.`,
      // An anomaly-detection alarm: the metric and the band both return data, and the band is
      // named by ThresholdMetricId (PutMetricAlarm API reference; CloudWatch anomaly detection alarms).
      Metrics: [
        metricQuery('m1', 'ModelLatency', 'Average', variant, true),
        { Id: 'ad1', Expression: band, Label: 'ModelLatency (expected band)', ReturnData: true },
      ],
      ThresholdMetricId: 'ad1',
      ComparisonOperator: 'GreaterThanUpperThreshold',
      ...common,
    },
    {
      AlarmName: spec.names.invocations,
      AlarmDescription: `Model ${spec.model}: invocations of endpoint ${spec.endpointName} (${spec.variantName}) outside their expected band.`,
      Metrics: [
        metricQuery('m1', 'Invocations', 'Sum', variant, true),
        { Id: 'ad1', Expression: band, Label: 'Invocations (expected band)', ReturnData: true },
      ],
      ThresholdMetricId: 'ad1',
      ComparisonOperator: 'LessThanLowerOrGreaterThanUpperThreshold',
      ...common,
    },
    {
      AlarmName: spec.names.errorRate,
      AlarmDescription: `Model ${spec.model}: share of 4XX + 5XX responses of endpoint ${spec.endpointName} (${spec.variantName}) above ${spec.errorRateThreshold}.`,
      // Metric math: exactly one query returns data (the expression the alarm watches). FILL turns
      // minutes without errors into 0 and IF avoids dividing by zero invocations
      // (CloudWatch user guide, "Using metric math": FILL, "Using IF expressions").
      Metrics: [
        metricQuery('invocations', 'Invocations', 'Sum', variant, false),
        metricQuery('errors4xx', 'Invocation4XXErrors', 'Sum', variant, false),
        metricQuery('errors5xx', 'Invocation5XXErrors', 'Sum', variant, false),
        { Id: 'errorRate', Expression: ERROR_RATE_EXPRESSION, Label: 'Error rate', ReturnData: true },
      ],
      Threshold: spec.errorRateThreshold,
      ComparisonOperator: 'GreaterThanThreshold',
      ...common,
    },
    driftAlarm(
      spec,
      spec.names.featureDrift,
      DRIFT_METRICS.featureDriftMax,
      spec.featureDriftThreshold,
      `Model ${spec.model}: largest feature drift of captured traffic against the training data above ${spec.featureDriftThreshold}.`,
    ),
    driftAlarm(
      spec,
      spec.names.predictionDrift,
      DRIFT_METRICS.predictionDrift,
      spec.predictionDriftThreshold,
      `Model ${spec.model}: drift of the predictions against the training labels above ${spec.predictionDriftThreshold}.`,
    ),
  ];
}

/** A drift alarm: one hourly data point of the drift monitor above the threshold. */
function driftAlarm(
  spec: ModelAlarmsSpec,
  alarmName: string,
  metricName: string,
  threshold: number,
  description: string,
): PutMetricAlarmCommandInput {
  return {
    AlarmName: alarmName,
    AlarmDescription: description,
    Namespace: DRIFT_NAMESPACE,
    MetricName: metricName,
    Dimensions: [{ Name: DRIFT_DIMENSION, Value: spec.model }],
    Statistic: 'Maximum',
    Period: DRIFT_WINDOW_SECONDS,
    EvaluationPeriods: 1,
    DatapointsToAlarm: 1,
    Threshold: threshold,
    ComparisonOperator: 'GreaterThanThreshold',
    // No measurement (an idle model, too little traffic in a window) is not drift.
    TreatMissingData: 'notBreaching',
    ...(spec.notificationTopicArn !== undefined
      ? { AlarmActions: [spec.notificationTopicArn], OKActions: [spec.notificationTopicArn] }
      : {}),
    // PutMetricAlarm applies Tags when it creates the alarm and ignores them on updates.
    Tags: toTags(spec.tags),
  };
}

/** The error-rate expression over the queries `invocations`, `errors4xx` and `errors5xx`. */
export const ERROR_RATE_EXPRESSION =
  'IF(invocations > 0, (FILL(errors4xx, 0) + FILL(errors5xx, 0)) / invocations, 0)';

function metricQuery(
  id: string,
  metricName: string,
  stat: 'Average' | 'Sum',
  variant: { endpointName: string; variantName: string },
  returnData: boolean,
): MetricDataQuery {
  return {
    Id: id,
    MetricStat: {
      Metric: {
        Namespace: NAMESPACE,
        MetricName: metricName,
        Dimensions: [
          { Name: 'EndpointName', Value: variant.endpointName },
          { Name: 'VariantName', Value: variant.variantName },
        ],
      },
      Period: PERIOD_SECONDS,
      Stat: stat,
    },
    ReturnData: returnData,
  };
}
