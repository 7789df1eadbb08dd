/**
 * Training-events handler: "SageMaker Training Job State Change" from EventBridge. Thin: take the
 * job name, run ProcessTrainingJob (which reads the job's current state itself).
 */
import type { MlopsContext } from '../../core/use-cases/context';
import { ProcessTrainingJob } from '../../core/use-cases/process-training-job';
import { createAwsContext } from '../shared/aws-context';
import { eventHandler } from '../shared/event-handler';
import { parseEvent, trainingJobStateChangeEvent } from '../shared/events';
import { lazy } from '../shared/lazy';
import { logger, traceInvocation } from '../shared/observability';

/**
 * Builds the handler around a context factory: the entry point below gives it the AWS context, the
 * local cloud its own. It returns ProcessTrainingJob's outcome, or `malformed` for an event of
 * another shape (logged and dropped: a retry cannot fix it).
 */
export function createTrainingEventsHandler(getContext: () => MlopsContext) {
  return eventHandler('TrainingEvent', (event) => {
    const parsed = parseEvent(trainingJobStateChangeEvent, event, 'SageMaker Training Job State Change');
    return new ProcessTrainingJob(getContext()).execute(parsed.detail.TrainingJobName);
  });
}

/** The Lambda entry point, one X-Ray subsegment per invocation. */
export const handler = traceInvocation(createTrainingEventsHandler(lazy(() => createAwsContext(logger))));
