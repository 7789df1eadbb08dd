import { Readable } from 'node:stream';
import {
  GetObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { S3ObjectStore } from '../../../adapters/aws/s3-object-store';

const s3 = mockClient(S3Client);
const store = new S3ObjectStore(new S3Client({ region: 'us-east-1' }));

/** A GetObject body as the SDK returns it in Node: a Readable with the SDK's stream mixin. */
function body(text: string) {
  return Object.assign(Readable.from([Buffer.from(text)]), {
    transformToString: () => Promise.resolve(text),
    transformToByteArray: () => Promise.resolve(new Uint8Array(Buffer.from(text))),
    transformToWebStream: () => {
      throw new Error('not used');
    },
  });
}

async function collect(iterable: AsyncIterable<Uint8Array>): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of iterable) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks).toString('utf-8');
}

const noSuchKey = () =>
  new NoSuchKey({ message: 'The specified key does not exist.', $metadata: { httpStatusCode: 404 } });

beforeEach(() => {
  s3.reset();
});

describe('S3ObjectStore.read', () => {
  it('returns the body stream and the object info', async () => {
    s3.on(GetObjectCommand, { Bucket: 'data', Key: 'datasets/churn/a.csv', VersionId: 'v1' }).resolves({
      Body: body('a,b\n1,2\n') as never,
      ContentLength: 8,
      ETag: '"9b2cf535f27731c974343645a3985328"',
      VersionId: 'v1',
    });

    const result = await store.read('data', 'datasets/churn/a.csv', 'v1');
    expect(result?.info).toEqual({
      key: 'datasets/churn/a.csv',
      size: 8,
      etag: '9b2cf535f27731c974343645a3985328',
      versionId: 'v1',
    });
    await expect(collect(result!.body)).resolves.toBe('a,b\n1,2\n');
    expect(s3).toHaveReceivedCommandWith(GetObjectCommand, {
      Bucket: 'data',
      Key: 'datasets/churn/a.csv',
      VersionId: 'v1',
    });
  });

  it('sends no VersionId when none is pinned', async () => {
    s3.on(GetObjectCommand).resolves({ Body: body('x') as never, ContentLength: 1 });
    const result = await store.read('data', 'k');
    expect(result?.info).toEqual({ key: 'k', size: 1 });
    expect(s3.commandCalls(GetObjectCommand)[0]?.args[0].input).toEqual({ Bucket: 'data', Key: 'k' });
  });

  it('returns undefined for a missing key', async () => {
    s3.on(GetObjectCommand).rejects(noSuchKey());
    await expect(store.read('data', 'missing')).resolves.toBeUndefined();
  });

  it('rethrows other errors (a missing bucket is not a missing object)', async () => {
    s3.on(GetObjectCommand).rejects(
      new S3ServiceException({
        name: 'NoSuchBucket',
        $fault: 'client',
        message: 'The specified bucket does not exist',
        $metadata: { httpStatusCode: 404 },
      }),
    );
    await expect(store.read('nope', 'k')).rejects.toMatchObject({ name: 'NoSuchBucket' });
  });
});

describe('S3ObjectStore.readText', () => {
  it('returns the text, or undefined when missing', async () => {
    s3.on(GetObjectCommand, { Key: 'models/churn/config.json' }).resolves({
      Body: body('{"labelColumn":"churned"}') as never,
    });
    s3.on(GetObjectCommand, { Key: 'models/other/config.json' }).rejects(noSuchKey());
    await expect(store.readText('data', 'models/churn/config.json')).resolves.toBe(
      '{"labelColumn":"churned"}',
    );
    await expect(store.readText('data', 'models/other/config.json')).resolves.toBeUndefined();
  });
});

describe('S3ObjectStore.write / writeStream', () => {
  it('puts the object with its content type', async () => {
    s3.on(PutObjectCommand).resolves({});
    await store.write('data', 'reports/churn/v1.json', '{}', 'application/json');
    expect(s3.commandCalls(PutObjectCommand)[0]?.args[0].input).toEqual({
      Bucket: 'data',
      Key: 'reports/churn/v1.json',
      Body: '{}',
      ContentType: 'application/json',
    });
  });

  it('uploads a small stream in one PutObject', async () => {
    s3.on(PutObjectCommand).resolves({ ETag: '"e"' });
    // A stream, as writeStream takes it, of chunks at hand: nothing to await.
    // eslint-disable-next-line @typescript-eslint/require-await
    async function* rows() {
      yield 'a,b\n';
      yield new TextEncoder().encode('1,2\n');
    }
    await store.writeStream('data', 'prepared/churn/ds/train/train.csv', rows(), 'text/csv');
    expect(s3).toHaveReceivedCommandWith(PutObjectCommand, {
      Bucket: 'data',
      Key: 'prepared/churn/ds/train/train.csv',
      ContentType: 'text/csv',
    });
    const sent = s3.commandCalls(PutObjectCommand)[0]?.args[0].input.Body as Uint8Array;
    expect(Buffer.from(sent).toString('utf-8')).toBe('a,b\n1,2\n');
  });

  it('refuses a part size below S3’s 5 MiB minimum', () => {
    expect(() => new S3ObjectStore(new S3Client({ region: 'us-east-1' }), { partSizeBytes: 1024 })).toThrow(
      'partSizeBytes must be an integer >= 5242880',
    );
  });
});

describe('S3ObjectStore.list', () => {
  it('follows the continuation tokens', async () => {
    s3.on(ListObjectsV2Command, { Bucket: 'data', Prefix: 'datasets/churn/', ContinuationToken: undefined })
      .resolves({
        Contents: [{ Key: 'datasets/churn/a.csv', Size: 10, ETag: '"e1"' }],
        IsTruncated: true,
        NextContinuationToken: 't1',
      })
      .on(ListObjectsV2Command, { Bucket: 'data', Prefix: 'datasets/churn/', ContinuationToken: 't1' })
      .resolves({ Contents: [{ Key: 'datasets/churn/b.csv', Size: 20, ETag: '"e2"' }], IsTruncated: false });

    await expect(store.list('data', 'datasets/churn/')).resolves.toEqual([
      { key: 'datasets/churn/a.csv', size: 10, etag: 'e1' },
      { key: 'datasets/churn/b.csv', size: 20, etag: 'e2' },
    ]);
    expect(s3).toHaveReceivedCommandTimes(ListObjectsV2Command, 2);
    expect(s3.commandCalls(ListObjectsV2Command)[0]?.args[0].input).toEqual({
      Bucket: 'data',
      Prefix: 'datasets/churn/',
    });
    expect(s3).toHaveReceivedNthCommandWith(ListObjectsV2Command, 2, {
      Bucket: 'data',
      Prefix: 'datasets/churn/',
      ContinuationToken: 't1',
    });
  });

  it('returns an empty list for an empty prefix', async () => {
    s3.on(ListObjectsV2Command).resolves({ KeyCount: 0, IsTruncated: false });
    await expect(store.list('data', 'nothing/')).resolves.toEqual([]);
  });
});
