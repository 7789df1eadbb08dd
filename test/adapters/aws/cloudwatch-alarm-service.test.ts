import {
  CloudWatchClient,
  CloudWatchServiceException,
  DescribeAlarmsCommand,
  PutMetricAlarmCommand,
} from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  CloudWatchAlarmService,
  ERROR_RATE_EXPRESSION,
  parseStateReasonData,
} from '../../../adapters/aws/cloudwatch-alarm-service';
import anomalySample from '../../fixtures/events/aws-samples/cloudwatch-alarm-state-change-anomaly-detection.json';
import singleMetricSample from '../../fixtures/events/aws-samples/cloudwatch-alarm-state-change-single-metric.json';
import { churnAlarmsSpec } from '../../support/alarm-spec';

const cloudwatch = mockClient(CloudWatchClient);
const service = new CloudWatchAlarmService(new CloudWatchClient({ region: 'us-east-1' }));

const spec = churnAlarmsSpec({ variantName: 'main' });

const dimensions = [
  { Name: 'EndpointName', Value: 'mlops-churn' },
  { Name: 'VariantName', Value: 'main' },
];
const stat = (id: string, metricName: string, statName: string, returnData: boolean) => ({
  Id: id,
  MetricStat: {
    Metric: { Namespace: 'AWS/SageMaker', MetricName: metricName, Dimensions: dimensions },
    Period: 60,
    Stat: statName,
  },
  ReturnData: returnData,
});
const common = {
  EvaluationPeriods: 5,
  DatapointsToAlarm: 3,
  TreatMissingData: 'notBreaching',
  Tags: [{ Key: 'mlops:model', Value: 'churn' }],
};

beforeEach(() => {
  cloudwatch.reset();
});

describe('CloudWatchAlarmService.ensureModelAlarms', () => {
  it('puts exactly the five alarms', async () => {
    cloudwatch.on(PutMetricAlarmCommand).resolves({});
    await service.ensureModelAlarms(spec);

    expect(cloudwatch).toHaveReceivedCommandTimes(PutMetricAlarmCommand, 5);
    const inputs = cloudwatch.commandCalls(PutMetricAlarmCommand).map((call) => call.args[0].input);
    expect(inputs).toEqual([
      {
        AlarmName: 'mlops-churn-latency-anomaly',
        AlarmDescription: 'Model churn: latency of endpoint mlops-churn (main) above its expected band.',
        Metrics: [
          stat('m1', 'ModelLatency', 'Average', true),
          {
            Id: 'ad1',
            Expression: 'ANOMALY_DETECTION_BAND(m1, 3)',
            Label: 'ModelLatency (expected band)',
            ReturnData: true,
          },
        ],
        ThresholdMetricId: 'ad1',
        ComparisonOperator: 'GreaterThanUpperThreshold',
        ...common,
      },
      {
        AlarmName: 'mlops-churn-invocations-anomaly',
        AlarmDescription:
          'Model churn: invocations of endpoint mlops-churn (main) outside their expected band.',
        Metrics: [
          stat('m1', 'Invocations', 'Sum', true),
          {
            Id: 'ad1',
            Expression: 'ANOMALY_DETECTION_BAND(m1, 3)',
            Label: 'Invocations (expected band)',
            ReturnData: true,
          },
        ],
        ThresholdMetricId: 'ad1',
        ComparisonOperator: 'LessThanLowerOrGreaterThanUpperThreshold',
        ...common,
      },
      {
        AlarmName: 'mlops-churn-error-rate',
        AlarmDescription:
          'Model churn: share of 4XX + 5XX responses of endpoint mlops-churn (main) above 0.05.',
        Metrics: [
          stat('invocations', 'Invocations', 'Sum', false),
          stat('errors4xx', 'Invocation4XXErrors', 'Sum', false),
          stat('errors5xx', 'Invocation5XXErrors', 'Sum', false),
          {
            Id: 'errorRate',
            Expression: 'IF(invocations > 0, (FILL(errors4xx, 0) + FILL(errors5xx, 0)) / invocations, 0)',
            Label: 'Error rate',
            ReturnData: true,
          },
        ],
        Threshold: 0.05,
        ComparisonOperator: 'GreaterThanThreshold',
        ...common,
      },
      {
        AlarmName: 'mlops-churn-feature-drift',
        AlarmDescription:
          'Model churn: largest feature drift of captured traffic against the training data above 0.2.',
        Namespace: 'ServerlessMlops/Drift',
        MetricName: 'FeatureDriftMax',
        Dimensions: [{ Name: 'Model', Value: 'churn' }],
        Statistic: 'Maximum',
        Period: 3600,
        EvaluationPeriods: 1,
        DatapointsToAlarm: 1,
        Threshold: 0.2,
        ComparisonOperator: 'GreaterThanThreshold',
        TreatMissingData: 'notBreaching',
        Tags: [{ Key: 'mlops:model', Value: 'churn' }],
      },
      {
        AlarmName: 'mlops-churn-prediction-drift',
        AlarmDescription: 'Model churn: drift of the predictions against the training labels above 0.25.',
        Namespace: 'ServerlessMlops/Drift',
        MetricName: 'PredictionDrift',
        Dimensions: [{ Name: 'Model', Value: 'churn' }],
        Statistic: 'Maximum',
        Period: 3600,
        EvaluationPeriods: 1,
        DatapointsToAlarm: 1,
        Threshold: 0.25,
        ComparisonOperator: 'GreaterThanThreshold',
        TreatMissingData: 'notBreaching',
        Tags: [{ Key: 'mlops:model', Value: 'churn' }],
      },
    ]);
    expect(cloudwatch).toHaveReceivedNthCommandWith(PutMetricAlarmCommand, 3, {
      AlarmName: 'mlops-churn-error-rate',
      Threshold: 0.05,
    });
  });

  it('has exactly one query returning data in the metric-math alarm, and one ThresholdMetricId target per anomaly alarm', async () => {
    cloudwatch.on(PutMetricAlarmCommand).resolves({});
    await service.ensureModelAlarms(spec);
    const [latency, invocations, errorRate] = cloudwatch
      .commandCalls(PutMetricAlarmCommand)
      .map((call) => call.args[0].input);
    expect(errorRate?.Metrics?.filter((query) => query.ReturnData)).toHaveLength(1);
    expect(ERROR_RATE_EXPRESSION).toContain('invocations');
    for (const alarm of [latency, invocations]) {
      expect(alarm?.Metrics?.find((query) => query.Id === alarm.ThresholdMetricId)?.Expression).toMatch(
        /^ANOMALY_DETECTION_BAND\(m1, /,
      );
    }
  });

  it('adds alarm and OK actions only when a topic is given', async () => {
    cloudwatch.on(PutMetricAlarmCommand).resolves({});
    await service.ensureModelAlarms({
      ...spec,
      notificationTopicArn: 'arn:aws:sns:us-east-1:123456789012:mlops',
    });
    for (const call of cloudwatch.commandCalls(PutMetricAlarmCommand)) {
      expect(call.args[0].input).toMatchObject({
        AlarmActions: ['arn:aws:sns:us-east-1:123456789012:mlops'],
        OKActions: ['arn:aws:sns:us-east-1:123456789012:mlops'],
      });
    }
    cloudwatch.reset();
    cloudwatch.on(PutMetricAlarmCommand).resolves({});
    await service.ensureModelAlarms(spec);
    for (const call of cloudwatch.commandCalls(PutMetricAlarmCommand)) {
      expect(call.args[0].input.AlarmActions).toBeUndefined();
      expect(call.args[0].input.OKActions).toBeUndefined();
    }
  });

  it('rethrows errors', async () => {
    cloudwatch.on(PutMetricAlarmCommand).rejects(
      new CloudWatchServiceException({
        name: 'LimitExceeded',
        $fault: 'client',
        message: 'The maximum number of alarms has been reached',
        $metadata: {},
      }),
    );
    await expect(service.ensureModelAlarms(spec)).rejects.toMatchObject({ name: 'LimitExceeded' });
  });
});

describe('CloudWatchAlarmService.describeAlarmState', () => {
  it('maps the alarm state', async () => {
    cloudwatch
      .on(DescribeAlarmsCommand, { AlarmNames: ['mlops-churn-error-rate'], AlarmTypes: ['MetricAlarm'] })
      .resolves({
        MetricAlarms: [
          {
            AlarmName: 'mlops-churn-error-rate',
            StateValue: 'ALARM',
            StateReason:
              'Threshold Crossed: 3 out of the last 5 datapoints were greater than the threshold (0.05).',
            StateUpdatedTimestamp: new Date('2025-01-02T03:05:00Z'),
            StateTransitionedTimestamp: new Date('2025-01-02T03:04:00Z'),
          },
        ],
      });
    await expect(service.describeAlarmState('mlops-churn-error-rate')).resolves.toEqual({
      state: 'ALARM',
      reason: 'Threshold Crossed: 3 out of the last 5 datapoints were greater than the threshold (0.05).',
      updatedAt: '2025-01-02T03:04:00.000Z',
    });
    expect(cloudwatch).toHaveReceivedCommandWith(DescribeAlarmsCommand, {
      AlarmNames: ['mlops-churn-error-rate'],
      AlarmTypes: ['MetricAlarm'],
    });
  });

  it('returns undefined for an unknown alarm', async () => {
    cloudwatch.on(DescribeAlarmsCommand).resolves({ MetricAlarms: [] });
    await expect(service.describeAlarmState('nope')).resolves.toBeUndefined();
  });
});

/**
 * StateReasonData of the alarm in CloudWatch User Guide, "How partial data is handled" (Metrics
 * Insights alarms), copied verbatim from its sample event's `state.reasonData`:
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-metrics-insights-alarms-partial-data.html
 * Three recent values, and one evaluated datapoint: the newest.
 */
const PARTIAL_DATA_REASON_DATA =
  '{"version":"1.0","queryDate":"2022-11-08T11:26:05.399+0000","startDate":"2022-11-08T11:23:00.000+0000","period":60,"recentDatapoints":[20000.0,20000.0,20000.0],"threshold":0.0,"evaluatedDatapoints":[{"timestamp":"2022-11-08T11:25:00.000+0000","value":20000.0}]}';

describe('CloudWatchAlarmService.describeAlarmState evidence', () => {
  it('adds the threshold, the comparison and the datapoints of StateReasonData', async () => {
    cloudwatch.on(DescribeAlarmsCommand).resolves({
      MetricAlarms: [
        {
          AlarmName: 'my-alarm-name',
          StateValue: 'ALARM',
          StateReason:
            'Threshold Crossed: 3 out of the last 3 datapoints [20000.0 (08/11/22 11:25:00), 20000.0 (08/11/22 11:24:00), 20000.0 (08/11/22 11:23:00)] were greater than the threshold (0.0) (minimum 1 datapoint for OK -> ALARM transition).',
          StateReasonData: PARTIAL_DATA_REASON_DATA,
          StateTransitionedTimestamp: new Date('2022-11-08T11:26:05.401Z'),
          Threshold: 0,
          ComparisonOperator: 'GreaterThanThreshold',
        },
      ],
    });
    await expect(service.describeAlarmState('my-alarm-name')).resolves.toEqual({
      state: 'ALARM',
      reason: expect.stringContaining('Threshold Crossed: 3 out of the last 3 datapoints') as string,
      updatedAt: '2022-11-08T11:26:05.401Z',
      threshold: 0,
      comparison: 'GreaterThanThreshold',
      // The three values of the reason, each with its period.
      datapoints: [
        { at: '2022-11-08T11:23:00.000Z', value: 20000 },
        { at: '2022-11-08T11:24:00.000Z', value: 20000 },
        { at: '2022-11-08T11:25:00.000Z', value: 20000 },
      ],
    });
  });

  it('leaves the evidence out when StateReasonData is malformed, and keeps the state', async () => {
    cloudwatch.on(DescribeAlarmsCommand).resolves({
      MetricAlarms: [
        {
          AlarmName: 'mlops-churn-latency-anomaly',
          StateValue: 'OK',
          StateReason: 'fine',
          StateReasonData: '{"recentDatapoints":[1.0',
          StateTransitionedTimestamp: new Date('2025-01-02T03:04:00Z'),
          ComparisonOperator: 'GreaterThanUpperThreshold',
        },
      ],
    });
    await expect(service.describeAlarmState('mlops-churn-latency-anomaly')).resolves.toEqual({
      state: 'OK',
      reason: 'fine',
      updatedAt: '2025-01-02T03:04:00.000Z',
      comparison: 'GreaterThanUpperThreshold',
    });
  });
});

describe('parseStateReasonData', () => {
  const T = (time: string) => `2022-11-08T${time}.000+0000`;
  const reasonData = (fields: Record<string, unknown>) =>
    JSON.stringify({ version: '1.0', queryDate: T('11:26:05'), period: 60, ...fields });

  it('reads the samples of AWS documentation', () => {
    // "Alarm events and EventBridge": no evaluatedDatapoints, one recent value at startDate.
    expect(parseStateReasonData(singleMetricSample.detail.state.reasonData)).toEqual({
      threshold: 50,
      datapoints: [{ at: '2019-10-02T16:59:00.000Z', value: 99.50160229693434 }],
    });
    // An anomaly-band alarm: its bands, no threshold.
    expect(parseStateReasonData(anomalySample.detail.state.reasonData)).toEqual({
      datapoints: [{ at: '2019-10-03T15:58:00.000Z', value: 0 }],
    });
  });

  it('keeps only the evaluated datapoints when the recent values are not one period apart', () => {
    // Five periods from 11:21, two of them missing: three values, which periods is not certain.
    const gaps = reasonData({
      startDate: T('11:21:00'),
      recentDatapoints: [1, 2, 3],
      threshold: 2.5,
      evaluatedDatapoints: [
        { timestamp: T('11:25:00'), value: 3 },
        { timestamp: T('11:24:00') },
        { timestamp: T('11:23:00'), value: 2 },
      ],
    });
    expect(parseStateReasonData(gaps)).toEqual({
      threshold: 2.5,
      datapoints: [
        { at: '2022-11-08T11:23:00.000Z', value: 2 },
        { at: '2022-11-08T11:25:00.000Z', value: 3 },
      ],
    });
    // Several recent values and no evaluated datapoint: none gets a time.
    expect(parseStateReasonData(reasonData({ startDate: T('11:23:00'), recentDatapoints: [1, 2] }))).toEqual(
      {},
    );
  });

  it('gives no datapoints for an evaluation without data', () => {
    const insufficient = reasonData({
      recentDatapoints: [],
      threshold: 5,
      evaluatedDatapoints: [{ timestamp: T('11:25:00') }, { timestamp: T('11:24:00') }],
    });
    expect(parseStateReasonData(insufficient)).toEqual({ threshold: 5 });
  });

  it.each([
    ['absent', undefined],
    ['empty', ''],
    ['not JSON', '{"threshold":'],
    ['not an object', '[1,2]'],
  ])('reads nothing from StateReasonData %s', (_, text) => {
    expect(parseStateReasonData(text)).toEqual({});
  });

  it.each([
    ['evaluatedDatapoints not a list', { evaluatedDatapoints: { timestamp: T('11:25:00'), value: 1 } }],
    ['a datapoint without a readable time', { evaluatedDatapoints: [{ timestamp: 'yesterday', value: 1 }] }],
    ['a value that is no number', { evaluatedDatapoints: [{ timestamp: T('11:25:00'), value: '1' }] }],
    ['recentDatapoints with a string', { startDate: T('11:25:00'), recentDatapoints: ['1'] }],
    ['an unreadable startDate', { startDate: 'noon', recentDatapoints: [1] }],
    ['a period that is no number', { startDate: T('11:25:00'), recentDatapoints: [1], period: '60' }],
  ])('leaves the datapoints out, and keeps the threshold, for %s', (_, fields) => {
    expect(parseStateReasonData(reasonData({ threshold: 0.05, ...fields }))).toEqual({ threshold: 0.05 });
  });
});
