/**
 * Test support: the run's DynamoDB Local (the local cloud's {@link startLocalDynamoDb}, in memory),
 * plus a document client configured as the registry adapter expects. Where this stands: test
 * infrastructure for the integration tests of the DynamoDB adapter and the handlers.
 *
 * One JVM per test run: test/setup/dynamodb-local.global.ts (vitest globalSetup) starts it when a
 * file first asks; {@link startDynamoDbLocal} gives the file clients bound to it, and its `stop()`
 * destroys only those clients. Files share the database, so each uses table names of its
 * own: {@link createRegistryTable} refuses a table that another file created (run without the
 * globalSetup, e.g. from a script, each call starts a JVM of its own, as before).
 *
 * ```ts
 * let local: DynamoDbLocal;
 * beforeAll(async () => { local = await startDynamoDbLocal(); });
 * afterAll(async () => { await local?.stop(); });
 * ```
 *
 * Tests that stop or restart DynamoDB Local itself start their own with {@link startLocalDynamoDb}.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { expect, inject } from 'vitest';
import { DOCUMENT_CLIENT_CONFIG } from '../../adapters/dynamodb/dynamodb-registry-store';
import {
  dynamoDbLocalClientConfig,
  ensureRegistryTable,
  startLocalDynamoDb,
  type LocalDynamoDb,
} from '../../local/services/dynamodb-local';

/** A running in-memory DynamoDB Local. */
export interface DynamoDbLocal extends Pick<LocalDynamoDb, 'endpoint' | 'port' | 'client'> {
  /** A document client bound to this instance, configured like the adapter expects ({@link DOCUMENT_CLIENT_CONFIG}). */
  readonly documentClient: DynamoDBDocumentClient;
  /**
   * Destroys this handle's clients; a JVM this handle started itself (no shared one) is stopped
   * too, and waited for. Safe to call twice.
   */
  stop(): Promise<void>;
}

/**
 * The run's shared DynamoDB Local (see the top of this file), or, outside a vitest run with the
 * globalSetup, one started for the caller (retrying if another process takes the port first).
 */
export async function startDynamoDbLocal(): Promise<DynamoDbLocal> {
  const shared = await sharedEndpoint();
  if (shared !== undefined)
    return handle(shared, new DynamoDBClient(dynamoDbLocalClientConfig(shared)), noJvm);
  let lastError: unknown;
  for (let attempt = 1; attempt <= 3; attempt++) {
    let local: LocalDynamoDb;
    try {
      local = await startLocalDynamoDb({ port: 0 });
    } catch (error) {
      lastError = error;
      continue;
    }
    return handle(local.endpoint, local.client, () => local.stop());
  }
  throw lastError;
}

const noJvm = (): Promise<void> => Promise.resolve();

/** The run's DynamoDB Local, from the globalSetup's broker (which starts it on first use). */
async function sharedEndpoint(): Promise<string | undefined> {
  let broker: string;
  try {
    broker = inject('dynamoDbLocalBroker');
  } catch {
    return undefined; // not in a vitest worker
  }
  if (!broker) return undefined; // a config without the globalSetup
  const response = await fetch(broker);
  const text = await response.text();
  if (!response.ok)
    throw new Error(`the run's DynamoDB Local (test/setup/dynamodb-local.global.ts) did not start:\n${text}`);
  return text;
}

function handle(endpoint: string, client: DynamoDBClient, stopJvm: () => Promise<void>): DynamoDbLocal {
  const documentClient = DynamoDBDocumentClient.from(client, DOCUMENT_CLIENT_CONFIG);
  let stopping: Promise<void> | undefined;
  return {
    endpoint,
    port: Number(new URL(endpoint).port),
    client,
    documentClient,
    stop: () =>
      (stopping ??= (async () => {
        documentClient.destroy();
        client.destroy();
        await stopJvm();
      })()),
  };
}

/** Which test file created each table (module state outlives a file when files share a worker). */
const creators = new Map<string, string | undefined>();

/**
 * Creates the registry table (as the CDK construct does) and waits until it is active. Throws if
 * the table exists and this file did not create it: on the shared DynamoDB Local that is another
 * file's table, and two files writing one table would see each other's items.
 */
export async function createRegistryTable(client: DynamoDBClient, tableName: string): Promise<void> {
  const file = expect.getState().testPath;
  const created = await ensureRegistryTable(client, tableName);
  if (created) creators.set(tableName, file);
  else if (!creators.has(tableName) || creators.get(tableName) !== file) {
    throw new Error(
      `table ${tableName} already exists on this DynamoDB Local: another test file created it; give this file's tables names of their own`,
    );
  }
}
