/**
 * EMF adapter of the {@link MetricsPublisher} port: Powertools Metrics prints each batch as one
 * CloudWatch Embedded Metric Format document on stdout, which CloudWatch Logs turns into metrics
 * (no PutMetricData call, no permission beyond writing the function's log group). Where this
 * stands: adapter; the monitor handler publishes drift metrics through it, and in the local cloud
 * the same document reaches the local metric store (local/services/lambda-runtime.ts).
 *
 * The Metrics instance must be dedicated to one namespace and carry no default dimensions (a
 * Powertools instance adds a `service` dimension by default, which would make the metric
 * `{service, Model}` instead of the `{Model}` the alarms watch): {@link createEmfMetrics} builds one.
 */
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { MetricBatch, MetricsPublisher, MetricUnit as PortUnit } from '../../core/ports/metrics';

const UNITS: Readonly<Record<PortUnit, (typeof MetricUnit)[keyof typeof MetricUnit]>> = {
  Count: MetricUnit.Count,
  None: MetricUnit.NoUnit,
  Percent: MetricUnit.Percent,
  Seconds: MetricUnit.Seconds,
  Milliseconds: MetricUnit.Milliseconds,
};

/** A Powertools Metrics instance for one namespace, with no default dimensions (not even `service`). */
export function createEmfMetrics(namespace: string): Metrics {
  const metrics = new Metrics({ namespace });
  metrics.clearDefaultDimensions();
  return metrics;
}

/**
 * The {@link MetricsPublisher} port as EMF on stdout: the monitor handler's drift metrics. Give it a
 * Metrics instance from {@link createEmfMetrics} and that instance's namespace; a batch for another
 * namespace throws.
 */
export class EmfMetricsPublisher implements MetricsPublisher {
  constructor(
    private readonly metrics: Metrics,
    /** The namespace `metrics` was created with. */
    private readonly namespace: string,
  ) {}

  // The work is synchronous, but a caller awaits a rejection, not a throw: `async` turns the namespace
  // check and any throw from Powertools into one.
  // eslint-disable-next-line @typescript-eslint/require-await
  async publish(batch: MetricBatch): Promise<void> {
    if (batch.namespace !== this.namespace) {
      throw new Error(`this publisher writes namespace ${this.namespace}, not ${batch.namespace}`);
    }
    if (batch.metrics.length === 0) return;
    const m = this.metrics;
    m.clearDefaultDimensions();
    for (const [name, value] of Object.entries(batch.dimensions)) m.addDimension(name, value);
    m.setTimestamp(batch.timestamp);
    for (const metric of batch.metrics) m.addMetric(metric.name, UNITS[metric.unit], metric.value);
    m.publishStoredMetrics();
  }
}
