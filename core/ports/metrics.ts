/**
 * Port: custom metrics the use cases publish. Where this stands: core port; in Lambda the adapter
 * prints CloudWatch Embedded Metric Format through Powertools Metrics (CloudWatch Logs extracts the
 * metrics: no PutMetricData permission, no API call), in the local cloud the same EMF reaches the
 * local metric store.
 */

/** CloudWatch units the product uses. */
export type MetricUnit = 'Count' | 'None' | 'Percent' | 'Seconds' | 'Milliseconds';

/** Data points sharing a namespace, dimensions and a timestamp (one EMF document). */
export interface MetricBatch {
  readonly namespace: string;
  readonly dimensions: Readonly<Record<string, string>>;
  readonly timestamp: Date;
  readonly metrics: readonly { readonly name: string; readonly value: number; readonly unit: MetricUnit }[];
}

/**
 * Publishes the drift monitor's metrics (`MonitorDrift`, core/use-cases/monitor-drift.ts), which the
 * drift alarms watch. Implemented by `EmfMetricsPublisher` (adapters/aws/emf-metrics-publisher.ts),
 * in Lambda and in the local cloud alike.
 */
export interface MetricsPublisher {
  /**
   * Publishes one batch; an empty one is a no-op. Resolves once the batch is written out (for EMF:
   * printed), not once the metrics can be read: CloudWatch extracts them from the logs later.
   */
  publish(batch: MetricBatch): Promise<void>;
}
