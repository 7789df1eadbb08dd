/**
 * The data-quality gate's decision rules on profiles built by the streaming profiler, with the
 * baseline round-tripped through its Model Monitor reports as ingest stores it; then the gate itself
 * (DataQualityGate.check) on the in-memory registry and bucket (test/support/memory-context.ts):
 * the reports it writes, the baseline it finds (the champion's training data, else the first
 * accepted dataset, skipping one whose reports are missing or damaged), and what it refuses.
 */
import { describe, expect, it } from 'vitest';
import { modelConfigSchema } from '../../../core/domain/model-config';
import { DatasetProfiler } from '../../../core/profiling/profiler';
import {
  fromStatisticsJson,
  suggestConstraints,
  toStatisticsJson,
  type ConstraintsJson,
} from '../../../core/profiling/model-monitor';
import type { DatasetProfile } from '../../../core/profiling/api';
import { reportKeys } from '../../../core/domain/naming';
import { DataQualityGate, evaluateDataQuality } from '../../../core/use-cases/data-quality-gate';
import { MEMORY_BUCKET as BUCKET, useMemoryContext, type MemoryContext } from '../../support/memory-context';
import { stringMatching } from '../../support/matchers';

const DEFAULTS = modelConfigSchema.parse({}).dataQuality;

function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 0x100000000;
}

/** Rows of (amount: fractional ≥ 0, visits: integral ≥ 0, plan: categorical, label). */
function profile(
  rows: number,
  seed: number,
  edit: (fields: Record<string, string>, i: number) => void = () => {},
  header = ['amount', 'visits', 'plan', 'label'],
): DatasetProfile {
  const random = seeded(seed);
  const profiler = new DatasetProfiler(header);
  for (let i = 0; i < rows; i++) {
    const fields: Record<string, string> = {
      amount: (random() * 100).toFixed(2),
      visits: String(Math.floor(random() * 10)),
      plan: ['basic', 'plus', 'pro'][Math.floor(random() * 3)]!,
      label: random() < 0.3 ? '1' : '0',
    };
    edit(fields, i);
    profiler.add(header.map((h) => fields[h] ?? ''));
  }
  return profiler.finish();
}

/** The baseline as the gate reads it back from statistics.json and constraints.json. */
function baselineOf(p: DatasetProfile) {
  return {
    statistics: fromStatisticsJson(JSON.parse(JSON.stringify(toStatisticsJson(p)))),
    constraints: JSON.parse(JSON.stringify(suggestConstraints(p))) as ConstraintsJson,
  };
}

const baseline = baselineOf(profile(3000, 1));

describe('evaluateDataQuality', () => {
  it('accepts a dataset like the baseline, with every column compared', () => {
    const result = evaluateDataQuality(profile(3000, 2), baseline, DEFAULTS);
    expect(result.violations).toEqual([]);
    expect(result.decision).toBe('accepted');
    expect(result.drift.columns.map((c) => [c.column, c.kind])).toEqual([
      ['amount', 'numeric'],
      ['visits', 'numeric'],
      ['plan', 'categorical'],
      ['label', 'numeric'],
    ]);
    expect(result.drift.drifted).toEqual([]);
  });

  it.each<[string, (f: Record<string, string>, i: number) => void, string[] | undefined, string, RegExp]>([
    ['a missing column', () => {}, ['amount', 'plan', 'label'], 'visits', /missing_column/],
    [
      'an extra column',
      (f) => (f['promo'] = 'x'),
      ['amount', 'visits', 'plan', 'label', 'promo'],
      'promo',
      /extra_column/,
    ],
    [
      'text in an integral column',
      (f, i) => i % 3 === 0 && (f['visits'] = 'many'),
      undefined,
      'visits',
      /data_type/,
    ],
    [
      'a completeness drop beyond the tolerance',
      (f, i) => i % 10 === 0 && (f['amount'] = ''),
      undefined,
      'amount',
      /completeness/,
    ],
    [
      'negative values where the baseline had none',
      (f, i) => i % 50 === 0 && (f['amount'] = '-5'),
      undefined,
      'amount',
      /data_type_check/,
    ],
    [
      'values outside the categorical domain (beyond domain_content_threshold, 10 %)',
      (f, i) => i % 5 === 0 && (f['plan'] = 'platinum'),
      undefined,
      'plan',
      /categorical_values/,
    ],
  ])('refuses %s', (_what, edit, header, column, check) => {
    const result = evaluateDataQuality(profile(3000, 2, edit, header), baseline, DEFAULTS);
    expect(result.decision).toBe('rejected');
    expect(result.violations).toContainEqual(
      expect.objectContaining({ feature_name: column, constraint_check_type: stringMatching(check) }),
    );
  });

  it('tolerates a completeness drop within the tolerance', () => {
    const result = evaluateDataQuality(
      profile(3000, 2, (f, i) => i % 50 === 0 && (f['amount'] = '')),
      baseline,
      DEFAULTS,
    );
    expect(result.violations).toEqual([]);
  });

  it('records drift without refusing, unless the policy blocks on drift', () => {
    const shifted = profile(3000, 2, (f) => (f['amount'] = (Number(f['amount']) * 0.5 + 40).toFixed(2)));
    const recorded = evaluateDataQuality(shifted, baseline, DEFAULTS);
    expect(recorded.decision).toBe('accepted-with-drift');
    expect(recorded.drift.drifted).toEqual(['amount']);
    const amount = recorded.drift.columns.find((c) => c.column === 'amount')!;
    expect(amount.distance).toBeGreaterThan(0.1);
    expect(amount.psi).toBeGreaterThan(0.25);
    expect(recorded.violations).toEqual([]);

    const blocked = evaluateDataQuality(shifted, baseline, { ...DEFAULTS, blockOnDrift: true });
    expect(blocked.decision).toBe('rejected');
    expect(blocked.violations).toEqual([]);
  });

  it('uses the model thresholds', () => {
    const shifted = profile(3000, 2, (f) => (f['amount'] = (Number(f['amount']) * 0.5 + 40).toFixed(2)));
    const lenient = evaluateDataQuality(shifted, baseline, {
      ...DEFAULTS,
      driftThreshold: 0.9,
      psiThreshold: 10,
    });
    expect(lenient.decision).toBe('accepted');
  });
});

describe('reportKeys', () => {
  it('puts the reports under reports/<model>/<dataset>/', () => {
    expect(reportKeys('churn', 'jan-0123456789')).toEqual({
      statistics: 'reports/churn/jan-0123456789/statistics.json',
      constraints: 'reports/churn/jan-0123456789/constraints.json',
      violations: 'reports/churn/jan-0123456789/constraint_violations.json',
    });
  });
});

describe('DataQualityGate.check', () => {
  const memory = useMemoryContext();
  const MODEL = 'dq';
  const shifted = (f: Record<string, string>) => (f['amount'] = (Number(f['amount']) * 0.5 + 40).toFixed(2));

  function check(m: MemoryContext, datasetId: string, p: DatasetProfile, settings = DEFAULTS) {
    return new DataQualityGate(m).check({
      model: MODEL,
      datasetId,
      source: `datasets/${MODEL}/${datasetId}.csv`,
      profile: p,
      settings,
    });
  }

  function json(m: MemoryContext, key: string): unknown {
    const text = m.text(key);
    return text === undefined ? undefined : JSON.parse(text);
  }

  /**
   * What ingest does with an accepted dataset: registers it with a TRAINING version, as the
   * model's baseline when it has none yet. Returns the version number.
   */
  async function accept(m: MemoryContext, datasetId: string, becomesBaseline: boolean): Promise<number> {
    const at = m.clock.now().toISOString();
    const { version } = await m.registry.registerDatasetAndVersion({
      dataset: {
        model: MODEL,
        datasetId,
        sourceUri: `s3://${BUCKET}/datasets/${MODEL}/${datasetId}.csv`,
        status: 'ACCEPTED',
        createdAt: at,
      },
      buildVersion: (n) => ({
        model: MODEL,
        version: n,
        status: 'TRAINING',
        datasetId,
        trainingJobName: m.names.trainingJob(MODEL, n, datasetId),
        image: 'xgboost',
        hyperparameters: {},
        objectiveMetric: 'validation:auc',
        createdAt: at,
        updatedAt: at,
      }),
      audit: {
        model: MODEL,
        at,
        eventId: `VERSION_CREATED:${datasetId}`,
        type: 'VERSION_CREATED',
        actor: 'test',
        reason: 'test',
      },
      ...(becomesBaseline ? { baselineDatasetId: datasetId } : {}),
    });
    return version!.version;
  }

  /** Moves a TRAINING version to PRODUCTION through the registry's transitions: the champion. */
  async function makeChampion(m: MemoryContext, version: number): Promise<void> {
    const at = m.clock.now().toISOString();
    const audit = (type: string) => ({
      model: MODEL,
      at,
      eventId: `test:${type}:${version}`,
      type,
      actor: 'test',
      version,
      reason: type,
    });
    const request = (
      from: 'TRAINING' | 'TRAINED' | 'APPROVED',
      to: 'TRAINED' | 'APPROVED' | 'DEPLOYING',
    ) => ({
      model: MODEL,
      version,
      from: [from],
      to,
      audit: audit(to),
    });
    expect(await m.registry.transitionVersion(request('TRAINING', 'TRAINED'))).toBe(true);
    expect(await m.registry.transitionVersion(request('TRAINED', 'APPROVED'))).toBe(true);
    expect(await m.registry.startDeployment(request('APPROVED', 'DEPLOYING'))).toBe(true);
    expect(await m.registry.promote({ model: MODEL, version, at, audit: audit('PROMOTED') })).toBe(true);
  }

  it('writes the reports of the first dataset, which becomes the baseline, unchecked', async () => {
    const m = memory();
    const outcome = await check(m, 'jan', profile(3000, 1));
    expect(outcome.becomesBaseline).toBe(true);
    expect(outcome.rejection).toBeUndefined();
    expect(outcome.summary).toMatchObject({
      decision: 'accepted',
      baselineSource: 'none',
      drift: [],
      violations: [],
      violationCount: 0,
      thresholds: {
        distance: 0.1,
        psi: 0.25,
        completenessTolerance: DEFAULTS.completenessTolerance,
        blockOnDrift: false,
      },
      reports: {
        statistics: `s3://${BUCKET}/reports/dq/jan/statistics.json`,
        constraints: `s3://${BUCKET}/reports/dq/jan/constraints.json`,
      },
      summary: "no baseline yet: dataset jan becomes the model's data-quality baseline",
      checkedAt: '2026-11-26T10:00:00.000Z',
    });
    expect(outcome.summary.baselineDatasetId).toBeUndefined();
    expect(m.objects.keys(BUCKET, 'reports/')).toEqual([
      'reports/dq/jan/constraints.json',
      'reports/dq/jan/statistics.json',
    ]);
    expect(json(m, 'reports/dq/jan/statistics.json')).toMatchObject({
      version: 0,
      dataset: { item_count: 3000 },
    });
    expect(json(m, 'reports/dq/jan/constraints.json')).toHaveProperty('features');
  });

  it('checks a later dataset against the first accepted one and writes the violations report', async () => {
    const m = memory();
    await check(m, 'jan', profile(3000, 1));
    await accept(m, 'jan', true);
    const outcome = await check(m, 'feb', profile(3000, 2));
    expect(outcome.becomesBaseline).toBe(false);
    expect(outcome.rejection).toBeUndefined();
    expect(outcome.summary).toMatchObject({
      decision: 'accepted',
      baselineDatasetId: 'jan',
      baselineSource: 'first-accepted',
      driftedColumns: [],
      violationCount: 0,
      reports: { violations: `s3://${BUCKET}/reports/dq/feb/constraint_violations.json` },
    });
    expect(outcome.summary.drift.map((d) => d.column)).toEqual(['amount', 'visits', 'plan', 'label']);
    expect(outcome.summary.summary).toBe('accepted: no column drifted');
    expect(json(m, 'reports/dq/feb/constraint_violations.json')).toEqual({ violations: [] });
  });

  it('refuses schema and quality violations with DATA_QUALITY, naming the source and the baseline', async () => {
    const m = memory();
    await check(m, 'jan', profile(3000, 1));
    await accept(m, 'jan', true);
    const outcome = await check(
      m,
      'feb',
      profile(3000, 2, () => {}, ['amount', 'plan', 'label']),
    );
    expect(outcome.rejection).toEqual({
      code: 'DATA_QUALITY',
      reason: stringMatching(
        /^datasets\/dq\/feb\.csv: data quality check of dataset feb against baseline jan failed: missing_column_check on "visits"/,
      ),
    });
    expect(outcome.summary).toMatchObject({ decision: 'rejected', violationCount: 1 });
    expect(outcome.summary.violations).toEqual([
      expect.objectContaining({ feature_name: 'visits', constraint_check_type: 'missing_column_check' }),
    ]);
    expect(json(m, 'reports/dq/feb/constraint_violations.json')).toEqual({
      violations: [
        expect.objectContaining({ feature_name: 'visits', constraint_check_type: 'missing_column_check' }),
      ],
    });
  });

  it('keeps at most MAX_RECORDED_VIOLATIONS on the record, and counts them all', async () => {
    const m = memory();
    const wide = Array.from({ length: 60 }, (_, i) => `c${i}`);
    const profiler = new DatasetProfiler([...wide, 'label']);
    for (let i = 0; i < 100; i++) profiler.add([...wide.map(() => String(i % 7)), String(i % 2)]);
    await check(m, 'jan', profiler.finish());
    await accept(m, 'jan', true);
    const narrow = new DatasetProfiler(['label']);
    for (let i = 0; i < 100; i++) narrow.add([String(i % 2)]);
    const outcome = await check(m, 'feb', narrow.finish());
    expect(outcome.summary.violationCount).toBe(60);
    expect(outcome.summary.violations).toHaveLength(50);
    expect(outcome.rejection!.reason).toMatch(/; and 50 more \(see constraint_violations\.json\)/);
    expect(
      (json(m, 'reports/dq/feb/constraint_violations.json') as { violations: unknown[] }).violations,
    ).toHaveLength(60);
  });

  it('records drift and accepts; refuses it with DATA_DRIFT when the policy blocks on drift', async () => {
    const m = memory();
    await check(m, 'jan', profile(3000, 1));
    await accept(m, 'jan', true);
    const recorded = await check(m, 'feb', profile(3000, 2, shifted));
    expect(recorded.rejection).toBeUndefined();
    expect(recorded.summary).toMatchObject({ decision: 'accepted-with-drift', driftedColumns: ['amount'] });
    expect(recorded.summary.summary).toMatch(
      /drift in amount \(KS 0\.\d+, PSI \d+\.\d+\); recorded, training goes on/,
    );
    expect(recorded.summary.maxDistance).toBeGreaterThan(0.1);

    const blocked = await check(m, 'mar', profile(3000, 3, shifted), { ...DEFAULTS, blockOnDrift: true });
    expect(blocked.rejection).toEqual({
      code: 'DATA_DRIFT',
      reason: stringMatching(
        /^datasets\/dq\/mar\.csv: data quality check of dataset mar against baseline jan refused it: drift in amount \(KS 0\.\d+, PSI \d+\.\d+\), and the model's dataQuality\.blockOnDrift is on$/,
      ),
    });
    expect(blocked.summary).toMatchObject({
      decision: 'rejected',
      violationCount: 0,
      thresholds: { blockOnDrift: true },
    });
  });

  it("compares with the champion's training data once there is a champion, keeping the recorded baseline", async () => {
    const m = memory();
    await check(m, 'jan', profile(3000, 1));
    await accept(m, 'jan', true);
    await check(m, 'feb', profile(3000, 2, shifted));
    const v2 = await accept(m, 'feb', false);
    await makeChampion(m, v2);

    const outcome = await check(m, 'mar', profile(3000, 3, shifted));
    expect(outcome.summary).toMatchObject({
      decision: 'accepted',
      baselineDatasetId: 'feb',
      baselineSource: 'champion',
      driftedColumns: [],
    });
    expect((await m.registry.getModel(MODEL))?.baselineDatasetId).toBe('jan');
  });

  it("falls back to the first accepted dataset when the champion's reports are damaged, and says so", async () => {
    const m = memory();
    await check(m, 'jan', profile(3000, 1));
    await accept(m, 'jan', true);
    await check(m, 'feb', profile(3000, 2, shifted));
    await makeChampion(m, await accept(m, 'feb', false));
    await m.objects.write(
      BUCKET,
      'reports/dq/feb/constraints.json',
      '{"features": "none"}',
      'application/json',
    );

    const outcome = await check(m, 'mar', profile(3000, 3));
    expect(outcome.summary).toMatchObject({
      baselineDatasetId: 'jan',
      baselineSource: 'first-accepted',
      decision: 'accepted',
    });
    expect(m.log.entries).toContainEqual(
      expect.objectContaining({
        level: 'warn',
        message: 'baseline reports unreadable; skipped',
        extra: [expect.objectContaining({ datasetId: 'feb', source: 'champion' })],
      }),
    );
  });

  it('accepts unchecked when the recorded baseline has no reports, without making a new baseline', async () => {
    const m = memory();
    await accept(m, 'jan', true); // registered, but its reports are gone
    const outcome = await check(
      m,
      'feb',
      profile(3000, 2, () => {}, ['amount', 'label']),
    );
    expect(outcome.becomesBaseline).toBe(false);
    expect(outcome.rejection).toBeUndefined();
    expect(outcome.summary).toMatchObject({
      decision: 'accepted',
      baselineSource: 'none',
      summary: 'no baseline with reports found (baseline jan has none); accepted unchecked',
    });
    expect(m.log.entries).toContainEqual(
      expect.objectContaining({
        level: 'warn',
        message: 'baseline reports not found',
        extra: [expect.objectContaining({ datasetId: 'jan' })],
      }),
    );
  });

  it('throws when its reports cannot be written', async () => {
    const m = memory();
    m.objects.failNext('write');
    await expect(check(m, 'jan', profile(300, 1))).rejects.toMatchObject({ name: 'InternalError' });
  });
});
