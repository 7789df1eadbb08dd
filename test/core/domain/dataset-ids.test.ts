/**
 * The ids ingest gives uploads: one per upload, even when thousands land on the same keys at once.
 */
import { describe, expect, it } from 'vitest';
import { parseDatasetKey } from '../../../core/domain/naming';
import { datasetIdOf, rejectedKeyRecordOf } from '../../../core/domain/dataset-ids';

/** 5,000 uploads over 20 keys, each with its own event sequencer (as S3 gives every PUT). */
const uploads = Array.from({ length: 5000 }, (_, i) => ({
  bucket: 'b',
  key: `datasets/collide/k${i % 20}.csv`,
  sequencer: (0x17e0000000000 + i).toString(16).toUpperCase(),
}));

describe('ingest ids', () => {
  it('gives every refused upload its own rejection id (a 4-hex-digit id collided ~3 times in 600)', () => {
    const ids = new Set(uploads.map((u) => rejectedKeyRecordOf({ ...u, key: `${u.key}.bad/` }).datasetId));
    expect(ids.size).toBe(uploads.length);
    expect([...ids][0]).toMatch(/^key-[0-9a-f]{64}$/);
  });

  it('gives every accepted upload its own dataset id, and the same upload the same id', () => {
    const ids = uploads.map((u) => {
      const key = parseDatasetKey(u.key);
      if (key.kind === 'ignored') throw new Error(`not a dataset key: ${u.key}`);
      return datasetIdOf(key, u);
    });
    expect(new Set(ids).size).toBe(uploads.length);
    const first = parseDatasetKey(uploads[0]!.key);
    if (first.kind === 'ignored') throw new Error('not a dataset key');
    expect(datasetIdOf(first, uploads[0]!)).toBe(ids[0]);
  });
});
