/**
 * A small EventBridge event pattern matcher for the contract tests: does this event match the
 * rule the stack deploys? Written independently of the local cloud's bus (local/event-bus.ts) so
 * that the contract does not check the emulator against itself; event-pattern.test.ts also checks
 * that the two agree.
 *
 * Semantics (Amazon EventBridge User Guide, "Creating event patterns",
 * https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html, and
 * "Comparison operators for use in event patterns",
 * https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html):
 * - every field the pattern names must match (AND); fields it does not name are ignored;
 * - a leaf is an array of alternatives (OR); when the event's value is an array, the leaf matches
 *   if any element matches;
 * - an object in the pattern matches the object at the same place in the event (nested);
 * - exact values compare by type and value (`"5"` does not match `5`);
 * - operators: `{prefix}`, `{suffix}`, `{exists: true|false}`, `{anything-but: value | [values] |
 *   {prefix} | {suffix}}`. Matching is case-sensitive.
 * Anything else throws, so a pattern using an operator this matcher does not know fails the test
 * instead of being matched wrongly.
 */

/** An EventBridge event pattern as JSON (`detail-type`, not the CDK's `detailType`). */
export type EventPattern = Readonly<Record<string, unknown>>;

/** True when `event` matches `pattern`. */
export function matchesPattern(pattern: EventPattern, event: unknown): boolean {
  return matchObject(pattern, event, '');
}

function matchObject(pattern: EventPattern, value: unknown, path: string): boolean {
  for (const [key, sub] of Object.entries(pattern)) {
    const where = path ? `${path}.${key}` : key;
    const field = isObject(value) ? value[key] : undefined;
    if (Array.isArray(sub)) {
      if (!matchLeaf(sub, field, where)) return false;
    } else if (isObject(sub)) {
      if (!isObject(field)) {
        // Only `exists: false` leaves can match under a missing object.
        if (!matchObject(sub, {}, where)) return false;
      } else if (!matchObject(sub, field, where)) {
        return false;
      }
    } else {
      throw new Error(`pattern field ${where} must be an array or an object, got ${JSON.stringify(sub)}`);
    }
  }
  return true;
}

function matchLeaf(alternatives: readonly unknown[], field: unknown, path: string): boolean {
  if (alternatives.length === 0) throw new Error(`pattern field ${path} is an empty array`);
  // Checked before looking at the event, so an unsupported operator fails on every event.
  for (const matcher of alternatives) checkMatcher(matcher, path);
  return alternatives.some((matcher) => {
    if (isObject(matcher) && 'exists' in matcher) {
      const present = field !== undefined && !isObject(field);
      return matcher.exists === present;
    }
    if (field === undefined || isObject(field)) return false;
    const values: unknown[] = Array.isArray(field) ? field : [field];
    return values.some((value) => matchValue(matcher, value, path));
  });
}

const OPERATORS = new Set(['prefix', 'suffix', 'anything-but', 'exists']);

function checkMatcher(matcher: unknown, path: string): void {
  if (!isObject(matcher)) return;
  const operators = Object.keys(matcher);
  if (operators.length !== 1) throw new Error(`pattern field ${path}: one operator per matcher`);
  const operator = operators[0] as string;
  if (!OPERATORS.has(operator)) {
    throw new Error(`pattern field ${path}: operator ${operator} is not supported here`);
  }
  const operand = matcher[operator];
  if (operator === 'anything-but' && isObject(operand)) checkMatcher(operand, path);
}

function matchValue(matcher: unknown, value: unknown, path: string): boolean {
  if (!isObject(matcher)) return matcher === value;
  const [operator, operand] = Object.entries(matcher)[0] ?? [];
  switch (operator) {
    case 'prefix':
      return typeof value === 'string' && typeof operand === 'string' && value.startsWith(operand);
    case 'suffix':
      return typeof value === 'string' && typeof operand === 'string' && value.endsWith(operand);
    case 'anything-but':
      if (Array.isArray(operand)) return !operand.includes(value);
      if (isObject(operand)) return !matchValue(operand, value, path);
      return operand !== value;
    default:
      throw new Error(`pattern field ${path}: operator ${String(operator)} is not supported here`);
  }
}

function isObject(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** One AWS::Events::Rule of a synthesized template. */
export interface SynthesizedRule {
  readonly logicalId: string;
  /** The pattern with every `Ref` resolved, or undefined for a schedule rule. */
  readonly pattern?: EventPattern;
  readonly scheduleExpression?: string;
  /** The targets' `Arn` values as in the template (e.g. `{ 'Fn::GetAtt': [fn, 'Arn'] }`). */
  readonly targetArns: readonly unknown[];
}

/**
 * The event rules of a synthesized template (`Template.toJSON()`), their patterns resolved:
 * `{ Ref: logicalId }` becomes `refs[logicalId]`, so that e.g. the data bucket's name is a
 * concrete value an event can carry. An unresolved intrinsic throws.
 */
export function synthesizedRules(
  template: { readonly Resources?: Readonly<Record<string, unknown>> },
  refs: Readonly<Record<string, string>>,
): SynthesizedRule[] {
  const rules: SynthesizedRule[] = [];
  for (const [logicalId, resource] of Object.entries(template.Resources ?? {})) {
    const { Type: type, Properties: properties = {} } = resource as {
      Type: string;
      Properties?: Record<string, unknown>;
    };
    if (type !== 'AWS::Events::Rule') continue;
    const pattern = properties.EventPattern;
    const targets = (properties.Targets as { Arn: unknown }[] | undefined) ?? [];
    rules.push({
      logicalId,
      ...(pattern !== undefined ? { pattern: resolveRefs(pattern, refs, logicalId) as EventPattern } : {}),
      ...(typeof properties.ScheduleExpression === 'string'
        ? { scheduleExpression: properties.ScheduleExpression }
        : {}),
      targetArns: targets.map((t) => t.Arn),
    });
  }
  return rules;
}

function resolveRefs(value: unknown, refs: Readonly<Record<string, string>>, where: string): unknown {
  if (Array.isArray(value)) return value.map((v) => resolveRefs(v, refs, where));
  if (!isObject(value)) return value;
  const keys = Object.keys(value);
  if (keys.length === 1 && typeof value.Ref === 'string') {
    const resolved = refs[value.Ref];
    if (resolved === undefined) throw new Error(`${where}: no value given for Ref ${value.Ref}`);
    return resolved;
  }
  const intrinsic = keys.find((k) => k.startsWith('Fn::'));
  if (intrinsic !== undefined) throw new Error(`${where}: cannot resolve ${intrinsic} in an event pattern`);
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveRefs(v, refs, where)]));
}
