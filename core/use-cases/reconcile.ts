/**
 * Use case: repair lost events. Where this stands: core use case, run by the reconciler handler on
 * a schedule (every 15 minutes in AWS) and by the local cloud every scaled minute.
 *
 * Events arrive at least once, and at times not at all. The reconciler looks for the traces a lost
 * event leaves in the registry and the bucket, and re-delivers a "look at this" event to the
 * handler that would have acted on it ({@link EventRedelivery}); since every handler reads the
 * current state itself and is idempotent, a re-delivered event does exactly what the lost one
 * would have done, and one that was not lost after all does nothing.
 *
 * What it looks for (a version counts as stale when its last change is older than `staleAfterMs`):
 * - TRAINING, stale, whose job has ended (DescribeTrainingJob): the "Training Job State Change" was
 *   lost -> re-delivered to training-events (TRAINED / FAILED, gate, deploy). The threshold is not
 *   the job's maximum runtime (an hour or more by default): a short job whose event was lost would
 *   wait that long. Instead every stale TRAINING version costs one DescribeTrainingJob per run,
 *   and only a job that has ended is re-delivered.
 * - TRAINED, stale: the gate never ran (the handler gave up after the TRAINED write) -> the same.
 * - DEPLOYING, stale, rollout requested, endpoint settled (InService, Failed,
 *   UpdateRollbackFailed): the "Endpoint State Change" was lost -> re-delivered to endpoint-events
 *   (promotion, rollback or failure, then the next approved version).
 * - DEPLOYING, stale, rollout never requested (`rolloutRequestedAt` unset: the endpoint call
 *   failed after the version took the rollout lock) -> the rollout is re-applied here with
 *   {@link DeployVersion}, since no handler re-applies it from an event.
 * - APPROVED, the newest of its model, newer than the champion (or a rollback's, older), no rollout in flight, the model
 *   quiet for `staleAfterMs`: the "rollout ended, next one" step was lost -> re-delivered as a
 *   training event, whose handler deploys an APPROVED version.
 * - An object under `datasets/` older than `settleMs` (an upload in flight is left alone) with no
 *   dataset record under the id ingest derives for it: the "Object Created" event was lost ->
 *   re-delivered to ingest. A folder dataset counts by its `_SUCCESS` marker only; names starting
 *   with `_` or `.` are skipped by the very predicate ingest skips them with
 *   ({@link skippedDatasetObject}). The listing is paged and bounded per run
 *   (`maxObjectsPerRun` keys, `maxDatasetRepairsPerRun` re-deliveries); where a run stops, a cursor
 *   kept in the bucket ({@link RECONCILER_CURSOR_KEY}) lets the next run go on from there, and
 *   after the last key the next run starts over.
 * - A notification written with a state change (the registry's outbox) and still pending a minute
 *   later (`notificationGraceMs`): the event that wrote it could not send it (and its retries ran
 *   out, or the send was maybe-sent and the claim is kept until its lease ends) or was lost after
 *   the write -> sent here ({@link NotificationOutbox.flushAll}); one held by a running delivery is
 *   left to it. At least once: a send that failed ambiguously is sent again, with the same id.
 *
 * One repair that fails is logged and counted, and the run goes on (kind `partial`); the next run
 * tries again.
 */
import { RejectionError } from '../domain/errors';
import { BUCKET_PREFIXES, parseDatasetKey, type DatasetKey } from '../domain/naming';
import { RECONCILER_CURSOR_KEY } from '../domain/reconciliation';
import { isRemedy, type VersionRecord } from '../domain/registry';
import type { EndpointDescription } from '../ports/endpoint-service';
import type { EventRedelivery } from '../ports/event-redelivery';
import type { InventoryObject, ObjectInventory } from '../ports/object-inventory';
import type { MlopsContext } from './context';
import { DeployVersion, type DeployOutcome } from './deploy-version';
import {
  datasetIdOf,
  legacyRejectedKeyIdOf,
  rejectedKeyRecordOf,
  skippedDatasetObject,
  type ObjectCreated,
} from '../domain/dataset-ids';
import { NotificationOutbox, type DeliveredNotification } from './notification-outbox';

export { RECONCILER_CURSOR_KEY };

/** Defaults of {@link ReconcileOptions}. */
export const RECONCILE_DEFAULTS = {
  staleAfterMs: 15 * 60_000,
  settleMs: 10 * 60_000,
  pageSize: 1000,
  maxObjectsPerRun: 10_000,
  maxDatasetRepairsPerRun: 100,
  maxVersionRepairsPerRun: 100,
  notificationGraceMs: 60_000,
} as const;

/** Registry lookups run this many at once during the dataset scan. */
const LOOKUP_CONCURRENCY = 16;

/** How the reconciler is bounded and when it considers something lost. */
export interface ReconcileOptions {
  /** A version whose last change is older than this is looked at. @default 15 minutes */
  readonly staleAfterMs?: number;
  /** An object younger than this is left alone (its upload and ingest may be in flight). @default 10 minutes */
  readonly settleMs?: number;
  /** Keys per listing page. @default 1000 */
  readonly pageSize?: number;
  /** Keys under `datasets/` examined per run; the rest next run. @default 10 000 */
  readonly maxObjectsPerRun?: number;
  /** Uploads re-delivered per run; the rest next run. @default 100 */
  readonly maxDatasetRepairsPerRun?: number;
  /** Version repairs per run; the rest next run. @default 100 */
  readonly maxVersionRepairsPerRun?: number;
  /** Scan `datasets/` for lost uploads. @default true */
  readonly scanDatasets?: boolean;
  /**
   * A pending notification younger than this is left to the event that wrote it (its delivery may
   * be running). @default 1 minute
   */
  readonly notificationGraceMs?: number;
}

/** The ports the reconciler needs beyond the shared context. */
export interface ReconcilePorts {
  readonly redelivery: EventRedelivery;
  readonly inventory: ObjectInventory;
}

/** One repair of a version. */
export type VersionRepair =
  | {
      readonly kind: 'training-event';
      readonly model: string;
      readonly version: number;
      readonly status: 'TRAINING' | 'TRAINED' | 'APPROVED';
      readonly jobName: string;
      readonly jobStatus: string;
    }
  | {
      readonly kind: 'endpoint-event';
      readonly model: string;
      readonly version: number;
      readonly endpointName: string;
      readonly endpointStatus: string;
    }
  | {
      readonly kind: 'rollout-retried';
      readonly model: string;
      readonly version: number;
      readonly deploy: DeployOutcome;
    };

/** Something the reconciler found and could not repair by itself (logged as a warning). */
export interface Unrepairable {
  readonly model: string;
  readonly version: number;
  readonly why: string;
}

/** A repair that failed this run (it is tried again next run). */
export interface RepairFailure {
  readonly what: string;
  readonly error: string;
}

/** What the dataset scan did. */
export interface DatasetScan {
  /** Keys examined. */
  readonly examined: number;
  readonly redelivered: readonly {
    readonly key: string;
    readonly model: string;
    readonly datasetId: string;
  }[];
  /** Where the next run starts (after this key), or undefined: from the first key. */
  readonly nextStartAfter?: string;
}

/** What one run did. */
export interface ReconcileOutcome {
  /** `partial` when some repair failed (logged; tried again next run). */
  readonly kind: 'reconciled' | 'partial';
  readonly at: string;
  readonly versions: readonly VersionRepair[];
  readonly unrepairable: readonly Unrepairable[];
  readonly datasets?: DatasetScan;
  /** Pending notifications this run delivered (the outbox's). */
  readonly notifications: readonly DeliveredNotification[];
  readonly failures: readonly RepairFailure[];
}

/** Settled endpoint states: whatever the rollout did, it is over and the handler can record it. */
const SETTLED_ENDPOINT: ReadonlySet<EndpointDescription['status']> = new Set([
  'InService',
  'Failed',
  'UpdateRollbackFailed',
]);

/** Finds the traces of lost events and re-delivers them. */
export class Reconcile {
  private readonly options: Required<ReconcileOptions>;

  constructor(
    private readonly ctx: MlopsContext,
    private readonly ports: ReconcilePorts,
    options: ReconcileOptions = {},
  ) {
    this.options = { ...RECONCILE_DEFAULTS, scanDatasets: true, ...options };
    for (const [name, value] of Object.entries(this.options)) {
      if (typeof value === 'number' && !(value >= 0))
        throw new Error(`reconcile option ${name} must be >= 0, got ${value}`);
    }
    if (this.options.pageSize < 1) throw new Error('reconcile option pageSize must be >= 1');
  }

  async execute(): Promise<ReconcileOutcome> {
    const now = this.ctx.clock.now();
    const run: Run = { now, repairs: [], unrepairable: [], failures: [] };
    // First: the oldest debts, and independent of the scans below.
    const notifications = await this.flushNotifications(run);
    await this.reconcileVersions(run);
    const datasets = this.options.scanDatasets ? await this.scanDatasets(run) : undefined;
    const outcome: ReconcileOutcome = {
      kind: run.failures.length > 0 ? 'partial' : 'reconciled',
      at: now.toISOString(),
      versions: run.repairs,
      unrepairable: run.unrepairable,
      ...(datasets ? { datasets } : {}),
      notifications,
      failures: run.failures,
    };
    this.ctx.log.info('reconcile run', {
      versionRepairs: run.repairs.length,
      datasetRepairs: datasets?.redelivered.length ?? 0,
      notificationsDelivered: notifications.length,
      unrepairable: run.unrepairable.length,
      failures: run.failures.length,
    });
    return outcome;
  }

  // -------------------------------------------------------------------------------------------
  // Notifications

  /** Sends the notifications pending for longer than the grace period; each failure is counted. */
  private async flushNotifications(run: Run): Promise<DeliveredNotification[]> {
    const olderThan = new Date(run.now.getTime() - this.options.notificationGraceMs);
    try {
      const flushed = await new NotificationOutbox(this.ctx).flushAll(olderThan);
      for (const failure of flushed.failures)
        this.failed(run, `notification ${failure.id} of ${failure.model}`, failure.error);
      for (const sent of flushed.delivered) this.ctx.log.info('pending notification delivered', { ...sent });
      return [...flushed.delivered];
    } catch (error) {
      this.failed(run, 'pending notifications', error);
      return [];
    }
  }

  // -------------------------------------------------------------------------------------------
  // Versions

  private async reconcileVersions(run: Run): Promise<void> {
    const { registry } = this.ctx;
    const stale = (at: string | undefined) =>
      at === undefined || run.now.getTime() - Date.parse(at) >= this.options.staleAfterMs;
    // Oldest first: the longest-lost events are repaired first when the cap is reached.
    const byAge = (versions: VersionRecord[]) =>
      versions.sort((a, b) => (a.updatedAt < b.updatedAt ? -1 : a.updatedAt > b.updatedAt ? 1 : 0));

    for (const version of byAge(await registry.listVersionsByStatus('TRAINING'))) {
      if (!this.budgetLeft(run) || !stale(version.updatedAt)) continue;
      await this.attempt(run, `training job ${version.trainingJobName}`, () => this.training(run, version));
    }
    for (const version of byAge(await registry.listVersionsByStatus('TRAINED'))) {
      if (!this.budgetLeft(run) || !stale(version.updatedAt)) continue;
      await this.attempt(run, `gate of ${version.model} v${version.version}`, () =>
        this.redeliverTraining(run, version, 'TRAINED', 'Completed'),
      );
    }
    for (const version of byAge(await registry.listVersionsByStatus('DEPLOYING'))) {
      if (!this.budgetLeft(run) || !stale(version.rolloutRequestedAt ?? version.updatedAt)) continue;
      await this.attempt(run, `rollout of ${version.model} v${version.version}`, () =>
        this.deploying(run, version),
      );
    }
    const approved = await registry.listVersionsByStatus('APPROVED');
    const newest = new Map<string, VersionRecord>();
    for (const version of approved) {
      const seen = newest.get(version.model);
      if (!seen || version.version > seen.version) newest.set(version.model, version);
    }
    for (const version of newest.values()) {
      if (!this.budgetLeft(run)) break;
      await this.attempt(run, `next rollout of ${version.model}`, () => this.approved(run, version, stale));
    }
  }

  private budgetLeft(run: Run): boolean {
    if (run.repairs.length < this.options.maxVersionRepairsPerRun) return true;
    if (!run.capWarned) {
      run.capWarned = true;
      this.ctx.log.warn('version repair cap reached; the rest waits for the next run', {
        cap: this.options.maxVersionRepairsPerRun,
      });
    }
    return false;
  }

  /** A stale TRAINING version: re-deliver its job's event once the job has ended. */
  private async training(run: Run, version: VersionRecord): Promise<void> {
    const job = await this.ctx.training.describeTrainingJob(version.trainingJobName);
    if (!job) {
      // Ingest registered the version but never started its job (its retries ran out): the
      // ingest dead-letter queue holds the upload; re-driving it starts the job.
      this.unrepairable(run, version, `training job ${version.trainingJobName} does not exist`);
      return;
    }
    if (job.status === 'InProgress' || job.status === 'Stopping') return;
    await this.redeliverTraining(run, version, 'TRAINING', job.status);
  }

  private async redeliverTraining(
    run: Run,
    version: VersionRecord,
    status: 'TRAINING' | 'TRAINED' | 'APPROVED',
    jobStatus: string,
  ): Promise<void> {
    await this.ports.redelivery.trainingJobStateChange({
      jobName: version.trainingJobName,
      status: jobStatus,
    });
    this.repaired(run, {
      kind: 'training-event',
      model: version.model,
      version: version.version,
      status,
      jobName: version.trainingJobName,
      jobStatus,
    });
  }

  /** A stale DEPLOYING version: re-apply a rollout never requested, or re-deliver a settled endpoint's event. */
  private async deploying(run: Run, version: VersionRecord): Promise<void> {
    const { model, version: n } = version;
    if (!version.rolloutRequestedAt) {
      const deploy = await new DeployVersion(this.ctx).execute(model, n);
      this.repaired(run, { kind: 'rollout-retried', model, version: n, deploy });
      return;
    }
    const endpointName = version.endpointName ?? this.ctx.names.endpoint(model);
    const endpoint = await this.ctx.endpoints.describeEndpoint(endpointName);
    if (!endpoint) {
      this.unrepairable(run, version, `endpoint ${endpointName} does not exist`);
      return;
    }
    if (!SETTLED_ENDPOINT.has(endpoint.status)) return; // still rolling out: its event is yet to come
    await this.ports.redelivery.endpointStateChange({
      endpointName,
      status: endpoint.status,
      configName: endpoint.configName,
    });
    this.repaired(run, {
      kind: 'endpoint-event',
      model,
      version: n,
      endpointName,
      endpointStatus: endpoint.status,
    });
  }

  /** The newest APPROVED version of a model: deploy it when nothing else will. */
  private async approved(
    run: Run,
    version: VersionRecord,
    stale: (at: string | undefined) => boolean,
  ): Promise<void> {
    const { registry } = this.ctx;
    const model = await registry.getModel(version.model);
    if (model?.challenger !== undefined) return; // a rollout is in flight; its end deploys this one
    // Superseded, unless a rollback re-approved it: putting an older version back is its purpose.
    if (model?.champion !== undefined && version.version < model.champion && !isRemedy(version)) return;
    // The model must be quiet: a rollout that ended a moment ago is starting its next one itself.
    const versions = await registry.listVersions(version.model);
    if (!versions.every((v) => stale(v.updatedAt))) return;
    await this.redeliverTraining(run, version, 'APPROVED', 'Completed');
  }

  // -------------------------------------------------------------------------------------------
  // Datasets

  private async scanDatasets(run: Run): Promise<DatasetScan> {
    const { ctx, options } = this;
    const start = await this.readCursor();
    const redelivered: { key: string; model: string; datasetId: string }[] = [];
    let examined = 0;
    let startAfter = start;
    let lastDone = start;
    let finished = false;
    scan: while (examined < options.maxObjectsPerRun) {
      const page = await this.ports.inventory.listPage(ctx.bucket, BUCKET_PREFIXES.datasets, {
        ...(startAfter !== undefined ? { startAfter } : {}),
        maxKeys: Math.min(options.pageSize, options.maxObjectsPerRun - examined),
      });
      for (let i = 0; i < page.objects.length; i += LOOKUP_CONCURRENCY) {
        const chunk = page.objects.slice(i, i + LOOKUP_CONCURRENCY);
        const lost = await Promise.all(chunk.map((object) => this.lostUpload(run, object)));
        for (const [j, object] of chunk.entries()) {
          const identity = lost[j];
          if (identity) {
            if (redelivered.length >= options.maxDatasetRepairsPerRun) {
              ctx.log.warn('dataset repair cap reached; the rest waits for the next run', {
                cap: options.maxDatasetRepairsPerRun,
                resumeAfter: lastDone,
              });
              break scan;
            }
            try {
              await this.ports.redelivery.objectCreated({
                bucket: ctx.bucket,
                key: object.key,
                size: object.size,
                ...(object.etag !== undefined ? { etag: object.etag } : {}),
                ...(object.versionId !== undefined ? { versionId: object.versionId } : {}),
                ...(object.sequencer !== undefined ? { sequencer: object.sequencer } : {}),
              });
            } catch (error) {
              // Stop here: the next run resumes at this object.
              this.failed(run, `upload ${object.key}`, error);
              break scan;
            }
            const { model, datasetId } = identity;
            redelivered.push({ key: object.key, model, datasetId });
            ctx.log.info('lost upload event re-delivered to ingest', { key: object.key, model, datasetId });
          }
          lastDone = object.key;
          examined++;
        }
      }
      const last = page.lastKey ?? page.objects.at(-1)?.key;
      if (last !== undefined) lastDone = last;
      if (!page.truncated || last === undefined) {
        finished = true;
        break;
      }
      startAfter = last;
    }
    const nextStartAfter = finished ? undefined : lastDone;
    if (nextStartAfter !== start) await this.writeCursor(nextStartAfter);
    return { examined, redelivered, ...(nextStartAfter !== undefined ? { nextStartAfter } : {}) };
  }

  /** The dataset an object would have become, when the registry has never seen it; else undefined. */
  private async lostUpload(
    run: Run,
    object: InventoryObject,
  ): Promise<{ model: string; datasetId: string } | undefined> {
    if (run.now.getTime() - object.lastModified.getTime() < this.options.settleMs) return undefined;
    const identity = identityOf(this.ctx.bucket, object);
    if (!identity) return undefined;
    const { registry } = this.ctx;
    try {
      if (await registry.getDataset(identity.model, identity.datasetId)) return undefined;
      // A key refused before its rejection id took the whole hash: recorded under the old id.
      if (identity.legacy) {
        const legacy = await registry.getDataset(identity.model, identity.legacy.datasetId);
        if (legacy?.sourceUri === identity.legacy.sourceUri) return undefined;
      }
      return identity;
    } catch (error) {
      this.failed(run, `dataset lookup of ${object.key}`, error);
      return undefined;
    }
  }

  private async readCursor(): Promise<string | undefined> {
    const text = await this.ctx.objects.readText(this.ctx.bucket, RECONCILER_CURSOR_KEY);
    if (text === undefined) return undefined;
    try {
      const parsed = JSON.parse(text) as { startAfter?: unknown };
      return typeof parsed.startAfter === 'string' ? parsed.startAfter : undefined;
    } catch {
      this.ctx.log.warn('unreadable reconciler cursor; scanning from the first key', {
        key: RECONCILER_CURSOR_KEY,
      });
      return undefined;
    }
  }

  private async writeCursor(startAfter: string | undefined): Promise<void> {
    const body = JSON.stringify({
      ...(startAfter !== undefined ? { startAfter } : {}),
      updatedAt: this.ctx.clock.now().toISOString(),
    });
    await this.ctx.objects.write(this.ctx.bucket, RECONCILER_CURSOR_KEY, body, 'application/json');
  }

  // -------------------------------------------------------------------------------------------

  private async attempt(run: Run, what: string, repair: () => Promise<void>): Promise<void> {
    try {
      await repair();
    } catch (error) {
      this.failed(run, what, error);
    }
  }

  private repaired(run: Run, repair: VersionRepair): void {
    run.repairs.push(repair);
    this.ctx.log.info('lost event repaired', { ...repair });
  }

  private unrepairable(run: Run, version: VersionRecord, why: string): void {
    run.unrepairable.push({ model: version.model, version: version.version, why });
    this.ctx.log.warn('stuck version the reconciler cannot repair', {
      model: version.model,
      version: version.version,
      status: version.status,
      why,
    });
  }

  private failed(run: Run, what: string, error: unknown): void {
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    run.failures.push({ what, error: message });
    this.ctx.log.error('repair failed; the next run tries again', { what, error: message });
  }
}

interface Run {
  readonly now: Date;
  readonly repairs: VersionRepair[];
  readonly unrepairable: Unrepairable[];
  readonly failures: RepairFailure[];
  capWarned?: boolean;
}

/**
 * The model and dataset id ingest records for an object, or undefined for an object ingest does
 * not turn into a dataset (parts of a folder, placeholders, names starting with `_` or `.`).
 * Uses ingest's own derivation ({@link datasetIdOf}); a key naming no valid model is recorded by
 * ingest as a rejection under the folder name, with the id derived here the same way.
 */
export function datasetIdentity(
  bucket: string,
  object: Pick<InventoryObject, 'key' | 'size' | 'etag' | 'versionId' | 'sequencer'>,
): { model: string; datasetId: string } | undefined {
  const identity = identityOf(bucket, object);
  return identity && { model: identity.model, datasetId: identity.datasetId };
}

/**
 * {@link datasetIdentity}, and for a refused key where an older ingest recorded its rejection
 * ({@link legacyRejectedKeyIdOf}) with the source that record must name to be this upload's.
 */
function identityOf(
  bucket: string,
  object: Pick<InventoryObject, 'key' | 'size' | 'etag' | 'versionId' | 'sequencer'>,
):
  | {
      model: string;
      datasetId: string;
      legacy?: { readonly datasetId: string; readonly sourceUri: string };
    }
  | undefined {
  if (skippedDatasetObject(object.key) !== undefined) return undefined;
  const created: ObjectCreated = {
    bucket,
    key: object.key,
    size: object.size,
    ...(object.etag !== undefined ? { etag: object.etag } : {}),
    ...(object.versionId !== undefined ? { versionId: object.versionId } : {}),
    ...(object.sequencer !== undefined ? { sequencer: object.sequencer } : {}),
  };
  let key: DatasetKey;
  try {
    key = parseDatasetKey(object.key);
  } catch (error) {
    if (!(error instanceof RejectionError)) throw error;
    // As IngestDataset.rejectKey records it.
    return {
      ...rejectedKeyRecordOf(created),
      legacy: { datasetId: legacyRejectedKeyIdOf(created), sourceUri: `s3://${bucket}/${object.key}` },
    };
  }
  if (key.kind === 'ignored') return undefined;
  return { model: key.model, datasetId: datasetIdOf(key, created) };
}
