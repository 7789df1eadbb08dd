/**
 * The "CloudWatch Alarm State Change" event a local alarm publishes on each transition, with the
 * same keys as the one AWS sends to EventBridge (test/fixtures/events/cloudwatch-alarm-state-change.json).
 * Where this stands: local runtime, part of the local CloudWatch alarms (alarm-evaluator.ts); the
 * stack's alarm-events rule delivers it to the alarm-events handler.
 */
import type { PutMetricAlarmCommandInput } from '@aws-sdk/client-cloudwatch';
import { cloudEvent, LOCAL_ACCOUNT, LOCAL_REGION, type CloudEvent } from '../contracts';
import { dimensionsOf, SINGLE_METRIC_ID } from './alarm-compiler';
import type { AlarmStateValue } from './alarm-evaluator';
import { formatEventDate } from './alarm-reason';

/** One side of a transition, as the event's `state` and `previousState` carry it. */
export interface AlarmEventState {
  readonly value: AlarmStateValue;
  readonly reason: string;
  /** StateReasonData JSON; `''` leaves it out. */
  readonly reasonData: string;
  readonly timestamp: Date;
}

/** The EventBridge event CloudWatch sends when an alarm changes state (same keys as AWS's). */
export function alarmStateChangeEvent(
  name: string,
  input: PutMetricAlarmCommandInput,
  previous: AlarmEventState,
  current: AlarmEventState,
): CloudEvent {
  const state = (s: AlarmEventState) => ({
    value: s.value,
    reason: s.reason,
    ...(s.reasonData !== '' ? { reasonData: s.reasonData } : {}),
    timestamp: formatEventDate(s.timestamp),
  });
  return cloudEvent({
    detailType: 'CloudWatch Alarm State Change',
    source: 'aws.cloudwatch',
    time: current.timestamp,
    resources: [localAlarmArn(name)],
    detail: {
      alarmName: name,
      state: state(current),
      previousState: state(previous),
      configuration: eventConfiguration(input),
    },
  });
}

/** The ARN CloudWatch gives the alarm. */
function localAlarmArn(name: string): string {
  return `arn:aws:cloudwatch:${LOCAL_REGION}:${LOCAL_ACCOUNT}:alarm:${name}`;
}

/** The event's `configuration`: the alarm's description and its queries, in the event's own casing. */
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
