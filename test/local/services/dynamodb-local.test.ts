import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  ListTablesCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  choosePort,
  DYNAMODB_LOCAL_CREDENTIALS,
  dynamoDbLocalClientConfig,
  startLocalDynamoDb,
  type LocalDynamoDb,
} from '../../../local/services/dynamodb-local';
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

/**
 * The local addresses listening on `port`, from the kernel's socket tables (state 0A = LISTEN):
 * `/proc/net/tcp` holds IPv4 addresses as little-endian hex, `/proc/net/tcp6` IPv6 ones as four
 * little-endian words (an IPv4-mapped 127.0.0.1 is `0000000000000000FFFF00000100007F`).
 */
function listeningAddresses(port: number): string[] {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const found: string[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      if (state !== '0A' || !local?.endsWith(`:${hexPort}`)) continue;
      const hex = local.slice(0, local.indexOf(':'));
      if (hex.length === 8) {
        found.push(
          (hex.match(/../g) ?? [])
            .reverse()
            .map((byte) => parseInt(byte, 16))
            .join('.'),
        );
      } else if (hex === '00000000000000000000000000000000') {
        found.push('::');
      } else if (hex.startsWith('0000000000000000FFFF0000')) {
        found.push(
          `::ffff:${(hex.slice(24).match(/../g) ?? [])
            .reverse()
            .map((byte) => parseInt(byte, 16))
            .join('.')}`,
        );
      } else {
        found.push(hex);
      }
    }
  }
  return found;
}

/** Whether a TCP connection to `host:port` is accepted. */
function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: 2000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
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

  it("listens on 127.0.0.1 only, not on the machine's other interfaces", async () => {
    const dynamo = await running();
    const addresses = listeningAddresses(dynamo.port);
    expect(addresses.length).toBeGreaterThan(0);
    for (const address of addresses) expect(address).toMatch(/^(::ffff:)?127\.0\.0\.1$/);
    // And from the outside: an address of this machine other than loopback is refused.
    const external = Object.values(networkInterfaces())
      .flat()
      .find((i) => i && !i.internal && i.family === 'IPv4');
    if (external) expect(await accepts(external.address, dynamo.port)).toBe(false);
    expect(await accepts('127.0.0.1', dynamo.port)).toBe(true);
  });

  it('answers only the local access key: another key or no signature is refused as DynamoDB refuses an unknown key', async () => {
    const dynamo = await running();
    const stranger = new DynamoDBClient({
      ...dynamoDbLocalClientConfig(dynamo.endpoint),
      credentials: {
        accessKeyId: 'AKIDSTRANGER',
        secretAccessKey: DYNAMODB_LOCAL_CREDENTIALS.secretAccessKey,
      },
      maxAttempts: 1,
    });
    try {
      await expect(stranger.send(new ListTablesCommand({}))).rejects.toMatchObject({
        name: 'UnrecognizedClientException',
        $metadata: { httpStatusCode: 400 },
      });
    } finally {
      stranger.destroy();
    }
    const unsigned = await fetch(dynamo.endpoint, {
      method: 'POST',
      headers: {
        'x-amz-target': 'DynamoDB_20120810.ListTables',
        'content-type': 'application/x-amz-json-1.0',
      },
      body: '{}',
    });
    expect(unsigned.status).toBe(400);
    expect(await unsigned.text()).toContain('UnrecognizedClientException');
    const { TableNames } = await dynamo.client.send(new ListTablesCommand({}));
    expect(TableNames).toContain(TABLE);
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

  it('starts the JVM again on the same port and data when it dies (kill -9), and says so (issue 16)', async () => {
    const warnings: string[] = [];
    await dynamo?.stop();
    dynamo = await startLocalDynamoDb({
      dataDir: join(dir, 'db'),
      port: 0,
      tableName: TABLE,
      log: { warn: (m) => warnings.push(m), error: (m) => warnings.push(m) },
    });
    await dynamo.client.send(new PutItemCommand({ TableName: TABLE, Item: item }));
    const [pid] = javaPidsFor(join(dir, 'db'));
    expect(Number(pid)).toBe(dynamo.javaPid);
    process.kill(Number(pid), 'SIGKILL');
    const deadline = Date.now() + 30_000;
    let back = false;
    while (!back && Date.now() < deadline) {
      back = await dynamo.client
        .send(new GetItemCommand({ TableName: TABLE, Key: { PK: item.PK, SK: item.SK } }))
        .then((answer) => answer.Item?.note?.S === 'kept across restarts')
        .catch(() => false);
      if (!back) await new Promise((r) => setTimeout(r, 200));
    }
    expect(back).toBe(true);
    expect(dynamo.restarts).toBe(1);
    expect(javaPidsFor(join(dir, 'db'))).toEqual([String(dynamo.javaPid)]);
    expect(dynamo.javaPid).not.toBe(Number(pid));
    expect(warnings.join('\n')).toMatch(/was killed by SIGKILL: restarting it on http:\/\/127\.0\.0\.1:\d+/);
    // And a stop is still a stop: no JVM is started again behind it.
    await dynamo.stop();
    dynamo = undefined;
    await new Promise((r) => setTimeout(r, 500));
    expect(javaPidsFor(join(dir, 'db'))).toEqual([]);
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
