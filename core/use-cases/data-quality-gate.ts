/**
 * The data-quality gate before training. Where this stands: core use-case step, called by
 * {@link IngestDataset} once a dataset has been read whole (never on a partial profile).
 *
 * It writes the dataset's reports in SageMaker Model Monitor's formats under
 * `reports/<model>/<datasetId>/` (`statistics.json` always, `constraints.json` suggested from this
 * dataset, `constraint_violations.json` when checked against a baseline), finds the model's
 * baseline (the champion's training dataset, else the first dataset accepted under the gate),
 * checks the dataset against it and decides:
 *
 * - schema and quality violations (missing and extra columns, data types, completeness below the
 *   baseline's by more than `dataQuality.completenessTolerance`, negative values where the
 *   baseline had none, values outside a categorical domain) refuse the dataset;
 * - drift (KS / L-infinity distance and PSI against the baseline's statistics) is recorded, and
 *   refuses the dataset only when `dataQuality.blockOnDrift` is on.
 *
 * The verdict is a {@link DataQualitySummary} kept on the dataset's registry record.
 */
import type { ModelConfig } from '../domain/model-config';
import { reportKeys } from '../domain/naming';
import {
  MAX_RECORDED_VIOLATIONS,
  type ColumnDriftSummary,
  type DataQualityDecision,
  type DataQualitySummary,
  type DataQualityViolation,
} from '../domain/registry';
import type { DatasetProfile as ColumnProfiles, DriftReport } from '../profiling/api';
import { compareProfiles } from '../profiling/drift';
import {
  checkConstraints,
  fromStatisticsJson,
  suggestConstraints,
  toStatisticsJson,
  type ConstraintsJson,
} from '../profiling/model-monitor';
import type { MlopsContext } from './context';

/** Model Monitor's check type for drift; every other check type is a schema or quality violation. */
const DRIFT_CHECK = 'baseline_drift_check';

/** The baseline a dataset is checked against. */
export interface DataQualityBaseline {
  readonly datasetId: string;
  readonly source: 'champion' | 'first-accepted';
  readonly statistics: ColumnProfiles;
  readonly constraints: ConstraintsJson;
}

/** What the gate decided, and what ingest must do about it. */
export interface DataQualityOutcome {
  readonly summary: DataQualitySummary;
  /** Set when the dataset is refused: the rejection to record (no training job). */
  readonly rejection?: { readonly code: 'DATA_QUALITY' | 'DATA_DRIFT'; readonly reason: string };
  /** True when the model has no baseline yet: this dataset becomes it once accepted. */
  readonly becomesBaseline: boolean;
}

/**
 * The model config's `dataQuality` section, defaults applied: drift thresholds (distance, PSI),
 * whether drift refuses the dataset, and how much completeness may drop below the baseline's.
 */
export type DataQualitySettings = ModelConfig['dataQuality'];

/** The verdict of the checks, before anything is written. */
export interface DataQualityEvaluation {
  /** Schema and quality violations (they refuse the dataset). */
  readonly violations: readonly DataQualityViolation[];
  /** Every violation Model Monitor's report lists, drift included. */
  readonly reportViolations: readonly DataQualityViolation[];
  readonly drift: DriftReport;
  readonly decision: DataQualityDecision;
}

/**
 * Checks a dataset's profile against a baseline: pure, so the decision rules are testable without
 * storage.
 */
export function evaluateDataQuality(
  current: ColumnProfiles,
  baseline: Pick<DataQualityBaseline, 'statistics' | 'constraints'>,
  settings: DataQualitySettings,
): DataQualityEvaluation {
  const thresholds = { distance: settings.driftThreshold, psi: settings.psiThreshold };
  const drift = compareProfiles(current, baseline.statistics, thresholds);
  const checked = checkConstraints(current, withTolerance(baseline.constraints, settings), {
    baseline: baseline.statistics,
    drift,
  });
  const all: DataQualityViolation[] = checked.violations.map((v) => ({
    feature_name: v.feature_name,
    constraint_check_type: v.constraint_check_type,
    description: v.description,
  }));
  const violations = all.filter((v) => v.constraint_check_type !== DRIFT_CHECK);
  const decision: DataQualityDecision =
    violations.length > 0 || (drift.drifted.length > 0 && settings.blockOnDrift)
      ? 'rejected'
      : drift.drifted.length > 0
        ? 'accepted-with-drift'
        : 'accepted';
  return { violations, reportViolations: all, drift, decision };
}

/**
 * The baseline's completeness constraints lowered by the model's tolerance: a column may lose up
 * to `completenessTolerance` of its completeness before the check fails.
 */
function withTolerance(constraints: ConstraintsJson, settings: DataQualitySettings): ConstraintsJson {
  return {
    ...constraints,
    features: constraints.features.map((feature) =>
      feature.completeness === undefined
        ? feature
        : { ...feature, completeness: Math.max(0, feature.completeness - settings.completenessTolerance) },
    ),
  };
}

/** Writes a dataset's reports, finds its baseline, checks it, and says what to do. */
export class DataQualityGate {
  constructor(private readonly ctx: MlopsContext) {}

  async check(request: {
    readonly model: string;
    readonly datasetId: string;
    /** How the dataset is named in messages (its key or folder). */
    readonly source: string;
    readonly profile: ColumnProfiles;
    readonly settings: DataQualitySettings;
  }): Promise<DataQualityOutcome> {
    const { ctx } = this;
    const { model, datasetId, source, profile, settings } = request;
    const keys = reportKeys(model, datasetId);
    const uri = (key: string) => `s3://${ctx.bucket}/${key}`;
    await Promise.all([
      ctx.objects.write(ctx.bucket, keys.statistics, json(toStatisticsJson(profile)), 'application/json'),
      ctx.objects.write(ctx.bucket, keys.constraints, json(suggestConstraints(profile)), 'application/json'),
    ]);
    const thresholds = {
      distance: settings.driftThreshold,
      psi: settings.psiThreshold,
      completenessTolerance: settings.completenessTolerance,
      blockOnDrift: settings.blockOnDrift,
    };
    const checkedAt = ctx.clock.now().toISOString();
    const found = await this.findBaseline(model, datasetId);

    if (!found.baseline) {
      const summary = `no baseline yet: dataset ${datasetId} becomes the model's data-quality baseline`;
      return {
        becomesBaseline: !found.recorded,
        summary: {
          decision: 'accepted',
          baselineSource: 'none',
          thresholds,
          drift: [],
          driftedColumns: [],
          violations: [],
          violationCount: 0,
          reports: { statistics: uri(keys.statistics), constraints: uri(keys.constraints) },
          summary: found.recorded
            ? `no baseline with reports found (baseline ${found.recorded} has none); accepted unchecked`
            : summary,
          checkedAt,
        },
      };
    }

    const baseline = found.baseline;
    const evaluation = evaluateDataQuality(profile, baseline, settings);
    await ctx.objects.write(
      ctx.bucket,
      keys.violations,
      json({ violations: evaluation.reportViolations }),
      'application/json',
    );
    const drift = evaluation.drift.columns.map(driftSummary);
    const findings = describe(evaluation, settings);
    const sentence = `${evaluation.decision}: ${findings}`;
    const summary: DataQualitySummary = {
      decision: evaluation.decision,
      baselineDatasetId: baseline.datasetId,
      baselineSource: baseline.source,
      thresholds,
      drift,
      driftedColumns: [...evaluation.drift.drifted],
      maxDistance: finite(evaluation.drift.maxDistance),
      maxPsi: finite(evaluation.drift.maxPsi),
      violations: evaluation.violations.slice(0, MAX_RECORDED_VIOLATIONS),
      violationCount: evaluation.violations.length,
      reports: {
        statistics: uri(keys.statistics),
        constraints: uri(keys.constraints),
        violations: uri(keys.violations),
      },
      summary: sentence,
      checkedAt,
    };
    if (evaluation.decision !== 'rejected') return { summary, becomesBaseline: false };
    const prefix = `${source}: data quality check of dataset ${datasetId} against baseline ${baseline.datasetId}`;
    return {
      summary,
      becomesBaseline: false,
      rejection:
        evaluation.violations.length > 0
          ? { code: 'DATA_QUALITY', reason: `${prefix} failed: ${findings}` }
          : { code: 'DATA_DRIFT', reason: `${prefix} refused it: ${findings}` },
    };
  }

  /**
   * The champion's training dataset when its reports exist, else the model's recorded baseline.
   * `recorded` is the model's `baselineDatasetId` (set once), whether or not its reports were found.
   */
  private async findBaseline(
    model: string,
    datasetId: string,
  ): Promise<{ baseline?: DataQualityBaseline; recorded?: string }> {
    const { registry } = this.ctx;
    const record = await registry.getModel(model);
    const recorded = record?.baselineDatasetId;
    if (record?.champion !== undefined) {
      const champion = await registry.getVersion(model, record.champion);
      if (champion && champion.datasetId !== datasetId) {
        const baseline = await this.loadBaseline(model, champion.datasetId, 'champion');
        if (baseline) return { baseline, ...(recorded ? { recorded } : {}) };
      }
    }
    if (recorded && recorded !== datasetId) {
      const baseline = await this.loadBaseline(model, recorded, 'first-accepted');
      if (baseline) return { baseline, recorded };
    }
    return recorded && recorded !== datasetId ? { recorded } : {};
  }

  private async loadBaseline(
    model: string,
    datasetId: string,
    source: DataQualityBaseline['source'],
  ): Promise<DataQualityBaseline | undefined> {
    const keys = reportKeys(model, datasetId);
    const [statistics, constraints] = await Promise.all([
      this.ctx.objects.readText(this.ctx.bucket, keys.statistics),
      this.ctx.objects.readText(this.ctx.bucket, keys.constraints),
    ]);
    if (statistics === undefined || constraints === undefined) {
      this.ctx.log.warn('baseline reports not found', { model, datasetId, source });
      return undefined;
    }
    try {
      const parsed = JSON.parse(constraints) as ConstraintsJson;
      if (!Array.isArray(parsed.features)) throw new Error('constraints.json has no features array');
      return {
        datasetId,
        source,
        statistics: fromStatisticsJson(JSON.parse(statistics)),
        constraints: parsed,
      };
    } catch (error) {
      // A damaged baseline must not wedge ingest in retries: it is skipped (and said so).
      this.ctx.log.warn('baseline reports unreadable; skipped', {
        model,
        datasetId,
        source,
        error: (error as Error).message,
      });
      return undefined;
    }
  }
}

/** The findings in one sentence: violations first, then drift. */
function describe(evaluation: DataQualityEvaluation, settings: DataQualitySettings): string {
  const parts: string[] = [];
  if (evaluation.violations.length > 0) {
    const shown = evaluation.violations
      .slice(0, 10)
      .map((v) => `${v.constraint_check_type} on "${v.feature_name}": ${v.description}`);
    const more = evaluation.violations.length - shown.length;
    parts.push(`${shown.join('; ')}${more > 0 ? `; and ${more} more (see constraint_violations.json)` : ''}`);
  }
  const drifted = evaluation.drift.columns.filter((c) => c.drifted);
  if (drifted.length > 0) {
    const list = drifted
      .map(
        (c) =>
          `${c.column} (${c.kind === 'numeric' ? 'KS' : 'L-inf'} ${c.distance.toFixed(3)}${c.psi === undefined ? '' : `, PSI ${c.psi.toFixed(3)}`})`,
      )
      .join(', ');
    parts.push(
      `drift in ${list}${settings.blockOnDrift ? ", and the model's dataQuality.blockOnDrift is on" : '; recorded, training goes on (dataQuality.blockOnDrift is off)'}`,
    );
  } else parts.push('no column drifted');
  return parts.join('; ');
}

function driftSummary(column: DriftReport['columns'][number]): ColumnDriftSummary {
  const psi = column.psi === undefined ? undefined : finite(column.psi);
  return {
    column: column.column,
    kind: column.kind,
    distance: finite(column.distance) ?? 1,
    ...(psi !== undefined ? { psi } : {}),
    drifted: column.drifted,
  };
}

/** DynamoDB stores no NaN or Infinity: a large PSI is capped, a NaN dropped. */
function finite(value: number): number | undefined {
  if (Number.isNaN(value)) return undefined;
  if (!Number.isFinite(value)) return value > 0 ? 1e9 : -1e9;
  return Math.round(value * 1e6) / 1e6;
}

function json(value: unknown): string {
  return JSON.stringify(value, null, 2);
}
