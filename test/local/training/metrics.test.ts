import { describe, expect, it } from 'vitest';
import {
  auc,
  error,
  evaluateMetric,
  logloss,
  mae,
  merror,
  mlogloss,
  MetricError,
  rmse,
} from '../../../local/training/metrics';

describe('XGBoost metrics', () => {
  it('auc: pairs ranked right, ties counted one half', () => {
    // Positives 0.8, 0.4; negatives 0.1, 0.4. Pairs: (0.8>0.1) (0.8>0.4) (0.4>0.1) (0.4=0.4 -> 1/2) => 3.5/4.
    expect(auc([1, 0, 1, 0], [0.8, 0.1, 0.4, 0.4])).toBeCloseTo(0.875, 12);
    expect(auc([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4])).toBe(1);
    expect(auc([1, 1, 0, 0], [0.1, 0.2, 0.3, 0.4])).toBe(0);
    expect(auc([1, 0, 1, 0], [0.5, 0.5, 0.5, 0.5])).toBe(0.5);
    expect(auc([1, 1], [0.2, 0.9])).toBeNaN();
  });

  it('logloss and error', () => {
    // -(ln 0.9 + ln 0.8) / 2
    expect(logloss([1, 0], [0.9, 0.2])).toBeCloseTo(-(Math.log(0.9) + Math.log(0.8)) / 2, 12);
    expect(Number.isFinite(logloss([1], [0]))).toBe(true); // clipped, not Infinity
    expect(error([1, 0, 1, 0], [0.9, 0.6, 0.5, 0.1])).toBe(0.5); // 0.5 is not > 0.5
    expect(evaluateMetric('error@0.7', [1, 0], [0.6, 0.1])).toBe(0.5);
  });

  it('rmse and mae', () => {
    expect(rmse([1, 2, 3], [1, 2, 5])).toBeCloseTo(Math.sqrt(4 / 3), 12);
    expect(mae([1, 2, 3], [2, 2, 1])).toBeCloseTo(1, 12);
  });

  it('mlogloss and merror read class probabilities', () => {
    const p = [
      [0.7, 0.2, 0.1],
      [0.1, 0.3, 0.6],
    ];
    expect(mlogloss([0, 1], p)).toBeCloseTo(-(Math.log(0.7) + Math.log(0.3)) / 2, 12);
    expect(merror([0, 1], p)).toBe(0.5);
    expect(evaluateMetric('mlogloss', [0, 1], p)).toBeCloseTo(mlogloss([0, 1], p), 12);
  });

  it('refuses unknown metrics and mismatched inputs', () => {
    expect(() => evaluateMetric('accuracy', [1], [1])).toThrow(MetricError);
    expect(() =>
      evaluateMetric(
        'auc',
        [1, 0],
        [
          [0.5, 0.5],
          [0.5, 0.5],
        ],
      ),
    ).toThrow(/multi:softprob/);
    expect(() => rmse([1, 2], [1])).toThrow(/2 labels but 1 predictions/);
  });
});
