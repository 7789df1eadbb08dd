/**
 * Port: the model registry. Where this stands: core port; implemented by the DynamoDB adapter
 * (against AWS or DynamoDB Local). Every state change is a conditional write: a method that
 * moves a version returns `false` (and writes nothing) when the version is not in the expected
 * state, which is how duplicated and late events become no-ops. A move the status machine forbids
 * (core/domain/registry.ts, `VERSION_TRANSITIONS`) is a bug, not a late event: it throws
 * `ForbiddenTransitionError` before anything is written, and the store's conditions hold the
 * machine too.
 *
 * The registry is also the notifications' transactional outbox: a write whose audit line carries a
 * notification ({@link NotifyingAuditEvent}) stores it in the same transaction, and it stays
 * pending until a delivery completes it, so a notification is never lost between a state change
 * and its send (core/use-cases/notification-outbox.ts).
 */
import type { ModelConfig } from '../domain/model-config';
import type { Notification } from './monitoring';
import type {
  AuditEvent,
  DatasetRecord,
  IncidentAction,
  IncidentRecord,
  ModelRecord,
  VersionRecord,
  VersionStatus,
} from '../domain/registry';

/**
 * An audit line, with the notification the change it records owes people, if any. The store writes
 * the notification as an outbox item ({@link PendingNotification}) in the same transaction as the
 * change and its audit line: the item exists iff the change happened, and a duplicate event, whose
 * change is refused, writes none. `NotificationOutbox` (core/use-cases/notification-outbox.ts)
 * delivers it; the audit line itself is stored without it.
 */
export interface NotifyingAuditEvent extends AuditEvent {
  readonly notification?: Notification;
}

/**
 * A notification written with a state change and not yet delivered (the transactional outbox).
 * Delivery: claim it ({@link RegistryStore.claimNotification}), send it, then complete it (deleted)
 * or, when the send certainly failed, release the claim.
 */
export interface PendingNotification {
  /**
   * Stable id, unique within the model: `<audit at>#<audit eventId>` of the change that wrote it.
   * Sent with the notification, so a subscriber can tell a second copy from a second change.
   */
  readonly id: string;
  readonly model: string;
  readonly notification: Notification;
  /** When the change was written (the audit line's `at`). */
  readonly createdAt: string;
  /** Until when a delivery holds it (ISO 8601); absent when no delivery does. */
  readonly claimedUntil?: string;
}

/** A new version to register together with the dataset it is trained from. */
export interface NewVersion {
  readonly dataset: DatasetRecord;
  /** Builds the version record once the store has allocated its number. */
  readonly buildVersion: (version: number) => VersionRecord;
  readonly audit: Omit<AuditEvent, 'version'>;
  /**
   * Records this dataset as the model's data-quality baseline (`ModelRecord.baselineDatasetId`)
   * in the same transaction, unless the model already has one.
   */
  readonly baselineDatasetId?: string;
}

/**
 * A version made from a dataset already registered (a retrain): no new dataset, the next number
 * from the model's counter, idempotent on `requestId`.
 */
export interface NewRetrainVersion {
  readonly model: string;
  /** An ACCEPTED dataset of the model (the store's condition checks it). */
  readonly datasetId: string;
  /** The same id on a retried request returns the version the first one made. */
  readonly requestId: string;
  /** Builds the version record once the store has allocated its number. */
  readonly buildVersion: (version: number) => VersionRecord;
  readonly audit: Omit<AuditEvent, 'version'>;
}

/** Attributes of a version a transition may set or remove: all but its identity and status. */
export type VersionAttributes = Omit<VersionRecord, 'model' | 'version' | 'status' | 'createdAt'>;

/** Changes applied with a status transition. */
export interface TransitionRequest {
  readonly model: string;
  readonly version: number;
  readonly from: readonly VersionStatus[];
  readonly to: VersionStatus;
  /** Extra attributes to set on the version (metrics, artifact, reason...). */
  readonly set?: Partial<VersionAttributes>;
  /**
   * Attributes to remove (a rollback clears the earlier rollout's `rolloutRequestedAt`, which would
   * otherwise say this rollout's endpoint call had returned).
   */
  readonly remove?: readonly Exclude<keyof VersionAttributes, 'updatedAt'>[];
  /** The audit line, and the notification written with the transition (outbox), if any. */
  readonly audit: NotifyingAuditEvent;
}

/**
 * How {@link RegistryStore.recordIncidentAction} went: `recorded`; `conflict` (the incident does not
 * exist, is not OPEN for a claim, or its action is not the one expected); `cooling-down` (the model's
 * automatic-action claim is younger than the cool-down). Nothing is written unless `recorded`.
 */
export type IncidentActionWrite = 'recorded' | 'conflict' | 'cooling-down';

/**
 * The model registry every use case reads and writes: models, datasets, versions and their status
 * machine, the audit trail, incidents, and the notification outbox. Implemented by
 * `DynamoDbRegistryStore` (adapters/dynamodb/, against AWS or DynamoDB Local) and
 * `MemoryRegistryStore` (adapters/memory/, the same conditions, for unit tests); one contract suite
 * runs against both. A state change is a conditional write: `false` means the record was not in the
 * expected state and nothing was written (a duplicated or late event), not an error.
 */
export interface RegistryStore {
  /** The model item, or undefined when the model has never been seen. */
  getModel(model: string): Promise<ModelRecord | undefined>;

  /**
   * Every model item, by name (the fleet: a Query of the `byStatus` index's `MODEL` partition, never
   * a Scan). May lag the writes (a secondary index).
   */
  listModels(): Promise<ModelRecord[]>;

  /** Creates the model item if needed and stores its current (validated) config. */
  saveModelConfig(model: string, config: ModelConfig, at: string): Promise<void>;

  /** Records a rejection against the model itself (bad config); creates the model item if needed. */
  recordModelRejection(
    model: string,
    rejection: { code: string; reason: string; source: string },
    audit: AuditEvent,
  ): Promise<void>;

  /**
   * The dataset record (accepted or rejected), or undefined when none was written under this id: how
   * ingest and the reconciler tell an upload already handled from one whose event was lost.
   */
  getDataset(model: string, datasetId: string): Promise<DatasetRecord | undefined>;

  /** The model's datasets, accepted and rejected, by dataset id. */
  listDatasets(model: string): Promise<DatasetRecord[]>;

  /**
   * Records a rejected dataset, with the audit line's notification (if any) in the outbox.
   * Idempotent: a second call for the same dataset changes nothing and returns false.
   */
  recordRejectedDataset(dataset: DatasetRecord, audit: NotifyingAuditEvent): Promise<boolean>;

  /**
   * Atomically: creates the dataset (only if it does not exist), takes the next version number
   * from the model's counter, creates the version and its audit line. When the dataset already
   * exists, nothing is written and the existing version is returned with `created: false`.
   */
  registerDatasetAndVersion(
    request: NewVersion,
  ): Promise<{ created: boolean; version: VersionRecord | undefined }>;

  /**
   * Atomically: records the request (only if its `requestId` is new), takes the next version number
   * from the model's counter, creates the version (from an ACCEPTED dataset, checked by the write's
   * condition) and its audit line. A request id seen before writes nothing and returns the version
   * that request made, `created: false`. Throws `RegistryStoreError` `INVALID_REQUEST` when the
   * model has no item or the dataset is not an accepted dataset of the model.
   */
  registerRetrainVersion(
    request: NewRetrainVersion,
  ): Promise<{ created: boolean; version: VersionRecord | undefined }>;

  /** The version, or undefined when it does not exist. Strongly consistent: it sees a write just made. */
  getVersion(model: string, version: number): Promise<VersionRecord | undefined>;

  /** All versions of a model, oldest first. */
  listVersions(model: string): Promise<VersionRecord[]>;

  /** Versions in a status across the fleet (GSI by status). */
  listVersionsByStatus(status: VersionStatus): Promise<VersionRecord[]>;

  /**
   * Conditional transition; false when the version is not in one of `from`. Every method taking a
   * {@link TransitionRequest} writes its audit line's notification (if any) with the transition.
   */
  transitionVersion(request: TransitionRequest): Promise<boolean>;

  /**
   * Starts a rollout: version `from -> DEPLOYING` and the model's challenger set to it, in one
   * transaction. The challenger is the model's rollout lock, taken on condition that it is absent
   * or already this version. False, nothing written, when the version is not in `from` (a repeat
   * by the holder: it is DEPLOYING already) or another version holds the lock (a lost race: the
   * version stays where it was, and the end of the holder's rollout starts the next one).
   */
  startDeployment(request: TransitionRequest): Promise<boolean>;

  /**
   * Promotes a version: `DEPLOYING -> PRODUCTION`, the model's champion moves to it and its
   * challenger is cleared, the previous champion (if any) goes `PRODUCTION -> ARCHIVED`, all in one
   * transaction with audit lines (and the promotion's notification, if any, in the outbox). False
   * when the version is not DEPLOYING.
   */
  promote(request: {
    model: string;
    version: number;
    previousChampion?: number;
    at: string;
    audit: NotifyingAuditEvent;
  }): Promise<boolean>;

  /**
   * Ends a rollout that did not make it: `DEPLOYING -> DEPLOY_FAILED | ROLLED_BACK`, challenger
   * cleared, the champion untouched. False when the version is not DEPLOYING.
   */
  endFailedDeployment(request: TransitionRequest): Promise<boolean>;

  /** Marks the model's alarms as created (idempotent). */
  markAlarmsCreated(model: string, at: string): Promise<void>;

  /** Appends an audit line; a line with the same `at` and `eventId` is written once. */
  appendAudit(event: AuditEvent): Promise<void>;

  /** The model's audit trail, oldest first. */
  listAudit(model: string): Promise<AuditEvent[]>;

  /**
   * Opens an incident (with the audit line's notification, if any, in the outbox); false when an
   * open one for this alarm already exists.
   */
  openIncident(incident: IncidentRecord, audit: NotifyingAuditEvent): Promise<boolean>;

  /**
   * Resolves the open incident of an alarm (with the audit line's notification, if any, in the
   * outbox), recording `resolvedAt` and `timeToRecoverSeconds` (from its `openedAt`); false when
   * none is open.
   */
  resolveIncident(model: string, alarmName: string, at: string, audit: NotifyingAuditEvent): Promise<boolean>;

  /** The incident, or undefined when there is none under this id. */
  getIncident(model: string, incidentId: string): Promise<IncidentRecord | undefined>;

  /**
   * Records what the alarm policy did about an incident, with its audit line (and notification), as
   * one conditional write:
   * - without `expected`: the incident's one automatic action, claimed while it is OPEN and has
   *   none; with `cooldownSince`, also the model's automatic-action claim: refused when the model's
   *   `lastAutomaticActionAt` is later than `cooldownSince`, else set to `action.at`;
   * - with `expected`: the outcome of that action (`failed`, or the version it made), replacing it
   *   only while it is still `expected`, so a second delivery writes it once.
   */
  recordIncidentAction(
    model: string,
    incidentId: string,
    action: IncidentAction,
    audit: NotifyingAuditEvent,
    options?: { readonly expected?: IncidentAction; readonly cooldownSince?: string },
  ): Promise<IncidentActionWrite>;

  /** Incidents of a model, newest first. */
  listIncidents(model: string): Promise<IncidentRecord[]>;

  /** All open incidents across the fleet. */
  listOpenIncidents(): Promise<IncidentRecord[]>;

  // The notification outbox: what the writes above carried, until delivered.

  /** A model's pending notifications, oldest first (a strongly consistent read). */
  listPendingNotifications(model: string): Promise<PendingNotification[]>;

  /**
   * Pending notifications across the fleet written before `createdBefore` (ISO 8601), oldest first:
   * the reconciler's listing of those no event delivered. May lag the writes (a secondary index).
   */
  listPendingNotificationsBefore(createdBefore: string): Promise<PendingNotification[]>;

  /**
   * Claims a pending notification for one delivery until `until`: true when it exists and no
   * delivery holds it (never claimed, released, or its claim ended before `now`). Conditional, so of
   * two deliveries at once only one gets it.
   */
  claimNotification(model: string, id: string, now: string, until: string): Promise<boolean>;

  /** Removes a delivered notification (idempotent: gone already is fine). */
  completeNotification(model: string, id: string): Promise<void>;

  /**
   * Gives up the claim that ends at `until` (a send that certainly failed), so the next delivery
   * can claim it at once; no-op when that claim is no longer the one held.
   */
  releaseNotification(model: string, id: string, until: string): Promise<void>;
}
