/**
 * Local adapter of the {@link AlarmService} port. Where this stands: adapter for the local cloud;
 * the endpoint-events use case ensures a model's alarms through it, the alarm-events use case reads
 * their state. It puts into the local alarm evaluator exactly the PutMetricAlarm requests the
 * CloudWatch adapter sends ({@link buildModelAlarmRequests}), so what is evaluated locally is what
 * AWS evaluates; and it reads a state's evidence from the StateReasonData the evaluator wrote,
 * with the CloudWatch adapter's own parser ({@link parseStateReasonData}).
 *
 * {@link listLocalAlarms} is the control API's `GET /alarms`: every alarm, as the `mlops` CLI
 * shows them.
 */
import type { AlarmService, AlarmState, ModelAlarmsSpec } from '../../core/ports/monitoring';
import type { AlarmDescription, LocalAlarmEvaluator } from './alarm-evaluator';
import { buildModelAlarmRequests, parseStateReasonData } from '../../adapters/aws/cloudwatch-alarm-service';

/** The tag naming an alarm's model (the endpoint-events use case tags every model alarm with it). */
const MODEL_TAG = 'mlops:model';

/** The AlarmService port on the local alarm evaluator: the CloudWatch adapter's requests, put locally. */
export class LocalAlarmService implements AlarmService {
  constructor(private readonly evaluator: Pick<LocalAlarmEvaluator, 'putMetricAlarm' | 'describe'>) {}

  // The evaluator refuses an invalid alarm by throwing; `async` hands that to the caller as a
  // rejection, as CloudWatch's refusal reaches it through the SDK.
  // eslint-disable-next-line @typescript-eslint/require-await
  async ensureModelAlarms(spec: ModelAlarmsSpec): Promise<void> {
    for (const request of buildModelAlarmRequests(spec)) this.evaluator.putMetricAlarm(request);
  }

  /**
   * The alarm's state, as DescribeAlarms reads it in AWS: with its threshold and comparison, and
   * the datapoints of the evaluation that set the state (those of its StateReasonData).
   */
  describeAlarmState(alarmName: string): Promise<AlarmState | undefined> {
    const alarm = this.evaluator.describe(alarmName);
    if (alarm === undefined) return Promise.resolve(undefined);
    const { datapoints } = parseStateReasonData(alarm.reasonData);
    const { Threshold: threshold, ComparisonOperator: comparison } = alarm.input;
    return Promise.resolve({
      state: alarm.state,
      reason: alarm.reason,
      updatedAt: alarm.updatedAt.toISOString(),
      ...(threshold !== undefined ? { threshold } : {}),
      ...(comparison !== undefined ? { comparison } : {}),
      ...(datapoints !== undefined ? { datapoints } : {}),
    });
  }
}

/** One alarm as the control API's `GET /alarms` lists it. */
export interface LocalAlarmSummary {
  readonly name: string;
  readonly state: AlarmDescription['state'];
  readonly reason: string;
  /** When the state last changed (ISO 8601). */
  readonly updatedAt: string;
  /** The static threshold (absent for an anomaly band). */
  readonly threshold?: number;
  /** The model the alarm watches (its `mlops:model` tag), when it has one. */
  readonly model?: string;
}

/** Every alarm of the evaluator now, by name. */
export function listLocalAlarms(
  evaluator: Pick<LocalAlarmEvaluator, 'names' | 'describe'>,
): LocalAlarmSummary[] {
  const summaries: LocalAlarmSummary[] = [];
  for (const name of [...evaluator.names()].sort()) {
    const alarm = evaluator.describe(name);
    if (alarm === undefined) continue; // deleted since names() was read
    const threshold = alarm.input.Threshold;
    const model = alarm.input.Tags?.find((tag) => tag.Key === MODEL_TAG)?.Value;
    summaries.push({
      name,
      state: alarm.state,
      reason: alarm.reason,
      updatedAt: alarm.updatedAt.toISOString(),
      ...(threshold !== undefined ? { threshold } : {}),
      ...(model !== undefined ? { model } : {}),
    });
  }
  return summaries;
}
