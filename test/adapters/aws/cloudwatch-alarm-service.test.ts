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
} from '../../../adapters/aws/cloudwatch-alarm-service';
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
