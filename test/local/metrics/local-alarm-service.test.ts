import { describe, expect, it } from 'vitest';
import { buildModelAlarmRequests } from '../../../adapters/aws/cloudwatch-alarm-service';
import { LocalAlarmService } from '../../../local/metrics/local-alarm-service';
import { localTime, type CloudEvent } from '../../../local/contracts';
import { LocalAlarmEvaluator } from '../../../local/metrics/alarm-evaluator';
import { LocalMetricStore } from '../../../local/metrics/metric-store';
import { churnAlarmsSpec } from '../../support/alarm-spec';

const spec = churnAlarmsSpec({ notificationTopicArn: 'arn:aws:sns:us-east-1:000000000000:mlops-alerts' });

const setup = () => {
  const events: CloudEvent[] = [];
  let now = new Date('2025-06-03T11:00:00.000Z');
  const evaluator = new LocalAlarmEvaluator({
    metrics: new LocalMetricStore(),
    events: { publish: (event) => void events.push(event) },
    time: localTime(6000),
    now: () => now,
  });
  return {
    evaluator,
    events,
    service: new LocalAlarmService(evaluator),
    setNow: (date: Date) => (now = date),
  };
};

describe('LocalAlarmService', () => {
  it('puts exactly the PutMetricAlarm requests of the CloudWatch adapter', async () => {
    const { evaluator, service } = setup();
    await service.ensureModelAlarms(spec);
    const requests = buildModelAlarmRequests(spec);
    expect(evaluator.names()).toEqual(requests.map((request) => request.AlarmName));
    for (const request of requests) {
      expect(evaluator.describe(request.AlarmName as string)?.input).toEqual(request);
    }
  });

  it('describes an alarm in the port shape, with an ISO updatedAt', async () => {
    const { evaluator, service, setNow } = setup();
    await service.ensureModelAlarms(spec);
    expect(await service.describeAlarmState(spec.names.errorRate)).toEqual({
      state: 'INSUFFICIENT_DATA',
      reason: 'Unchecked: Initial alarm creation',
      updatedAt: '2025-06-03T11:00:00.000Z',
    });
    setNow(new Date('2025-06-03T11:05:09.415Z'));
    evaluator.setState(spec.names.errorRate, 'ALARM', 'Threshold Crossed: testing');
    expect(await service.describeAlarmState(spec.names.errorRate)).toEqual({
      state: 'ALARM',
      reason: 'Threshold Crossed: testing',
      updatedAt: '2025-06-03T11:05:09.415Z',
    });
  });

  it('answers undefined for an alarm that does not exist', async () => {
    expect(await setup().service.describeAlarmState('mlops-nope-error-rate')).toBeUndefined();
  });

  it('ensuring twice changes nothing (PutMetricAlarm is an upsert that keeps the state)', async () => {
    const { evaluator, service, events } = setup();
    await service.ensureModelAlarms(spec);
    evaluator.evaluateNow(); // no traffic: OK
    await service.ensureModelAlarms(spec);
    expect(evaluator.names()).toHaveLength(5);
    expect((await service.describeAlarmState(spec.names.latency))?.state).toBe('OK');
    expect(events).toHaveLength(5);
  });
});
