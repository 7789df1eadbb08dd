import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ObjectInfo, ObjectStore } from '../../../core/ports/object-store';
import { S3ObjectStore } from '../../../adapters/aws/s3-object-store';
import {
  captureKey,
  captureLine,
  DataCapture,
  parseS3Uri,
  type CaptureLine,
} from '../../../local/inference/data-capture';
import type { InvocationRecord } from '../../../local/inference/inference-server';
import { startS3Server, type S3TestServer } from '../../support/s3-server';

/** An in-memory ObjectStore recording writes. */
class MemoryStore implements ObjectStore {
  readonly objects = new Map<string, string>();
  read(): Promise<undefined> {
    return Promise.resolve(undefined);
  }
  readText(bucket: string, key: string): Promise<string | undefined> {
    return Promise.resolve(this.objects.get(`${bucket}/${key}`));
  }
  write(bucket: string, key: string, body: string | Uint8Array): Promise<void> {
    this.objects.set(`${bucket}/${key}`, typeof body === 'string' ? body : Buffer.from(body).toString());
    return Promise.resolve();
  }
  writeStream(): Promise<void> {
    return Promise.reject(new Error('not used'));
  }
  list(): Promise<ObjectInfo[]> {
    return Promise.resolve([]);
  }
}

const record = (at = new Date('2025-06-03T11:13:41.123Z'), input = '0.9,1,2'): InvocationRecord => ({
  requestContentType: 'text/csv',
  requestBody: Buffer.from(input),
  responseContentType: 'text/csv',
  responseBody: Buffer.from('1'),
  at,
});

const KEY_PATTERN =
  /^capture\/churn\/mlops-churn\/AllTraffic\/\d{4}\/\d{2}\/\d{2}\/\d{2}\/\d{2}-\d{2}-\d{3}-[0-9a-f-]{36}\.jsonl$/;

describe('capture format and layout', () => {
  it('parses s3:// URIs', () => {
    expect(parseS3Uri('s3://b/capture/churn/')).toEqual({ bucket: 'b', prefix: 'capture/churn' });
    expect(parseS3Uri('s3://b')).toEqual({ bucket: 'b', prefix: '' });
    expect(() => parseS3Uri('https://x')).toThrow();
  });

  it('keys files as <prefix>/<endpoint>/<variant>/yyyy/mm/dd/hh/<mm>-<ss>-<mmm>-<uuid>.jsonl (UTC)', () => {
    const key = captureKey(
      'capture/churn',
      'mlops-churn',
      'AllTraffic',
      new Date('2025-06-03T09:05:07.008Z'),
      'id',
    );
    expect(key).toBe('capture/churn/mlops-churn/AllTraffic/2025/06/03/09/05-07-008-id.jsonl');
  });

  it('writes SageMaker capture lines: CSV and JSON as text, other types base64', () => {
    const types = { csv: ['text/csv'], json: ['application/json'] };
    expect(captureLine(record(), types, 'e1')).toEqual({
      captureData: {
        endpointInput: { observedContentType: 'text/csv', mode: 'INPUT', data: '0.9,1,2', encoding: 'CSV' },
        endpointOutput: { observedContentType: 'text/csv', mode: 'OUTPUT', data: '1', encoding: 'CSV' },
      },
      eventMetadata: { eventId: 'e1', inferenceTime: '2025-06-03T11:13:41Z' },
      eventVersion: '0',
    });
    const json = captureLine(
      {
        ...record(),
        requestContentType: 'application/json; charset=utf-8',
        responseContentType: 'application/x-npy',
      },
      types,
    );
    expect(json.captureData.endpointInput.encoding).toBe('JSON');
    expect(json.captureData.endpointOutput).toMatchObject({
      encoding: 'BASE64',
      data: Buffer.from('1').toString('base64'),
    });
  });
});

describe('DataCapture buffering', () => {
  const options = (
    objects: ObjectStore,
    extra: Partial<ConstructorParameters<typeof DataCapture>[0]> = {},
  ) => ({
    objects,
    destinationS3Uri: 's3://bucket/capture/churn/',
    endpointName: 'mlops-churn',
    variantName: 'AllTraffic',
    samplingPercentage: 100,
    flushIntervalMs: 60_000,
    ...extra,
  });

  it('samples at the configured percentage', async () => {
    const store = new MemoryStore();
    const values = [0.1, 0.5, 0.29, 0.3];
    const capture = new DataCapture(
      options(store, { samplingPercentage: 30, random: () => values.shift()! }),
    );
    for (let i = 0; i < 4; i++) capture.capture(record());
    expect(capture.pending).toBe(2);
    await capture.close();
    const lines = [...store.objects.values()].join('').trim().split('\n');
    expect(lines).toHaveLength(2);
  });

  it('flushes by count, one file per hour of inference time, and on close', async () => {
    const store = new MemoryStore();
    const capture = new DataCapture(options(store, { maxBufferedRecords: 3 }));
    capture.capture(record(new Date('2025-06-03T11:59:59.000Z')));
    capture.capture(record(new Date('2025-06-03T12:00:01.000Z')));
    expect(store.objects.size).toBe(0);
    capture.capture(record(new Date('2025-06-03T12:00:02.000Z')));
    await capture.flush();
    const keys = [...store.objects.keys()].sort();
    expect(keys).toHaveLength(2);
    expect(keys[0]).toMatch(/^bucket\/capture\/churn\/mlops-churn\/AllTraffic\/2025\/06\/03\/11\/59-59-000-/);
    expect(keys[1]).toMatch(/\/2025\/06\/03\/12\/00-01-000-/);
    capture.capture(record());
    await capture.close();
    expect(store.objects.size).toBe(3);
    capture.capture(record());
    expect(capture.pending).toBe(0);
  });

  it('flushes on a timer', async () => {
    const store = new MemoryStore();
    const capture = new DataCapture(options(store, { flushIntervalMs: 20 }));
    capture.capture(record());
    await expect.poll(() => store.objects.size, { timeout: 2000, interval: 10 }).toBe(1);
    await capture.close();
  });

  it('logs and drops a batch the store refuses', async () => {
    const store = new MemoryStore();
    store.write = () => Promise.reject(new Error('disk full'));
    const errors: unknown[] = [];
    const log = { debug() {}, info() {}, warn() {}, error: (...a: unknown[]) => errors.push(a) };
    const capture = new DataCapture(options(store, { log }));
    capture.capture(record());
    await capture.close();
    expect(errors).toHaveLength(1);
  });
});

describe('DataCapture to S3 (s3rver)', () => {
  let s3: S3TestServer;
  beforeAll(async () => {
    s3 = await startS3Server();
  });
  afterAll(async () => {
    await s3.stop();
  });

  it('writes JSON Lines files at SageMaker layout', async () => {
    const objects = new S3ObjectStore(s3.client);
    const capture = new DataCapture({
      objects,
      destinationS3Uri: `s3://${s3.bucket}/capture/churn`,
      endpointName: 'mlops-churn',
      variantName: 'AllTraffic',
      samplingPercentage: 100,
    });
    capture.capture(record(new Date(), '0.9,1,2'));
    capture.capture(record(new Date(), '0.1,1,2'));
    await capture.close();
    const listed = await objects.list(s3.bucket, 'capture/churn/mlops-churn/AllTraffic/');
    expect(listed).toHaveLength(1);
    expect(listed[0]!.key).toMatch(KEY_PATTERN);
    const text = (await objects.readText(s3.bucket, listed[0]!.key))!;
    const lines = text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as CaptureLine); // written by DataCapture: our own format
    expect(lines.map((l) => l.captureData.endpointInput.data)).toEqual(['0.9,1,2', '0.1,1,2']);
    expect(lines[0]!.eventVersion).toBe('0');
  });
});
