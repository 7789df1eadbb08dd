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
 *
 * Unlike EventBridge, this bus lives in one process that a person stops and starts again. With a
 * `backlogFile`, {@link LocalEventBus.close} saves what it has not delivered (queued, waiting for
 * a retry, failed while closing, published while the process stops) to that file, and
 * {@link LocalEventBus.open} in the next process delivers it to the same rules; with
 * `holdUntilOpen`, events published before the rules are set up wait for {@link LocalEventBus.open}.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { isPlainObject } from '../core/support/objects';
import type { CloudEvent, EventPublisher } from './contracts';

/** An EventBridge event pattern (JSON), e.g. `{ source: ['aws.s3'], detail: { ... } }`. */
export type EventPattern = Readonly<Record<string, unknown>>;

/** Where the bus reports deliveries that failed, retried or went to the dead-letter file. */
export interface BusLogger {
  info(message: string, context?: Record<string, unknown>): void;
  warn(message: string, context?: Record<string, unknown>): void;
  error(message: string, context?: Record<string, unknown>): void;
}

/** How a {@link LocalEventBus} keeps what it could not deliver. */
export interface LocalEventBusOptions {
  /** JSON-lines file receiving events whose delivery failed after every retry. */
  readonly deadLetterFile?: string;
  /** @default warnings and errors to stderr, info dropped */
  readonly log?: BusLogger;
  /**
   * Delay before the first retry, in real seconds (doubled at each further retry). Not scaled by
   * `time`: a time scale speeds up bake times and alarm periods, but a failing dependency (DynamoDB
   * Local restarting, a busy disk) takes as long to come back at any scale, and retries spent in a
   * fraction of a second would dead-letter what a second's wait would have delivered. @default 1
   */
  readonly retryBaseSeconds?: number;
  /** Longest delay between two attempts, in real seconds. @default 60 */
  readonly maxRetryDelaySeconds?: number;
  /**
   * JSON-lines file where {@link LocalEventBus.close} saves every delivery not made yet, and which
   * {@link LocalEventBus.open} delivers. Without it, close dead-letters them ("bus closed").
   */
  readonly backlogFile?: string;
  /**
   * Keep published events until {@link LocalEventBus.open}: services that start before the rules
   * are added (an S3 server taking uploads, endpoints restored after a restart) would otherwise
   * publish events that match no rule yet, and are gone. @default false
   */
  readonly holdUntilOpen?: boolean;
}

/** A rule: its name, its event pattern, its target and its retry policy. */
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

/** One delivery the bus closed before making, saved for the next {@link LocalEventBus.open}. */
export interface BacklogEntry {
  /** The rule to deliver it to (no other: the others had theirs). */
  readonly rule: string;
  readonly event: CloudEvent;
  /** Attempts already made; they count against the rule's retries at the next start. */
  readonly attempts: number;
  /** Where it was when the bus closed (queued, waiting for a retry, ...). */
  readonly reason: string;
  readonly at: string;
}

/** What {@link LocalEventBus.open} queued. */
export interface OpenOutcome {
  /** Backlog entries queued again for their rule. */
  readonly restored: number;
  /** Backlog entries whose rule no longer exists, dead-lettered. */
  readonly orphaned: number;
  /** Events published before open, now routed to the rules. */
  readonly released: number;
}

/** One rule's delivery counts (the bus's view of EventBridge's rule metrics). */
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

/** The bus's delivery counts over every rule, plus what was published and held. */
export interface DeliveryStats extends RuleDeliveryStats {
  readonly published: number;
  /** Published events waiting for {@link LocalEventBus.open} (`holdUntilOpen`). */
  readonly held: number;
  /** Deliveries saved to the backlog file at or after close, for the next start. */
  readonly saved: number;
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

/** The local EventBridge bus: rules, asynchronous delivery with retries, dead letters and a backlog kept across restarts. */
export class LocalEventBus implements EventPublisher {
  private readonly rules = new Map<string, Rule>();
  private readonly retryTimers = new Map<NodeJS.Timeout, Delivery>();
  private readonly dead: DeadLetter[] = [];
  private readonly idleWaiters: (() => void)[] = [];
  private readonly log: BusLogger;
  private readonly retryBaseSeconds: number;
  private readonly maxRetryDelaySeconds: number;
  /** Events published before {@link open}, when holding; undefined once open (or when not holding). */
  private held: CloudEvent[] | undefined;
  private published = 0;
  private saved = 0;
  private closed = false;

  constructor(private readonly options: LocalEventBusOptions) {
    this.log = options.log ?? defaultLogger;
    this.retryBaseSeconds = options.retryBaseSeconds ?? 1;
    this.maxRetryDelaySeconds = options.maxRetryDelaySeconds ?? 60;
    if (options.holdUntilOpen) this.held = [];
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

  /** True when a rule of that name exists. */
  hasRule(name: string): boolean {
    return this.rules.has(name);
  }

  /** Removes a rule (DeleteRule); deliveries already queued for it still run. */
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

  /**
   * Queues the event for every matching rule; never throws, delivery is asynchronous. Before
   * {@link open} (`holdUntilOpen`) the event waits; after {@link close} it goes to the backlog file
   * for every rule it matches (or is dropped, without one).
   */
  publish(event: CloudEvent): void {
    try {
      if (this.closed) {
        // Only an event some rule wanted is worth keeping (data capture flushed at shutdown is not).
        const wanted = [...this.rules.values()].filter((rule) => safeMatch(rule, event, this.log));
        if (wanted.length === 0) return;
        if (this.options.backlogFile !== undefined) {
          const copy = JSON.parse(JSON.stringify(event)) as CloudEvent;
          for (const rule of wanted) {
            rule.stats.matched++;
            this.save({ rule, event: copy, attempts: 0 }, 'published while the bus was closing');
          }
          return;
        }
        this.log.warn('event published after close, dropped', {
          id: event.id,
          'detail-type': event['detail-type'],
        });
        return;
      }
      this.published++;
      if (this.held) {
        // A JSON copy now: the publisher may change its object before the rules exist.
        this.held.push(JSON.parse(JSON.stringify(event)) as CloudEvent);
        return;
      }
      this.route(event);
    } catch (error) {
      this.log.error('publish failed', { error: describeError(error) });
    }
  }

  /**
   * Starts delivering, once the rules are added: first the backlog the last {@link close} saved
   * (each entry to its own rule, with its attempts so far; an entry whose rule is gone is
   * dead-lettered), then the events held since the bus was made. The backlog file is removed
   * before anything is delivered: a later close writes a new one. Idempotent.
   */
  open(): OpenOutcome {
    if (this.closed) throw new Error('the bus is closed');
    let restored = 0;
    let orphaned = 0;
    for (const entry of this.takeBacklog()) {
      if (this.deliverTo(entry.rule, entry.event, entry.attempts)) restored++;
      else {
        orphaned++;
        this.deadLetter(
          { ruleName: entry.rule, event: entry.event, attempts: entry.attempts },
          `no rule "${entry.rule}" to deliver the saved backlog to`,
        );
      }
    }
    const held = this.held ?? [];
    this.held = undefined;
    for (const event of held) this.route(event);
    if (restored + orphaned > 0) {
      this.log.info('backlog of the last stop queued again', { restored, orphaned });
    }
    return { restored, orphaned, released: held.length };
  }

  /**
   * Queues one event for one rule, whatever its pattern says (a redrive: the rule matched it
   * before), with `attempts` already made. False when there is no such rule or the bus is closed.
   */
  deliverTo(ruleName: string, event: CloudEvent, attempts = 0): boolean {
    const rule = this.rules.get(ruleName);
    if (!rule || this.closed) return false;
    rule.stats.matched++;
    rule.queue.push({
      rule,
      event: JSON.parse(JSON.stringify(event)) as CloudEvent,
      attempts: Math.max(0, Math.trunc(attempts) || 0),
    });
    setImmediate(() => this.pump(rule));
    return true;
  }

  /** Queues the event for every rule it matches. */
  private route(event: CloudEvent): void {
    // A target receives the event as it would arrive over the wire: a JSON copy of its own
    // (serialized once, and only when some rule matches).
    let wire: string | undefined;
    for (const rule of this.rules.values()) {
      if (!safeMatch(rule, event, this.log)) continue;
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
  }

  /** Resolves once nothing is queued, running or waiting for a retry. */
  drain(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Stops delivering: retry timers stop, later publishes are not delivered, deliveries already
   * running finish. What was not delivered (queued, waiting for a retry, held before open) is
   * saved to the backlog file for the next {@link open}, with the rule and the attempts made; so
   * are deliveries that fail from now on with retries left, and events published from now on
   * that a rule wants. Without a backlog file, all of it is dead-lettered ("bus closed").
   */
  close(): void {
    if (this.closed) return;
    // Events held before open still go to the rules they match, then to the backlog below.
    const held = this.held ?? [];
    this.held = undefined;
    for (const event of held) this.route(event);
    this.closed = true;
    for (const [timer, delivery] of this.retryTimers) {
      clearTimeout(timer);
      this.setAside(delivery, 'waiting for a retry', 'bus closed before the next retry');
    }
    this.retryTimers.clear();
    for (const rule of this.rules.values()) {
      for (const delivery of rule.queue.splice(0)) {
        this.setAside(delivery, 'queued', 'bus closed before delivery');
      }
    }
    if (this.saved > 0) {
      this.log.info('undelivered events saved for the next start', {
        saved: this.saved,
        file: this.options.backlogFile,
      });
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
      held: this.held?.length ?? 0,
      saved: this.saved,
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
      if (delivery.attempts > rule.retryAttempts) {
        this.deadLetter(delivery, message);
        return;
      }
      if (this.closed) {
        // Retries left, but no timer runs any more: the next start makes the next attempt.
        this.setAside(delivery, `failed while the bus was closing: ${message}`, message);
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
        retryInSeconds: delaySeconds,
        error: message,
      });
      rule.stats.retried++;
      // Real time, whatever the local cloud's time scale (see retryBaseSeconds).
      const timer = setTimeout(() => {
        this.retryTimers.delete(timer);
        rule.queue.push(delivery);
        this.pump(rule);
      }, delaySeconds * 1000);
      this.retryTimers.set(timer, delivery);
    }
  }

  /** A delivery the closed bus will not make: to the backlog file when there is one, else a dead letter. */
  private setAside(delivery: Delivery, reason: string, deadLetterReason: string): void {
    if (this.options.backlogFile === undefined) {
      this.deadLetter(delivery, deadLetterReason);
      return;
    }
    this.save(delivery, reason);
  }

  private save(delivery: Delivery, reason: string): void {
    const file = this.options.backlogFile as string;
    const entry: BacklogEntry = {
      rule: delivery.rule.name,
      event: delivery.event,
      attempts: delivery.attempts,
      reason,
      at: new Date().toISOString(),
    };
    try {
      // Synchronous, as for dead letters: the line is on disk before drain() resolves.
      mkdirSync(dirname(file), { recursive: true });
      appendFileSync(file, `${JSON.stringify(entry)}\n`);
      this.saved++;
      this.log.info('delivery saved for the next start', { rule: entry.rule, id: entry.event.id, reason });
    } catch (writeError) {
      this.log.error('could not write the backlog file', { file, error: describeError(writeError) });
      this.deadLetter(delivery, `bus closed, and the backlog file could not be written: ${reason}`);
    }
  }

  /** Reads and removes the backlog file; a line that cannot be read is logged and skipped. */
  private takeBacklog(): BacklogEntry[] {
    const file = this.options.backlogFile;
    if (file === undefined) return [];
    // Renamed before reading, so that a line appended meanwhile (`mlops dlq redrive` on a
    // stopped cloud) stays for the next start; a `.taking` file left by a crash is read too.
    const taking = `${file}.taking`;
    let text = existsSync(taking) ? readFileSync(taking, 'utf8') : '';
    if (existsSync(file)) {
      if (text && !text.endsWith('\n')) text += '\n';
      renameSync(file, taking);
      text += readFileSync(taking, 'utf8');
    }
    const entries: BacklogEntry[] = [];
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      const entry = parseBacklogLine(line);
      if (entry) entries.push(entry);
      else this.log.error('unreadable line in the backlog file, skipped', { file, line: line.slice(0, 200) });
    }
    rmSync(taking, { force: true });
    return entries;
  }

  private deadLetter(
    delivery: Delivery | { ruleName: string; event: CloudEvent; attempts: number },
    error: string,
  ): void {
    const rule = 'rule' in delivery ? delivery.rule : this.rules.get(delivery.ruleName);
    const letter: DeadLetter = {
      rule: 'rule' in delivery ? delivery.rule.name : delivery.ruleName,
      event: delivery.event,
      error,
      attempts: delivery.attempts,
      at: new Date().toISOString(),
    };
    if (rule) rule.stats.deadLettered++;
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
    if (this.retryTimers.size > 0 || (this.held?.length ?? 0) > 0) return false;
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

/** The rule's pattern against the event; a pattern that throws matches nothing (and is logged). */
function safeMatch(rule: Rule, event: CloudEvent, log: BusLogger): boolean {
  try {
    return matches(rule.pattern, event);
  } catch (error) {
    log.error('pattern evaluation failed', { rule: rule.name, error: describeError(error) });
    return false;
  }
}

/** A backlog line, or undefined when it is not one. */
function parseBacklogLine(line: string): BacklogEntry | undefined {
  try {
    const entry = JSON.parse(line) as Partial<BacklogEntry>;
    if (typeof entry.rule !== 'string' || !isPlainObject(entry.event) || typeof entry.attempts !== 'number') {
      return undefined;
    }
    return {
      rule: entry.rule,
      event: entry.event as unknown as CloudEvent,
      attempts: entry.attempts,
      reason: String(entry.reason ?? ''),
      at: String(entry.at ?? ''),
    };
  } catch {
    return undefined; // a line cut short by a crash
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

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
