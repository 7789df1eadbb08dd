/** The churn model's alarms as the stack would ask for them: one spec for the alarm-service and evaluator tests. */
import type { ModelAlarmsSpec } from '../../core/ports/monitoring';

export function churnAlarmsSpec(overrides: Partial<ModelAlarmsSpec> = {}): ModelAlarmsSpec {
  return {
    model: 'churn',
    endpointName: 'mlops-churn',
    variantName: 'AllTraffic',
    names: {
      latency: 'mlops-churn-latency-anomaly',
      invocations: 'mlops-churn-invocations-anomaly',
      errorRate: 'mlops-churn-error-rate',
      featureDrift: 'mlops-churn-feature-drift',
      predictionDrift: 'mlops-churn-prediction-drift',
    },
    anomalyBandWidth: 3,
    errorRateThreshold: 0.05,
    featureDriftThreshold: 0.2,
    predictionDriftThreshold: 0.25,
    evaluationPeriods: 5,
    datapointsToAlarm: 3,
    tags: { 'mlops:model': 'churn' },
    ...overrides,
  };
}
