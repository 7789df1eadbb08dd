import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3ObjectStore } from '../../../adapters/aws/s3-object-store';
import { s3ServerCanPaginate, startS3Server, type S3TestServer } from '../../support/s3-server';

let server: S3TestServer;
let store: S3ObjectStore;
/** The S3 operations the client sent, in order. */
const sent: string[] = [];

beforeAll(async () => {
  server = await startS3Server({ bucket: 'mlops-data' });
  server.client.middlewareStack.add(
    (next, context) => async (args) => {
      sent.push(String(context.commandName));
      return next(args);
    },
    { step: 'initialize', name: 'recordCommands' },
  );
  store = new S3ObjectStore(server.client);
});

afterAll(async () => {
  await server?.stop();
});

async function readAll(iterable: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of iterable) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

/** ~`bytes` of CSV rows, generated chunk by chunk (strings and bytes mixed), and its SHA-256. */
function csvStream(bytes: number): { rows: AsyncIterable<string | Uint8Array>; expected: () => string } {
  const hash = createHash('sha256');
  // A stream, as writeStream takes it, of chunks made on demand: nothing to await.
  // eslint-disable-next-line @typescript-eslint/require-await
  async function* rows() {
    yield 'id,feature,label\n';
    hash.update('id,feature,label\n');
    let written = 0;
    let id = 0;
    while (written < bytes) {
      let chunk = '';
      for (let i = 0; i < 1000; i++, id++) chunk += `${id},${(id * 0.618).toFixed(3)},${id % 2}\n`;
      written += chunk.length;
      hash.update(chunk);
      yield id % 2000 === 0 ? new TextEncoder().encode(chunk) : chunk;
    }
  }
  return { rows: rows(), expected: () => hash.digest('hex') };
}

describe('S3ObjectStore against a local S3 server', () => {
  it('writes, reads and lists objects', async () => {
    await store.write(server.bucket, 'datasets/churn/b.csv', 'a,b\n1,2\n', 'text/csv');
    await store.write(server.bucket, 'datasets/churn/a.csv', new TextEncoder().encode('x\n'), 'text/csv');
    await store.write(
      server.bucket,
      'models/churn/config.json',
      '{"labelColumn":"churned"}',
      'application/json',
    );

    const read = await store.read(server.bucket, 'datasets/churn/b.csv');
    expect(read?.info).toMatchObject({ key: 'datasets/churn/b.csv', size: 8 });
    expect(read?.info.etag).toMatch(/^[0-9a-f]{32}$/);
    expect((await readAll(read!.body)).toString('utf-8')).toBe('a,b\n1,2\n');

    await expect(store.readText(server.bucket, 'models/churn/config.json')).resolves.toBe(
      '{"labelColumn":"churned"}',
    );

    const listed = await store.list(server.bucket, 'datasets/churn/');
    expect(listed.map((object) => [object.key, object.size])).toEqual([
      ['datasets/churn/a.csv', 2],
      ['datasets/churn/b.csv', 8],
    ]);
    await expect(store.list(server.bucket, 'nothing/')).resolves.toEqual([]);
  });

  it('returns undefined for a missing key', async () => {
    await expect(store.read(server.bucket, 'datasets/churn/missing.csv')).resolves.toBeUndefined();
    await expect(store.readText(server.bucket, 'models/missing/config.json')).resolves.toBeUndefined();
  });

  it('streams a ~20 MB generated object up in parts (multipart) and back', async () => {
    const { rows, expected } = csvStream(20 * 1024 * 1024);
    sent.length = 0;
    await store.writeStream(server.bucket, 'prepared/churn/ds1/train/train.csv', rows, 'text/csv');

    const read = await store.read(server.bucket, 'prepared/churn/ds1/train/train.csv');
    const bytes = await readAll(read!.body);
    expect(bytes.length).toBeGreaterThan(20 * 1024 * 1024);
    expect(read?.info.size).toBe(bytes.length);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(expected());
    // 8 MiB parts: three parts for ~20 MB.
    expect(sent.filter((name) => name !== 'GetObjectCommand')).toEqual([
      'CreateMultipartUploadCommand',
      'UploadPartCommand',
      'UploadPartCommand',
      'UploadPartCommand',
      'CompleteMultipartUploadCommand',
    ]);
  });

  it('writes a small stream in a single request', async () => {
    // A stream, as writeStream takes it, of chunks at hand: nothing to await.
    // eslint-disable-next-line @typescript-eslint/require-await
    async function* rows() {
      yield 'a,b\n';
      yield '1,2\n';
    }
    sent.length = 0;
    await store.writeStream(
      server.bucket,
      'prepared/churn/ds1/validation/validation.csv',
      rows(),
      'text/csv',
    );
    expect(sent).toEqual(['PutObjectCommand']);
    await expect(store.readText(server.bucket, 'prepared/churn/ds1/validation/validation.csv')).resolves.toBe(
      'a,b\n1,2\n',
    );
  });

  // s3rver pages with DES-encrypted tokens: run with NODE_OPTIONS=--openssl-legacy-provider to cover this.
  it.skipIf(!s3ServerCanPaginate())('lists past one page', async () => {
    const keys = Array.from({ length: 1005 }, (_, i) => `reports/many/${String(i).padStart(4, '0')}.json`);
    for (let i = 0; i < keys.length; i += 20) {
      await Promise.all(
        keys.slice(i, i + 20).map((key) => store.write(server.bucket, key, '{}', 'application/json')),
      );
    }
    const listed = await store.list(server.bucket, 'reports/many/');
    expect(listed.map((object) => object.key)).toEqual(keys);
  });
});
