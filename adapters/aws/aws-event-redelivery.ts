/**
 * AWS adapter of the {@link EventRedelivery} port. Where this stands: adapter, used by the
 * reconciler handler. A lost upload goes to the ingest queue as the message EventBridge would have
 * put there (sqs:SendMessage), so it waits its turn behind the queue's bounded concurrency; a lost
 * SageMaker event is an asynchronous invocation of the function its rule targets
 * (lambda:InvokeFunction, InvocationType Event), so the repair runs with that handler's own
 * permissions, retries and dead-letter queue, and the reconciler needs none of them.
 */
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { EventRedelivery, RedeliveredObject } from '../../core/ports/event-redelivery';
import {
  endpointStateChangeEvent,
  objectCreatedEvent,
  trainingJobStateChangeEvent,
  type EventOrigin,
} from './redelivered-events';

/** Where each kind of event goes. */
export interface RedeliveryTargets {
  readonly ingestQueueUrl: string;
  /** Name or ARN of the training-events function. */
  readonly trainingEventsFunction: string;
  /** Name or ARN of the endpoint-events function. */
  readonly endpointEventsFunction: string;
}

/**
 * The {@link EventRedelivery} port in AWS, built by the reconciler handler (`createAwsReconcilePorts`):
 * a lost upload as a message on the ingest queue, a lost SageMaker state change as an asynchronous
 * invocation of its handler. `origin` is the region, account and partition the events name.
 */
export class AwsEventRedelivery implements EventRedelivery {
  constructor(
    private readonly clients: { readonly sqs: SQSClient; readonly lambda: LambdaClient },
    private readonly targets: RedeliveryTargets,
    private readonly origin: Omit<EventOrigin, 'time'>,
  ) {}

  async objectCreated(object: RedeliveredObject): Promise<void> {
    await this.clients.sqs.send(
      new SendMessageCommand({
        QueueUrl: this.targets.ingestQueueUrl,
        MessageBody: JSON.stringify(objectCreatedEvent(object, this.origin)),
      }),
    );
  }

  async trainingJobStateChange(change: { jobName: string; status: string }): Promise<void> {
    await this.invoke(this.targets.trainingEventsFunction, trainingJobStateChangeEvent(change, this.origin));
  }

  async endpointStateChange(change: {
    endpointName: string;
    status: string;
    configName?: string;
  }): Promise<void> {
    await this.invoke(this.targets.endpointEventsFunction, endpointStateChangeEvent(change, this.origin));
  }

  private async invoke(functionName: string, event: unknown): Promise<void> {
    const response = await this.clients.lambda.send(
      new InvokeCommand({
        FunctionName: functionName,
        InvocationType: 'Event',
        Payload: new TextEncoder().encode(JSON.stringify(event)),
      }),
    );
    // An accepted asynchronous invocation answers 202 (Lambda API Reference, Invoke).
    if (response.StatusCode !== 202)
      throw new Error(`Lambda did not accept the event for ${functionName} (status ${response.StatusCode})`);
  }
}

/** The account of an ARN (`arn:aws:lambda:us-east-1:123456789012:function:x` -> `123456789012`), if it is one. */
export function accountOfArn(arn: string): string | undefined {
  const parts = arn.split(':');
  return parts[0] === 'arn' && parts.length > 5 && /^\d{12}$/.test(parts[4] ?? '') ? parts[4] : undefined;
}

/** The partition of an ARN, if it is one. */
export function partitionOfArn(arn: string): string | undefined {
  const parts = arn.split(':');
  return parts[0] === 'arn' && parts[1] ? parts[1] : undefined;
}
