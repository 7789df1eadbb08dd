/**
 * A small, safe CloudWatch metric-math evaluator (a parser and a tree walker, no `eval`). Where
 * this stands: local runtime, used by the alarm evaluator for `Metrics[].Expression`.
 *
 * Values are time series aligned on the alarm's period grid (one slot per period, `NaN` = no data
 * point) or scalars. As in CloudWatch metric math (CloudWatch User Guide, "Using metric math"):
 * arithmetic between two series is computed per timestamp and yields no data point where either
 * side has none; a scalar applies to every data point; `FILL(m, v)` gives a value to the periods
 * without data; `IF(condition, a, b)` picks per timestamp (a missing condition or a missing
 * branch value yields no data point; without `b`, a false condition yields no data point).
 * Differences, documented: division by zero yields no data point; `MAX/MIN/SUM/AVG` of an array
 * `[a, b]` is per timestamp over the series that have a value there, of a single series a scalar.
 *
 * Supported: numbers, query ids, `+ - * / ^`, unary minus, comparisons `> < >= <= == !=`,
 * `AND`/`&&`, `OR`/`||`, parentheses, `[a, b]` arrays, `IF`, `FILL`, `MAX`, `MIN`, `SUM`, `AVG`,
 * `ABS`, `CEIL`, `FLOOR`, `ANOMALY_DETECTION_BAND(m, k)`.
 *
 * `ANOMALY_DETECTION_BAND(m, k)` is an approximation of CloudWatch's anomaly detection model
 * (a machine-learning model trained on up to two weeks of the metric, with daily and weekly
 * seasonality and trend): here the expected value of a period is the mean of the metric over the
 * `trainingPeriods` earlier periods that have data, the band is mean ± k·stddev, the standard
 * deviation being at least `minRelativeStdDev`·|mean| so that a perfectly flat history does not
 * give a zero-width band. With fewer than `minTrainingPeriods` earlier data points the band does
 * not exist for that period (no data point), like a model still training. No seasonality, no trend.
 * `k` defaults to 2, as in CloudWatch.
 */

export type Expr =
  | { readonly kind: 'number'; readonly value: number }
  | { readonly kind: 'ref'; readonly id: string }
  | { readonly kind: 'unary'; readonly op: '-' | 'NOT'; readonly operand: Expr }
  | { readonly kind: 'binary'; readonly op: BinaryOperator; readonly left: Expr; readonly right: Expr }
  | { readonly kind: 'call'; readonly name: string; readonly args: readonly Expr[] }
  | { readonly kind: 'array'; readonly items: readonly Expr[] };

type BinaryOperator = '+' | '-' | '*' | '/' | '^' | '>' | '<' | '>=' | '<=' | '==' | '!=' | 'AND' | 'OR';

/** A scalar, a series on the grid (`NaN` = no data point), or an anomaly band. */
export type MathValue =
  | { readonly kind: 'scalar'; readonly value: number }
  | { readonly kind: 'series'; readonly values: readonly number[] }
  | { readonly kind: 'band'; readonly lower: readonly number[]; readonly upper: readonly number[] };

/** How the local ANOMALY_DETECTION_BAND learns its band from earlier periods. */
export interface AnomalyBandOptions {
  /** Earlier periods the band learns from. @default 60 */
  readonly trainingPeriods: number;
  /** Earlier data points needed before the band exists. @default 10 */
  readonly minTrainingPeriods: number;
  /** Floor of the standard deviation, relative to |mean|. @default 0.05 */
  readonly minRelativeStdDev: number;
}

/** The band's learning settings when an alarm evaluator is given none. */
export const DEFAULT_ANOMALY_BAND: AnomalyBandOptions = {
  trainingPeriods: 60,
  minTrainingPeriods: 10,
  minRelativeStdDev: 0.05,
};

/** What evaluating an expression needs: the grid's length and the other queries' values. */
export interface MathContext {
  /** Slots of the grid. */
  readonly length: number;
  /** The value of another query of the alarm. */
  resolve(id: string): MathValue;
  readonly anomaly?: AnomalyBandOptions;
}

/** An expression CloudWatch's metric math would refuse (syntax, unknown function, arity). */
export class MetricMathError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MetricMathError';
  }
}

const FUNCTIONS = new Set([
  'IF',
  'FILL',
  'MAX',
  'MIN',
  'SUM',
  'AVG',
  'ABS',
  'CEIL',
  'FLOOR',
  'ANOMALY_DETECTION_BAND',
]);

// ---------------------------------------------------------------------------------------------
// Parsing

type Token =
  | { readonly type: 'number'; readonly value: number; readonly at: number }
  | { readonly type: 'word'; readonly value: string; readonly at: number }
  | { readonly type: 'op'; readonly value: string; readonly at: number };

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i] as string;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const number = /^(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/.exec(text.slice(i));
    if (number) {
      tokens.push({ type: 'number', value: Number(number[0]), at: i });
      i += number[0].length;
      continue;
    }
    const word = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i));
    if (word) {
      tokens.push({ type: 'word', value: word[0], at: i });
      i += word[0].length;
      continue;
    }
    const op = /^(?:>=|<=|==|!=|&&|\|\||[-+*/^()<>,[\]!])/.exec(text.slice(i));
    if (op) {
      tokens.push({ type: 'op', value: op[0], at: i });
      i += op[0].length;
      continue;
    }
    throw new MetricMathError(`unexpected character "${c}" at ${i} in "${text}"`);
  }
  return tokens;
}

/** Parses a metric-math expression; throws {@link MetricMathError} on a syntax error. */
export function parseExpression(text: string): Expr {
  const tokens = tokenize(text);
  let position = 0;
  const peek = (): Token | undefined => tokens[position];
  const fail = (message: string): never => {
    const token = peek();
    throw new MetricMathError(`${message} at ${token ? token.at : text.length} in "${text}"`);
  };
  const isOp = (value: string): boolean => {
    const token = peek();
    return token !== undefined && token.type === 'op' && token.value === value;
  };
  const isWord = (value: string): boolean => {
    const token = peek();
    return (
      token !== undefined &&
      token.type === 'word' &&
      token.value === value &&
      tokens[position + 1]?.value !== '('
    );
  };
  const expect = (value: string): void => {
    if (!isOp(value)) fail(`expected "${value}"`);
    position++;
  };

  const parseOr = (): Expr => {
    let left = parseAnd();
    while (isOp('||') || isWord('OR')) {
      position++;
      left = { kind: 'binary', op: 'OR', left, right: parseAnd() };
    }
    return left;
  };
  const parseAnd = (): Expr => {
    let left = parseComparison();
    while (isOp('&&') || isWord('AND')) {
      position++;
      left = { kind: 'binary', op: 'AND', left, right: parseComparison() };
    }
    return left;
  };
  const parseComparison = (): Expr => {
    let left = parseAdditive();
    for (;;) {
      const op = ['>=', '<=', '==', '!=', '>', '<'].find(isOp);
      if (op === undefined) return left;
      position++;
      left = { kind: 'binary', op: op as BinaryOperator, left, right: parseAdditive() };
    }
  };
  const parseAdditive = (): Expr => {
    let left = parseMultiplicative();
    for (;;) {
      const op = ['+', '-'].find(isOp);
      if (op === undefined) return left;
      position++;
      left = { kind: 'binary', op: op as BinaryOperator, left, right: parseMultiplicative() };
    }
  };
  const parseMultiplicative = (): Expr => {
    let left = parseUnary();
    for (;;) {
      const op = ['*', '/'].find(isOp);
      if (op === undefined) return left;
      position++;
      left = { kind: 'binary', op: op as BinaryOperator, left, right: parseUnary() };
    }
  };
  const parseUnary = (): Expr => {
    if (isOp('-')) {
      position++;
      return { kind: 'unary', op: '-', operand: parseUnary() };
    }
    if (isOp('+')) {
      position++;
      return parseUnary();
    }
    if (isOp('!') || isWord('NOT')) {
      position++;
      return { kind: 'unary', op: 'NOT', operand: parseUnary() };
    }
    return parsePower();
  };
  const parsePower = (): Expr => {
    const base = parsePrimary();
    if (isOp('^')) {
      position++;
      return { kind: 'binary', op: '^', left: base, right: parseUnary() };
    }
    return base;
  };
  const parseList = (close: string): Expr[] => {
    const items: Expr[] = [];
    if (isOp(close)) {
      position++;
      return items;
    }
    for (;;) {
      items.push(parseOr());
      if (isOp(',')) {
        position++;
        continue;
      }
      expect(close);
      return items;
    }
  };
  const parsePrimary = (): Expr => {
    const token = peek();
    if (token === undefined) return fail('unexpected end of expression');
    if (token.type === 'number') {
      position++;
      return { kind: 'number', value: token.value };
    }
    if (token.type === 'op' && token.value === '(') {
      position++;
      const inner = parseOr();
      expect(')');
      return inner;
    }
    if (token.type === 'op' && token.value === '[') {
      position++;
      return { kind: 'array', items: parseList(']') };
    }
    if (token.type === 'word') {
      position++;
      if (isOp('(')) {
        if (!FUNCTIONS.has(token.value)) fail(`unsupported function ${token.value}`);
        position++;
        return { kind: 'call', name: token.value, args: parseList(')') };
      }
      // Query ids start with a lowercase letter (MetricDataQuery.Id).
      if (!/^[a-z][A-Za-z0-9_]*$/.test(token.value)) {
        position--;
        fail(`"${token.value}" is not a query id`);
      }
      return { kind: 'ref', id: token.value };
    }
    return fail(`unexpected "${token.value}"`);
  };

  const expression = parseOr();
  if (position < tokens.length) fail('unexpected token');
  checkArity(expression);
  return expression;
}

const ARITY: Readonly<Record<string, readonly [number, number]>> = {
  IF: [2, 3],
  FILL: [2, 2],
  MAX: [1, 1],
  MIN: [1, 1],
  SUM: [1, 1],
  AVG: [1, 1],
  ABS: [1, 1],
  CEIL: [1, 1],
  FLOOR: [1, 1],
  ANOMALY_DETECTION_BAND: [1, 2],
};

function checkArity(expr: Expr): void {
  if (expr.kind === 'call') {
    const [min, max] = ARITY[expr.name] ?? [0, 0];
    if (expr.args.length < min || expr.args.length > max) {
      throw new MetricMathError(
        `${expr.name} takes ${min === max ? min : `${min} to ${max}`} arguments, got ${expr.args.length}`,
      );
    }
    if (expr.name === 'ANOMALY_DETECTION_BAND' && expr.args[0]?.kind !== 'ref') {
      throw new MetricMathError('ANOMALY_DETECTION_BAND takes the id of a query as its first argument');
    }
  }
  for (const child of children(expr)) checkArity(child);
}

function children(expr: Expr): readonly Expr[] {
  switch (expr.kind) {
    case 'unary':
      return [expr.operand];
    case 'binary':
      return [expr.left, expr.right];
    case 'call':
      return expr.args;
    case 'array':
      return expr.items;
    default:
      return [];
  }
}

/** The query ids an expression reads. */
export function referencedIds(expr: Expr): string[] {
  const ids = new Set<string>();
  const walk = (node: Expr): void => {
    if (node.kind === 'ref') ids.add(node.id);
    children(node).forEach(walk);
  };
  walk(expr);
  return [...ids];
}

/** True when the expression's result is an anomaly band. */
export function isBandExpression(expr: Expr): boolean {
  return expr.kind === 'call' && expr.name === 'ANOMALY_DETECTION_BAND';
}

// ---------------------------------------------------------------------------------------------
// Evaluation

/** The value of an expression over the alarm's grid of periods: a scalar, a series or a band. */
export function evaluateExpression(expr: Expr, context: MathContext): MathValue {
  const evaluate = (node: Expr): MathValue => {
    switch (node.kind) {
      case 'number':
        return scalar(node.value);
      case 'ref':
        return context.resolve(node.id);
      case 'array':
        throw new MetricMathError('an array is only allowed as the argument of MAX, MIN, SUM or AVG');
      case 'unary': {
        const operand = evaluate(node.operand);
        return node.op === '-' ? map1(operand, (x) => -x) : map1(operand, (x) => (x === 0 ? 1 : 0));
      }
      case 'binary':
        return map2(evaluate(node.left), evaluate(node.right), BINARY[node.op], context.length);
      case 'call':
        return call(node, evaluate, context);
    }
  };
  return evaluate(expr);
}

const BINARY: Readonly<Record<BinaryOperator, (a: number, b: number) => number>> = {
  '+': (a, b) => a + b,
  '-': (a, b) => a - b,
  '*': (a, b) => a * b,
  '/': (a, b) => (b === 0 ? Number.NaN : a / b),
  '^': (a, b) => a ** b,
  '>': (a, b) => (a > b ? 1 : 0),
  '<': (a, b) => (a < b ? 1 : 0),
  '>=': (a, b) => (a >= b ? 1 : 0),
  '<=': (a, b) => (a <= b ? 1 : 0),
  '==': (a, b) => (a === b ? 1 : 0),
  '!=': (a, b) => (a !== b ? 1 : 0),
  AND: (a, b) => (a !== 0 && b !== 0 ? 1 : 0),
  OR: (a, b) => (a !== 0 || b !== 0 ? 1 : 0),
};

function call(
  node: Extract<Expr, { kind: 'call' }>,
  evaluate: (node: Expr) => MathValue,
  context: MathContext,
): MathValue {
  const { length } = context;
  const arg = (index: number): MathValue => evaluate(node.args[index] as Expr);
  switch (node.name) {
    case 'IF': {
      const condition = arg(0);
      const whenTrue = arg(1);
      const whenFalse = node.args.length > 2 ? arg(2) : scalar(Number.NaN);
      if (condition.kind === 'scalar') {
        if (Number.isNaN(condition.value)) return scalar(Number.NaN);
        return condition.value !== 0 ? whenTrue : whenFalse;
      }
      const c = values(condition, length);
      const t = values(whenTrue, length);
      const f = values(whenFalse, length);
      return series(
        c.map((x, i) => (Number.isNaN(x) ? Number.NaN : x !== 0 ? (t[i] as number) : (f[i] as number))),
      );
    }
    case 'FILL': {
      const target = arg(0);
      const fill = values(arg(1), length);
      if (target.kind === 'scalar') return Number.isNaN(target.value) ? scalar(fill[0] as number) : target;
      return series(values(target, length).map((x, i) => (Number.isNaN(x) ? (fill[i] as number) : x)));
    }
    case 'MAX':
    case 'MIN':
    case 'SUM':
    case 'AVG': {
      const reduce = REDUCERS[node.name] as (xs: number[]) => number;
      const only = node.args[0] as Expr;
      if (only.kind === 'array') {
        const columns = only.items.map((item) => values(evaluate(item), length));
        return series(
          Array.from({ length }, (_, i) =>
            reduce(columns.map((column) => column[i] as number).filter((x) => !Number.isNaN(x))),
          ),
        );
      }
      const single = evaluate(only);
      if (single.kind === 'scalar') return single;
      return scalar(reduce(values(single, length).filter((x) => !Number.isNaN(x))));
    }
    case 'ABS':
      return map1(arg(0), Math.abs);
    case 'CEIL':
      return map1(arg(0), Math.ceil);
    case 'FLOOR':
      return map1(arg(0), Math.floor);
    case 'ANOMALY_DETECTION_BAND': {
      const metric = values(arg(0), length);
      const width = node.args.length > 1 ? arg(1) : scalar(2);
      if (width.kind !== 'scalar' || !(width.value >= 0)) {
        throw new MetricMathError('ANOMALY_DETECTION_BAND takes a number >= 0 as its band width');
      }
      return anomalyBand(metric, width.value, context.anomaly ?? DEFAULT_ANOMALY_BAND);
    }
    default:
      throw new MetricMathError(`unsupported function ${node.name}`);
  }
}

const REDUCERS: Readonly<Record<string, (xs: number[]) => number>> = {
  MAX: (xs) => (xs.length === 0 ? Number.NaN : Math.max(...xs)),
  MIN: (xs) => (xs.length === 0 ? Number.NaN : Math.min(...xs)),
  SUM: (xs) => (xs.length === 0 ? Number.NaN : xs.reduce((a, b) => a + b, 0)),
  AVG: (xs) => (xs.length === 0 ? Number.NaN : xs.reduce((a, b) => a + b, 0) / xs.length),
};

/** The band of each slot, learnt from the slots before it (see the module comment). */
export function anomalyBand(
  metric: readonly number[],
  width: number,
  options: AnomalyBandOptions,
): MathValue {
  const lower: number[] = [];
  const upper: number[] = [];
  for (let i = 0; i < metric.length; i++) {
    const history = metric.slice(Math.max(0, i - options.trainingPeriods), i).filter((x) => !Number.isNaN(x));
    if (history.length < Math.max(1, options.minTrainingPeriods)) {
      lower.push(Number.NaN);
      upper.push(Number.NaN);
      continue;
    }
    const mean = history.reduce((a, b) => a + b, 0) / history.length;
    const variance = history.reduce((a, b) => a + (b - mean) ** 2, 0) / history.length;
    const deviation = Math.max(Math.sqrt(variance), options.minRelativeStdDev * Math.abs(mean));
    lower.push(mean - width * deviation);
    upper.push(mean + width * deviation);
  }
  return { kind: 'band', lower, upper };
}

function scalar(value: number): MathValue {
  return { kind: 'scalar', value };
}

function series(xs: readonly number[]): MathValue {
  return { kind: 'series', values: xs.map((x) => (Number.isFinite(x) ? x : Number.NaN)) };
}

/** The value as one number per slot. */
export function values(value: MathValue, length: number): readonly number[] {
  if (value.kind === 'band')
    throw new MetricMathError('an anomaly band can only be used as an alarm threshold');
  if (value.kind === 'scalar') return new Array<number>(length).fill(value.value);
  return value.values;
}

function map1(value: MathValue, f: (x: number) => number): MathValue {
  if (value.kind === 'band')
    throw new MetricMathError('an anomaly band can only be used as an alarm threshold');
  if (value.kind === 'scalar') return scalar(Number.isNaN(value.value) ? Number.NaN : f(value.value));
  return series(value.values.map((x) => (Number.isNaN(x) ? Number.NaN : f(x))));
}

function map2(a: MathValue, b: MathValue, f: (x: number, y: number) => number, length: number): MathValue {
  const apply = (x: number, y: number): number => (Number.isNaN(x) || Number.isNaN(y) ? Number.NaN : f(x, y));
  if (a.kind === 'scalar' && b.kind === 'scalar') return scalar(apply(a.value, b.value));
  const xs = values(a, length);
  const ys = values(b, length);
  return series(xs.map((x, i) => apply(x, ys[i] as number)));
}
