import { describe, expect, it } from 'vitest';
import type { DatasetProfile } from '../../../core/profiling/api';
import {
  checkConstraints,
  fromStatisticsJson,
  StatisticsFormatError,
  suggestConstraints,
  toStatisticsJson,
  type ConstraintsJson,
} from '../../../core/profiling/model-monitor';
import { DatasetProfiler } from '../../../core/profiling/profiler';
import { objectContaining, stringContaining } from '../../support/matchers';
import { gaussian, seeded } from './helpers';

const profile = (header: string[], rows: (string | null)[][]): DatasetProfile => {
  const p = new DatasetProfiler(header);
  for (const r of rows) p.add(r);
  return p.finish();
};

const rnd = seeded(21);
const header = ['age', 'income', 'segment', 'vip'];
const baseRows = Array.from({ length: 5000 }, (_, i) => [
  String(20 + Math.floor(rnd() * 50)),
  (50_000 + gaussian(rnd) * 9000).toFixed(2),
  ['retail', 'smb', 'enterprise'][i % 3]!,
  i % 10 === 0 ? '' : i % 2 ? 'true' : 'false',
]);
const baseline = profile(header, baseRows);

describe('statistics.json', () => {
  const stats = toStatisticsJson(baseline);

  it('has the documented shape and field names', () => {
    expect(stats.version).toBe(0);
    expect(stats.dataset).toEqual({ item_count: 5000 });
    const [age, income, segment, vip] = stats.features;
    expect(Object.keys(age!)).toEqual(['name', 'inferred_type', 'numerical_statistics']);
    expect(age!.inferred_type).toBe('Integral');
    expect(income!.inferred_type).toBe('Fractional');
    const n = income!.numerical_statistics!;
    expect(Object.keys(n)).toEqual(['common', 'mean', 'sum', 'std_dev', 'min', 'max', 'distribution']);
    expect(n.common).toEqual({ num_present: 5000, num_missing: 0 });
    expect(Object.keys(n.distribution.kll)).toEqual(['buckets', 'sketch']);
    expect(n.distribution.kll.buckets).toHaveLength(10);
    expect(Object.keys(n.distribution.kll.buckets[0]!)).toEqual(['lower_bound', 'upper_bound', 'count']);
    expect(n.distribution.kll.sketch.parameters).toEqual({ c: 0.64, k: 2048 });
    expect(Array.isArray(n.distribution.kll.sketch.data[0])).toBe(true);
    expect(segment!.inferred_type).toBe('String');
    const s = segment!.string_statistics!;
    expect(Object.keys(s)).toEqual(['common', 'distinct_count', 'distribution']);
    expect(s.distinct_count).toBe(3);
    expect(s.distribution.categorical.buckets.map((b) => Object.keys(b))).toEqual([
      ['value', 'count'],
      ['value', 'count'],
      ['value', 'count'],
    ]);
    // Boolean is reported as String, as Model Monitor knows no Boolean
    expect(vip!.inferred_type).toBe('String');
    expect(vip!.string_statistics!.common).toEqual({ num_present: 4500, num_missing: 500 });
  });

  it('reads back into a profile with the sketch rebuilt from its data', () => {
    const back = fromStatisticsJson(JSON.parse(JSON.stringify(stats)));
    expect(back.rows).toBe(5000);
    const income = back.columns[1]!;
    const original = baseline.columns[1]!;
    expect(income.numeric!.mean).toBe(original.numeric!.mean);
    for (const q of [0.1, 0.5, 0.9])
      expect(income.numeric!.sketch.quantile(q)).toBe(original.numeric!.sketch.quantile(q));
    expect(back.columns[2]!.topValues).toEqual(baseline.columns[2]!.topValues);
    expect(() => fromStatisticsJson({ foo: 1 })).toThrow(StatisticsFormatError);
    expect(() =>
      fromStatisticsJson({ dataset: { item_count: 1 }, features: [{ name: 'x', inferred_type: 'Bogus' }] }),
    ).toThrow('features[0] ("x") has inferred_type "Bogus"');
  });
});

describe('constraints.json', () => {
  const constraints = suggestConstraints(baseline);

  it('has the documented shape and field names', () => {
    expect(constraints.version).toBe(0);
    const [age, , segment, vip] = constraints.features;
    expect(age).toEqual({
      name: 'age',
      inferred_type: 'Integral',
      completeness: 1,
      num_constraints: { is_non_negative: true },
      monitoringConfigOverrides: {},
    });
    expect(segment!.string_constraints).toEqual({ domains: ['enterprise', 'retail', 'smb'] });
    expect(vip!.completeness).toBe(0.9);
    expect(constraints.monitoring_config).toEqual({
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
    });
  });
});

describe('constraint_violations.json', () => {
  const constraints: ConstraintsJson = suggestConstraints(baseline);
  const statistics = toStatisticsJson(baseline);

  it('no violation for data like the baseline', () => {
    const r = seeded(99);
    const like = profile(
      header,
      Array.from({ length: 3000 }, (_, i) => [
        String(20 + Math.floor(r() * 50)),
        (50_000 + gaussian(r) * 9000).toFixed(2),
        ['retail', 'smb', 'enterprise'][i % 3]!,
        i % 10 === 0 ? '' : i % 2 ? 'true' : 'false',
      ]),
    );
    expect(checkConstraints(like, statistics, constraints)).toEqual({ violations: [] });
  });

  it('reports each check type with AWS names', () => {
    const r = seeded(7);
    const bad = profile(
      ['age', 'income', 'segment', 'extra'],
      Array.from({ length: 3000 }, (_, i) => [
        i % 4 === 0 ? 'unknown' : String(-5 + Math.floor(r() * 50)),
        i % 3 === 0 ? '' : (80_000 + gaussian(r) * 9000).toFixed(2),
        ['retail', 'gov', 'edu'][i % 3]!,
        'x',
      ]),
    );
    const { violations } = checkConstraints(bad, statistics, constraints);
    for (const v of violations)
      expect(Object.keys(v)).toEqual(['feature_name', 'constraint_check_type', 'description']);
    const got = violations.map((v) => `${v.constraint_check_type}:${v.feature_name}`).sort();
    expect(got).toEqual(
      [
        'missing_column_check:vip',
        'extra_column_check:extra',
        'data_type_check:age', // 25 % text in an Integral column
        'completeness_check:income',
        'categorical_values_check:segment',
        'baseline_drift_check:age', // compared as categories now that the type changed
        'baseline_drift_check:income',
        'baseline_drift_check:segment',
      ].sort(),
    );
    // non-negativity: the ages without text are >= -5
    const onlyNegative = profile(['age'], [['-1'], ['3']]);
    const nn = checkConstraints(onlyNegative, suggestConstraints(profile(['age'], [['1'], ['2']])), {});
    expect(nn.violations).toEqual([
      objectContaining({
        constraint_check_type: 'data_type_check',
        description: stringContaining('Non-negativity'),
      }),
    ]);
  });

  it('accepts the (current, constraints, { baseline, drift }) form too', () => {
    const r = seeded(1);
    const shifted = profile(
      header,
      baseRows.map((row) => [row[0]!, String(Number(row[1]) + 20_000 + r()), row[2]!, row[3]!]),
    );
    const a = checkConstraints(shifted, constraints, { baseline: fromStatisticsJson(statistics) });
    const b = checkConstraints(shifted, statistics, constraints);
    expect(a).toEqual(b);
    expect(a.violations.map((v) => v.constraint_check_type)).toEqual(['baseline_drift_check']);
  });
});
