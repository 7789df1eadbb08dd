/**
 * The services the local cloud runs in place of AWS's, started in order on its data directory:
 * storage first (DynamoDB Local for the registry, the S3 server for the data bucket), the metric
 * store and alarm evaluator with what was saved last, then the SageMaker stand-ins (training,
 * endpoints) and the notification outbox; and the use cases' context built from them. Where this
 * stands: local runtime; `LocalCloud.start` (local/cloud.ts) calls these steps, each registering
 * what it started so that a failure stops it again.
 *
 * The metric store (`metrics.json`) and the alarms with their states (`alarms.json`) are written
 * as they change, coalesced and atomically (local/live-file.ts), not only at stop: a tool reads
 * them live, and a start after a crash or `kill -9` finds them as they were a moment before.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { S3ObjectStore } from '../adapters/aws/s3-object-store';
import { createRegistryStore } from '../adapters/dynamodb/dynamodb-registry-store';
import { systemClock } from '../core/ports/clock';
import { isPlainObject } from '../core/support/objects';
import type { Log, MlopsContext } from '../core/use-cases/context';
import type { LocalCloudSettings } from './cloud-settings';
import { LOCAL_REGION, type EventPublisher } from './contracts';
import type { LocalEventBus } from './event-bus';
import { LocalEndpointService } from './inference/local-endpoint-service';
import { LiveFile } from './live-file';
import { LocalNotifier } from './local-notifier';
import {
  LocalAlarmEvaluator,
  type LocalAlarmEvaluatorOptions,
  type SavedAlarm,
} from './metrics/alarm-evaluator';
import { LocalAlarmService } from './metrics/local-alarm-service';
import { LocalMetricStore } from './metrics/metric-store';
import { DEFAULT_DYNAMODB_PORT, startLocalDynamoDb, type LocalDynamoDb } from './services/dynamodb-local';
import { DEFAULT_S3_PORT, startLocalS3, type LocalS3 } from './services/s3-server';
import type { StartedParts } from './started-parts';
import { LocalTrainingService } from './training/local-training-service';

/** The storage services, up. */
export interface LocalStorage {
  readonly dynamodb: LocalDynamoDb;
  readonly s3: LocalS3;
}

/**
 * Starts DynamoDB Local (with the registry table) and the S3 server (with the data bucket) side by
 * side; the S3 server hands each upload's event to `uploads` (the bus, through the identity ledger).
 * Each fails or recovers alone: DynamoDB Local's JVM is restarted when it dies, and a request the
 * S3 server cannot serve gets an S3 error, never the process's end.
 */
export async function startStorage(
  settings: LocalCloudSettings,
  uploads: EventPublisher,
  parts: StartedParts,
): Promise<LocalStorage> {
  const [dynamodb, s3] = await Promise.all([
    startLocalDynamoDb({
      dataDir: join(settings.dir, 'dynamodb'),
      port: settings.options.dynamodbPort ?? DEFAULT_DYNAMODB_PORT,
      tableName: settings.registryTable,
      // Its JVM is restarted when it dies; the cloud's log says so.
      log: settings.log,
    }).then((d) => parts.add(d)),
    startLocalS3({
      dataDir: join(settings.dir, 's3'),
      port: settings.options.s3Port ?? DEFAULT_S3_PORT,
      buckets: [settings.bucket],
      events: uploads,
    }).then((s) => parts.add(s)),
  ]);
  return { dynamodb, s3 };
}

/** The metric store, and its file kept current (close it at stop: it writes what is pending). */
export interface OpenedMetricStore {
  readonly metrics: LocalMetricStore;
  readonly file: LiveFile;
}

/**
 * The metric store, holding the data points saved in `file` (if it can read them), and written
 * back to `file` as points arrive.
 */
export async function openMetricStore(
  file: string,
  log: Log,
  parts: StartedParts,
): Promise<OpenedMetricStore> {
  const metrics = new LocalMetricStore();
  if (existsSync(file)) {
    await metrics.load(file).catch((error: unknown) => log.warn(`could not load ${file}`, String(error)));
  }
  const live = new LiveFile(file, () => metrics.serialize(), {
    onError: (error) => log.warn(`could not save the metrics in ${file}`, String(error)),
  });
  metrics.setChangeListener(() => live.changed());
  parts.onStop(() => live.close());
  return { metrics, file: live };
}

/** The services besides storage, up: CloudWatch alarms, SageMaker training and endpoints, SNS. */
export interface LocalStandIns {
  readonly objects: S3ObjectStore;
  readonly alarms: LocalAlarmEvaluator;
  /** `alarms.json`, kept current as alarms are put and change state (close it at stop). */
  readonly alarmsFile: LiveFile;
  readonly training: LocalTrainingService;
  readonly endpoints: LocalEndpointService;
  readonly notifier: LocalNotifier;
}

/**
 * Starts the alarm evaluator (with the alarms and states saved last, kept in `alarms.json` from
 * then on), the training service, and the endpoint service with the endpoints of the last run
 * restored; their events wait on `bus`.
 */
export async function startStandIns(
  settings: LocalCloudSettings,
  deps: { readonly bus: LocalEventBus; readonly storage: LocalStorage; readonly metrics: LocalMetricStore },
  parts: StartedParts,
): Promise<LocalStandIns> {
  const { dir, time, log, files } = settings;
  const { bus, metrics } = deps;
  const objects = new S3ObjectStore(deps.storage.s3.client);
  const { alarms, alarmsFile } = startAlarmEvaluator(
    { metrics, events: bus, time },
    files.alarms,
    log,
    parts,
  );
  const training = new LocalTrainingService({ root: join(dir, 'training'), objects, events: bus, time, log });
  parts.onStop(() => training.close());
  const endpoints = new LocalEndpointService({
    root: join(dir, 'endpoints'),
    objects,
    events: bus,
    metrics,
    alarms,
    time,
    host: settings.host,
    log,
  });
  parts.onStop(() => endpoints.close());
  await endpoints.restore();
  const notifier = new LocalNotifier({ file: files.notifications, print: !settings.quiet });
  return { objects, alarms, alarmsFile, training, endpoints, notifier };
}

/**
 * The alarm evaluator, evaluating, with the alarms and states saved in `file`, which it keeps
 * current from then on.
 */
export function startAlarmEvaluator(
  options: LocalAlarmEvaluatorOptions,
  file: string,
  log: Log,
  parts: StartedParts,
): { readonly alarms: LocalAlarmEvaluator; readonly alarmsFile: LiveFile } {
  const alarms = new LocalAlarmEvaluator(options);
  restoreAlarms(alarms, file, log);
  const alarmsFile = new LiveFile(file, () => alarmsFileContent(alarms), {
    onError: (error) => log.warn(`could not save the alarms in ${file}`, String(error)),
  });
  alarms.setChangeListener(() => alarmsFile.changed());
  parts.onStop(() => alarmsFile.close());
  alarms.start();
  parts.onStop(() => alarms.stop());
  return { alarms, alarmsFile };
}

/** The use cases' context on the local services: the one every handler gets, and `LocalCloud.context`. */
export function localContext(
  settings: LocalCloudSettings,
  storage: LocalStorage,
  standIns: LocalStandIns,
  log: Log,
): MlopsContext {
  return {
    registry: createRegistryStore(storage.dynamodb.client, settings.registryTable),
    objects: standIns.objects,
    training: standIns.training,
    endpoints: standIns.endpoints,
    alarms: new LocalAlarmService(standIns.alarms),
    notifier: standIns.notifier,
    clock: systemClock,
    names: settings.names,
    log,
    bucket: settings.bucket,
    region: LOCAL_REGION,
    ...(settings.options.defaultModelConfig
      ? { defaultModelConfig: settings.options.defaultModelConfig }
      : {}),
  };
}

/** `alarms.json`: every alarm's PutMetricAlarm request and its state. */
interface AlarmsFile {
  readonly version: 2;
  readonly alarms: readonly SavedAlarm[];
}

/** The content of `alarms.json` for the evaluator's alarms now. */
export function alarmsFileContent(evaluator: Pick<LocalAlarmEvaluator, 'saved'>): string {
  const content: AlarmsFile = { version: 2, alarms: evaluator.saved() };
  return `${JSON.stringify(content, null, 2)}\n`;
}

/**
 * Brings back the alarms of `alarms.json` with their states ({@link alarmsFileContent}); a file
 * of an older local cloud (a list of requests, no states) puts them again, their state starting
 * over. An alarm that cannot be restored is skipped, with a warning.
 */
function restoreAlarms(
  evaluator: Pick<LocalAlarmEvaluator, 'putMetricAlarm' | 'restore'>,
  file: string,
  log: Log,
): void {
  if (!existsSync(file)) return;
  let content: unknown;
  try {
    content = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    log.warn(`could not restore the alarms saved in ${file}`, String(error));
    return;
  }
  const saved: unknown[] | undefined = Array.isArray(content)
    ? content
    : isPlainObject(content) && content.version === 2 && Array.isArray(content.alarms)
      ? content.alarms
      : undefined;
  if (saved === undefined) {
    log.warn(`could not restore the alarms saved in ${file}: not an alarms file`);
    return;
  }
  for (const entry of saved) {
    try {
      if (Array.isArray(content)) evaluator.putMetricAlarm(entry as SavedAlarm['input']);
      else evaluator.restore(entry as SavedAlarm);
    } catch (error) {
      log.warn(`could not restore an alarm saved in ${file}`, String(error));
    }
  }
}
