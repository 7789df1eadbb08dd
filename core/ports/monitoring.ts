/**
 * Ports: alarms and notifications. Where this stands: core ports; CloudWatch and SNS in AWS,
 * local metric storage/alarm evaluation and a local outbox in the local cloud.
 */

/** The alarms to keep for one model's endpoint. */
export interface ModelAlarmsSpec {
  readonly model: string;
  readonly endpointName: string;
  readonly variantName: string;
  readonly names: {
    readonly latency: string;
    readonly invocations: string;
    readonly errorRate: string;
    readonly featureDrift: string;
    readonly predictionDrift: string;
  };
  readonly anomalyBandWidth: number;
  readonly errorRateThreshold: number;
  /** FeatureDriftMax above this (KS / L-infinity distance) is an alarm (monitoring.featureDriftThreshold). */
  readonly featureDriftThreshold: number;
  /** PredictionDrift above this is an alarm (monitoring.predictionDriftThreshold). */
  readonly predictionDriftThreshold: number;
  readonly evaluationPeriods: number;
  readonly datapointsToAlarm: number;
  /** Where alarm actions notify (the stack's topic), if anywhere. */
  readonly notificationTopicArn?: string;
  readonly tags: Readonly<Record<string, string>>;
}

export interface AlarmService {
  /** Creates or updates the model's alarms (PutMetricAlarm is an upsert). */
  ensureModelAlarms(spec: ModelAlarmsSpec): Promise<void>;
  /**
   * The alarm's current state, or undefined when it does not exist. Alarm events can arrive late
   * or out of order: the current state, not the event's, decides whether an incident is open.
   */
  describeAlarmState(
    alarmName: string,
  ): Promise<{ state: 'OK' | 'ALARM' | 'INSUFFICIENT_DATA'; reason: string; updatedAt: string } | undefined>;
}

/** A message for people (ops, the data scientist). */
export interface Notification {
  readonly subject: string;
  readonly message: string;
  readonly model: string;
  readonly kind:
    | 'incident-opened'
    | 'incident-resolved'
    | 'version-rejected'
    | 'version-promoted'
    | 'deployment-failed'
    | 'approval-needed'
    | 'dataset-rejected'
    | 'training-failed';
}

export interface Notifier {
  notify(notification: Notification): Promise<void>;
}
