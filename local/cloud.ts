/**
 * The local cloud: the whole control plane on one laptop, no AWS account. DynamoDB Local holds the
 * registry, s3rver the data bucket, a local EventBridge routes the same events to the same handlers
 * with the same rules as the CDK stack, and local SageMaker/CloudWatch/SNS stand-ins do real work
 * (training processes, inference servers, metric storage and alarm evaluation, a notification
 * outbox). Where this stands: the local runtime's supervisor; it builds the use cases' context from
 * local adapters and invokes the Lambda handlers through their factories, so the handlers and the
 * core do not know where they run.
 *
 * ```ts
 * The drift monitor runs on its schedule (hourly, scaled by the time scale) and on demand
 * ({@link LocalCloud.monitor}, the control API's `POST /monitor`, `mlops monitor`); its EMF metrics
 * reach the local metric store, where the alarm evaluator sees them. The reconciler runs every 15
 * scaled minutes and on demand ({@link LocalCloud.reconcile}): lost events are re-published on the
 * bus (local/reconciler.ts); `bus.loseNext(rule)` loses one on purpose.
 *
 * const cloud = await LocalCloud.start({ dir: '.mlops-local' });
 * // aws --endpoint-url cloud.env.s3Endpoint s3 cp data.csv s3://<bucket>/datasets/churn/data.csv
 * await cloud.stop();
 * ```
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Context } from 'aws-lambda';
import { S3ObjectStore } from '../adapters/aws/s3-object-store';
import { createRegistryStore } from '../adapters/dynamodb/dynamodb-registry-store';
import { LocalAlarmService } from './metrics/local-alarm-service';
import { LocalEndpointService } from './inference/local-endpoint-service';
import { LocalNotifier } from './local-notifier';
import { LocalTrainingService } from './training/local-training-service';
import { DRIFT_WINDOW_SECONDS } from '../core/domain/drift-metrics';
import { BUCKET_PREFIXES, ResourceNames } from '../core/domain/naming';
import type { MonitorOutcome } from '../core/use-cases/monitor-drift';
import { RECONCILE_DEFAULTS, type ReconcileOutcome } from '../core/use-cases/reconcile';
import { S3ListingInventory } from '../adapters/aws/s3-object-inventory';
import { systemClock } from '../core/ports/clock';
import type { Log, MlopsContext } from '../core/use-cases/context';
import { LOCAL_ACCOUNT, LOCAL_REGION, localTime, type CloudEvent, type LocalTime } from './contracts';
import { ControlServer, newControlToken } from './control-server';
import { BACKLOG_FILE, DeadLetterRoutes } from './dead-letters';
import { LocalEventBus, type BusLogger, type EventPattern } from './event-bus';
import { LocalAlarmEvaluator } from './metrics/alarm-evaluator';
import { LocalMetricStore } from './metrics/metric-store';
import { BusRedelivery, LedgerInventory, ObjectIdentityLedger } from './reconciler';
import {
  assertJava,
  DEFAULT_DYNAMODB_PORT,
  DYNAMODB_LOCAL_CREDENTIALS,
  startLocalDynamoDb,
  type LocalDynamoDb,
} from './services/dynamodb-local';
import {
  applyLambdaEnvironment,
  handlerConsole,
  invoke,
  redirectPowertoolsConsole,
  sqsBatch,
} from './services/lambda-runtime';
import {
  DEFAULT_LOCAL_BUCKET,
  DEFAULT_S3_PORT,
  S3RVER_CREDENTIALS,
  canPaginateListings,
  startLocalS3,
  type LocalS3,
} from './services/s3-server';

/** Defaults of the stack the local cloud mirrors (checked against lib/ by test/local/cloud.test.ts). */
export const LOCAL_STACK_DEFAULTS = {
  resourcePrefix: 'mlops',
  registryTable: 'mlops-registry',
  /** The stack's `ingestMaxConcurrency` default (SQS event source maximum concurrency). */
  ingestMaxConcurrency: 5,
  /** The ingest queue's maxReceiveCount: a message is tried this many times, then dead-lettered. */
  ingestMaxReceiveCount: 5,
  /** Lambda's asynchronous retries of a failed invocation (EventBridge → function). */
  functionAsyncRetryAttempts: 2,
} as const;

export interface LocalCloudOptions {
  /** Where everything is kept (registry, objects, training runs, endpoints). @default `.mlops-local` */
  readonly dir?: string;
  /** Wipe `dir`'s data before starting. @default false */
  readonly fresh?: boolean;
  /** Port of the S3 API on 127.0.0.1; 0 picks a free one. @default 4568 */
  readonly s3Port?: number;
  /** Port of DynamoDB Local; 0 picks a free one. @default 8000 */
  readonly dynamodbPort?: number;
  /** Host the local inference endpoints listen on. @default 127.0.0.1 */
  readonly endpointHost?: string;
  /** Simulated seconds per real second for bake times, alarm periods and retries. @default 1 */
  readonly timeScale?: number;
  /** Print nothing but warnings and errors. @default false */
  readonly quiet?: boolean;
  /** Where the cloud's own messages go. @default the console (nothing but warnings when quiet) */
  readonly log?: Log;
  /** The data bucket. @default `mlops-local-data` */
  readonly bucket?: string;
  /** The registry table. @default `mlops-registry` */
  readonly registryTable?: string;
  /** The stack's resource prefix. @default `mlops` */
  readonly resourcePrefix?: string;
  /** Most ingest invocations at once (the stack's `ingestMaxConcurrency`). @default 5 */
  readonly ingestMaxConcurrency?: number;
  /** JSON object merged under every model's config (the stack's `defaultModelConfig`). */
  readonly defaultModelConfig?: Readonly<Record<string, unknown>>;
  /**
   * Run the drift monitor on its hourly schedule (scaled by `timeScale`); off, it runs only on
   * demand. @default true
   */
  readonly monitorSchedule?: boolean;
  /** Fewest captured records in a window for the monitor to publish drift. @default 100 */
  readonly monitorMinRecords?: number;
  /**
   * Run the reconciler every 15 minutes (scaled by `timeScale`), as the stack schedules it; off, it
   * runs only on demand ({@link LocalCloud.reconcile}). @default true
   */
  readonly reconcileSchedule?: boolean;
  /** Handlers' Powertools log level. @default INFO (WARN when quiet) */
  readonly handlerLogLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'SILENT';
}

/** What a person or a tool needs to reach the local cloud; written to `<dir>/env.json`. */
export interface LocalCloudEnv {
  readonly dir: string;
  readonly pid: number;
  readonly region: string;
  readonly s3Endpoint: string;
  readonly dynamodbEndpoint: string;
  /** s3rver's fixed credentials (DynamoDB Local with -sharedDb accepts these or any other). */
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly dynamodbCredentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  readonly bucket: string;
  readonly registryTable: string;
  readonly resourcePrefix: string;
  readonly timeScale: number;
  /** Local inference endpoints: the host they listen on, and the URL of each one running at start. */
  readonly endpoints: { readonly host: string; readonly urls: Readonly<Record<string, string>> };
  /** The control API (fault injection into local endpoints): see local/control-server.ts. */
  readonly controlUrl: string;
  /** This run's control API token: env.json is readable by its owner only (mode 0600). */
  readonly controlToken: string;
  readonly files: {
    readonly deadLetters: string;
    readonly notifications: string;
    readonly metrics: string;
    readonly alarms: string;
    /** The identity each dataset upload's event carried, for the reconciler (local/reconciler.ts). */
    readonly objectEvents: string;
  };
  readonly startedAt: string;
}

/** The rules the stack deploys, as EventBridge patterns (lib/constructs/ingest-pipeline.ts, lifecycle-handlers.ts). */
export function stackEventPatterns(prefix: string, bucket: string) {
  return {
    ingest: {
      source: ['aws.s3'],
      'detail-type': ['Object Created'],
      detail: { bucket: { name: [bucket] }, object: { key: [{ prefix: BUCKET_PREFIXES.datasets }] } },
    },
    trainingEvents: {
      source: ['aws.sagemaker'],
      'detail-type': ['SageMaker Training Job State Change'],
      detail: { TrainingJobName: [{ prefix: `${prefix}-` }] },
    },
    endpointEvents: {
      source: ['aws.sagemaker'],
      'detail-type': ['SageMaker Endpoint State Change'],
      detail: { EndpointName: [{ prefix: `${prefix}-` }] },
    },
    alarmEvents: {
      source: ['aws.cloudwatch'],
      'detail-type': ['CloudWatch Alarm State Change'],
      detail: { alarmName: [{ prefix: `${prefix}-` }] },
    },
  } satisfies Record<string, EventPattern>;
}

/** The console, for the cloud's own messages. */
function consoleLog(quiet: boolean): Log {
  const line = (level: string, message: string, extra: unknown[]) =>
    `[local-cloud] ${level === 'INFO' ? '' : `${level} `}${message}${extra.length ? ` ${extra.map((e) => (typeof e === 'string' ? e : JSON.stringify(e))).join(' ')}` : ''}`;
  return {
    debug: () => {},
    info: (message, ...extra) => {
      if (!quiet) console.log(line('INFO', message, extra));
    },
    warn: (message, ...extra) => console.error(line('WARN', message, extra)),
    error: (message, ...extra) => console.error(line('ERROR', message, extra)),
  };
}

function busLogger(log: Log): BusLogger {
  return {
    info: (message, context) => log.debug(`event bus: ${message}`, context ?? {}),
    warn: (message, context) => log.warn(`event bus: ${message}`, context ?? {}),
    error: (message, context) => log.error(`event bus: ${message}`, context ?? {}),
  };
}

export class LocalCloud {
  private stopping: Promise<void> | undefined;
  private readonly cleanups: (() => void)[] = [];

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
    private readonly runMonitor: (
      request: Readonly<Record<string, unknown>>,
    ) => Promise<MonitorOutcome | { kind: 'malformed' }>,
    private readonly runReconciler: () => Promise<ReconcileOutcome | { kind: 'malformed' }>,
  ) {}

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

  /** Starts every part, wires the rules, writes `env.json`, and prints how to reach it (unless quiet). */
  static async start(options: LocalCloudOptions = {}): Promise<LocalCloud> {
    const quiet = options.quiet ?? false;
    const log = options.log ?? consoleLog(quiet);
    const dir = resolve(options.dir ?? '.mlops-local');
    const bucket = options.bucket ?? DEFAULT_LOCAL_BUCKET;
    const registryTable = options.registryTable ?? LOCAL_STACK_DEFAULTS.registryTable;
    const prefix = options.resourcePrefix ?? LOCAL_STACK_DEFAULTS.resourcePrefix;
    const names = new ResourceNames(prefix);
    const time = localTime(options.timeScale ?? 1);
    const host = options.endpointHost ?? '127.0.0.1';
    const files = {
      deadLetters: join(dir, 'dead-letters.jsonl'),
      notifications: join(dir, 'notifications.jsonl'),
      metrics: join(dir, 'metrics.json'),
      alarms: join(dir, 'alarms.json'),
      objectEvents: join(dir, 's3-object-events.jsonl'),
    };

    if (options.fresh) {
      for (const part of [
        'dynamodb',
        's3',
        'training',
        'endpoints',
        'dead-letters.jsonl',
        'notifications.jsonl',
        'metrics.json',
        'alarms.json',
        's3-object-events.jsonl',
        BACKLOG_FILE,
        `${BACKLOG_FILE}.taking`,
      ]) {
        await rm(join(dir, part), { recursive: true, force: true });
      }
    }
    assertJava(); // before anything starts: the clearest failure there is
    await mkdir(dir, { recursive: true });
    if (!canPaginateListings()) {
      log.warn(
        'this Node process lacks the OpenSSL legacy provider: S3 listings of more than 1000 keys will fail (run with NODE_OPTIONS=--openssl-legacy-provider; `npm run local` does)',
      );
    }

    // Powertools reads its settings when the handler modules load: set them, then load them.
    applyLambdaEnvironment(process.env, options.handlerLogLevel ?? (quiet ? 'WARN' : 'INFO'));
    const [
      { createIngestHandler },
      { createTrainingEventsHandler },
      { createEndpointEventsHandler },
      { createAlarmEventsHandler },
      { createMonitorHandler, driftMetrics },
      { createReconcilerHandler },
      observability,
    ] = await Promise.all([
      import('../lambdas/ingest/handler'),
      import('../lambdas/training-events/handler'),
      import('../lambdas/endpoint-events/handler'),
      import('../lambdas/alarm-events/handler'),
      import('../lambdas/monitor/handler'),
      import('../lambdas/reconciler/handler'),
      import('../lambdas/shared/observability'),
    ]);

    const started: { stop(): Promise<void> | void }[] = [];
    const stopStarted = async () => {
      for (const part of started.reverse()) await Promise.resolve(part.stop()).catch(() => undefined);
    };
    try {
      // Events wait for the rules (uploads taken and endpoints restored before they exist), and
      // what a stop leaves undelivered is saved for the next start (LocalEventBus.open below).
      const bus = new LocalEventBus({
        deadLetterFile: files.deadLetters,
        backlogFile: join(dir, BACKLOG_FILE),
        holdUntilOpen: true,
        time,
        log: busLogger(log),
      });
      started.push({ stop: () => bus.close() });
      // Remembers what each upload's event said, before the bus delivers it (or loses it).
      const ledger = new ObjectIdentityLedger(files.objectEvents);
      const [dynamodb, s3] = await Promise.all([
        startLocalDynamoDb({
          dataDir: join(dir, 'dynamodb'),
          port: options.dynamodbPort ?? DEFAULT_DYNAMODB_PORT,
          tableName: registryTable,
        }).then((d) => (started.push(d), d)),
        startLocalS3({
          dataDir: join(dir, 's3'),
          port: options.s3Port ?? DEFAULT_S3_PORT,
          buckets: [bucket],
          events: ledger.recording(bus),
        }).then((s) => (started.push(s), s)),
      ]);

      const metrics = new LocalMetricStore();
      if (existsSync(files.metrics)) {
        await metrics
          .load(files.metrics)
          .catch((error: unknown) => log.warn(`could not load ${files.metrics}`, String(error)));
      }
      const restoreConsoles = [
        redirectPowertoolsConsole(
          observability.logger,
          handlerConsole({ silent: options.handlerLogLevel === 'SILENT' }),
        ),
        redirectPowertoolsConsole(
          observability.metrics,
          handlerConsole({ onMetrics: (data) => data.forEach((datum) => metrics.put(datum)) }),
        ),
        // The drift monitor's own EMF instance (namespace ServerlessMlops/Drift, dimension Model).
        redirectPowertoolsConsole(
          driftMetrics,
          handlerConsole({ onMetrics: (data) => data.forEach((datum) => metrics.put(datum)) }),
        ),
      ];
      started.push({ stop: () => restoreConsoles.forEach((restore) => restore()) });

      const objects = new S3ObjectStore(s3.client);
      const alarms = new LocalAlarmEvaluator({ metrics, events: bus, time });
      restoreAlarms(alarms, files.alarms, log);
      alarms.start();
      started.push({ stop: () => alarms.stop() });
      const training = new LocalTrainingService({
        root: join(dir, 'training'),
        objects,
        events: bus,
        time,
        log,
      });
      started.push({ stop: () => training.close() });
      const endpoints = new LocalEndpointService({
        root: join(dir, 'endpoints'),
        objects,
        events: bus,
        metrics,
        alarms,
        time,
        host,
        log,
      });
      started.push({ stop: () => endpoints.close() });
      await endpoints.restore();
      const notifier = new LocalNotifier({ file: files.notifications, print: !quiet });

      const context: MlopsContext = {
        registry: createRegistryStore(dynamodb.client, registryTable),
        objects,
        training,
        endpoints,
        alarms: new LocalAlarmService(alarms),
        notifier,
        clock: systemClock,
        names,
        log: observability.logger,
        bucket,
        region: LOCAL_REGION,
        ...(options.defaultModelConfig ? { defaultModelConfig: options.defaultModelConfig } : {}),
      };
      const getContext = () => context;

      // The rules of the stack, each with its target's delivery semantics.
      const patterns = stackEventPatterns(prefix, bucket);
      const ingest = createIngestHandler(getContext);
      const receives = new Map<string, number>();
      bus.addRule({
        name: `${prefix}-dataset-created`,
        pattern: patterns.ingest,
        // EventBridge → SQS → Lambda: one event per message, batch size 1 (the stack's default);
        // a message reported in batchItemFailures is received again, up to maxReceiveCount times.
        target: async (event: CloudEvent) => {
          const receiveCount = (receives.get(event.id) ?? 0) + 1;
          receives.set(event.id, receiveCount);
          const result = await invoke(`${prefix}-local-ingest`, (lambda) =>
            ingest(sqsBatch([event], receiveCount, `${prefix}-ingest`), lambda),
          );
          if (result.batchItemFailures.length > 0) {
            throw new Error(
              `ingest reported ${result.batchItemFailures.length} failed record(s) (receive ${receiveCount})`,
            );
          }
          receives.delete(event.id);
        },
        retryAttempts: LOCAL_STACK_DEFAULTS.ingestMaxReceiveCount - 1,
        maxConcurrency: options.ingestMaxConcurrency ?? LOCAL_STACK_DEFAULTS.ingestMaxConcurrency,
      });
      const direct = (
        name: string,
        pattern: EventPattern,
        handler: (event: unknown, context?: Context) => Promise<unknown>,
      ) =>
        bus.addRule({
          name: `${prefix}-${name}`,
          pattern,
          // EventBridge → Lambda (asynchronous invoke): a thrown error is retried by Lambda.
          target: async (event: CloudEvent) => {
            await invoke(`${prefix}-local-${name}`, (lambda) => handler(event, lambda));
          },
          retryAttempts: LOCAL_STACK_DEFAULTS.functionAsyncRetryAttempts,
        });
      direct('training-events', patterns.trainingEvents, createTrainingEventsHandler(getContext));
      direct('endpoint-events', patterns.endpointEvents, createEndpointEventsHandler(getContext));
      direct('alarm-events', patterns.alarmEvents, createAlarmEventsHandler(getContext));

      // The drift monitor: the stack's hourly schedule (DriftMonitor), scaled, plus on-demand runs.
      const monitorHandler = createMonitorHandler(getContext, undefined, {
        windowMs: time.ms(DRIFT_WINDOW_SECONDS),
        ...(options.monitorMinRecords !== undefined ? { minRecords: options.monitorMinRecords } : {}),
      });
      const runMonitor = (event: unknown) =>
        invoke(`${prefix}-local-monitor`, (lambda) => monitorHandler(event, lambda));
      if (options.monitorSchedule ?? true) {
        started.push(
          schedule(
            'drift monitor',
            time.ms(DRIFT_WINDOW_SECONDS),
            () => runMonitor(scheduledEvent('drift-monitor')),
            log,
          ),
        );
      }
      const monitor = (request: Readonly<Record<string, unknown>> = {}) => runMonitor(request);

      // The reconciler: the stack's 15-minute schedule (lib/constructs/reconciler.ts), scaled, with
      // its thresholds scaled alike; lost events are published again on the bus.
      const reconcilerHandler = createReconcilerHandler(
        getContext,
        () => ({
          redelivery: new BusRedelivery(bus),
          inventory: new LedgerInventory(new S3ListingInventory(s3.client), ledger),
        }),
        {
          staleAfterMs: time.ms(RECONCILE_DEFAULTS.staleAfterMs / 1000),
          settleMs: time.ms(RECONCILE_DEFAULTS.settleMs / 1000),
        },
      );
      const runReconciler = (event: unknown = {}) =>
        invoke(`${prefix}-local-reconciler`, (lambda) => reconcilerHandler(event, lambda));
      if (options.reconcileSchedule ?? true) {
        started.push(
          schedule(
            'reconciler',
            time.ms(RECONCILE_INTERVAL_SECONDS),
            () => runReconciler(scheduledEvent('reconciler')),
            log,
          ),
        );
      }

      const controlToken = newControlToken();
      const control = await ControlServer.start(endpoints, {
        token: controlToken,
        monitor,
        deadLetters: new DeadLetterRoutes(files.deadLetters, bus),
      });
      started.push(control);
      // Endpoint URLs, kept current in env.json as endpoints come into service.
      const endpointDirectory: Record<string, string> = endpointUrls(
        endpoints,
        await endpointNames(join(dir, 'endpoints')),
      );
      const env: LocalCloudEnv = {
        dir,
        pid: process.pid,
        region: LOCAL_REGION,
        s3Endpoint: s3.endpoint,
        dynamodbEndpoint: dynamodb.endpoint,
        accessKeyId: S3RVER_CREDENTIALS.accessKeyId,
        secretAccessKey: S3RVER_CREDENTIALS.secretAccessKey,
        dynamodbCredentials: { ...DYNAMODB_LOCAL_CREDENTIALS },
        bucket,
        registryTable,
        resourcePrefix: prefix,
        timeScale: time.scale,
        endpoints: { host, urls: endpointDirectory },
        controlUrl: control.url,
        controlToken,
        files,
        startedAt: new Date().toISOString(),
      };
      await writeEnvFile(dir, env);
      // Not a rule of the stack: the local cloud's own directory of endpoint URLs (env.json).
      bus.addRule({
        name: 'local-endpoint-directory',
        pattern: { source: ['aws.sagemaker'], 'detail-type': ['SageMaker Endpoint State Change'] },
        target: async (event: CloudEvent) => {
          const name = String((event.detail as { EndpointName?: unknown }).EndpointName ?? '');
          const url = endpoints.endpointUrl(name);
          if (url && endpointDirectory[name] !== url) {
            endpointDirectory[name] = url;
            log.info(`endpoint ${name} serves at ${url} (POST ${url}/invocations)`);
          } else if (!url && name in endpointDirectory) {
            delete endpointDirectory[name];
          } else return;
          await writeEnvFile(dir, env);
        },
        retryAttempts: 0,
      });
      // Every rule is in place: the backlog of the last stop, then what waited meanwhile.
      const opened = bus.open();
      if (opened.restored > 0) {
        log.info(`delivering ${opened.restored} event(s) the last stop left undelivered (${BACKLOG_FILE})`);
      }
      if (opened.orphaned > 0) {
        log.warn(`${opened.orphaned} saved event(s) had no rule any more: dead-lettered (mlops dlq list)`);
      }
      const cloud = new LocalCloud(
        env,
        context,
        bus,
        endpoints,
        training,
        alarms,
        metrics,
        notifier,
        dynamodb,
        s3,
        time,
        log,
        monitor,
        () => runReconciler(),
      );
      cloud.onStop(() => control.stop());
      if (!quiet) {
        if (options.log) for (const line of describeLocalCloud(env).split('\n')) log.info(line);
        else console.log(describeLocalCloud(env));
      }
      return cloud;
    } catch (error) {
      await stopStarted();
      throw error;
    }
  }

  /** Registers a function run by {@link stop} before the services stop (e.g. a CLI's own cleanup). */
  onStop(cleanup: () => void): void {
    this.cleanups.push(cleanup);
  }

  /**
   * Stops everything, in an order that loses no work in progress: the bus stops delivering, and
   * what it has not delivered (queued, waiting for a retry) goes to `backlog.jsonl`; running
   * handlers finish (up to `graceMs`); then the alarm evaluator, training (running jobs end
   * Stopped), endpoints, S3 and DynamoDB stop. The events published meanwhile (those jobs' state
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
    await attempt('saving the alarms', () => saveAlarms(this.alarms, this.env.files.alarms));
    await attempt('training', () => this.training.close());
    await attempt('endpoints', () => this.endpoints.close());
    await attempt('the metric store', () => this.metrics.snapshot(this.env.files.metrics));
    await attempt('the S3 server', () => this.s3.stop());
    await attempt('DynamoDB Local', () => this.dynamodb.stop());
    await attempt('env.json', () => removeEnvFileIfOurs(this.env));
    const { saved } = this.bus.deliveries();
    if (saved > 0) {
      this.log.info(`${saved} undelivered event(s) saved in ${BACKLOG_FILE}: the next start delivers them`);
    }
  }
}

/** The reconciler's schedule in the stack (lib/constructs/reconciler.ts), in seconds. */
const RECONCILE_INTERVAL_SECONDS = 15 * 60;

/** EventBridge's "Scheduled Event", as the schedule rule `mlops-<rule>` delivers it to its target. */
function scheduledEvent(rule: string): CloudEvent {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: LOCAL_ACCOUNT,
    time: new Date().toISOString(),
    region: LOCAL_REGION,
    resources: [`arn:aws:events:${LOCAL_REGION}:${LOCAL_ACCOUNT}:rule/mlops-${rule}`],
    detail: {},
  };
}

/** Runs `run` every `intervalMs`, never two at once (a slow run is not overlapped); stop waits for it. */
function schedule(
  what: string,
  intervalMs: number,
  run: () => Promise<unknown>,
  log: Log,
): { stop(): Promise<void> } {
  let running: Promise<unknown> | undefined;
  const timer = setInterval(() => {
    if (running) return;
    running = run()
      .catch((error: unknown) => log.warn(`scheduled ${what} run failed`, String(error)))
      .finally(() => (running = undefined));
  }, intervalMs);
  timer.unref();
  return {
    stop: async () => {
      clearInterval(timer);
      await running;
    },
  };
}

/** Saves the alarms' definitions: the evaluator keeps them in memory only. */
async function saveAlarms(evaluator: LocalAlarmEvaluator, file: string): Promise<void> {
  const inputs = evaluator
    .names()
    .map((name) => evaluator.describe(name)?.input)
    .filter((input) => input !== undefined);
  await writeFile(file, `${JSON.stringify(inputs, null, 2)}\n`);
}

/** Brings back the alarms saved by {@link saveAlarms} (PutMetricAlarm again: state starts over). */
function restoreAlarms(evaluator: LocalAlarmEvaluator, file: string, log: Log): void {
  if (!existsSync(file)) return;
  try {
    const inputs = JSON.parse(readFileSync(file, 'utf8')) as Parameters<
      LocalAlarmEvaluator['putMetricAlarm']
    >[0][];
    for (const input of inputs) evaluator.putMetricAlarm(input);
  } catch (error) {
    log.warn(`could not restore the alarms saved in ${file}`, String(error));
  }
}

/** Names of the endpoints the endpoint service keeps in `<root>/state.json`. */
async function endpointNames(root: string): Promise<string[]> {
  const file = join(root, 'state.json');
  if (!existsSync(file)) return [];
  try {
    const state = JSON.parse(readFileSync(file, 'utf8')) as { endpoints?: Record<string, unknown> };
    return Object.keys(state.endpoints ?? {});
  } catch {
    return [];
  }
}

function endpointUrls(endpoints: LocalEndpointService, names: readonly string[]): Record<string, string> {
  const urls: Record<string, string> = {};
  for (const name of names) {
    const url = endpoints.endpointUrl(name);
    if (url) urls[name] = url;
  }
  return urls;
}

async function removeEnvFileIfOurs(env: LocalCloudEnv): Promise<void> {
  const file = join(env.dir, 'env.json');
  if (!existsSync(file)) return;
  const written = JSON.parse(readFileSync(file, 'utf8')) as Partial<LocalCloudEnv>;
  if (written.pid === env.pid && written.startedAt === env.startedAt) await rm(file, { force: true });
}

/** Reads `<dir>/env.json` of a running local cloud, or undefined when none is running there. */
export function readLocalCloudEnv(dir = '.mlops-local'): LocalCloudEnv | undefined {
  const file = join(resolve(dir), 'env.json');
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, 'utf8')) as LocalCloudEnv;
}

/** What a person needs: where things are, the credentials, and commands to try. */
export function describeLocalCloud(env: LocalCloudEnv): string {
  const creds = `AWS_ACCESS_KEY_ID=${env.accessKeyId} AWS_SECRET_ACCESS_KEY=${env.secretAccessKey} AWS_DEFAULT_REGION=${env.region}`;
  return [
    'local cloud is up',
    `  S3 API          ${env.s3Endpoint}   (bucket ${env.bucket}; path-style; access key ${env.accessKeyId}, secret ${env.secretAccessKey})`,
    `  DynamoDB Local  ${env.dynamodbEndpoint}   (table ${env.registryTable}; -sharedDb: any credentials work)`,
    ...Object.entries(env.endpoints.urls).map(([name, url]) => `  endpoint        ${url}   (${name})`),
    `  region ${env.region}, time scale ${env.timeScale}x, data in ${env.dir} (env.json has all of this)`,
    '',
    '  drop a dataset:',
    `    ${creds} aws --endpoint-url ${env.s3Endpoint} s3 cp data.csv s3://${env.bucket}/datasets/<model>/data.csv`,
    '  read the registry:',
    `    ${creds} aws dynamodb scan --table-name ${env.registryTable} --endpoint-url ${env.dynamodbEndpoint}`,
    '',
    '  Ctrl-C stops everything; data is kept, and events not yet delivered are delivered at the next start',
    '  (--fresh starts from scratch). Dead letters: mlops dlq list | redrive.',
  ].join('\n');
}

/** Writes `<dir>/env.json`, readable and writable by its owner only: it holds the control token. */
async function writeEnvFile(dir: string, env: LocalCloudEnv): Promise<void> {
  const file = join(dir, 'env.json');
  await writeFile(file, `${JSON.stringify(env, null, 2)}\n`, { mode: 0o600 });
  await chmod(file, 0o600); // an older env.json keeps its mode through writeFile
}
