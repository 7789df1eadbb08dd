/**
 * The local cloud: the whole control plane on one laptop, no AWS account. DynamoDB Local holds the
 * registry, s3rver the data bucket, a local EventBridge routes the same events to the same handlers
 * with the same rules as the CDK stack, and local SageMaker/CloudWatch/SNS stand-ins do real work
 * (training processes, inference servers, metric storage and alarm evaluation, a notification
 * outbox). Where this stands: the local runtime's supervisor; it builds the use cases' context from
 * local adapters and invokes the Lambda handlers through their factories, so the handlers and the
 * core do not know where they run.
 *
 * The drift monitor runs on its schedule (hourly, scaled by the time scale) and on demand
 * ({@link LocalCloud.monitor}, the control API's `POST /monitor`, `mlops monitor`); its EMF metrics
 * reach the local metric store, where the alarm evaluator sees them. The reconciler runs every 15
 * scaled minutes and on demand ({@link LocalCloud.reconcile}): lost events are re-published on the
 * bus (local/reconciler.ts); `bus.loseNext(rule)` loses one on purpose. Operator commands
 * (approve, reject, rollback, retrain) run through the operator function ({@link LocalCloud.operate},
 * the control API's `POST /operator`, the `mlops` CLI), and the control API's `GET /alarms` lists
 * the alarms live. The metric store and the alarms with their states are written to disk as they
 * change (`metrics.json`, `alarms.json`), not only at stop.
 *
 * This module starts and stops the parts in order; each step is a module of its own:
 * cloud-settings.ts (options, data directory), cloud-services.ts (storage, metrics and alarms,
 * training, endpoints, the context), cloud-handlers.ts (handlers loaded, their output routed, the
 * stack's rules), cloud-schedules.ts (drift monitor, reconciler), cloud-env.ts (`env.json`).
 *
 * ```ts
 * const cloud = await LocalCloud.start({ dir: '.mlops-local' });
 * // aws --endpoint-url cloud.env.s3Endpoint s3 cp data.csv s3://<bucket>/datasets/churn/data.csv
 * await cloud.stop();
 * ```
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { OperatorResult } from '../core/domain/operator-commands';
import type { Log, MlopsContext } from '../core/use-cases/context';
import type { MonitorOutcome } from '../core/use-cases/monitor-drift';
import type { ReconcileOutcome } from '../core/use-cases/reconcile';
import { publishLocalCloudEnv, printLocalCloud, removeEnvFileIfOurs, type LocalCloudEnv } from './cloud-env';
import { loadStackHandlers, operatorFunction, routeHandlerOutput, wireStackRules } from './cloud-handlers';
import { startDriftMonitor, startReconciler, type MonitorRun, type ReconcilerRun } from './cloud-schedules';
import { openMetricStore, startStandIns, startStorage, localContext } from './cloud-services';
import {
  prepareDataDirectory,
  resolveSettings,
  type LocalCloudOptions,
  type LocalCloudSettings,
} from './cloud-settings';
import type { LocalTime } from './contracts';
import { ControlServer, newControlToken, type OperatorRunner } from './control-server';
import { BACKLOG_FILE, DeadLetterRoutes } from './dead-letters';
import { LocalEventBus, type BusLogger } from './event-bus';
import type { LocalEndpointService } from './inference/local-endpoint-service';
import type { LiveFile } from './live-file';
import type { LocalNotifier } from './local-notifier';
import type { LocalAlarmEvaluator } from './metrics/alarm-evaluator';
import { listLocalAlarms } from './metrics/local-alarm-service';
import type { LocalMetricStore } from './metrics/metric-store';
import { ObjectIdentityLedger } from './reconciler';
import type { LocalDynamoDb } from './services/dynamodb-local';
import type { LocalS3 } from './services/s3-server';
import { StartedParts } from './started-parts';
import type { LocalTrainingService } from './training/local-training-service';

export { describeLocalCloud, readLocalCloudEnv, type LocalCloudEnv } from './cloud-env';
export { stackEventPatterns } from './cloud-handlers';
export { LOCAL_STACK_DEFAULTS, type LocalCloudOptions } from './cloud-settings';

/**
 * A running local cloud: its parts, the context its handlers get, and how to reach it
 * ({@link LocalCloud.env}); made by {@link LocalCloud.start}, ended by {@link LocalCloud.stop}.
 */
export class LocalCloud {
  private stopping: Promise<void> | undefined;
  private readonly cleanups: (() => Promise<void> | void)[] = [];

  private constructor(
    /** What a person or a tool needs to reach the local cloud (also in `<dir>/env.json`). */
    readonly env: LocalCloudEnv,
    /** The use cases' context, built from local adapters (the same one the handlers get). */
    readonly context: MlopsContext,
    readonly bus: LocalEventBus,
    readonly endpoints: LocalEndpointService,
    readonly training: LocalTrainingService,
    /** The alarm evaluator (states, start/stop); the context's AlarmService wraps it. */
    readonly alarms: LocalAlarmEvaluator,
    readonly metrics: LocalMetricStore,
    readonly notifier: LocalNotifier,
    readonly dynamodb: LocalDynamoDb,
    readonly s3: LocalS3,
    readonly time: LocalTime,
    private readonly log: Log,
    private readonly runMonitor: MonitorRun,
    private readonly runReconciler: ReconcilerRun,
    private readonly runOperator: OperatorRunner,
    /** `metrics.json` and `alarms.json`, written as they change; closed (flushed) at stop. */
    private readonly liveFiles: { readonly metrics: LiveFile; readonly alarms: LiveFile },
  ) {}

  /**
   * Runs an operator command, as the `mlops` CLI invokes the operator function (the control API's
   * `POST /operator` does the same): approve or reject a version, roll back, retrain. Answers the
   * function's OperatorResult (a malformed command is `{ ok: false, error: { code: 'malformed' } }`);
   * rejects when the function fails.
   */
  operate(command: Readonly<Record<string, unknown>>): Promise<OperatorResult> {
    return this.runOperator(command);
  }

  /**
   * Runs the reconciler now, as `{}` invokes the reconciler function: versions whose event was lost
   * (stale for 15 scaled minutes) and uploads the registry never saw (older than 10 scaled minutes)
   * are re-published on the bus, where the stack's rules deliver them again.
   */
  reconcile(): Promise<ReconcileOutcome | { kind: 'malformed' }> {
    return this.runReconciler();
  }

  /**
   * Runs the drift monitor now, as `{ "model": "<name>" }` invokes the monitor function: over the
   * window (one scaled hour, or `windowMinutes` real minutes) ending now, for one model or all.
   * Captured traffic reaches S3 when the endpoints' capture buffers are written (every 5 seconds).
   */
  monitor(
    request: { model?: string; windowMinutes?: number } = {},
  ): Promise<MonitorOutcome | { kind: 'malformed' }> {
    return this.runMonitor(request);
  }

  /**
   * Starts every part, wires the rules, writes `env.json`, and prints how to reach it (unless
   * quiet). A part failing to start stops those started before it.
   */
  static async start(options: LocalCloudOptions = {}): Promise<LocalCloud> {
    const settings = resolveSettings(options);
    const { log, files } = settings;
    await prepareDataDirectory(settings);
    const handlers = await loadStackHandlers(settings.handlerLogLevel);

    const parts = new StartedParts();
    try {
      const bus = openHeldBus(settings);
      parts.onStop(() => bus.close());
      // Remembers what each upload's event said, before the bus delivers it (or loses it).
      const ledger = new ObjectIdentityLedger(files.objectEvents);
      const storage = await startStorage(settings, ledger.recording(bus), parts);
      const { metrics, file: metricsFile } = await openMetricStore(files.metrics, log, parts);
      routeHandlerOutput(settings, metrics, parts);
      const standIns = await startStandIns(settings, { bus, storage, metrics }, parts);
      const context = localContext(settings, storage, standIns, handlers.logger);
      const getContext = () => context;

      wireStackRules(bus, handlers, getContext, settings);
      // The schedules stop first at a stop (they would run against stopped services otherwise).
      const schedules = new StartedParts();
      parts.onStop(() => schedules.stopAll());
      const monitor = startDriftMonitor(handlers, getContext, settings, schedules);
      const reconcile = startReconciler(
        handlers,
        getContext,
        { bus, s3: storage.s3, ledger },
        settings,
        schedules,
      );
      const operator = operatorFunction(handlers, getContext, settings);

      const controlToken = newControlToken();
      const control = parts.add(
        await ControlServer.start(standIns.endpoints, {
          token: controlToken,
          monitor,
          deadLetters: new DeadLetterRoutes(files.deadLetters, bus),
          operator,
          alarms: () => listLocalAlarms(standIns.alarms),
        }),
      );
      const env = await publishLocalCloudEnv(settings, {
        ...storage,
        endpoints: standIns.endpoints,
        bus,
        control: { url: control.url, token: controlToken },
      });
      openBus(bus, log);
      const cloud = new LocalCloud(
        env,
        context,
        bus,
        standIns.endpoints,
        standIns.training,
        standIns.alarms,
        metrics,
        standIns.notifier,
        storage.dynamodb,
        storage.s3,
        settings.time,
        log,
        monitor,
        reconcile,
        operator,
        { metrics: metricsFile, alarms: standIns.alarmsFile },
      );
      cloud.onStop(() => schedules.stopAll());
      cloud.onStop(() => control.stop());
      if (!settings.quiet) printLocalCloud(env, options.log);
      return cloud;
    } catch (error) {
      await parts.stopAll();
      throw error;
    }
  }

  /**
   * Registers a function run by {@link stop} before the services stop (e.g. a CLI's own cleanup);
   * a promise it returns is awaited, and its rejection logged like a throw.
   */
  onStop(cleanup: () => Promise<void> | void): void {
    this.cleanups.push(cleanup);
  }

  /**
   * Stops everything, in an order that loses no work in progress: the bus stops delivering, and
   * what it has not delivered (queued, waiting for a retry) goes to `backlog.jsonl`; running
   * handlers finish (up to `graceMs`); then the alarm evaluator, training (running jobs end
   * Stopped), endpoints, S3 and DynamoDB stop; what `alarms.json` and `metrics.json` have not
   * taken yet is written. The events published meanwhile (those jobs' state
   * changes, a handler failing with retries left) go to the backlog too, which the next start
   * delivers to the same rules. Idempotent.
   */
  stop(graceMs = 15_000): Promise<void> {
    return (this.stopping ??= this.doStop(graceMs));
  }

  private async doStop(graceMs: number): Promise<void> {
    const attempt = async (what: string, run: () => unknown) => {
      try {
        await run();
      } catch (error) {
        this.log.warn(`stopping ${what} failed`, String(error));
      }
    };
    for (const cleanup of this.cleanups) await attempt('a stop hook', cleanup);
    await attempt('the event bus', () => this.bus.close());
    await attempt('running handlers', () => Promise.race([this.bus.drain(), sleep(graceMs)]));
    await attempt('the alarm evaluator', () => this.alarms.stop());
    await attempt('saving the alarms', () => this.liveFiles.alarms.close());
    await attempt('training', () => this.training.close());
    await attempt('endpoints', () => this.endpoints.close());
    await attempt('the metric store', () => this.liveFiles.metrics.close());
    await attempt('the S3 server', () => this.s3.stop());
    await attempt('DynamoDB Local', () => this.dynamodb.stop());
    await attempt('env.json', () => removeEnvFileIfOurs(this.env));
    const { saved } = this.bus.deliveries();
    if (saved > 0) {
      this.log.info(`${saved} undelivered event(s) saved in ${BACKLOG_FILE}: the next start delivers them`);
    }
  }
}

/**
 * The local cloud's event bus, holding events until every rule is in place (uploads taken and
 * endpoints restored before the rules exist wait for them); what a stop leaves undelivered is saved
 * in the backlog for the next start ({@link openBus}). Its retries wait real seconds at any time
 * scale (local/event-bus.ts, `retryBaseSeconds`).
 */
export function openHeldBus(settings: LocalCloudSettings): LocalEventBus {
  return new LocalEventBus({
    deadLetterFile: settings.files.deadLetters,
    backlogFile: join(settings.dir, BACKLOG_FILE),
    holdUntilOpen: true,
    log: busLogger(settings.log),
  });
}

/** Every rule is in place: delivers the backlog of the last stop, then what waited meanwhile. */
function openBus(bus: LocalEventBus, log: Log): void {
  const opened = bus.open();
  if (opened.restored > 0) {
    log.info(`delivering ${opened.restored} event(s) the last stop left undelivered (${BACKLOG_FILE})`);
  }
  if (opened.orphaned > 0) {
    log.warn(`${opened.orphaned} saved event(s) had no rule any more: dead-lettered (mlops dlq list)`);
  }
}

/** The bus's messages in the cloud's log; deliveries at debug level. */
function busLogger(log: Log): BusLogger {
  return {
    info: (message, context) => log.debug(`event bus: ${message}`, context ?? {}),
    warn: (message, context) => log.warn(`event bus: ${message}`, context ?? {}),
    error: (message, context) => log.error(`event bus: ${message}`, context ?? {}),
  };
}
