import { describe, expect, it } from 'vitest';
import { DistinctCounter, EXACT_LIMIT } from '../../../core/profiling/hll';
import { KllSketch, kllRankErrorBound } from '../../../core/profiling/kll';
import { TopValues } from '../../../core/profiling/top-values';
import { gaussian, rankError, seeded } from './helpers';

describe('KllSketch', () => {
  const rnd = seeded(7);
  const n = 300_000;
  const data = new Float64Array(n);
  for (let i = 0; i < n; i++) data[i] = gaussian(rnd) * 10 + (i % 3 === 0 ? 50 : 0);
  const sorted = Float64Array.from(data).sort();

  it('states the DataSketches bound for k = 2048 (≈ 0.18 %)', () => {
    expect(kllRankErrorBound(2048)).toBeCloseTo(0.00184, 4);
    expect(new KllSketch().rankErrorBound).toBe(kllRankErrorBound(2048));
  });

  it('answers quantiles within the stated rank-error bound, in bounded memory', () => {
    const sketch = new KllSketch();
    for (const x of data) sketch.update(x);
    expect(sketch.count).toBe(n);
    expect(sketch.retained).toBeLessThan(8 * 2048);
    let worst = 0;
    for (let i = 1; i < 100; i++)
      worst = Math.max(worst, rankError(sorted, sketch.quantile(i / 100), i / 100));
    expect(worst).toBeLessThan(sketch.rankErrorBound);
    // rank() is the inverse
    const median = sorted[n / 2]!;
    expect(Math.abs(sketch.rank(median) - 0.5)).toBeLessThan(sketch.rankErrorBound);
  });

  it('is exact below k items, and deterministic for a seed', () => {
    const small = new KllSketch();
    for (let i = 1; i <= 1000; i++) small.update(i);
    expect(small.quantile(0.5)).toBe(500);
    expect(small.rank(250)).toBe(0.25);
    const a = new KllSketch({ seed: 3 });
    const b = new KllSketch({ seed: 3 });
    for (const x of data) {
      a.update(x);
      b.update(x);
    }
    expect(a.toJSON()).toEqual(b.toJSON());
  });

  it('merges two halves into a sketch of the whole, within the bound', () => {
    const a = new KllSketch({ seed: 1 });
    const b = new KllSketch({ seed: 2 });
    data.forEach((x, i) => (i < n / 2 ? a : b).update(x));
    a.merge(b);
    expect(a.count).toBe(n);
    for (let i = 1; i < 100; i++)
      expect(rankError(sorted, a.quantile(i / 100), i / 100)).toBeLessThan(a.rankErrorBound);
  });

  it('round-trips through Model Monitor sketch JSON (data[h] weighs 2^h)', () => {
    const sketch = new KllSketch();
    for (const x of data) sketch.update(x);
    const json = sketch.toJSON();
    expect(json.parameters).toEqual({ c: 0.64, k: 2048 });
    expect(json.data.length).toBeGreaterThan(1);
    const back = KllSketch.fromJSON(JSON.parse(JSON.stringify(json)) as typeof json);
    expect(back.count).toBe(n);
    for (const q of [0.01, 0.25, 0.5, 0.75, 0.99]) expect(back.quantile(q)).toBe(sketch.quantile(q));
  });

  it('ignores NaN and answers NaN when empty', () => {
    const sketch = new KllSketch();
    expect(sketch.quantile(0.5)).toBeNaN();
    sketch.update(Number.NaN);
    expect(sketch.count).toBe(0);
  });
});

describe('DistinctCounter', () => {
  it('is exact for small sets', () => {
    const d = new DistinctCounter();
    for (let i = 0; i < 10_000; i++) d.add(String(i % 1500));
    expect(d.estimate()).toBe(1500);
  });

  it('estimates large sets within 3 standard errors (1.6 % each), and merges', () => {
    const a = new DistinctCounter();
    const b = new DistinctCounter();
    for (let i = 0; i < 200_000; i++) (i % 2 ? a : b).add(i * 1.5);
    expect(Math.abs(a.estimate() - 100_000) / 100_000).toBeLessThan(0.05);
    a.merge(b);
    expect(Math.abs(a.estimate() - 200_000) / 200_000).toBeLessThan(0.05);
  });

  it('stays exact up to EXACT_LIMIT distinct values, then estimates', () => {
    const d = new DistinctCounter();
    for (let i = 0; i < EXACT_LIMIT; i++) d.add(`v${i}`);
    expect(d.toState().exact).toHaveLength(EXACT_LIMIT);
    d.add('one more');
    expect(d.toState().exact).toBeNull();
    expect(Math.abs(d.estimate() - (EXACT_LIMIT + 1)) / (EXACT_LIMIT + 1)).toBeLessThan(0.05);
  });
});

describe('TopValues (Misra–Gries)', () => {
  it('counts exactly with few distinct values', () => {
    const t = new TopValues(10);
    for (let i = 0; i < 1000; i++) t.add(['a', 'b', 'c'][i % 3]!);
    expect(t.exact).toBe(true);
    expect(t.top()).toEqual([
      { value: 'a', count: 334 },
      { value: 'b', count: 333 },
      { value: 'c', count: 333 },
    ]);
  });

  it('finds heavy hitters in a high-cardinality stream, and merges', () => {
    const a = new TopValues(50);
    const b = new TopValues(50);
    for (let i = 0; i < 100_000; i++) {
      const t = i % 2 ? a : b;
      if (i % 4 === 0) t.add(-1);
      else t.add(i);
    }
    a.merge(b);
    const [first] = a.top(1);
    expect(first!.value).toBe('-1');
    expect(first!.count).toBeLessThanOrEqual(25_000);
    expect(first!.count).toBeGreaterThanOrEqual(25_000 - a.maxError);
    expect(a.exact).toBe(false);
  });
});
