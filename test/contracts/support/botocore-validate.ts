/**
 * Validates an SDK v3 command input against a botocore service model: what the service itself
 * checks before it looks at a request ("1 validation error detected: Value ... at ... failed to
 * satisfy constraint"). Where this stands: test infrastructure for the request-validity contract.
 *
 * SDK v3 inputs use the model's member names, so an input is checked member by member: required
 * members, unknown members (a member not in the shape is an error: it would be dropped or refused),
 * enums, string lengths and patterns, numeric ranges, list and map sizes, nested structures, unions,
 * timestamps and blobs. botocore's own client-side validator checks less (no patterns, no maximums);
 * the services check them all, so this does too.
 *
 * Patterns are written for Java (the services are Java); they are converted to JS with
 * {@link toJsPattern} and matched against the whole value, as Java's `Pattern.matches` does. A
 * pattern JS cannot express is skipped and counted in {@link ValidationStats.skippedPatterns}.
 */
import type { BotocoreServiceModel, BotocoreShape, BotocoreShapeRef } from './botocore-model';

/** What one validation looked at (so a test can show it was not vacuous). */
export interface ValidationStats {
  /** Values checked, by shape type. */
  readonly checked: Record<string, number>;
  /** Patterns matched against a value. */
  patternsChecked: number;
  /** Java patterns JS cannot express, with the reason (shape name -> reason). */
  readonly skippedPatterns: Map<string, string>;
  /** Members skipped on purpose (e.g. S3 `Body` streams), by path. */
  readonly skippedMembers: string[];
}

/** Options of {@link validateInput}. */
export interface ValidateOptions {
  /** Members not to check (e.g. streaming payloads); return a reason to skip. */
  readonly skip?: (path: string, ref: BotocoreShapeRef, shape: BotocoreShape) => string | undefined;
  /**
   * Rewrites a value before it is checked, given its shape's name: the form a middleware sends
   * (e.g. the DynamoDB document client marshals native values into AttributeValues just before
   * serialising, after the call journal has recorded them).
   */
  readonly transform?: (shapeName: string, value: unknown) => unknown;
  /** Stats to add to (several requests can share one). */
  readonly stats?: ValidationStats;
}

/** An empty {@link ValidationStats}. */
export function newStats(): ValidationStats {
  return { checked: {}, patternsChecked: 0, skippedPatterns: new Map(), skippedMembers: [] };
}

/**
 * The problems of `input` as the input of `operation` (empty when valid), each naming the member's
 * path as `Operation.Member.Nested[0].Key`.
 */
export function validateInput(
  model: BotocoreServiceModel,
  operation: string,
  input: unknown,
  options: ValidateOptions = {},
): string[] {
  const op = model.operations[operation];
  if (!op)
    return [
      `${operation}: no such operation in ${model.metadata.endpointPrefix} ${model.metadata.apiVersion}`,
    ];
  const stats = options.stats ?? newStats();
  const problems: string[] = [];
  if (!op.input) {
    if (input !== undefined && Object.keys(input as object).length > 0)
      problems.push(`${operation}: takes no input`);
    return problems;
  }
  visit(model, op.input, input ?? {}, operation, problems, stats, options);
  return problems;
}

function visit(
  model: BotocoreServiceModel,
  ref: BotocoreShapeRef,
  value: unknown,
  path: string,
  problems: string[],
  stats: ValidationStats,
  options: ValidateOptions,
): void {
  if (options.transform) value = options.transform(ref.shape, value);
  const shape = model.shapes[ref.shape];
  if (!shape) {
    problems.push(`${path}: the model has no shape ${ref.shape}`);
    return;
  }
  const reason = options.skip?.(path, ref, shape);
  if (reason !== undefined) {
    stats.skippedMembers.push(`${path} (${reason})`);
    return;
  }
  stats.checked[shape.type] = (stats.checked[shape.type] ?? 0) + 1;
  const fail = (message: string): void => {
    problems.push(`${path}: ${message}`);
  };
  switch (shape.type) {
    case 'structure': {
      if (!isPlainObject(value)) return fail(`must be a structure (${ref.shape}), got ${describe(value)}`);
      const members = shape.members ?? {};
      const set = Object.entries(value).filter(([, v]) => v !== undefined);
      for (const name of shape.required ?? []) {
        if (value[name] === undefined) fail(`missing required member ${name} (${ref.shape})`);
      }
      if (shape.union && set.length !== 1)
        fail(`exactly one member of union ${ref.shape} must be set, got ${set.length}`);
      for (const [name, member] of set) {
        const memberRef = members[name];
        if (!memberRef) {
          fail(`unknown member ${name}: ${ref.shape} has ${Object.keys(members).join(', ') || 'no members'}`);
          continue;
        }
        visit(model, memberRef, member, `${path}.${name}`, problems, stats, options);
      }
      return;
    }
    case 'list': {
      if (!Array.isArray(value)) return fail(`must be a list (${ref.shape}), got ${describe(value)}`);
      checkRange(value.length, shape, 'items', fail);
      value.forEach((item, i) =>
        visit(model, shape.member!, item, `${path}[${i}]`, problems, stats, options),
      );
      return;
    }
    case 'map': {
      const entries =
        value instanceof Map
          ? [...(value as Map<unknown, unknown>).entries()]
          : isPlainObject(value)
            ? Object.entries(value)
            : undefined;
      if (!entries) return fail(`must be a map (${ref.shape}), got ${describe(value)}`);
      checkRange(entries.length, shape, 'entries', fail);
      for (const [k, v] of entries) {
        visit(model, shape.key!, k, `${path}{key ${JSON.stringify(k)}}`, problems, stats, options);
        visit(model, shape.value!, v, `${path}[${JSON.stringify(k)}]`, problems, stats, options);
      }
      return;
    }
    case 'string': {
      if (typeof value !== 'string') return fail(`must be a string (${ref.shape}), got ${describe(value)}`);
      if (shape.enum && !shape.enum.includes(value))
        fail(`${JSON.stringify(value)} is not one of ${ref.shape}'s values (${shape.enum.join(' | ')})`);
      // Lengths count characters (code points), not UTF-16 units.
      checkRange([...value].length, shape, 'characters', fail);
      if (shape.pattern !== undefined) {
        const pattern = compiledPattern(shape.pattern);
        if ('skipped' in pattern) {
          stats.skippedPatterns.set(ref.shape, `${shape.pattern}: ${pattern.skipped}`);
        } else {
          stats.patternsChecked++;
          if (!pattern.regex.test(value))
            fail(`${JSON.stringify(truncate(value))} does not match ${ref.shape}'s pattern ${shape.pattern}`);
        }
      }
      return;
    }
    case 'integer':
    case 'long': {
      const n = typeof value === 'bigint' ? Number(value) : value;
      if (typeof n !== 'number' || !Number.isInteger(n))
        return fail(`must be an integer (${ref.shape}), got ${describe(value)}`);
      if (shape.type === 'integer' && (n < -(2 ** 31) || n > 2 ** 31 - 1))
        fail(`${n} overflows a 32-bit integer`);
      checkRange(n, shape, '', fail);
      return;
    }
    case 'float':
    case 'double': {
      if (typeof value !== 'number' || !Number.isFinite(value))
        return fail(`must be a finite number (${ref.shape}), got ${describe(value)}`);
      checkRange(value, shape, '', fail);
      return;
    }
    case 'boolean':
      if (typeof value !== 'boolean') fail(`must be a boolean (${ref.shape}), got ${describe(value)}`);
      return;
    case 'timestamp': {
      const ok =
        (value instanceof Date && !Number.isNaN(value.getTime())) ||
        (typeof value === 'number' && Number.isFinite(value)) ||
        (typeof value === 'string' && !Number.isNaN(Date.parse(value)));
      if (!ok) fail(`must be a timestamp (Date, epoch seconds or ISO 8601), got ${describe(value)}`);
      return;
    }
    case 'blob': {
      const ok = typeof value === 'string' || value instanceof Uint8Array || ArrayBuffer.isView(value);
      if (!ok) fail(`must be binary (Uint8Array or string), got ${describe(value)}`);
      else
        checkRange(
          typeof value === 'string' ? Buffer.byteLength(value) : (value as ArrayBufferView).byteLength,
          shape,
          'bytes',
          fail,
        );
      return;
    }
    default:
      fail(`unsupported shape type ${(shape as { type: string }).type} (${ref.shape})`);
  }
}

function checkRange(n: number, shape: BotocoreShape, unit: string, fail: (message: string) => void): void {
  const what = unit ? `${n} ${unit}` : String(n);
  if (shape.min !== undefined && n < shape.min) fail(`${what} is below the minimum ${shape.min}`);
  if (shape.max !== undefined && n > shape.max) fail(`${what} is above the maximum ${shape.max}`);
}

const patternCache = new Map<string, { regex: RegExp } | { skipped: string }>();

function compiledPattern(javaPattern: string): { regex: RegExp } | { skipped: string } {
  let compiled = patternCache.get(javaPattern);
  if (!compiled) {
    const converted = toJsPattern(javaPattern);
    if ('skipped' in converted) compiled = converted;
    else {
      try {
        // Java's Pattern.matches: the whole value must match. The `u` flag reads \p{L} and
        // surrogate pairs (\uD800\uDC00) the way Java does.
        compiled = { regex: new RegExp(`^(?:${converted.source})$`, 'u') };
      } catch (error) {
        compiled = { skipped: (error as Error).message };
      }
    }
    patternCache.set(javaPattern, compiled);
  }
  return compiled;
}

/** Java's POSIX classes (US-ASCII only, as in java.util.regex.Pattern without UNICODE_CHARACTER_CLASS). */
const POSIX_CLASSES: Readonly<Record<string, string>> = {
  Lower: 'a-z',
  Upper: 'A-Z',
  ASCII: '\\x00-\\x7F',
  Alpha: 'a-zA-Z',
  Digit: '0-9',
  Alnum: 'a-zA-Z0-9',
  Punct: '!-\\/:-@\\[-`{-~',
  Graph: '!-~',
  Print: ' -~',
  Blank: ' \\t',
  Cntrl: '\\x00-\\x1F\\x7F',
  XDigit: '0-9a-fA-F',
  Space: ' \\t\\n\\x0B\\f\\r',
};

/** Characters that keep their backslash in a JS `u` regex (syntax characters, and `-` in classes). */
const JS_ESCAPABLE = new Set('^$\\.*+?()[]{}|/-'.split(''));

/**
 * A Java regex rewritten for JS (`u` flag), or the reason it cannot be. Handles what AWS models
 * use: identity escapes of non-syntax characters (`\_`, `\ `, legal in Java, errors in JS `u`
 * mode), POSIX classes (`\p{Print}`), and quantified anchors (`${1,128}`, a no-op in Java).
 * Refuses Java-only syntax: possessive quantifiers, class intersections (`&&`), `\A \Z \z \G \Q \E`,
 * inline flags and `\p{java...}`/`\p{Is...}` classes.
 */
export function toJsPattern(java: string): { source: string } | { skipped: string } {
  let out = '';
  let inClass = false;
  for (let i = 0; i < java.length; i++) {
    const c = java[i]!;
    if (c === '\\') {
      const next = java[i + 1];
      if (next === undefined) return { skipped: 'trailing backslash' };
      if ('AZzGQEhHRX'.includes(next)) return { skipped: `Java-only escape \\${next}` };
      if (next === 'p' || next === 'P') {
        const match = /^\{([A-Za-z_]+)\}/.exec(java.slice(i + 2));
        if (!match) return { skipped: 'unbraced \\p' };
        const name = match[1]!;
        const posix = POSIX_CLASSES[name];
        if (posix !== undefined) {
          const negated = next === 'P';
          out += inClass ? (negated ? '' : posix) : `[${negated ? '^' : ''}${posix}]`;
          if (inClass && negated) return { skipped: `negated POSIX class \\P{${name}} inside a class` };
        } else if (/^(java|Is|In)/.test(name)) {
          return { skipped: `Java-only class \\${next}{${name}}` };
        } else {
          out += `\\${next}{${name}}`;
        }
        i += 1 + match[0].length;
        continue;
      }
      if (/[A-Za-z0-9]/.test(next) || JS_ESCAPABLE.has(next)) {
        out += `\\${next}`;
      } else {
        // Java lets any non-alphanumeric character be escaped; JS u-mode does not: write it as is.
        out += next;
      }
      i++;
      continue;
    }
    if (inClass) {
      if (c === '[') return { skipped: 'nested character class (Java union)' };
      if (c === '&' && java[i + 1] === '&') return { skipped: 'class intersection (&&)' };
      if (c === ']') inClass = false;
      out += c;
      continue;
    }
    if (c === '[') {
      inClass = true;
      out += c;
      // A leading ']' (or '^]') is a literal in Java.
      if (java[i + 1] === '^') {
        out += '^';
        i++;
      }
      if (java[i + 1] === ']') {
        out += '\\]';
        i++;
      }
      continue;
    }
    if (c === '(' && java[i + 1] === '?' && /[a-zA-Z]/.test(java[i + 2] ?? '') && java[i + 2] !== 'P')
      return { skipped: 'inline flags' };
    if ((c === '+' || c === '*' || c === '?' || c === '}') && java[i + 1] === '+')
      return { skipped: 'possessive quantifier' };
    if ((c === '^' || c === '$') && java[i + 1] === '{') {
      // A quantified anchor (`${1,128}`): repeating a zero-width anchor matches the same as the
      // anchor once, and `{0,n}` makes it optional, which always matches.
      const match = /^\{(\d+)(,\d*)?\}/.exec(java.slice(i + 1));
      if (match) {
        if (Number(match[1]) > 0) out += c;
        i += match[0].length;
        continue;
      }
    }
    out += c;
  }
  if (inClass) return { skipped: 'unterminated character class' };
  return { source: out };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (value instanceof Date) return 'a Date';
  if (typeof value === 'object') return value.constructor?.name ?? 'an object';
  // What is left: a primitive, a function or a symbol (their own toString), or undefined.
  const text =
    typeof value === 'string'
      ? value
      : typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint'
        ? String(value)
        : typeof value === 'function' || typeof value === 'symbol'
          ? value.toString()
          : 'undefined';
  return `${typeof value} ${JSON.stringify(truncate(text))}`;
}

function truncate(text: string): string {
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}
