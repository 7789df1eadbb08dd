import { describe, expect, it } from 'vitest';
import { LOCAL_ACCOUNT } from '../../../local/contracts';
import { alarmStateChangeEvent } from '../../../local/metrics/alarm-event';
import fixture from '../../fixtures/events/cloudwatch-alarm-state-change.json';
import { anyString } from '../../support/matchers';

const side = (state: typeof fixture.detail.state) => ({
  value: state.value as 'OK' | 'ALARM',
  reason: state.reason,
  reasonData: state.reasonData,
  timestamp: new Date(state.timestamp.replace('+0000', 'Z')),
});

describe('alarmStateChangeEvent', () => {
  it('builds the event AWS sends, key for key (the fixture, but for the account and id)', () => {
    const event = alarmStateChangeEvent(
      'mlops-churn-error-rate',
      {
        AlarmName: 'mlops-churn-error-rate',
        AlarmDescription: fixture.detail.configuration.description,
        Namespace: 'AWS/SageMaker',
        MetricName: 'Invocation5XXErrors',
        Dimensions: [
          { Name: 'EndpointName', Value: 'mlops-churn' },
          { Name: 'VariantName', Value: 'AllTraffic' },
        ],
        Statistic: 'Average',
        Period: 60,
        EvaluationPeriods: 1,
        Threshold: 0.05,
        ComparisonOperator: 'GreaterThanThreshold',
      },
      side(fixture.detail.previousState),
      side(fixture.detail.state),
    );
    expect(event).toEqual({
      ...fixture,
      id: anyString(),
      account: LOCAL_ACCOUNT,
      resources: [`arn:aws:cloudwatch:us-east-1:${LOCAL_ACCOUNT}:alarm:mlops-churn-error-rate`],
    });
  });

  it('leaves out an empty reasonData (a new alarm’s)', () => {
    const at = new Date('2025-06-03T11:00:00Z');
    const event = alarmStateChangeEvent(
      'a',
      { AlarmName: 'a', Metrics: [{ Id: 'e1', Expression: 'm1 * 2', Label: 'twice', ReturnData: true }] },
      {
        value: 'INSUFFICIENT_DATA',
        reason: 'Unchecked: Initial alarm creation',
        reasonData: '',
        timestamp: at,
      },
      { value: 'OK', reason: 'fine', reasonData: '{"version":"1.0"}', timestamp: at },
    );
    const detail = event.detail as typeof fixture.detail;
    expect(detail.previousState).not.toHaveProperty('reasonData');
    expect(detail.state.reasonData).toBe('{"version":"1.0"}');
    expect(detail.configuration).toEqual({
      metrics: [{ id: 'e1', expression: 'm1 * 2', label: 'twice', returnData: true }],
    });
  });
});
