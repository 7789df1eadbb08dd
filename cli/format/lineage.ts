/**
 * `mlops versions` and `mlops show`: a model's versions as rows, and one version's lineage (the
 * data it learnt from, how it was trained, judged and deployed) with its audit timeline. Where
 * this stands: CLI formatting (pure).
 */
import type {
  AuditEvent,
  DatasetRecord,
  ModelRecord,
  VersionOrigin,
  VersionRecord,
  VersionStatus,
} from '../../core/domain/registry';
import { formatTable } from '../../core/support/text-table';
import { metric, type Palette } from './style';

/** One version in `mlops versions --json` (`versions[]`), newest first. */
export interface VersionRow {
  readonly version: number;
  readonly status: VersionStatus;
  readonly champion: boolean;
  readonly datasetId: string;
  readonly metric: { readonly name: string; readonly value: number | null };
  /** The gate's verdict; null before the gate ran. */
  readonly gatePassed: boolean | null;
  readonly origin: VersionOrigin['kind'];
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly reason: string | null;
}

/** The rows of a model's versions, newest first. */
export function versionRows(model: ModelRecord, versions: readonly VersionRecord[]): VersionRow[] {
  return [...versions]
    .sort((a, b) => b.version - a.version)
    .map((v) => ({
      version: v.version,
      status: v.status,
      champion: v.version === model.champion,
      datasetId: v.datasetId,
      metric: { name: v.objectiveMetric, value: v.metrics?.[v.objectiveMetric] ?? null },
      gatePassed: v.gate?.passed ?? null,
      origin: v.origin?.kind ?? 'upload',
      createdAt: v.createdAt,
      updatedAt: v.updatedAt,
      reason: v.failureReason ?? null,
    }));
}

/** The versions as a table. */
export function formatVersions(rows: readonly VersionRow[], colour: Palette): string {
  if (rows.length === 0) return 'no version yet';
  return formatTable(
    rows.map((r) => [
      `${r.champion ? '*' : ' '}v${r.version}`,
      r.status,
      `${r.metric.name} ${metric(r.metric.value ?? undefined)}`,
      r.gatePassed === null ? '-' : r.gatePassed ? 'passed' : 'failed',
      r.origin,
      r.datasetId,
      r.updatedAt,
      r.reason ?? '',
    ]),
    { header: [' VERSION', 'STATUS', 'METRIC', 'GATE', 'ORIGIN', 'DATASET', 'UPDATED', 'REASON'] },
  )
    .split('\n')
    .map((line, i) => (i < 2 ? colour.bold(line) : line))
    .join('\n');
}

/** `mlops show --json`: a version's lineage and its audit timeline. */
export interface ShowOutput {
  readonly model: string;
  readonly champion: number | null;
  readonly version: VersionRecord;
  readonly lineage: {
    readonly datasetUri: string | null;
    readonly contentHash: string | null;
    readonly rows: number | null;
    readonly dataQuality: string | null;
    readonly trainingJob: string;
    readonly image: string;
    readonly hyperparameters: Readonly<Record<string, string>>;
    readonly metrics: Readonly<Record<string, number>>;
    readonly gateChecks: readonly {
      readonly name: string;
      readonly passed: boolean;
      readonly detail: string;
    }[];
    readonly endpointConfig: string | null;
    readonly endpoint: string | null;
    readonly artifact: string | null;
    readonly origin: VersionOrigin | null;
  };
  readonly dataset: DatasetRecord | null;
  /** The audit lines about this version, oldest first. */
  readonly timeline: readonly AuditEvent[];
}

/** The `show` document of one version. */
export function showOutput(
  model: ModelRecord,
  version: VersionRecord,
  dataset: DatasetRecord | undefined,
  audit: readonly AuditEvent[],
): ShowOutput {
  return {
    model: model.model,
    champion: model.champion ?? null,
    version,
    lineage: {
      datasetUri: dataset?.sourceUri ?? null,
      contentHash: dataset?.contentHash ?? null,
      rows: dataset?.profile?.rows ?? null,
      dataQuality: dataset?.dataQuality
        ? `${dataset.dataQuality.decision}: ${dataset.dataQuality.summary}`
        : null,
      trainingJob: version.trainingJobName,
      image: version.image,
      hyperparameters: version.hyperparameters,
      metrics: version.metrics ?? {},
      gateChecks: version.gate?.checks ?? [],
      endpointConfig: version.endpointConfigName ?? null,
      endpoint: version.endpointName ?? null,
      artifact: version.artifactUri ?? null,
      origin: version.origin ?? null,
    },
    dataset: dataset ?? null,
    timeline: audit.filter((a) => a.version === version.version),
  };
}

/** The lineage and timeline for people. */
export function formatShow(show: ShowOutput, colour: Palette): string {
  const { version: v, lineage: l } = show;
  const field = (name: string, value: string) => `  ${name.padEnd(16)}${value}`;
  const lines = [
    colour.bold(
      `${show.model} v${v.version}  ${v.status}${show.champion === v.version ? '  (champion)' : ''}`,
    ),
    ...(v.failureReason ? [field('reason', v.failureReason)] : []),
    ...(l.origin
      ? [
          field(
            'origin',
            `${l.origin.kind} by ${l.origin.by}${l.origin.reason ? `: ${l.origin.reason}` : ''}${l.origin.incidentId ? ` (incident ${l.origin.incidentId})` : ''}`,
          ),
        ]
      : []),
    '',
    colour.bold('data'),
    field('dataset', v.datasetId),
    field('uri', l.datasetUri ?? '-'),
    field('content hash', l.contentHash ?? '-'),
    field('rows', l.rows === null ? '-' : String(l.rows)),
    field('data quality', l.dataQuality ?? '-'),
    '',
    colour.bold('training'),
    field('job', l.trainingJob),
    field('image', l.image),
    field(
      'hyperparameters',
      Object.entries(l.hyperparameters)
        .map(([k, x]) => `${k}=${x}`)
        .join(' ') || '-',
    ),
    field(
      'metrics',
      Object.entries(l.metrics)
        .map(([k, x]) => `${k}=${metric(x)}`)
        .join(' ') || '-',
    ),
    field('artifact', l.artifact ?? '-'),
    '',
    colour.bold('gate'),
    ...(l.gateChecks.length === 0
      ? [field('checks', 'not run yet')]
      : l.gateChecks.map(
          (c) => `  ${c.passed ? colour.green('pass') : colour.red('FAIL')}  ${c.name}: ${c.detail}`,
        )),
    '',
    colour.bold('deployment'),
    field('endpoint config', l.endpointConfig ?? '-'),
    field('endpoint', l.endpoint ?? '-'),
    '',
    colour.bold('timeline'),
    ...(show.timeline.length === 0
      ? ['  (no audit line)']
      : show.timeline.map(
          (a) =>
            `  ${a.at}  ${a.type}${a.from || a.to ? ` ${a.from ?? ''}->${a.to ?? ''}` : ''}  by ${a.actor}: ${a.reason}`,
        )),
  ];
  return lines.join('\n');
}
