/**
 * The dead-letter queue every handler construct keeps. Where this stands: infrastructure helper
 * (lib/private) used by IngestPipeline, and by EventHandler, DriftMonitor and Reconciler through
 * createRuleFunction (rule-function.ts).
 */
import { Duration } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { acknowledge } from './nag';

/** How long a dead-lettered message is kept: the SQS maximum, time to look and replay. */
export const DEAD_LETTER_RETENTION = Duration.days(14);

/** Options of {@link createDeadLetterQueue}. */
export interface DeadLetterQueueOptions {
  /**
   * Who sends to the queue as an EventBridge target DLQ and a Lambda on-failure destination, e.g.
   * `the handler`. cdk-nag only recognises redrive policies as DLQ use, so such a queue gets
   * AwsSolutions-SQS3 acknowledged with that reason. Leave out for a queue that is the redrive
   * target of another queue.
   */
  readonly destinationOf?: string;
}

/** An encrypted (SQS-managed SSE), TLS-only queue with the id `DeadLetterQueue` under `scope`. */
export function createDeadLetterQueue(scope: Construct, options: DeadLetterQueueOptions = {}): sqs.Queue {
  const queue = new sqs.Queue(scope, 'DeadLetterQueue', {
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: DEAD_LETTER_RETENTION,
  });
  if (options.destinationOf !== undefined) {
    acknowledge(
      queue,
      'AwsSolutions-SQS3',
      `This queue is itself the dead-letter queue of ${options.destinationOf}: the EventBridge target DLQ and the Lambda on-failure destination. cdk-nag only recognises redrive policies and Lambda DeadLetterConfig as DLQ use.`,
    );
  }
  return queue;
}
