/**
 * Ingest handler: an SQS batch of S3 "Object Created" events (EventBridge -> SQS, so a burst of
 * uploads is buffered and the function's concurrency bounds the load on SageMaker).
 *
 * Thin: parse each message, call the IngestDataset use case, map errors. Partial batch responses:
 * a record that fails transiently is reported and redelivered (up to the queue's maxReceiveCount,
 * then the dead-letter queue); a malformed message is logged and acknowledged, since redelivery
 * cannot fix it; bad data is not an error here at all: the use case records it as rejected.
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { MlopsContext } from '../../core/use-cases/context';
import { IngestDataset, type IngestOutcome } from '../../core/use-cases/ingest-dataset';
import { createAwsContext } from '../shared/aws-context';
import { InvalidEventError, parseEvent, s3ObjectCreatedEvent } from '../shared/events';
import { lazy } from '../shared/lazy';
import { logger, metrics, traceInvocation } from '../shared/observability';

/** Builds the handler around a context factory (the default reads the environment). */
export function createIngestHandler(getContext: () => MlopsContext) {
  const processor = new BatchProcessor(EventType.SQS);

  const processRecord = async (record: SQSRecord): Promise<IngestOutcome | undefined> => {
    try {
      // Only the message's own body can be malformed: a SyntaxError from anywhere else (the SDK
      // throws one when a service response cannot be parsed) is transient and must be retried.
      const event = parseEvent(s3ObjectCreatedEvent, parseBody(record.body), 'S3 Object Created');
      const object = event.detail.object;
      const outcome = await new IngestDataset(getContext()).execute({
        bucket: event.detail.bucket.name,
        key: object.key,
        ...(object.size !== undefined ? { size: object.size } : {}),
        ...(object.etag ? { etag: object.etag } : {}),
        ...(object['version-id'] ? { versionId: object['version-id'] } : {}),
        ...(object.sequencer ? { sequencer: object.sequencer } : {}),
      });
      logger.info('ingest outcome', { messageId: record.messageId, key: object.key, outcome });
      metrics.addMetric(outcomeMetric(outcome), MetricUnit.Count, 1);
      return outcome;
    } catch (error) {
      if (error instanceof InvalidEventError) {
        // Redelivering a malformed message cannot help: say so loudly and let it go.
        logger.error('malformed message dropped', {
          messageId: record.messageId,
          error: (error as Error).message,
          body: record.body.slice(0, 2000),
        });
        metrics.addMetric('MalformedEvents', MetricUnit.Count, 1);
        return undefined;
      }
      logger.warn('record failed; it will be retried', { messageId: record.messageId, error });
      metrics.addMetric('IngestErrors', MetricUnit.Count, 1);
      throw error;
    }
  };

  return async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
    logger.addContext(context);
    try {
      // A fully failed batch is reported item by item too (rather than thrown), so that SQS's
      // per-message receive count, and then the dead-letter queue, apply the same way.
      return await processPartialResponse(event, processRecord, processor, {
        context,
        throwOnFullBatchFailure: false,
      });
    } finally {
      metrics.publishStoredMetrics();
    }
  };
}

/** The message body as JSON; a body that is not JSON is a malformed message, never a transient fault. */
function parseBody(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch (error) {
    throw new InvalidEventError(`message body is not JSON: ${(error as Error).message}`);
  }
}

function outcomeMetric(outcome: IngestOutcome): string {
  switch (outcome.kind) {
    case 'training':
      return 'TrainingJobsStarted';
    case 'rejected':
      return 'DatasetsRejected';
    case 'duplicate':
      return 'DuplicateDeliveries';
    case 'training-failed':
      return 'TrainingJobsRefused';
    case 'ignored':
      return 'ObjectsIgnored';
  }
}

/** The Lambda entry point, one X-Ray subsegment per invocation. */
export const handler = traceInvocation(createIngestHandler(lazy(() => createAwsContext(logger))));
