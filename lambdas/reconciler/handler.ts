/**
 * Reconciler handler: repairs lost events, every 15 minutes (EventBridge schedule) or on demand
 * (`aws lambda invoke` with `{}`). Thin: parse the event, run the Reconcile use case with the AWS
 * re-delivery and inventory adapters, count what was repaired.
 *
 * Metrics (Powertools, namespace ServerlessMlops): `LostEventsRepaired` (versions and uploads
 * re-delivered or re-applied) and `ReconcileFailures` (repairs that failed; the next run tries
 * again), besides the `Reconcile:<kind>` count every event handler publishes.
 */
import { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { z } from 'zod';
import { accountOfArn, AwsEventRedelivery, partitionOfArn } from '../../adapters/aws/aws-event-redelivery';
import { S3VersionInventory } from '../../adapters/aws/s3-object-inventory';
import { isPlainObject } from '../../core/support/objects';
import type { MlopsContext } from '../../core/use-cases/context';
import { Reconcile, type ReconcileOptions, type ReconcilePorts } from '../../core/use-cases/reconcile';
import { createAwsContext } from '../shared/aws-context';
import { readSettings } from '../shared/environment';
import { eventHandler } from '../shared/event-handler';
import { parseEvent } from '../shared/events';
import { lazy } from '../shared/lazy';
import { logger, metrics, traceInvocation, traced } from '../shared/observability';
import { readReconcilerSettings, type ReconcilerSettings } from './settings';

/** EventBridge's scheduled event (rule with a schedule expression). */
export const reconcileScheduledEvent = z.object({
  source: z.literal('aws.events'),
  'detail-type': z.literal('Scheduled Event'),
});

/** An on-demand run takes no parameters. */
export const onDemandReconcileEvent = z.object({}).strict();

/** Builds the handler around factories of the context and of the re-delivery and inventory ports. */
export function createReconcilerHandler(
  getContext: () => MlopsContext,
  getPorts: () => ReconcilePorts,
  options: ReconcileOptions = {},
) {
  return eventHandler('Reconcile', async (event) => {
    if (isPlainObject(event) && 'source' in event)
      parseEvent(reconcileScheduledEvent, event, 'EventBridge Scheduled Event');
    else parseEvent(onDemandReconcileEvent, event ?? {}, 'on-demand reconcile');
    const outcome = await new Reconcile(getContext(), getPorts(), options).execute();
    const repaired = outcome.versions.length + (outcome.datasets?.redelivered.length ?? 0);
    metrics.addMetric('LostEventsRepaired', MetricUnit.Count, repaired);
    metrics.addMetric('ReconcileFailures', MetricUnit.Count, outcome.failures.length);
    return outcome;
  });
}

/**
 * The AWS ports: ListObjectVersions on the data bucket, SQS and asynchronous Lambda for re-delivery.
 * The clients created here are captured by the tracer (X-Ray subsegments in Lambda); injected ones
 * are used as given.
 */
export function createAwsReconcilePorts(
  settings: ReconcilerSettings,
  region: string,
  clients: { s3?: S3Client; sqs?: SQSClient; lambda?: LambdaClient } = {},
): ReconcilePorts {
  const arn = settings.trainingEventsFunction;
  return {
    inventory: new S3VersionInventory(clients.s3 ?? traced(new S3Client({ region }))),
    redelivery: new AwsEventRedelivery(
      {
        sqs: clients.sqs ?? traced(new SQSClient({ region })),
        lambda: clients.lambda ?? traced(new LambdaClient({ region })),
      },
      settings,
      { region, account: accountOfArn(arn) ?? '', partition: partitionOfArn(arn) ?? 'aws' },
    ),
  };
}

/** The Lambda entry point, one X-Ray subsegment per invocation. */
export const handler = traceInvocation(
  createReconcilerHandler(
    lazy(() => createAwsContext(logger)),
    lazy(() => createAwsReconcilePorts(readReconcilerSettings(), readSettings().region)),
  ),
);
