import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { profileFile } from '../../../adapters/files/profile-file';

const fixtures = join(import.meta.dirname, '..', '..', 'core', 'profiling', 'fixtures');
const dir = mkdtempSync(join(tmpdir(), 'profile-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('profileFile', () => {
  it('reads a Parquet file from disk row group by row group', async () => {
    // fixtures/small.parquet: 50 rows in 3 row groups (see test/core/profiling/readers.test.ts).
    const profile = await profileFile(join(fixtures, 'small.parquet'));
    expect(profile.rows).toBe(50);
    expect(profile.columns.map((c) => c.name)).toEqual(['id', 'price', 'city', 'active']);
  });

  it('takes the format from the extension, or as given', async () => {
    const path = join(dir, 'rows.data');
    writeFileSync(path, '{"a": 1}\n{"a": 2}\n');
    await expect(profileFile(path)).rejects.toThrow(/cannot tell the format/);
    expect((await profileFile(path, { format: 'jsonl' })).rows).toBe(2);
    const csv = join(dir, 'rows.csv');
    writeFileSync(csv, 'a,b\n1,x\n2,y\n');
    expect((await profileFile(csv)).columns.map((c) => c.name)).toEqual(['a', 'b']);
  });
});
