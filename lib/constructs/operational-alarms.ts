/**
 * OperationalAlarms: the stack watching itself. Where this stands: infrastructure
 * (lib/constructs); the stack hands it every dead-letter queue, every handler function and the
 * queues whose backlog matters, and it creates one CloudWatch alarm per concern, each with an
 * alarm action and an OK action on the notification topic. README, "When the stack's own alarms
 * fire", says what each alarm means and how to recover.
 *
 *   every DLQ              ApproximateNumberOfMessagesVisible  Maximum > 0   (something was given up on)
 *   every function         Errors                              Sum > 0       (a handler threw)
 *   every function         Throttles                           Sum > 0       (Lambda refused to run it)
 *   source queues (ingest) ApproximateAgeOfOldestMessage       Maximum > retry window (not drained)
 *
 * Names: `<alarmNamePrefix>-<name>-<what>`, `alarmNamePrefix` defaulting to `<stackName>-ops`
 * (e.g. `ServerlessMlops-ops-ingest-dlq`). The alarm-events rule takes every alarm named
 * `<resourcePrefix>-...` for a model alarm (lifecycle-handlers.ts, alarmStateChangePattern), and
 * the model alarm names `<resourcePrefix>-<model>-<kind>` already use the whole of that space: a
 * model may be called `ops`. EventBridge cannot say "prefix X but not prefix X-ops-" on one field
 * (each entry of a leaf's array is an alternative, OR'ed), so excluding the operational alarms in
 * the pattern would also exclude a model. They are named outside that space instead, and the
 * construct refuses at synth time a prefix that would put them back inside it. A side effect: the
 * handlers' IAM, scoped to `alarm:<resourcePrefix>-*`, cannot touch these alarms either.
 *
 * treatMissingData is notBreaching everywhere: an idle queue or function publishes no data points
 * (SQS stops reporting a queue after about six hours without activity), and idle is healthy.
 */
import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

/** A dead-letter queue to alarm on as soon as it holds a message. */
export interface MonitoredDeadLetterQueue {
  /** Short name used in the alarm name and id, e.g. `ingest` (lowercase letters, digits, hyphens). */
  readonly name: string;
  readonly queue: sqs.IQueue;
}

/** A handler function to alarm on for errors and throttles. */
export interface MonitoredFunction {
  /** Short name used in the alarm names and ids, e.g. `training-events`. */
  readonly name: string;
  readonly function: lambda.IFunction;
}

/** A source queue whose oldest message must not wait longer than its retries can explain. */
export interface MonitoredQueueAge {
  /** Short name used in the alarm name and id, e.g. `ingest`. */
  readonly name: string;
  readonly queue: sqs.IQueue;
  /**
   * Age of the oldest message above which the queue is not being drained.
   * @default - the queue's retry window, {@link retryWindow}: its visibility timeout times its
   * redrive maxReceiveCount (only for a `sqs.Queue` created with both; otherwise required)
   */
  readonly maxAge?: Duration;
}

/** The queues and functions the operational alarms watch, and where they notify. */
export interface OperationalAlarmsProps {
  /** Topic of the alarm and OK actions (the stack's notification topic). */
  readonly topic: sns.ITopic;
  /**
   * The stack's resource prefix: the alarm names must stay out of `<resourcePrefix>-`, which the
   * alarm-events rule treats as model alarms.
   */
  readonly resourcePrefix: string;
  /** Every dead-letter queue of the stack. */
  readonly deadLetterQueues: readonly MonitoredDeadLetterQueue[];
  /** Every handler function of the stack. */
  readonly functions: readonly MonitoredFunction[];
  /**
   * Source queues to alarm on when their oldest message is too old.
   * @default - none
   */
  readonly queueAges?: readonly MonitoredQueueAge[];
  /**
   * Start of every alarm name; must not start with `<resourcePrefix>-`.
   * @default `${stackName}-ops`
   */
  readonly alarmNamePrefix?: string;
  /**
   * Period of every alarm (one period, one data point to alarm). 1 to 5 minutes: SQS and Lambda
   * publish one-minute metrics.
   * @default Duration.minutes(5)
   */
  readonly period?: Duration;
}

/**
 * The shape every handler construct of the stack shares (IngestPipeline, EventHandler,
 * DriftMonitor): one function and the dead-letter queue of what it could not process.
 */
export interface WatchedHandler {
  readonly handler: { readonly function: lambda.IFunction };
  readonly deadLetterQueue: sqs.IQueue;
}

/** What an alarm watches: the last part of its name. */
export type OperationalAlarmKind = 'dlq' | 'errors' | 'throttles' | 'age';

const NAME_PATTERN = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;

/**
 * The retry window of a queue with a redrive policy: visibility timeout x maxReceiveCount. A
 * message that keeps failing is received maxReceiveCount times, one visibility timeout apart, and
 * then moves to the dead-letter queue, so no message older than this can still be on its normal
 * retries: an older one has not been received often enough, i.e. the consumer is not keeping up
 * (concurrency too low for the burst, throttling, a disabled event source mapping). SQS even
 * leaves messages received three times or more out of ApproximateAgeOfOldestMessage (SQS
 * Developer Guide, "Available CloudWatch metrics for Amazon SQS"), so poison messages, which the
 * DLQ alarm covers, do not keep this alarm up.
 */
export function retryWindow(queue: sqs.Queue): Duration {
  const cfn = queue.node.defaultChild as sqs.CfnQueue;
  const visibility = cfn.visibilityTimeout;
  const receives = queue.deadLetterQueue?.maxReceiveCount;
  if (typeof visibility !== 'number' || receives === undefined) {
    throw new Error(
      `queue ${queue.node.path} needs a visibility timeout and a dead-letter queue to derive its retry window; pass maxAge`,
    );
  }
  return Duration.seconds(visibility * receives);
}

/** CloudWatch alarms on the stack's own plumbing, to the notification topic. */
export class OperationalAlarms extends Construct {
  /** Every alarm, in creation order. */
  readonly alarms: cloudwatch.Alarm[] = [];
  /** The prefix every alarm name starts with. */
  readonly alarmNamePrefix: string;

  private readonly action: cloudwatchActions.SnsAction;
  private readonly period: Duration;
  private readonly usedIds = new Set<string>();

  constructor(scope: Construct, id: string, props: OperationalAlarmsProps) {
    super(scope, id);
    this.alarmNamePrefix = props.alarmNamePrefix ?? `${Stack.of(this).stackName}-ops`;
    if (this.alarmNamePrefix.startsWith(`${props.resourcePrefix}-`)) {
      throw new Error(
        `alarmNamePrefix "${this.alarmNamePrefix}" starts with "${props.resourcePrefix}-": the alarm-events rule would take the operational alarms for model alarms; choose a stack name or alarmNamePrefix outside "${props.resourcePrefix}-"`,
      );
    }
    this.period = props.period ?? Duration.minutes(5);
    const periodSeconds = this.period.toSeconds();
    if (periodSeconds < 60 || periodSeconds > 300 || periodSeconds % 60 !== 0) {
      throw new Error(`period must be 1 to 5 whole minutes, got ${periodSeconds} seconds`);
    }
    this.action = new cloudwatchActions.SnsAction(props.topic);

    for (const { name, queue } of props.deadLetterQueues) {
      this.add(name, 'dlq', {
        metric: queue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: this.period }),
        threshold: 0,
        description: `Dead-letter queue ${name} holds messages: events the stack gave up on. Read one, fix the cause, redrive (README, "When the stack's own alarms fire").`,
      });
    }
    for (const { name, function: fn } of props.functions) {
      this.add(name, 'errors', {
        metric: fn.metricErrors({ statistic: 'Sum', period: this.period }),
        threshold: 0,
        description: `Function ${name} threw: see its log group for the error. Retries follow; what still fails ends in its dead-letter queue.`,
      });
      this.add(name, 'throttles', {
        metric: fn.metricThrottles({ statistic: 'Sum', period: this.period }),
        threshold: 0,
        description: `Function ${name} was throttled: the account or Region ran out of Lambda concurrency.`,
      });
    }
    for (const entry of props.queueAges ?? []) {
      const maxAge = entry.maxAge ?? this.defaultMaxAge(entry);
      this.add(entry.name, 'age', {
        metric: entry.queue.metricApproximateAgeOfOldestMessage({
          statistic: 'Maximum',
          period: this.period,
        }),
        threshold: maxAge.toSeconds(),
        description: `Queue ${entry.name}: the oldest message waited more than ${maxAge.toSeconds()} s, longer than its retries can explain: the queue is not being drained (backlog, throttling, disabled event source mapping).`,
      });
    }
  }

  /** The name of the alarm of `kind` for `name`. */
  alarmName(name: string, kind: OperationalAlarmKind): string {
    return `${this.alarmNamePrefix}-${name}-${kind}`;
  }

  private defaultMaxAge(entry: MonitoredQueueAge): Duration {
    if (!(entry.queue instanceof sqs.Queue)) {
      throw new Error(`queue age ${entry.name}: an imported queue needs maxAge`);
    }
    return retryWindow(entry.queue);
  }

  private add(
    name: string,
    kind: OperationalAlarmKind,
    options: { metric: cloudwatch.IMetric; threshold: number; description: string },
  ): void {
    if (!NAME_PATTERN.test(name)) {
      throw new Error(`"${name}" is not a valid alarm name part (lowercase letters, digits, single hyphens)`);
    }
    const id = `${name}-${kind}`;
    if (this.usedIds.has(id)) throw new Error(`two ${kind} alarms named "${name}"`);
    this.usedIds.add(id);
    const alarm = new cloudwatch.Alarm(this, id, {
      alarmName: this.alarmName(name, kind),
      alarmDescription: options.description,
      metric: options.metric,
      threshold: options.threshold,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    alarm.addAlarmAction(this.action);
    alarm.addOkAction(this.action);
    this.alarms.push(alarm);
  }
}
