import { describe, expect, it } from 'vitest';
import { classifyNumber, DatasetProfiler, ProfileInputError } from '../../../core/profiling/profiler';
import { gaussian, rankError, seeded } from './helpers';

function rel(a: number, b: number): number {
  return Math.abs(a - b) / Math.max(Math.abs(b), 1e-300);
}

describe('classifyNumber (the strict decimal rule)', () => {
  it.each([
    ['12', 1],
    ['-3', 1],
    ['+0', 1],
    ['1.5', 2],
    ['1.', 2],
    ['.5', 2],
    ['1e5', 2],
    ['-2.5E-3', 2],
    ['abc', 0],
    ['1e', 0],
    ['.', 0],
    ['-', 0],
    ['0x10', 0],
    ['1,5', 0],
    ['Infinity', 0],
    ['NaN', 0],
    ['1 ', 0],
  ])('%s -> %i', (s, kind) => expect(classifyNumber(s)).toBe(kind));
});

describe('DatasetProfiler', () => {
  const rnd = seeded(11);
  const rows: string[][] = [];
  for (let i = 0; i < 20_000; i++)
    rows.push([
      String(Math.floor(rnd() * 100)),
      (gaussian(rnd) * 1000 + 5000).toFixed(3),
      ['x', 'y', 'z'][Math.floor(rnd() * 3)]!,
      rnd() < 0.1 ? '' : rnd() < 0.5 ? 'true' : 'FALSE',
    ]);
  const header = ['int', 'float', 'cat', 'flag'];

  const profileOf = (part: string[][]) => {
    const p = new DatasetProfiler(header);
    for (const r of part) p.add(r);
    return p;
  };

  it('computes exact moments, types and counts', () => {
    const profile = profileOf(rows).finish();
    expect(profile.rows).toBe(20_000);
    const [int, float, cat, flag] = profile.columns;
    expect(int!.inferredType).toBe('Integral');
    expect(float!.inferredType).toBe('Fractional');
    expect(cat!.inferredType).toBe('String');
    expect(flag!.inferredType).toBe('Boolean');
    const xs = rows.map((r) => Number(r[1]));
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    const std = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length);
    expect(rel(float!.numeric!.mean, mean)).toBeLessThan(1e-12);
    expect(rel(float!.numeric!.stdDev, std)).toBeLessThan(1e-9);
    expect(float!.numeric!.min).toBe(Math.min(...xs));
    expect(float!.numeric!.max).toBe(Math.max(...xs));
    expect(int!.distinct).toBe(new Set(rows.map((r) => r[0])).size);
    expect(cat!.topValues.map((v) => v.value).sort()).toEqual(['x', 'y', 'z']);
    expect(flag!.missing + flag!.present).toBe(20_000);
    expect(flag!.missing).toBe(rows.filter((r) => r[3] === '').length);
    const histogram = float!.numeric!.histogram;
    expect(histogram).toHaveLength(10);
    expect(histogram.reduce((a, b) => a + b.count, 0)).toBe(20_000);
    expect(histogram[0]!.lower_bound).toBe(float!.numeric!.min);
    expect(histogram[9]!.upper_bound).toBe(float!.numeric!.max);
  });

  it('merge(A, B) is the profile of A + B', () => {
    const whole = profileOf(rows).finish();
    const merged = profileOf(rows.slice(0, 7000))
      .merge(profileOf(rows.slice(7000)))
      .finish();
    expect(merged.rows).toBe(whole.rows);
    merged.columns.forEach((c, i) => {
      const w = whole.columns[i]!;
      expect(c.present).toBe(w.present);
      expect(c.missing).toBe(w.missing);
      expect(c.inferredType).toBe(w.inferredType);
      expect(c.distinct).toBe(w.distinct);
      // Misra–Gries counts are exact (and merge exactly) while the cardinality fits the counters
      if (w.topValuesExact) expect(c.topValues).toEqual(w.topValues);
      if (w.numeric) {
        expect(c.numeric!.min).toBe(w.numeric.min);
        expect(c.numeric!.max).toBe(w.numeric.max);
        expect(rel(c.numeric!.mean, w.numeric.mean)).toBeLessThan(1e-9);
        expect(rel(c.numeric!.stdDev, w.numeric.stdDev)).toBeLessThan(1e-9);
        expect(rel(c.numeric!.sum, w.numeric.sum)).toBeLessThan(1e-9);
        expect(c.numeric!.sketch.count).toBe(w.numeric.sketch.count);
        // the merged sketch's median is within the stated rank error of the exact median
        const sorted = Float64Array.from(rows, (r) => Number(r[i])).sort();
        const median = c.numeric!.sketch.quantile(0.5);
        expect(rankError(sorted, median, 0.5)).toBeLessThan(c.numeric!.sketch.rankErrorBound);
      }
    });
  });

  it('merges parts with different columns (a column one part lacks is missing there)', () => {
    const a = new DatasetProfiler(['x', 'y']);
    a.add(['1', '2']);
    const b = new DatasetProfiler(['y', 'z']);
    b.add(['3', 'q']);
    b.add(['4', 'r']);
    const m = a.merge(b).finish();
    expect(m.rows).toBe(3);
    expect(m.columns.map((c) => [c.name, c.present, c.missing])).toEqual([
      ['x', 1, 2],
      ['y', 3, 0],
      ['z', 2, 1],
    ]);
  });

  it('documents missing values, NaN and Infinity', () => {
    const p = new DatasetProfiler(['a', 'b', 'c']);
    p.add(['1', 'NaN', ' 2 ']);
    p.add(['', 'nan', 'Infinity']);
    p.add([null, '3', '1e999']);
    p.add(['  ']);
    const [a, b, c] = p.finish().columns;
    expect([a!.present, a!.missing, a!.inferredType]).toEqual([1, 3, 'Integral']);
    // NaN (any case) is missing, as pandas and Spark read it
    expect([b!.present, b!.missing, b!.inferredType]).toEqual([1, 3, 'Integral']);
    // Infinity and an overflowing decimal are text: the column becomes String
    expect([c!.present, c!.missing, c!.inferredType]).toEqual([3, 1, 'String']);
    expect(c!.typeCounts).toEqual({ integral: 1, fractional: 0, boolean: 0, string: 2 });
  });

  it('an all-missing column is Unknown; zero rows give an empty profile', () => {
    const p = new DatasetProfiler(['a']);
    expect(p.finish().columns[0]).toMatchObject({
      inferredType: 'Unknown',
      present: 0,
      missing: 0,
      distinct: 0,
    });
    p.add(['']);
    expect(p.finish().columns[0]!.inferredType).toBe('Unknown');
  });

  it('refuses duplicate column names and records wider than the header', () => {
    expect(() => new DatasetProfiler(['a', 'b', 'a'])).toThrow(ProfileInputError);
    expect(() => new DatasetProfiler(['a', 'b', 'a'])).toThrow(
      'line 1: duplicate column name "a" (columns 1 and 3)',
    );
    expect(() => new DatasetProfiler(['a']).add(['1', '2'])).toThrow(RangeError);
  });
});
