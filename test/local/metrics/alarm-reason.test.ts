import { describe, expect, it } from 'vitest';
import { compileAlarm } from '../../../local/metrics/alarm-compiler';
import type { Datapoint } from '../../../local/metrics/alarm-datapoints';
import {
  alarmReason,
  formatNumber,
  formatReasonDate,
  insufficientDataReason,
  noDataNotBreachingReason,
  okReason,
  stateReasonData,
} from '../../../local/metrics/alarm-reason';
import fixture from '../../fixtures/events/cloudwatch-alarm-state-change.json';

/** The alarm of the fixture: the 5XX error rate of an endpoint, over one period of a minute. */
const errorRate = compileAlarm({
  AlarmName: 'mlops-churn-error-rate',
  Namespace: 'AWS/SageMaker',
  MetricName: 'Invocation5XXErrors',
  Dimensions: [{ Name: 'EndpointName', Value: 'mlops-churn' }],
  Statistic: 'Average',
  Period: 60,
  EvaluationPeriods: 1,
  Threshold: 0.05,
  ComparisonOperator: 'GreaterThanThreshold',
});
const point = (iso: string, value: number, status: Datapoint['status']): Datapoint => ({
  timestamp: Date.parse(iso),
  value,
  threshold: 0.05,
  status,
});

describe('state reasons', () => {
  it('words an ALARM and an OK transition as CloudWatch does (the fixture’s own reasons)', () => {
    expect(alarmReason(errorRate, [point('2025-06-03T11:04:00Z', 0.125, 'breaching')], 'OK')).toBe(
      fixture.detail.state.reason,
    );
    expect(okReason(errorRate, [point('2025-06-03T10:59:00Z', 0, 'ok')], 'ALARM')).toBe(
      fixture.detail.previousState.reason,
    );
  });

  it('counts missing datapoints as TreatMissingData says, and says so', () => {
    const notBreaching = { ...errorRate, evaluationPeriods: 3, treatMissing: 'notBreaching' as const };
    const points = [
      point('2025-06-03T11:00:00Z', Number.NaN, 'missing'),
      point('2025-06-03T11:01:00Z', Number.NaN, 'missing'),
      point('2025-06-03T11:02:00Z', 0.01, 'ok'),
    ];
    expect(okReason(notBreaching, points, 'ALARM')).toBe(
      'Threshold Crossed: 3 out of the last 3 datapoints [0.01 (03/06/25 11:02:00)] were not greater than the threshold (0.05) ' +
        'and 2 missing datapoints were treated as [NonBreaching] (minimum 1 datapoint for ALARM -> OK transition).',
    );
    expect(noDataNotBreachingReason(1)).toBe(
      'Threshold Crossed: no datapoints were received for 1 period and 1 missing datapoint was treated as [NonBreaching].',
    );
    expect(insufficientDataReason(1)).toBe('Insufficient Data: 1 datapoint was unknown.');
    expect(insufficientDataReason(2)).toBe('Insufficient Data: 2 datapoints were unknown.');
  });

  it('writes StateReasonData with the fixture’s keys, newest datapoint first', () => {
    const data = JSON.parse(
      stateReasonData(
        errorRate,
        [point('2025-06-03T11:04:00Z', 0.125, 'breaching')],
        new Date('2025-06-03T11:05:09.412Z'),
        Date.parse('2025-06-03T11:04:00Z'),
      ),
    ) as { evaluatedDatapoints: unknown };
    expect(data).toMatchObject(JSON.parse(fixture.detail.state.reasonData));
    expect(data.evaluatedDatapoints).toEqual([{ timestamp: '2025-06-03T11:04:00.000+0000', value: 0.125 }]);
  });
});

describe('numbers and dates in reasons', () => {
  it('prints numbers like Java’s Double.toString', () => {
    expect([0, 42, 0.125, 0.1 + 0.2, Number.NaN].map(formatNumber)).toEqual([
      '0.0',
      '42.0',
      '0.125',
      '0.3',
      'NaN',
    ]);
  });

  it('prints dates as dd/MM/yy HH:mm:ss in UTC', () => {
    expect(formatReasonDate(Date.parse('2025-06-03T09:04:05.678Z'))).toBe('03/06/25 09:04:05');
  });
});
