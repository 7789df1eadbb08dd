import { beforeEach, describe, expect, it } from 'vitest';
import { buildModelAlarmRequests } from '../../../adapters/aws/cloudwatch-alarm-service';
import { localTime, type CloudEvent, type EventPublisher } from '../../../local/contracts';
import { matches } from '../../../local/event-bus';
import { LocalAlarmEvaluator, type AlarmStateChange } from '../../../local/metrics/alarm-evaluator';
import { LocalMetricStore } from '../../../local/metrics/metric-store';
import fixture from '../../fixtures/events/cloudwatch-alarm-state-change.json';
import { churnAlarmsSpec } from '../../support/alarm-spec';

// 6000 simulated seconds per real second: a 60 s period lasts 10 ms. The clock is injected, so
// nothing sleeps: `at(i)` is the start of period i.
const time = localTime(6000);
const PERIOD_MS = time.ms(60);
const T0 = Date.UTC(2025, 5, 3, 11, 0, 0);
const at = (period: number) => T0 + period * PERIOD_MS;

const spec = churnAlarmsSpec();
const NAMES = Object.values(spec.names);
const alarmRulePattern = {
  source: ['aws.cloudwatch'],
  'detail-type': ['CloudWatch Alarm State Change'],
  detail: { alarmName: [{ prefix: 'mlops-' }] },
};

let metrics: LocalMetricStore;
let published: CloudEvent[];
let now: number;
let evaluator: LocalAlarmEvaluator;

beforeEach(() => {
  metrics = new LocalMetricStore();
  published = [];
  const events: EventPublisher = { publish: (event) => void published.push(event) };
  now = at(0);
  evaluator = new LocalAlarmEvaluator({ metrics, events, time, now: () => new Date(now) });
  for (const request of buildModelAlarmRequests(spec)) evaluator.putMetricAlarm(request);
});

/** What SageMaker would record for the variant in period `period`. */
function traffic(
  period: number,
  t: { invocations: number; errors4xx?: number; errors5xx?: number; latencyUs: number },
): void {
  const put = (name: string, value: number, unit: 'Count' | 'Microseconds', offset = 1) =>
    metrics.put({
      namespace: 'AWS/SageMaker',
      name,
      dimensions: { EndpointName: 'mlops-churn', VariantName: 'AllTraffic' },
      value,
      unit,
      timestamp: new Date(at(period) + offset),
    });
  // Invocations in two data points (Sum adds them), latency as two samples (Average).
  put('Invocations', Math.ceil(t.invocations / 2), 'Count');
  put('Invocations', Math.floor(t.invocations / 2), 'Count', 2);
  if (t.errors4xx) put('Invocation4XXErrors', t.errors4xx, 'Count');
  if (t.errors5xx) put('Invocation5XXErrors', t.errors5xx, 'Count');
  put('ModelLatency', t.latencyUs * 0.9, 'Microseconds');
  put('ModelLatency', t.latencyUs * 1.1, 'Microseconds', 3);
}
/** A healthy, slightly noisy endpoint. */
const healthy = (period: number) =>
  traffic(period, {
    invocations: 100 + (period % 3) * 4,
    errors4xx: period % 4 === 0 ? 1 : 0,
    latencyUs: 20_000 + (period % 5) * 300,
  });
const evaluateAt = (period: number): readonly AlarmStateChange[] => {
  now = at(period) + 3; // a few ms into the period: periods up to `period - 1` are complete
  return evaluator.evaluateNow();
};
const state = (name: string) => evaluator.describe(name)?.state;

describe('LocalAlarmEvaluator with the alarms of buildModelAlarmRequests', () => {
  it('creates the alarms in INSUFFICIENT_DATA, with the exact requests', () => {
    expect(evaluator.states(NAMES)).toEqual(new Map(NAMES.map((name) => [name, 'INSUFFICIENT_DATA'])));
    expect(evaluator.describe(spec.names.errorRate)).toMatchObject({
      state: 'INSUFFICIENT_DATA',
      reason: 'Unchecked: Initial alarm creation',
      updatedAt: new Date(at(0)),
      input: buildModelAlarmRequests(spec)[2],
    });
    expect(evaluator.states(['unknown', spec.names.latency]).size).toBe(1);
    expect(published).toEqual([]);
  });

  it('no traffic: missing data is notBreaching, the alarms go OK and stay OK', () => {
    const changes = evaluateAt(10);
    expect(changes.map((c) => [c.alarmName, c.previousState, c.state])).toEqual(
      NAMES.map((name) => [name, 'INSUFFICIENT_DATA', 'OK']),
    );
    expect(changes[2]?.reason).toBe(
      'Threshold Crossed: no datapoints were received for 5 periods and 5 missing datapoints were treated as [NonBreaching].',
    );
    expect(published).toHaveLength(NAMES.length);
    for (let period = 11; period < 20; period++) expect(evaluateAt(period)).toEqual([]);
    expect(published).toHaveLength(NAMES.length);
    expect(evaluator.states(NAMES)).toEqual(new Map(NAMES.map((name) => [name, 'OK'])));
  });

  it('error rate above the threshold in 3 of 5 periods: ALARM with its event, then OK again', () => {
    for (let period = 0; period < 30; period++) healthy(period);
    evaluateAt(30);
    expect(evaluator.states(NAMES)).toEqual(new Map(NAMES.map((name) => [name, 'OK'])));
    published.length = 0;

    // 10 % of the requests fail in periods 30..32.
    for (let period = 30; period < 33; period++)
      traffic(period, { invocations: 100, errors5xx: 6, errors4xx: 4, latencyUs: 20_500 });
    expect(evaluateAt(32)).toEqual([]); // 2 breaching periods so far
    const [change, ...others] = evaluateAt(33);
    expect(others).toEqual([]);
    expect(change).toMatchObject({ alarmName: spec.names.errorRate, previousState: 'OK', state: 'ALARM' });
    expect(change?.reason).toBe(
      'Threshold Crossed: 3 out of the last 5 datapoints [0.1 (03/06/25 11:00:00), 0.1 (03/06/25 11:00:00), 0.1 (03/06/25 11:00:00)] ' +
        'were greater than the threshold (0.05) (minimum 3 datapoints for OK -> ALARM transition).',
    );

    // The event: EventBridge's envelope and the fixture's keys, matched by the stack's rule.
    expect(published).toHaveLength(1);
    const event = published[0] as CloudEvent<typeof fixture.detail>;
    expect(event).toBe(change?.event);
    expect(Object.keys(event).sort()).toEqual(Object.keys(fixture).sort());
    expect(event).toMatchObject({
      version: '0',
      'detail-type': 'CloudWatch Alarm State Change',
      source: 'aws.cloudwatch',
      account: '000000000000',
      region: 'us-east-1',
      resources: ['arn:aws:cloudwatch:us-east-1:000000000000:alarm:mlops-churn-error-rate'],
    });
    expect(Object.keys(event.detail).sort()).toEqual(Object.keys(fixture.detail).sort());
    expect(Object.keys(event.detail.state).sort()).toEqual(Object.keys(fixture.detail.state).sort());
    expect(event.detail.state).toMatchObject({ value: 'ALARM', reason: change?.reason });
    expect(event.detail.state.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$/);
    expect(event.detail.previousState.value).toBe('OK');
    expect(JSON.parse(event.detail.state.reasonData)).toMatchObject({
      version: '1.0',
      period: 60,
      threshold: 0.05,
    });
    expect(event.detail.configuration.metrics).toContainEqual({
      id: 'invocations',
      metricStat: {
        metric: {
          dimensions: { EndpointName: 'mlops-churn', VariantName: 'AllTraffic' },
          name: 'Invocations',
          namespace: 'AWS/SageMaker',
        },
        period: 60,
        stat: 'Sum',
      },
      returnData: false,
    });
    expect(matches(alarmRulePattern, event)).toBe(true);
    expect(evaluator.describe(spec.names.errorRate)).toMatchObject({
      state: 'ALARM',
      updatedAt: new Date(now),
    });

    // Healthy again: OK once fewer than 3 of the last 5 periods breach.
    for (let period = 33; period < 40; period++) healthy(period);
    expect(evaluateAt(34)).toEqual([]);
    expect(evaluateAt(35)).toEqual([]);
    const [ok] = evaluateAt(36);
    expect(ok).toMatchObject({ alarmName: spec.names.errorRate, previousState: 'ALARM', state: 'OK' });
    expect(ok?.reason).toMatch(
      /^Threshold Crossed: 3 out of the last 5 datapoints \[.*\] were not greater than the threshold \(0\.05\) \(minimum 1 datapoint for ALARM -> OK transition\)\.$/,
    );
    expect(published.map((e) => (e.detail as typeof fixture.detail).state.value)).toEqual(['ALARM', 'OK']);
  });

  it('a latency spike far above a stable history: latency anomaly ALARM', () => {
    for (let period = 0; period < 30; period++) healthy(period);
    evaluateAt(30);
    for (let period = 30; period < 33; period++) traffic(period, { invocations: 102, latencyUs: 400_000 });
    const changes = evaluateAt(33);
    expect(changes.map((c) => [c.alarmName, c.state])).toEqual([[spec.names.latency, 'ALARM']]);
    expect(changes[0]?.reason).toMatch(
      /^Thresholds Crossed: 3 out of the last 5 datapoints \[400000\.0 \(.*\), 400000\.0 .*\] were greater than the upper thresholds \[[\d.]+, [\d.]+, [\d.]+\] \(minimum 3 datapoints for OK -> ALARM transition\)\.$/,
    );
    const reasonData = JSON.parse(evaluator.describe(spec.names.latency)?.reasonData ?? '{}') as {
      recentUpperThresholds: number[];
    };
    expect(reasonData.recentUpperThresholds).toHaveLength(5);
    expect(reasonData.recentUpperThresholds[0]).toBeLessThan(25_000); // learnt from the ~20 ms history
    expect(state(spec.names.errorRate)).toBe('OK');
    expect(state(spec.names.invocations)).toBe('OK');
  });

  it('a traffic collapse: invocations anomaly ALARM (the band works both ways)', () => {
    for (let period = 0; period < 30; period++) healthy(period);
    evaluateAt(30);
    for (let period = 30; period < 33; period++) traffic(period, { invocations: 4, latencyUs: 20_000 });
    expect(evaluateAt(33).map((c) => [c.alarmName, c.state])).toEqual([[spec.names.invocations, 'ALARM']]);
  });

  it('no band before enough history: a young endpoint does not alarm on latency', () => {
    for (let period = 0; period < 3; period++) healthy(period);
    for (let period = 3; period < 6; period++) traffic(period, { invocations: 100, latencyUs: 400_000 });
    evaluateAt(6);
    expect(state(spec.names.latency)).toBe('OK');
  });

  it('upserts: a second put keeps the state and replaces the configuration', () => {
    evaluateAt(10);
    const request = buildModelAlarmRequests({ ...spec, errorRateThreshold: 0.2 })[2];
    evaluator.putMetricAlarm(request as NonNullable<typeof request>);
    expect(evaluator.describe(spec.names.errorRate)).toMatchObject({
      state: 'OK',
      input: { Threshold: 0.2 },
    });
  });

  it('evaluates periodically after start(), until stop()', async () => {
    const periodic = new LocalAlarmEvaluator({
      metrics,
      events: { publish: () => {} },
      time,
      evaluationIntervalMs: 2,
    });
    for (const request of buildModelAlarmRequests(spec)) periodic.putMetricAlarm(request);
    periodic.start();
    await new Promise((resolve) => setTimeout(resolve, 30));
    periodic.stop();
    expect(periodic.describe(spec.names.errorRate)?.state).toBe('OK'); // no traffic, notBreaching
  });
});

describe('LocalAlarmEvaluator with single-metric alarms', () => {
  const single = (overrides: Record<string, unknown> = {}) => ({
    AlarmName: 'mlops-drift',
    Namespace: 'ServerlessMlops',
    MetricName: 'DriftScore',
    Dimensions: [{ Name: 'model', Value: 'churn' }],
    Statistic: 'Maximum' as const,
    Period: 60,
    EvaluationPeriods: 2,
    Threshold: 0.3,
    ComparisonOperator: 'GreaterThanOrEqualToThreshold' as const,
    ...overrides,
  });
  const drift = (period: number, value: number) =>
    metrics.put({
      namespace: 'ServerlessMlops',
      name: 'DriftScore',
      dimensions: { model: 'churn' },
      value,
      unit: 'None',
      timestamp: new Date(at(period) + 1),
    });

  it('missing (the default): no data keeps INSUFFICIENT_DATA; DatapointsToAlarm defaults to EvaluationPeriods', () => {
    evaluator.putMetricAlarm(single());
    evaluateAt(5);
    expect(state('mlops-drift')).toBe('INSUFFICIENT_DATA');
    drift(5, 0.5);
    evaluateAt(6);
    expect(state('mlops-drift')).toBe('OK'); // 1 of 2 breaching, 1 missing
    drift(6, 0.3);
    const changes = evaluateAt(7);
    expect(changes.find((c) => c.alarmName === 'mlops-drift')?.reason).toBe(
      'Threshold Crossed: 2 out of the last 2 datapoints [0.3 (03/06/25 11:00:00), 0.5 (03/06/25 11:00:00)] were greater than or equal to the threshold (0.3) (minimum 2 datapoints for OK -> ALARM transition).',
    );
    expect(evaluateAt(20).find((c) => c.alarmName === 'mlops-drift')).toMatchObject({
      state: 'INSUFFICIENT_DATA',
      reason: 'Insufficient Data: 2 datapoints were unknown.',
    });
  });

  it('breaching: missing data alarms; ignore: missing data keeps the state', () => {
    evaluator.putMetricAlarm(single({ AlarmName: 'b', TreatMissingData: 'breaching' }));
    evaluator.putMetricAlarm(
      single({ AlarmName: 'i', TreatMissingData: 'ignore', ExtendedStatistic: 'p90', Statistic: undefined }),
    );
    evaluateAt(5);
    expect(state('b')).toBe('ALARM');
    expect(state('i')).toBe('INSUFFICIENT_DATA');
    drift(5, 0.1);
    drift(6, 0.1);
    evaluateAt(7);
    expect(state('b')).toBe('OK');
    expect(state('i')).toBe('OK');
    evaluateAt(30);
    expect(state('i')).toBe('OK');
  });

  it('setState changes the state like SetAlarmState and publishes the change', () => {
    evaluator.putMetricAlarm(single());
    const change = evaluator.setState('mlops-drift', 'ALARM', 'testing the rollback');
    expect(change).toMatchObject({
      previousState: 'INSUFFICIENT_DATA',
      state: 'ALARM',
      reason: 'testing the rollback',
    });
    expect(published.at(-1)?.detail).toMatchObject({ alarmName: 'mlops-drift', state: { value: 'ALARM' } });
    expect(evaluator.setState('mlops-drift', 'ALARM', 'again')).toBeUndefined();
    expect(() => evaluator.setState('nope', 'OK', 'x')).toThrow(/does not exist/);
    expect(evaluator.states(['mlops-drift']).get('mlops-drift')).toBe('ALARM');
  });

  it('refuses an alarm CloudWatch would refuse (alarm-compiler.test.ts has the cases), and keeps none', () => {
    expect(() => evaluator.putMetricAlarm(single({ AlarmName: undefined }))).toThrow(/AlarmName is required/);
    expect(() => evaluator.putMetricAlarm(single({ Threshold: undefined }))).toThrow(
      /alarm "mlops-drift": Threshold is required/,
    );
    expect(evaluator.describe('mlops-drift')).toBeUndefined();
  });
});
