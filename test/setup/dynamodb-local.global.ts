/**
 * Vitest globalSetup: one in-memory DynamoDB Local (the local cloud's own, startLocalDynamoDb) for
 * the whole test run, instead of one JVM per test file. Started on first use: the setup only opens
 * a small HTTP service on 127.0.0.1 whose address it provides to the test files
 * (`dynamoDbLocalBroker`); test/support/dynamodb-local.ts asks it for the endpoint, which starts
 * the JVM the first time (in a process of its own, ./dynamodb-local-host.ts), and hands the file
 * clients bound to it. A run of files that never ask (the unit tests alone) starts no JVM. Files
 * share the database by using table names of their own (createRegistryTable refuses a table
 * another file created).
 *
 * Every project of the config runs this setup; they share one service and one JVM (this module is
 * loaded once per project, so the instance is kept on `globalThis`), stopped by the last teardown.
 * Between watch-mode reruns every table is deleted, so a rerun file finds the database as a first
 * run does. Files that test DynamoDB Local itself, or the local cloud (which starts its own), do
 * not use this one.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** `http://127.0.0.1:<port>/` answering GET with the run's DynamoDB Local endpoint (see above). */
    dynamoDbLocalBroker: string;
  }
}

/** The host process and its DynamoDB Local. */
interface Hosted {
  readonly endpoint: string;
  /** Stops the JVM, waits until it has exited, and so does the host. */
  stop(): Promise<void>;
}

interface Broker {
  readonly url: string;
  /** How many setups have not torn down yet. */
  users: number;
  /** The JVM, once a file asked for it. */
  hosted?: Promise<Hosted>;
  close(): Promise<void>;
}

const KEY = Symbol.for('serverless-mlops.test.dynamodb-local-broker');
const global = globalThis as typeof globalThis & { [KEY]?: Promise<Broker> };

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // The JVM options the config gives the workers' JVMs (vitest.config.ts), for this JVM too.
  const broker = await (global[KEY] ??= openBroker(project.config.env['JAVA_TOOL_OPTIONS']));
  broker.users++;
  project.provide('dynamoDbLocalBroker', broker.url);
  project.onTestsRerun(async () => {
    const hosted = await broker.hosted?.catch(() => undefined);
    if (hosted) await deleteAllTables(hosted.endpoint);
  });
  return async () => {
    if (--broker.users > 0) return;
    delete global[KEY];
    await broker.close();
  };
}

async function openBroker(javaOptions: string | undefined): Promise<Broker> {
  const server = createServer((request, response) => {
    const reply = (status: number, text: string): void =>
      void response.writeHead(status, { 'content-type': 'text/plain' }).end(text);
    // Only this run's test files: no other Host (DNS rebinding), no other method.
    if (request.headers.host !== `127.0.0.1:${port}`) return reply(403, 'foreign Host');
    if (request.method !== 'GET') return reply(405, 'GET only');
    void (broker.hosted ??= startHost(javaOptions)).then(
      (hosted) => reply(200, hosted.endpoint),
      (error: unknown) => reply(500, error instanceof Error ? error.message : String(error)),
    );
  });
  await new Promise<void>((listening, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', listening);
  });
  const { port } = server.address() as AddressInfo;
  const broker: Broker = {
    url: `http://127.0.0.1:${port}/`,
    users: 0,
    async close() {
      server.closeAllConnections();
      await new Promise((closed) => server.close(closed));
      await (await broker.hosted?.catch(() => undefined))?.stop();
    },
  };
  return broker;
}

/** Starts ./dynamodb-local-host.ts and waits for its `ready <endpoint>` (or `failed <reason>`). */
async function startHost(javaOptions: string | undefined): Promise<Hosted> {
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  const host = spawn(
    process.execPath,
    ['--import', tsx, fileURLToPath(new URL('./dynamodb-local-host.ts', import.meta.url))],
    {
      env: { ...process.env, ...(javaOptions === undefined ? {} : { JAVA_TOOL_OPTIONS: javaOptions }) },
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  const exited = once(host, 'exit');
  const [line] = (await Promise.race([
    once(createInterface({ input: host.stdout }), 'line'),
    exited.then(([code]) => [`failed the host exited (${String(code)}) before it was ready`]),
  ])) as [string];
  if (!line.startsWith('ready ')) {
    host.kill('SIGKILL');
    throw new Error(
      `the run's DynamoDB Local did not start: ${line.replace(/^failed /, '').replace(/\\n/g, '\n')}`,
    );
  }
  return {
    endpoint: line.slice('ready '.length),
    async stop() {
      if (host.exitCode !== null || host.signalCode !== null) return;
      host.stdin.end();
      await exited;
    },
  };
}

async function deleteAllTables(endpoint: string): Promise<void> {
  // Loaded here only: the SDK takes seconds to load, and every project of the config loads this setup.
  const [{ DeleteTableCommand, DynamoDBClient, paginateListTables }, { dynamoDbLocalClientConfig }] =
    await Promise.all([import('@aws-sdk/client-dynamodb'), import('../../local/services/dynamodb-local')]);
  const client = new DynamoDBClient(dynamoDbLocalClientConfig(endpoint));
  try {
    for await (const page of paginateListTables({ client }, {}))
      for (const TableName of page.TableNames ?? []) await client.send(new DeleteTableCommand({ TableName }));
  } finally {
    client.destroy();
  }
}
