/**
 * One EventBridge rule -> one handler function, with retries and a dead-letter queue at both hops.
 * Where this stands: infrastructure helper (lib/private) behind EventHandler, DriftMonitor and
 * Reconciler, so that the three wire their rule, target, dead-letter queue and asynchronous
 * invocation settings the same way.
 *
 * Two hops can fail:
 * 1. EventBridge -> Lambda (throttling, a deleted function): the target retries
 *    `deliveryRetryAttempts` times for up to `maxEventAge`, then sends the event to the DLQ;
 * 2. the function itself (an exception): Lambda retries the asynchronous invocation
 *    `functionRetryAttempts` times, then sends an on-failure record (event, error, context) to the
 *    same DLQ.
 * One queue per function holds everything that function could not process.
 *
 * The children are created directly under `scope` (`DeadLetterQueue`, `Handler`, then the rule),
 * in that order, so the logical IDs are those of the constructs that call it.
 */
import type { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { MlopsFunction, type MlopsFunctionProps } from '../constructs/mlops-function';
import { createDeadLetterQueue } from './queues';
import { validateInteger } from './validation';

/** What {@link createRuleFunction} needs: the rule, the function and the retries of both hops. */
export interface RuleFunctionProps {
  /**
   * Construct id of the rule under `scope`, part of its logical ID: `Rule` for an event pattern
   * (EventHandler), `Schedule` for a schedule (DriftMonitor, Reconciler).
   */
  readonly ruleId: string;
  /** The rule: its description, and its event pattern or schedule; enabled unless it says otherwise. */
  readonly rule: Pick<events.RuleProps, 'description' | 'eventPattern' | 'schedule' | 'enabled'>;
  /** The function, created as `Handler` under `scope`; its asynchronous invocation settings are set here. */
  readonly function: Omit<MlopsFunctionProps, 'asyncInvoke'>;
  /** Lambda's asynchronous retries after a function error (0 to 2). */
  readonly functionRetryAttempts: number;
  /** Times EventBridge retries delivering an event to the function (0 to 185). */
  readonly deliveryRetryAttempts: number;
  /** How long EventBridge keeps trying to deliver an event (1 minute to 24 hours). */
  readonly maxEventAge: Duration;
  /**
   * Who the dead-letter queue is the destination of, e.g. `the handler`: the reason of its
   * cdk-nag acknowledgement (createDeadLetterQueue, `destinationOf`).
   */
  readonly deadLetterQueueOf: string;
}

/** The constructs {@link createRuleFunction} creates. */
export interface RuleFunction {
  /** The rule on the default bus, its only target the function. */
  readonly rule: events.Rule;
  /** The function the rule invokes asynchronously. */
  readonly handler: MlopsFunction;
  /** Where both hops send what they could not deliver or process. */
  readonly deadLetterQueue: sqs.Queue;
}

/**
 * Creates the dead-letter queue, the function (asynchronous retries, on-failure destination the
 * queue) and the rule (target retries, target DLQ the queue) under `scope`. Throws when a retry
 * count or the event age is out of EventBridge's or Lambda's range.
 */
export function createRuleFunction(scope: Construct, props: RuleFunctionProps): RuleFunction {
  validateInteger('functionRetryAttempts', props.functionRetryAttempts, 0, 2);
  validateInteger('retryAttempts', props.deliveryRetryAttempts, 0, 185);
  const ageSeconds = props.maxEventAge.toSeconds();
  if (ageSeconds < 60 || ageSeconds > 86_400) {
    throw new Error(`maxEventAge must be between 1 minute and 24 hours, got ${ageSeconds} seconds`);
  }

  const deadLetterQueue = createDeadLetterQueue(scope, { destinationOf: props.deadLetterQueueOf });

  const handler = new MlopsFunction(scope, 'Handler', {
    ...props.function,
    asyncInvoke: {
      retryAttempts: props.functionRetryAttempts,
      onFailure: new destinations.SqsDestination(deadLetterQueue),
    },
  });

  const rule = new events.Rule(scope, props.ruleId, props.rule);
  rule.addTarget(
    new targets.LambdaFunction(handler.function, {
      deadLetterQueue,
      retryAttempts: props.deliveryRetryAttempts,
      maxEventAge: props.maxEventAge,
    }),
  );
  return { rule, handler, deadLetterQueue };
}
