/**
 * EventHandler: one EventBridge rule on the default bus -> one handler function, with retries and
 * a dead-letter queue at both hops. Where this stands: infrastructure (lib/constructs); the
 * training-events, endpoint-events and alarm-events handlers are built from it
 * (lifecycle-handlers.ts).
 *
 * Two hops can fail:
 * 1. EventBridge -> Lambda (throttling, a deleted function): the target retries `retryAttempts`
 *    times for up to `maxEventAge`, then sends the event to the DLQ;
 * 2. the function itself (an exception): Lambda retries the asynchronous invocation twice, then
 *    sends an on-failure record (event, error, context) to the same DLQ.
 * One queue per handler holds everything that handler could not process. The wiring is shared
 * with DriftMonitor and Reconciler (lib/private/rule-function.ts, createRuleFunction).
 */
import { Duration } from 'aws-cdk-lib';
import type * as events from 'aws-cdk-lib/aws-events';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { createRuleFunction } from '../private/rule-function';
import type { MlopsFunction, PowertoolsLogLevel } from './mlops-function';

/** Lambda's asynchronous retries after a function error (0 to 2). */
export const FUNCTION_ASYNC_RETRY_ATTEMPTS = 2;

/** What an EventHandler is built from: its handler entry, its rule's pattern and the retries. */
export interface EventHandlerProps {
  /** Absolute path of the handler entry. */
  readonly entry: string;
  /** Powertools service name, e.g. `training-events`. */
  readonly serviceName: string;
  /** What the rule and the function are for. */
  readonly description: string;
  /** The rule's event pattern. */
  readonly eventPattern: events.EventPattern;
  /** Handler environment. */
  readonly environment: Readonly<Record<string, string>>;
  /**
   * Memory in MB.
   * @default 512
   */
  readonly memorySize?: number;
  /**
   * Function timeout.
   * @default Duration.minutes(1)
   */
  readonly timeout?: Duration;
  /**
   * Times EventBridge retries delivering an event to the function (0 to 185).
   * @default 8
   */
  readonly retryAttempts?: number;
  /**
   * How long EventBridge keeps trying to deliver an event (1 minute to 24 hours).
   * @default Duration.hours(6)
   */
  readonly maxEventAge?: Duration;
  /**
   * Retention of the log group.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Powertools log level.
   * @default 'INFO'
   */
  readonly logLevel?: PowertoolsLogLevel;
}

/** A rule, its handler and the handler's dead-letter queue. */
export class EventHandler extends Construct {
  /** The rule on the default bus, its only target the handler. */
  readonly rule: events.Rule;
  /** The handler function. */
  readonly handler: MlopsFunction;
  /** What the rule could not deliver and what the handler could not process. */
  readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: EventHandlerProps) {
    super(scope, id);
    const wired = createRuleFunction(this, {
      ruleId: 'Rule',
      rule: { description: props.description, eventPattern: props.eventPattern },
      function: {
        entry: props.entry,
        serviceName: props.serviceName,
        description: props.description,
        memorySize: props.memorySize ?? 512,
        timeout: props.timeout ?? Duration.minutes(1),
        environment: props.environment,
        ...(props.logRetention ? { logRetention: props.logRetention } : {}),
        ...(props.logLevel ? { logLevel: props.logLevel } : {}),
      },
      functionRetryAttempts: FUNCTION_ASYNC_RETRY_ATTEMPTS,
      deliveryRetryAttempts: props.retryAttempts ?? 8,
      maxEventAge: props.maxEventAge ?? Duration.hours(6),
      deadLetterQueueOf: 'the handler',
    });
    this.rule = wired.rule;
    this.handler = wired.handler;
    this.deadLetterQueue = wired.deadLetterQueue;
  }
}
