/**
 * Powertools logger, metrics and tracer, one of each per function (service name and namespace come
 * from POWERTOOLS_SERVICE_NAME / POWERTOOLS_METRICS_NAMESPACE, set by the stack).
 *
 * The functions run with X-Ray active tracing (lib/constructs/mlops-function.ts); the tracer adds
 * what Lambda's own segment lacks: a `## <handler>` subsegment per invocation (traceInvocation)
 * and one subsegment per AWS SDK call of the clients passed through `tracer.captureAWSv3Client`
 * (lambdas/shared/aws-context.ts).
 *
 * The tracer is only loaded inside Lambda with tracing wanted (AWS_EXECUTION_ENV set, as Powertools
 * checks, and POWERTOOLS_TRACE_ENABLED not `false`): loading the X-Ray SDK turns on a process-wide
 * async hook (cls-hooked) that makes every `await` many times slower even with tracing off, and
 * the tests and the local cloud run the handlers in their own long-lived processes. Elsewhere
 * {@link traced} and {@link traceInvocation} are pass-throughs.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Tracer } from '@aws-lambda-powertools/tracer';

/** The function's structured JSON logger (POWERTOOLS_LOG_LEVEL, POWERTOOLS_SERVICE_NAME). */
export const logger = new Logger();
/** The function's EMF metrics, namespace POWERTOOLS_METRICS_NAMESPACE, no default dimensions. */
export const metrics = new Metrics({ defaultDimensions: {} });
const tracingWanted =
  process.env.AWS_EXECUTION_ENV !== undefined && process.env.POWERTOOLS_TRACE_ENABLED !== 'false';

/** The function's X-Ray tracer in Lambda; undefined elsewhere (see the file's comment). */
export const tracer: Tracer | undefined = tracingWanted
  ? new (await import('@aws-lambda-powertools/tracer')).Tracer()
  : undefined;

/** An SDK v3 client whose calls are X-Ray subsegments where the tracer runs; the client itself elsewhere. */
export function traced<T>(client: T): T {
  return tracer ? tracer.captureAWSv3Client(client) : client;
}

/**
 * Wraps a Lambda entry point so that each invocation runs in its own `## <handler>` subsegment,
 * annotated with ColdStart and Service, with the response (or the error) as metadata: Powertools'
 * manual instrumentation of a handler, the function form of `captureLambdaHandler`, since the
 * handlers are plain functions that call the logger and metrics themselves (no Middy, no classes).
 * With tracing off it calls the handler and nothing else.
 */
export function traceInvocation<A extends unknown[], R>(
  handler: (...args: A) => Promise<R>,
): (...args: A) => Promise<R> {
  return async (...args: A): Promise<R> => {
    if (!tracer?.isTracingEnabled()) return handler(...args);
    const segment = tracer.getSegment(); // Lambda's facade segment
    const subsegment = segment?.addNewSubsegment(`## ${process.env._HANDLER ?? 'handler'}`);
    if (subsegment) tracer.setSegment(subsegment);
    tracer.annotateColdStart();
    tracer.addServiceNameAnnotation();
    try {
      const result = await handler(...args);
      tracer.addResponseAsMetadata(result, process.env._HANDLER);
      return result;
    } catch (error) {
      tracer.addErrorAsMetadata(error as Error);
      throw error;
    } finally {
      if (segment && subsegment) {
        subsegment.close();
        tracer.setSegment(segment);
      }
    }
  };
}
