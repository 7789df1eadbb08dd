/**
 * Endpoint-events handler: "SageMaker Endpoint State Change" from EventBridge. Thin: take the
 * endpoint name, run ProcessEndpointChange (which reads the endpoint's current state itself).
 */
import type { MlopsContext } from '../../core/use-cases/context';
import { ProcessEndpointChange } from '../../core/use-cases/process-endpoint-change';
import { createAwsContext } from '../shared/aws-context';
import { eventHandler } from '../shared/event-handler';
import { endpointStateChangeEvent, parseEvent } from '../shared/events';
import { lazy } from '../shared/lazy';
import { logger, traceInvocation } from '../shared/observability';

/**
 * Builds the handler around a context factory: the entry point below gives it the AWS context, the
 * local cloud its own. It returns ProcessEndpointChange's outcome, or `malformed` for an event of
 * another shape (logged and dropped: a retry cannot fix it).
 */
export function createEndpointEventsHandler(getContext: () => MlopsContext) {
  return eventHandler('EndpointEvent', (event) => {
    const parsed = parseEvent(endpointStateChangeEvent, event, 'SageMaker Endpoint State Change');
    return new ProcessEndpointChange(getContext()).execute(parsed.detail.EndpointName);
  });
}

/** The Lambda entry point, one X-Ray subsegment per invocation. */
export const handler = traceInvocation(createEndpointEventsHandler(lazy(() => createAwsContext(logger))));
