/**
 * The local cloud's EventBridge: rules with event patterns, asynchronous delivery to in-process
 * targets, retries with exponential backoff and a dead-letter file. Where this stands: local
 * runtime; local services (S3 server bridge, trainer, endpoints, alarm evaluator) publish into it
 * and the supervisor registers one rule per handler, with the same patterns the stack deploys.
 *
 * Pattern matching follows EventBridge's content filtering (Amazon EventBridge User Guide,
 * "Creating event patterns", "Arrays in Amazon EventBridge event patterns", "Content filtering in
 * Amazon EventBridge event patterns" and "Comparison operators for use in event patterns"):
 * - every field named in the pattern must match (AND); the values of a leaf are an array of
 *   alternatives (OR); fields the pattern does not name are ignored;
 * - nested objects in the pattern match nested objects of the event;
 * - when the event's value is an array, the leaf matches when any element matches (the
 *   intersection of the pattern array and the event array is non-empty);
 * - exact values (string, number, boolean, null) compare by type and value;
 * - `{prefix}`, `{suffix}` (optionally `{ prefix: { 'equals-ignore-case': x } }`),
 *   `{'equals-ignore-case'}`, `{wildcard}`, `{'anything-but': value | [values] | {prefix} |
 *   {suffix} | {'equals-ignore-case'}}`, `{numeric: ['>', 0, '<=', 5]}`, `{exists: true|false}`,
 *   `{cidr}` (IPv4) and `$or`; comparison operators only work on leaf nodes, `exists: false`
 *   matches a field that is absent, and every other matcher needs the field to be present.
 *
 * Delivery follows a rule target's RetryPolicy: `retryAttempts` is MaximumRetryAttempts (retries
 * after the first attempt, default 3 here instead of AWS's 185), then the event goes to the
 * rule's dead-letter queue (here a JSON-lines file and {@link LocalEventBus.deadLetters}).
 * EventBridge delivers at least once; this bus delivers each matching event once per rule, and
 * the handlers stay idempotent for the real thing.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { CloudEvent, EventPublisher, LocalTime } from './contracts';

/** An EventBridge event pattern (JSON), e.g. `{ source: ['aws.s3'], detail: { ... } }`. */
export type EventPattern = Readonly<Record<string, unknown>>;

export interface BusLogger {
  info(message: string, context?: Record<string, unknown>): void;
  warn(message: string, context?: Record<string, unknown>): void;
  error(message: string, context?: Record<string, unknown>): void;
}

export interface LocalEventBusOptions {
  /** JSON-lines file receiving events whose delivery failed after every retry. */
  readonly deadLetterFile?: string;
  readonly time: LocalTime;
  /** @default warnings and errors to stderr, info dropped */
  readonly log?: BusLogger;
  /**
   * Delay before the first retry, in simulated seconds (doubled at each further retry, scaled by
   * `time`). @default 1
   */
  readonly retryBaseSeconds?: number;
  /** Longest delay between two attempts, in simulated seconds. @default 60 */
  readonly maxRetryDelaySeconds?: number;
}

export interface RuleOptions {
  readonly name: string;
  readonly pattern: EventPattern;
  readonly target: (event: CloudEvent) => Promise<void>;
  /** Retries after the first failed attempt (EventBridge MaximumRetryAttempts). @default 3 */
  readonly retryAttempts?: number;
  /** Most deliveries to this target running at once. @default unbounded */
  readonly maxConcurrency?: number;
}

/** One event given up on: what, for which rule, why, after how many attempts. */
export interface DeadLetter {
  readonly rule: string;
  readonly event: CloudEvent;
  readonly error: string;
  readonly attempts: number;
  readonly at: string;
}

export interface RuleDeliveryStats {
  /** Events that matched the rule. */
  matched: number;
  /** Target invocations (first attempts and retries). */
  attempts: number;
  succeeded: number;
  /** Target invocations that threw. */
  failed: number;
  retried: number;
  deadLettered: number;
  /** Events dropped by an injected {@link LocalEventBus.loseNext} fault, never delivered. */
  lost: number;
}

export interface DeliveryStats extends RuleDeliveryStats {
  readonly published: number;
  readonly queued: number;
  readonly inFlight: number;
  readonly waitingForRetry: number;
  readonly byRule: Readonly<Record<string, Readonly<RuleDeliveryStats>>>;
}

interface Rule extends Required<Omit<RuleOptions, 'maxConcurrency'>> {
  readonly maxConcurrency: number;
  readonly queue: Delivery[];
  inFlight: number;
  /** Matching events still to be dropped ({@link LocalEventBus.loseNext}). */
  toLose: number;
  readonly stats: RuleDeliveryStats;
}

interface Delivery {
  readonly rule: Rule;
  readonly event: CloudEvent;
  /** Attempts made so far. */
  attempts: number;
}

const defaultLogger: BusLogger = {
  info: () => {},
  warn: (message, context) => console.error(`[event-bus] ${message}`, context ?? ''),
  error: (message, context) => console.error(`[event-bus] ${message}`, context ?? ''),
};

export class LocalEventBus implements EventPublisher {
  private readonly rules = new Map<string, Rule>();
  private readonly retryTimers = new Map<NodeJS.Timeout, Delivery>();
  private readonly dead: DeadLetter[] = [];
  private readonly idleWaiters: (() => void)[] = [];
  private readonly log: BusLogger;
  private readonly retryBaseSeconds: number;
  private readonly maxRetryDelaySeconds: number;
  private published = 0;
  private closed = false;

  constructor(private readonly options: LocalEventBusOptions) {
    this.log = options.log ?? defaultLogger;
    this.retryBaseSeconds = options.retryBaseSeconds ?? 1;
    this.maxRetryDelaySeconds = options.maxRetryDelaySeconds ?? 60;
  }

  /** Adds a rule (PutRule + PutTargets). Throws on a duplicate name or an invalid pattern. */
  addRule(options: RuleOptions): void {
    if (this.rules.has(options.name)) throw new Error(`rule "${options.name}" already exists`);
    validatePattern(options.pattern);
    const retryAttempts = options.retryAttempts ?? 3;
    if (!Number.isInteger(retryAttempts) || retryAttempts < 0) {
      throw new Error(`rule "${options.name}": retryAttempts must be an integer >= 0, got ${retryAttempts}`);
    }
    const maxConcurrency = options.maxConcurrency ?? Number.POSITIVE_INFINITY;
    if (!(maxConcurrency >= 1)) {
      throw new Error(`rule "${options.name}": maxConcurrency must be >= 1, got ${maxConcurrency}`);
    }
    this.rules.set(options.name, {
      name: options.name,
      pattern: options.pattern,
      target: options.target,
      retryAttempts,
      maxConcurrency,
      queue: [],
      inFlight: 0,
      toLose: 0,
      stats: { matched: 0, attempts: 0, succeeded: 0, failed: 0, retried: 0, deadLettered: 0, lost: 0 },
    });
  }

  removeRule(name: string): boolean {
    return this.rules.delete(name);
  }

  /**
   * A fault: the next `count` events matching the rule are dropped without a trace, as EventBridge
   * at times never delivers one (0 ends the fault). What repairs that is the reconciler
   * (core/use-cases/reconcile.ts).
   */
  loseNext(ruleName: string, count = 1): void {
    const rule = this.rules.get(ruleName);
    if (!rule) throw new Error(`no rule "${ruleName}"`);
    if (!Number.isInteger(count) || count < 0) throw new Error(`count must be an integer >= 0, got ${count}`);
    rule.toLose = count;
  }

  /** Queues the event for every matching rule; never throws, delivery is asynchronous. */
  publish(event: CloudEvent): void {
    try {
      if (this.closed) {
        // Only an event some rule wanted is worth a warning (data capture flushed at shutdown is not).
        if (![...this.rules.values()].some((rule) => matches(rule.pattern, event))) return;
        this.log.warn('event published after close, dropped', {
          id: event.id,
          'detail-type': event['detail-type'],
        });
        return;
      }
      this.published++;
      // A target receives the event as it would arrive over the wire: a JSON copy of its own
      // (serialized once, and only when some rule matches).
      let wire: string | undefined;
      for (const rule of this.rules.values()) {
        let matched: boolean;
        try {
          matched = matches(rule.pattern, event);
        } catch (error) {
          this.log.error('pattern evaluation failed', { rule: rule.name, error: describeError(error) });
          continue;
        }
        if (!matched) continue;
        rule.stats.matched++;
        if (rule.toLose > 0) {
          rule.toLose--;
          rule.stats.lost++;
          this.log.info('event lost (injected fault)', { rule: rule.name, id: event.id });
          continue;
        }
        rule.queue.push({
          rule,
          event: JSON.parse((wire ??= JSON.stringify(event))) as CloudEvent,
          attempts: 0,
        });
        // Deliver after the publisher's current synchronous work, like a real bus.
        setImmediate(() => this.pump(rule));
      }
    } catch (error) {
      this.log.error('publish failed', { error: describeError(error) });
    }
  }

  /** Resolves once nothing is queued, running or waiting for a retry. */
  drain(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Stops the retry timers: deliveries still waiting for a retry are dead-lettered (reason "bus
   * closed"), later publishes are dropped. Deliveries already running finish.
   */
  close(): void {
    this.closed = true;
    for (const [timer, delivery] of this.retryTimers) {
      clearTimeout(timer);
      this.deadLetter(delivery, 'bus closed before the next retry');
    }
    this.retryTimers.clear();
    for (const rule of this.rules.values()) {
      for (const delivery of rule.queue.splice(0)) this.deadLetter(delivery, 'bus closed before delivery');
    }
    this.notifyIfIdle();
  }

  /** Events given up on, oldest first. */
  deadLetters(): readonly DeadLetter[] {
    return [...this.dead];
  }

  deliveries(): DeliveryStats {
    const byRule: Record<string, RuleDeliveryStats> = {};
    const total: RuleDeliveryStats = {
      matched: 0,
      attempts: 0,
      succeeded: 0,
      failed: 0,
      retried: 0,
      deadLettered: 0,
      lost: 0,
    };
    let queued = 0;
    let inFlight = 0;
    for (const rule of this.rules.values()) {
      byRule[rule.name] = { ...rule.stats };
      for (const key of Object.keys(total) as (keyof RuleDeliveryStats)[]) total[key] += rule.stats[key];
      queued += rule.queue.length;
      inFlight += rule.inFlight;
    }
    return {
      ...total,
      published: this.published,
      queued,
      inFlight,
      waitingForRetry: this.retryTimers.size,
      byRule,
    };
  }

  private pump(rule: Rule): void {
    while (rule.inFlight < rule.maxConcurrency && rule.queue.length > 0) {
      const delivery = rule.queue.shift() as Delivery;
      rule.inFlight++;
      void this.attempt(delivery).finally(() => {
        rule.inFlight--;
        this.pump(rule);
        this.notifyIfIdle();
      });
    }
    this.notifyIfIdle();
  }

  private async attempt(delivery: Delivery): Promise<void> {
    const { rule, event } = delivery;
    delivery.attempts++;
    rule.stats.attempts++;
    try {
      await rule.target(event);
      rule.stats.succeeded++;
    } catch (error) {
      rule.stats.failed++;
      const message = describeError(error);
      if (delivery.attempts > rule.retryAttempts || this.closed) {
        this.deadLetter(delivery, message);
        return;
      }
      const delaySeconds = Math.min(
        this.retryBaseSeconds * 2 ** (delivery.attempts - 1),
        this.maxRetryDelaySeconds,
      );
      this.log.warn('target failed, will retry', {
        rule: rule.name,
        id: event.id,
        attempt: delivery.attempts,
        retryInSimulatedSeconds: delaySeconds,
        error: message,
      });
      rule.stats.retried++;
      const timer = setTimeout(() => {
        this.retryTimers.delete(timer);
        rule.queue.push(delivery);
        this.pump(rule);
      }, this.options.time.ms(delaySeconds));
      this.retryTimers.set(timer, delivery);
    }
  }

  private deadLetter(delivery: Delivery, error: string): void {
    const letter: DeadLetter = {
      rule: delivery.rule.name,
      event: delivery.event,
      error,
      attempts: delivery.attempts,
      at: new Date().toISOString(),
    };
    delivery.rule.stats.deadLettered++;
    this.dead.push(letter);
    this.log.error('delivery failed for good, event dead-lettered', {
      rule: letter.rule,
      id: delivery.event.id,
      attempts: letter.attempts,
      error,
    });
    const file = this.options.deadLetterFile;
    if (file === undefined) return;
    try {
      // Synchronous on purpose: the line is on disk before drain() resolves.
      mkdirSync(dirname(file), { recursive: true });
      appendFileSync(file, `${JSON.stringify(letter)}\n`);
    } catch (writeError) {
      this.log.error('could not write the dead-letter file', { file, error: describeError(writeError) });
    }
  }

  private isIdle(): boolean {
    if (this.retryTimers.size > 0) return false;
    for (const rule of this.rules.values()) {
      if (rule.inFlight > 0 || rule.queue.length > 0) return false;
    }
    return true;
  }

  private notifyIfIdle(): void {
    if (this.idleWaiters.length === 0 || !this.isIdle()) return;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }
}

/**
 * A pattern written for the CDK (`events.EventPattern`, where `detail-type` is spelled
 * `detailType`) as the JSON pattern EventBridge receives, so the local bus can use the stack's own
 * pattern functions.
 */
export function fromCdkEventPattern(pattern: Readonly<Record<string, unknown>>): EventPattern {
  const result: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(pattern)) {
    if (value === undefined) continue;
    result[key === 'detailType' ? 'detail-type' : key] = value;
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// Pattern matching

/** True when the event matches the EventBridge pattern. */
export function matches(pattern: EventPattern, event: unknown): boolean {
  return matchObject(pattern, event);
}

function matchObject(pattern: Readonly<Record<string, unknown>>, value: unknown): boolean {
  for (const [key, sub] of Object.entries(pattern)) {
    if (key === '$or') {
      if (
        !Array.isArray(sub) ||
        !sub.some((alternative) => matchObject(alternative as EventPattern, value))
      ) {
        return false;
      }
      continue;
    }
    const field = isPlainObject(value) ? value[key] : undefined;
    if (Array.isArray(sub)) {
      if (!matchLeaf(sub, field)) return false;
    } else if (isPlainObject(sub)) {
      if (!matchNested(sub, field)) return false;
    } else {
      return false;
    }
  }
  return true;
}

function matchNested(pattern: Readonly<Record<string, unknown>>, field: unknown): boolean {
  if (isPlainObject(field)) return matchObject(pattern, field);
  // An array of objects in the event: any element may match the nested pattern.
  if (Array.isArray(field))
    return field.some((element) => isPlainObject(element) && matchObject(pattern, element));
  // An absent field can still match a nested pattern made only of `exists: false` leaves.
  if (field === undefined) return matchObject(pattern, {});
  return false;
}

function matchLeaf(alternatives: readonly unknown[], field: unknown): boolean {
  return alternatives.some((matcher) => {
    if (isPlainObject(matcher) && 'exists' in matcher) {
      const present =
        field !== undefined && !isPlainObject(field) && !(Array.isArray(field) && field.length === 0);
      return matcher.exists === present;
    }
    if (field === undefined || isPlainObject(field)) return false;
    const values = Array.isArray(field) ? field : [field];
    return values.some((value) => matchValue(matcher, value));
  });
}

function matchValue(matcher: unknown, value: unknown): boolean {
  if (!isPlainObject(matcher)) return matcher === value; // exact: same type and value
  const [operator, operand] = singleEntry(matcher);
  switch (operator) {
    case 'prefix':
      return typeof value === 'string' && stringTest(operand, value, (v, x) => v.startsWith(x));
    case 'suffix':
      return typeof value === 'string' && stringTest(operand, value, (v, x) => v.endsWith(x));
    case 'equals-ignore-case':
      return (
        typeof value === 'string' &&
        typeof operand === 'string' &&
        value.toLowerCase() === operand.toLowerCase()
      );
    case 'wildcard':
      return typeof value === 'string' && typeof operand === 'string' && wildcardRegExp(operand).test(value);
    case 'anything-but':
      return anythingBut(operand, value);
    case 'numeric':
      return typeof value === 'number' && Array.isArray(operand) && numericTest(operand, value);
    case 'cidr':
      return typeof value === 'string' && typeof operand === 'string' && cidrTest(operand, value);
    default:
      return false;
  }
}

function stringTest(
  operand: unknown,
  value: string,
  test: (value: string, operand: string) => boolean,
): boolean {
  if (typeof operand === 'string') return test(value, operand);
  if (isPlainObject(operand) && typeof operand['equals-ignore-case'] === 'string') {
    return test(value.toLowerCase(), operand['equals-ignore-case'].toLowerCase());
  }
  return false;
}

function anythingBut(operand: unknown, value: unknown): boolean {
  if (Array.isArray(operand)) return !operand.some((excluded) => excluded === value);
  if (isPlainObject(operand)) return !matchValue(operand, value);
  return operand !== value;
}

function numericTest(conditions: readonly unknown[], value: number): boolean {
  for (let i = 0; i + 1 < conditions.length; i += 2) {
    const operator = conditions[i];
    const bound = conditions[i + 1];
    if (typeof bound !== 'number') return false;
    const ok =
      operator === '>'
        ? value > bound
        : operator === '>='
          ? value >= bound
          : operator === '<'
            ? value < bound
            : operator === '<='
              ? value <= bound
              : operator === '='
                ? value === bound
                : false;
    if (!ok) return false;
  }
  return conditions.length > 0 && conditions.length % 2 === 0;
}

function cidrTest(cidr: string, value: string): boolean {
  const [network, bitsText] = cidr.split('/');
  const bits = bitsText === undefined ? 32 : Number(bitsText);
  const a = ipv4(network ?? '');
  const b = ipv4(value);
  if (a === undefined || b === undefined || !(bits >= 0 && bits <= 32)) return false;
  if (bits === 0) return true;
  const mask = (0xffffffff << (32 - bits)) >>> 0;
  return (a & mask) >>> 0 === (b & mask) >>> 0;
}

function ipv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let result = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part) || Number(part) > 255) return undefined;
    result = result * 256 + Number(part);
  }
  return result;
}

const wildcardCache = new Map<string, RegExp>();
function wildcardRegExp(pattern: string): RegExp {
  let regexp = wildcardCache.get(pattern);
  if (regexp === undefined) {
    const body = pattern
      .split('*')
      .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*');
    regexp = new RegExp(`^${body}$`, 's');
    wildcardCache.set(pattern, regexp);
  }
  return regexp;
}

const OPERATORS = new Set([
  'prefix',
  'suffix',
  'equals-ignore-case',
  'wildcard',
  'anything-but',
  'numeric',
  'exists',
  'cidr',
]);

/** Throws (like PutRule's InvalidEventPatternException) when the pattern is not one EventBridge accepts. */
export function validatePattern(pattern: unknown, path = ''): void {
  if (!isPlainObject(pattern))
    throw new Error(`invalid event pattern${path ? ` at ${path}` : ''}: must be an object`);
  for (const [key, sub] of Object.entries(pattern)) {
    const here = path ? `${path}.${key}` : key;
    if (key === '$or') {
      if (!Array.isArray(sub) || sub.length < 2)
        throw new Error(`invalid event pattern at ${here}: $or needs at least two patterns`);
      sub.forEach((alternative, index) => validatePattern(alternative, `${here}[${index}]`));
    } else if (Array.isArray(sub)) {
      if (sub.length === 0) throw new Error(`invalid event pattern at ${here}: empty array`);
      for (const matcher of sub) validateMatcher(matcher, here);
    } else if (isPlainObject(sub)) {
      validatePattern(sub, here);
    } else {
      throw new Error(`invalid event pattern at ${here}: a leaf must be an array of values`);
    }
  }
}

function validateMatcher(matcher: unknown, path: string): void {
  if (!isPlainObject(matcher)) return;
  const keys = Object.keys(matcher);
  const operator = keys[0];
  if (keys.length !== 1 || operator === undefined || !OPERATORS.has(operator)) {
    throw new Error(`invalid event pattern at ${path}: unknown matcher ${JSON.stringify(matcher)}`);
  }
  const operand = matcher[operator];
  if (operator === 'exists' && typeof operand !== 'boolean') {
    throw new Error(`invalid event pattern at ${path}: exists takes true or false`);
  }
  if (operator === 'numeric') {
    const ok =
      Array.isArray(operand) &&
      operand.length > 0 &&
      operand.length % 2 === 0 &&
      operand.every((item, index) =>
        index % 2 === 0 ? ['>', '>=', '<', '<=', '='].includes(item as string) : typeof item === 'number',
      );
    if (!ok) throw new Error(`invalid event pattern at ${path}: numeric takes [operator, number, ...]`);
  }
}

function singleEntry(object: Readonly<Record<string, unknown>>): [string | undefined, unknown] {
  const keys = Object.keys(object);
  const key = keys.length === 1 ? keys[0] : undefined;
  return [key, key === undefined ? undefined : object[key]];
}

function isPlainObject(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
