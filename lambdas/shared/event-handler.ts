/**
 * The common shape of the handlers invoked directly by an EventBridge rule: parse, run the use
 * case, log the outcome. A malformed event is logged and dropped (a retry cannot fix it); any other
 * error is thrown so Lambda's asynchronous retries run and, after the last, the event goes to the
 * function's dead-letter destination.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { InvalidEventError } from './events';
import { logger, metrics } from './observability';

/**
 * Wraps `run` (parse the event, run the use case) as a Lambda handler. `name` prefixes the outcome's
 * log line and its count metric (`<name>:<kind>`). An {@link InvalidEventError} becomes the outcome
 * `malformed`; any other error is rethrown, for Lambda to retry the event.
 */
export function eventHandler<R extends { kind: string }>(name: string, run: (event: unknown) => Promise<R>) {
  return async (event: unknown, context?: Context): Promise<R | { kind: 'malformed' }> => {
    if (context) logger.addContext(context);
    try {
      const outcome = await run(event);
      logger.info(`${name} outcome`, { outcome });
      metrics.addMetric(`${name}:${outcome.kind}`, MetricUnit.Count, 1);
      return outcome;
    } catch (error) {
      if (error instanceof InvalidEventError) {
        logger.error('malformed event dropped', { error: error.message, event });
        metrics.addMetric('MalformedEvents', MetricUnit.Count, 1);
        return { kind: 'malformed' };
      }
      logger.error(`${name} failed; Lambda will retry`, { error });
      throw error;
    } finally {
      metrics.publishStoredMetrics();
    }
  };
}
