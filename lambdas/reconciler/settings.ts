/**
 * The reconciler's own environment, beyond the variables every handler reads
 * (lambdas/shared/environment.ts): where lost events are re-delivered. Where this stands: handler
 * plumbing with no SDK import, so that the CDK construct can name the same variables.
 */
import { z } from 'zod';

/** Names of the reconciler's environment variables. */
export const RECONCILER_ENV = {
  /** URL of the ingest queue lost uploads are sent to. */
  ingestQueueUrl: 'INGEST_QUEUE_URL',
  /** ARN of the training-events function lost training job events are sent to. */
  trainingEventsFunction: 'TRAINING_EVENTS_FUNCTION_ARN',
  /** ARN of the endpoint-events function lost endpoint events are sent to. */
  endpointEventsFunction: 'ENDPOINT_EVENTS_FUNCTION_ARN',
} as const;

const schema = z.object({
  [RECONCILER_ENV.ingestQueueUrl]: z.url(),
  [RECONCILER_ENV.trainingEventsFunction]: z.string().startsWith('arn:'),
  [RECONCILER_ENV.endpointEventsFunction]: z.string().startsWith('arn:'),
});

/** The reconciler's validated targets. */
export interface ReconcilerSettings {
  readonly ingestQueueUrl: string;
  readonly trainingEventsFunction: string;
  readonly endpointEventsFunction: string;
}

/** Reads and validates the reconciler's variables; a missing one names itself in the error. */
export function readReconcilerSettings(env: NodeJS.ProcessEnv = process.env): ReconcilerSettings {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`invalid reconciler environment: ${problems}`);
  }
  const e = parsed.data;
  return {
    ingestQueueUrl: e[RECONCILER_ENV.ingestQueueUrl],
    trainingEventsFunction: e[RECONCILER_ENV.trainingEventsFunction],
    endpointEventsFunction: e[RECONCILER_ENV.endpointEventsFunction],
  };
}
