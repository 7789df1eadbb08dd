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

/**
 * A model's alarms: `ProcessEndpointChange` creates them before it promotes a version,
 * `ProcessAlarmChange` reads their state when one changes. Implemented by `CloudWatchAlarmService`
 * (adapters/aws/cloudwatch-alarm-service.ts) and `LocalAlarmService`
 * (local/metrics/local-alarm-service.ts), which puts the same PutMetricAlarm requests locally.
 */
export interface AlarmService {
  /** Creates or updates the model's alarms (PutMetricAlarm is an upsert): safe to repeat. */
  ensureModelAlarms(spec: ModelAlarmsSpec): Promise<void>;
  /**
   * The alarm's current state, or undefined when it does not exist. Alarm events can arrive late
   * or out of order: the current state, not the event's, decides whether an incident is open.
   * `updatedAt` (ISO 8601) is when the state last changed, the same on every read until it changes
   * again: the incident's id is built from it. `threshold`, `comparison` and `datapoints` are the
   * incident's evidence, where the service tells them (CloudWatch's StateReasonData).
   */
  describeAlarmState(alarmName: string): Promise<AlarmState | undefined>;
}

/** An alarm's state as {@link AlarmService.describeAlarmState} reads it. */
export interface AlarmState {
  readonly state: 'OK' | 'ALARM' | 'INSUFFICIENT_DATA';
  readonly reason: string;
  /** When the state last changed (ISO 8601). */
  readonly updatedAt: string;
  /** The static threshold (absent for an anomaly band). */
  readonly threshold?: number;
  /** CloudWatch's ComparisonOperator, e.g. `GreaterThanThreshold`. */
  readonly comparison?: string;
  /** The datapoints the last evaluation looked at, oldest first (ISO 8601 times). */
  readonly datapoints?: readonly { readonly at: string; readonly value: number }[];
}

/** A message for people (ops, the data scientist). */
export interface Notification {
  /**
   * Stable id of this notification: the outbox item it was written as (core/use-cases/
   * notification-outbox.ts), the same on every send of it. Delivery is at least once, so a
   * subscriber that must not act twice recognises a second copy by it. Set by the outbox when it
   * delivers; absent on a notification written with a state change, before it has an item.
   */
  readonly id?: string;
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

/**
 * Tells people what happened. Only the notification outbox (core/use-cases/notification-outbox.ts)
 * calls it, with what the use cases wrote alongside their state changes. Implemented by `SnsNotifier`
 * (adapters/aws/sns-notifier.ts; `NoopNotifier` for a stack without a topic) and `LocalNotifier`
 * (local/local-notifier.ts).
 */
export interface Notifier {
  /**
   * Sends the notification. Throws {@link NotificationNotSent} when the channel certainly did not
   * take it (it answered with a refusal: throttling, a validation error, access denied), so it can
   * be sent again without a duplicate; any other error (a server error, a timeout, a dropped
   * connection) leaves it unknown whether it went out.
   */
  notify(notification: Notification): Promise<void>;
}

/**
 * The notifier's channel answered, and refused the notification: it was not sent, and sending it
 * again cannot make a duplicate. The channel's own error is the `cause`.
 */
export class NotificationNotSent extends Error {
  override readonly name = 'NotificationNotSent';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
