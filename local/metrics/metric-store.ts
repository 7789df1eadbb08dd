/**
 * The local cloud's CloudWatch metric storage. Where this stands: local runtime; local endpoints
 * and the supervisor (EMF lines of the handlers) put data points, the alarm evaluator queries them.
 *
 * Like CloudWatch, a metric is identified by namespace, name and its full set of dimensions (a
 * query must name all of them), and statistics are computed per period over the raw values.
 * Periods are aligned on multiples of the period since the epoch. Memory is bounded: each series
 * keeps its points younger than `retentionMs` (counted back from its newest point) and at most
 * `maxPointsPerSeries` of them; at most `maxSeries` series are kept (the least recently written
 * one goes first).
 */
import { readFile } from 'node:fs/promises';
import type { MetricDatum, MetricSink } from '../contracts';
import { writeFileAtomically } from '../live-file';

/** CloudWatch statistics: the five basic ones and percentiles (`p50`, `p90`, `p99`, `p99.9`...). */
export type MetricStatistic = 'Sum' | 'Average' | 'Minimum' | 'Maximum' | 'SampleCount' | `p${number}`;

/** One statistic of one metric, per period, over a time range (GetMetricData's MetricStat). */
export interface MetricQuery {
  readonly namespace: string;
  readonly name: string;
  readonly dimensions: Readonly<Record<string, string>>;
  readonly stat: MetricStatistic;
  /** Period length in real milliseconds. */
  readonly periodMs: number;
  /** Inclusive. */
  readonly start: Date;
  /** Exclusive. */
  readonly end: Date;
}

/** One period's statistic: the period's start and the value. */
export interface MetricPoint {
  readonly timestamp: Date;
  readonly value: number;
}

/** What the store holds for one metric (ListMetrics, with its point count and time span). */
export interface SeriesInfo {
  readonly namespace: string;
  readonly name: string;
  readonly dimensions: Readonly<Record<string, string>>;
  readonly unit: MetricDatum['unit'];
  readonly points: number;
  readonly first: Date;
  readonly last: Date;
}

/** The store's memory bounds. */
export interface LocalMetricStoreOptions {
  /** How long a series keeps its points, counted back from its newest one. @default 24 hours */
  readonly retentionMs?: number;
  /** @default 100_000 */
  readonly maxPointsPerSeries?: number;
  /** @default 10_000 */
  readonly maxSeries?: number;
}

interface Series {
  readonly namespace: string;
  readonly name: string;
  readonly dimensions: Readonly<Record<string, string>>;
  unit: MetricDatum['unit'];
  /** Epoch ms, ascending; `values[i]` belongs to `times[i]`. */
  readonly times: number[];
  readonly values: number[];
}

interface SnapshotFile {
  readonly version: 1;
  readonly series: readonly {
    namespace: string;
    name: string;
    dimensions: Record<string, string>;
    unit: MetricDatum['unit'];
    times: number[];
    values: number[];
  }[];
}

/**
 * CloudWatch's metric storage, in memory: data points in, statistics per period out; a snapshot
 * file keeps them across runs.
 */
export class LocalMetricStore implements MetricSink {
  /** Insertion order doubles as "least recently written first". */
  private readonly store = new Map<string, Series>();
  private readonly retentionMs: number;
  private readonly maxPointsPerSeries: number;
  private readonly maxSeries: number;
  private changeListener: (() => void) | undefined;

  constructor(options: LocalMetricStoreOptions = {}) {
    this.retentionMs = options.retentionMs ?? 24 * 60 * 60 * 1000;
    this.maxPointsPerSeries = options.maxPointsPerSeries ?? 100_000;
    this.maxSeries = options.maxSeries ?? 10_000;
  }

  put(datum: MetricDatum): void {
    const time = datum.timestamp.getTime();
    if (!Number.isFinite(datum.value) || !Number.isFinite(time)) return; // CloudWatch rejects NaN/Infinity
    const key = seriesKey(datum.namespace, datum.name, datum.dimensions);
    let series = this.store.get(key);
    if (series === undefined) {
      series = {
        namespace: datum.namespace,
        name: datum.name,
        dimensions: { ...datum.dimensions },
        unit: datum.unit,
        times: [],
        values: [],
      };
    } else {
      this.store.delete(key); // re-inserted below: most recently written last
    }
    this.store.set(key, series);
    series.unit = datum.unit;
    const index = upperBound(series.times, time);
    series.times.splice(index, 0, time);
    series.values.splice(index, 0, datum.value);
    this.prune(series);
    while (this.store.size > this.maxSeries) {
      const oldest = this.store.keys().next().value as string;
      this.store.delete(oldest);
    }
    this.changeListener?.();
  }

  /**
   * Calls `listener` after every change (a point put, the store cleared): how the local cloud keeps
   * the snapshot file current (local/live-file.ts). One listener; `undefined` removes it.
   */
  setChangeListener(listener: (() => void) | undefined): void {
    this.changeListener = listener;
  }

  /** One aggregated point per period that has data, oldest first. */
  query(query: MetricQuery): MetricPoint[] {
    if (!(query.periodMs > 0)) throw new Error(`periodMs must be > 0, got ${query.periodMs}`);
    const series = this.store.get(seriesKey(query.namespace, query.name, query.dimensions));
    if (series === undefined) return [];
    const start = query.start.getTime();
    const end = query.end.getTime();
    const result: MetricPoint[] = [];
    let i = lowerBound(series.times, start);
    while (i < series.times.length && (series.times[i] as number) < end) {
      const bucket = periodStart(series.times[i] as number, query.periodMs);
      const bucketEnd = Math.min(bucket + query.periodMs, end);
      const values: number[] = [];
      while (i < series.times.length && (series.times[i] as number) < bucketEnd) {
        values.push(series.values[i] as number);
        i++;
      }
      result.push({ timestamp: new Date(bucket), value: aggregate(values, query.stat) });
    }
    return result;
  }

  /** What the store holds, one entry per series with points (ListMetrics). */
  series(): SeriesInfo[] {
    return [...this.store.values()]
      .filter((series) => series.times.length > 0)
      .map((series) => ({
        namespace: series.namespace,
        name: series.name,
        dimensions: { ...series.dimensions },
        unit: series.unit,
        points: series.times.length,
        first: new Date(series.times[0] as number),
        last: new Date(series.times[series.times.length - 1] as number),
      }));
  }

  /** Forgets every series. */
  clear(): void {
    this.store.clear();
    this.changeListener?.();
  }

  /** Writes every series to a JSON file (atomically: temporary file, then rename); {@link load} reads it. */
  async snapshot(file: string): Promise<void> {
    await writeFileAtomically(file, this.serialize());
  }

  /** Every series as the JSON of a snapshot file. */
  serialize(): string {
    const content: SnapshotFile = {
      version: 1,
      series: [...this.store.values()].map((series) => ({
        namespace: series.namespace,
        name: series.name,
        dimensions: { ...series.dimensions },
        unit: series.unit,
        times: series.times,
        values: series.values,
      })),
    };
    return JSON.stringify(content);
  }

  /** Adds the points of a snapshot file to the store; returns how many were read. */
  async load(file: string): Promise<number> {
    const content = JSON.parse(await readFile(file, 'utf8')) as Partial<SnapshotFile> | null;
    if (content?.version !== 1 || content.series === undefined) {
      throw new Error(`${file} is not a metric store snapshot`);
    }
    let count = 0;
    for (const series of content.series) {
      for (let i = 0; i < series.times.length; i++) {
        this.put({
          namespace: series.namespace,
          name: series.name,
          dimensions: series.dimensions,
          unit: series.unit,
          value: series.values[i] as number,
          timestamp: new Date(series.times[i] as number),
        });
        count++;
      }
    }
    return count;
  }

  private prune(series: Series): void {
    const newest = series.times[series.times.length - 1];
    if (newest === undefined) return;
    let drop = lowerBound(series.times, newest - this.retentionMs);
    drop = Math.max(drop, series.times.length - this.maxPointsPerSeries);
    if (drop > 0) {
      series.times.splice(0, drop);
      series.values.splice(0, drop);
    }
  }
}

/** The start (epoch ms) of the period holding `time`. */
export function periodStart(time: number, periodMs: number): number {
  return Math.floor(time / periodMs) * periodMs;
}

/** A statistic over raw values (CloudWatch percentiles here use the nearest-rank method). */
export function aggregate(values: readonly number[], stat: MetricStatistic): number {
  if (values.length === 0) return Number.NaN;
  switch (stat) {
    case 'Sum':
      return sum(values);
    case 'Average':
      return sum(values) / values.length;
    case 'Minimum':
      return values.reduce((a, b) => (b < a ? b : a)); // no spread: a period may hold many values
    case 'Maximum':
      return values.reduce((a, b) => (b > a ? b : a));
    case 'SampleCount':
      return values.length;
    default: {
      const p = parsePercentile(stat);
      if (p === undefined) throw new Error(`unknown statistic "${stat}"`);
      const sorted = [...values].sort((a, b) => a - b);
      const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
      return sorted[Math.min(rank, sorted.length) - 1] as number;
    }
  }
}

/** True for the statistics {@link aggregate} knows. */
export function isMetricStatistic(stat: string): stat is MetricStatistic {
  return (
    ['Sum', 'Average', 'Minimum', 'Maximum', 'SampleCount'].includes(stat) ||
    parsePercentile(stat) !== undefined
  );
}

function parsePercentile(stat: string): number | undefined {
  const match = /^p(\d{1,2}(?:\.\d+)?|100)$/.exec(stat);
  if (!match) return undefined;
  const p = Number(match[1]);
  return p > 0 && p <= 100 ? p : undefined;
}

function sum(values: readonly number[]): number {
  let total = 0;
  for (const value of values) total += value;
  return total;
}

function seriesKey(namespace: string, name: string, dimensions: Readonly<Record<string, string>>): string {
  const dims = Object.keys(dimensions)
    .sort()
    .map((key) => [key, dimensions[key]]);
  return JSON.stringify([namespace, name, dims]);
}

/** First index whose time is >= `time`. */
function lowerBound(times: readonly number[], time: number): number {
  let lo = 0;
  let hi = times.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((times[mid] as number) < time) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index whose time is > `time` (appends keep arrival order for equal times). */
function upperBound(times: readonly number[], time: number): number {
  let lo = 0;
  let hi = times.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((times[mid] as number) <= time) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
