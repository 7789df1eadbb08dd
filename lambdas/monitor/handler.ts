/**
 * Monitor handler: the hourly drift monitor. Thin: parse the event, pick the window, run
 * MonitorDrift with drift metrics printed as EMF (Powertools Metrics).
 *
 * Two events:
 * - the schedule's "Scheduled Event" (EventBridge): the last complete hour before the event's
 *   `time`. The window comes from the event, not from the clock, so a retried or late delivery of
 *   the same event monitors the same window (and finds it done);
 * - `{ "model": "<name>" }` (both optional, e.g. `aws lambda invoke`): an on-demand run over the
 *   hour (or `windowMinutes`) ending now, for one model or all of them.
 *
 * A model whose monitoring failed does not stop the others, but fails the invocation once they are
 * done, so that the window is retried (see `complete`).
 */
import { z } from 'zod';
import { createEmfMetrics, EmfMetricsPublisher } from '../../adapters/aws/emf-metrics-publisher';
import { DRIFT_NAMESPACE } from '../../core/domain/drift-metrics';
import { MODEL_NAME_PATTERN } from '../../core/domain/naming';
import type { MetricsPublisher } from '../../core/ports/metrics';
import { isPlainObject } from '../../core/support/objects';
import type { MlopsContext } from '../../core/use-cases/context';
import {
  MonitorDrift,
  type MonitorDriftOptions,
  type MonitorOutcome,
} from '../../core/use-cases/monitor-drift';
import { createAwsContext } from '../shared/aws-context';
import { eventHandler } from '../shared/event-handler';
import { parseEvent } from '../shared/events';
import { lazy } from '../shared/lazy';
import { logger, traceInvocation } from '../shared/observability';

/** EventBridge's scheduled event (rule with a schedule expression). */
export const scheduledEvent = z.object({
  source: z.literal('aws.events'),
  'detail-type': z.literal('Scheduled Event'),
  time: z.iso.datetime({ offset: true }),
});

/** An on-demand run. */
export const onDemandMonitorEvent = z
  .object({
    model: z.string().regex(MODEL_NAME_PATTERN, 'not a valid model name').optional(),
    /** Length of the window ending now, in minutes. @default 60 */
    windowMinutes: z
      .number()
      .int()
      .min(1)
      .max(24 * 60)
      .optional(),
  })
  .strict();

/** The drift metrics' EMF instance, one per function (the local cloud reroutes its output). */
export const driftMetrics = createEmfMetrics(DRIFT_NAMESPACE);

/**
 * Builds the handler around a context factory: the entry point below gives it the AWS context, the
 * local cloud its own (with a scaled `options.windowMs`). `publisher` receives the drift metrics;
 * by default they are printed as EMF through {@link driftMetrics}, which is what the alarms watch.
 */
export function createMonitorHandler(
  getContext: () => MlopsContext,
  publisher: MetricsPublisher = new EmfMetricsPublisher(driftMetrics, DRIFT_NAMESPACE),
  options: MonitorDriftOptions = {},
) {
  return eventHandler('Monitor', async (event) => {
    const monitor = new MonitorDrift(getContext(), publisher, options);
    if (isPlainObject(event) && 'source' in event) {
      const parsed = parseEvent(scheduledEvent, event, 'EventBridge Scheduled Event');
      return complete(await monitor.execute({ scheduledAt: new Date(parsed.time) }));
    }
    const request = parseEvent(onDemandMonitorEvent, event ?? {}, 'on-demand monitor');
    return complete(
      await monitor.execute({
        ...(request.model !== undefined ? { model: request.model } : {}),
        endingNow: true,
        ...(request.windowMinutes !== undefined ? { lengthMs: request.windowMinutes * 60_000 } : {}),
      }),
    );
  });
}

/**
 * The run's outcome, or an error when a model's window failed (a throttled read, a refused write):
 * the other models were monitored all the same, and the error makes Lambda retry the event, whose
 * window is the same, so the models done find their window done and the failed one gets another
 * try (then the dead-letter queue, which is alarmed). Returned as done, the failed window would
 * never be monitored: the next run is the next hour's.
 */
function complete(outcome: MonitorOutcome): MonitorOutcome {
  const failed = outcome.models.filter((m) => m.kind === 'failed');
  if (failed.length === 0) return outcome;
  logger.warn('drift monitoring incomplete', { outcome });
  throw new Error(
    `drift monitoring of window ${outcome.window.id} failed for ${failed
      .map((m) => `${m.model} v${m.version} (${m.error})`)
      .join(', ')}`,
  );
}

/** The Lambda entry point, one X-Ray subsegment per invocation. */
export const handler = traceInvocation(createMonitorHandler(lazy(() => createAwsContext(logger))));
