import { describe, expect, it } from 'vitest';
import type { PutMetricAlarmCommandInput } from '@aws-sdk/client-cloudwatch';
import { buildModelAlarmRequests } from '../../../adapters/aws/cloudwatch-alarm-service';
import { compileAlarm, dimensionsOf, SINGLE_METRIC_ID } from '../../../local/metrics/alarm-compiler';
import { churnAlarmsSpec } from '../../support/alarm-spec';

const single = (overrides: Record<string, unknown> = {}): PutMetricAlarmCommandInput => ({
  AlarmName: 'mlops-drift',
  Namespace: 'ServerlessMlops',
  MetricName: 'DriftScore',
  Dimensions: [{ Name: 'model', Value: 'churn' }],
  Statistic: 'Maximum',
  Period: 60,
  EvaluationPeriods: 2,
  Threshold: 0.3,
  ComparisonOperator: 'GreaterThanOrEqualToThreshold',
  ...overrides,
});

describe('compileAlarm', () => {
  it('compiles a single-metric alarm: one query, CloudWatch’s defaults filled in', () => {
    expect(compileAlarm(single())).toEqual({
      periodSeconds: 60,
      evaluationPeriods: 2,
      datapointsToAlarm: 2, // defaults to EvaluationPeriods
      treatMissing: 'missing',
      comparison: 'GreaterThanOrEqualToThreshold',
      threshold: 0.3,
      queries: new Map([
        [
          SINGLE_METRIC_ID,
          {
            kind: 'metric',
            namespace: 'ServerlessMlops',
            name: 'DriftScore',
            dimensions: { model: 'churn' },
            stat: 'Maximum',
          },
        ],
      ]),
      valueId: SINGLE_METRIC_ID,
      statistic: 'Maximum',
    });
  });

  it('compiles the anomaly-detection and metric-math alarms the stack asks for', () => {
    const spec = churnAlarmsSpec();
    const requests = new Map(buildModelAlarmRequests(spec).map((r) => [r.AlarmName, r]));
    const latency = compileAlarm(requests.get(spec.names.latency)!);
    expect(latency).toMatchObject({ comparison: 'GreaterThanUpperThreshold', datapointsToAlarm: 3 });
    expect(latency.threshold).toBeUndefined();
    expect(latency.queries.get(latency.thresholdId!)).toMatchObject({ kind: 'expression' });
    expect(latency.queries.get(latency.valueId)).toMatchObject({ kind: 'metric', stat: 'Average' });

    const errorRate = compileAlarm(requests.get(spec.names.errorRate)!);
    expect(errorRate).toMatchObject({ threshold: 0.05, periodSeconds: 60 });
    expect(errorRate.queries.get(errorRate.valueId)).toMatchObject({ kind: 'expression' });
    expect(errorRate.statistic).toBeUndefined();
  });

  it.each<[string, Record<string, unknown>, RegExp]>([
    ['no metric', { Namespace: undefined, MetricName: undefined }, /Namespace and MetricName/],
    ['a bad statistic', { Statistic: 'Median' }, /unsupported statistic/],
    ['DatapointsToAlarm above EvaluationPeriods', { DatapointsToAlarm: 3 }, /DatapointsToAlarm/],
    [
      'a band operator without ThresholdMetricId',
      { ComparisonOperator: 'GreaterThanUpperThreshold' },
      /ThresholdMetricId/,
    ],
    ['no threshold', { Threshold: undefined }, /Threshold is required/],
    ['a bad TreatMissingData', { TreatMissingData: 'sometimes' }, /TreatMissingData/],
    [
      'a bad expression',
      {
        Namespace: undefined,
        MetricName: undefined,
        Metrics: [{ Id: 'e1', Expression: 'm1 +', ReturnData: true }],
      },
      /query "e1"/,
    ],
    [
      'an unknown id',
      {
        Namespace: undefined,
        MetricName: undefined,
        Metrics: [{ Id: 'e1', Expression: 'nope * 2', Period: 60 }],
      },
      /unknown id "nope"/,
    ],
  ])('rejects %s', (_name, overrides, message) => {
    expect(() => compileAlarm(single(overrides))).toThrow(message);
  });
});

describe('dimensionsOf', () => {
  it('turns Name/Value pairs into a record, dropping incomplete ones', () => {
    expect(dimensionsOf([{ Name: 'a', Value: '1' }, { Name: 'b' }, { Value: '3' }])).toEqual({ a: '1' });
    expect(dimensionsOf(undefined)).toEqual({});
  });
});
