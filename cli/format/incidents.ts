/**
 * `mlops incidents` and `mlops incident`: incidents as rows, and one incident with its evidence
 * (what fired, against which version, the datapoints, drifted features, time to detect and to
 * recover, the automatic action). Where this stands: CLI formatting (pure).
 */
import type { IncidentRecord } from '../../core/domain/registry';
import { formatTable } from '../../core/support/text-table';
import { duration, metric, type Palette } from './style';

/** One incident in `mlops incidents --json` (`incidents[]`), newest first. */
export interface IncidentRow {
  readonly incidentId: string;
  readonly model: string;
  readonly alarmName: string;
  readonly status: IncidentRecord['status'];
  readonly openedAt: string;
  readonly resolvedAt: string | null;
  readonly version: number | null;
  readonly policy: string | null;
  /** The automatic action, with the version it put back or trained (`null` when none yet). */
  readonly action: {
    readonly kind: string;
    readonly status: string;
    readonly version: number | null;
    readonly detail: string;
  } | null;
  readonly timeToDetectSeconds: number | null;
  readonly timeToRecoverSeconds: number | null;
  readonly reason: string;
}

/** The row of an incident. */
export function incidentRow(i: IncidentRecord): IncidentRow {
  return {
    incidentId: i.incidentId,
    model: i.model,
    alarmName: i.alarmName,
    status: i.status,
    openedAt: i.openedAt,
    resolvedAt: i.resolvedAt ?? null,
    version: i.version ?? null,
    policy: i.policy ?? null,
    action: i.action
      ? {
          kind: i.action.kind,
          status: i.action.status,
          version: i.action.version ?? null,
          detail: i.action.detail,
        }
      : null,
    timeToDetectSeconds: i.timeToDetectSeconds ?? null,
    timeToRecoverSeconds: i.timeToRecoverSeconds ?? null,
    reason: i.reason,
  };
}

/** Newest first, open ones before resolved ones opened at the same time. */
export function sortIncidents(rows: readonly IncidentRow[]): IncidentRow[] {
  return [...rows].sort((a, b) => b.openedAt.localeCompare(a.openedAt) || a.status.localeCompare(b.status));
}

/** Incidents as a table. */
export function formatIncidents(rows: readonly IncidentRow[], colour: Palette): string {
  if (rows.length === 0) return 'no incident';
  const table = formatTable(
    rows.map((r) => [
      r.status,
      r.model,
      r.version === null ? '-' : `v${r.version}`,
      r.alarmName,
      r.openedAt,
      r.timeToRecoverSeconds === null ? '-' : duration(r.timeToRecoverSeconds),
      r.action ? `${r.action.kind} ${r.action.status}` : (r.policy ?? '-'),
      r.incidentId,
    ]),
    { header: ['STATUS', 'MODEL', 'VERSION', 'ALARM', 'OPENED', 'RECOVERED IN', 'ACTION', 'ID'] },
  ).split('\n');
  return table
    .map((line, i) => (i < 2 ? colour.bold(line) : rows[i - 2]!.status === 'OPEN' ? colour.red(line) : line))
    .join('\n');
}

/** One incident and its evidence, for people. */
export function formatIncident(i: IncidentRecord, colour: Palette): string {
  const field = (name: string, value: string) => `  ${name.padEnd(16)}${value}`;
  const e = i.evidence;
  const lines = [
    colour.bold(`${i.status === 'OPEN' ? colour.red('OPEN') : 'RESOLVED'}  ${i.model}  ${i.alarmName}`),
    field('id', i.incidentId),
    field('version', i.version === undefined ? '-' : `v${i.version}`),
    field('reason', i.reason),
    field('opened', i.openedAt),
    field('resolved', i.resolvedAt ?? '-'),
    field('time to detect', i.timeToDetectSeconds === undefined ? '-' : duration(i.timeToDetectSeconds)),
    field('time to recover', i.timeToRecoverSeconds === undefined ? '-' : duration(i.timeToRecoverSeconds)),
    field('policy', i.policy ?? '-'),
    field(
      'action',
      i.action
        ? `${i.action.kind} ${i.action.status} at ${i.action.at}${i.action.version !== undefined ? ` (v${i.action.version})` : ''}: ${i.action.detail}`
        : '-',
    ),
  ];
  if (e) {
    lines.push('', colour.bold('evidence'));
    if (e.threshold !== undefined)
      lines.push(field('threshold', `${e.comparison ? `${e.comparison} ` : ''}${metric(e.threshold)}`));
    if (e.datapoints?.length)
      lines.push(
        field(
          'datapoints',
          e.datapoints.map((d) => `${d.at} ${metric(d.value)}`).join('\n' + ' '.repeat(18)),
        ),
      );
    if (e.driftedFeatures?.length) {
      lines.push('  drifted features');
      lines.push(
        formatTable(
          e.driftedFeatures.map((f) => [
            f.feature,
            metric(f.distance),
            f.psi === undefined ? '-' : metric(f.psi),
          ]),
          { header: ['FEATURE', 'DISTANCE', 'PSI'], indent: '    ' },
        ),
      );
    }
    if (e.reportUri) lines.push(field('report', e.reportUri));
  }
  return lines.join('\n');
}
