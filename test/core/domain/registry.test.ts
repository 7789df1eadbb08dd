import { describe, expect, it } from 'vitest';
import { canTransition, columnSummaries } from '../../../core/domain/registry';
import { DatasetProfiler } from '../../../core/profiling/profiler';
import { closeTo } from '../../support/matchers';

function profileOf(header: string[], rows: string[][]) {
  const profiler = new DatasetProfiler(header);
  for (const row of rows) profiler.add(row);
  return profiler.finish();
}

describe('columnSummaries (the registry summary of a dataset profile)', () => {
  it('is exact on a small table: numeric, missing, empty columns', () => {
    const table = [
      ['0', '10', '1.5', ''],
      ['1', '20', '', ''],
      ['0', '30', '2.5', ''],
      ['1', '', '3.5', ''],
      ['1', '40', '1.5', ''],
    ];
    const profile = profileOf(
      ['label', 'age', 'score', 'empty'],
      Array.from({ length: 8 }, () => table).flat(),
    );
    expect(columnSummaries(profile)).toEqual([
      {
        name: 'label',
        type: 'numeric',
        missing: 0,
        distinct: 2,
        min: 0,
        max: 1,
        mean: closeTo(0.6, 12),
      },
      {
        name: 'age',
        type: 'numeric',
        missing: 8,
        distinct: 4,
        min: 10,
        max: 40,
        mean: closeTo(25, 12),
      },
      {
        name: 'score',
        type: 'numeric',
        missing: 8,
        distinct: 3,
        min: 1.5,
        max: 3.5,
        mean: closeTo(2.25, 12),
      },
      { name: 'empty', type: 'empty', missing: 40, distinct: 0 },
    ]);
  });

  it('summarizes text columns as categorical', () => {
    const cities = ['Paris', 'Lyon', 'Paris', '', 'Nice'];
    const profile = profileOf(
      ['label', 'city'],
      Array.from({ length: 50 }, (_, i) => [String(i % 2), cities[i % cities.length]!]),
    );
    expect(columnSummaries(profile)[1]).toEqual({
      name: 'city',
      type: 'categorical',
      missing: 10,
      distinct: 3,
    });
  });

  it('estimates the distinct count of high-cardinality columns', () => {
    const profile = profileOf(
      ['label', 'id'],
      Array.from({ length: 5000 }, (_, i) => [String(i % 2), String(i)]),
    );
    const id = columnSummaries(profile)[1]!;
    expect(id.distinct).toBeGreaterThan(4750);
    expect(id.distinct).toBeLessThan(5250);
    expect(id).toMatchObject({
      type: 'numeric',
      min: 0,
      max: 4999,
      mean: closeTo(2499.5, 9),
      missing: 0,
    });
  });
});

describe('the status machine', () => {
  it('allows the documented transitions and nothing from a final state', () => {
    expect(canTransition('TRAINING', 'TRAINED')).toBe(true);
    expect(canTransition('DEPLOYING', 'ROLLED_BACK')).toBe(true);
    expect(canTransition('TRAINED', 'PRODUCTION')).toBe(false);
    expect(canTransition('ARCHIVED', 'PRODUCTION')).toBe(false);
  });
});
