/**
 * What a local alarm says about a state change, in CloudWatch's words: the StateReason text
 * ("Threshold Crossed: 3 out of the last 5 datapoints [...] were greater than the threshold ...")
 * and the StateReasonData JSON, as DescribeAlarms and the "CloudWatch Alarm State Change" event
 * carry them. Where this stands: local runtime, part of the local CloudWatch alarms
 * (alarm-evaluator.ts decides the state, this module words it).
 */
import type { Comparison, CompiledAlarm } from './alarm-compiler';
import type { Datapoint } from './alarm-datapoints';
import type { AlarmStateValue } from './alarm-evaluator';

const COMPARISON_TEXT: Readonly<Record<Comparison, string>> = {
  GreaterThanThreshold: 'greater than the threshold',
  GreaterThanOrEqualToThreshold: 'greater than or equal to the threshold',
  LessThanThreshold: 'less than the threshold',
  LessThanOrEqualToThreshold: 'less than or equal to the threshold',
  GreaterThanUpperThreshold: 'greater than the upper thresholds',
  LessThanLowerThreshold: 'less than the lower thresholds',
  LessThanLowerOrGreaterThanUpperThreshold:
    'less than the lower thresholds or greater than the upper thresholds',
};

/** Why the alarm goes from `from` to ALARM: the breaching datapoints, newest first. */
export function alarmReason(
  alarm: CompiledAlarm,
  datapoints: readonly Datapoint[],
  from: AlarmStateValue,
): string {
  const listed = newestFirst(datapoints.filter((point) => point.status === 'breaching'));
  const treated = alarm.treatMissing === 'breaching' ? countMissing(datapoints) : 0;
  return describeCrossing(alarm, listed, listed.length + treated, datapoints.length, '', {
    minimum: alarm.datapointsToAlarm,
    transition: `${from} -> ALARM`,
    treatedMissing: treated,
    treatedAs: 'Breaching',
  });
}

/** Why the alarm goes from `from` to OK: the datapoints that do not breach, newest first. */
export function okReason(
  alarm: CompiledAlarm,
  datapoints: readonly Datapoint[],
  from: AlarmStateValue,
): string {
  const listed = newestFirst(datapoints.filter((point) => point.status === 'ok'));
  const treated = alarm.treatMissing === 'notBreaching' ? countMissing(datapoints) : 0;
  return describeCrossing(alarm, listed, listed.length + treated, datapoints.length, 'not ', {
    minimum: 1,
    transition: `${from} -> OK`,
    treatedMissing: treated,
    treatedAs: 'NonBreaching',
  });
}

/** Why the alarm goes to INSUFFICIENT_DATA: all `periods` evaluated periods were missing. */
export function insufficientDataReason(periods: number): string {
  return `Insufficient Data: ${plural(periods, 'datapoint')} ${periods === 1 ? 'was' : 'were'} unknown.`;
}

/** Why the alarm goes to OK when all `periods` were missing and missing data is notBreaching. */
export function noDataNotBreachingReason(periods: number): string {
  return `Threshold Crossed: no datapoints were received for ${plural(periods, 'period')} and ${plural(periods, 'missing datapoint')} ${periods === 1 ? 'was' : 'were'} treated as [NonBreaching].`;
}

/** StateReasonData: the evaluation's query, its datapoints and the threshold or band, as JSON. */
export function stateReasonData(
  alarm: CompiledAlarm,
  datapoints: readonly Datapoint[],
  now: Date,
  startDate: number,
): string {
  const present = datapoints.filter((point) => point.status !== 'missing');
  return JSON.stringify({
    version: '1.0',
    queryDate: formatEventDate(now),
    startDate: formatEventDate(new Date(startDate)),
    ...(alarm.statistic !== undefined ? { statistic: alarm.statistic } : {}),
    period: alarm.periodSeconds,
    recentDatapoints: present.map((point) => point.value),
    ...(alarm.thresholdId !== undefined
      ? {
          recentLowerThresholds: present.map((point) => point.lower),
          recentUpperThresholds: present.map((point) => point.upper),
        }
      : { threshold: alarm.threshold }),
    evaluatedDatapoints: newestFirst(datapoints).map((point) => ({
      timestamp: formatEventDate(new Date(point.timestamp)),
      ...(point.status !== 'missing' ? { value: point.value } : {}),
    })),
  });
}

/** `2025-06-03T11:05:09.415+0000`, as in alarm events and StateReasonData. */
export function formatEventDate(date: Date): string {
  return date.toISOString().replace('Z', '+0000');
}

/** Like Java's Double.toString for everyday values: `0.0`, `0.125`, `42.0`. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value)) return value.toFixed(1);
  return String(Number(value.toPrecision(12)));
}

/** `03/06/25 11:04:00` (dd/MM/yy HH:mm:ss, UTC), as in state reasons. */
export function formatReasonDate(time: number): string {
  const d = new Date(time);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(d.getUTCDate())}/${two(d.getUTCMonth() + 1)}/${two(d.getUTCFullYear() % 100)} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}`;
}

/** How the missing datapoints of a crossing were counted. */
interface CrossingRule {
  /** Fewest datapoints the transition needs. */
  readonly minimum: number;
  /** `OK -> ALARM`, … */
  readonly transition: string;
  /** Missing datapoints counted with the listed ones (TreatMissingData). */
  readonly treatedMissing: number;
  readonly treatedAs: 'Breaching' | 'NonBreaching';
}

function describeCrossing(
  alarm: CompiledAlarm,
  listed: readonly Datapoint[],
  count: number,
  of: number,
  negation: '' | 'not ',
  rule: CrossingRule,
): string {
  const points = listed
    .map((point) => `${formatNumber(point.value)} (${formatReasonDate(point.timestamp)})`)
    .join(', ');
  const verb = count === 1 ? 'was' : 'were';
  const band = alarm.thresholdId !== undefined;
  const target = band
    ? `${COMPARISON_TEXT[alarm.comparison]} [${listed.map((point) => bandText(alarm.comparison, point)).join(', ')}]`
    : `${COMPARISON_TEXT[alarm.comparison]} (${formatNumber(alarm.threshold as number)})`;
  const treated =
    rule.treatedMissing > 0
      ? ` and ${plural(rule.treatedMissing, 'missing datapoint')} ${rule.treatedMissing === 1 ? 'was' : 'were'} treated as [${rule.treatedAs}]`
      : '';
  return (
    `${band ? 'Thresholds' : 'Threshold'} Crossed: ${count} out of the last ${of} datapoints [${points}] ${verb} ` +
    `${negation}${target}${treated} (minimum ${plural(rule.minimum, 'datapoint')} for ${rule.transition} transition).`
  );
}

function bandText(comparison: Comparison, point: Datapoint): string {
  if (comparison === 'GreaterThanUpperThreshold') return formatNumber(point.upper as number);
  if (comparison === 'LessThanLowerThreshold') return formatNumber(point.lower as number);
  return `${formatNumber(point.lower as number)}..${formatNumber(point.upper as number)}`;
}

function countMissing(datapoints: readonly Datapoint[]): number {
  return datapoints.filter((point) => point.status === 'missing').length;
}

function newestFirst(points: readonly Datapoint[]): Datapoint[] {
  return [...points].sort((a, b) => b.timestamp - a.timestamp);
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
