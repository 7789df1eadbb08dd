/**
 * The stack's scheduled functions in the local cloud: the drift monitor (hourly) and the
 * reconciler (every 15 minutes), on the stack's schedules scaled by the time scale, and run on
 * demand (`LocalCloud.monitor`, `LocalCloud.reconcile`, the control API). Where this stands: local
 * runtime; `LocalCloud.start` (local/cloud.ts) calls these steps.
 */
import { S3ListingInventory } from '../adapters/aws/s3-object-inventory';
import { DRIFT_WINDOW_SECONDS } from '../core/domain/drift-metrics';
import type { Log, MlopsContext } from '../core/use-cases/context';
import type { MonitorOutcome } from '../core/use-cases/monitor-drift';
import { RECONCILE_DEFAULTS, type ReconcileOutcome } from '../core/use-cases/reconcile';
import type { StackHandlers } from './cloud-handlers';
import type { LocalCloudSettings } from './cloud-settings';
import { cloudEvent, LOCAL_ACCOUNT, LOCAL_REGION, type CloudEvent } from './contracts';
import type { LocalEventBus } from './event-bus';
import { BusRedelivery, LedgerInventory, type ObjectIdentityLedger } from './reconciler';
import { invoke } from './services/lambda-runtime';
import type { LocalS3 } from './services/s3-server';
import type { StartedParts } from './started-parts';

/** One on-demand run of the drift monitor: the request is the function's event. */
export type MonitorRun = (
  request?: Readonly<Record<string, unknown>>,
) => Promise<MonitorOutcome | { kind: 'malformed' }>;

/** One on-demand run of the reconciler, as `{}` invokes it. */
export type ReconcilerRun = () => Promise<ReconcileOutcome | { kind: 'malformed' }>;

/** The reconciler's schedule in the stack (lib/constructs/reconciler.ts), in seconds. */
const RECONCILE_INTERVAL_SECONDS = 15 * 60;

/**
 * The drift monitor: the stack's hourly schedule (DriftMonitor), scaled, unless
 * `monitorSchedule` is off; returns its on-demand run.
 */
export function startDriftMonitor(
  handlers: StackHandlers,
  getContext: () => MlopsContext,
  settings: LocalCloudSettings,
  parts: StartedParts,
): MonitorRun {
  const { prefix, time, options } = settings;
  const monitorHandler = handlers.createMonitorHandler(getContext, undefined, {
    windowMs: time.ms(DRIFT_WINDOW_SECONDS),
    ...(options.monitorMinRecords !== undefined ? { minRecords: options.monitorMinRecords } : {}),
  });
  const runMonitor = (event: unknown) =>
    invoke(`${prefix}-local-monitor`, (lambda) => monitorHandler(event, lambda));
  if (options.monitorSchedule ?? true) {
    parts.add(
      schedule(
        'drift monitor',
        time.ms(DRIFT_WINDOW_SECONDS),
        () => runMonitor(scheduledEvent('drift-monitor')),
        settings.log,
      ),
    );
  }
  return (request = {}) => runMonitor(request);
}

/**
 * The reconciler: the stack's 15-minute schedule (lib/constructs/reconciler.ts), scaled, with its
 * thresholds scaled alike, unless `reconcileSchedule` is off; lost events are published again on
 * the bus. Returns its on-demand run.
 */
export function startReconciler(
  handlers: StackHandlers,
  getContext: () => MlopsContext,
  deps: { readonly bus: LocalEventBus; readonly s3: LocalS3; readonly ledger: ObjectIdentityLedger },
  settings: LocalCloudSettings,
  parts: StartedParts,
): ReconcilerRun {
  const { prefix, time, options } = settings;
  const reconcilerHandler = handlers.createReconcilerHandler(
    getContext,
    () => ({
      redelivery: new BusRedelivery(deps.bus),
      inventory: new LedgerInventory(new S3ListingInventory(deps.s3.client), deps.ledger),
    }),
    {
      staleAfterMs: time.ms(RECONCILE_DEFAULTS.staleAfterMs / 1000),
      settleMs: time.ms(RECONCILE_DEFAULTS.settleMs / 1000),
    },
  );
  const runReconciler = (event: unknown = {}) =>
    invoke(`${prefix}-local-reconciler`, (lambda) => reconcilerHandler(event, lambda));
  if (options.reconcileSchedule ?? true) {
    parts.add(
      schedule(
        'reconciler',
        time.ms(RECONCILE_INTERVAL_SECONDS),
        () => runReconciler(scheduledEvent('reconciler')),
        settings.log,
      ),
    );
  }
  return () => runReconciler();
}

/**
 * EventBridge's "Scheduled Event", as the schedule rule `mlops-<rule>` delivers it to its target
 * (`time` to the second, like every EventBridge event).
 */
export function scheduledEvent(rule: string, time?: Date): CloudEvent {
  return cloudEvent({
    detailType: 'Scheduled Event',
    source: 'aws.events',
    time,
    resources: [`arn:aws:events:${LOCAL_REGION}:${LOCAL_ACCOUNT}:rule/mlops-${rule}`],
    detail: {},
  });
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
