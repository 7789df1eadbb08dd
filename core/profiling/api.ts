/**
 * The profiling contract: streaming, mergeable column profiles and the drift/constraint checks
 * built on them. Where this stands: core (no AWS SDK). The profiler implements these types in
 * `core/profiling/`; ingest's data-quality gate, the live drift monitor and `mlops profile` use them.
 */

/** Column types, named as SageMaker Model Monitor names them (plus Boolean, reported as String there). */
export type InferredType = 'Integral' | 'Fractional' | 'String' | 'Boolean' | 'Unknown';

/** A KLL quantile sketch (mergeable; rank error bounded by `rankErrorBound` with high probability). */
export interface QuantileSketch {
  readonly count: number;
  /** Stated bound on the normalized rank error of {@link quantile} and {@link rank}. */
  readonly rankErrorBound: number;
  /** The value at normalized rank q ∈ [0, 1]. */
  quantile(q: number): number;
  /** Fraction of values ≤ x (the sketch's CDF). */
  rank(x: number): number;
  /** Adds another sketch's values to this one. */
  merge(other: QuantileSketch): void;
  /** The retained item values, sorted ascending (where the sketch's CDF steps). */
  sortedValues(): Float64Array;
  /** Model Monitor's `sketch` object: `{ parameters: { c, k }, data: number[][] }` (one array per compactor level). */
  toJSON(): { parameters: { c: number; k: number }; data: number[][] };
}

/** A 10-bucket histogram, as Model Monitor's `kll.buckets`. */
export interface HistogramBucket {
  readonly lower_bound: number;
  readonly upper_bound: number;
  readonly count: number;
}

/**
 * The numeric values of an Integral or Fractional column: moments (`stdDev` is the population's),
 * range, quantile sketch and histogram; Model Monitor's `numerical_statistics`.
 */
export interface NumericSummary {
  readonly mean: number;
  readonly sum: number;
  readonly stdDev: number;
  readonly min: number;
  readonly max: number;
  readonly sketch: QuantileSketch;
  readonly histogram: readonly HistogramBucket[];
}

/**
 * One column of a profile: its inferred type, the rows with a value (`present`) and without
 * (`missing`: empty, null or NaN), distinct and most frequent values, and the numeric summary.
 * The profiler builds it; `fromStatisticsJson` (model-monitor.ts) rebuilds it from a report.
 */
export interface ColumnProfile {
  readonly name: string;
  readonly inferredType: InferredType;
  readonly present: number;
  readonly missing: number;
  /** For Integral and Fractional columns. */
  readonly numeric?: NumericSummary;
  /** Estimated number of distinct present values (HyperLogLog), exact when small. */
  readonly distinct: number;
  /** Most frequent values with (estimated) counts, most frequent first. */
  readonly topValues: readonly { readonly value: string; readonly count: number }[];
  /** True when {@link topValues} counts are exact and no other value exists beyond the tracked ones (small cardinality). */
  readonly topValuesExact?: boolean;
  /** Present values per parsed type (absent in a profile rebuilt from a statistics.json). */
  readonly typeCounts?: {
    readonly integral: number;
    readonly fractional: number;
    readonly boolean: number;
    readonly string: number;
  };
}

/**
 * A dataset's profile: its row count and one column profile per column. What the data-quality gate
 * and the drift monitor compare, and what a `statistics.json` report holds.
 */
export interface DatasetProfile {
  readonly rows: number;
  readonly columns: readonly ColumnProfile[];
}

/** What profiling a file can read. */
export type ProfileFormat = 'csv' | 'jsonl' | 'parquet';

/** Drift thresholds: a column drifts when a distance exceeds its threshold (see drift.ts). */
export interface DriftThresholds {
  /** KS distance (numeric columns). @default 0.1 */
  readonly distance?: number;
  /** L-infinity distance of frequencies (categorical columns). @default the numeric `distance` */
  readonly categoricalDistance?: number;
  /** Population stability index over ten reference-decile bins. @default 0.25 */
  readonly psi?: number;
  /** `Robust` applies Deequ's small-sample correction to the distances; `Simple` does not. @default 'Robust' */
  readonly method?: 'Robust' | 'Simple';
}

/** One column's drift between a baseline and a current profile. */
export interface ColumnDrift {
  readonly column: string;
  /** `numeric`: both sides have numeric summaries (KS + PSI); else `categorical` (L-infinity of frequencies). */
  readonly kind: 'numeric' | 'categorical';
  /**
   * The distance compared with the threshold: numeric, the KS statistic (L-infinity between the
   * CDFs) with Deequ's small-sample correction when the method is Robust; categorical, the
   * L-infinity distance of the value frequencies (same correction when Robust).
   */
  readonly distance: number;
  /** The uncorrected L-infinity distance. */
  readonly simpleDistance: number;
  /** Population stability index over ten bins at the baseline's deciles (numeric columns). */
  readonly psi?: number;
  /** The threshold the distance was compared with. */
  readonly threshold: number;
  readonly drifted: boolean;
}

/** Drift of a dataset against its baseline: `compareProfiles(current, baseline, thresholds)` in drift.ts; columns only one side has are the constraint checks' business. */
export interface DriftReport {
  readonly columns: readonly ColumnDrift[];
  /** Names of the drifted columns. */
  readonly drifted: readonly string[];
  /** Largest distance over the columns (0 when none). */
  readonly maxDistance: number;
  /** Largest PSI over the numeric columns (0 when none). */
  readonly maxPsi: number;
  readonly method: 'Robust' | 'Simple';
  readonly thresholds: {
    readonly distance: number;
    readonly categoricalDistance: number;
    readonly psi: number;
  };
}
