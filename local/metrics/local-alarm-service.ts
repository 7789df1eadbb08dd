/**
 * Local adapter of the {@link AlarmService} port. Where this stands: adapter for the local cloud;
 * the endpoint-events use case ensures a model's alarms through it, the alarm-events use case reads
 * their state. It puts into the local alarm evaluator exactly the PutMetricAlarm requests the
 * CloudWatch adapter sends ({@link buildModelAlarmRequests}), so what is evaluated locally is what
 * AWS evaluates.
 */
import type { AlarmService, ModelAlarmsSpec } from '../../core/ports/monitoring';
import type { LocalAlarmEvaluator } from './alarm-evaluator';
import { buildModelAlarmRequests } from '../../adapters/aws/cloudwatch-alarm-service';

/** The AlarmService port on the local alarm evaluator: the CloudWatch adapter's requests, put locally. */
export class LocalAlarmService implements AlarmService {
  constructor(private readonly evaluator: Pick<LocalAlarmEvaluator, 'putMetricAlarm' | 'describe'>) {}

  // The evaluator refuses an invalid alarm by throwing; `async` hands that to the caller as a
  // rejection, as CloudWatch's refusal reaches it through the SDK.
  // eslint-disable-next-line @typescript-eslint/require-await
  async ensureModelAlarms(spec: ModelAlarmsSpec): Promise<void> {
    for (const request of buildModelAlarmRequests(spec)) this.evaluator.putMetricAlarm(request);
  }

  describeAlarmState(
    alarmName: string,
  ): Promise<{ state: 'OK' | 'ALARM' | 'INSUFFICIENT_DATA'; reason: string; updatedAt: string } | undefined> {
    const alarm = this.evaluator.describe(alarmName);
    if (alarm === undefined) return Promise.resolve(undefined);
    return Promise.resolve({
      state: alarm.state,
      reason: alarm.reason,
      updatedAt: alarm.updatedAt.toISOString(),
    });
  }
}
