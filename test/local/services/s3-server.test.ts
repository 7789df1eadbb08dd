import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { LOCAL_ACCOUNT, LOCAL_REGION, type CloudEvent } from '../../../local/contracts';
import { matches } from '../../../local/event-bus';
import { stackEventPatterns } from '../../../local/cloud';
import { MAX_KEY_NAME_BYTES } from '../../../local/services/s3-guard';
import {
  decodeNotificationKey,
  objectCreatedEvent,
  startLocalS3,
  type LocalS3,
} from '../../../local/services/s3-server';
import { parseEvent, s3ObjectCreatedEvent } from '../../../lambdas/shared/events';
import { stringMatching } from '../../support/matchers';

const BUCKET = 'mlops-local-data';

describe('local S3 (s3rver)', () => {
  let dir: string;
  let s3: LocalS3;
  const events: CloudEvent[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mlops-s3-'));
    s3 = await startLocalS3({
      dataDir: dir,
      port: 0,
      buckets: [BUCKET],
      events: { publish: (e) => events.push(e) },
    });
  });
  afterAll(async () => {
    await s3?.stop();
    await rm(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    events.length = 0;
  });

  it('turns a put into one EventBridge "Object Created" event with the key as uploaded', async () => {
    const key = 'datasets/churn/my data+v2 %41 é.csv';
    const body = 'a,b,label\n1,2,0\n';
    const put = await s3.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
    expect(events).toHaveLength(1);
    const event = events[0]!;
    expect(event).toMatchObject({
      version: '0',
      'detail-type': 'Object Created',
      source: 'aws.s3',
      account: LOCAL_ACCOUNT,
      region: LOCAL_REGION,
      resources: [`arn:aws:s3:::${BUCKET}`],
      detail: {
        version: '0',
        bucket: { name: BUCKET },
        object: { key, size: Buffer.byteLength(body), etag: put.ETag!.replace(/"/g, '') },
        requester: LOCAL_ACCOUNT,
        reason: 'PutObject',
      },
    });
    expect(event.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect((event.detail as { object: { sequencer: string } }).object.sequencer).toMatch(/^[0-9A-F]+$/);
    // What the ingest handler parses, and what the stack's rule matches.
    expect(
      parseEvent(s3ObjectCreatedEvent, JSON.parse(JSON.stringify(event)), 'S3 Object Created').detail.object
        .key,
    ).toBe(key);
    expect(matches(stackEventPatterns('mlops', BUCKET).ingest, event)).toBe(true);
  });

  it('gives increasing sequencers to successive writes of a key', async () => {
    for (let i = 0; i < 3; i++) {
      await s3.client.send(
        new PutObjectCommand({ Bucket: BUCKET, Key: 'datasets/seq/x.csv', Body: `v${i}` }),
      );
    }
    const sequencers = events.map((e) => (e.detail as { object: { sequencer: string } }).object.sequencer);
    expect([...sequencers].sort()).toEqual(sequencers);
    expect(new Set(sequencers).size).toBe(3);
  });

  it('stores a 100 MB multipart upload made with lib-storage and reports CompleteMultipartUpload', async () => {
    const size = 100 * 1024 * 1024;
    const partSize = 8 * 1024 * 1024;
    const chunk = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 31) % 251;
    const hash = createHash('md5');
    function* body() {
      for (let sent = 0; sent < size; sent += chunk.length) {
        hash.update(chunk);
        yield chunk;
      }
    }
    const upload = new Upload({
      client: s3.client,
      params: { Bucket: BUCKET, Key: 'datasets/big/large.csv', Body: Readable.from(body()) },
      partSize,
      queueSize: 4,
    });
    await upload.done();
    const head = await s3.client.send(
      new HeadObjectCommand({ Bucket: BUCKET, Key: 'datasets/big/large.csv' }),
    );
    expect(head.ContentLength).toBe(size);
    const got = await s3.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'datasets/big/large.csv' }));
    const readBack = createHash('md5');
    for await (const part of got.Body as AsyncIterable<Uint8Array>) readBack.update(part);
    expect(readBack.digest('hex')).toBe(hash.digest('hex'));
    expect(events).toHaveLength(1);
    expect(events[0]!.detail).toMatchObject({
      object: { key: 'datasets/big/large.csv', size },
      reason: 'CompleteMultipartUpload',
    });
  }, 120_000);

  it('stores file names up to the local limit and answers longer ones with KeyTooLongError, never failing inside (issue 16)', async () => {
    const name = (bytes: number) => `datasets/churn/${'n'.repeat(bytes - 4)}.csv`;
    await s3.client.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: name(MAX_KEY_NAME_BYTES), Body: 'a,label\n1,0\n' }),
    );
    const { Body } = await s3.client.send(
      new GetObjectCommand({ Bucket: BUCKET, Key: name(MAX_KEY_NAME_BYTES) }),
    );
    expect(await Body!.transformToString()).toBe('a,label\n1,0\n');
    const tooLong = { name: 'KeyTooLongError', $metadata: { httpStatusCode: 400 } };
    await expect(
      s3.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: name(MAX_KEY_NAME_BYTES + 1), Body: 'x' })),
    ).rejects.toMatchObject(tooLong);
    await expect(
      s3.client.send(
        new PutObjectCommand({ Bucket: BUCKET, Key: `datasets/${'d'.repeat(300)}/x.csv`, Body: 'x' }),
      ),
    ).rejects.toMatchObject(tooLong);
    await expect(
      s3.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'k/'.repeat(600), Body: 'x' })),
    ).rejects.toMatchObject({ ...tooLong, message: stringMatching(/at most 1024/) });
    // A key the guard does not see (in a multi-object DELETE's body) meets the same limit in the store.
    await expect(
      s3.client.send(new DeleteObjectsCommand({ Bucket: BUCKET, Delete: { Objects: [{ Key: name(300) }] } })),
    ).rejects.toMatchObject(tooLong);
  });

  it('answers a multipart completion naming a part never uploaded with InvalidPart, and keeps serving (issue 16)', async () => {
    // s3rver read the named part files through streams without an error listener: ENOENT ended
    // the process.
    const Key = 'datasets/churn/parts.csv';
    const { UploadId } = await s3.client.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key }));
    const part1 = await s3.client.send(
      new UploadPartCommand({ Bucket: BUCKET, Key, UploadId, PartNumber: 1, Body: 'a,label\n' }),
    );
    const complete = (parts: { PartNumber: number; ETag: string }[]) =>
      s3.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: BUCKET,
          Key,
          UploadId,
          MultipartUpload: { Parts: parts },
        }),
      );
    await expect(complete([{ PartNumber: 5, ETag: '"abc"' }])).rejects.toMatchObject({ name: 'InvalidPart' });
    await expect(complete([{ PartNumber: 1, ETag: '"0123"' }])).rejects.toMatchObject({
      name: 'InvalidPart',
    });
    await complete([{ PartNumber: 1, ETag: part1.ETag! }]);
    const { Body } = await s3.client.send(new GetObjectCommand({ Bucket: BUCKET, Key }));
    expect(await Body!.transformToString()).toBe('a,label\n');
    await expect(complete([{ PartNumber: 1, ETag: part1.ETag! }])).rejects.toMatchObject({
      name: 'NoSuchUpload',
    });
  });

  it('keeps objects across a restart and can start fresh', async () => {
    await s3.client.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: 'models/churn/config.json', Body: '{}' }),
    );
    await s3.stop();
    s3 = await startLocalS3({
      dataDir: dir,
      port: 0,
      buckets: [BUCKET],
      events: { publish: (e) => events.push(e) },
    });
    const head = await s3.client.send(
      new HeadObjectCommand({ Bucket: BUCKET, Key: 'models/churn/config.json' }),
    );
    expect(head.ContentLength).toBe(2);
    await s3.stop();
    s3 = await startLocalS3({
      dataDir: dir,
      port: 0,
      buckets: [BUCKET],
      fresh: true,
      events: { publish: (e) => events.push(e) },
    });
    await expect(
      s3.client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'models/churn/config.json' })),
    ).rejects.toMatchObject({ name: 'NotFound' });
  });
});

describe('S3 notification → EventBridge conversion', () => {
  it('decodes URL-encoded notification keys (AWS encodes them, EventBridge does not)', () => {
    expect(decodeNotificationKey('datasets/churn/my+data%2Bv2+%C3%A9.csv')).toBe(
      'datasets/churn/my data+v2 é.csv',
    );
    const event = objectCreatedEvent(
      {
        eventName: 'ObjectCreated:CompleteMultipartUpload',
        eventTime: '2024-05-01T10:11:12.345Z',
        s3: {
          bucket: { name: 'b' },
          object: { key: 'datasets/a+b.csv', size: 3, eTag: 'abc-2', sequencer: '0055AED6DCD90281E5' },
        },
      },
      { keyEncoding: 'url' },
    );
    expect(event).toMatchObject({
      time: '2024-05-01T10:11:12Z',
      detail: {
        object: { key: 'datasets/a b.csv', size: 3, etag: 'abc-2', sequencer: '0055AED6DCD90281E5' },
        reason: 'CompleteMultipartUpload',
      },
    });
  });

  it('ignores removals', () => {
    expect(
      objectCreatedEvent(
        { eventName: 'ObjectRemoved:Delete', s3: { bucket: { name: 'b' }, object: { key: 'k' } } },
        { keyEncoding: 'raw' },
      ),
    ).toBeUndefined();
  });
});
