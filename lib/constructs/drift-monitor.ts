/**
 * DriftMonitor: the hourly live-drift monitor. Where this stands: infrastructure (lib/constructs);
 * an EventBridge schedule runs lambdas/monitor/handler.ts, which compares each production model's
 * captured traffic with its training baseline and prints drift metrics as EMF
 * (core/use-cases/monitor-drift.ts). The model's drift alarms, created at promotion with its other
 * alarms, watch those metrics.
 *
 *   EventBridge rule rate(1 hour) --> monitor function --(EMF)--> CloudWatch ServerlessMlops/Drift
 *
 * As in EventHandler, both hops can fail: the target retries delivery and then dead-letters the
 * event, the function's asynchronous retries end in an on-failure record in the same queue (the
 * wiring both share: lib/private/rule-function.ts, createRuleFunction).
 *
 * Least privilege: read `capture/*` (the endpoints' data capture), `reports/*` (training
 * baselines; the window's own reports, to find a window already done) and `prepared/*` (the
 * training schema); write `reports/*`; ListBucket on the bucket (a missing `drift.json` must be a
 * 404, not a 403: S3 API Reference, GetObject, "Permissions"); registry read only (GetItem, Query,
 * and Query on the status index). No PutMetricData: EMF metrics are extracted from the log group
 * the function can already write.
 */
import { Duration } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { DRIFT_WINDOW_SECONDS } from '../../core/domain/drift-metrics';
import { BUCKET_PREFIXES } from '../../core/domain/naming';
import { HANDLER_ENTRIES } from '../paths';
import { acknowledgeWildcardResource } from '../private/nag';
import {
  grantListDataBucket,
  grantReadObjects,
  grantRegistryRead,
  grantWriteObjects,
} from '../private/permissions';
import { createRuleFunction } from '../private/rule-function';
import type { DataBucket } from './data-bucket';
import { FUNCTION_ASYNC_RETRY_ATTEMPTS } from './event-handler';
import type { MlopsFunction, PowertoolsLogLevel } from './mlops-function';

/** The monitor's schedule: once per drift window (one hour). */
export const DRIFT_MONITOR_SCHEDULE = `rate(${DRIFT_WINDOW_SECONDS / 3600} hour)`;

/** What the drift monitor reads and writes, and how its function runs. */
export interface DriftMonitorProps {
  readonly data: DataBucket;
  readonly table: dynamodb.ITable;
  /** Handler environment (lambdas/shared/environment.ts). */
  readonly environment: Readonly<Record<string, string>>;
  /**
   * Function timeout: one run reads an hour of capture for every production model.
   * @default Duration.minutes(5)
   */
  readonly timeout?: Duration;
  /**
   * Memory in MB.
   * @default 1024
   */
  readonly memorySize?: number;
  /**
   * Run on the hourly schedule (off: only on-demand invocations with `{ "model": "<name>" }`).
   * @default true
   */
  readonly scheduleEnabled?: boolean;
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

/** The scheduled drift monitor: rule, function and dead-letter queue. */
export class DriftMonitor extends Construct {
  /** The hourly schedule, its only target the function. */
  readonly rule: events.Rule;
  /** The monitor function. */
  readonly handler: MlopsFunction;
  /** What the schedule could not deliver and what the function could not process. */
  readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: DriftMonitorProps) {
    super(scope, id);
    const timeout = props.timeout ?? Duration.minutes(5);
    if (timeout.toSeconds() < 30 || timeout.toSeconds() > 900) {
      throw new Error(
        `timeout must be between 30 seconds and 15 minutes, got ${timeout.toSeconds()} seconds`,
      );
    }

    const wired = createRuleFunction(this, {
      ruleId: 'Schedule',
      rule: {
        description: 'Runs the drift monitor once per hour',
        schedule: events.Schedule.expression(DRIFT_MONITOR_SCHEDULE),
        enabled: props.scheduleEnabled ?? true,
      },
      function: {
        entry: HANDLER_ENTRIES.monitor,
        serviceName: 'monitor',
        description: 'Hourly live drift: captured traffic of production models vs their training baseline',
        memorySize: props.memorySize ?? 1024,
        timeout,
        environment: props.environment,
        ...(props.logRetention ? { logRetention: props.logRetention } : {}),
        ...(props.logLevel ? { logLevel: props.logLevel } : {}),
      },
      functionRetryAttempts: FUNCTION_ASYNC_RETRY_ATTEMPTS,
      // A late run is still useful (the window comes from the event's time) but not after an hour.
      deliveryRetryAttempts: 8,
      maxEventAge: Duration.hours(1),
      deadLetterQueueOf: 'the monitor',
    });
    this.rule = wired.rule;
    this.handler = wired.handler;
    this.deadLetterQueue = wired.deadLetterQueue;

    this.grantPermissions(props);
  }

  private grantPermissions(props: DriftMonitorProps): void {
    const role = this.handler.role;
    const data = props.data;
    const capture = data.objectsArn(BUCKET_PREFIXES.capture);
    const reports = data.objectsArn(BUCKET_PREFIXES.reports);
    const prepared = data.objectsArn(BUCKET_PREFIXES.prepared);

    grantReadObjects(role, 'ReadCaptureBaselinesAndSchemas', [capture, reports, prepared]);
    grantListDataBucket(role, data.bucket);
    grantWriteObjects(role, 'WriteMonitoringReports', [reports]);
    grantRegistryRead(role, props.table);

    acknowledgeWildcardResource(
      role,
      capture,
      'The monitor reads the data capture SageMaker writes under capture/<model>/<endpoint>/<variant>/<yyyy/mm/dd/hh>/ for every production model; read-only on the capture/ prefix.',
    );
    acknowledgeWildcardResource(
      role,
      reports,
      'The monitor reads training baselines reports/<model>/<dataset>/statistics.json and writes its window reports under reports/<model>/monitoring/; limited to the reports/ prefix.',
    );
    acknowledgeWildcardResource(
      role,
      prepared,
      'The monitor reads the training schema prepared/<model>/<dataset>/schema.json of each champion; read-only on the prepared/ prefix.',
    );
  }
}
