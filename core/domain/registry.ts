/**
 * The model registry's records and its status machine. Where this stands: core domain; the
 * registry store port persists these records, the use cases move versions through the machine.
 *
 * Table layout (one table; every item and index key in adapters/dynamodb/dynamodb-registry-store.ts,
 * the key names in adapters/dynamodb/table-layout.ts): `PK = MODEL#<name>` with
 * `SK = MODEL` (the model), `DATASET#<id>`, `VERSION#<000001>`, `EVENT#<iso time>#<id>`, `INCIDENT#<alarm>#<opened>`,
 * `RETRAIN#<requestId>` (a retrain request, so a retried one makes no second version), and
 * `OUTBOX#<iso time>#<id>` (a notification written with a change, until delivered).
 */
import type { DatasetProfile as ColumnProfiles } from '../profiling/api';
import type { ModelConfig } from './model-config';

/** Every status a model version can be in. */
export const VERSION_STATUSES = [
  'TRAINING',
  'TRAINED',
  'FAILED',
  'REJECTED',
  'PENDING_APPROVAL',
  'APPROVED',
  'DEPLOYING',
  'PRODUCTION',
  'DEPLOY_FAILED',
  'ROLLED_BACK',
  'ARCHIVED',
] as const;
/** A version's place in the status machine; `VERSION_TRANSITIONS` says which moves are allowed. */
export type VersionStatus = (typeof VERSION_STATUSES)[number];

/**
 * The allowed transitions: `from -> [to...]`, the only table of the status machine. The registry
 * store refuses any other transition ({@link ForbiddenTransitionError}) and makes each one a
 * conditional write on the version's status being one of {@link transitionSources}, so a
 * duplicated or late event cannot apply it twice.
 */
export const VERSION_TRANSITIONS: Readonly<Record<VersionStatus, readonly VersionStatus[]>> = {
  TRAINING: ['TRAINED', 'FAILED'],
  TRAINED: ['REJECTED', 'PENDING_APPROVAL', 'APPROVED'],
  FAILED: [],
  REJECTED: [],
  PENDING_APPROVAL: ['APPROVED', 'REJECTED'],
  APPROVED: ['DEPLOYING', 'DEPLOY_FAILED'],
  // DEPLOYING -> DEPLOYING: DeployVersion records `rolloutRequestedAt` (with its audit line) once
  // the endpoint call returned; the status stays, the write is still guarded by it.
  DEPLOYING: ['DEPLOYING', 'PRODUCTION', 'DEPLOY_FAILED', 'ROLLED_BACK'],
  PRODUCTION: ['ARCHIVED'],
  DEPLOY_FAILED: [],
  ROLLED_BACK: [],
  // A rollback re-approves a version that served (core/use-cases/rollback-model.ts); it then goes
  // through the same guarded rollout as any approved version.
  ARCHIVED: ['APPROVED'],
};

/** True when the status machine allows `from -> to`. */
export function canTransition(from: VersionStatus, to: VersionStatus): boolean {
  return VERSION_TRANSITIONS[from].includes(to);
}

/** The table read backwards, once: for each status, the statuses it can be reached from. */
const SOURCES = new Map<VersionStatus, readonly VersionStatus[]>(
  VERSION_STATUSES.map((to) => [to, VERSION_STATUSES.filter((from) => canTransition(from, to))]),
);

/**
 * The statuses from which the machine allows moving to `to`, in {@link VERSION_STATUSES} order
 * (empty for TRAINING: a version is created in it, never moved into it).
 */
export function transitionSources(to: VersionStatus): readonly VersionStatus[] {
  return SOURCES.get(to) ?? [];
}

/**
 * A transition the status machine does not allow was asked for: a bug in the caller, never a
 * duplicate or late event (those meet a version in another status than `from`, and the store
 * answers `false`). Retrying cannot help; like every error that is not a rejection of the input,
 * it fails the event, which ends in the dead-letter queue where it is seen.
 */
export class ForbiddenTransitionError extends Error {
  override readonly name = 'ForbiddenTransitionError';
  constructor(
    readonly model: string,
    readonly version: number,
    /** The requested source statuses from which `to` is not allowed (empty when none was given). */
    readonly from: readonly VersionStatus[],
    readonly to: VersionStatus,
  ) {
    const sources = transitionSources(to);
    super(
      `model "${model}" v${version}: ${from.length > 0 ? from.join(' | ') : '(unknown status)'} -> ${to} ` +
        `is not allowed by the status machine (${to} is reached only from ${sources.length > 0 ? sources.join(', ') : 'nowhere: it is the initial status'})`,
    );
  }
}

/**
 * Throws {@link ForbiddenTransitionError} unless the machine allows `to` from every status in
 * `from` (naming the ones it does not allow).
 */
export function assertTransition(
  model: string,
  version: number,
  from: readonly VersionStatus[],
  to: VersionStatus,
): void {
  const forbidden = from.filter((status) => !canTransition(status, to));
  if (forbidden.length > 0) throw new ForbiddenTransitionError(model, version, forbidden, to);
}

/** Status of a dataset: accepted (a version was created from it) or rejected with a reason. */
export type DatasetStatus = 'ACCEPTED' | 'REJECTED';

/** Summary of one column as seen by the ingest validation. */
export interface ColumnSummary {
  readonly name: string;
  readonly type: 'numeric' | 'categorical' | 'empty';
  readonly missing: number;
  readonly distinct?: number;
  readonly min?: number;
  readonly max?: number;
  readonly mean?: number;
}

/**
 * The registry's per-column summary, derived from the streaming profile (the full statistics are
 * in the dataset's `statistics.json` report).
 */
export function columnSummaries(profile: ColumnProfiles): ColumnSummary[] {
  return profile.columns.map((column) => {
    const base = { name: column.name, missing: column.missing, distinct: column.distinct };
    if (column.present === 0 || column.inferredType === 'Unknown')
      return { ...base, type: 'empty', distinct: 0 };
    if (column.numeric) {
      const { min, max, mean } = column.numeric;
      return { ...base, type: 'numeric', min, max, mean };
    }
    return { ...base, type: 'categorical' };
  });
}

/** What ingest learned about a dataset: shape, columns, split. */
export interface DatasetProfile {
  readonly rows: number;
  /** Every column's summary, or the first ones when {@link DatasetProfile.omittedColumns} is set. */
  readonly columns: readonly ColumnSummary[];
  readonly trainRows: number;
  readonly validationRows: number;
  /**
   * Set when the dataset has too many columns (or too long names) for the registry item to hold
   * every summary ({@link boundedDatasetRecord}): how many columns it has, how many summaries were
   * left out, and the `s3://` URI of the `statistics.json` report that describes every column.
   */
  readonly omittedColumns?: {
    readonly total: number;
    readonly omitted: number;
    readonly statistics?: string;
  };
}

/** A dataset dropped under `datasets/<model>/`. */
export interface DatasetRecord {
  readonly model: string;
  readonly datasetId: string;
  /** `s3://bucket/key` of the raw object (or the folder for folder datasets). Raw data is never deleted. */
  readonly sourceUri: string;
  /** The object's version id and ETag when known: what exactly was read. */
  readonly sourceVersionId?: string;
  readonly sourceEtag?: string;
  /** SHA-256 of the bytes read. */
  readonly contentHash?: string;
  readonly status: DatasetStatus;
  readonly profile?: DatasetProfile;
  /** `s3://` prefixes of the prepared channels. */
  readonly preparedTrainUri?: string;
  readonly preparedValidationUri?: string;
  /** When rejected: a code and a sentence a person understands. */
  readonly rejection?: { readonly code: string; readonly reason: string };
  /** The version trained from this dataset, once created. */
  readonly version?: number;
  /** The data-quality gate's verdict on this dataset (absent for datasets rejected before profiling). */
  readonly dataQuality?: DataQualitySummary;
  readonly createdAt: string;
}

/** What the data-quality gate decided: train, train and flag the drift, or refuse. */
export type DataQualityDecision = 'accepted' | 'accepted-with-drift' | 'rejected';

/** Drift of one column against the baseline, as recorded in the registry. */
export interface ColumnDriftSummary {
  readonly column: string;
  readonly kind: 'numeric' | 'categorical';
  /** KS statistic (numeric) or L-infinity distance of the frequencies (categorical). */
  readonly distance: number;
  /** Population stability index (numeric columns). */
  readonly psi?: number;
  readonly drifted: boolean;
}

/** One constraint violation, as Model Monitor words it in `constraint_violations.json`. */
export interface DataQualityViolation {
  readonly feature_name: string;
  readonly constraint_check_type: string;
  readonly description: string;
}

/**
 * The data-quality gate's summary of a dataset: a person reads the decision and why without
 * opening the reports (which hold the full statistics and constraints).
 */
export interface DataQualitySummary {
  readonly decision: DataQualityDecision;
  /** The dataset compared against; absent when this dataset had no baseline (it becomes the baseline). */
  readonly baselineDatasetId?: string;
  /** Where the baseline came from. */
  readonly baselineSource: 'champion' | 'first-accepted' | 'none';
  /** Thresholds in force (from the model's `dataQuality` config). */
  readonly thresholds: {
    readonly distance: number;
    readonly psi: number;
    readonly completenessTolerance: number;
    readonly blockOnDrift: boolean;
  };
  /**
   * Per-column drift against the baseline (empty without a baseline); for a very wide dataset the
   * largest distances only, with `driftOmitted` the number left out ({@link boundedDatasetRecord}).
   */
  readonly drift: readonly ColumnDriftSummary[];
  readonly driftOmitted?: number;
  /** Names of the drifted columns (the first ones, with `driftedColumnsOmitted` the rest's count). */
  readonly driftedColumns: readonly string[];
  readonly driftedColumnsOmitted?: number;
  readonly maxDistance?: number;
  readonly maxPsi?: number;
  /** Schema and quality violations (at most {@link MAX_RECORDED_VIOLATIONS}; `violationCount` has the total). */
  readonly violations: readonly DataQualityViolation[];
  readonly violationCount: number;
  /** `s3://` URIs of the reports written under `reports/<model>/<datasetId>/`. */
  readonly reports: {
    readonly statistics: string;
    readonly constraints: string;
    readonly violations?: string;
  };
  /** One sentence: the decision and why (also the audit line's reason). */
  readonly summary: string;
  readonly checkedAt: string;
}

/** The registry keeps the first violations of a dataset; the report file has them all. */
export const MAX_RECORDED_VIOLATIONS = 50;

/**
 * What a dataset item may spend on its unbounded parts. A DynamoDB item is at most 400 KB, attribute
 * names and values (UTF-8) included (Developer Guide, "Constraints in Amazon DynamoDB", Items:
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Constraints.html#limits-items;
 * sizes counted as in "DynamoDB item sizes and formats"), and the items of one TransactWriteItems
 * call at most 4 MB together (API reference). A summary of 10,000 columns is about 1 MB: over the
 * limit, the write was refused ("Item size has exceeded the maximum allowed size"), retried as a
 * transient fault and dead-lettered with no record. The budgets below, measured as JSON (longer
 * than DynamoDB's count: quotes, separators, numbers in decimal), add up to about 240 KB, leaving
 * room for the rest of the item; the dataset's reports in S3 keep everything.
 */
export const REGISTRY_ITEM_BUDGET = {
  /** DynamoDB's item size limit, in bytes. */
  itemBytes: 400 * 1024,
  /** `profile.columns`. */
  columnSummaryBytes: 96 * 1024,
  /** `dataQuality.drift`. */
  driftBytes: 64 * 1024,
  /** `dataQuality.driftedColumns`. */
  driftedColumnsBytes: 16 * 1024,
  /** `dataQuality.violations` (also at most {@link MAX_RECORDED_VIOLATIONS}). */
  violationsBytes: 32 * 1024,
  /** A sentence: a rejection's reason, the data-quality summary, an audit line's reason (characters). */
  textChars: 4000,
} as const;

/**
 * The dataset record as the registry can hold it: per-column lists cut to their budgets in
 * {@link REGISTRY_ITEM_BUDGET} (with counts of what was left out, and the profile pointing at the
 * full `statistics.json`), sentences cut to {@link REGISTRY_ITEM_BUDGET}.textChars. A record within
 * the budgets is returned as it is.
 */
export function boundedDatasetRecord<T extends Omit<DatasetRecord, 'status'>>(record: T): T {
  const { profile, dataQuality, rejection } = record;
  return {
    ...record,
    ...(profile ? { profile: boundedProfile(profile, dataQuality?.reports.statistics) } : {}),
    ...(dataQuality ? { dataQuality: boundedDataQuality(dataQuality) } : {}),
    ...(rejection ? { rejection: { ...rejection, reason: boundedText(rejection.reason) } } : {}),
  };
}

/**
 * `text` when it is at most `max` characters, else its start and how much was left out, in at most
 * `max` characters (so cutting a cut text changes nothing).
 */
export function boundedText(text: string, max: number = REGISTRY_ITEM_BUDGET.textChars): string {
  if (text.length <= max) return text;
  const keep = Math.max(0, max - 100); // the note below is under 100 characters
  return `${text.slice(0, keep)}… (${text.length - keep} more characters left out; the dataset's reports have everything)`;
}

function boundedProfile(profile: DatasetProfile, statistics: string | undefined): DatasetProfile {
  const columns = withinBytes(profile.columns, REGISTRY_ITEM_BUDGET.columnSummaryBytes);
  if (columns.length === profile.columns.length) return profile;
  return {
    ...profile,
    columns,
    omittedColumns: {
      total: profile.columns.length,
      omitted: profile.columns.length - columns.length,
      ...(statistics ? { statistics } : {}),
    },
  };
}

function boundedDataQuality(summary: DataQualitySummary): DataQualitySummary {
  // The drift worth reading first is the largest: kept by distance when it must be cut.
  const drift =
    jsonBytes(summary.drift) <= REGISTRY_ITEM_BUDGET.driftBytes
      ? summary.drift
      : withinBytes(
          [...summary.drift].sort((a, b) => b.distance - a.distance),
          REGISTRY_ITEM_BUDGET.driftBytes,
        );
  const drifted = withinBytes(summary.driftedColumns, REGISTRY_ITEM_BUDGET.driftedColumnsBytes);
  const violations = withinBytes(summary.violations, REGISTRY_ITEM_BUDGET.violationsBytes);
  return {
    ...summary,
    drift,
    ...(drift.length < summary.drift.length ? { driftOmitted: summary.drift.length - drift.length } : {}),
    driftedColumns: drifted,
    ...(drifted.length < summary.driftedColumns.length
      ? { driftedColumnsOmitted: summary.driftedColumns.length - drifted.length }
      : {}),
    violations,
    summary: boundedText(summary.summary),
  };
}

/** The longest prefix of `items` whose JSON fits in `budget` bytes. */
function withinBytes<T>(items: readonly T[], budget: number): readonly T[] {
  let used = 2; // the brackets
  for (const [i, item] of items.entries()) {
    used += jsonBytes(item) + 1;
    if (used > budget) return items.slice(0, i);
  }
  return items;
}

const utf8 = new TextEncoder();

/** The UTF-8 length of `value`'s JSON (TextEncoder, not Node's Buffer: core stays runtime-neutral). */
function jsonBytes(value: unknown): number {
  return utf8.encode(JSON.stringify(value) ?? '').length;
}

/** Result of one gate check, kept on the version for the audit. */
export interface GateCheck {
  readonly name: string;
  readonly passed: boolean;
  readonly detail: string;
}

/** A model version: one training run and everything that happened to it. */
export interface VersionRecord {
  readonly model: string;
  readonly version: number;
  readonly status: VersionStatus;
  readonly datasetId: string;
  readonly trainingJobName: string;
  readonly image: string;
  readonly hyperparameters: Readonly<Record<string, string>>;
  readonly objectiveMetric: string;
  readonly metrics?: Readonly<Record<string, number>>;
  readonly artifactUri?: string;
  readonly gate?: { readonly passed: boolean; readonly checks: readonly GateCheck[] };
  readonly sageMakerModelName?: string;
  readonly endpointConfigName?: string;
  readonly endpointName?: string;
  /**
   * When the endpoint create/update call for this version returned. Until then, what the endpoint
   * shows says nothing about this rollout.
   */
  readonly rolloutRequestedAt?: string;
  readonly failureReason?: string;
  /** Where the version came from; absent = an upload (ingest). */
  readonly origin?: VersionOrigin;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/**
 * Why a version exists or was put back: an upload, an operator's or a policy's retrain, or a
 * rollback that re-approved a version that served. `incidentId` set = the version is the remedy for
 * that incident, which lets its rollout start while the model's alarms fire (DeployVersion).
 */
export interface VersionOrigin {
  readonly kind: 'upload' | 'retrain' | 'rollback';
  /** Who asked: an operator's identity, or the alarm policy (`alarm-policy`). */
  readonly by: string;
  readonly reason?: string;
  readonly incidentId?: string;
}

/** True when the version is a remedy: a rollback, or anything made for an incident. */
export function isRemedy(version: Pick<VersionRecord, 'origin'>): boolean {
  return version.origin?.kind === 'rollback' || version.origin?.incidentId !== undefined;
}

/** The model item: its config and pointers. */
export interface ModelRecord {
  readonly model: string;
  readonly config?: ModelConfig;
  /** The last version number handed out (atomic counter). */
  readonly versionCounter: number;
  /** The version serving production traffic, if any. */
  readonly champion?: number;
  /** The version currently being rolled out, if any. */
  readonly challenger?: number;
  /**
   * The dataset the data-quality gate compares new data with while the model has no champion
   * whose training data has reports: the first dataset accepted under the gate (set once).
   */
  readonly baselineDatasetId?: string;
  /** Whether the model's alarms exist (created at first promotion). */
  readonly alarmsCreated?: boolean;
  /**
   * When an alarm policy last acted on the model by itself (rollback or retrain): the per-model
   * cool-down claim, taken by a conditional write with the incident's action.
   */
  readonly lastAutomaticActionAt?: string;
  /** The last rejection recorded against the model itself (bad name, bad config). */
  readonly lastRejection?: {
    readonly code: string;
    readonly reason: string;
    readonly at: string;
    readonly source: string;
  };
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** One line of the audit trail: who or what did what, and why. */
export interface AuditEvent {
  readonly model: string;
  readonly at: string;
  /** Stable id, so a duplicated event writes the same audit line once. */
  readonly eventId: string;
  readonly type: string;
  readonly actor: string;
  readonly version?: number;
  readonly from?: string;
  readonly to?: string;
  readonly reason: string;
}

/** What an alarm policy does besides opening an incident (`alarmPolicy` in the model config). */
export type AlarmPolicy = 'notify' | 'rollback' | 'retrain';

/** What the alarm showed when the incident opened, and for drift what drifted. */
export interface IncidentEvidence {
  readonly threshold?: number;
  /** CloudWatch's ComparisonOperator, e.g. `GreaterThanThreshold`. */
  readonly comparison?: string;
  /** The datapoints the alarm evaluated, oldest first. */
  readonly datapoints?: readonly { readonly at: string; readonly value: number }[];
  /** Drift alarms: the drifted features of the drift monitor's latest report, largest distance first. */
  readonly driftedFeatures?: readonly {
    readonly feature: string;
    readonly distance: number;
    readonly psi?: number;
  }[];
  /** Drift alarms: the `s3://` URI of that report (`drift.json`). */
  readonly reportUri?: string;
}

/** What the alarm policy did about an incident, and how it went. */
export interface IncidentAction {
  readonly kind: AlarmPolicy;
  readonly status: 'started' | 'skipped' | 'failed';
  readonly at: string;
  /** A sentence: what was done, or why nothing was. */
  readonly detail: string;
  /** The version put back (rollback) or made (retrain). */
  readonly version?: number;
}

/** An incident: an alarm of a model that went into ALARM, until it is OK again. */
export interface IncidentRecord {
  readonly model: string;
  readonly alarmName: string;
  /** `<alarmName>@<openedAt>` ({@link incidentIdOf}). */
  readonly incidentId: string;
  readonly status: 'OPEN' | 'RESOLVED';
  /** When the alarm went into ALARM. */
  readonly openedAt: string;
  readonly resolvedAt?: string;
  readonly reason: string;
  /** The version in production when it opened. */
  readonly version?: number;
  /** The model's alarm policy when it opened (absent on incidents recorded before policies acted). */
  readonly policy?: AlarmPolicy;
  readonly evidence?: IncidentEvidence;
  /** `openedAt` minus the first breaching datapoint's time, when the datapoints are known. */
  readonly timeToDetectSeconds?: number;
  /** `resolvedAt` minus `openedAt`, set when it resolves. */
  readonly timeToRecoverSeconds?: number;
  /** What the policy did; at most one automatic action per incident. */
  readonly action?: IncidentAction;
}

/** An incident's id: the alarm and when it went into ALARM (the same on every read until it changes). */
export function incidentIdOf(alarmName: string, openedAt: string): string {
  return `${alarmName}@${openedAt}`;
}

/** The alarm and opening time of an incident id, or undefined when it is not one ({@link incidentIdOf}). */
export function parseIncidentId(incidentId: string): { alarmName: string; openedAt: string } | undefined {
  const at = incidentId.lastIndexOf('@');
  if (at <= 0 || at === incidentId.length - 1) return undefined;
  return { alarmName: incidentId.slice(0, at), openedAt: incidentId.slice(at + 1) };
}

/**
 * Whole seconds from `from` to `to` (ISO 8601 times), at least 0: an incident's time to detect and
 * time to recover. Undefined when either is not a time.
 */
export function secondsBetween(from: unknown, to: unknown): number | undefined {
  if (typeof from !== 'string' || typeof to !== 'string') return undefined;
  const seconds = Math.round((Date.parse(to) - Date.parse(from)) / 1000);
  return Number.isFinite(seconds) ? Math.max(0, seconds) : undefined;
}
