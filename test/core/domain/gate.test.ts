import { describe, expect, it } from 'vitest';
import { evaluateGate } from '../../../core/domain/gate';
import type { ResolvedGate } from '../../../core/domain/model-config';
import { stringContaining } from '../../support/matchers';

const auc: ResolvedGate = {
  metric: 'validation:auc',
  direction: 'maximize',
  regressionTolerance: 0,
  approval: 'auto',
};
const rmse: ResolvedGate = {
  metric: 'validation:rmse',
  direction: 'minimize',
  regressionTolerance: 0,
  approval: 'auto',
};

const check = (result: ReturnType<typeof evaluateGate>, name: string) =>
  result.checks.find((c) => c.name === name);

describe('evaluateGate: the metric', () => {
  it('rejects a candidate that did not report the metric, naming the metrics it reported', () => {
    const result = evaluateGate(auc, { 'validation:logloss': 0.3, 'train:auc': 0.99 });
    expect(result.passed).toBe(false);
    expect(result.decision).toBe('REJECTED');
    expect(result.checks).toHaveLength(1);
    expect(result.checks[0]!.name).toBe('metric-reported');
    expect(result.checks[0]!.passed).toBe(false);
    expect(result.checks[0]!.detail).toContain('validation:auc');
    expect(result.checks[0]!.detail).toContain('validation:logloss, train:auc');
  });

  it('says so when the candidate reported no metrics at all', () => {
    const result = evaluateGate(auc, {});
    expect(result.decision).toBe('REJECTED');
    expect(result.checks[0]!.detail).toContain('no metrics');
  });

  it.each([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY])(
    'treats a non-finite value (%s) as not reported',
    (value) => {
      const result = evaluateGate(auc, { 'validation:auc': value });
      expect(result.decision).toBe('REJECTED');
      expect(result.checks[0]).toMatchObject({ name: 'metric-reported', passed: false });
    },
  );

  it('records the reported value', () => {
    const result = evaluateGate(auc, { 'validation:auc': 0.912345678 });
    expect(check(result, 'metric-reported')).toEqual({
      name: 'metric-reported',
      passed: true,
      detail: 'validation:auc = 0.912346',
    });
  });
});

describe('evaluateGate: threshold', () => {
  const maxGate: ResolvedGate = { ...auc, threshold: 0.8 };
  const minGate: ResolvedGate = { ...rmse, threshold: 2 };

  it.each([
    [0.85, true],
    [0.8, true],
    [0.79999, false],
    [0.1, false],
  ])('maximize: %s against a threshold of 0.8 passes: %s', (value, passed) => {
    const result = evaluateGate(maxGate, { 'validation:auc': value });
    expect(check(result, 'threshold')!.passed).toBe(passed);
    expect(result.passed).toBe(passed);
    expect(result.decision).toBe(passed ? 'APPROVED' : 'REJECTED');
  });

  it.each([
    [1.5, true],
    [2, true],
    [2.00001, false],
    [10, false],
  ])('minimize: %s against a threshold of 2 passes: %s', (value, passed) => {
    const result = evaluateGate(minGate, { 'validation:rmse': value });
    expect(check(result, 'threshold')!.passed).toBe(passed);
    expect(result.decision).toBe(passed ? 'APPROVED' : 'REJECTED');
  });

  it('explains the threshold check', () => {
    expect(check(evaluateGate(maxGate, { 'validation:auc': 0.7 }), 'threshold')!.detail).toBe(
      'validation:auc 0.7 misses the threshold (>= 0.8)',
    );
    expect(check(evaluateGate(minGate, { 'validation:rmse': 1 }), 'threshold')!.detail).toBe(
      'validation:rmse 1 meets the threshold (<= 2)',
    );
  });

  it('has no threshold check without a threshold', () => {
    const result = evaluateGate(auc, { 'validation:auc': 0.01 });
    expect(check(result, 'threshold')).toBeUndefined();
    expect(result.decision).toBe('APPROVED');
  });
});

describe('evaluateGate: no regression against the champion', () => {
  const champion = (value: number, metric = 'validation:auc') => ({
    version: 7,
    metrics: { [metric]: value },
  });

  it('passes the first candidate when there is no champion', () => {
    const result = evaluateGate(auc, { 'validation:auc': 0.6 });
    expect(check(result, 'no-regression')).toMatchObject({
      passed: true,
      detail: stringContaining('no champion'),
    });
    expect(result.decision).toBe('APPROVED');
  });

  it('passes when the champion did not report the metric', () => {
    const result = evaluateGate(
      auc,
      { 'validation:auc': 0.6 },
      { version: 3, metrics: { 'validation:logloss': 0.2 } },
    );
    expect(check(result, 'no-regression')!.passed).toBe(true);
    expect(result.decision).toBe('APPROVED');
  });

  it('maximize, no tolerance: better or equal passes, worse fails', () => {
    expect(evaluateGate(auc, { 'validation:auc': 0.91 }, champion(0.9)).decision).toBe('APPROVED');
    expect(evaluateGate(auc, { 'validation:auc': 0.9 }, champion(0.9)).decision).toBe('APPROVED');
    const worse = evaluateGate(auc, { 'validation:auc': 0.899 }, champion(0.9));
    expect(worse.decision).toBe('REJECTED');
    expect(check(worse, 'no-regression')).toMatchObject({
      passed: false,
      detail: stringContaining('champion v7'),
    });
    expect(check(worse, 'no-regression')!.detail).toContain('worse than the champion');
  });

  it('minimize, no tolerance: lower or equal passes, higher fails', () => {
    expect(evaluateGate(rmse, { 'validation:rmse': 1.9 }, champion(2, 'validation:rmse')).decision).toBe(
      'APPROVED',
    );
    expect(evaluateGate(rmse, { 'validation:rmse': 2 }, champion(2, 'validation:rmse')).decision).toBe(
      'APPROVED',
    );
    expect(evaluateGate(rmse, { 'validation:rmse': 2.001 }, champion(2, 'validation:rmse')).decision).toBe(
      'REJECTED',
    );
  });

  it('maximize with a tolerance: exactly the tolerance worse passes, more fails', () => {
    const gate: ResolvedGate = { ...auc, regressionTolerance: 0.25 };
    expect(evaluateGate(gate, { 'validation:auc': 0.5 }, champion(0.75)).decision).toBe('APPROVED');
    expect(evaluateGate(gate, { 'validation:auc': 0.4999 }, champion(0.75)).decision).toBe('REJECTED');
    const tolerated = evaluateGate(gate, { 'validation:auc': 0.6 }, champion(0.75));
    expect(check(tolerated, 'no-regression')).toMatchObject({
      passed: true,
      detail: stringContaining('tolerance 0.25'),
    });
  });

  it('minimize with a tolerance: exactly the tolerance worse passes, more fails', () => {
    const gate: ResolvedGate = { ...rmse, regressionTolerance: 0.5 };
    expect(evaluateGate(gate, { 'validation:rmse': 2.5 }, champion(2, 'validation:rmse')).decision).toBe(
      'APPROVED',
    );
    expect(evaluateGate(gate, { 'validation:rmse': 2.5001 }, champion(2, 'validation:rmse')).decision).toBe(
      'REJECTED',
    );
  });

  // Decimal metrics and tolerances, as a person writes them in config.json: a candidate exactly
  // the tolerance away from the champion is within the tolerance, whatever binary floating point
  // makes of champion ± tolerance.
  it.each([
    ['maximize', 0.9, 0.01, 0.89],
    ['maximize', 0.85, 0.05, 0.8],
    ['maximize', 0.7, 0.1, 0.6],
    ['minimize', 0.2, 0.1, 0.3],
    ['minimize', 0.18, 0.02, 0.2],
    ['minimize', 0.3, 0.04, 0.34],
  ] as const)(
    '%s: champion %s, tolerance %s, candidate %s exactly at the boundary passes',
    (direction, championValue, tolerance, candidate) => {
      const gate: ResolvedGate = { metric: 'm', direction, regressionTolerance: tolerance, approval: 'auto' };
      const result = evaluateGate(gate, { m: candidate }, { version: 1, metrics: { m: championValue } });
      expect(check(result, 'no-regression')!.passed).toBe(true);
    },
  );

  it('rejects on a regression even when the threshold passes, keeping every check', () => {
    const gate: ResolvedGate = { ...auc, threshold: 0.7 };
    const result = evaluateGate(gate, { 'validation:auc': 0.8 }, champion(0.9));
    expect(result.decision).toBe('REJECTED');
    expect(result.passed).toBe(false);
    expect(result.checks.map((c) => [c.name, c.passed])).toEqual([
      ['metric-reported', true],
      ['threshold', true],
      ['no-regression', false],
    ]);
  });
});

describe('evaluateGate: approval', () => {
  it('approves a passing candidate automatically, recording every check', () => {
    const result = evaluateGate(
      { ...auc, threshold: 0.5 },
      { 'validation:auc': 0.9 },
      { version: 2, metrics: { 'validation:auc': 0.85 } },
    );
    expect(result.passed).toBe(true);
    expect(result.decision).toBe('APPROVED');
    expect(result.checks.map((c) => c.name)).toEqual([
      'metric-reported',
      'threshold',
      'no-regression',
      'approval',
    ]);
    expect(result.checks.every((c) => c.passed)).toBe(true);
    expect(check(result, 'approval')!.detail).toContain('automatic');
  });

  it('waits for a person when approval is manual', () => {
    const result = evaluateGate({ ...auc, approval: 'manual' }, { 'validation:auc': 0.9 });
    expect(result.passed).toBe(true);
    expect(result.decision).toBe('PENDING_APPROVAL');
    expect(check(result, 'approval')!.detail).toContain('PENDING_APPROVAL');
  });

  it('rejects a failing candidate without asking for approval', () => {
    const result = evaluateGate({ ...auc, approval: 'manual', threshold: 0.95 }, { 'validation:auc': 0.9 });
    expect(result.decision).toBe('REJECTED');
    expect(check(result, 'approval')).toBeUndefined();
  });
});
