import { describe, expect, it } from 'vitest';
import { ERROR_RATE_EXPRESSION } from '../../../adapters/aws/cloudwatch-alarm-service';
import {
  DEFAULT_ANOMALY_BAND,
  MetricMathError,
  anomalyBand,
  evaluateExpression,
  parseExpression,
  referencedIds,
  type MathValue,
} from '../../../local/metrics/metric-math';

const N = Number.NaN;
const run = (expression: string, series: Record<string, number[]>): MathValue => {
  const length = Object.values(series)[0]?.length ?? 3;
  return evaluateExpression(parseExpression(expression), {
    length,
    resolve: (id) => {
      const values = series[id];
      if (values === undefined) throw new Error(`no ${id}`);
      return { kind: 'series', values };
    },
  });
};
const out = (value: MathValue) =>
  value.kind === 'series' ? value.values : value.kind === 'scalar' ? value.value : value;

describe('metric math', () => {
  it('evaluates the AWS adapter error-rate expression per period, missing data included', () => {
    const result = run(ERROR_RATE_EXPRESSION, {
      invocations: [100, 0, N, 50, 200],
      errors4xx: [5, N, N, N, 10],
      errors5xx: [N, N, N, 5, 10],
    });
    // 5/100; no invocations -> 0; no data point at all -> none; 5/50; 20/200.
    expect(out(result)).toEqual([0.05, 0, N, 0.1, 0.1]);
    expect(referencedIds(parseExpression(ERROR_RATE_EXPRESSION)).sort()).toEqual([
      'errors4xx',
      'errors5xx',
      'invocations',
    ]);
  });

  it.each<[string, number | number[]]>([
    ['1 + 2 * 3', 7],
    ['(1 + 2) * 3', 9],
    ['-2 ^ 2', -4],
    ['2 ^ 3 ^ 2', 512],
    ['10 / 4 - 1', 1.5],
    ['1 / 0', N],
    ['3 > 2 AND 2 >= 2 && 1 != 2', 1],
    ['1 == 2 OR 0 || 2 < 1', 0],
    ['IF(1 > 2, 10, 20)', 20],
    ['IF(0, 10)', N],
    ['ABS(-4.5) + CEIL(0.2) + FLOOR(1.8)', 6.5],
    ['a * 2', [2, N, 6]],
    ['a - b', [0, N, N]],
    ['FILL(b, 0) + FILL(a, -1)', [2, -1, 3]],
    ['IF(a > 1, a, b)', [1, N, 3]],
    ['MAX([a, b])', [1, N, 3]],
    ['MIN([a, 10 * a])', [1, N, 3]],
    ['SUM([a, FILL(b, 5)])', [2, 5, 8]],
    ['AVG([a, a * 3])', [2, N, 6]],
    ['MAX(a)', 3],
    ['SUM(a) / AVG(a)', 2],
  ])('%s', (expression, expected) => {
    expect(out(run(expression, { a: [1, N, 3], b: [1, N, N] }))).toEqual(expected);
  });

  it.each([
    ['process.exit()', /unexpected character|not a query id|unexpected/],
    ['EVAL(a)', /unsupported function EVAL/],
    ['a +', /unexpected end/],
    ['(a', /expected "\)"/],
    ['IF(a)', /IF takes 2 to 3 arguments/],
    ['ANOMALY_DETECTION_BAND(2)', /id of a query/],
    ['Metric1 + 1', /not a query id/],
  ])('rejects %s', (expression, message) => {
    expect(() => parseExpression(expression)).toThrow(MetricMathError);
    expect(() => parseExpression(expression)).toThrow(message);
  });

  it('refuses arithmetic on a band', () => {
    expect(() => run('ANOMALY_DETECTION_BAND(a, 2) + 1', { a: [1, 2, 3] })).toThrow(
      /only be used as an alarm threshold/,
    );
  });

  it('builds the anomaly band from the earlier periods only, once there is enough history', () => {
    const metric = [10, 12, 10, 12, 10, 12, 10, 12, 10, 12, 50];
    const band = anomalyBand(metric, 2, { ...DEFAULT_ANOMALY_BAND, minTrainingPeriods: 10 });
    if (band.kind !== 'band') throw new Error('not a band');
    expect(band.upper.slice(0, 10).every(Number.isNaN)).toBe(true); // still training
    expect(band.lower[10]).toBeCloseTo(11 - 2 * 1);
    expect(band.upper[10]).toBeCloseTo(11 + 2 * 1);
    // A flat history still gives a band: stddev >= 5 % of the mean.
    const flat = anomalyBand(new Array(11).fill(100), 3, DEFAULT_ANOMALY_BAND);
    expect(flat.kind === 'band' && flat.upper[10]).toBeCloseTo(115);
  });
});
