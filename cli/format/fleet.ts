/**
 * `mlops models`: one row per model, worst first, from the registry and the alarm states. Where
 * this stands: CLI formatting (pure): cli/commands/models.ts gathers the records.
 */
import type {
  DatasetRecord,
  IncidentRecord,
  ModelRecord,
  VersionRecord,
  VersionStatus,
} from '../../core/domain/registry';
import { formatTable } from '../../core/support/text-table';
import type { AlarmState } from '../target/target';
import { ago, metric, type Palette } from './style';

/** How a model is doing, worst first: the order `mlops models` sorts by. */
export const HEALTH_ORDER = [
  'incident',
  'failed',
  'pending-approval',
  'in-progress',
  'no-champion',
  'ok',
] as const;
/** One of {@link HEALTH_ORDER}. */
export type Health = (typeof HEALTH_ORDER)[number];

const FAILED: readonly VersionStatus[] = ['FAILED', 'REJECTED', 'DEPLOY_FAILED', 'ROLLED_BACK'];
const IN_PROGRESS: readonly VersionStatus[] = ['TRAINING', 'TRAINED', 'APPROVED', 'DEPLOYING'];

/** One model in `mlops models --json` (`models[]`). */
export interface FleetRow {
  readonly model: string;
  readonly health: Health;
  readonly champion: {
    readonly version: number;
    readonly metric: { readonly name: string; readonly value: number | null };
  } | null;
  readonly newest: {
    readonly version: number;
    readonly status: VersionStatus;
    readonly updatedAt: string;
    readonly reason: string | null;
  } | null;
  readonly openIncidents: number;
  /** Names of the model's alarms in ALARM now. */
  readonly alarmsFiring: readonly string[];
  /** The worst state of the model's drift alarms (`unknown` when none exists or the states could not be read). */
  readonly drift: 'ALARM' | 'INSUFFICIENT_DATA' | 'OK' | 'unknown';
  readonly lastData: {
    readonly datasetId: string;
    readonly at: string;
    readonly status: DatasetRecord['status'];
    readonly decision: string | null;
  } | null;
  readonly pendingApprovals: readonly number[];
  /** How many of the model's versions are in each status (statuses with none left out). */
  readonly versionCounts: Readonly<Partial<Record<VersionStatus, number>>>;
  readonly alarmPolicy: 'notify' | 'rollback' | 'retrain';
}

/** What is known of one model. */
export interface ModelFacts {
  readonly model: ModelRecord;
  /** Oldest first. */
  readonly versions: readonly VersionRecord[];
  readonly datasets: readonly DatasetRecord[];
  readonly openIncidents: readonly IncidentRecord[];
  /** Undefined when the alarm states could not be read. */
  readonly alarms?: readonly AlarmState[];
}

/** The fleet row of one model. */
export function fleetRow(facts: ModelFacts): FleetRow {
  const { model, versions, datasets, openIncidents, alarms } = facts;
  const champion = versions.find((v) => v.version === model.champion);
  const newest = versions.at(-1);
  const lastData = [...datasets].sort((a, b) => a.createdAt.localeCompare(b.createdAt)).at(-1);
  const alarmsFiring = (alarms ?? []).filter((a) => a.state === 'ALARM').map((a) => a.name);
  const pendingApprovals = versions.filter((v) => v.status === 'PENDING_APPROVAL').map((v) => v.version);
  const row: Omit<FleetRow, 'health'> = {
    model: model.model,
    champion: champion
      ? {
          version: champion.version,
          metric: {
            name: champion.objectiveMetric,
            value: champion.metrics?.[champion.objectiveMetric] ?? null,
          },
        }
      : null,
    newest: newest
      ? {
          version: newest.version,
          status: newest.status,
          updatedAt: newest.updatedAt,
          reason: newest.failureReason ?? null,
        }
      : null,
    openIncidents: openIncidents.length,
    alarmsFiring,
    drift: driftState(alarms),
    lastData: lastData
      ? {
          datasetId: lastData.datasetId,
          at: lastData.createdAt,
          status: lastData.status,
          decision: lastData.dataQuality?.decision ?? null,
        }
      : null,
    pendingApprovals,
    versionCounts: countStatuses(versions),
    alarmPolicy: model.config?.alarmPolicy ?? 'notify',
  };
  return { ...row, health: healthOf(row, model.champion !== undefined) };
}

function countStatuses(versions: readonly VersionRecord[]): Partial<Record<VersionStatus, number>> {
  const counts: Partial<Record<VersionStatus, number>> = {};
  for (const v of versions) counts[v.status] = (counts[v.status] ?? 0) + 1;
  return counts;
}

function driftState(alarms: readonly AlarmState[] | undefined): FleetRow['drift'] {
  const drift = (alarms ?? []).filter((a) => /-(feature|prediction)-drift$/.test(a.name));
  if (drift.length === 0) return 'unknown';
  for (const state of ['ALARM', 'INSUFFICIENT_DATA', 'OK'] as const)
    if (drift.some((a) => a.state === state)) return state;
  return 'unknown';
}

function healthOf(row: Omit<FleetRow, 'health'>, hasChampion: boolean): Health {
  if (row.openIncidents > 0 || row.alarmsFiring.length > 0) return 'incident';
  if ((row.newest && FAILED.includes(row.newest.status)) || row.lastData?.status === 'REJECTED')
    return 'failed';
  if (row.pendingApprovals.length > 0) return 'pending-approval';
  if (row.newest && IN_PROGRESS.includes(row.newest.status)) return 'in-progress';
  if (!hasChampion) return 'no-champion';
  return 'ok';
}

/** Worst first ({@link HEALTH_ORDER}), then by name. */
export function sortFleet(rows: readonly FleetRow[]): FleetRow[] {
  return [...rows].sort(
    (a, b) =>
      HEALTH_ORDER.indexOf(a.health) - HEALTH_ORDER.indexOf(b.health) || a.model.localeCompare(b.model),
  );
}

/** The fleet as a table for people. */
export function formatFleet(rows: readonly FleetRow[], colour: Palette, now = new Date()): string {
  if (rows.length === 0) return 'no model matches';
  const paint = (health: Health, text: string) =>
    health === 'incident' || health === 'failed'
      ? colour.red(text)
      : health === 'ok'
        ? colour.green(text)
        : health === 'pending-approval'
          ? colour.yellow(text)
          : text;
  const body = rows.map((r) => [
    r.model,
    r.health,
    r.champion ? `v${r.champion.version}` : '-',
    r.champion ? `${r.champion.metric.name} ${metric(r.champion.metric.value ?? undefined)}` : '-',
    r.newest ? `v${r.newest.version} ${r.newest.status}` : '-',
    String(r.openIncidents),
    r.drift === 'unknown' ? '-' : r.drift,
    r.lastData ? `${ago(r.lastData.at, now)}${r.lastData.status === 'REJECTED' ? ' (rejected)' : ''}` : '-',
    r.pendingApprovals.length > 0 ? r.pendingApprovals.map((v) => `v${v}`).join(',') : '-',
  ]);
  // Colour after layout: escape codes would count as width.
  const table = formatTable(body, {
    header: ['MODEL', 'HEALTH', 'CHAMPION', 'METRIC', 'NEWEST', 'INCIDENTS', 'DRIFT', 'LAST DATA', 'PENDING'],
  }).split('\n');
  return table.map((line, i) => (i < 2 ? colour.bold(line) : paint(rows[i - 2]!.health, line))).join('\n');
}
