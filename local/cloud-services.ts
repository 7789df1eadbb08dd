/**
 * The services the local cloud runs in place of AWS's, started in order on its data directory:
 * storage first (DynamoDB Local for the registry, the S3 server for the data bucket), the metric
 * store and alarm evaluator with what the last stop saved, then the SageMaker stand-ins (training,
 * endpoints) and the notification outbox; and the use cases' context built from them. Where this
 * stands: local runtime; `LocalCloud.start` (local/cloud.ts) calls these steps, each registering
 * what it started so that a failure stops it again.
 */
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { S3ObjectStore } from '../adapters/aws/s3-object-store';
import { createRegistryStore } from '../adapters/dynamodb/dynamodb-registry-store';
import { systemClock } from '../core/ports/clock';
import type { Log, MlopsContext } from '../core/use-cases/context';
import type { LocalCloudSettings } from './cloud-settings';
import { LOCAL_REGION, type EventPublisher } from './contracts';
import type { LocalEventBus } from './event-bus';
import { LocalEndpointService } from './inference/local-endpoint-service';
import { LocalNotifier } from './local-notifier';
import { LocalAlarmEvaluator } from './metrics/alarm-evaluator';
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

/** The metric store, holding the data points the last stop saved in `file` (if it can read them). */
export async function openMetricStore(file: string, log: Log): Promise<LocalMetricStore> {
  const metrics = new LocalMetricStore();
  if (existsSync(file)) {
    await metrics.load(file).catch((error: unknown) => log.warn(`could not load ${file}`, String(error)));
  }
  return metrics;
}

/** The services besides storage, up: CloudWatch alarms, SageMaker training and endpoints, SNS. */
export interface LocalStandIns {
  readonly objects: S3ObjectStore;
  readonly alarms: LocalAlarmEvaluator;
  readonly training: LocalTrainingService;
  readonly endpoints: LocalEndpointService;
  readonly notifier: LocalNotifier;
}

/**
 * Starts the alarm evaluator (with the alarms the last stop saved), the training service, and the
 * endpoint service with the endpoints of the last run restored; their events wait on `bus`.
 */
export async function startStandIns(
  settings: LocalCloudSettings,
  deps: { readonly bus: LocalEventBus; readonly storage: LocalStorage; readonly metrics: LocalMetricStore },
  parts: StartedParts,
): Promise<LocalStandIns> {
  const { dir, time, log, files } = settings;
  const { bus, metrics } = deps;
  const objects = new S3ObjectStore(deps.storage.s3.client);
  const alarms = new LocalAlarmEvaluator({ metrics, events: bus, time });
  restoreAlarms(alarms, files.alarms, log);
  alarms.start();
  parts.onStop(() => alarms.stop());
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
  return { objects, alarms, training, endpoints, notifier };
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

/** Saves the alarms' definitions: the evaluator keeps them in memory only. */
export async function saveAlarms(evaluator: LocalAlarmEvaluator, file: string): Promise<void> {
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
