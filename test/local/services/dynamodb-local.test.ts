import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeTableCommand, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { choosePort, startLocalDynamoDb, type LocalDynamoDb } from '../../../local/services/dynamodb-local';
import { registryTableDefinition } from '../../../adapters/dynamodb/table-layout';

const TABLE = 'mlops-registry';
const item = { PK: { S: 'MODEL#churn' }, SK: { S: 'MODEL' }, note: { S: 'kept across restarts' } };

function javaPidsFor(dataDir: string): string[] {
  try {
    return execFileSync('pgrep', ['-f', `^java .*DynamoDBLocal\\.jar.*${dataDir}`], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .filter(Boolean);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

describe('local DynamoDB (DynamoDB Local on disk)', () => {
  let dir: string;
  /** The instance on `<dir>/db` a test left running, for the next test to reuse. */
  let dynamo: LocalDynamoDb | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mlops-ddb-'));
  });
  afterAll(async () => {
    await dynamo?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  /** Stops the running instance, if any, and starts another on `<dir>/db`. */
  const restart = async (options: { fresh?: boolean } = {}): Promise<LocalDynamoDb> => {
    await dynamo?.stop();
    dynamo = undefined;
    dynamo = await startLocalDynamoDb({ dataDir: join(dir, 'db'), port: 0, tableName: TABLE, ...options });
    return dynamo;
  };
  /** The instance on `<dir>/db` (started if no test left one running), holding the registry table. */
  const running = async (): Promise<LocalDynamoDb> => dynamo ?? (await restart());

  it('creates the registry table as the stack does', async () => {
    const dynamo = await restart({ fresh: true });
    expect(dynamo.tableCreated).toBe(true);
    expect(dynamo.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const { Table } = await dynamo.client.send(new DescribeTableCommand({ TableName: TABLE }));
    expect(Table?.KeySchema).toEqual(registryTableDefinition(TABLE).KeySchema);
    expect(Table?.BillingModeSummary?.BillingMode).toBe('PAY_PER_REQUEST');
    expect(Table?.GlobalSecondaryIndexes?.[0]).toMatchObject({
      IndexName: 'byStatus',
      KeySchema: [
        { AttributeName: 'GSI1PK', KeyType: 'HASH' },
        { AttributeName: 'GSI1SK', KeyType: 'RANGE' },
      ],
      Projection: { ProjectionType: 'ALL' },
    });
    await dynamo.client.send(new PutItemCommand({ TableName: TABLE, Item: item }));
  });

  it("answers no other site's web page: a cross-origin preflight is not allowed", async () => {
    const dynamo = await running();
    const preflight = (origin: string) =>
      fetch(dynamo.endpoint, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'x-amz-target,content-type',
        },
      });
    const foreign = await preflight('https://attacker.example');
    // Without Access-Control-Allow-Origin the browser never sends the DynamoDB call itself.
    expect(foreign.headers.get('access-control-allow-origin')).toBeNull();
    const own = await preflight(dynamo.endpoint);
    expect(own.headers.get('access-control-allow-origin')).toBe(dynamo.endpoint);
  });

  it('keeps the data across a stop and a start, and leaves no JVM behind', async () => {
    const before = await running();
    await before.client.send(new PutItemCommand({ TableName: TABLE, Item: item }));
    await before.stop();
    await before.stop(); // idempotent
    dynamo = undefined;
    expect(javaPidsFor(join(dir, 'db'))).toEqual([]);
    dynamo = await startLocalDynamoDb({ dataDir: join(dir, 'db'), port: 0, tableName: TABLE });
    expect(dynamo.tableCreated).toBe(false);
    const { Item } = await dynamo.client.send(
      new GetItemCommand({ TableName: TABLE, Key: { PK: item.PK, SK: item.SK } }),
    );
    expect(Item?.note?.S).toBe('kept across restarts');
  });

  it('starts empty with fresh', async () => {
    const before = await running();
    await before.client.send(new PutItemCommand({ TableName: TABLE, Item: item }));
    const dynamo = await restart({ fresh: true });
    expect(dynamo.tableCreated).toBe(true);
    const { Item } = await dynamo.client.send(
      new GetItemCommand({ TableName: TABLE, Key: { PK: item.PK, SK: item.SK } }),
    );
    expect(Item).toBeUndefined();
  });

  it('refuses a port that is already taken, with a clear message', async () => {
    const dynamo = await running();
    await expect(choosePort(dynamo.port, 'DynamoDB Local', '--dynamodb-port')).rejects.toThrow(
      /port \d+ on 127\.0\.0\.1 is already in use.*--dynamodb-port/,
    );
  });

  it('stops the JVM even when the Node process that started it is killed', async () => {
    const dataDir = join(dir, 'killed');
    const script = `
      import { startLocalDynamoDb } from ${JSON.stringify(join(process.cwd(), 'local/services/dynamodb-local.ts'))};
      await startLocalDynamoDb({ dataDir: ${JSON.stringify(dataDir)}, port: 0, tableName: 'registry' });
      console.log('up');
      setInterval(() => {}, 1000);
    `;
    const file = join(dir, 'start-and-hang.mts');
    await writeFile(file, script);
    const child = spawn(process.execPath, ['--import', 'tsx', file], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('up') && resolve());
        child.once('exit', (code) => reject(new Error(`child exited early (${code})`)));
      });
      expect(javaPidsFor(dataDir)).toHaveLength(1);
    } finally {
      child.kill('SIGKILL');
    }
    const deadline = Date.now() + 15_000;
    while (javaPidsFor(dataDir).length > 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 200));
    expect(javaPidsFor(dataDir)).toEqual([]);
  });
});
