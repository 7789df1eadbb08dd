import { describe, expect, it } from 'vitest';
import { localTime } from '../../../local/contracts';
import { compileAlarm } from '../../../local/metrics/alarm-compiler';
import { readEvaluationRange } from '../../../local/metrics/alarm-datapoints';
import { DEFAULT_ANOMALY_BAND } from '../../../local/metrics/metric-math';
import { LocalMetricStore } from '../../../local/metrics/metric-store';

// 6000 simulated seconds per real second: a 60 s period lasts 10 ms.
const time = localTime(6000);
const PERIOD_MS = time.ms(60);
const T0 = Date.UTC(2025, 5, 3, 11, 0, 0);
const at = (period: number) => T0 + period * PERIOD_MS;

const alarm = compileAlarm({
  AlarmName: 'mlops-drift',
  Namespace: 'ServerlessMlops',
  MetricName: 'DriftScore',
  Statistic: 'Maximum',
  Period: 60,
  EvaluationPeriods: 3,
  Threshold: 0.3,
  ComparisonOperator: 'GreaterThanOrEqualToThreshold',
});

describe('readEvaluationRange', () => {
  it('reads the last complete periods, oldest first: breaching, ok or missing', () => {
    const metrics = new LocalMetricStore();
    const drift = (period: number, value: number) =>
      metrics.put({
        namespace: 'ServerlessMlops',
        name: 'DriftScore',
        dimensions: {},
        value,
        unit: 'None',
        timestamp: new Date(at(period) + 1),
      });
    drift(2, 0.5);
    drift(4, 0.1);
    drift(5, 0.9); // the current period: not complete, not evaluated
    const range = readEvaluationRange(alarm, new Date(at(5) + 3), {
      metrics,
      time,
      anomaly: DEFAULT_ANOMALY_BAND,
    });
    expect(range.start).toBe(at(2));
    expect(range.datapoints.map((p) => [p.timestamp, p.status])).toEqual([
      [at(2), 'breaching'],
      [at(3), 'missing'],
      [at(4), 'ok'],
    ]);
    expect(range.datapoints[1]?.value).toBeNaN();
    expect(range.datapoints[0]).toMatchObject({ value: 0.5, threshold: 0.3 });
  });
});
