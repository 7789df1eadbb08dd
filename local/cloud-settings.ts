/**
 * The local cloud's options and what they resolve to: the stack's defaults it mirrors, where its
 * data lives under `dir`, and the data directory made ready (or wiped, `--fresh`) before anything
 * starts. Where this stands: local runtime; `LocalCloud.start` (local/cloud.ts) starts from
 * these settings.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ResourceNames } from '../core/domain/naming';
import type { Log } from '../core/use-cases/context';
import { localTime, type LocalTime } from './contracts';
import { BACKLOG_FILE } from './dead-letters';
import { assertJava } from './services/dynamodb-local';
import { canPaginateListings, DEFAULT_LOCAL_BUCKET } from './services/s3-server';

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

/** How to start a local cloud (`LocalCloud.start`); every option has a default. */
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
  /**
   * Simulated seconds per real second for bake times, alarm periods and schedules. The event bus's
   * retries keep real time: a time scale must not spend them before a failing service is back.
   * @default 1
   */
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
   * runs only on demand (`LocalCloud.reconcile`). @default true
   */
  readonly reconcileSchedule?: boolean;
  /** Handlers' Powertools log level. @default INFO (WARN when quiet) */
  readonly handlerLogLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'SILENT';
}

/** The files the local cloud keeps in its data directory, besides the services' own folders. */
export interface LocalCloudFiles {
  readonly deadLetters: string;
  readonly notifications: string;
  readonly metrics: string;
  readonly alarms: string;
  /** The identity each dataset upload's event carried, for the reconciler (local/reconciler.ts). */
  readonly objectEvents: string;
}

/** {@link LocalCloudOptions} with every default applied and every path absolute. */
export interface LocalCloudSettings {
  readonly options: LocalCloudOptions;
  readonly quiet: boolean;
  readonly log: Log;
  readonly dir: string;
  readonly bucket: string;
  readonly registryTable: string;
  readonly prefix: string;
  readonly names: ResourceNames;
  readonly time: LocalTime;
  /** Host the local inference endpoints listen on. */
  readonly host: string;
  /** The handlers' Powertools log level. */
  readonly handlerLogLevel: NonNullable<LocalCloudOptions['handlerLogLevel']>;
  readonly files: LocalCloudFiles;
}

/** Applies the defaults to `options`. */
export function resolveSettings(options: LocalCloudOptions): LocalCloudSettings {
  const quiet = options.quiet ?? false;
  const dir = resolve(options.dir ?? '.mlops-local');
  const prefix = options.resourcePrefix ?? LOCAL_STACK_DEFAULTS.resourcePrefix;
  return {
    options,
    quiet,
    log: options.log ?? consoleLog(quiet),
    dir,
    bucket: options.bucket ?? DEFAULT_LOCAL_BUCKET,
    registryTable: options.registryTable ?? LOCAL_STACK_DEFAULTS.registryTable,
    prefix,
    names: new ResourceNames(prefix),
    time: localTime(options.timeScale ?? 1),
    host: options.endpointHost ?? '127.0.0.1',
    handlerLogLevel: options.handlerLogLevel ?? (quiet ? 'WARN' : 'INFO'),
    files: {
      deadLetters: join(dir, 'dead-letters.jsonl'),
      notifications: join(dir, 'notifications.jsonl'),
      metrics: join(dir, 'metrics.json'),
      alarms: join(dir, 'alarms.json'),
      objectEvents: join(dir, 's3-object-events.jsonl'),
    },
  };
}

/** What `--fresh` removes from the data directory: every service's data and every file above. */
const DATA_PARTS = [
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
];

/**
 * Makes the data directory ready before anything starts: wiped when `fresh`, Java checked (the
 * clearest failure there is, before any service starts), created, and a warning when this Node
 * cannot page S3 listings.
 */
export async function prepareDataDirectory(settings: LocalCloudSettings): Promise<void> {
  if (settings.options.fresh) {
    for (const part of DATA_PARTS) await rm(join(settings.dir, part), { recursive: true, force: true });
  }
  assertJava();
  await mkdir(settings.dir, { recursive: true });
  if (!canPaginateListings()) {
    settings.log.warn(
      'this Node process lacks the OpenSSL legacy provider: S3 listings of more than 1000 keys will fail (run with NODE_OPTIONS=--openssl-legacy-provider; `npm run local` does)',
    );
  }
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
