import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MIN_PART_BYTES } from '../../../adapters/files/parallel-csv-profile';
import { DatasetProfiler } from '../../../core/profiling/profiler';
import { profilerOfFile } from '../../../adapters/files/profile-file';
import { seeded } from '../../core/profiling/helpers';

const dir = mkdtempSync(join(tmpdir(), 'mlops-parallel-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function bigCsv(name: string, quoted: boolean): string {
  const rnd = seeded(4);
  const lines = ['id,value,kind'];
  let size = 0;
  for (let i = 0; size < 2 * MIN_PART_BYTES + 1_000_000; i++) {
    const line = `${i},${(rnd() * 1000).toFixed(3)},${quoted && i === 5 ? '"a,b"' : ['x', 'y', 'z'][i % 3]}`;
    lines.push(line);
    size += line.length + 1;
  }
  const path = join(dir, name);
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

describe('profile state', () => {
  it('round-trips through structured clone (profile parts elsewhere, merge here)', () => {
    const p = new DatasetProfiler(['a', 'b']);
    const rnd = seeded(2);
    for (let i = 0; i < 30_000; i++) p.add([(rnd() * 100).toFixed(2), ['u', 'v'][i % 2]!]);
    const back = DatasetProfiler.fromState(structuredClone(p.toState()));
    const x = p.finish();
    const y = back.finish();
    expect(y.rows).toBe(x.rows);
    y.columns.forEach((c, i) => {
      const o = x.columns[i]!;
      expect([c.present, c.missing, c.distinct, c.topValues]).toEqual([
        o.present,
        o.missing,
        o.distinct,
        o.topValues,
      ]);
      expect(c.numeric?.mean).toBe(o.numeric?.mean);
      expect(c.numeric?.sketch.quantile(0.3)).toBe(o.numeric?.sketch.quantile(0.3));
    });
  });
});

describe('profileFile with workers', () => {
  it('cuts a CSV at line breaks and merges the parts into the profile of the whole', async () => {
    const path = bigCsv('plain.csv', false);
    const oneProfiler = await profilerOfFile(path);
    const twoProfiler = await profilerOfFile(path, { workers: 2 });
    // A failed worker falls back to the sequential pass, whose state is identical to `one`'s:
    // merged parts give different (equally valid) sketches, so this proves the parts were used.
    expect(twoProfiler.toState()).not.toEqual(oneProfiler.toState());
    const one = oneProfiler.finish();
    const two = twoProfiler.finish();
    expect(two.rows).toBe(one.rows);
    two.columns.forEach((c, i) => {
      const o = one.columns[i]!;
      expect([c.name, c.inferredType, c.present, c.missing, c.distinct]).toEqual([
        o.name,
        o.inferredType,
        o.present,
        o.missing,
        o.distinct,
      ]);
      if (o.numeric) {
        expect(c.numeric!.min).toBe(o.numeric.min);
        expect(c.numeric!.max).toBe(o.numeric.max);
        expect(Math.abs(c.numeric!.mean - o.numeric.mean) / Math.abs(o.numeric.mean)).toBeLessThan(1e-9);
        expect(Math.abs(c.numeric!.sketch.rank(o.numeric.sketch.quantile(0.5)) - 0.5)).toBeLessThan(
          2 * o.numeric.sketch.rankErrorBound,
        );
      }
    });
  }, 30_000);

  it('falls back to one sequential pass when the file holds quotes (a cut could split a quoted field)', async () => {
    const path = bigCsv('quoted.csv', true);
    const one = await profilerOfFile(path);
    const two = await profilerOfFile(path, { workers: 2 });
    expect(two.toState()).toEqual(one.toState());
  }, 30_000);
});
