/**
 * `<dir>/env.json`: what a person or a tool needs to reach a running local cloud (endpoints,
 * credentials, files, the control API and its token), kept current as inference endpoints come
 * and go, removed at stop; and the summary printed at start. Where this stands: local runtime;
 * `LocalCloud.start` (local/cloud.ts) writes it, the CLI (`mlops local env`, `mlops dlq`) and the
 * remote demo read it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { chmod, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Log } from '../core/use-cases/context';
import type { LocalCloudFiles, LocalCloudSettings } from './cloud-settings';
import { LOCAL_REGION, type CloudEvent } from './contracts';
import type { LocalEventBus } from './event-bus';
import type { LocalEndpointService } from './inference/local-endpoint-service';
import { DYNAMODB_LOCAL_CREDENTIALS, type LocalDynamoDb } from './services/dynamodb-local';
import { S3RVER_CREDENTIALS, type LocalS3 } from './services/s3-server';

/** What a person or a tool needs to reach the local cloud; written to `<dir>/env.json`. */
export interface LocalCloudEnv {
  readonly dir: string;
  readonly pid: number;
  readonly region: string;
  readonly s3Endpoint: string;
  readonly dynamodbEndpoint: string;
  /** The local cloud's fixed credentials (local/contracts.ts): the S3 API's, and DynamoDB Local's. */
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly dynamodbCredentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  /** Set when DynamoDB Local is not kept on 127.0.0.1 (a Java without its compiler): why, and the fix. */
  readonly dynamodbExposure?: string;
  readonly bucket: string;
  readonly registryTable: string;
  readonly resourcePrefix: string;
  readonly timeScale: number;
  /** Local inference endpoints: the host they listen on, and the URL of each one running at start. */
  readonly endpoints: { readonly host: string; readonly urls: Readonly<Record<string, string>> };
  /**
   * The control API (operator commands, alarm states, the drift monitor on demand, dead-letter
   * redrive, fault injection into local endpoints): see local/control-server.ts.
   */
  readonly controlUrl: string;
  /** This run's control API token: env.json is readable by its owner only (mode 0600). */
  readonly controlToken: string;
  readonly files: LocalCloudFiles;
  readonly startedAt: string;
}

/**
 * Writes `env.json` for a cloud that is up, and keeps its endpoint URLs current: a rule of its own
 * (not one of the stack's) rewrites it when an endpoint comes into service or goes.
 */
export async function publishLocalCloudEnv(
  settings: LocalCloudSettings,
  parts: {
    readonly s3: LocalS3;
    readonly dynamodb: LocalDynamoDb;
    readonly endpoints: LocalEndpointService;
    readonly bus: LocalEventBus;
    readonly control: { readonly url: string; readonly token: string };
  },
): Promise<LocalCloudEnv> {
  const { dir, log } = settings;
  const { endpoints } = parts;
  // Endpoint URLs, kept current in env.json as endpoints come into service.
  const endpointDirectory: Record<string, string> = endpointUrls(
    endpoints,
    endpointNames(join(dir, 'endpoints')),
  );
  const env: LocalCloudEnv = {
    dir,
    pid: process.pid,
    region: LOCAL_REGION,
    s3Endpoint: parts.s3.endpoint,
    dynamodbEndpoint: parts.dynamodb.endpoint,
    accessKeyId: S3RVER_CREDENTIALS.accessKeyId,
    secretAccessKey: S3RVER_CREDENTIALS.secretAccessKey,
    dynamodbCredentials: { ...DYNAMODB_LOCAL_CREDENTIALS },
    ...(parts.dynamodb.exposure !== undefined ? { dynamodbExposure: parts.dynamodb.exposure } : {}),
    bucket: settings.bucket,
    registryTable: settings.registryTable,
    resourcePrefix: settings.prefix,
    timeScale: settings.time.scale,
    endpoints: { host: settings.host, urls: endpointDirectory },
    controlUrl: parts.control.url,
    controlToken: parts.control.token,
    files: settings.files,
    startedAt: new Date().toISOString(),
  };
  await writeEnvFile(dir, env);
  parts.bus.addRule({
    name: 'local-endpoint-directory',
    pattern: { source: ['aws.sagemaker'], 'detail-type': ['SageMaker Endpoint State Change'] },
    target: async (event: CloudEvent) => {
      const endpointName = event.detail.EndpointName;
      const name = typeof endpointName === 'string' ? endpointName : '';
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
  return env;
}

/** Reads `<dir>/env.json` of a running local cloud, or undefined when none is running there. */
export function readLocalCloudEnv(dir = '.mlops-local'): LocalCloudEnv | undefined {
  const file = join(resolve(dir), 'env.json');
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, 'utf8')) as LocalCloudEnv;
}

/** Removes `env.json` if this run wrote it (another run started since keeps its own). */
export async function removeEnvFileIfOurs(env: LocalCloudEnv): Promise<void> {
  const file = join(env.dir, 'env.json');
  if (!existsSync(file)) return;
  const written = JSON.parse(readFileSync(file, 'utf8')) as Partial<LocalCloudEnv>;
  if (written.pid === env.pid && written.startedAt === env.startedAt) await rm(file, { force: true });
}

/** What a person needs: where things are, the credentials, and commands to try. */
export function describeLocalCloud(env: LocalCloudEnv): string {
  const creds = `AWS_ACCESS_KEY_ID=${env.accessKeyId} AWS_SECRET_ACCESS_KEY=${env.secretAccessKey} AWS_DEFAULT_REGION=${env.region}`;
  return [
    'local cloud is up',
    `  S3 API          ${env.s3Endpoint}   (bucket ${env.bucket}; path-style; access key ${env.accessKeyId}, secret ${env.secretAccessKey})`,
    `  DynamoDB Local  ${env.dynamodbEndpoint}   (table ${env.registryTable}; ${env.dynamodbExposure === undefined ? `127.0.0.1 only; access key ${env.dynamodbCredentials.accessKeyId}` : `WARNING: ${env.dynamodbExposure}`})`,
    ...Object.entries(env.endpoints.urls).map(([name, url]) => `  endpoint        ${url}   (${name})`),
    `  control API     ${env.controlUrl}   (the mlops CLI's way in: operator commands, alarms; token in env.json)`,
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

/** Prints {@link describeLocalCloud} through `log` when one was given, else on the console. */
export function printLocalCloud(env: LocalCloudEnv, log: Log | undefined): void {
  if (log) for (const line of describeLocalCloud(env).split('\n')) log.info(line);
  else console.log(describeLocalCloud(env));
}

/** Writes `<dir>/env.json`, readable and writable by its owner only: it holds the control token. */
async function writeEnvFile(dir: string, env: LocalCloudEnv): Promise<void> {
  const file = join(dir, 'env.json');
  await writeFile(file, `${JSON.stringify(env, null, 2)}\n`, { mode: 0o600 });
  await chmod(file, 0o600); // an older env.json keeps its mode through writeFile
}

/** Names of the endpoints the endpoint service keeps in `<root>/state.json`. */
function endpointNames(root: string): string[] {
  const file = join(root, 'state.json');
  if (!existsSync(file)) return [];
  try {
    const state = JSON.parse(readFileSync(file, 'utf8')) as { endpoints?: Record<string, unknown> };
    return Object.keys(state.endpoints ?? {});
  } catch {
    return [];
  }
}

/** The URL of each named endpoint that is serving. */
function endpointUrls(endpoints: LocalEndpointService, names: readonly string[]): Record<string, string> {
  const urls: Record<string, string> = {};
  for (const name of names) {
    const url = endpoints.endpointUrl(name);
    if (url) urls[name] = url;
  }
  return urls;
}
