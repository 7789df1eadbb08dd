import { describe, expect, it } from 'vitest';
import { buildModelAlarmRequests } from '../../../adapters/aws/cloudwatch-alarm-service';
import { listLocalAlarms, LocalAlarmService } from '../../../local/metrics/local-alarm-service';
import { localTime, type CloudEvent } from '../../../local/contracts';
import { LocalAlarmEvaluator } from '../../../local/metrics/alarm-evaluator';
import { LocalMetricStore } from '../../../local/metrics/metric-store';
import { churnAlarmsSpec } from '../../support/alarm-spec';

const spec = churnAlarmsSpec({ notificationTopicArn: 'arn:aws:sns:us-east-1:000000000000:mlops-alerts' });

/** 6000x: a 60 s period lasts 10 real ms; the clock is injected. */
const time = localTime(6000);
const T0 = Date.UTC(2025, 5, 3, 11, 0, 0);
const at = (period: number) => T0 + period * time.ms(60);

const setup = () => {
  const events: CloudEvent[] = [];
  let now = new Date('2025-06-03T11:00:00.000Z');
  const metrics = new LocalMetricStore();
  const evaluator = new LocalAlarmEvaluator({
    metrics,
    events: { publish: (event) => void events.push(event) },
    time,
    now: () => now,
  });
  return {
    metrics,
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
      threshold: 0.05,
      comparison: 'GreaterThanThreshold',
    });
    setNow(new Date('2025-06-03T11:05:09.415Z'));
    evaluator.setState(spec.names.errorRate, 'ALARM', 'Threshold Crossed: testing');
    expect(await service.describeAlarmState(spec.names.errorRate)).toEqual({
      state: 'ALARM',
      reason: 'Threshold Crossed: testing',
      updatedAt: '2025-06-03T11:05:09.415Z',
      threshold: 0.05,
      comparison: 'GreaterThanThreshold',
    });
    // An anomaly-band alarm has a comparison and no threshold.
    const latency = await service.describeAlarmState(spec.names.latency);
    expect(latency).toMatchObject({ comparison: 'GreaterThanUpperThreshold' });
    expect(latency).not.toHaveProperty('threshold');
  });

  it('gives the datapoints of the evaluation that set the state, with their periods, oldest first', async () => {
    const { metrics, evaluator, service, setNow } = setup();
    await service.ensureModelAlarms(spec);
    // Five periods of traffic; periods 1 and 3 have 50 % errors, 2 and 4 25 %, period 0 none.
    const rates = [0, 0.5, 0.25, 0.5, 0.25];
    rates.forEach((rate, period) => {
      const put = (name: string, value: number) =>
        metrics.put({
          namespace: 'AWS/SageMaker',
          name,
          dimensions: { EndpointName: 'mlops-churn', VariantName: 'AllTraffic' },
          value,
          unit: 'Count',
          timestamp: new Date(at(period) + 1),
        });
      put('Invocations', 20);
      put('Invocation5XXErrors', rate * 20);
    });
    setNow(new Date(at(5) + 3));
    const changes = evaluator.evaluateNow();
    expect(changes.find((change) => change.alarmName === spec.names.errorRate)?.state).toBe('ALARM');
    const described = await service.describeAlarmState(spec.names.errorRate);
    expect(described?.datapoints).toEqual(
      rates.map((value, period) => ({ at: new Date(at(period)).toISOString(), value })),
    );
    // Later evaluations that keep the state do not replace the evidence of the transition.
    setNow(new Date(at(6) + 3));
    evaluator.evaluateNow();
    expect((await service.describeAlarmState(spec.names.errorRate))?.datapoints).toEqual(
      described?.datapoints,
    );
  });

  it('lists every alarm for the control API, by name, with its model and static threshold', async () => {
    const { evaluator, service } = setup();
    await service.ensureModelAlarms(spec);
    evaluator.putMetricAlarm({ ...buildModelAlarmRequests(spec)[2]!, AlarmName: 'adhoc', Tags: undefined });
    const listed = listLocalAlarms(evaluator);
    expect(listed.map((alarm) => alarm.name)).toEqual([...Object.values(spec.names), 'adhoc'].sort());
    expect(listed.find((alarm) => alarm.name === spec.names.errorRate)).toEqual({
      name: spec.names.errorRate,
      state: 'INSUFFICIENT_DATA',
      reason: 'Unchecked: Initial alarm creation',
      updatedAt: '2025-06-03T11:00:00.000Z',
      threshold: 0.05,
      model: 'churn',
    });
    expect(listed.find((alarm) => alarm.name === spec.names.latency)).not.toHaveProperty('threshold');
    expect(listed.find((alarm) => alarm.name === 'adhoc')).not.toHaveProperty('model');
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
