/**
 * XGBoost's evaluation metrics, by XGBoost's names. Where this stands: local runtime; the local
 * built-in trainer reports them each round, as `train-<metric>` / `validation-<metric>`.
 *
 * Definitions follow XGBoost's documentation (`eval_metric` in "XGBoost Parameters") and its
 * sources: `error` counts a prediction > 0.5 as positive (`error@t` uses t), log losses clip
 * probabilities to [1e-16, 1 - 1e-16], `auc` is the ROC area with tied scores given their average
 * rank (Mann-Whitney U), `merror`/`mlogloss` read the class probabilities of multi:softprob.
 */

/** The metric names {@link evaluateMetric} understands (plus `error@<threshold>`). */
const METRICS = ['auc', 'logloss', 'error', 'rmse', 'mae', 'mlogloss', 'merror'] as const;

const EPS = 1e-16;

/** An `eval_metric` this module cannot compute, or one that does not fit the predictions. */
export class MetricError extends Error {
  override readonly name = 'MetricError';
}

/** Whether the metric is known (for validating `eval_metric` before training). */
export function isKnownMetric(name: string): boolean {
  return (METRICS as readonly string[]).includes(name) || /^error@(\d+(\.\d*)?|\.\d+)$/.test(name);
}

/** The metrics an objective can report (XGBoost refuses the others). */
export function metricsFor(objective: string): readonly string[] {
  if (objective === 'multi:softprob') return ['mlogloss', 'merror'];
  if (objective === 'binary:logistic') return ['auc', 'logloss', 'error', 'rmse', 'mae'];
  return ['rmse', 'mae'];
}

/**
 * Computes a metric. `predictions` are what the model predicts: probabilities of class 1
 * (binary), values (regression), or a probability vector per row (multiclass metrics).
 */
export function evaluateMetric(
  name: string,
  labels: readonly number[],
  predictions: readonly number[] | readonly (readonly number[])[],
): number {
  const multi = predictions.length > 0 && Array.isArray(predictions[0]);
  if (name === 'mlogloss' || name === 'merror') {
    if (!multi) throw new MetricError(`${name} needs class probabilities (multi:softprob)`);
    const p = predictions as readonly (readonly number[])[];
    return name === 'mlogloss' ? mlogloss(labels, p) : merror(labels, p);
  }
  if (multi) throw new MetricError(`${name} is not available for multi:softprob; use mlogloss or merror`);
  const p = predictions as readonly number[];
  switch (name) {
    case 'auc':
      return auc(labels, p);
    case 'logloss':
      return logloss(labels, p);
    case 'error':
      return error(labels, p);
    case 'rmse':
      return rmse(labels, p);
    case 'mae':
      return mae(labels, p);
  }
  const threshold = /^error@(\d+(?:\.\d*)?|\.\d+)$/.exec(name);
  if (threshold) return error(labels, p, Number(threshold[1]));
  throw new MetricError(`unknown eval_metric "${name}"; supported: ${METRICS.join(', ')}, error@<t>`);
}

/**
 * Area under the ROC curve: the probability that a random positive scores above a random negative,
 * ties counting one half (average ranks). NaN when a class is absent (the curve is undefined).
 */
export function auc(labels: readonly number[], scores: readonly number[]): number {
  checkLengths(labels, scores);
  const order = scores.map((_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  let positives = 0;
  let rankSum = 0;
  for (let start = 0; start < order.length;) {
    let end = start;
    while (end + 1 < order.length && scores[order[end + 1]!] === scores[order[start]!]) end++;
    const averageRank = (start + end) / 2 + 1; // ranks are 1-based
    for (let i = start; i <= end; i++) {
      if (labels[order[i]!]! > 0.5) {
        positives++;
        rankSum += averageRank;
      }
    }
    start = end + 1;
  }
  const negatives = labels.length - positives;
  if (positives === 0 || negatives === 0) return NaN;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** Binary log loss (negative log-likelihood). */
export function logloss(labels: readonly number[], probabilities: readonly number[]): number {
  checkLengths(labels, probabilities);
  let sum = 0;
  for (let i = 0; i < labels.length; i++) {
    const p = Math.min(1 - EPS, Math.max(EPS, probabilities[i]!));
    const y = labels[i]!;
    sum -= y * Math.log(p) + (1 - y) * Math.log(1 - p);
  }
  return sum / labels.length;
}

/** Binary error rate: a prediction above `threshold` (default 0.5) is class 1. */
export function error(labels: readonly number[], probabilities: readonly number[], threshold = 0.5): number {
  checkLengths(labels, probabilities);
  let wrong = 0;
  for (let i = 0; i < labels.length; i++) {
    const predicted = probabilities[i]! > threshold ? 1 : 0;
    if (predicted !== (labels[i]! > 0.5 ? 1 : 0)) wrong++;
  }
  return wrong / labels.length;
}

/** Root mean squared error of regression predictions (XGBoost's default for `reg:squarederror`). */
export function rmse(labels: readonly number[], predictions: readonly number[]): number {
  checkLengths(labels, predictions);
  let sum = 0;
  for (let i = 0; i < labels.length; i++) sum += (labels[i]! - predictions[i]!) ** 2;
  return Math.sqrt(sum / labels.length);
}

/** Mean absolute error of regression predictions: less swayed by a few large misses than {@link rmse}. */
export function mae(labels: readonly number[], predictions: readonly number[]): number {
  checkLengths(labels, predictions);
  let sum = 0;
  for (let i = 0; i < labels.length; i++) sum += Math.abs(labels[i]! - predictions[i]!);
  return sum / labels.length;
}

/** Multiclass log loss: mean of -log(probability of the true class). */
export function mlogloss(labels: readonly number[], probabilities: readonly (readonly number[])[]): number {
  checkLengths(labels, probabilities);
  let sum = 0;
  for (let i = 0; i < labels.length; i++) {
    const p = probabilities[i]![labels[i]!] ?? 0;
    sum -= Math.log(Math.max(EPS, p));
  }
  return sum / labels.length;
}

/** Multiclass error rate: the most probable class is not the label. */
export function merror(labels: readonly number[], probabilities: readonly (readonly number[])[]): number {
  checkLengths(labels, probabilities);
  let wrong = 0;
  for (let i = 0; i < labels.length; i++) {
    const p = probabilities[i]!;
    let best = 0;
    for (let k = 1; k < p.length; k++) if (p[k]! > p[best]!) best = k;
    if (best !== labels[i]) wrong++;
  }
  return wrong / labels.length;
}

function checkLengths(labels: readonly unknown[], predictions: readonly unknown[]): void {
  if (labels.length !== predictions.length) {
    throw new MetricError(`${labels.length} labels but ${predictions.length} predictions`);
  }
  if (labels.length === 0) throw new MetricError('no rows to evaluate');
}
