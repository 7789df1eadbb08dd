/**
 * The streaming profiler: one pass, record by record, bounded memory (per column a KLL sketch of
 * O(k) items, 4 KiB of HyperLogLog registers, at most 2048 exact distinct values and 100
 * Misra–Gries counters), mergeable so that profiles of parts merge into the profile of the whole.
 * Where this stands: core profiling (no AWS SDK); the readers in `readers.ts` and `csv-fast.ts` feed it.
 *
 * Value rules (documented behaviour):
 * - missing: an empty field (after trimming spaces), `null`/absent in JSON lines and Parquet, and
 *   `NaN` (any case), which pandas and Spark also read as missing;
 * - numeric: a value matching the strict decimal rule `^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$`
 *   (the rule of `core/domain/dataset-preparation.ts`); Integral without `.` or exponent, else
 *   Fractional. `Infinity`, `inf`, hex, `1,5` are text: a numeric column holding one becomes String
 *   (and the data-type check reports the share of non-numeric values);
 * - boolean: `true` / `false` in any case;
 * - a column's type: Unknown if no value is present; String if any present value is text or if
 *   booleans and numbers mix; Boolean if all are booleans; Fractional if all are numbers and one
 *   is fractional; else Integral;
 * - mean and standard deviation are population moments (Welford; merged with Chan et al.'s
 *   pairwise formula), as Deequ's StandardDeviation (pandas' `describe` reports the sample one).
 */
import type { ColumnProfile, DatasetProfile, HistogramBucket, InferredType, NumericSummary } from './api';
import { hashNumber, hashString } from '../support/hash';
import { DistinctCounter } from './hll';
import { KllSketch, type KllOptions } from './kll';
import { TopValues } from './top-values';

/** Input the profiler cannot take, with the 1-based line (or row) where it is, when known. */
export class ProfileInputError extends Error {
  override readonly name = 'ProfileInputError';
  constructor(
    readonly line: number | undefined,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(line === undefined ? message : `line ${line}: ${message}`, options);
  }
}

/** The profiler's sketch sizes (KLL quantiles, top values per column). */
export interface ProfilerOptions extends KllOptions {
  /** Misra–Gries counters per column. @default 100 */
  readonly topValuesCapacity?: number;
  /** Top values reported per column. @default 10 */
  readonly topValuesReported?: number;
}

/** Classifies a trimmed, non-empty value: 0 text, 1 integral, 2 fractional (strict decimal rule). */
export function classifyNumber(s: string): 0 | 1 | 2 {
  const n = s.length;
  let i = 0;
  let c = s.charCodeAt(0);
  if (c === 43 || c === 45) {
    if (++i === n) return 0;
    c = s.charCodeAt(i);
  }
  let digits = 0;
  while (c >= 48 && c <= 57) {
    digits++;
    if (++i === n) return 1;
    c = s.charCodeAt(i);
  }
  if (c === 46) {
    i++;
    let after = 0;
    while (i < n) {
      c = s.charCodeAt(i);
      if (c < 48 || c > 57) break;
      after++;
      i++;
    }
    if (digits === 0 && after === 0) return 0;
    if (i === n) return 2;
  } else if (digits === 0) return 0;
  if (c !== 101 && c !== 69) return 0;
  if (++i === n) return 0;
  c = s.charCodeAt(i);
  if (c === 43 || c === 45) {
    if (++i === n) return 0;
    c = s.charCodeAt(i);
  }
  if (c < 48 || c > 57) return 0;
  while (++i < n) {
    c = s.charCodeAt(i);
    if (c < 48 || c > 57) return 0;
  }
  return 2;
}

function isBoolean(s: string): boolean {
  const n = s.length;
  if (n !== 4 && n !== 5) return false;
  const lower = s.toLowerCase();
  return lower === 'true' || lower === 'false';
}

function isNaNToken(s: string): boolean {
  return (
    s.length === 3 &&
    (s.charCodeAt(0) | 32) === 110 &&
    (s.charCodeAt(1) | 32) === 97 &&
    (s.charCodeAt(2) | 32) === 110
  );
}

/** Per-type counts of a column's present values. */
export interface TypeCounts {
  integral: number;
  fractional: number;
  boolean: number;
  string: number;
}

/** A column's state as plain data (see {@link ColumnAccumulator.toState}). */
export interface ColumnState {
  name: string;
  present: number;
  missing: number;
  types: TypeCounts;
  count: number;
  mean: number;
  m2: number;
  sum: number;
  min: number;
  max: number;
  sketch: { parameters: { c: number; k: number }; data: number[][] };
  distinct: ReturnType<DistinctCounter['toState']>;
  top: ReturnType<TopValues['toState']>;
}

/** A profiler's state as plain data. */
export interface ProfilerState {
  rows: number;
  columns: ColumnState[];
}

/** One column's running state. */
export class ColumnAccumulator {
  present = 0;
  missing = 0;
  readonly types: TypeCounts = { integral: 0, fractional: 0, boolean: 0, string: 0 };
  /** Moments over the numeric values. */
  count = 0;
  mean = 0;
  m2 = 0;
  sum = 0;
  min = Number.POSITIVE_INFINITY;
  max = Number.NEGATIVE_INFINITY;
  sketch: KllSketch;
  distinct = new DistinctCounter();
  top: TopValues;

  constructor(
    readonly name: string,
    private readonly options: ProfilerOptions = {},
  ) {
    this.sketch = new KllSketch(options);
    this.top = new TopValues(options.topValuesCapacity);
  }

  /** Adds one raw value (`''`, `null`, `undefined` and `NaN` are missing). */
  add(raw: string | null | undefined): void {
    if (raw == null) {
      this.missing++;
      return;
    }
    let s = raw;
    const n = s.length;
    if (n === 0) {
      this.missing++;
      return;
    }
    if (s.charCodeAt(0) <= 32 || s.charCodeAt(n - 1) <= 32) {
      s = s.trim();
      if (s.length === 0) {
        this.missing++;
        return;
      }
    }
    const kind = classifyNumber(s);
    if (kind !== 0) {
      this.addParsed(Number(s), kind);
      return;
    }
    if (isNaNToken(s)) {
      this.missing++;
      return;
    } else if (isBoolean(s)) this.types.boolean++;
    else this.types.string++;
    this.present++;
    const h = hashString(s);
    // A value the (still exact) top-values table already holds is already counted as distinct.
    if (!this.top.add(s, h) || !this.top.exact) this.distinct.add(s, h);
  }

  /** Adds a value already parsed by the strict decimal rule (kind 1 integral, 2 fractional). */
  addParsed(x: number, kind: 1 | 2): void {
    if (x - x !== 0) {
      // A decimal beyond float64's range (1e999): counted as the text "Infinity"/"-Infinity".
      this.add(String(x));
      return;
    }
    if (kind === 1) this.types.integral++;
    else this.types.fractional++;
    this.present++;
    const h = hashNumber(x);
    if (!this.top.add(x, h) || !this.top.exact) this.distinct.add(x, h);
    const count = ++this.count;
    const delta = x - this.mean;
    this.mean += delta / count;
    this.m2 += delta * (x - this.mean);
    this.sum += x;
    if (x < this.min) this.min = x;
    if (x > this.max) this.max = x;
    this.sketch.update(x);
  }

  merge(other: ColumnAccumulator): void {
    this.present += other.present;
    this.missing += other.missing;
    this.types.integral += other.types.integral;
    this.types.fractional += other.types.fractional;
    this.types.boolean += other.types.boolean;
    this.types.string += other.types.string;
    if (other.count > 0) {
      const n = this.count + other.count;
      const delta = other.mean - this.mean;
      this.mean += (delta * other.count) / n;
      this.m2 += other.m2 + (delta * delta * this.count * other.count) / n;
      this.count = n;
      this.sum += other.sum;
      if (other.min < this.min) this.min = other.min;
      if (other.max > this.max) this.max = other.max;
      this.sketch.merge(other.sketch);
    }
    this.distinct.merge(other.distinct);
    this.top.merge(other.top);
  }

  /** Plain data (structured-clone friendly): ship a part's state to another thread or process. */
  toState(): ColumnState {
    return {
      name: this.name,
      present: this.present,
      missing: this.missing,
      types: { ...this.types },
      count: this.count,
      mean: this.mean,
      m2: this.m2,
      sum: this.sum,
      min: this.min,
      max: this.max,
      sketch: this.sketch.toJSON(),
      distinct: this.distinct.toState(),
      top: this.top.toState(),
    };
  }

  static fromState(state: ColumnState, options: ProfilerOptions = {}): ColumnAccumulator {
    const c = new ColumnAccumulator(state.name, options);
    c.present = state.present;
    c.missing = state.missing;
    Object.assign(c.types, state.types);
    c.count = state.count;
    c.mean = state.mean;
    c.m2 = state.m2;
    c.sum = state.sum;
    c.min = state.min;
    c.max = state.max;
    c.sketch = KllSketch.fromJSON(state.sketch, options.seed);
    c.distinct = DistinctCounter.fromState(state.distinct);
    c.top = TopValues.fromState(state.top);
    return c;
  }

  inferredType(): InferredType {
    const t = this.types;
    if (this.present === 0) return 'Unknown';
    if (t.string > 0) return 'String';
    if (t.boolean > 0) return t.integral + t.fractional > 0 ? 'String' : 'Boolean';
    return t.fractional > 0 ? 'Fractional' : 'Integral';
  }

  profile(): ColumnProfile {
    const inferredType = this.inferredType();
    const numeric: NumericSummary | undefined =
      (inferredType === 'Integral' || inferredType === 'Fractional') && this.count > 0
        ? {
            mean: this.mean,
            sum: this.sum,
            stdDev: Math.sqrt(Math.max(0, this.m2 / this.count)),
            min: this.min,
            max: this.max,
            sketch: this.sketch,
            histogram: histogramOf(this.sketch, this.min, this.max),
          }
        : undefined;
    return {
      name: this.name,
      inferredType,
      present: this.present,
      missing: this.missing,
      ...(numeric ? { numeric } : {}),
      distinct: this.distinct.estimate(),
      topValues: this.top.top(this.options.topValuesReported ?? 10),
      topValuesExact: this.top.exact,
      typeCounts: { ...this.types },
    };
  }
}

/** Ten equal-width buckets between min and max, counted from the sketch's retained items and weights. */
function histogramOf(sketch: KllSketch, min: number, max: number, buckets = 10): HistogramBucket[] {
  if (sketch.count === 0 || !Number.isFinite(min) || !Number.isFinite(max)) return [];
  const counts = new Array<number>(buckets).fill(0);
  const width = (max - min) / buckets;
  const { values, cumulative } = sketch.sortedView();
  let previous = 0;
  for (let i = 0; i < values.length; i++) {
    const weight = cumulative[i]! - previous;
    previous = cumulative[i]!;
    let b = width > 0 ? Math.floor((values[i]! - min) / width) : 0;
    if (b >= buckets) b = buckets - 1;
    if (b < 0) b = 0;
    counts[b]! += weight;
  }
  return counts.map((count, i) => ({
    lower_bound: min + i * width,
    upper_bound: i === buckets - 1 ? max : min + (i + 1) * width,
    count,
  }));
}

/**
 * Profiles a dataset record by record. `add` takes the fields of one record in column order;
 * `addColumn` adds a column later (JSON lines): earlier records count as missing in it.
 */
export class DatasetProfiler {
  private readonly columns: ColumnAccumulator[] = [];
  private readonly index = new Map<string, number>();
  private rowCount = 0;

  /** @throws ProfileInputError (line 1) on a duplicate column name. */
  constructor(
    header: readonly string[] = [],
    private readonly options: ProfilerOptions = {},
  ) {
    for (const name of header) {
      if (this.index.has(name))
        throw new ProfileInputError(
          1,
          `duplicate column name "${name}" (columns ${this.index.get(name)! + 1} and ${this.columns.length + 1}); column names must be unique`,
        );
      this.addColumn(name);
    }
  }

  get rows(): number {
    return this.rowCount;
  }

  get columnNames(): string[] {
    return this.columns.map((c) => c.name);
  }

  /** The index of a column by name, or undefined. */
  columnIndex(name: string): number | undefined {
    return this.index.get(name);
  }

  /** The running state of column `index` (for readers that feed values directly). */
  accumulator(index: number): ColumnAccumulator {
    return this.columns[index]!;
  }

  /** Counts one record whose values were fed to the accumulators directly. */
  countRow(): void {
    this.rowCount++;
  }

  /** Adds a column (missing in every record so far); returns its index. */
  addColumn(name: string): number {
    const existing = this.index.get(name);
    if (existing !== undefined) return existing;
    const column = new ColumnAccumulator(name, this.options);
    column.missing = this.rowCount;
    this.index.set(name, this.columns.length);
    this.columns.push(column);
    return this.columns.length - 1;
  }

  /** Adds one record; fields past its end are missing. @throws RangeError if it has too many fields. */
  add(fields: ArrayLike<string | null | undefined>): void {
    const columns = this.columns;
    const n = columns.length;
    if (fields.length > n)
      throw new RangeError(`a record has ${fields.length} fields, the dataset ${n} columns`);
    for (let j = 0; j < fields.length; j++) columns[j]!.add(fields[j]);
    for (let j = fields.length; j < n; j++) columns[j]!.missing++;
    this.rowCount++;
  }

  /**
   * Merges another part's profile into this one (columns matched by name; a column only one part
   * has is missing in the other part's rows). Returns this.
   */
  merge(other: DatasetProfiler): this {
    for (const column of other.columns) {
      this.columns[this.addColumn(column.name)]!.merge(column);
    }
    for (const column of this.columns)
      if (other.index.get(column.name) === undefined) column.missing += other.rowCount;
    this.rowCount += other.rowCount;
    return this;
  }

  /** Plain data (structured-clone / JSON friendly except the HLL registers): profile parts elsewhere, merge here. */
  toState(): ProfilerState {
    return { rows: this.rowCount, columns: this.columns.map((c) => c.toState()) };
  }

  static fromState(state: ProfilerState, options: ProfilerOptions = {}): DatasetProfiler {
    const profiler = new DatasetProfiler([], options);
    for (const column of state.columns) {
      profiler.index.set(column.name, profiler.columns.length);
      profiler.columns.push(ColumnAccumulator.fromState(column, options));
    }
    profiler.rowCount = state.rows;
    return profiler;
  }

  /** A snapshot of the profile (the profiler can go on). */
  finish(): DatasetProfile {
    return { rows: this.rowCount, columns: this.columns.map((c) => c.profile()) };
  }
}
