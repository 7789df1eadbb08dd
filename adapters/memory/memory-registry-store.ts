/**
 * The model registry in memory: the {@link RegistryStore} port with the DynamoDB store's exact
 * semantics (adapters/dynamodb/dynamodb-registry-store.ts), for unit tests of the use cases that run
 * in milliseconds, without DynamoDB Local. Where this stands: adapter, for tests and tools only;
 * test/support/registry-store-contract.ts runs one suite against both stores.
 *
 * A twin, not a fake: it keeps the DynamoDB store's items under the same keys
 * ({@link registryKeys}): the model (with its fleet-index keys), datasets, versions, retrain
 * requests, audit lines, incidents with their open-incident guard, outbox items. Each method is the DynamoDB store's method re-read: the same
 * items, the same conditions evaluated on the stored item, transactions that evaluate every
 * condition before applying anything and report which ones failed, and the same decisions on that
 * report (a `false`, or the same {@link RegistryStoreError}). Lists come in DynamoDB's order (sort
 * keys in UTF-8 byte order; the `byStatus` index by its sort key). Values are stored as the
 * document client and DynamoDB would store them: `undefined` dropped, copies only, and what they
 * refuse (NaN, unsafe integers, Dates and other class instances, items over 400 KB) refused with
 * the code an SDK error gets (`DYNAMODB_ERROR`).
 *
 * Each call is applied atomically, after one microtask (so no call completes synchronously, as no
 * network call does). Calls at once are applied one after the other: one of the orders DynamoDB
 * could have produced, so the DynamoDB store's retries (a version counter taken meanwhile, a
 * `TransactionConflict`) have nothing to do here and its `CONFLICT` error does not happen.
 *
 * {@link MemoryRegistryStore.failNext} lets a test make a call fail, before or after its write.
 */
import type { ModelConfig } from '../../core/domain/model-config';
import {
  assertTransition,
  parseIncidentId,
  secondsBetween,
  transitionSources,
  type AuditEvent,
  type DatasetRecord,
  type IncidentAction,
  type IncidentRecord,
  type ModelRecord,
  type VersionRecord,
  type VersionStatus,
} from '../../core/domain/registry';
import type {
  IncidentActionWrite,
  NewRetrainVersion,
  NewVersion,
  NotifyingAuditEvent,
  PendingNotification,
  RegistryStore,
  TransitionRequest,
} from '../../core/ports/registry-store';
import {
  ITEM_ATTRIBUTES,
  LAYOUT_ATTRIBUTES,
  REGISTRY_TABLE_LAYOUT,
  RegistryStoreError,
  registryKeys,
} from '../dynamodb/table-layout';

/** A method of the port, as named by {@link MemoryRegistryStore.failNext}. */
export type RegistryStoreMethod = keyof RegistryStore;

/** A failure a test asks {@link MemoryRegistryStore.failNext} to inject. */
export interface InjectedFailure {
  /**
   * What the call throws. Default: a {@link RegistryStoreError} with code `DYNAMODB_ERROR` and the
   * method as `operation`, what the DynamoDB store throws when the SDK call fails.
   */
  readonly error?: unknown;
  /**
   * `'before'` (default): the call throws and writes nothing (throttled, refused, network down).
   * `'after'`: the call's write is applied, then it throws: a response lost after DynamoDB applied
   * the write, which the DynamoDB store reports as an error once its re-sends got no answer either.
   */
  readonly when?: 'before' | 'after';
}

const { partitionKey: PK, sortKey: SK, statusIndex } = REGISTRY_TABLE_LAYOUT;
const GSI_PK = statusIndex.partitionKey;
const GSI_SK = statusIndex.sortKey;
const { entity: ENTITY, incidentSk: INCIDENT_SK_ATTRIBUTE, claimedUntil: CLAIMED_UNTIL } = ITEM_ATTRIBUTES;

/** DynamoDB's limits on an item and its keys (bytes). */
const MAX_ITEM_BYTES = 400 * 1024;
const MAX_PARTITION_KEY_BYTES = 2048;
const MAX_SORT_KEY_BYTES = 1024;

type Item = Record<string, unknown>;
interface Key {
  readonly pk: string;
  readonly sk: string;
}
/** A condition expression, evaluated on the stored item (undefined when there is none). */
type Condition = (item: Item | undefined) => boolean;

/** The three kinds of clause the DynamoDB store's update expressions use. */
interface UpdateAction {
  /** `SET a = :v`; undefined values are skipped, as the DynamoDB store's `assignments` does. */
  readonly set?: Record<string, unknown>;
  /** `SET a = if_not_exists(a, :v)`. */
  readonly setIfAbsent?: Record<string, unknown>;
  /** `REMOVE a`. */
  readonly remove?: readonly string[];
}

/** One operation of a (one-operation or TransactWriteItems) write. */
type Write =
  | { readonly kind: 'put'; readonly key: Key; readonly item: Item; readonly condition?: Condition }
  | {
      readonly kind: 'update';
      readonly key: Key;
      readonly action: UpdateAction;
      readonly condition?: Condition;
    }
  | { readonly kind: 'delete'; readonly key: Key; readonly condition?: Condition }
  | { readonly kind: 'check'; readonly key: Key; readonly condition: Condition };

type TransactOutcome =
  { readonly ok: true } | { readonly ok: false; readonly conditionFailed: readonly boolean[] };

/** `attribute_not_exists(PK)`: the item is absent. */
const absent: Condition = (item) => item === undefined;

/** The RegistryStore port in memory, with the DynamoDB store's semantics (see the file's comment). */
export class MemoryRegistryStore implements RegistryStore {
  private readonly table = new MemoryTable();
  private readonly failures = new Map<RegistryStoreMethod, InjectedFailure[]>();

  /**
   * Test hook: the next call of `method` fails (see {@link InjectedFailure}); calling it again
   * queues more failures for the calls after it. Not part of the port.
   */
  failNext(method: RegistryStoreMethod, failure: InjectedFailure = {}): void {
    const queue = this.failures.get(method) ?? [];
    queue.push(failure);
    this.failures.set(method, queue);
  }

  // ---------------------------------------------------------------- models

  getModel(model: string): Promise<ModelRecord | undefined> {
    return this.call('getModel', () => this.record<ModelRecord>(modelKey(model)));
  }

  listModels(): Promise<ModelRecord[]> {
    return this.call('listModels', () => this.index<ModelRecord>(registryKeys.modelsGsiPk));
  }

  saveModelConfig(model: string, config: ModelConfig, at: string): Promise<void> {
    return this.call('saveModelConfig', () => {
      this.single('saveModelConfig', {
        kind: 'update',
        key: modelKey(model),
        action: { setIfAbsent: ensureModel(model, at), set: { config, updatedAt: at } },
      });
    });
  }

  recordModelRejection(
    model: string,
    rejection: { code: string; reason: string; source: string },
    audit: AuditEvent,
  ): Promise<void> {
    const operation = 'recordModelRejection';
    return this.call(operation, () => {
      const lastRejection = {
        code: rejection.code,
        reason: rejection.reason,
        at: audit.at,
        source: rejection.source,
      };
      const outcome = this.transact(operation, [
        {
          kind: 'update',
          key: modelKey(model),
          action: { setIfAbsent: ensureModel(model, audit.at), set: { lastRejection, updatedAt: audit.at } },
        },
        auditPut(audit),
      ]);
      if (!outcome.ok)
        throw new RegistryStoreError(
          'INCONSISTENT',
          operation,
          `unexpected condition failure for model "${model}"`,
        );
    });
  }

  markAlarmsCreated(model: string, at: string): Promise<void> {
    return this.call('markAlarmsCreated', () => {
      // Idempotent: a second call is a condition failure and changes nothing (not even updatedAt).
      this.single(
        'markAlarmsCreated',
        {
          kind: 'update',
          key: modelKey(model),
          action: { setIfAbsent: ensureModel(model, at), set: { alarmsCreated: true, updatedAt: at } },
          condition: (item) => item?.alarmsCreated !== true,
        },
        { ignoreConditionFailure: true },
      );
    });
  }

  // ---------------------------------------------------------------- datasets and versions

  getDataset(model: string, datasetId: string): Promise<DatasetRecord | undefined> {
    return this.call('getDataset', () =>
      this.record<DatasetRecord>(key(model, registryKeys.datasetSk(datasetId))),
    );
  }

  listDatasets(model: string): Promise<DatasetRecord[]> {
    return this.call('listDatasets', () => this.prefix<DatasetRecord>(model, 'DATASET#'));
  }

  recordRejectedDataset(dataset: DatasetRecord, audit: NotifyingAuditEvent): Promise<boolean> {
    return this.call('recordRejectedDataset', () => {
      const outcome = this.transact('recordRejectedDataset', [
        { ...datasetPut(dataset), condition: absent },
        ...auditPuts(audit),
      ]);
      return outcome.ok;
    });
  }

  /**
   * The DynamoDB store's transaction (dataset if absent, counter moved from the value read, version
   * if absent, audit line) and its reading of a cancellation. The read and the write are one step
   * here, so the counter cannot move in between and there is nothing to retry.
   */
  registerDatasetAndVersion(
    request: NewVersion,
  ): Promise<{ created: boolean; version: VersionRecord | undefined }> {
    const operation = 'registerDatasetAndVersion';
    return this.call(operation, () => {
      const { dataset } = request;
      const model = dataset.model;
      const counter = this.table.get(modelKey(model))?.versionCounter;
      const current = typeof counter === 'number' ? counter : 0;
      const next = current + 1;
      const version = request.buildVersion(next);
      if (version.version !== next || version.model !== model) {
        throw new RegistryStoreError(
          'INVALID_REQUEST',
          operation,
          `buildVersion(${next}) returned ${version.model} v${version.version}; expected ${model} v${next}`,
        );
      }
      const outcome = this.transact(operation, [
        { ...datasetPut({ ...dataset, version: next }), condition: absent },
        {
          kind: 'update',
          key: modelKey(model),
          action: {
            set: { versionCounter: next, updatedAt: version.createdAt },
            setIfAbsent: {
              ...ensureModel(model, version.createdAt, { withCounter: false }),
              // The first accepted dataset becomes the data-quality baseline; never overwritten.
              ...(request.baselineDatasetId ? { baselineDatasetId: request.baselineDatasetId } : {}),
            },
          },
          condition: (item) => item?.versionCounter === undefined || item.versionCounter === current,
        },
        { ...versionPut(version), condition: absent },
        auditPut({ ...request.audit, version: next }),
      ]);
      if (outcome.ok) return { created: true, version };

      const [datasetExists, counterMoved, versionExists] = outcome.conditionFailed;
      if (datasetExists) {
        const existing = this.record<DatasetRecord>(key(model, registryKeys.datasetSk(dataset.datasetId)));
        return {
          created: false,
          version:
            existing?.version === undefined
              ? undefined
              : this.record<VersionRecord>(key(model, registryKeys.versionSk(existing.version))),
        };
      }
      if (!counterMoved && versionExists) {
        throw new RegistryStoreError(
          'INCONSISTENT',
          operation,
          `version ${next} of "${model}" exists but the model's counter is ${current}`,
        );
      }
      // A counter that is not a number: the DynamoDB store retries until it gives up with this.
      throw new RegistryStoreError(
        'CONFLICT',
        operation,
        `gave up on "${model}": the model's counter does not move from ${String(counter)}`,
      );
    });
  }

  /**
   * The DynamoDB store's transaction (request item if absent, counter moved from the value read on
   * an existing model, dataset ACCEPTED, version if absent, audit line) and its reading of a
   * cancellation; nothing to retry here.
   */
  registerRetrainVersion(
    request: NewRetrainVersion,
  ): Promise<{ created: boolean; version: VersionRecord | undefined }> {
    const operation = 'registerRetrainVersion';
    return this.call(operation, () => {
      const { model, datasetId, requestId } = request;
      const modelItem = this.table.get(modelKey(model));
      if (!modelItem)
        throw new RegistryStoreError('INVALID_REQUEST', operation, `model "${model}" has no registry item`);
      const counter = modelItem.versionCounter;
      const current = typeof counter === 'number' ? counter : 0;
      const next = current + 1;
      const version = request.buildVersion(next);
      if (version.version !== next || version.model !== model || version.datasetId !== datasetId) {
        throw new RegistryStoreError(
          'INVALID_REQUEST',
          operation,
          `buildVersion(${next}) returned ${version.model} v${version.version} from ${version.datasetId}; expected ${model} v${next} from ${datasetId}`,
        );
      }
      const requestKey = key(model, registryKeys.retrainSk(requestId));
      const outcome = this.transact(operation, [
        {
          kind: 'put',
          key: requestKey,
          item: {
            ...keyAttributes(requestKey),
            [ENTITY]: 'RETRAIN',
            model,
            requestId,
            datasetId,
            version: next,
            createdAt: version.createdAt,
          },
          condition: absent,
        },
        {
          kind: 'update',
          key: modelKey(model),
          action: { set: { versionCounter: next, updatedAt: version.createdAt } },
          condition: (item) =>
            item !== undefined && (item.versionCounter === undefined || item.versionCounter === current),
        },
        {
          kind: 'check',
          key: key(model, registryKeys.datasetSk(datasetId)),
          condition: (item) => item?.status === 'ACCEPTED',
        },
        { ...versionPut(version), condition: absent },
        auditPut({ ...request.audit, version: next }),
      ]);
      if (outcome.ok) return { created: true, version };

      const [requestSeen, counterMoved, datasetRefused, versionExists] = outcome.conditionFailed;
      if (requestSeen) {
        const seen = this.table.get(requestKey)?.version;
        return {
          created: false,
          version:
            typeof seen === 'number'
              ? this.record<VersionRecord>(key(model, registryKeys.versionSk(seen)))
              : undefined,
        };
      }
      if (datasetRefused)
        throw new RegistryStoreError(
          'INVALID_REQUEST',
          operation,
          `dataset "${datasetId}" is not an accepted dataset of "${model}"`,
        );
      if (!counterMoved && versionExists)
        throw new RegistryStoreError(
          'INCONSISTENT',
          operation,
          `version ${next} of "${model}" exists but the model's counter is ${current}`,
        );
      // A counter that is not a number: the DynamoDB store retries until it gives up with this.
      throw new RegistryStoreError(
        'CONFLICT',
        operation,
        `gave up on "${model}": the model's counter does not move from ${String(counter)}`,
      );
    });
  }

  getVersion(model: string, version: number): Promise<VersionRecord | undefined> {
    return this.call('getVersion', () =>
      this.record<VersionRecord>(key(model, registryKeys.versionSk(version))),
    );
  }

  listVersions(model: string): Promise<VersionRecord[]> {
    return this.call('listVersions', () => this.prefix<VersionRecord>(model, 'VERSION#'));
  }

  listVersionsByStatus(status: VersionStatus): Promise<VersionRecord[]> {
    return this.call('listVersionsByStatus', () =>
      this.index<VersionRecord>(registryKeys.versionStatusPk(status)),
    );
  }

  transitionVersion(request: TransitionRequest): Promise<boolean> {
    return this.call('transitionVersion', () => {
      if (request.from.length === 0) return false;
      const outcome = this.transact('transitionVersion', [
        transitionUpdate(request),
        ...auditPuts(request.audit),
      ]);
      return outcome.ok;
    });
  }

  /**
   * Like the DynamoDB store: the version `from -> DEPLOYING` and the model's challenger set to it on
   * condition that the model exists and its challenger is absent or already this version (the
   * rollout lock). False, nothing written, when the version is not in `from` or another version
   * holds the lock.
   */
  startDeployment(request: TransitionRequest): Promise<boolean> {
    const operation = 'startDeployment';
    return this.call(operation, () => {
      if (request.to !== 'DEPLOYING')
        throw new RegistryStoreError(
          'INVALID_REQUEST',
          operation,
          `a rollout moves a version to DEPLOYING, not ${request.to}`,
        );
      if (request.from.length === 0) return false;
      const outcome = this.transact(operation, [
        transitionUpdate(request),
        {
          kind: 'update',
          key: modelKey(request.model),
          action: { set: { challenger: request.version, updatedAt: updatedAt(request) } },
          condition: (item) =>
            item !== undefined && (item.challenger === undefined || item.challenger === request.version),
        },
        ...auditPuts(request.audit),
      ]);
      if (outcome.ok) return true;
      if (outcome.conditionFailed[0]) return false;
      // Another rollout holds the lock: refused like any transition whose condition fails.
      if (this.table.get(modelKey(request.model)) !== undefined) return false;
      throw new RegistryStoreError(
        'INCONSISTENT',
        operation,
        `version ${request.version} of "${request.model}" exists but its model item does not`,
      );
    });
  }

  /** The DynamoDB store's promotion transaction (see `DynamoDbRegistryStore.promote`). */
  promote(request: {
    model: string;
    version: number;
    previousChampion?: number;
    at: string;
    audit: NotifyingAuditEvent;
  }): Promise<boolean> {
    return this.call('promote', () => {
      const { model, version, previousChampion, at, audit } = request;
      const writes: Write[] = [
        transitionUpdate({
          model,
          version,
          from: ['DEPLOYING'],
          to: 'PRODUCTION',
          set: { updatedAt: at },
          audit,
        }),
        {
          kind: 'update',
          key: modelKey(model),
          action: { set: { champion: version, updatedAt: at }, remove: ['challenger'] },
          condition: (item) =>
            item !== undefined &&
            (previousChampion === undefined
              ? item.champion === undefined
              : item.champion === undefined || item.champion === previousChampion),
        },
        auditPut(audit),
      ];
      if (previousChampion !== undefined && previousChampion !== version) {
        const archiveAudit: AuditEvent = {
          model,
          at,
          eventId: `${audit.eventId}#archive`,
          type: 'VERSION_ARCHIVED',
          actor: audit.actor,
          version: previousChampion,
          from: 'PRODUCTION',
          to: 'ARCHIVED',
          reason: `superseded by version ${version}`,
        };
        writes.push(
          transitionUpdate({
            model,
            version: previousChampion,
            from: ['PRODUCTION'],
            to: 'ARCHIVED',
            set: { updatedAt: at },
            audit: archiveAudit,
          }),
          auditPut(archiveAudit),
        );
      }
      writes.push(...outboxPuts(audit));
      return this.transact('promote', writes).ok;
    });
  }

  /**
   * The DynamoDB store's end of a failed rollout: the version `from -> to`, the challenger cleared
   * when it is this version, left alone (checked) when it is another one, the champion untouched.
   */
  endFailedDeployment(request: TransitionRequest): Promise<boolean> {
    const operation = 'endFailedDeployment';
    return this.call(operation, () => {
      if (request.to !== 'DEPLOY_FAILED' && request.to !== 'ROLLED_BACK') {
        throw new RegistryStoreError(
          'INVALID_REQUEST',
          operation,
          `a failed rollout ends in DEPLOY_FAILED or ROLLED_BACK, not ${request.to}`,
        );
      }
      if (request.from.length === 0) return false;
      const self = request.version;
      const modelItem = this.table.get(modelKey(request.model));
      const modelWrite: Write =
        modelItem?.challenger === self
          ? {
              kind: 'update',
              key: modelKey(request.model),
              action: { set: { updatedAt: updatedAt(request) }, remove: ['challenger'] },
              condition: (item) => item?.challenger === self,
            }
          : { kind: 'check', key: modelKey(request.model), condition: (item) => item?.challenger !== self };
      const outcome = this.transact(operation, [
        transitionUpdate(request),
        modelWrite,
        ...auditPuts(request.audit),
      ]);
      if (outcome.ok) return true;
      if (outcome.conditionFailed[0]) return false;
      // Unreachable: the challenger cannot change between the read and the write here.
      throw new RegistryStoreError(
        'CONFLICT',
        operation,
        `gave up on "${request.model}": its challenger kept changing`,
      );
    });
  }

  // ---------------------------------------------------------------- audit

  appendAudit(event: AuditEvent): Promise<void> {
    return this.call('appendAudit', () => {
      this.single('appendAudit', { ...auditPut(event), condition: absent }, { ignoreConditionFailure: true });
    });
  }

  listAudit(model: string): Promise<AuditEvent[]> {
    return this.call('listAudit', () => this.prefix<AuditEvent>(model, 'EVENT#'));
  }

  // ---------------------------------------------------------------- incidents

  /** The guard `OPEN_INCIDENT#<alarmName>` (absent), the incident (absent) and the audit line. */
  openIncident(incident: IncidentRecord, audit: NotifyingAuditEvent): Promise<boolean> {
    return this.call('openIncident', () => {
      const { model, alarmName, openedAt } = incident;
      const incidentSk = registryKeys.incidentSk(alarmName, openedAt);
      const guardKey = key(model, registryKeys.openIncidentSk(alarmName));
      const incidentKey = key(model, incidentSk);
      const guard: Item = {
        ...keyAttributes(guardKey),
        [ENTITY]: 'OPEN_INCIDENT',
        model,
        alarmName,
        incidentId: incident.incidentId,
        openedAt,
        [INCIDENT_SK_ATTRIBUTE]: incidentSk,
      };
      const item: Item = {
        ...{ ...incident, status: 'OPEN', resolvedAt: undefined },
        ...keyAttributes(incidentKey),
        [ENTITY]: 'INCIDENT',
        [GSI_PK]: registryKeys.incidentStatusPk('OPEN'),
        [GSI_SK]: registryKeys.incidentStatusSk(openedAt, model, alarmName),
      };
      return this.transact('openIncident', [
        { kind: 'put', key: guardKey, item: guard, condition: absent },
        { kind: 'put', key: incidentKey, item, condition: absent },
        ...auditPuts(audit),
      ]).ok;
    });
  }

  /**
   * The guard names the open incident: delete it (still naming it), resolve the incident (with its
   * time to recover from the guard's `openedAt`), audit.
   */
  resolveIncident(
    model: string,
    alarmName: string,
    at: string,
    audit: NotifyingAuditEvent,
  ): Promise<boolean> {
    const operation = 'resolveIncident';
    return this.call(operation, () => {
      const guardKey = key(model, registryKeys.openIncidentSk(alarmName));
      const guard = this.table.get(guardKey);
      const incidentSk = guard?.[INCIDENT_SK_ATTRIBUTE];
      if (typeof incidentSk !== 'string') return false;
      const outcome = this.transact(operation, [
        { kind: 'delete', key: guardKey, condition: (item) => item?.[INCIDENT_SK_ATTRIBUTE] === incidentSk },
        {
          kind: 'update',
          key: key(model, incidentSk),
          action: {
            set: {
              status: 'RESOLVED',
              resolvedAt: at,
              timeToRecoverSeconds: secondsBetween(guard?.openedAt, at),
              [GSI_PK]: registryKeys.incidentStatusPk('RESOLVED'),
              [GSI_SK]: registryKeys.incidentStatusSk(at, model, alarmName),
            },
          },
          condition: (item) => item?.status === 'OPEN',
        },
        ...auditPuts(audit),
      ]);
      if (outcome.ok) return true;
      if (!outcome.conditionFailed[0]) {
        throw new RegistryStoreError(
          'INCONSISTENT',
          operation,
          `the guard of "${alarmName}" (${model}) names ${incidentSk}, which is not OPEN`,
        );
      }
      // Unreachable: the guard cannot change between the read and the write here.
      throw new RegistryStoreError('CONFLICT', operation, `gave up on "${alarmName}" (${model})`);
    });
  }

  /** Newest first (by `openedAt`, then alarm name), as the DynamoDB store sorts its Query. */
  listIncidents(model: string): Promise<IncidentRecord[]> {
    return this.call('listIncidents', () =>
      this.prefix<IncidentRecord>(model, 'INCIDENT#').sort(
        (a, b) => compare(b.openedAt, a.openedAt) || compare(a.alarmName, b.alarmName),
      ),
    );
  }

  getIncident(model: string, incidentId: string): Promise<IncidentRecord | undefined> {
    return this.call('getIncident', () => {
      const id = parseIncidentId(incidentId);
      if (!id) return undefined;
      const incident = this.record<IncidentRecord>(
        key(model, registryKeys.incidentSk(id.alarmName, id.openedAt)),
      );
      return incident?.incidentId === incidentId ? incident : undefined;
    });
  }

  /** The DynamoDB store's transaction: the incident's action (conditional), the cool-down claim, the audit line. */
  recordIncidentAction(
    model: string,
    incidentId: string,
    action: IncidentAction,
    audit: NotifyingAuditEvent,
    options: { readonly expected?: IncidentAction; readonly cooldownSince?: string } = {},
  ): Promise<IncidentActionWrite> {
    const operation = 'recordIncidentAction';
    return this.call(operation, () => {
      const id = parseIncidentId(incidentId);
      if (!id) return 'conflict';
      const { expected, cooldownSince } = options;
      const writes: Write[] = [
        {
          kind: 'update',
          key: key(model, registryKeys.incidentSk(id.alarmName, id.openedAt)),
          action: { set: { action } },
          condition: (item) => {
            if (item?.incidentId !== incidentId) return false;
            if (!expected) return item.status === 'OPEN' && item.action === undefined;
            const stored = item.action as Partial<IncidentAction> | undefined;
            return (
              stored?.kind === expected.kind &&
              stored.status === expected.status &&
              stored.at === expected.at &&
              stored.detail === expected.detail &&
              stored.version === expected.version
            );
          },
        },
      ];
      if (cooldownSince !== undefined)
        writes.push({
          kind: 'update',
          key: modelKey(model),
          action: { set: { lastAutomaticActionAt: action.at } },
          condition: (item) =>
            item !== undefined &&
            (item.lastAutomaticActionAt === undefined ||
              !lessThan(cooldownSince, item.lastAutomaticActionAt)),
        });
      writes.push(...auditPuts(audit));
      const outcome = this.transact(operation, writes);
      if (outcome.ok) return 'recorded';
      return outcome.conditionFailed[0] ? 'conflict' : 'cooling-down';
    });
  }

  listOpenIncidents(): Promise<IncidentRecord[]> {
    return this.call('listOpenIncidents', () =>
      this.index<IncidentRecord>(registryKeys.incidentStatusPk('OPEN')),
    );
  }

  // ---------------------------------------------------------------- notification outbox

  listPendingNotifications(model: string): Promise<PendingNotification[]> {
    return this.call('listPendingNotifications', () => this.prefix<PendingNotification>(model, 'OUTBOX#'));
  }

  listPendingNotificationsBefore(createdBefore: string): Promise<PendingNotification[]> {
    return this.call('listPendingNotificationsBefore', () =>
      this.index<PendingNotification>(registryKeys.outboxPk, createdBefore),
    );
  }

  claimNotification(model: string, id: string, now: string, until: string): Promise<boolean> {
    return this.call('claimNotification', () =>
      this.single(
        'claimNotification',
        {
          kind: 'update',
          key: key(model, registryKeys.outboxSk(id)),
          action: { set: { [CLAIMED_UNTIL]: until } },
          condition: (item) =>
            item !== undefined && (item[CLAIMED_UNTIL] === undefined || lessThan(item[CLAIMED_UNTIL], now)),
        },
        { ignoreConditionFailure: true },
      ),
    );
  }

  completeNotification(model: string, id: string): Promise<void> {
    return this.call('completeNotification', () => {
      this.single('completeNotification', { kind: 'delete', key: key(model, registryKeys.outboxSk(id)) });
    });
  }

  releaseNotification(model: string, id: string, until: string): Promise<void> {
    return this.call('releaseNotification', () => {
      this.single(
        'releaseNotification',
        {
          kind: 'update',
          key: key(model, registryKeys.outboxSk(id)),
          action: { remove: [CLAIMED_UNTIL] },
          condition: (item) => item?.[CLAIMED_UNTIL] === until,
        },
        { ignoreConditionFailure: true },
      );
    });
  }

  // ---------------------------------------------------------------- calls, reads and writes

  /** Runs one call of the port: after a microtask, with the injected failure (if any), atomically. */
  private async call<T>(method: RegistryStoreMethod, body: () => T): Promise<T> {
    await Promise.resolve();
    const failure = this.failures.get(method)?.shift();
    const error = (): unknown =>
      failure?.error ??
      new RegistryStoreError('DYNAMODB_ERROR', method, 'injected failure (MemoryRegistryStore.failNext)');
    if (failure && failure.when !== 'after') throw error();
    const result = body();
    if (failure) throw error();
    return result;
  }

  private record<T>(itemKey: Key): T | undefined {
    const item = this.table.get(itemKey);
    return item ? toRecord<T>(item) : undefined;
  }

  private prefix<T>(model: string, prefix: string): T[] {
    return this.table.query(registryKeys.pk(model), prefix).map((item) => toRecord<T>(item));
  }

  private index<T>(gsiPk: string, sortKeyBefore?: string): T[] {
    return this.table.queryIndex(gsiPk, sortKeyBefore).map((item) => toRecord<T>(item));
  }

  /** A one-item write (PutItem, UpdateItem, DeleteItem): true when applied. */
  private single(
    operation: string,
    write: Write,
    options: { ignoreConditionFailure?: boolean } = {},
  ): boolean {
    const outcome = this.transact(operation, [write]);
    if (outcome.ok) return true;
    if (options.ignoreConditionFailure) return false;
    throw new RegistryStoreError(
      'DYNAMODB_ERROR',
      operation,
      'ConditionalCheckFailedException: The conditional request failed',
    );
  }

  /**
   * A TransactWriteItems: the values made storable (what the document client refuses fails here, as
   * it fails before the request is sent), one operation per item, every condition evaluated on the
   * stored items, then all the writes or none.
   */
  private transact(operation: string, writes: readonly Write[]): TransactOutcome {
    const storable = writes.map((write) => storableWrite(operation, write));
    const seen = new Set<string>();
    for (const write of storable) {
      const id = `${write.key.pk}\u0000${write.key.sk}`;
      if (seen.has(id))
        throw new RegistryStoreError(
          'DYNAMODB_ERROR',
          operation,
          'ValidationException: Transaction request cannot include multiple operations on one item',
        );
      seen.add(id);
    }
    const conditionFailed = storable.map((write) =>
      write.condition ? !write.condition(this.table.get(write.key)) : false,
    );
    if (conditionFailed.some(Boolean)) return { ok: false, conditionFailed };

    // Every item after the write first, checked, so that a refused one leaves all unwritten.
    const results = storable
      .filter((write) => write.kind !== 'check')
      .map((write) => {
        const after = apply(write, this.table.get(write.key));
        if (after) checkItem(operation, after);
        return { key: write.key, after };
      });
    for (const { key: itemKey, after } of results) {
      if (after) this.table.set(itemKey, after);
      else this.table.delete(itemKey);
    }
    return { ok: true };
  }
}

// ------------------------------------------------------------------ the table

/** Items by partition and sort key, with DynamoDB's key order. */
class MemoryTable {
  private readonly partitions = new Map<string, Map<string, Item>>();

  get(itemKey: Key): Item | undefined {
    return this.partitions.get(itemKey.pk)?.get(itemKey.sk);
  }

  set(itemKey: Key, item: Item): void {
    let partition = this.partitions.get(itemKey.pk);
    if (!partition) this.partitions.set(itemKey.pk, (partition = new Map<string, Item>()));
    partition.set(itemKey.sk, item);
  }

  delete(itemKey: Key): void {
    this.partitions.get(itemKey.pk)?.delete(itemKey.sk);
  }

  /** `PK = pk AND begins_with(SK, prefix)`, in sort-key order. */
  query(pk: string, prefix: string): Item[] {
    const partition = this.partitions.get(pk);
    if (!partition) return [];
    return [...partition.entries()]
      .filter(([sk]) => sk.startsWith(prefix))
      .sort(([a], [b]) => compareKeys(a, b))
      .map(([, item]) => item);
  }

  /** The `byStatus` index: `GSI1PK = gsiPk [AND GSI1SK < before]`, in its sort-key order. */
  queryIndex(gsiPk: string, sortKeyBefore?: string): Item[] {
    const items: Item[] = [];
    for (const partition of this.partitions.values()) {
      for (const item of partition.values()) {
        const sk = item[GSI_SK];
        if (item[GSI_PK] !== gsiPk || typeof sk !== 'string') continue;
        if (sortKeyBefore !== undefined && compareKeys(sk, sortKeyBefore) >= 0) continue;
        items.push(item);
      }
    }
    // Ties on the index's sort key (the store writes none) in table-key order: DynamoDB leaves
    // their order unspecified, this is one it may give.
    return items.sort(
      (a, b) =>
        compareKeys(a[GSI_SK] as string, b[GSI_SK] as string) ||
        compareKeys(a[PK] as string, b[PK] as string) ||
        compareKeys(a[SK] as string, b[SK] as string),
    );
  }
}

// ------------------------------------------------------------------ items (as the DynamoDB store builds them)

function key(model: string, sk: string): Key {
  return { pk: registryKeys.pk(model), sk };
}

function modelKey(model: string): Key {
  return key(model, registryKeys.modelSk);
}

function keyAttributes(itemKey: Key): Item {
  return { [PK]: itemKey.pk, [SK]: itemKey.sk };
}

/** The model item's invariant attributes, set when absent. */
function ensureModel(model: string, at: string, options: { withCounter?: boolean } = {}): Item {
  return {
    [ENTITY]: 'MODEL',
    model,
    createdAt: at,
    // The fleet listing (listModels): on the item from its first write.
    [GSI_PK]: registryKeys.modelsGsiPk,
    [GSI_SK]: registryKeys.modelsGsiSk(model),
    ...(options.withCounter === false ? {} : { versionCounter: 0 }),
  };
}

function datasetPut(dataset: DatasetRecord): Write & { kind: 'put' } {
  const itemKey = key(dataset.model, registryKeys.datasetSk(dataset.datasetId));
  return { kind: 'put', key: itemKey, item: { ...dataset, ...keyAttributes(itemKey), [ENTITY]: 'DATASET' } };
}

function versionPut(version: VersionRecord): Write & { kind: 'put' } {
  const itemKey = key(version.model, registryKeys.versionSk(version.version));
  return {
    kind: 'put',
    key: itemKey,
    item: {
      ...version,
      ...keyAttributes(itemKey),
      [ENTITY]: 'VERSION',
      [GSI_PK]: registryKeys.versionStatusPk(version.status),
      [GSI_SK]: registryKeys.versionStatusSk(version.updatedAt, version.model, version.version),
    },
  };
}

/** The audit line, unconditional (a replay of the same line overwrites it): without its notification. */
function auditPut(event: NotifyingAuditEvent): Write & { kind: 'put' } {
  const itemKey = key(event.model, registryKeys.eventSk(event.at, event.eventId));
  return {
    kind: 'put',
    key: itemKey,
    item: { ...event, notification: undefined, ...keyAttributes(itemKey), [ENTITY]: 'EVENT' },
  };
}

/** The audit line and, after it, the outbox item of its notification (if any). */
function auditPuts(event: NotifyingAuditEvent): Write[] {
  return [auditPut(event), ...outboxPuts(event)];
}

/** The outbox item of the audit line's notification, if any; unconditional like the audit line. */
function outboxPuts(event: NotifyingAuditEvent): Write[] {
  const { notification } = event;
  if (!notification) return [];
  const id = registryKeys.outboxId(event.at, event.eventId);
  const itemKey = key(event.model, registryKeys.outboxSk(id));
  const pending: PendingNotification = {
    id,
    model: event.model,
    notification: { ...notification, id: undefined },
    createdAt: event.at,
  };
  return [
    {
      kind: 'put',
      key: itemKey,
      item: {
        ...pending,
        ...keyAttributes(itemKey),
        [ENTITY]: 'OUTBOX',
        [GSI_PK]: registryKeys.outboxPk,
        [GSI_SK]: registryKeys.outboxGsiSk(event.at, event.model, event.eventId),
      },
    },
  ];
}

function updatedAt(request: TransitionRequest): string {
  return request.set?.updatedAt ?? request.audit.at;
}

/**
 * The conditional update of a version: status in `from` (narrowed to the sources the machine allows
 * for `to`) -> `to`, the index keys, `set` without the attributes it may not change. Throws
 * `ForbiddenTransitionError` when the machine does not allow `to` from a status in `from`.
 */
function transitionUpdate(request: TransitionRequest): Write {
  assertTransition(request.model, request.version, request.from, request.to);
  const at = updatedAt(request);
  const extra: Record<string, unknown> = { ...request.set };
  const protectedAttributes = ['model', 'version', 'status', 'createdAt', 'updatedAt', ...LAYOUT_ATTRIBUTES];
  for (const attribute of protectedAttributes) delete extra[attribute];
  // As the DynamoDB store: an attribute both set and removed is set.
  const remove = (request.remove ?? []).filter(
    (attribute) => !protectedAttributes.includes(attribute) && !(attribute in extra),
  );
  const sources = transitionSources(request.to).filter((status) => request.from.includes(status));
  return {
    kind: 'update',
    key: key(request.model, registryKeys.versionSk(request.version)),
    action: {
      set: {
        ...extra,
        status: request.to,
        updatedAt: at,
        [GSI_PK]: registryKeys.versionStatusPk(request.to),
        [GSI_SK]: registryKeys.versionStatusSk(at, request.model, request.version),
      },
      remove,
    },
    condition: (item) => item !== undefined && sources.includes(item.status as VersionStatus),
  };
}

// ------------------------------------------------------------------ values as DynamoDB stores them

/** The write with its values as they would be stored: copies, `undefined` dropped, refusals thrown. */
function storableWrite(operation: string, write: Write): Write {
  switch (write.kind) {
    case 'put':
      return { ...write, item: storable(operation, write.item) as Item };
    case 'update': {
      const { set, setIfAbsent, remove } = write.action;
      // The DynamoDB store skips undefined values; a value the document client drops (a function)
      // leaves its placeholder without a value, which DynamoDB refuses.
      const values = (entries: Record<string, unknown> | undefined): Record<string, unknown> | undefined =>
        entries &&
        Object.fromEntries(
          Object.entries(entries)
            .filter(([, value]) => value !== undefined)
            .map(([attribute, value]) => {
              const stored = storable(operation, value);
              if (stored === undefined)
                throw new RegistryStoreError(
                  'DYNAMODB_ERROR',
                  operation,
                  `ValidationException: An expression attribute value used in expression is not defined (${attribute})`,
                );
              return [attribute, stored];
            }),
        );
      return { ...write, action: { set: values(set), setIfAbsent: values(setIfAbsent), remove } };
    }
    default:
      return write;
  }
}

/** The item after the write (undefined: deleted or still absent). */
function apply(write: Write, current: Item | undefined): Item | undefined {
  switch (write.kind) {
    case 'put':
      return write.item;
    case 'delete':
      return undefined;
    case 'check':
      return current; // a ConditionCheck writes nothing
    case 'update': {
      // An update creates the item when absent, as UpdateItem does.
      const item: Item = current ? { ...current } : keyAttributes(write.key);
      for (const [attribute, value] of Object.entries(write.action.setIfAbsent ?? {}))
        if (!(attribute in item)) item[attribute] = value;
      for (const [attribute, value] of Object.entries(write.action.set ?? {})) item[attribute] = value;
      for (const attribute of write.action.remove ?? []) delete item[attribute];
      return item;
    }
  }
}

/**
 * A copy of the value as the document client (`DOCUMENT_CLIENT_CONFIG`) marshals it and reads it
 * back: `undefined` and functions dropped, -0 as 0, a Map as a plain object; NaN, infinities,
 * numbers beyond `Number.MAX_SAFE_INTEGER`, empty sets, symbols, Dates and other class instances
 * refused (the document client throws before sending; the DynamoDB store wraps that as
 * `DYNAMODB_ERROR`).
 */
function storable(operation: string, value: unknown): unknown {
  const refuse = (reason: string): never => {
    throw new RegistryStoreError('DYNAMODB_ERROR', operation, `Error: ${reason}`);
  };
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      if (!Number.isFinite(value)) return refuse(`Special numeric value ${value} is not allowed`);
      if (Math.abs(value) > Number.MAX_SAFE_INTEGER)
        return refuse(`Number ${value} is beyond Number.MAX_SAFE_INTEGER`);
      return value === 0 ? 0 : value;
    case 'bigint':
      if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER))
        return refuse(`Number ${value} is beyond Number.MAX_SAFE_INTEGER`);
      return Number(value);
    case 'undefined':
    case 'function':
      return undefined;
    case 'symbol':
      return refuse('Cannot convert a Symbol value to a string');
  }
  if (value === null) return null;
  const copyEntries = (entries: Iterable<[string, unknown]>): Item => {
    const copy: Item = {};
    for (const [name, entry] of entries) {
      const stored = storable(operation, entry);
      if (stored !== undefined) copy[name] = stored;
    }
    return copy;
  };
  if (Array.isArray(value))
    return value.map((entry) => storable(operation, entry)).filter((entry) => entry !== undefined);
  if (value instanceof Map) return copyEntries(value.entries() as Iterable<[string, unknown]>);
  if (value instanceof Set) {
    if (value.size === 0) return refuse('Pass a non-empty set, or options.convertEmptyValues=true.');
    return new Set([...value].map((entry) => storable(operation, entry)));
  }
  if (value instanceof Uint8Array) return new Uint8Array(value);
  const prototype: unknown = Object.getPrototypeOf(value);
  if (prototype === Object.prototype || prototype === null) return copyEntries(Object.entries(value as Item));
  // The document client's own message: it interpolates the value, so a Date shows its date and a
  // class instance without toString shows [object Object].
  // eslint-disable-next-line @typescript-eslint/no-base-to-string
  return refuse(`Unsupported type passed: ${String(value)}`);
}

/** Refuses what DynamoDB refuses in an item: over 400 KB, or a key over its length. */
function checkItem(operation: string, item: Item): void {
  const refuse = (reason: string): never => {
    throw new RegistryStoreError('DYNAMODB_ERROR', operation, `ValidationException: ${reason}`);
  };
  for (const [attribute, limit] of [
    [PK, MAX_PARTITION_KEY_BYTES],
    [SK, MAX_SORT_KEY_BYTES],
    [GSI_PK, MAX_PARTITION_KEY_BYTES],
    [GSI_SK, MAX_SORT_KEY_BYTES],
  ] as const) {
    const value = item[attribute];
    if (typeof value === 'string' && utf8Bytes(value) > limit)
      refuse(`the key attribute ${attribute} is longer than ${limit} bytes`);
  }
  let size = 0;
  for (const [attribute, value] of Object.entries(item)) size += utf8Bytes(attribute) + valueBytes(value);
  if (size > MAX_ITEM_BYTES) refuse('Item size has exceeded the maximum allowed size');
}

/**
 * The size DynamoDB counts for a value (Developer Guide, "Item sizes and formats"): strings in
 * UTF-8, numbers one byte per two significant digits plus one, booleans and null one byte, lists
 * and maps 3 bytes plus one per element plus their contents.
 */
function valueBytes(value: unknown): number {
  if (typeof value === 'string') return utf8Bytes(value);
  if (typeof value === 'number') {
    const digits = Math.abs(value).toExponential().replace(/e.*$/, '').replace('.', '').replace(/0+$/, '');
    return Math.ceil(Math.max(digits.length, 1) / 2) + 1;
  }
  if (typeof value === 'boolean' || value === null) return 1;
  if (value instanceof Uint8Array) return value.byteLength;
  if (value instanceof Set) return [...value].reduce((sum: number, entry) => sum + valueBytes(entry), 0);
  if (Array.isArray(value)) return 3 + value.reduce((sum: number, entry) => sum + valueBytes(entry) + 1, 0);
  if (typeof value === 'object')
    return (
      3 +
      Object.entries(value as Item).reduce(
        (sum, [name, entry]) => sum + utf8Bytes(name) + valueBytes(entry) + 1,
        0,
      )
    );
  return 0;
}

function utf8Bytes(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/** The domain record of an item (every attribute but the layout's), a deep copy. */
function toRecord<T>(item: Item): T {
  const record: Item = {};
  for (const [attribute, value] of Object.entries(item))
    if (!LAYOUT_ATTRIBUTES.has(attribute)) record[attribute] = copyStored(value);
  return record as T;
}

/**
 * A deep copy of a stored value, which {@link storable} made plain data (objects, arrays, sets,
 * binary, primitives); several times faster than `structuredClone`, which every read would pay.
 */
function copyStored(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(copyStored);
  if (value instanceof Set) return new Set([...value].map(copyStored));
  if (value instanceof Uint8Array) return new Uint8Array(value);
  const copy: Item = {};
  for (const [name, entry] of Object.entries(value)) copy[name] = copyStored(entry);
  return copy;
}

/** `a < b` as a DynamoDB condition compares: strings by UTF-8 bytes, numbers by value, else false. */
function lessThan(a: unknown, b: unknown): boolean {
  if (typeof a === 'string' && typeof b === 'string') return compareKeys(a, b) < 0;
  if (typeof a === 'number' && typeof b === 'number') return a < b;
  return false;
}

/**
 * DynamoDB's order of strings: by UTF-8 bytes, i.e. by code point. JavaScript's `<` compares UTF-16
 * units, which differs only for characters above U+FFFF (surrogates) against U+E000..U+FFFF.
 */
function compareKeys(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    const xSurrogate = x >= 0xd800 && x <= 0xdfff;
    const ySurrogate = y >= 0xd800 && y <= 0xdfff;
    if (xSurrogate !== ySurrogate) return xSurrogate ? 1 : -1;
    return x < y ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

/** JavaScript's string order, as the DynamoDB store's in-memory sort uses it. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
