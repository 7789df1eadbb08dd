/**
 * The local cloud's CloudWatch alarms: it stores PutMetricAlarm inputs as they are (the very
 * requests the AWS adapter sends), evaluates them against the local metric store and publishes a
 * "CloudWatch Alarm State Change" event on each transition. Where this stands: local runtime; the
 * local alarm service puts alarms, local endpoints read states to roll back a blue/green update.
 *
 * This module keeps the alarms, their states and transitions; its parts do the rest:
 * alarm-compiler.ts checks and compiles a request, alarm-datapoints.ts reads the evaluated
 * periods from the metric store, alarm-reason.ts words the reason, alarm-event.ts builds the event.
 *
 * The state, as CloudWatch decides it (CloudWatch User Guide, "Using Amazon CloudWatch alarms":
 * datapoints to alarm, "Configuring how CloudWatch alarms treat missing data"):
 * - missing periods count as breaching / not breaching under `TreatMissingData` breaching /
 *   notBreaching;
 * - `DatapointsToAlarm` (default `EvaluationPeriods`) breaching periods -> ALARM; otherwise, when
 *   every period is missing, `missing` (the default) -> INSUFFICIENT_DATA and `ignore` -> the
 *   state is kept; otherwise -> OK;
 * - a new alarm starts in INSUFFICIENT_DATA; PutMetricAlarm on an existing alarm replaces its
 *   configuration and leaves its state unchanged.
 * Not modelled: alarm actions (state changes reach handlers through the bus).
 */
import type { PutMetricAlarmCommandInput } from '@aws-sdk/client-cloudwatch';
import type { AlarmStateReader, CloudEvent, EventPublisher, LocalTime } from '../contracts';
import { compileAlarm, type CompiledAlarm } from './alarm-compiler';
import { readEvaluationRange } from './alarm-datapoints';
import { alarmStateChangeEvent } from './alarm-event';
import {
  alarmReason,
  insufficientDataReason,
  noDataNotBreachingReason,
  okReason,
  stateReasonData,
} from './alarm-reason';
import { DEFAULT_ANOMALY_BAND, type AnomalyBandOptions } from './metric-math';
import type { LocalMetricStore } from './metric-store';

/** An alarm's state (StateValue). */
export type AlarmStateValue = 'OK' | 'ALARM' | 'INSUFFICIENT_DATA';

/** An alarm as DescribeAlarms shows it: its state, why, since when, and the request that made it. */
export interface AlarmDescription {
  readonly state: AlarmStateValue;
  readonly reason: string;
  /** JSON, as StateReasonData. */
  readonly reasonData: string;
  /** When the state last changed (StateTransitionedTimestamp). */
  readonly updatedAt: Date;
  readonly input: PutMetricAlarmCommandInput;
}

/**
 * An alarm as the local cloud saves it (`alarms.json`): its request and its state, so that a
 * restart brings back both ({@link LocalAlarmEvaluator.restore}).
 */
export interface SavedAlarm {
  readonly input: PutMetricAlarmCommandInput;
  readonly state: AlarmStateValue;
  readonly reason: string;
  readonly reasonData: string;
  /** ISO 8601: when the state last changed. */
  readonly updatedAt: string;
}

/** One transition of an alarm, as evaluateNow and setState report it. */
export interface AlarmStateChange {
  readonly alarmName: string;
  readonly previousState: AlarmStateValue;
  readonly state: AlarmStateValue;
  readonly reason: string;
  readonly at: Date;
  /** The event published for the change. */
  readonly event: CloudEvent;
}

/** What the evaluator reads, where it publishes, and how fast its time runs. */
export interface LocalAlarmEvaluatorOptions {
  readonly metrics: Pick<LocalMetricStore, 'query'>;
  readonly events: EventPublisher;
  readonly time: LocalTime;
  /** @default () => new Date() */
  readonly now?: () => Date;
  /** Real milliseconds between two evaluations after start(). @default time.ms(60) */
  readonly evaluationIntervalMs?: number;
  /** How the local anomaly band learns (see metric-math.ts). */
  readonly anomalyDetection?: Partial<AnomalyBandOptions>;
  /** Told about an alarm that cannot be evaluated. @default console.error */
  readonly onError?: (alarmName: string, error: unknown) => void;
}

/** An alarm as the evaluator keeps it. */
interface AlarmRecord {
  input: PutMetricAlarmCommandInput;
  compiled: CompiledAlarm;
  state: AlarmStateValue;
  reason: string;
  reasonData: string;
  updatedAt: Date;
}

/**
 * CloudWatch's alarms, run locally: PutMetricAlarm / DeleteAlarms / DescribeAlarms / SetAlarmState
 * over an in-memory set of alarms, evaluated every minute (scaled) after {@link start}.
 */
export class LocalAlarmEvaluator implements AlarmStateReader {
  private readonly alarms = new Map<string, AlarmRecord>();
  private readonly now: () => Date;
  private readonly anomaly: AnomalyBandOptions;
  private readonly onError: (alarmName: string, error: unknown) => void;
  private timer: NodeJS.Timeout | undefined;
  private changeListener: (() => void) | undefined;

  constructor(private readonly options: LocalAlarmEvaluatorOptions) {
    this.now = options.now ?? (() => new Date());
    this.anomaly = { ...DEFAULT_ANOMALY_BAND, ...options.anomalyDetection };
    this.onError =
      options.onError ?? ((name, error) => console.error(`[alarms] cannot evaluate ${name}:`, error));
  }

  /** Creates or replaces an alarm (PutMetricAlarm). Throws on an input CloudWatch would reject. */
  putMetricAlarm(input: PutMetricAlarmCommandInput): void {
    const name = input.AlarmName;
    if (typeof name !== 'string' || name === '') throw new Error('AlarmName is required');
    const copy = structuredClone(input);
    const compiled = compileAlarm(copy);
    const existing = this.alarms.get(name);
    if (existing !== undefined) {
      existing.input = copy;
      existing.compiled = compiled;
    } else {
      this.alarms.set(name, {
        input: copy,
        compiled,
        state: 'INSUFFICIENT_DATA',
        reason: 'Unchecked: Initial alarm creation',
        reasonData: '',
        updatedAt: this.now(),
      });
    }
    this.changeListener?.();
  }

  /** Deletes an alarm (DeleteAlarms); false when there was none. */
  deleteAlarm(name: string): boolean {
    const deleted = this.alarms.delete(name);
    if (deleted) this.changeListener?.();
    return deleted;
  }

  /** Every alarm with its state, as {@link restore} takes them back (for `alarms.json`). */
  saved(): SavedAlarm[] {
    return [...this.alarms.values()].map((alarm) => ({
      input: structuredClone(alarm.input),
      state: alarm.state,
      reason: alarm.reason,
      reasonData: alarm.reasonData,
      updatedAt: alarm.updatedAt.toISOString(),
    }));
  }

  /**
   * Brings back a saved alarm with its state, publishing nothing: the state it had is the one the
   * next evaluation moves on from (a change from it is published as usual), so an alarm that was in
   * ALARM does not go through INSUFFICIENT_DATA and back, which would open its incident again.
   * Throws on an input CloudWatch would reject, or a state or time that is not one.
   */
  restore(saved: SavedAlarm): void {
    if (!['OK', 'ALARM', 'INSUFFICIENT_DATA'].includes(saved.state)) {
      throw new Error(`saved alarm ${String(saved.input.AlarmName)} has an unknown state "${saved.state}"`);
    }
    const updatedAt = new Date(saved.updatedAt);
    if (Number.isNaN(updatedAt.getTime())) {
      throw new Error(`saved alarm ${String(saved.input.AlarmName)} has no valid updatedAt`);
    }
    this.putMetricAlarm(saved.input);
    const alarm = this.alarms.get(saved.input.AlarmName as string) as AlarmRecord;
    alarm.state = saved.state;
    alarm.reason = typeof saved.reason === 'string' ? saved.reason : '';
    alarm.reasonData = typeof saved.reasonData === 'string' ? saved.reasonData : '';
    alarm.updatedAt = updatedAt;
  }

  /**
   * Calls `listener` after every change of an alarm (put, deleted, restored, a state change): how
   * the local cloud keeps `alarms.json` current (local/live-file.ts). One listener; `undefined`
   * removes it.
   */
  setChangeListener(listener: (() => void) | undefined): void {
    this.changeListener = listener;
  }

  /** The names of every alarm. */
  names(): string[] {
    return [...this.alarms.keys()];
  }

  /** One alarm as DescribeAlarms shows it (a copy), or undefined when there is none. */
  describe(name: string): AlarmDescription | undefined {
    const alarm = this.alarms.get(name);
    if (alarm === undefined) return undefined;
    return {
      state: alarm.state,
      reason: alarm.reason,
      reasonData: alarm.reasonData,
      updatedAt: new Date(alarm.updatedAt),
      input: structuredClone(alarm.input),
    };
  }

  /** The state of each named alarm that exists. */
  states(names: readonly string[]): ReadonlyMap<string, AlarmStateValue> {
    const result = new Map<string, AlarmStateValue>();
    for (const name of names) {
      const alarm = this.alarms.get(name);
      if (alarm !== undefined) result.set(name, alarm.state);
    }
    return result;
  }

  /** Evaluates every alarm periodically (the timer does not keep the process alive). */
  start(): void {
    if (this.timer !== undefined) return;
    const interval = this.options.evaluationIntervalMs ?? this.options.time.ms(60);
    this.timer = setInterval(() => this.evaluateNow(), interval);
    this.timer.unref();
  }

  /** Stops the periodic evaluation. */
  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Evaluates every alarm once; returns the state changes (each one also published). */
  evaluateNow(): ReadonlyArray<AlarmStateChange> {
    const changes: AlarmStateChange[] = [];
    const now = this.now();
    for (const [name, alarm] of this.alarms) {
      try {
        const outcome = this.evaluate(alarm, now);
        if (outcome === undefined || outcome.state === alarm.state) continue;
        changes.push(this.transition(name, alarm, outcome.state, outcome.reason, outcome.reasonData, now));
      } catch (error) {
        this.onError(name, error);
      }
    }
    return changes;
  }

  /**
   * Sets the state (SetAlarmState): publishes the change if the state differs; the next evaluation
   * may change it back. Throws when the alarm does not exist.
   */
  setState(
    name: string,
    state: AlarmStateValue,
    reason: string,
    reasonData?: string,
  ): AlarmStateChange | undefined {
    const alarm = this.alarms.get(name);
    if (alarm === undefined) throw new Error(`alarm "${name}" does not exist`);
    if (alarm.state === state) return undefined;
    return this.transition(name, alarm, state, reason, reasonData ?? '{"version":"1.0"}', this.now());
  }

  /** Records the new state and publishes its event (the previous state goes in the event too). */
  private transition(
    name: string,
    alarm: AlarmRecord,
    state: AlarmStateValue,
    reason: string,
    reasonData: string,
    at: Date,
  ): AlarmStateChange {
    const previous = {
      value: alarm.state,
      reason: alarm.reason,
      reasonData: alarm.reasonData,
      timestamp: alarm.updatedAt,
    };
    const previousState = alarm.state;
    alarm.state = state;
    alarm.reason = reason;
    alarm.reasonData = reasonData;
    alarm.updatedAt = at;
    const event = alarmStateChangeEvent(name, alarm.input, previous, {
      value: state,
      reason,
      reasonData,
      timestamp: at,
    });
    this.options.events.publish(event);
    this.changeListener?.();
    return { alarmName: name, previousState, state, reason, at, event };
  }

  /** The state the alarm's evaluation range calls for, with its reason; undefined keeps the state. */
  private evaluate(
    alarm: AlarmRecord,
    now: Date,
  ): { state: AlarmStateValue; reason: string; reasonData: string } | undefined {
    const c = alarm.compiled;
    const { datapoints, start } = readEvaluationRange(c, now, {
      metrics: this.options.metrics,
      time: this.options.time,
      anomaly: this.anomaly,
    });
    const missing = datapoints.filter((point) => point.status === 'missing').length;
    const breachingPresent = datapoints.filter((point) => point.status === 'breaching').length;
    const breaching = breachingPresent + (c.treatMissing === 'breaching' ? missing : 0);
    const n = c.evaluationPeriods;
    const reasonData = stateReasonData(c, datapoints, now, start);

    if (breaching >= c.datapointsToAlarm) {
      return { state: 'ALARM', reason: alarmReason(c, datapoints, alarm.state), reasonData };
    }
    if (missing === n) {
      if (c.treatMissing === 'missing') {
        return { state: 'INSUFFICIENT_DATA', reason: insufficientDataReason(n), reasonData };
      }
      if (c.treatMissing === 'ignore') return undefined;
      if (c.treatMissing === 'notBreaching') {
        return { state: 'OK', reason: noDataNotBreachingReason(n), reasonData };
      }
    }
    return { state: 'OK', reason: okReason(c, datapoints, alarm.state), reasonData };
  }
}
