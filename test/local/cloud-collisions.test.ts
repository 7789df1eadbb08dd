/**
 * Issue 15: 600 concurrent uploads over 20 keys. The local S3 keeps no versions, so by the time
 * ingest reads an upload the key may hold a later one: every upload must still be recorded, as the
 * dataset of the bytes it uploaded or as a rejection that says it was superseded, never as a
 * dataset of another upload's bytes.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDatasetKey } from '../../core/domain/naming';
import { datasetIdOf } from '../../core/use-cases/ingest-dataset';
import type { CloudEvent } from '../../local/contracts';
import { LocalCloud } from '../../local/cloud';
import type { ObjectCreatedDetail } from '../../local/services/s3-server';

const UPLOADS = 600;
const KEYS = 20;
const MODEL = 'collide';
const silent = { debug() {}, info() {}, warn() {}, error() {} };

describe('LocalCloud: concurrent uploads to colliding keys', () => {
  let dir: string;
  let cloud: LocalCloud | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mlops-collide-'));
    cloud = await LocalCloud.start({
      dir,
      s3Port: 0,
      dynamodbPort: 0,
      timeScale: 60,
      quiet: true,
      handlerLogLevel: 'SILENT',
      log: silent,
      monitorSchedule: false,
      reconcileSchedule: false,
      // Training is not what is tested: an image the local cloud cannot run fails the job at once.
      defaultModelConfig: {
        algorithm: { type: 'image', imageUri: '123456789012.dkr.ecr.us-east-1.amazonaws.com/none:1' },
      },
    });
  }, 120_000);
  afterAll(async () => {
    await cloud?.stop();
    await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it(`records every one of ${UPLOADS} concurrent uploads over ${KEYS} keys, each as what it uploaded`, async () => {
    const c = cloud!;
    const events: CloudEvent<ObjectCreatedDetail>[] = [];
    c.bus.addRule({
      name: 'test-dataset-uploads',
      pattern: { source: ['aws.s3'], detail: { object: { key: [{ prefix: `datasets/${MODEL}/` }] } } },
      target: (event) => {
        events.push(event as unknown as CloudEvent<ObjectCreatedDetail>);
        return Promise.resolve();
      },
    });
    const bodies = Array.from({ length: UPLOADS }, (_, i) => {
      const rows = Array.from(
        { length: 20 + (i % 30) },
        (_, r) => `${(r * 7 + i) % 13},${(r * 3 + i) % 11},${(r + i) % 2}`,
      );
      return `a,b,label\n${i},0,1\n${rows.join('\n')}\n`;
    });
    const md5 = (text: string) => createHash('md5').update(text).digest('hex');
    const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
    const bodyByEtag = new Map(bodies.map((body) => [md5(body), body]));

    const puts = await Promise.allSettled(
      bodies.map((Body, i) =>
        c.s3.client.send(
          new PutObjectCommand({ Bucket: c.env.bucket, Key: `datasets/${MODEL}/k${i % KEYS}.csv`, Body }),
        ),
      ),
    );
    expect(puts.filter((p) => p.status === 'rejected')).toEqual([]);
    await c.bus.drain();

    // Every acknowledged upload: one event with its own identity.
    expect(events).toHaveLength(UPLOADS);
    expect(new Set(events.map((e) => e.detail.object.sequencer)).size).toBe(UPLOADS);
    expect(new Set(events.map((e) => e.detail.object.etag))).toEqual(new Set(bodyByEtag.keys()));

    // Every event: a dataset of the bytes it names, or a rejection that says why not.
    const problems: string[] = [];
    const outcomes = new Map<string, number>();
    const datasets = new Map<string, Awaited<ReturnType<typeof c.context.registry.getDataset>>>();
    const ids = events.map((event) => {
      const object = event.detail.object;
      const key = parseDatasetKey(object.key);
      if (key.kind !== 'file') throw new Error(`unexpected key ${object.key}`);
      return datasetIdOf(key, {
        bucket: c.env.bucket,
        key: object.key,
        ...(object.sequencer ? { sequencer: object.sequencer } : {}),
        ...(object.etag ? { etag: object.etag } : {}),
      });
    });
    for (let i = 0; i < ids.length; i += 25) {
      const batch = ids.slice(i, i + 25);
      const found = await Promise.all(batch.map((id) => c.context.registry.getDataset(MODEL, id)));
      batch.forEach((id, j) => datasets.set(id, found[j]));
    }
    for (const [i, event] of events.entries()) {
      const object = event.detail.object;
      const dataset = datasets.get(ids[i]!);
      const outcome = dataset?.rejection?.code ?? dataset?.status ?? 'MISSING';
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      if (!dataset) problems.push(`${object.key} (${object.etag}): no dataset and no rejection`);
      else if (dataset.status === 'ACCEPTED' && dataset.contentHash !== sha256(bodyByEtag.get(object.etag!)!))
        problems.push(`${object.key} (${object.etag}): accepted with the bytes of another upload`);
      else if (dataset.status === 'REJECTED' && dataset.rejection?.code !== 'SOURCE_SUPERSEDED')
        problems.push(`${object.key}: rejected ${dataset.rejection?.code}: ${dataset.rejection?.reason}`);
    }
    expect({ problems: problems.slice(0, 5), count: problems.length }).toEqual({ problems: [], count: 0 });
    // The last upload of each key is never superseded.
    expect(outcomes.get('ACCEPTED') ?? 0).toBeGreaterThanOrEqual(KEYS);
  }, 300_000);
});
