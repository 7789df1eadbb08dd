/**
 * Gradient-boosted trees for the local cloud's built-in "XGBoost". Where this stands: local
 * runtime (the local trainer's algorithm); the core never imports it.
 *
 * Real boosting, with XGBoost's vocabulary: each round computes the loss's gradient `g` and hessian
 * `h` for every row at the current margins, grows a regression tree (ml-cart's
 * `DecisionTreeRegression`, the weak learner) on the negative gradient, then replaces each leaf's
 * value by XGBoost's Newton step `-eta * G / (H + lambda)` computed over all the round's rows, after
 * collapsing splits whose children hold less hessian than `min_child_weight` (XGBoost's rule).
 *
 * Speed: ml-cart scans every candidate threshold of every feature with a full pass, O(n^2) per node,
 * so each tree's *structure* is grown on at most {@link MAX_STRUCTURE_ROWS} rows drawn at random
 * from the round's sample (the leaf values still use every sampled row). A few thousand rows x 100
 * rounds train in a few seconds; the price is some extra randomness in the splits, comparable to
 * XGBoost's `subsample`.
 *
 * Missing values (NaN / null / empty CSV fields) are imputed with the training mean of the feature,
 * stored in the model (XGBoost learns a default direction instead).
 */
import { createRequire } from 'node:module';

/**
 * The learning tasks the local trainer supports, in XGBoost's `objective` spelling: each fixes the
 * loss the trees are fitted to and what a prediction is (probability, value, class probabilities).
 */
export type Objective = 'binary:logistic' | 'reg:squarederror' | 'multi:softprob';
/** Every supported {@link Objective}, to check a requested or loaded objective against. */
export const OBJECTIVES: readonly Objective[] = ['binary:logistic', 'reg:squarederror', 'multi:softprob'];

/** Parsed hyperparameters, with XGBoost's defaults. */
export interface GbmParams {
  readonly objective: Objective;
  /** `num_round`, default 100. */
  readonly numRound: number;
  /** `eta` (learning rate), default 0.3. */
  readonly eta: number;
  /** `max_depth`, default 6. */
  readonly maxDepth: number;
  /** `min_child_weight`: minimum hessian sum in a child, default 1. */
  readonly minChildWeight: number;
  /** `subsample`: share of rows each round uses, default 1. */
  readonly subsample: number;
  /** `lambda` (alias `reg_lambda`): L2 regularisation of leaf values, default 1. */
  readonly lambda: number;
  /** `seed`, default 0. */
  readonly seed: number;
  /** `base_score`; when absent it is estimated from the labels (as XGBoost >= 2.0 does). */
  readonly baseScore?: number;
  /** `num_class` (multi:softprob only). */
  readonly numClass: number;
}

/** A hyperparameter the algorithm cannot use. */
export class GbmParamError extends Error {
  override readonly name = 'GbmParamError';
}

/** A rows x features table with NaN for missing values, and one label per row. */
export interface GbmDataset {
  readonly features: readonly (readonly number[])[];
  readonly labels: readonly number[];
}

/**
 * One tree in array form: node `i` is a leaf when `feature[i] < 0` (its value is `value[i]`),
 * otherwise rows with `x[feature[i]] < threshold[i]` go to `left[i]`, the others to `right[i]`
 * (ml-cart's convention). Node 0 is the root.
 */
export interface CompactTree {
  readonly feature: number[];
  readonly threshold: number[];
  readonly left: number[];
  readonly right: number[];
  readonly value: number[];
}

/** The serializable model. For multi:softprob, tree `r * numClass + k` is round r's tree of class k. */
export interface GbmModelJson {
  readonly objective: Objective;
  readonly numClass: number;
  readonly featureCount: number;
  /** Training mean of each feature, used for missing values. */
  readonly imputation: number[];
  /** Initial margin per output (1 value, or numClass values). */
  readonly baseMargin: number[];
  readonly trees: CompactTree[];
}

/** One evaluation result of a round, as XGBoost prints it (`train-auc:0.9`). */
export interface EvalScore {
  readonly set: string;
  readonly metric: string;
  readonly value: number;
}

/** How {@link trainGbm} reports progress: which sets and metrics to score after each round, and where to. */
export interface TrainOptions {
  /** Data sets evaluated after each round (e.g. `train` and `validation`). */
  readonly evals?: readonly { readonly name: string; readonly data: GbmDataset }[];
  /** Metric names (see metrics.ts) evaluated on each eval set, in order. */
  readonly metrics?: readonly string[];
  /** Computes a metric from labels and predictions (injected so this file stays metric-agnostic). */
  readonly evaluate?: (
    metric: string,
    labels: readonly number[],
    predictions: number[] | number[][],
  ) => number;
  /** Called after each round with the eval scores, in eval-set then metric order. */
  readonly onRound?: (round: number, scores: EvalScore[]) => void;
}

/**
 * Most rows a tree's structure is grown on (see the header). ml-cart's cost grows with the square
 * of this number.
 */
const MAX_STRUCTURE_ROWS = 192;

/** ml-cart's regression tree: the parts used here (see node_modules/ml-cart/src). */
interface CartNode {
  splitColumn?: number;
  splitValue?: number;
  left?: CartNode;
  right?: CartNode;
  distribution?: number;
}
interface CartRegression {
  root: CartNode;
  train(x: number[][], y: number[]): void;
}
type CartRegressionConstructor = new (options: {
  gainFunction: 'regression';
  splitFunction: 'mean';
  minNumSamples: number;
  maxDepth: number;
}) => CartRegression;
// ml-cart ships CommonJS without type declarations.
const { DecisionTreeRegression } = createRequire(import.meta.url)('ml-cart') as {
  DecisionTreeRegression: CartRegressionConstructor;
};

const HESSIAN_FLOOR = 1e-16;
const PROBABILITY_CLIP = 1e-6;

/** Parses XGBoost-style string hyperparameters; unknown names are ignored (as the container logs and skips them). */
export function parseGbmParams(hyperparameters: Readonly<Record<string, string>>): GbmParams {
  const hp = hyperparameters;
  const objective = (hp.objective ?? 'reg:squarederror').trim();
  if (!OBJECTIVES.includes(objective as Objective)) {
    throw new GbmParamError(
      `objective "${objective}" is not supported by the local trainer; supported: ${OBJECTIVES.join(', ')}`,
    );
  }
  const num = (name: string, fallback: number, check: (v: number) => boolean, rule: string): number => {
    const raw = hp[name];
    if (raw === undefined || raw.trim() === '') return fallback;
    const value = Number(raw.trim());
    if (!Number.isFinite(value) || !check(value)) {
      throw new GbmParamError(`hyperparameter ${name}="${raw}" is invalid: must be ${rule}`);
    }
    return value;
  };
  const integer = (v: number) => Number.isInteger(v);
  const numClass = num('num_class', 1, (v) => integer(v) && v >= 1, 'an integer >= 1');
  if (objective === 'multi:softprob' && (hp.num_class === undefined || numClass < 2)) {
    throw new GbmParamError('multi:softprob needs num_class, an integer >= 2');
  }
  const baseScore = hp.base_score === undefined ? undefined : num('base_score', 0.5, () => true, 'a number');
  if (objective === 'binary:logistic' && baseScore !== undefined && !(baseScore > 0 && baseScore < 1)) {
    throw new GbmParamError(
      `hyperparameter base_score="${hp.base_score}" must be in (0, 1) for binary:logistic`,
    );
  }
  const lambdaName = hp.lambda !== undefined ? 'lambda' : 'reg_lambda';
  return {
    objective: objective as Objective,
    numRound: num('num_round', 100, (v) => integer(v) && v >= 1, 'an integer >= 1'),
    eta: num(
      'eta',
      num('learning_rate', 0.3, (v) => v > 0 && v <= 1, 'in (0, 1]'),
      (v) => v > 0 && v <= 1,
      'in (0, 1]',
    ),
    maxDepth: num('max_depth', 6, (v) => integer(v) && v >= 1, 'an integer >= 1'),
    minChildWeight: num('min_child_weight', 1, (v) => v >= 0, '>= 0'),
    subsample: num('subsample', 1, (v) => v > 0 && v <= 1, 'in (0, 1]'),
    lambda: num(lambdaName, 1, (v) => v >= 0, '>= 0'),
    seed: num('seed', 0, integer, 'an integer'),
    ...(baseScore !== undefined ? { baseScore } : {}),
    numClass: objective === 'multi:softprob' ? numClass : 1,
  };
}

/** A seeded generator (mulberry32): the same seed gives the same model. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A trained booster: predictions and serialization. */
export class GbmModel {
  constructor(readonly json: GbmModelJson) {}

  get featureCount(): number {
    return this.json.featureCount;
  }

  /** Raw margins per row: one per row, or numClass per row (multi). Missing values: NaN, null or undefined. */
  margins(rows: readonly (readonly (number | null | undefined)[])[]): number[][] {
    const { trees, baseMargin, imputation, featureCount } = this.json;
    const outputs = baseMargin.length;
    const x = new Array<number>(featureCount);
    return rows.map((row) => {
      for (let f = 0; f < featureCount; f++) {
        const v = row[f];
        x[f] = v === null || v === undefined || Number.isNaN(v) ? imputation[f]! : v;
      }
      const margin = baseMargin.slice();
      for (let t = 0; t < trees.length; t++) margin[t % outputs]! += treeValue(trees[t]!, x);
      return margin;
    });
  }

  /**
   * Predictions as XGBoost's `predict` returns them: the probability of class 1 (binary:logistic),
   * the value (reg:squarederror), or each class's probability (multi:softprob).
   */
  predictRaw(rows: readonly (readonly (number | null | undefined)[])[]): number[] | number[][] {
    const margins = this.margins(rows);
    return transformMargins(this.json.objective, margins);
  }

  /**
   * One number per row: the probability of class 1 (binary), the value (regression), or the most
   * probable class index (multiclass).
   */
  predict(rows: readonly (readonly (number | null | undefined)[])[]): number[] {
    const raw = this.predictRaw(rows);
    if (this.json.objective !== 'multi:softprob') return raw as number[];
    return (raw as number[][]).map(argmax);
  }

  toJSON(): GbmModelJson {
    return this.json;
  }
}

/** Trains a booster. Throws {@link GbmParamError} on labels the objective cannot use. */
export function trainGbm(train: GbmDataset, params: GbmParams, options: TrainOptions = {}): GbmModel {
  const n = train.features.length;
  if (n === 0) throw new GbmParamError('the training data has no rows');
  if (train.labels.length !== n) throw new Error(`${n} feature rows but ${train.labels.length} labels`);
  const featureCount = train.features[0]!.length;
  checkLabels(train.labels, params, 'train');

  const imputation = featureMeans(train.features, featureCount);
  const x = impute(train.features, imputation);
  const y = train.labels;
  const K = params.numClass;
  const outputs = params.objective === 'multi:softprob' ? K : 1;
  const baseMargin = initialMargin(params, y);
  const random = seededRandom(params.seed);
  const trees: CompactTree[] = [];

  // Margins of every eval set, updated tree by tree.
  const evals = (options.evals ?? []).map((e) => {
    checkLabels(e.data.labels, params, e.name);
    return {
      name: e.name,
      labels: e.data.labels,
      x: impute(e.data.features, imputation),
      margins: e.data.features.map(() => baseMargin.slice()),
    };
  });
  const margins = x.map(() => baseMargin.slice());
  const indexes = Array.from({ length: n }, (_, i) => i);
  const sampleSize = Math.max(1, Math.round(params.subsample * n));
  const g = new Float64Array(n);
  const h = new Float64Array(n);

  for (let round = 0; round < params.numRound; round++) {
    // Rows of this round: a partial Fisher-Yates shuffle; the first rows also grow the structure.
    for (let i = 0; i < Math.min(sampleSize, n - 1); i++) {
      const j = i + Math.floor(random() * (n - i));
      [indexes[i], indexes[j]] = [indexes[j]!, indexes[i]!];
    }
    const sample = indexes.slice(0, sampleSize);
    const structure = sample.slice(0, Math.min(sample.length, MAX_STRUCTURE_ROWS));
    const probabilities = params.objective === 'multi:softprob' ? margins.map(softmax) : undefined;

    for (let k = 0; k < outputs; k++) {
      for (const i of sample) {
        const m = margins[i]![k]!;
        switch (params.objective) {
          case 'binary:logistic': {
            const p = sigmoid(m);
            g[i] = p - y[i]!;
            h[i] = Math.max(p * (1 - p), HESSIAN_FLOOR);
            break;
          }
          case 'reg:squarederror':
            g[i] = m - y[i]!;
            h[i] = 1;
            break;
          case 'multi:softprob': {
            const p = probabilities![i]![k]!;
            g[i] = p - (y[i] === k ? 1 : 0);
            h[i] = Math.max(2 * p * (1 - p), HESSIAN_FLOOR);
            break;
          }
        }
      }
      const tree = growTree(x, structure, sample, g, h, params);
      trees.push(tree);
      for (let i = 0; i < n; i++) margins[i]![k]! += treeValue(tree, x[i]!);
      for (const e of evals)
        for (let i = 0; i < e.x.length; i++) e.margins[i]![k]! += treeValue(tree, e.x[i]!);
    }

    if (options.onRound && options.evaluate && options.metrics?.length) {
      const scores: EvalScore[] = [];
      for (const e of evals) {
        const predictions = transformMargins(params.objective, e.margins);
        for (const metric of options.metrics) {
          scores.push({ set: e.name, metric, value: options.evaluate(metric, e.labels, predictions) });
        }
      }
      options.onRound(round, scores);
    } else options.onRound?.(round, []);
  }
  return new GbmModel({
    objective: params.objective,
    numClass: outputs,
    featureCount,
    imputation,
    baseMargin,
    trees,
  });
}

/** Margins to predictions: sigmoid, identity, or softmax per row. */
function transformMargins(objective: Objective, margins: number[][]): number[] | number[][] {
  switch (objective) {
    case 'binary:logistic':
      return margins.map((m) => sigmoid(m[0]!));
    case 'reg:squarederror':
      return margins.map((m) => m[0]!);
    case 'multi:softprob':
      return margins.map(softmax);
  }
}

/** Grows one tree with ml-cart on the structure rows, then sets Newton leaf values from all sample rows. */
function growTree(
  x: number[][],
  structure: readonly number[],
  sample: readonly number[],
  g: Float64Array,
  h: Float64Array,
  params: GbmParams,
): CompactTree {
  const cart = new DecisionTreeRegression({
    gainFunction: 'regression',
    splitFunction: 'mean',
    // ml-cart makes a leaf of any node with <= minNumSamples rows; a split needs room for two
    // children of min_child_weight each (the exact rule is applied below, on hessians).
    minNumSamples: Math.max(1, Math.ceil(2 * params.minChildWeight) - 1),
    maxDepth: params.maxDepth,
  });
  cart.train(
    structure.map((i) => x[i]!),
    structure.map((i) => -g[i]!),
  );
  const raw = toCompact(cart.root);
  // Hessian and gradient sums per node, over every sampled row.
  const G = new Float64Array(raw.feature.length);
  const H = new Float64Array(raw.feature.length);
  for (const i of sample) {
    const row = x[i]!;
    let node = 0;
    for (;;) {
      G[node]! += g[i]!;
      H[node]! += h[i]!;
      const f = raw.feature[node]!;
      if (f < 0) break;
      node = row[f]! < raw.threshold[node]! ? raw.left[node]! : raw.right[node]!;
    }
  }
  // Rebuild, collapsing splits with a child lighter than min_child_weight (bottom-up).
  const out: CompactTree = { feature: [], threshold: [], left: [], right: [], value: [] };
  const leafValue = (node: number) => (-params.eta * G[node]!) / (H[node]! + params.lambda);
  const viable = (node: number): boolean => {
    const f = raw.feature[node]!;
    if (f < 0) return true;
    return H[raw.left[node]!]! >= params.minChildWeight && H[raw.right[node]!]! >= params.minChildWeight;
  };
  const emit = (node: number): number => {
    const id = out.feature.length;
    out.feature.push(-1);
    out.threshold.push(0);
    out.left.push(-1);
    out.right.push(-1);
    out.value.push(0);
    if (raw.feature[node]! >= 0 && viable(node)) {
      const l = emit(raw.left[node]!);
      const r = emit(raw.right[node]!);
      out.feature[id] = raw.feature[node]!;
      out.threshold[id] = raw.threshold[node]!;
      out.left[id] = l;
      out.right[id] = r;
    } else {
      out.value[id] = H[node]! > 0 ? leafValue(node) : 0;
    }
    return id;
  };
  emit(0);
  return out;
}

/** ml-cart's node objects to arrays (a node is a split when it has both children, as in ml-cart's classify). */
function toCompact(root: CartNode): CompactTree {
  const tree: CompactTree = { feature: [], threshold: [], left: [], right: [], value: [] };
  const visit = (node: CartNode): number => {
    const id = tree.feature.length;
    tree.feature.push(-1);
    tree.threshold.push(0);
    tree.left.push(-1);
    tree.right.push(-1);
    tree.value.push(typeof node.distribution === 'number' ? node.distribution : 0);
    if (node.left && node.right && node.splitColumn !== undefined && node.splitValue !== undefined) {
      tree.feature[id] = node.splitColumn;
      tree.threshold[id] = node.splitValue;
      tree.left[id] = visit(node.left);
      tree.right[id] = visit(node.right);
    }
    return id;
  };
  visit(root);
  return tree;
}

function treeValue(tree: CompactTree, x: readonly number[]): number {
  let node = 0;
  let f = tree.feature[0]!;
  while (f >= 0) {
    node = x[f]! < tree.threshold[node]! ? tree.left[node]! : tree.right[node]!;
    f = tree.feature[node]!;
  }
  return tree.value[node]!;
}

function initialMargin(params: GbmParams, y: readonly number[]): number[] {
  switch (params.objective) {
    case 'binary:logistic': {
      const p = params.baseScore ?? clip(mean(y), PROBABILITY_CLIP, 1 - PROBABILITY_CLIP);
      return [Math.log(p / (1 - p))];
    }
    case 'reg:squarederror':
      return [params.baseScore ?? mean(y)];
    case 'multi:softprob':
      // Equal margins: softmax is invariant to a common shift, so base_score does not matter.
      return new Array<number>(params.numClass).fill(params.baseScore ?? 0.5);
  }
}

function checkLabels(labels: readonly number[], params: GbmParams, set: string): void {
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i]!;
    if (!Number.isFinite(label)) throw new GbmParamError(`${set} row ${i + 1}: the label is not a number`);
    if (params.objective === 'binary:logistic' && !(label >= 0 && label <= 1)) {
      throw new GbmParamError(`${set} row ${i + 1}: label ${label} must be in [0,1] for binary:logistic`);
    }
    if (
      params.objective === 'multi:softprob' &&
      !(Number.isInteger(label) && label >= 0 && label < params.numClass)
    ) {
      throw new GbmParamError(
        `${set} row ${i + 1}: label ${label} must be an integer in [0, num_class) = [0, ${params.numClass}) for multi:softprob`,
      );
    }
  }
}

function featureMeans(rows: readonly (readonly number[])[], featureCount: number): number[] {
  const sum = new Array<number>(featureCount).fill(0);
  const count = new Array<number>(featureCount).fill(0);
  for (const row of rows) {
    if (row.length !== featureCount)
      throw new GbmParamError(`rows have ${featureCount} and ${row.length} features`);
    for (let f = 0; f < featureCount; f++) {
      const v = row[f]!;
      if (!Number.isNaN(v)) {
        sum[f]! += v;
        count[f]!++;
      }
    }
  }
  return sum.map((s, f) => (count[f]! > 0 ? s / count[f]! : 0));
}

function impute(rows: readonly (readonly number[])[], means: readonly number[]): number[][] {
  return rows.map((row) => {
    if (row.length !== means.length) {
      throw new GbmParamError(`a row has ${row.length} features; the model was trained on ${means.length}`);
    }
    return row.map((v, f) => (Number.isNaN(v) ? means[f]! : v));
  });
}

function sigmoid(m: number): number {
  return 1 / (1 + Math.exp(-m));
}

function softmax(margins: readonly number[]): number[] {
  const max = Math.max(...margins);
  const e = margins.map((m) => Math.exp(m - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

function argmax(values: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

function mean(values: readonly number[]): number {
  let s = 0;
  for (const v of values) s += v;
  return values.length ? s / values.length : 0;
}

function clip(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}
