import { describe, expect, it } from 'vitest';
import type { DatasetProfile } from '../../../core/profiling/api';
import {
  categoricalDistance,
  compareProfiles,
  ksDistance,
  populationStabilityIndex,
  PSI_EPSILON,
  robustCorrection,
} from '../../../core/profiling/drift';
import { KllSketch } from '../../../core/profiling/kll';
import { DatasetProfiler } from '../../../core/profiling/profiler';
import { gaussian, seeded } from './helpers';

const sketchOf = (xs: readonly number[]) => {
  const s = new KllSketch();
  for (const x of xs) s.update(x);
  return s;
};

/** Exact two-sample KS statistic. */
function exactKs(a: number[], b: number[]): number {
  const cdf = (xs: number[], x: number) => xs.filter((v) => v <= x).length / xs.length;
  let max = 0;
  for (const x of [...a, ...b]) max = Math.max(max, Math.abs(cdf(a, x) - cdf(b, x)));
  return max;
}

/** Exact PSI with bins at the reference's deciles (same quantile definition: first value reaching rank q). */
function exactPsi(ref: number[], cur: number[]): number {
  const sorted = [...ref].sort((x, y) => x - y);
  const edges: number[] = [];
  for (let i = 1; i < 10; i++) {
    const e = sorted[Math.ceil((i / 10) * sorted.length) - 1]!;
    if (edges.length === 0 || e > edges[edges.length - 1]!) edges.push(e);
  }
  const share = (xs: number[], lo: number, hi: number) =>
    xs.filter((v) => v > lo && v <= hi).length / xs.length;
  let psi = 0;
  for (let i = 0; i <= edges.length; i++) {
    const lo = i === 0 ? -Infinity : edges[i - 1]!;
    const hi = i === edges.length ? Infinity : edges[i]!;
    const r = share(ref, lo, hi) || PSI_EPSILON;
    const c = share(cur, lo, hi) || PSI_EPSILON;
    psi += (c - r) * Math.log(c / r);
  }
  return psi;
}

describe('numeric drift', () => {
  const rnd = seeded(5);
  const a = Array.from({ length: 1500 }, () => gaussian(rnd));
  const b = Array.from({ length: 1200 }, () => gaussian(rnd) + 0.4);

  it('KS from the sketches equals the exact statistic on small data (sketches exact below k)', () => {
    expect(ksDistance(sketchOf(a), sketchOf(b))).toBeCloseTo(exactKs(a, b), 12);
    expect(ksDistance(sketchOf(a), sketchOf(a))).toBe(0);
  });

  it("applies Deequ's robust correction: max(0, linf - 1.8 sqrt((n+m)/(n m)))", () => {
    expect(robustCorrection(0.3, 1500, 1200)).toBeCloseTo(0.3 - 1.8 * Math.sqrt(2700 / (1500 * 1200)), 12);
    expect(robustCorrection(0.01, 100, 100)).toBe(0);
  });

  it('PSI over the reference deciles equals the exact computation', () => {
    expect(populationStabilityIndex(sketchOf(a), sketchOf(b))).toBeCloseTo(exactPsi(a, b), 10);
    expect(populationStabilityIndex(sketchOf(a), sketchOf(a))).toBeCloseTo(0, 12);
    // ties: deciles that coincide merge their bins; empty bins count as epsilon
    const tied = [1, 1, 1, 1, 1, 1, 2, 2, 3, 4];
    const other = [5, 5, 5, 5];
    expect(populationStabilityIndex(sketchOf(tied), sketchOf(other))).toBeCloseTo(exactPsi(tied, other), 10);
  });

  it('KS from sketches of large samples is within twice the rank bound of the exact statistic', () => {
    const r = seeded(9);
    const x = Array.from({ length: 60_000 }, () => gaussian(r));
    const y = Array.from({ length: 60_000 }, () => gaussian(r) * 1.2 + 0.1);
    const sx = sketchOf(x);
    const exact = (() => {
      const xs = Float64Array.from(x).sort();
      const ys = Float64Array.from(y).sort();
      let i = 0;
      let j = 0;
      let max = 0;
      while (i < xs.length && j < ys.length) {
        const v = Math.min(xs[i]!, ys[j]!);
        while (i < xs.length && xs[i]! <= v) i++;
        while (j < ys.length && ys[j]! <= v) j++;
        max = Math.max(max, Math.abs(i / xs.length - j / ys.length));
      }
      return max;
    })();
    expect(Math.abs(ksDistance(sx, sketchOf(y)) - exact)).toBeLessThan(2 * sx.rankErrorBound);
  });
});

describe('categorical drift and compareProfiles', () => {
  const profile = (rows: string[][], header = ['n', 'c']): DatasetProfile => {
    const p = new DatasetProfiler(header);
    for (const r of rows) p.add(r);
    return p.finish();
  };
  const rnd = seeded(3);
  const base = profile(
    Array.from({ length: 4000 }, () => [gaussian(rnd).toFixed(4), rnd() < 0.5 ? 'a' : 'b']),
  );
  const same = profile(
    Array.from({ length: 3000 }, () => [gaussian(rnd).toFixed(4), rnd() < 0.5 ? 'a' : 'b']),
  );
  const moved = profile(
    Array.from({ length: 3000 }, () => [(gaussian(rnd) + 1).toFixed(4), rnd() < 0.8 ? 'a' : 'c']),
  );

  it('L-infinity of the frequencies (top values + other)', () => {
    const [, c1] = base.columns;
    const [, c2] = moved.columns;
    const fa = (v: string, p: DatasetProfile) =>
      (p.columns[1]!.topValues.find((t) => t.value === v)?.count ?? 0) / p.columns[1]!.present;
    const expected = Math.max(...['a', 'b', 'c'].map((v) => Math.abs(fa(v, base) - fa(v, moved))));
    expect(categoricalDistance(c1!, c2!)).toBeCloseTo(expected, 12);
  });

  it('reports per-column results, the drifted columns and the maxima, with default thresholds 0.1 and 0.25', () => {
    const quiet = compareProfiles(same, base);
    expect(quiet.drifted).toEqual([]);
    expect(quiet.thresholds).toEqual({ distance: 0.1, categoricalDistance: 0.1, psi: 0.25 });
    expect(quiet.method).toBe('Robust');
    const report = compareProfiles(moved, base);
    expect(report.columns.map((c) => [c.column, c.kind, c.drifted])).toEqual([
      ['n', 'numeric', true],
      ['c', 'categorical', true],
    ]);
    expect(report.drifted).toEqual(['n', 'c']);
    expect(report.maxDistance).toBe(Math.max(...report.columns.map((c) => c.distance)));
    expect(report.maxPsi).toBe(report.columns[0]!.psi);
    expect(report.columns[0]!.simpleDistance).toBeGreaterThan(report.columns[0]!.distance);
    const simple = compareProfiles(moved, base, { method: 'Simple' });
    expect(simple.columns[0]!.distance).toBe(simple.columns[0]!.simpleDistance);
  });

  it('skips columns only one side has', () => {
    const other = profile([['1', 'x']], ['n', 'zzz']);
    expect(compareProfiles(other, base).columns.map((c) => c.column)).toEqual(['n']);
  });
});
