/**
 * The data-quality gate's decision rules on profiles built by the streaming profiler, with the
 * baseline round-tripped through its Model Monitor reports as ingest stores it.
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
import { evaluateDataQuality } from '../../../core/use-cases/data-quality-gate';

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
      expect.objectContaining({ feature_name: column, constraint_check_type: expect.stringMatching(check) }),
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
