/**
 * SageMaker Model Monitor's report formats, field for field. Where this stands: core profiling
 * (no AWS SDK); ingest writes them under `reports/<model>/<dataset>/`, the monitor reads the
 * baseline back.
 *
 * - statistics.json: "Schema for Statistics (statistics.json file)",
 *   https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-interpreting-statistics.html
 * - constraints.json: "Schema for Constraints (constraints.json file)",
 *   https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-byoc-constraints.html
 * - constraint_violations.json: "Schema for Violations (constraint_violations.json file)",
 *   https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-interpreting-violations.html
 *
 * Model Monitor knows Integral, Fractional, String and Unknown: our Boolean columns are written
 * as String. The violation check types are exactly AWS's six; a broken non-negativity constraint
 * (`num_constraints.is_non_negative`) has no type of its own there and is reported as a
 * `data_type_check`.
 */
import type { ColumnProfile, DatasetProfile, DriftReport, HistogramBucket, InferredType } from './api';
import { compareProfiles, type DriftThresholds } from './drift';
import { isPlainObject } from '../support/objects';
import { KLL_DEFAULT_C, KLL_DEFAULT_K, KllSketch } from './kll';

/** A column's type as Model Monitor's statistics.json names it (`inferred_type`). */
export type MonitorType = 'Integral' | 'Fractional' | 'String' | 'Unknown';

/** Counts every column has in statistics.json (`common`). */
export interface CommonStatistics {
  readonly num_present: number;
  readonly num_missing: number;
}

/** A KLL sketch as Model Monitor stores it: its parameters and its compactors' items. */
export interface KllSketchJson {
  readonly parameters: { readonly c: number; readonly k: number };
  readonly data: number[][];
}

/** A numeric column's `numerical_statistics` in statistics.json. */
export interface NumericalStatistics {
  readonly common: CommonStatistics;
  readonly mean: number;
  readonly sum: number;
  readonly std_dev: number;
  readonly min: number;
  readonly max: number;
  readonly distribution: {
    readonly kll: { readonly buckets: readonly HistogramBucket[]; readonly sketch: KllSketchJson };
  };
}

/** A text column's `string_statistics` in statistics.json. */
export interface StringStatistics {
  readonly common: CommonStatistics;
  readonly distinct_count: number;
  readonly distribution: {
    readonly categorical: { readonly buckets: readonly { readonly value: string; readonly count: number }[] };
  };
}

/** One column's entry in statistics.json (`features[]`). */
export interface FeatureStatistics {
  readonly name: string;
  readonly inferred_type: MonitorType;
  readonly numerical_statistics?: NumericalStatistics;
  readonly string_statistics?: StringStatistics;
}

/** Model Monitor's statistics.json: the baseline (or current) statistics of a dataset. */
export interface StatisticsJson {
  readonly version: 0;
  readonly dataset: { readonly item_count: number };
  readonly features: readonly FeatureStatistics[];
}

/** One column's entry in constraints.json: its type, completeness and domain. */
export interface FeatureConstraint {
  readonly name: string;
  readonly inferred_type: MonitorType;
  readonly completeness: number;
  readonly num_constraints?: { readonly is_non_negative: boolean };
  readonly string_constraints?: { readonly domains: readonly string[] };
  readonly monitoringConfigOverrides?: Partial<
    Pick<MonitoringConfig, 'datatype_check_threshold' | 'domain_content_threshold'> & {
      readonly comparison_threshold: number;
      readonly categorical_comparison_threshold: number;
    }
  >;
}

/** constraints.json's `monitoring_config`: the thresholds and methods of the checks. */
export interface MonitoringConfig {
  readonly evaluate_constraints: 'Enabled' | 'Disabled';
  readonly emit_metrics: 'Enabled' | 'Disabled';
  readonly datatype_check_threshold: number;
  readonly domain_content_threshold: number;
  readonly distribution_constraints: {
    readonly perform_comparison: 'Enabled' | 'Disabled';
    readonly comparison_threshold: number;
    readonly comparison_method: 'Robust' | 'Simple';
    readonly categorical_comparison_threshold: number;
    readonly categorical_drift_method: 'LInfinity' | 'ChiSquared';
  };
}

/** Model Monitor's constraints.json: what the current data must satisfy. */
export interface ConstraintsJson {
  readonly version: 0;
  readonly features: readonly FeatureConstraint[];
  readonly monitoring_config: MonitoringConfig;
}

/** The kinds of check a violation names (`constraint_check_type`). */
export type ConstraintCheckType =
  | 'data_type_check'
  | 'completeness_check'
  | 'baseline_drift_check'
  | 'missing_column_check'
  | 'extra_column_check'
  | 'categorical_values_check';

/** One violated constraint, as constraint_violations.json lists it. */
export interface Violation {
  readonly feature_name: string;
  readonly constraint_check_type: ConstraintCheckType;
  readonly description: string;
}

/** Model Monitor's constraint_violations.json. */
export interface ViolationsJson {
  readonly violations: readonly Violation[];
}

/** A statistics.json that cannot be read back. */
export class StatisticsFormatError extends Error {
  override readonly name = 'StatisticsFormatError';
}

function monitorType(t: InferredType): MonitorType {
  return t === 'Boolean' ? 'String' : t;
}

/** A figure for the report: JSON has no NaN/Infinity (JSON.stringify would write null), so those become 0. */
function finite(x: number): number {
  return Number.isFinite(x) ? x : 0;
}

/** A profile as Model Monitor's statistics.json. */
export function toStatisticsJson(profile: DatasetProfile): StatisticsJson {
  return {
    version: 0,
    dataset: { item_count: profile.rows },
    features: profile.columns.map((column): FeatureStatistics => {
      const common = { num_present: column.present, num_missing: column.missing };
      const inferred_type = monitorType(column.inferredType);
      const n = column.numeric;
      if (n && (inferred_type === 'Integral' || inferred_type === 'Fractional')) {
        return {
          name: column.name,
          inferred_type,
          numerical_statistics: {
            common,
            mean: finite(n.mean),
            sum: finite(n.sum),
            std_dev: finite(n.stdDev),
            min: finite(n.min),
            max: finite(n.max),
            distribution: { kll: { buckets: n.histogram.map((b) => ({ ...b })), sketch: n.sketch.toJSON() } },
          },
        };
      }
      return {
        name: column.name,
        inferred_type,
        string_statistics: {
          common,
          distinct_count: column.distinct,
          distribution: {
            categorical: { buckets: column.topValues.map((v) => ({ value: v.value, count: v.count })) },
          },
        },
      };
    }),
  };
}

function num(x: unknown, what: string): number {
  if (typeof x !== 'number' || Number.isNaN(x)) throw new StatisticsFormatError(`${what} must be a number`);
  return x;
}

/**
 * A statistics.json read back as a profile (to use a baseline): the KLL sketch is rebuilt from its
 * `data`, top values from the categorical buckets. A numeric column's `distinct` is the number of
 * distinct sketch items (a lower bound: statistics.json has no distinct count for numbers).
 * @throws StatisticsFormatError when the JSON is not a statistics.json.
 */
export function fromStatisticsJson(json: unknown): DatasetProfile {
  if (!isPlainObject(json) || !Array.isArray(json.features) || !isPlainObject(json.dataset))
    throw new StatisticsFormatError(
      'not a statistics.json: expected { version, dataset: { item_count }, features: [...] }',
    );
  const rows = num(json.dataset.item_count, 'dataset.item_count');
  const columns = json.features.map((f: unknown, i): ColumnProfile => {
    if (!isPlainObject(f) || typeof f.name !== 'string')
      throw new StatisticsFormatError(`features[${i}] has no name`);
    const type = f.inferred_type;
    if (type !== 'Integral' && type !== 'Fractional' && type !== 'String' && type !== 'Unknown')
      throw new StatisticsFormatError(
        `features[${i}] ("${f.name}") has inferred_type ${JSON.stringify(type)}`,
      );
    const stats = (isPlainObject(f.numerical_statistics) ? f.numerical_statistics : f.string_statistics) as
      Record<string, unknown> | undefined;
    const common = isPlainObject(stats?.common) ? stats.common : {};
    const present = typeof common.num_present === 'number' ? common.num_present : 0;
    const missing = typeof common.num_missing === 'number' ? common.num_missing : Math.max(0, rows - present);
    if (isPlainObject(f.numerical_statistics)) {
      const s = f.numerical_statistics;
      const where = `features[${i}] ("${f.name}").numerical_statistics`;
      const kll =
        isPlainObject(s.distribution) && isPlainObject(s.distribution.kll) ? s.distribution.kll : undefined;
      const sketchJson = kll && isPlainObject(kll.sketch) ? kll.sketch : undefined;
      let sketch: KllSketch;
      if (sketchJson && isPlainObject(sketchJson.parameters) && Array.isArray(sketchJson.data)) {
        const data = sketchJson.data.map((level: unknown) => {
          if (!Array.isArray(level) || level.some((v) => typeof v !== 'number'))
            throw new StatisticsFormatError(
              `${where}.distribution.kll.sketch.data must be arrays of numbers`,
            );
          return level as number[];
        });
        sketch = KllSketch.fromJSON({
          parameters: {
            c: typeof sketchJson.parameters.c === 'number' ? sketchJson.parameters.c : KLL_DEFAULT_C,
            k: typeof sketchJson.parameters.k === 'number' ? sketchJson.parameters.k : KLL_DEFAULT_K,
          },
          data,
        });
      } else sketch = new KllSketch();
      const histogram = kll && Array.isArray(kll.buckets) ? (kll.buckets as HistogramBucket[]) : [];
      return {
        name: f.name,
        inferredType: type,
        present,
        missing,
        numeric: {
          mean: num(s.mean, `${where}.mean`),
          sum: num(s.sum, `${where}.sum`),
          stdDev: num(s.std_dev, `${where}.std_dev`),
          min: num(s.min, `${where}.min`),
          max: num(s.max, `${where}.max`),
          sketch,
          histogram,
        },
        distinct: new Set(sketch.sortedValues()).size,
        topValues: [],
      };
    }
    const s = isPlainObject(f.string_statistics) ? f.string_statistics : {};
    const buckets =
      isPlainObject(s.distribution) &&
      isPlainObject(s.distribution.categorical) &&
      Array.isArray(s.distribution.categorical.buckets)
        ? (s.distribution.categorical.buckets as { value: unknown; count: unknown }[])
        : [];
    const topValues = buckets
      .filter((b) => isPlainObject(b) && typeof b.count === 'number')
      .map((b) => ({ value: String(b.value), count: b.count as number }));
    return {
      name: f.name,
      inferredType: type,
      present,
      missing,
      distinct: typeof s.distinct_count === 'number' ? s.distinct_count : topValues.length,
      topValues,
      topValuesExact: topValues.reduce((a, b) => a + b.count, 0) === present,
    };
  });
  return { rows, columns };
}

/** Most distinct values a String column may have for its values to become a domain constraint. */
const DOMAIN_MAX_VALUES = 20;

const DEFAULT_MONITORING_CONFIG: MonitoringConfig = {
  evaluate_constraints: 'Enabled',
  emit_metrics: 'Enabled',
  datatype_check_threshold: 0.1,
  domain_content_threshold: 0.1,
  distribution_constraints: {
    perform_comparison: 'Enabled',
    comparison_threshold: 0.1,
    comparison_method: 'Robust',
    categorical_comparison_threshold: 0.1,
    categorical_drift_method: 'LInfinity',
  },
};

/** Constraints suggested from a baseline profile (Model Monitor's constraints.json). */
export function suggestConstraints(
  profile: DatasetProfile,
  monitoringConfig: MonitoringConfig = DEFAULT_MONITORING_CONFIG,
): ConstraintsJson {
  return {
    version: 0,
    features: profile.columns.map((column): FeatureConstraint => {
      const total = column.present + column.missing;
      const inferred_type = monitorType(column.inferredType);
      const base = {
        name: column.name,
        inferred_type,
        completeness: total === 0 ? 0 : column.present / total,
      };
      if (column.numeric && (inferred_type === 'Integral' || inferred_type === 'Fractional'))
        return {
          ...base,
          num_constraints: { is_non_negative: column.numeric.min >= 0 },
          monitoringConfigOverrides: {},
        };
      const small =
        inferred_type === 'String' && column.topValuesExact !== false && column.distinct <= DOMAIN_MAX_VALUES;
      return {
        ...base,
        ...(small && column.topValues.length > 0
          ? { string_constraints: { domains: column.topValues.map((v) => v.value).sort() } }
          : {}),
        monitoringConfigOverrides: {},
      };
    }),
    monitoring_config: monitoringConfig,
  };
}

/** Overrides of the constraints' monitoring_config (and the PSI threshold, ours). */
export interface CheckThresholds {
  readonly datatypeCheckThreshold?: number;
  readonly domainContentThreshold?: number;
  readonly comparisonThreshold?: number;
  readonly categoricalComparisonThreshold?: number;
  readonly comparisonMethod?: 'Robust' | 'Simple';
  /** PSI above which a numeric column is reported as drifted. @default 0.25 */
  readonly psi?: number;
}

/** The optional inputs of {@link checkConstraints} (first call form). */
export interface CheckOptions {
  /** The baseline statistics (for baseline_drift_check); a profile or a statistics.json. */
  readonly baseline?: DatasetProfile | StatisticsJson;
  /** A drift report already computed (else computed from the baseline with the thresholds). */
  readonly drift?: DriftReport;
  readonly thresholds?: CheckThresholds;
}

function isStatisticsJson(x: unknown): x is StatisticsJson {
  return isPlainObject(x) && isPlainObject(x.dataset) && Array.isArray(x.features);
}

function isConstraintsJson(x: unknown): x is ConstraintsJson {
  return isPlainObject(x) && isPlainObject(x.monitoring_config) && Array.isArray(x.features);
}

/** Share of a column's present values that do not fit a baseline type (and so fail the type check). */
function nonConformingShare(column: ColumnProfile, expected: MonitorType): number {
  if (column.present === 0 || expected === 'String' || expected === 'Unknown') return 0;
  const t = column.typeCounts;
  if (!t) {
    const actual = monitorType(column.inferredType);
    if (actual === expected || (expected === 'Fractional' && actual === 'Integral')) return 0;
    return 1;
  }
  const bad = expected === 'Integral' ? t.fractional + t.boolean + t.string : t.boolean + t.string;
  return bad / column.present;
}

const pct = (x: number) => `${(x * 100).toFixed(2)}%`;

/**
 * Checks a profile against constraints (and, for baseline_drift_check, baseline statistics):
 * Model Monitor's constraint_violations.json.
 *
 * Two call forms: `checkConstraints(current, constraints, { baseline, drift, thresholds })` and
 * `checkConstraints(current, baselineStatistics, constraints, thresholds)`.
 */
export function checkConstraints(
  current: DatasetProfile,
  constraints: ConstraintsJson,
  options?: CheckOptions,
): ViolationsJson;
/** The second call form: the baseline statistics, then the constraints and the drift thresholds. */
export function checkConstraints(
  current: DatasetProfile,
  baselineStatistics: DatasetProfile | StatisticsJson,
  constraints: ConstraintsJson,
  thresholds?: CheckThresholds,
): ViolationsJson;
/** The implementation of both call forms above. */
export function checkConstraints(
  current: DatasetProfile,
  second: ConstraintsJson | DatasetProfile | StatisticsJson,
  third?: ConstraintsJson | CheckOptions,
  fourth?: CheckThresholds,
): ViolationsJson {
  let constraints: ConstraintsJson;
  let options: CheckOptions;
  if (isConstraintsJson(second)) {
    constraints = second;
    options = (third as CheckOptions | undefined) ?? {};
  } else {
    if (!isConstraintsJson(third)) throw new TypeError('checkConstraints: no constraints.json given');
    constraints = third;
    options = { baseline: second, ...(fourth ? { thresholds: fourth } : {}) };
  }
  const config = constraints.monitoring_config ?? DEFAULT_MONITORING_CONFIG;
  const dist = config.distribution_constraints ?? DEFAULT_MONITORING_CONFIG.distribution_constraints;
  const t = options.thresholds ?? {};
  const violations: Violation[] = [];
  const currentByName = new Map(current.columns.map((c) => [c.name, c]));
  const constrained = new Set(constraints.features.map((f) => f.name));

  for (const feature of constraints.features) {
    const column = currentByName.get(feature.name);
    if (!column) {
      violations.push({
        feature_name: feature.name,
        constraint_check_type: 'missing_column_check',
        description: `Baseline column "${feature.name}" is missing from the current dataset (the baseline has ${constraints.features.length} columns, the current dataset ${current.columns.length})`,
      });
      continue;
    }
    const overrides = feature.monitoringConfigOverrides ?? {};
    const typeThreshold =
      t.datatypeCheckThreshold ?? overrides.datatype_check_threshold ?? config.datatype_check_threshold;
    const share = nonConformingShare(column, feature.inferred_type);
    if (share > typeThreshold) {
      violations.push({
        feature_name: feature.name,
        constraint_check_type: 'data_type_check',
        description: `Data type match requirement is not met: expected ${feature.inferred_type}, ${pct(share)} of the present values are not (current inferred type ${monitorType(column.inferredType)}; threshold ${pct(typeThreshold)})`,
      });
    }
    const total = column.present + column.missing;
    const completeness = total === 0 ? 0 : column.present / total;
    if (total > 0 && completeness < feature.completeness - 1e-12) {
      violations.push({
        feature_name: feature.name,
        constraint_check_type: 'completeness_check',
        description: `Data completeness requirement is not met: completeness is ${pct(completeness)}, the constraint requires at least ${pct(feature.completeness)}`,
      });
    }
    if (feature.num_constraints?.is_non_negative && column.numeric && column.numeric.min < 0) {
      violations.push({
        feature_name: feature.name,
        constraint_check_type: 'data_type_check',
        description: `Non-negativity requirement is not met: the minimum is ${column.numeric.min}, the baseline constraint is_non_negative is true`,
      });
    }
    const domains = feature.string_constraints?.domains;
    if (domains && domains.length > 0 && column.present > 0) {
      const allowed = new Set(domains);
      const known = column.topValues.reduce((sum, v) => sum + (allowed.has(v.value) ? v.count : 0), 0);
      const unknown = (column.present - known) / column.present;
      const domainThreshold =
        t.domainContentThreshold ?? overrides.domain_content_threshold ?? config.domain_content_threshold;
      if (unknown > domainThreshold) {
        const examples = column.topValues
          .filter((v) => !allowed.has(v.value))
          .slice(0, 5)
          .map((v) => JSON.stringify(v.value));
        violations.push({
          feature_name: feature.name,
          constraint_check_type: 'categorical_values_check',
          description: `Categorical values requirement is not met: ${pct(unknown)} of the values are outside the baseline domain (threshold ${pct(domainThreshold)})${examples.length > 0 ? `, e.g. ${examples.join(', ')}` : ''}`,
        });
      }
    }
  }
  for (const column of current.columns) {
    if (!constrained.has(column.name)) {
      violations.push({
        feature_name: column.name,
        constraint_check_type: 'extra_column_check',
        description: `Column "${column.name}" is not in the baseline (the baseline has ${constraints.features.length} columns, the current dataset ${current.columns.length})`,
      });
    }
  }

  if (dist.perform_comparison !== 'Disabled' && (options.drift || options.baseline)) {
    const thresholds: DriftThresholds = {
      distance: t.comparisonThreshold ?? dist.comparison_threshold,
      categoricalDistance: t.categoricalComparisonThreshold ?? dist.categorical_comparison_threshold,
      method: t.comparisonMethod ?? dist.comparison_method,
      ...(t.psi !== undefined ? { psi: t.psi } : {}),
    };
    const baseline =
      options.baseline && isStatisticsJson(options.baseline) && !('rows' in options.baseline)
        ? fromStatisticsJson(options.baseline)
        : (options.baseline as DatasetProfile | undefined);
    const drift = options.drift ?? compareProfiles(current, baseline!, thresholds);
    for (const c of drift.columns) {
      if (!c.drifted || !constrained.has(c.column)) continue;
      const metric =
        c.kind === 'numeric'
          ? `KS distance ${c.distance.toFixed(4)}`
          : `L-infinity distance ${c.distance.toFixed(4)}`;
      const psi = c.psi === undefined ? '' : `, PSI ${c.psi.toFixed(4)} (threshold ${drift.thresholds.psi})`;
      violations.push({
        feature_name: c.column,
        constraint_check_type: 'baseline_drift_check',
        description: `Baseline drift distance: ${metric} exceeds threshold ${c.threshold} or PSI its threshold (${drift.method} method)${psi}`,
      });
    }
  }
  return { violations };
}
