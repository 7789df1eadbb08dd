import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { MetricDatum } from '../../../local/contracts';
import { LocalMetricStore, aggregate, type MetricStatistic } from '../../../local/metrics/metric-store';

const dims = { EndpointName: 'mlops-churn', VariantName: 'AllTraffic' };
const T0 = Date.UTC(2025, 5, 3, 11, 0, 0); // a minute boundary
const datum = (value: number, at: number, overrides: Partial<MetricDatum> = {}): MetricDatum => ({
  namespace: 'AWS/SageMaker',
  name: 'ModelLatency',
  dimensions: dims,
  value,
  unit: 'Microseconds',
  timestamp: new Date(at),
  ...overrides,
});
const query = (
  store: LocalMetricStore,
  stat: MetricStatistic,
  periodMs = 60_000,
  start = T0,
  end = T0 + 10 * 60_000,
) =>
  store.query({
    namespace: 'AWS/SageMaker',
    name: 'ModelLatency',
    dimensions: dims,
    stat,
    periodMs,
    start: new Date(start),
    end: new Date(end),
  });

describe('LocalMetricStore', () => {
  const store = new LocalMetricStore();
  // Minute 0: 1..10 (out of order), minute 2: 100, minute 1 has no data.
  for (const v of [5, 3, 9, 1, 7, 10, 2, 8, 4, 6]) store.put(datum(v, T0 + v * 1000));
  store.put(datum(100, T0 + 2 * 60_000 + 30_000));

  it.each<[MetricStatistic, number]>([
    ['Sum', 55],
    ['Average', 5.5],
    ['Minimum', 1],
    ['Maximum', 10],
    ['SampleCount', 10],
    ['p50', 5],
    ['p90', 9],
    ['p99', 10],
  ])('%s per period, one point per period with data', (stat, first) => {
    const points = query(store, stat);
    expect(points.map((p) => p.timestamp.getTime())).toEqual([T0, T0 + 2 * 60_000]);
    expect(points[0]?.value).toBe(first);
    expect(points[1]?.value).toBe(stat === 'SampleCount' ? 1 : 100);
  });

  it('aligns periods on multiples of the period and honours [start, end)', () => {
    expect(query(store, 'Sum', 5_000).map((p) => [p.timestamp.getTime() - T0, p.value])).toEqual([
      [0, 1 + 2 + 3 + 4],
      [5_000, 5 + 6 + 7 + 8 + 9],
      [10_000, 10],
      [150_000, 100],
    ]);
    expect(query(store, 'Sum', 60_000, T0 + 5_000, T0 + 9_000)).toEqual([
      { timestamp: new Date(T0), value: 5 + 6 + 7 + 8 },
    ]);
  });

  it('needs the full set of dimensions, like CloudWatch', () => {
    const partial = store.query({
      namespace: 'AWS/SageMaker',
      name: 'ModelLatency',
      dimensions: { EndpointName: 'mlops-churn' },
      stat: 'Sum',
      periodMs: 60_000,
      start: new Date(T0),
      end: new Date(T0 + 60_000),
    });
    expect(partial).toEqual([]);
    // Dimension order does not matter.
    const reordered = store.query({
      namespace: 'AWS/SageMaker',
      name: 'ModelLatency',
      dimensions: { VariantName: 'AllTraffic', EndpointName: 'mlops-churn' },
      stat: 'Sum',
      periodMs: 60_000,
      start: new Date(T0),
      end: new Date(T0 + 60_000),
    });
    expect(reordered).toEqual([{ timestamp: new Date(T0), value: 55 }]);
  });

  it('lists its series', () => {
    expect(store.series()).toEqual([
      {
        namespace: 'AWS/SageMaker',
        name: 'ModelLatency',
        dimensions: dims,
        unit: 'Microseconds',
        points: 11,
        first: new Date(T0 + 1000),
        last: new Date(T0 + 150_000),
      },
    ]);
  });

  it('keeps memory bounded: retention, points per series, series count', () => {
    const bounded = new LocalMetricStore({ retentionMs: 60_000, maxPointsPerSeries: 5, maxSeries: 2 });
    for (let i = 0; i < 20; i++) bounded.put(datum(i, T0 + i * 1000));
    expect(bounded.series()[0]?.points).toBe(5);
    expect(query(bounded, 'Minimum', 600_000)[0]?.value).toBe(15);

    bounded.put(datum(99, T0 + 10 * 60_000)); // 10 minutes later: older points expire
    expect(bounded.series()[0]).toMatchObject({ points: 1, first: new Date(T0 + 10 * 60_000) });

    bounded.put(datum(1, T0, { name: 'Invocations' }));
    bounded.put(datum(1, T0, { name: 'Invocation5XXErrors' }));
    expect(bounded.series().map((s) => s.name)).toEqual(['Invocations', 'Invocation5XXErrors']);
  });

  it('ignores non-finite values', () => {
    const s = new LocalMetricStore();
    s.put(datum(Number.NaN, T0));
    s.put(datum(Number.POSITIVE_INFINITY, T0));
    expect(s.series()).toEqual([]);
  });

  const dir = mkdtempSync(join(tmpdir(), 'metrics-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('snapshots to a file and loads it back', async () => {
    const file = join(dir, 'sub', 'metrics.json');
    await store.snapshot(file);
    const restored = new LocalMetricStore();
    expect(await restored.load(file)).toBe(11);
    expect(query(restored, 'p90')).toEqual(query(store, 'p90'));
  });

  it('aggregates with nearest-rank percentiles', () => {
    expect(aggregate([1, 2, 3, 4], 'p50')).toBe(2);
    expect(aggregate([1, 2, 3, 4], 'p75')).toBe(3);
    expect(aggregate([1, 2, 3, 4], 'p99.9')).toBe(4);
    expect(() => aggregate([1], 'p0')).toThrow(/unknown statistic/);
  });
});
