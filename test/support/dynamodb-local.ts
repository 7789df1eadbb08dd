/**
 * Test support: the local cloud's DynamoDB Local ({@link startLocalDynamoDb}) in memory on a free
 * port, plus a document client configured as the registry adapter expects. Where this stands: test
 * infrastructure for the DynamoDB adapter's integration tests.
 *
 * One JVM per test file:
 *
 * ```ts
 * let local: DynamoDbLocal;
 * beforeAll(async () => { local = await startDynamoDbLocal(); });
 * afterAll(async () => { await local?.stop(); });
 * ```
 *
 * The JVM runs under the production service's watchdog, so it never outlives the test process.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DOCUMENT_CLIENT_CONFIG } from '../../adapters/dynamodb/dynamodb-registry-store';
import {
  ensureRegistryTable,
  startLocalDynamoDb,
  type LocalDynamoDb,
} from '../../local/services/dynamodb-local';

/** A running in-memory DynamoDB Local. */
export interface DynamoDbLocal extends Pick<LocalDynamoDb, 'endpoint' | 'port' | 'client'> {
  /** A document client bound to this instance, configured like the adapter expects ({@link DOCUMENT_CLIENT_CONFIG}). */
  readonly documentClient: DynamoDBDocumentClient;
  /** Kills the JVM and waits until it has exited. Safe to call twice. */
  stop(): Promise<void>;
}

/** Starts DynamoDB Local in memory on a free port (retrying if another process takes the port first). */
export async function startDynamoDbLocal(): Promise<DynamoDbLocal> {
  let lastError: unknown;
  for (let attempt = 1; attempt <= 3; attempt++) {
    let local: LocalDynamoDb;
    try {
      local = await startLocalDynamoDb({ port: 0 });
    } catch (error) {
      lastError = error;
      continue;
    }
    const documentClient = DynamoDBDocumentClient.from(local.client, DOCUMENT_CLIENT_CONFIG);
    return {
      endpoint: local.endpoint,
      port: local.port,
      client: local.client,
      documentClient,
      async stop() {
        documentClient.destroy();
        await local.stop();
      },
    };
  }
  throw lastError;
}

/** Creates the registry table (as the CDK construct does) and waits until it is active. */
export async function createRegistryTable(client: DynamoDBClient, tableName: string): Promise<void> {
  await ensureRegistryTable(client, tableName);
}
