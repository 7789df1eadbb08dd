/**
 * Drift between a baseline profile and a current one. Where this stands: core profiling (no AWS
 * SDK); used by ingest's data-quality gate, the live monitor and `mlops profile --baseline`.
 *
 * - Numeric columns: the KS statistic, the L-infinity distance between the two CDFs evaluated
 *   from the sketches at the union of their retained item values, as Deequ's
 *   `Distance.numericalDistance` (awslabs/deequ, src/main/scala/com/amazon/deequ/analyzers/
 *   Distance.scala). With the Robust method (Model Monitor's `comparison_method: "Robust"`, our
 *   default) it applies Deequ's small-sample correction (`selectMetrics`, after the two-sample
 *   Kolmogorov–Smirnov test): `max(0, linf - c(α) * sqrt((n + m) / (n * m)))` with c(α) = 1.8
 *   (Deequ's default, α ≈ 0.003), n and m the two sample sizes.
 * - Numeric columns also get the PSI over ten bins cut at the baseline's deciles (from its
 *   sketch): `Σ (c_i - b_i) ln(c_i / b_i)`; a bin with no mass on one side counts as
 *   {@link PSI_EPSILON} there (deciles that coincide on tied values merge their bins).
 * - Categorical columns (String, Boolean, or a type that differs between the two sides): the
 *   L-infinity distance of the value frequencies over the union of their listed top values plus
 *   one "other" bucket (the rest), as Deequ's `categoricalLInfinityDistance`, with the same
 *   correction when Robust.
 * Defaults: 0.1 for both distances, 0.25 for PSI.
 */
import type {
  ColumnDrift,
  ColumnProfile,
  DatasetProfile,
  DriftReport,
  DriftThresholds,
  QuantileSketch,
} from './api';

const DEFAULT_DISTANCE_THRESHOLD = 0.1;
const DEFAULT_PSI_THRESHOLD = 0.25;
/** Deequ's default c(α) for the robust correction. */
const KS_C_ALPHA = 1.8;
/** Proportion used for an empty PSI bin. */
export const PSI_EPSILON = 1e-4;

export type { DriftThresholds };

/** Deequ's small-sample correction (selectMetrics). */
export function robustCorrection(linf: number, n: number, m: number): number {
  if (!(n > 0 && m > 0)) return linf;
  return Math.max(0, linf - KS_C_ALPHA * Math.sqrt((n + m) / (n * m)));
}

/** L-infinity distance between the CDFs of two sketches (uncorrected), at the union of their items. */
export function ksDistance(a: QuantileSketch, b: QuantileSketch): number {
  if (a.count === 0 || b.count === 0) return a.count === b.count ? 0 : 1;
  let max = 0;
  for (const values of [a.sortedValues(), b.sortedValues()]) {
    let previous = Number.NaN;
    for (let i = 0; i < values.length; i++) {
      const x = values[i]!;
      if (x === previous) continue;
      previous = x;
      const d = Math.abs(a.rank(x) - b.rank(x));
      if (d > max) max = d;
    }
  }
  return max;
}

/** PSI of `current` against `baseline`, ten bins at the baseline's deciles. */
export function populationStabilityIndex(
  baseline: QuantileSketch,
  current: QuantileSketch,
  bins = 10,
): number {
  if (baseline.count === 0 || current.count === 0)
    return baseline.count === current.count ? 0 : Number.POSITIVE_INFINITY;
  const edges: number[] = [];
  for (let i = 1; i < bins; i++) {
    const e = baseline.quantile(i / bins);
    if (edges.length === 0 || e > edges[edges.length - 1]!) edges.push(e);
  }
  let psi = 0;
  let previousB = 0;
  let previousC = 0;
  for (let i = 0; i <= edges.length; i++) {
    const rb = i < edges.length ? baseline.rank(edges[i]!) : 1;
    const rc = i < edges.length ? current.rank(edges[i]!) : 1;
    const pb = Math.max(rb - previousB, 0) || PSI_EPSILON;
    const pc = Math.max(rc - previousC, 0) || PSI_EPSILON;
    psi += (pc - pb) * Math.log(pc / pb);
    previousB = rb;
    previousC = rc;
  }
  return psi;
}

/** Value frequencies of a column: listed top values plus the rest as one "other" bucket. */
function frequencies(column: ColumnProfile): Map<string, number> {
  const out = new Map<string, number>();
  if (column.present === 0) return out;
  let listed = 0;
  for (const { value, count } of column.topValues) {
    out.set(value, count / column.present);
    listed += count;
  }
  const other = Math.max(0, column.present - listed) / column.present;
  if (other > 0) out.set('\u0000other', other);
  return out;
}

/** L-infinity distance between two columns' value frequencies (uncorrected). */
export function categoricalDistance(a: ColumnProfile, b: ColumnProfile): number {
  if (a.present === 0 || b.present === 0) return a.present === b.present ? 0 : 1;
  const fa = frequencies(a);
  const fb = frequencies(b);
  let max = 0;
  for (const key of new Set([...fa.keys(), ...fb.keys()])) {
    const d = Math.abs((fa.get(key) ?? 0) - (fb.get(key) ?? 0));
    if (d > max) max = d;
  }
  return max;
}

/** Drift of one column present on both sides. */
function columnDrift(
  baseline: ColumnProfile,
  current: ColumnProfile,
  thresholds: DriftThresholds = {},
): ColumnDrift {
  const method = thresholds.method ?? 'Robust';
  const distanceThreshold = thresholds.distance ?? DEFAULT_DISTANCE_THRESHOLD;
  const psiThreshold = thresholds.psi ?? DEFAULT_PSI_THRESHOLD;
  if (baseline.numeric && current.numeric) {
    const a = baseline.numeric.sketch;
    const b = current.numeric.sketch;
    const simple = ksDistance(a, b);
    const distance = method === 'Robust' ? robustCorrection(simple, a.count, b.count) : simple;
    const psi = populationStabilityIndex(a, b);
    return {
      column: current.name,
      kind: 'numeric',
      distance,
      simpleDistance: simple,
      psi,
      threshold: distanceThreshold,
      drifted: distance > distanceThreshold || psi > psiThreshold,
    };
  }
  const threshold = thresholds.categoricalDistance ?? distanceThreshold;
  const simple = categoricalDistance(baseline, current);
  const distance = method === 'Robust' ? robustCorrection(simple, baseline.present, current.present) : simple;
  return {
    column: current.name,
    kind: 'categorical',
    distance,
    simpleDistance: simple,
    threshold,
    drifted: distance > threshold,
  };
}

/** Drift of every column both profiles have (by name), with the maxima. */
export function compareProfiles(
  current: DatasetProfile,
  baseline: DatasetProfile,
  thresholds: DriftThresholds = {},
): DriftReport {
  const byName = new Map(baseline.columns.map((c) => [c.name, c]));
  const columns: ColumnDrift[] = [];
  for (const column of current.columns) {
    const base = byName.get(column.name);
    if (!base || base.inferredType === 'Unknown' || column.inferredType === 'Unknown') continue;
    columns.push(columnDrift(base, column, thresholds));
  }
  return {
    columns,
    drifted: columns.filter((c) => c.drifted).map((c) => c.column),
    maxDistance: columns.reduce((m, c) => Math.max(m, c.distance), 0),
    maxPsi: columns.reduce((m, c) => Math.max(m, c.psi ?? 0), 0),
    method: thresholds.method ?? 'Robust',
    thresholds: {
      distance: thresholds.distance ?? DEFAULT_DISTANCE_THRESHOLD,
      categoricalDistance:
        thresholds.categoricalDistance ?? thresholds.distance ?? DEFAULT_DISTANCE_THRESHOLD,
      psi: thresholds.psi ?? DEFAULT_PSI_THRESHOLD,
    },
  };
}
