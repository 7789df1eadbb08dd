/**
 * The deployed stack's dead-letter queues: their depth, a look at their messages, and sending
 * them back (README, "When the stack's own alarms fire"): the ingest DLQ with an SQS message move
 * task to the ingest queue; the EventBridge-target DLQs by invoking their function asynchronously
 * with each original event, then deleting the message. Where this stands: CLI target for AWS.
 */
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import {
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  StartMessageMoveTaskCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { parseJsonObject } from '../../core/support/objects';
import { explainAwsError } from './aws-errors';
import { requireOutput, type StackOutputs } from './stack-outputs';

/** One dead-letter queue of the stack, and how its messages go back. */
export interface DeadLetterQueueSpec {
  /** The handler whose events it holds (as the stack's `-ops-<handler>-dlq` alarm names it). */
  readonly handler: string;
  /** The stack output holding the queue's URL. */
  readonly urlOutput: string;
  /** `move`: an SQS message move task to the queue of `targetOutput`; `invoke`: the function of `targetOutput`. */
  readonly redrive: 'move' | 'invoke';
  readonly targetOutput: string;
}

/** The stack's dead-letter queues (the reconciler's runs need no redrive: the next run does the same work). */
export const DEAD_LETTER_QUEUES: readonly DeadLetterQueueSpec[] = [
  {
    handler: 'ingest',
    urlOutput: 'IngestDeadLetterQueueUrl',
    redrive: 'move',
    targetOutput: 'IngestQueueUrl',
  },
  {
    handler: 'training-events',
    urlOutput: 'TrainingEventsDeadLetterQueueUrl',
    redrive: 'invoke',
    targetOutput: 'TrainingEventsFunctionName',
  },
  {
    handler: 'endpoint-events',
    urlOutput: 'EndpointEventsDeadLetterQueueUrl',
    redrive: 'invoke',
    targetOutput: 'EndpointEventsFunctionName',
  },
  {
    handler: 'alarm-events',
    urlOutput: 'AlarmEventsDeadLetterQueueUrl',
    redrive: 'invoke',
    targetOutput: 'AlarmEventsFunctionName',
  },
  {
    handler: 'drift-monitor',
    urlOutput: 'DriftMonitorDeadLetterQueueUrl',
    redrive: 'invoke',
    targetOutput: 'DriftMonitorFunctionName',
  },
];

/** A message seen in a DLQ, summarised. */
export interface PeekedMessage {
  readonly messageId: string;
  /** When it was first sent to the DLQ (SentTimestamp), ISO 8601. */
  readonly sentAt?: string;
  /** The original event's detail-type (or the on-failure record's condition). */
  readonly what: string;
  /** EventBridge's ERROR_MESSAGE attribute, or the on-failure record's error. */
  readonly error?: string;
  readonly body: string;
}

/** One DLQ: its depth and the first messages. */
export interface DeadLetterQueueState {
  readonly handler: string;
  readonly url: string;
  /** ApproximateNumberOfMessages (visible). */
  readonly messages: number;
  /** ApproximateNumberOfMessagesNotVisible (being looked at or redriven). */
  readonly inFlight: number;
  readonly peeked: readonly PeekedMessage[];
}

/** What a redrive of one DLQ did. */
export type RedriveResult =
  | {
      readonly handler: string;
      readonly kind: 'move-task';
      readonly taskHandle: string;
      readonly messages: number;
    }
  | {
      readonly handler: string;
      readonly kind: 'invoked';
      readonly redriven: number;
      readonly failed: readonly { readonly messageId: string; readonly error: string }[];
    };

/** The stack's DLQs through SQS and Lambda. */
export class AwsDeadLetterQueues {
  constructor(
    private readonly sqs: SQSClient,
    private readonly lambda: LambdaClient,
    private readonly outputs: StackOutputs,
    private readonly stack: string,
  ) {}

  /** The queues, or only the one of `handler`. */
  select(handler?: string): DeadLetterQueueSpec[] {
    const all = DEAD_LETTER_QUEUES.filter((q) => handler === undefined || q.handler === handler);
    return all;
  }

  /** Depth and up to `peek` messages of a queue (received with visibility timeout 0: they stay visible). */
  async inspect(spec: DeadLetterQueueSpec, peek: number): Promise<DeadLetterQueueState> {
    const url = requireOutput(this.outputs, spec.urlOutput, this.stack);
    try {
      const attributes = await this.attributes(url);
      const peeked: PeekedMessage[] = [];
      if (peek > 0 && attributes.messages > 0) {
        const page = await this.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: url,
            MaxNumberOfMessages: Math.min(10, peek),
            VisibilityTimeout: 0,
            WaitTimeSeconds: 0,
            MessageAttributeNames: ['All'],
            MessageSystemAttributeNames: ['SentTimestamp'],
          }),
        );
        peeked.push(...(page.Messages ?? []).map(summarize));
      }
      return { handler: spec.handler, url, ...attributes, peeked };
    } catch (error) {
      throw explainAwsError(error, `reading the ${spec.handler} dead-letter queue`);
    }
  }

  /**
   * Sends a queue's messages back: a move task to the ingest queue, or an asynchronous Invoke of
   * the handler's function per message (its original event), deleting each message once invoked.
   * At most `limit` messages per invoked queue.
   */
  async redrive(spec: DeadLetterQueueSpec, limit = 1000): Promise<RedriveResult> {
    const url = requireOutput(this.outputs, spec.urlOutput, this.stack);
    const target = requireOutput(this.outputs, spec.targetOutput, this.stack);
    try {
      if (spec.redrive === 'move') {
        const source = await this.attributes(url);
        const destination = await this.attributes(target);
        const task = await this.sqs.send(
          new StartMessageMoveTaskCommand({ SourceArn: source.arn, DestinationArn: destination.arn }),
        );
        return {
          handler: spec.handler,
          kind: 'move-task',
          taskHandle: task.TaskHandle ?? '',
          messages: source.messages,
        };
      }
      return await this.replay(spec.handler, url, target, limit);
    } catch (error) {
      throw explainAwsError(error, `redriving the ${spec.handler} dead-letter queue`);
    }
  }

  private async replay(
    handler: string,
    url: string,
    functionName: string,
    limit: number,
  ): Promise<RedriveResult> {
    let redriven = 0;
    const failed: { messageId: string; error: string }[] = [];
    const seen = new Set<string>();
    while (redriven + failed.length < limit) {
      const page = await this.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: url,
          MaxNumberOfMessages: 10,
          // Long enough to invoke and delete; a message that failed comes back after it.
          VisibilityTimeout: 300,
          WaitTimeSeconds: 0,
        }),
      );
      const messages = (page.Messages ?? []).filter((m) => !seen.has(m.MessageId ?? ''));
      if (messages.length === 0) break;
      for (const message of messages) {
        seen.add(message.MessageId ?? '');
        try {
          await this.lambda.send(
            new InvokeCommand({
              FunctionName: functionName,
              InvocationType: 'Event',
              Payload: new TextEncoder().encode(originalEvent(message.Body ?? '')),
            }),
          );
          await this.sqs.send(
            new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: message.ReceiptHandle }),
          );
          redriven++;
        } catch (error) {
          failed.push({ messageId: message.MessageId ?? '', error: (error as Error).message });
        }
      }
    }
    return { handler, kind: 'invoked', redriven, failed };
  }

  private async attributes(url: string): Promise<{ arn: string; messages: number; inFlight: number }> {
    const { Attributes = {} } = await this.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: url,
        AttributeNames: ['QueueArn', 'ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    return {
      arn: Attributes.QueueArn ?? '',
      messages: Number(Attributes.ApproximateNumberOfMessages ?? 0),
      inFlight: Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0),
    };
  }
}

/**
 * The event to hand back to the function: a Lambda on-failure record's `requestPayload`, else the
 * body itself (the EventBridge event a target could not receive).
 */
export function originalEvent(body: string): string {
  const parsed = parseJsonObject(body);
  if (parsed && 'requestPayload' in parsed && 'requestContext' in parsed)
    return JSON.stringify(parsed.requestPayload);
  return body;
}

function summarize(message: Message): PeekedMessage {
  const body = message.Body ?? '';
  const parsed = parseJsonObject(body);
  const event = parsed && 'requestPayload' in parsed ? parseJsonObjectValue(parsed.requestPayload) : parsed;
  const condition = parsed?.requestContext as { condition?: unknown } | undefined;
  const response = parsed?.responsePayload as { errorMessage?: unknown } | undefined;
  const sent = Number(message.Attributes?.SentTimestamp);
  const error =
    message.MessageAttributes?.ERROR_MESSAGE?.StringValue ??
    (typeof response?.errorMessage === 'string' ? response.errorMessage : undefined);
  return {
    messageId: message.MessageId ?? '',
    ...(Number.isFinite(sent) && sent > 0 ? { sentAt: new Date(sent).toISOString() } : {}),
    what:
      typeof event?.['detail-type'] === 'string'
        ? event['detail-type']
        : typeof condition?.condition === 'string'
          ? condition.condition
          : 'message',
    ...(error !== undefined ? { error } : {}),
    body,
  };
}

function parseJsonObjectValue(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}
