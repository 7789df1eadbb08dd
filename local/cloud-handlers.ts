/**
 * The stack's functions in the local cloud's process: their handler modules loaded as Lambda
 * would load them (Powertools settings first, their output caught by the local runtime and sent
 * to a readable console and the metric store), and the stack's event bus rules wired to them with
 * each target's delivery semantics. Where this stands: local runtime; `LocalCloud.start`
 * (local/cloud.ts) calls these steps; the handlers do not know they run here.
 */
import type { Context } from 'aws-lambda';
import { BUCKET_PREFIXES } from '../core/domain/naming';
import type { MlopsContext } from '../core/use-cases/context';
import { LOCAL_STACK_DEFAULTS, type LocalCloudSettings } from './cloud-settings';
import type { CloudEvent } from './contracts';
import type { OperatorRunner } from './control-server';
import type { EventPattern, LocalEventBus } from './event-bus';
import type { LocalMetricStore } from './metrics/metric-store';
import {
  applyLambdaEnvironment,
  captureHandlerOutput,
  handlerConsole,
  invoke,
  loadHandlerModules,
  sqsBatch,
} from './services/lambda-runtime';
import type { StartedParts } from './started-parts';

/** The rules the stack deploys, as EventBridge patterns (lib/constructs/ingest-pipeline.ts, lifecycle-handlers.ts). */
export function stackEventPatterns(prefix: string, bucket: string) {
  return {
    ingest: {
      source: ['aws.s3'],
      'detail-type': ['Object Created'],
      detail: { bucket: { name: [bucket] }, object: { key: [{ prefix: BUCKET_PREFIXES.datasets }] } },
    },
    trainingEvents: {
      source: ['aws.sagemaker'],
      'detail-type': ['SageMaker Training Job State Change'],
      detail: { TrainingJobName: [{ prefix: `${prefix}-` }] },
    },
    endpointEvents: {
      source: ['aws.sagemaker'],
      'detail-type': ['SageMaker Endpoint State Change'],
      detail: { EndpointName: [{ prefix: `${prefix}-` }] },
    },
    alarmEvents: {
      source: ['aws.cloudwatch'],
      'detail-type': ['CloudWatch Alarm State Change'],
      detail: { alarmName: [{ prefix: `${prefix}-` }] },
    },
  } satisfies Record<string, EventPattern>;
}

/** The handler factories of the stack's functions, and the Powertools Logger they share. */
export type StackHandlers = Awaited<ReturnType<typeof loadStackHandlers>>;

/**
 * Loads the handler modules: Powertools reads its settings and picks its console when the modules
 * create their Logger and Metrics, at import, so the Lambda environment is set first and the
 * modules are loaded under the local runtime's console (local/services/lambda-runtime.ts).
 */
export async function loadStackHandlers(logLevel: string) {
  applyLambdaEnvironment(process.env, logLevel);
  const [ingest, trainingEvents, endpointEvents, alarmEvents, monitor, reconciler, operator, observability] =
    await loadHandlerModules(() =>
      Promise.all([
        import('../lambdas/ingest/handler'),
        import('../lambdas/training-events/handler'),
        import('../lambdas/endpoint-events/handler'),
        import('../lambdas/alarm-events/handler'),
        import('../lambdas/monitor/handler'),
        import('../lambdas/reconciler/handler'),
        import('../lambdas/operator/handler'),
        import('../lambdas/shared/observability'),
      ]),
    );
  return {
    createIngestHandler: ingest.createIngestHandler,
    createTrainingEventsHandler: trainingEvents.createTrainingEventsHandler,
    createEndpointEventsHandler: endpointEvents.createEndpointEventsHandler,
    createAlarmEventsHandler: alarmEvents.createAlarmEventsHandler,
    createMonitorHandler: monitor.createMonitorHandler,
    createReconcilerHandler: reconciler.createReconcilerHandler,
    createOperatorHandler: operator.createOperatorHandler,
    /** The handlers' shared Logger: the use cases' log in the local context too. */
    logger: observability.logger,
  };
}

/**
 * Sends the handlers' output where CloudWatch Logs would: their log lines to a readable console
 * (none when their log level is SILENT), their EMF metric lines (every function's metrics and the
 * drift monitor's) to the metric store; until the cloud stops.
 */
export function routeHandlerOutput(
  settings: LocalCloudSettings,
  metrics: LocalMetricStore,
  parts: StartedParts,
): void {
  const output = handlerConsole({
    silent: settings.handlerLogLevel === 'SILENT',
    onMetrics: (data) => data.forEach((datum) => metrics.put(datum)),
  });
  parts.onStop(captureHandlerOutput(output));
}

/**
 * Adds the stack's rules to the bus, each with its target's delivery semantics: dataset uploads
 * through the ingest queue to the ingest function, training, endpoint and alarm state changes to
 * their functions by asynchronous invocation.
 */
export function wireStackRules(
  bus: LocalEventBus,
  handlers: StackHandlers,
  getContext: () => MlopsContext,
  settings: LocalCloudSettings,
): void {
  const { prefix } = settings;
  const patterns = stackEventPatterns(prefix, settings.bucket);
  const ingest = handlers.createIngestHandler(getContext);
  const receives = new Map<string, number>();
  bus.addRule({
    name: `${prefix}-dataset-created`,
    pattern: patterns.ingest,
    // EventBridge → SQS → Lambda: one event per message, batch size 1 (the stack's default);
    // a message reported in batchItemFailures is received again, up to maxReceiveCount times.
    target: async (event: CloudEvent) => {
      const receiveCount = (receives.get(event.id) ?? 0) + 1;
      receives.set(event.id, receiveCount);
      const result = await invoke(`${prefix}-local-ingest`, (lambda) =>
        ingest(sqsBatch([event], receiveCount, `${prefix}-ingest`), lambda),
      );
      if (result.batchItemFailures.length > 0) {
        throw new Error(
          `ingest reported ${result.batchItemFailures.length} failed record(s) (receive ${receiveCount})`,
        );
      }
      receives.delete(event.id);
    },
    retryAttempts: LOCAL_STACK_DEFAULTS.ingestMaxReceiveCount - 1,
    maxConcurrency: settings.options.ingestMaxConcurrency ?? LOCAL_STACK_DEFAULTS.ingestMaxConcurrency,
  });
  const direct = (
    name: string,
    pattern: EventPattern,
    handler: (event: unknown, context?: Context) => Promise<unknown>,
  ) =>
    bus.addRule({
      name: `${prefix}-${name}`,
      pattern,
      // EventBridge → Lambda (asynchronous invoke): a thrown error is retried by Lambda.
      target: async (event: CloudEvent) => {
        await invoke(`${prefix}-local-${name}`, (lambda) => handler(event, lambda));
      },
      retryAttempts: LOCAL_STACK_DEFAULTS.functionAsyncRetryAttempts,
    });
  direct('training-events', patterns.trainingEvents, handlers.createTrainingEventsHandler(getContext));
  direct('endpoint-events', patterns.endpointEvents, handlers.createEndpointEventsHandler(getContext));
  direct('alarm-events', patterns.alarmEvents, handlers.createAlarmEventsHandler(getContext));
}

/**
 * The operator function, invoked synchronously as the `mlops` CLI invokes it in AWS
 * (lambda:InvokeFunction, RequestResponse): the control API's `POST /operator` and
 * `LocalCloud.operate` run commands through it.
 */
export function operatorFunction(
  handlers: StackHandlers,
  getContext: () => MlopsContext,
  settings: LocalCloudSettings,
): OperatorRunner {
  const operator = handlers.createOperatorHandler(getContext);
  return (event) => invoke(`${settings.prefix}-local-operator`, (lambda) => operator(event, lambda));
}
