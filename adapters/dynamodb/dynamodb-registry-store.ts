/**
 * The model registry on DynamoDB. Where this stands: adapter; implements the core
 * {@link RegistryStore} port with the SDK v3 document client, against AWS or DynamoDB Local.
 *
 * Items (one table, keys from {@link REGISTRY_TABLE_LAYOUT}), all under `PK = MODEL#<name>`:
 *
 * | SK                                | entity          | GSI `byStatus` (`GSI1PK` / `GSI1SK`)                                  |
 * | --------------------------------- | --------------- | --------------------------------------------------------------------- |
 * | `MODEL`                           | `MODEL`         | `MODEL` / `<model>` (the fleet: set when the item is created)         |
 * | `DATASET#<id>`                    | `DATASET`       | -                                                                     |
 * | `VERSION#<000001>`                | `VERSION`       | `VERSION_STATUS#<status>` / `<updatedAt>#<model>#<000001>`            |
 * | `EVENT#<iso time>#<eventId>`      | `EVENT`         | -                                                                     |
 * | `INCIDENT#<alarmName>#<openedAt>` | `INCIDENT`      | `INCIDENT_STATUS#OPEN` or `#RESOLVED` / `<openedAt or resolvedAt>#<model>#<alarmName>` |
 * | `OPEN_INCIDENT#<alarmName>`       | `OPEN_INCIDENT` | - (guard: exists iff the alarm has an open incident)                  |
 * | `RETRAIN#<requestId>`             | `RETRAIN`       | - (a retrain request: the version it made, so a retry makes none)     |
 * | `OUTBOX#<at>#<eventId>`           | `OUTBOX`        | `OUTBOX` / `<at>#<model>#<eventId>` (until delivered)                 |
 *
 * Domain records are stored as plain attributes next to the keys and read back without them. The
 * model item's GSI keys are written with `if_not_exists` by every write that can create it
 * (`ensureModel`), so a model is listed from its first write on; a model item written before the
 * fleet index existed is listed once any of those writes touches it again (every ingest does).
 * An incident id is `<alarmName>@<openedAt>` (`incidentIdOf` in the domain): `getIncident` and
 * `recordIncidentAction` find the item from it with one GetItem / Update, no Query.
 *
 * Every state change is a conditional write or a `TransactWriteItems` whose conditions DynamoDB
 * evaluates: nothing about the stored state is checked in memory. A transition and its audit line
 * are written in the same transaction, so an audit line exists iff the transition happened; so is
 * the notification the audit line carries (the outbox item, last in the transaction), so a
 * notification exists iff its change happened, and a duplicate event writes none. The outbox
 * items of a model sit in its partition (a flush after an event reads them with one strongly
 * consistent Query); the `OUTBOX` partition of the GSI lists them across the fleet, oldest first,
 * for the reconciler (one Query, no Scan; a single GSI partition is plenty at notification rates,
 * and an item leaves it once delivered). A
 * cancelled transaction whose cancellation reasons contain `ConditionalCheckFailed` on the guarded
 * item is the `false` of the port; `TransactionConflict` (another transaction on the same items at
 * that moment) is retried. Any other error propagates as a {@link RegistryStoreError} with the SDK
 * error as `cause`, so the handler lets the event source retry.
 *
 * The status machine (`VERSION_TRANSITIONS` in the domain) is enforced here: a request for a
 * transition it does not list throws `ForbiddenTransitionError` before anything is sent, and the
 * version's condition is `#status IN (...)` over the requested sources the machine allows for the
 * target.
 *
 * Each transaction carries a `ClientRequestToken`, the same on every send of that transaction, so
 * a send whose response was lost and is sent again is answered by what DynamoDB did the first time
 * rather than by a condition failure (see `transact` below).
 *
 * The fleet queries (`listModels`, `listVersionsByStatus`, `listOpenIncidents`, `listPendingNotificationsBefore`)
 * read the GSI, which on AWS is eventually consistent (DynamoDB Local is immediate); every other
 * read is strongly consistent.
 */
import { randomUUID } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
  type QueryCommandInput,
  type TranslateConfig,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
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
} from './table-layout';

/**
 * How the document client must be created for this store: `undefined` fields of the domain records
 * are dropped (the store strips them itself too, so a client created otherwise still works).
 */
export const DOCUMENT_CLIENT_CONFIG: TranslateConfig = {
  marshallOptions: { removeUndefinedValues: true, convertEmptyValues: false },
  unmarshallOptions: { wrapNumbers: false },
};

/** Builds the store on a low-level client, wrapping it in a correctly configured document client. */
export function createRegistryStore(
  client: DynamoDBClient,
  tableName: string,
  options?: DynamoDbRegistryStoreOptions,
): DynamoDbRegistryStore {
  return new DynamoDbRegistryStore(
    DynamoDBDocumentClient.from(client, DOCUMENT_CLIENT_CONFIG),
    tableName,
    options,
  );
}

/** Tuning of {@link DynamoDbRegistryStore}: retries and Query page size. */
export interface DynamoDbRegistryStoreOptions {
  /**
   * Attempts for operations that retry on a concurrent change (version counter taken by another
   * registration, `TransactionConflict`, a guard item that moved), and sends of one transaction
   * whose outcome is unknown (response lost, server error, `TransactionInProgressException`).
   * @default 10
   */
  readonly maxAttempts?: number;
  /**
   * `Limit` of each Query page. Leave unset in production (DynamoDB pages at 1 MB); tests set a
   * small value to exercise pagination.
   * @default undefined
   */
  readonly pageSize?: number;
}

// The error and the keys are shared with the in-memory twin (adapters/memory): re-exported here,
// where the store's callers have always imported them.
export { RegistryStoreError, registryKeys, type RegistryStoreErrorCode } from './table-layout';

const { partitionKey: PK, sortKey: SK, statusIndex } = REGISTRY_TABLE_LAYOUT;
const GSI_PK = statusIndex.partitionKey;
const GSI_SK = statusIndex.sortKey;
const { entity: ENTITY, incidentSk: INCIDENT_SK_ATTRIBUTE, claimedUntil: CLAIMED_UNTIL } = ITEM_ATTRIBUTES;

type Item = Record<string, unknown>;
type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];
type Key = Record<string, string>;

/** Builds expression attribute names and values with placeholders (no reserved-word surprises). */
class Expression {
  readonly names: Record<string, string> = {};
  readonly values: Record<string, unknown> = {};
  private nameCount = 0;
  private valueCount = 0;
  private readonly nameOf = new Map<string, string>();

  name(attribute: string): string {
    let placeholder = this.nameOf.get(attribute);
    if (!placeholder) {
      placeholder = `#n${this.nameCount++}`;
      this.nameOf.set(attribute, placeholder);
      this.names[placeholder] = attribute;
    }
    return placeholder;
  }

  value(value: unknown): string {
    const placeholder = `:v${this.valueCount++}`;
    this.values[placeholder] = stripUndefined(value);
    return placeholder;
  }

  /** `#a = :v` for each entry whose value is defined. */
  assignments(values: Record<string, unknown>): string[] {
    return Object.entries(values)
      .filter(([, value]) => value !== undefined)
      .map(([attribute, value]) => `${this.name(attribute)} = ${this.value(value)}`);
  }

  attributes(): {
    ExpressionAttributeNames?: Record<string, string>;
    ExpressionAttributeValues?: Record<string, unknown>;
  } {
    return {
      ...(Object.keys(this.names).length > 0 ? { ExpressionAttributeNames: this.names } : {}),
      ...(Object.keys(this.values).length > 0 ? { ExpressionAttributeValues: this.values } : {}),
    };
  }
}

interface UpdateSpec {
  readonly Key: Key;
  readonly UpdateExpression: string;
  readonly ConditionExpression?: string;
  readonly ExpressionAttributeNames?: Record<string, string>;
  readonly ExpressionAttributeValues?: Record<string, unknown>;
}

/** Outcome of a transaction: done, or cancelled by the conditions of the flagged items. */
type TransactOutcome =
  { readonly ok: true } | { readonly ok: false; readonly conditionFailed: readonly boolean[] };

/**
 * What one attempt of a retried operation came to ({@link DynamoDbRegistryStore.retrying}): its
 * result, or another attempt, with the error to throw when that attempt was the last one allowed.
 */
type Attempt<T> =
  | { readonly done: true; readonly value: T }
  | { readonly done: false; readonly giveUp: (attempts: number) => RegistryStoreError };

function done<T>(value: T): Attempt<T> {
  return { done: true, value };
}

function again<T>(giveUp: (attempts: number) => RegistryStoreError): Attempt<T> {
  return { done: false, giveUp };
}

/** The RegistryStore port on one DynamoDB table. */
export class DynamoDbRegistryStore implements RegistryStore {
  private readonly maxAttempts: number;
  private readonly pageSize: number | undefined;

  /**
   * @param client a document client; create it with {@link DOCUMENT_CLIENT_CONFIG} (or use
   *   {@link createRegistryStore}). Injected so tests and the local cloud point it at DynamoDB Local.
   * @param tableName the registry table (layout: {@link REGISTRY_TABLE_LAYOUT}).
   */
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    options: DynamoDbRegistryStoreOptions = {},
  ) {
    this.maxAttempts = Math.max(1, options.maxAttempts ?? 10);
    this.pageSize = options.pageSize;
  }

  // ---------------------------------------------------------------- models

  async getModel(model: string): Promise<ModelRecord | undefined> {
    return this.getRecord<ModelRecord>('getModel', this.modelKey(model));
  }

  /** The GSI's `MODEL` partition, by model name, page after page. */
  async listModels(): Promise<ModelRecord[]> {
    return this.queryIndex<ModelRecord>('listModels', registryKeys.modelsGsiPk);
  }

  async saveModelConfig(model: string, config: ModelConfig, at: string): Promise<void> {
    const expression = new Expression();
    const set = [
      ...this.ensureModel(expression, model, at),
      ...expression.assignments({ config, updatedAt: at }),
    ];
    await this.update('saveModelConfig', {
      Key: this.modelKey(model),
      UpdateExpression: `SET ${set.join(', ')}`,
      ...expression.attributes(),
    });
  }

  async recordModelRejection(
    model: string,
    rejection: { code: string; reason: string; source: string },
    audit: AuditEvent,
  ): Promise<void> {
    const expression = new Expression();
    const lastRejection = {
      code: rejection.code,
      reason: rejection.reason,
      at: audit.at,
      source: rejection.source,
    };
    const set = [
      ...this.ensureModel(expression, model, audit.at),
      ...expression.assignments({ lastRejection, updatedAt: audit.at }),
    ];
    const outcome = await this.transact('recordModelRejection', [
      this.updateItem({
        Key: this.modelKey(model),
        UpdateExpression: `SET ${set.join(', ')}`,
        ...expression.attributes(),
      }),
      this.auditPut(audit),
    ]);
    if (!outcome.ok)
      throw new RegistryStoreError(
        'INCONSISTENT',
        'recordModelRejection',
        `unexpected condition failure for model "${model}"`,
      );
  }

  async markAlarmsCreated(model: string, at: string): Promise<void> {
    const expression = new Expression();
    const alarms = expression.name('alarmsCreated');
    const yes = expression.value(true);
    const set = [
      ...this.ensureModel(expression, model, at),
      `${alarms} = ${yes}`,
      ...expression.assignments({ updatedAt: at }),
    ];
    // Idempotent: a second call is a condition failure and changes nothing (not even updatedAt).
    await this.update(
      'markAlarmsCreated',
      {
        Key: this.modelKey(model),
        UpdateExpression: `SET ${set.join(', ')}`,
        ConditionExpression: `attribute_not_exists(${alarms}) OR ${alarms} <> ${yes}`,
        ...expression.attributes(),
      },
      { ignoreConditionFailure: true },
    );
  }

  // ---------------------------------------------------------------- datasets and versions

  async getDataset(model: string, datasetId: string): Promise<DatasetRecord | undefined> {
    return this.getRecord<DatasetRecord>('getDataset', this.key(model, registryKeys.datasetSk(datasetId)));
  }

  async listDatasets(model: string): Promise<DatasetRecord[]> {
    return this.queryPrefix<DatasetRecord>('listDatasets', model, 'DATASET#');
  }

  async recordRejectedDataset(dataset: DatasetRecord, audit: NotifyingAuditEvent): Promise<boolean> {
    const outcome = await this.transact('recordRejectedDataset', [
      {
        Put: {
          TableName: this.tableName,
          Item: this.datasetItem(dataset),
          ConditionExpression: `attribute_not_exists(${PK})`,
        },
      },
      ...this.auditPuts(audit),
    ]);
    return outcome.ok;
  }

  /**
   * Reads the model's counter, then in one transaction: puts the dataset (if absent), moves the
   * counter from the value read to the next one (creating the model item if needed), puts the
   * version and its audit line. A cancelled transaction is decided by its cancellation reasons:
   * the dataset exists → `created: false` with the version it produced (undefined for a rejected
   * dataset); only the counter moved (a concurrent registration) → read again and retry, at most
   * `maxAttempts` times with jittered backoff, then a `CONFLICT` error.
   */
  async registerDatasetAndVersion(
    request: NewVersion,
  ): Promise<{ created: boolean; version: VersionRecord | undefined }> {
    const operation = 'registerDatasetAndVersion';
    const { dataset } = request;
    const model = dataset.model;
    return this.retrying(async () => {
      const modelItem = await this.getItem(operation, this.modelKey(model));
      const counter = modelItem?.versionCounter;
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

      const expression = new Expression();
      const counterName = expression.name('versionCounter');
      const nextValue = expression.value(next);
      const set = [
        `${counterName} = ${nextValue}`,
        ...this.ensureModel(expression, model, version.createdAt, { withCounter: false }),
        ...expression.assignments({ updatedAt: version.createdAt }),
        // The first accepted dataset becomes the data-quality baseline; never overwritten.
        ...(request.baselineDatasetId
          ? [
              `${expression.name('baselineDatasetId')} = if_not_exists(${expression.name('baselineDatasetId')}, ${expression.value(request.baselineDatasetId)})`,
            ]
          : []),
      ];
      const condition = `attribute_not_exists(${counterName}) OR ${counterName} = ${expression.value(current)}`;

      const outcome = await this.transact(operation, [
        {
          Put: {
            TableName: this.tableName,
            Item: this.datasetItem({ ...dataset, version: next }),
            ConditionExpression: `attribute_not_exists(${PK})`,
          },
        },
        this.updateItem({
          Key: this.modelKey(model),
          UpdateExpression: `SET ${set.join(', ')}`,
          ConditionExpression: condition,
          ...expression.attributes(),
        }),
        {
          Put: {
            TableName: this.tableName,
            Item: this.versionItem(version),
            ConditionExpression: `attribute_not_exists(${PK})`,
          },
        },
        this.auditPut({ ...request.audit, version: next }),
      ]);
      if (outcome.ok) return done({ created: true, version });

      const [datasetExists, counterMoved, versionExists] = outcome.conditionFailed;
      if (datasetExists) {
        const existing = await this.getDataset(model, dataset.datasetId);
        if (existing) {
          return done({
            created: false,
            version:
              existing.version === undefined ? undefined : await this.getVersion(model, existing.version),
          });
        }
        // The dataset vanished between the cancellation and the read (never written by the store): retry.
      } else if (!counterMoved && versionExists) {
        throw new RegistryStoreError(
          'INCONSISTENT',
          operation,
          `version ${next} of "${model}" exists but the model's counter is ${current}`,
        );
      }
      return again(
        (attempts) =>
          new RegistryStoreError(
            'CONFLICT',
            operation,
            `gave up on "${model}" after ${attempts} attempts: concurrent registrations kept taking the next version`,
          ),
      );
    });
  }

  /**
   * Reads the model's counter, then in one transaction: puts the request item `RETRAIN#<requestId>`
   * (if absent) naming the version, moves the counter from the value read to the next one (the model
   * must exist), checks the dataset is ACCEPTED, puts the version (if absent) and its audit line.
   * Cancelled: the request exists → `created: false` with the version it made; the dataset check
   * failed → `INVALID_REQUEST`; only the counter moved → read again and retry (bounded, `CONFLICT`).
   */
  async registerRetrainVersion(
    request: NewRetrainVersion,
  ): Promise<{ created: boolean; version: VersionRecord | undefined }> {
    const operation = 'registerRetrainVersion';
    const { model, datasetId, requestId } = request;
    const requestKey = this.key(model, registryKeys.retrainSk(requestId));
    return this.retrying(async () => {
      const modelItem = await this.getItem(operation, this.modelKey(model));
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
      const counterExpression = new Expression();
      const counterName = counterExpression.name('versionCounter');
      const datasetExpression = new Expression();
      const outcome = await this.transact(operation, [
        {
          Put: {
            TableName: this.tableName,
            Item: {
              ...requestKey,
              [ENTITY]: 'RETRAIN',
              model,
              requestId,
              datasetId,
              version: next,
              createdAt: version.createdAt,
            },
            ConditionExpression: `attribute_not_exists(${PK})`,
          },
        },
        this.updateItem({
          Key: this.modelKey(model),
          UpdateExpression: `SET ${[`${counterName} = ${counterExpression.value(next)}`, ...counterExpression.assignments({ updatedAt: version.createdAt })].join(', ')}`,
          ConditionExpression: `attribute_exists(${PK}) AND (attribute_not_exists(${counterName}) OR ${counterName} = ${counterExpression.value(current)})`,
          ...counterExpression.attributes(),
        }),
        {
          ConditionCheck: {
            TableName: this.tableName,
            Key: this.key(model, registryKeys.datasetSk(datasetId)),
            ConditionExpression: `${datasetExpression.name('status')} = ${datasetExpression.value('ACCEPTED')}`,
            ...datasetExpression.attributes(),
          },
        },
        {
          Put: {
            TableName: this.tableName,
            Item: this.versionItem(version),
            ConditionExpression: `attribute_not_exists(${PK})`,
          },
        },
        this.auditPut({ ...request.audit, version: next }),
      ]);
      if (outcome.ok) return done({ created: true, version });

      const [requestSeen, counterMoved, datasetRefused, versionExists] = outcome.conditionFailed;
      if (requestSeen) {
        const seen = await this.getItem(operation, requestKey);
        if (seen && typeof seen.version === 'number')
          return done({ created: false, version: await this.getVersion(model, seen.version) });
        // The request item vanished between the cancellation and the read (never deleted): retry.
      } else if (datasetRefused) {
        throw new RegistryStoreError(
          'INVALID_REQUEST',
          operation,
          `dataset "${datasetId}" is not an accepted dataset of "${model}"`,
        );
      } else if (!counterMoved && versionExists) {
        throw new RegistryStoreError(
          'INCONSISTENT',
          operation,
          `version ${next} of "${model}" exists but the model's counter is ${current}`,
        );
      }
      return again(
        (attempts) =>
          new RegistryStoreError(
            'CONFLICT',
            operation,
            `gave up on "${model}" after ${attempts} attempts: concurrent registrations kept taking the next version`,
          ),
      );
    });
  }

  async getVersion(model: string, version: number): Promise<VersionRecord | undefined> {
    return this.getRecord<VersionRecord>('getVersion', this.key(model, registryKeys.versionSk(version)));
  }

  async listVersions(model: string): Promise<VersionRecord[]> {
    return this.queryPrefix<VersionRecord>('listVersions', model, 'VERSION#');
  }

  async listVersionsByStatus(status: VersionStatus): Promise<VersionRecord[]> {
    return this.queryIndex<VersionRecord>('listVersionsByStatus', registryKeys.versionStatusPk(status));
  }

  async transitionVersion(request: TransitionRequest): Promise<boolean> {
    if (request.from.length === 0) return false;
    const outcome = await this.transact('transitionVersion', [
      this.updateItem(this.transitionSpec(request)),
      ...this.auditPuts(request.audit),
    ]);
    return outcome.ok;
  }

  /**
   * One transaction: the version `from -> DEPLOYING`; the model's challenger set to it on condition
   * that the model exists and its challenger is absent or already this version (the rollout lock:
   * without this condition two rollouts of one model could both take it); the audit line.
   *
   * False, nothing written, when the version is not in `from` (a repeat by the holder is that:
   * it is DEPLOYING already) or when another version holds the lock. The cancellation does not say
   * which part of the model's condition failed, so the model item is read after it: absent is
   * `INCONSISTENT`; a challenger that is neither absent nor this version is the lost race; no
   * challenger (released between the write and the read) → the transaction again, bounded.
   */
  async startDeployment(request: TransitionRequest): Promise<boolean> {
    const operation = 'startDeployment';
    if (request.to !== 'DEPLOYING')
      throw new RegistryStoreError(
        'INVALID_REQUEST',
        operation,
        `a rollout moves a version to DEPLOYING, not ${request.to}`,
      );
    if (request.from.length === 0) return false;
    const modelKey = this.modelKey(request.model);
    return this.retrying(async () => {
      const expression = new Expression();
      const challenger = expression.name('challenger');
      const self = expression.value(request.version);
      const set = [
        `${challenger} = ${self}`,
        ...expression.assignments({ updatedAt: this.updatedAt(request) }),
      ];
      const outcome = await this.transact(operation, [
        this.updateItem(this.transitionSpec(request)),
        this.updateItem({
          Key: modelKey,
          UpdateExpression: `SET ${set.join(', ')}`,
          ConditionExpression: `attribute_exists(${PK}) AND (attribute_not_exists(${challenger}) OR ${challenger} = ${self})`,
          ...expression.attributes(),
        }),
        ...this.auditPuts(request.audit),
      ]);
      if (outcome.ok) return done(true);
      if (outcome.conditionFailed[0]) return done(false);
      const modelItem = await this.getItem(operation, modelKey);
      if (!modelItem)
        throw new RegistryStoreError(
          'INCONSISTENT',
          operation,
          `version ${request.version} of "${request.model}" exists but its model item does not`,
        );
      // Another rollout holds the lock: refused like any transition whose condition fails.
      if (modelItem.challenger !== undefined && modelItem.challenger !== request.version) return done(false);
      return again(
        (attempts) =>
          new RegistryStoreError(
            'CONFLICT',
            operation,
            `gave up on "${request.model}" after ${attempts} attempts: its challenger kept changing`,
          ),
      );
    });
  }

  /**
   * One transaction: the version `DEPLOYING -> PRODUCTION`; the model's champion moves to it (on
   * condition that the champion is still `previousChampion`, or absent when none is given) and its
   * challenger is cleared; the previous champion `PRODUCTION -> ARCHIVED` with its own audit line
   * (`eventId` = `<audit.eventId>#archive`, type `VERSION_ARCHIVED`); the promotion's audit line.
   *
   * Returns false when the version is not DEPLOYING (a duplicated or late event), and also when the
   * champion moved meanwhile or the previous champion is no longer PRODUCTION (a concurrent
   * promotion won): nothing is written then; the caller can re-read the model and decide again.
   */
  async promote(request: {
    model: string;
    version: number;
    previousChampion?: number;
    at: string;
    audit: NotifyingAuditEvent;
  }): Promise<boolean> {
    const { model, version, previousChampion, at, audit } = request;
    const items: TransactItem[] = [
      this.updateItem(
        this.transitionSpec({
          model,
          version,
          from: ['DEPLOYING'],
          to: 'PRODUCTION',
          set: { updatedAt: at },
          audit,
        }),
      ),
    ];

    const expression = new Expression();
    const champion = expression.name('champion');
    const set = [`${champion} = ${expression.value(version)}`, ...expression.assignments({ updatedAt: at })];
    const championCondition =
      previousChampion === undefined
        ? `attribute_not_exists(${champion})`
        : `(attribute_not_exists(${champion}) OR ${champion} = ${expression.value(previousChampion)})`;
    items.push(
      this.updateItem({
        Key: this.modelKey(model),
        UpdateExpression: `SET ${set.join(', ')} REMOVE ${expression.name('challenger')}`,
        ConditionExpression: `attribute_exists(${PK}) AND ${championCondition}`,
        ...expression.attributes(),
      }),
      this.auditPut(audit),
    );

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
      items.push(
        this.updateItem(
          this.transitionSpec({
            model,
            version: previousChampion,
            from: ['PRODUCTION'],
            to: 'ARCHIVED',
            set: { updatedAt: at },
            audit: archiveAudit,
          }),
        ),
        this.auditPut(archiveAudit),
      );
    }
    // The notification last: the items before it keep their places in the cancellation reasons.
    items.push(...this.outboxPuts(audit));
    const outcome = await this.transact('promote', items);
    return outcome.ok;
  }

  /**
   * One transaction: the version `from -> to` (to is DEPLOY_FAILED or ROLLED_BACK), the model's
   * challenger cleared when it is this version (guarded by a condition; when another version is the
   * challenger it is left alone, checked by a ConditionCheck), the audit line. The champion is
   * never touched. False when the version is not in `from`.
   */
  async endFailedDeployment(request: TransitionRequest): Promise<boolean> {
    const operation = 'endFailedDeployment';
    if (request.to !== 'DEPLOY_FAILED' && request.to !== 'ROLLED_BACK') {
      throw new RegistryStoreError(
        'INVALID_REQUEST',
        operation,
        `a failed rollout ends in DEPLOY_FAILED or ROLLED_BACK, not ${request.to}`,
      );
    }
    if (request.from.length === 0) return false;
    const modelKey = this.modelKey(request.model);
    return this.retrying(async () => {
      const modelItem = await this.getItem(operation, modelKey);
      const expression = new Expression();
      const challenger = expression.name('challenger');
      const self = expression.value(request.version);
      const modelOperation: TransactItem =
        modelItem?.challenger === request.version
          ? this.updateItem({
              Key: modelKey,
              UpdateExpression: `SET ${expression.assignments({ updatedAt: this.updatedAt(request) }).join(', ')} REMOVE ${challenger}`,
              ConditionExpression: `${challenger} = ${self}`,
              ...expression.attributes(),
            })
          : {
              ConditionCheck: {
                TableName: this.tableName,
                Key: modelKey,
                ConditionExpression: `attribute_not_exists(${challenger}) OR ${challenger} <> ${self}`,
                ...expression.attributes(),
              },
            };
      const outcome = await this.transact(operation, [
        this.updateItem(this.transitionSpec(request)),
        modelOperation,
        ...this.auditPuts(request.audit),
      ]);
      if (outcome.ok) return done(true);
      if (outcome.conditionFailed[0]) return done(false);
      // Only the challenger changed between the read and the write: read again.
      return again(
        (attempts) =>
          new RegistryStoreError(
            'CONFLICT',
            operation,
            `gave up on "${request.model}" after ${attempts} attempts: its challenger kept changing`,
          ),
      );
    });
  }

  // ---------------------------------------------------------------- audit

  async appendAudit(event: AuditEvent): Promise<void> {
    await this.put('appendAudit', this.auditItem(event), `attribute_not_exists(${PK})`, {
      ignoreConditionFailure: true,
    });
  }

  async listAudit(model: string): Promise<AuditEvent[]> {
    return this.queryPrefix<AuditEvent>('listAudit', model, 'EVENT#');
  }

  // ---------------------------------------------------------------- incidents

  /**
   * One transaction: a guard item `OPEN_INCIDENT#<alarmName>` (absent), the incident (absent, so a
   * late duplicate of an incident already resolved does not reopen it) and the audit line. False
   * when either exists.
   */
  async openIncident(incident: IncidentRecord, audit: NotifyingAuditEvent): Promise<boolean> {
    const { model, alarmName, openedAt } = incident;
    const incidentSk = registryKeys.incidentSk(alarmName, openedAt);
    const guard: Item = {
      ...this.key(model, registryKeys.openIncidentSk(alarmName)),
      [ENTITY]: 'OPEN_INCIDENT',
      model,
      alarmName,
      incidentId: incident.incidentId,
      openedAt,
      [INCIDENT_SK_ATTRIBUTE]: incidentSk,
    };
    const item: Item = {
      ...stripUndefined({ ...incident, status: 'OPEN', resolvedAt: undefined }),
      ...this.key(model, incidentSk),
      [ENTITY]: 'INCIDENT',
      [GSI_PK]: registryKeys.incidentStatusPk('OPEN'),
      [GSI_SK]: registryKeys.incidentStatusSk(openedAt, model, alarmName),
    };
    const notExists = `attribute_not_exists(${PK})`;
    const outcome = await this.transact('openIncident', [
      { Put: { TableName: this.tableName, Item: guard, ConditionExpression: notExists } },
      { Put: { TableName: this.tableName, Item: item, ConditionExpression: notExists } },
      ...this.auditPuts(audit),
    ]);
    return outcome.ok;
  }

  /**
   * Reads the guard to find the open incident, then one transaction: deletes the guard (on
   * condition it still names that incident), sets the incident RESOLVED with `resolvedAt` and
   * `timeToRecoverSeconds` (from the guard's `openedAt`), moving
   * it to `INCIDENT_STATUS#RESOLVED` on the GSI), writes the audit line. False when no incident of
   * the alarm is open.
   */
  async resolveIncident(
    model: string,
    alarmName: string,
    at: string,
    audit: NotifyingAuditEvent,
  ): Promise<boolean> {
    const operation = 'resolveIncident';
    const guardKey = this.key(model, registryKeys.openIncidentSk(alarmName));
    return this.retrying(async () => {
      const guard = await this.getItem(operation, guardKey);
      const incidentSk = guard?.[INCIDENT_SK_ATTRIBUTE];
      if (typeof incidentSk !== 'string') return done(false);

      const guardExpression = new Expression();
      const incidentExpression = new Expression();
      const status = incidentExpression.name('status');
      const set = incidentExpression.assignments({
        status: 'RESOLVED',
        resolvedAt: at,
        timeToRecoverSeconds: secondsBetween(guard?.openedAt, at),
        [GSI_PK]: registryKeys.incidentStatusPk('RESOLVED'),
        [GSI_SK]: registryKeys.incidentStatusSk(at, model, alarmName),
      });
      const outcome = await this.transact(operation, [
        {
          Delete: {
            TableName: this.tableName,
            Key: guardKey,
            ConditionExpression: `${guardExpression.name(INCIDENT_SK_ATTRIBUTE)} = ${guardExpression.value(incidentSk)}`,
            ...guardExpression.attributes(),
          },
        },
        this.updateItem({
          Key: this.key(model, incidentSk),
          UpdateExpression: `SET ${set.join(', ')}`,
          ConditionExpression: `${status} = ${incidentExpression.value('OPEN')}`,
          ...incidentExpression.attributes(),
        }),
        ...this.auditPuts(audit),
      ]);
      if (outcome.ok) return done(true);
      if (!outcome.conditionFailed[0]) {
        throw new RegistryStoreError(
          'INCONSISTENT',
          operation,
          `the guard of "${alarmName}" (${model}) names ${incidentSk}, which is not OPEN`,
        );
      }
      // The guard went away (resolved concurrently) or names a newer incident: read again.
      return again(
        (attempts) =>
          new RegistryStoreError(
            'CONFLICT',
            operation,
            `gave up on "${alarmName}" (${model}) after ${attempts} attempts`,
          ),
      );
    });
  }

  /** Incidents of a model, newest first (by `openedAt`). */
  async listIncidents(model: string): Promise<IncidentRecord[]> {
    const incidents = await this.queryPrefix<IncidentRecord>('listIncidents', model, 'INCIDENT#');
    return incidents.sort((a, b) => compare(b.openedAt, a.openedAt) || compare(a.alarmName, b.alarmName));
  }

  async getIncident(model: string, incidentId: string): Promise<IncidentRecord | undefined> {
    const id = parseIncidentId(incidentId);
    if (!id) return undefined;
    const incident = await this.getRecord<IncidentRecord>(
      'getIncident',
      this.key(model, registryKeys.incidentSk(id.alarmName, id.openedAt)),
    );
    return incident?.incidentId === incidentId ? incident : undefined;
  }

  /**
   * One transaction: the incident's `action` set on condition (OPEN with no action, or the action
   * still `expected`); with `cooldownSince`, the model's `lastAutomaticActionAt` set to the action's
   * time on condition it is absent or not later than `cooldownSince`; the audit line (and its
   * notification). Which condition failed says `conflict` or `cooling-down`.
   */
  async recordIncidentAction(
    model: string,
    incidentId: string,
    action: IncidentAction,
    audit: NotifyingAuditEvent,
    options: { readonly expected?: IncidentAction; readonly cooldownSince?: string } = {},
  ): Promise<IncidentActionWrite> {
    const operation = 'recordIncidentAction';
    const id = parseIncidentId(incidentId);
    if (!id) return 'conflict';
    const incident = new Expression();
    const actionName = incident.name('action');
    const field = (name: string): string => `${actionName}.${incident.name(name)}`;
    const { expected } = options;
    const condition = expected
      ? [
          `${field('kind')} = ${incident.value(expected.kind)}`,
          `${field('status')} = ${incident.value(expected.status)}`,
          `${field('at')} = ${incident.value(expected.at)}`,
          `${field('detail')} = ${incident.value(expected.detail)}`,
          expected.version === undefined
            ? `attribute_not_exists(${field('version')})`
            : `${field('version')} = ${incident.value(expected.version)}`,
        ].join(' AND ')
      : `${incident.name('status')} = ${incident.value('OPEN')} AND attribute_not_exists(${actionName})`;
    const items: TransactItem[] = [
      this.updateItem({
        Key: this.key(model, registryKeys.incidentSk(id.alarmName, id.openedAt)),
        UpdateExpression: `SET ${actionName} = ${incident.value(action)}`,
        ConditionExpression: `attribute_exists(${PK}) AND ${incident.name('incidentId')} = ${incident.value(incidentId)} AND ${condition}`,
        ...incident.attributes(),
      }),
    ];
    if (options.cooldownSince !== undefined) {
      const claim = new Expression();
      const last = claim.name('lastAutomaticActionAt');
      items.push(
        this.updateItem({
          Key: this.modelKey(model),
          UpdateExpression: `SET ${last} = ${claim.value(action.at)}`,
          // ISO 8601 times in UTC compare as strings.
          ConditionExpression: `attribute_exists(${PK}) AND (attribute_not_exists(${last}) OR ${last} <= ${claim.value(options.cooldownSince)})`,
          ...claim.attributes(),
        }),
      );
    }
    items.push(...this.auditPuts(audit));
    const outcome = await this.transact(operation, items);
    if (outcome.ok) return 'recorded';
    return outcome.conditionFailed[0] ? 'conflict' : 'cooling-down';
  }

  /** Open incidents across the fleet, oldest first. */
  async listOpenIncidents(): Promise<IncidentRecord[]> {
    return this.queryIndex<IncidentRecord>('listOpenIncidents', registryKeys.incidentStatusPk('OPEN'));
  }

  // ---------------------------------------------------------------- notification outbox

  /** The model's outbox items, oldest first (their sort keys start with the change's time). */
  async listPendingNotifications(model: string): Promise<PendingNotification[]> {
    return this.queryPrefix<PendingNotification>('listPendingNotifications', model, 'OUTBOX#');
  }

  /** The GSI's `OUTBOX` partition up to `createdBefore` (its sort keys start with the change's time). */
  async listPendingNotificationsBefore(createdBefore: string): Promise<PendingNotification[]> {
    return this.queryAll<PendingNotification>('listPendingNotificationsBefore', {
      TableName: this.tableName,
      IndexName: statusIndex.name,
      KeyConditionExpression: '#pk = :pk AND #sk < :before',
      ExpressionAttributeNames: { '#pk': GSI_PK, '#sk': GSI_SK },
      ExpressionAttributeValues: { ':pk': registryKeys.outboxPk, ':before': createdBefore },
    });
  }

  /** `SET claimedUntil` on condition the item exists and no claim holds it at `now`. */
  async claimNotification(model: string, id: string, now: string, until: string): Promise<boolean> {
    const expression = new Expression();
    const claimed = expression.name(CLAIMED_UNTIL);
    return this.update(
      'claimNotification',
      {
        Key: this.key(model, registryKeys.outboxSk(id)),
        UpdateExpression: `SET ${claimed} = ${expression.value(until)}`,
        // ISO 8601 times in UTC compare as strings.
        ConditionExpression: `attribute_exists(${expression.name(PK)}) AND (attribute_not_exists(${claimed}) OR ${claimed} < ${expression.value(now)})`,
        ...expression.attributes(),
      },
      { ignoreConditionFailure: true },
    );
  }

  /** An unconditional delete: whoever sent it, once sent it is done. */
  async completeNotification(model: string, id: string): Promise<void> {
    try {
      await this.client.send(
        new DeleteCommand({ TableName: this.tableName, Key: this.key(model, registryKeys.outboxSk(id)) }),
      );
    } catch (error) {
      throw sdkError('completeNotification', error);
    }
  }

  /** `REMOVE claimedUntil` on condition it is still `until` (the claim of the caller). */
  async releaseNotification(model: string, id: string, until: string): Promise<void> {
    const expression = new Expression();
    const claimed = expression.name(CLAIMED_UNTIL);
    await this.update(
      'releaseNotification',
      {
        Key: this.key(model, registryKeys.outboxSk(id)),
        UpdateExpression: `REMOVE ${claimed}`,
        ConditionExpression: `${claimed} = ${expression.value(until)}`,
        ...expression.attributes(),
      },
      { ignoreConditionFailure: true },
    );
  }

  // ---------------------------------------------------------------- items

  private key(model: string, sk: string): Key {
    return { [PK]: registryKeys.pk(model), [SK]: sk };
  }

  private modelKey(model: string): Key {
    return this.key(model, registryKeys.modelSk);
  }

  /** SET clauses creating the model item's invariant attributes when absent. */
  private ensureModel(
    expression: Expression,
    model: string,
    at: string,
    options: { withCounter?: boolean } = {},
  ): string[] {
    const ifAbsent = (attribute: string, value: unknown): string =>
      `${expression.name(attribute)} = if_not_exists(${expression.name(attribute)}, ${expression.value(value)})`;
    return [
      ifAbsent(ENTITY, 'MODEL'),
      ifAbsent('model', model),
      ifAbsent('createdAt', at),
      // The fleet listing (listModels): on the item from its first write.
      ifAbsent(GSI_PK, registryKeys.modelsGsiPk),
      ifAbsent(GSI_SK, registryKeys.modelsGsiSk(model)),
      ...(options.withCounter === false ? [] : [ifAbsent('versionCounter', 0)]),
    ];
  }

  private datasetItem(dataset: DatasetRecord): Item {
    return {
      ...stripUndefined(dataset),
      ...this.key(dataset.model, registryKeys.datasetSk(dataset.datasetId)),
      [ENTITY]: 'DATASET',
    };
  }

  private versionItem(version: VersionRecord): Item {
    return {
      ...stripUndefined(version),
      ...this.key(version.model, registryKeys.versionSk(version.version)),
      [ENTITY]: 'VERSION',
      [GSI_PK]: registryKeys.versionStatusPk(version.status),
      [GSI_SK]: registryKeys.versionStatusSk(version.updatedAt, version.model, version.version),
    };
  }

  /** The audit line as stored: without the notification it may carry (that goes to the outbox). */
  private auditItem(event: NotifyingAuditEvent): Item {
    return {
      ...stripUndefined({ ...event, notification: undefined }),
      ...this.key(event.model, registryKeys.eventSk(event.at, event.eventId)),
      [ENTITY]: 'EVENT',
    };
  }

  /** An audit line inside a transaction: unconditional, so a replay of the same line is harmless. */
  private auditPut(event: AuditEvent): TransactItem {
    return { Put: { TableName: this.tableName, Item: this.auditItem(event) } };
  }

  /** The audit line and, after it, the outbox item of its notification (if any). */
  private auditPuts(event: NotifyingAuditEvent): TransactItem[] {
    return [this.auditPut(event), ...this.outboxPuts(event)];
  }

  /**
   * The outbox item of the audit line's notification, if any. Unconditional like the audit line:
   * the change's own condition is what makes it written once (a refused change cancels the whole
   * transaction), and a re-send of the same transaction is answered by its token.
   */
  private outboxPuts(event: NotifyingAuditEvent): TransactItem[] {
    const { notification } = event;
    if (!notification) return [];
    const id = registryKeys.outboxId(event.at, event.eventId);
    const pending: PendingNotification = {
      id,
      model: event.model,
      notification: stripUndefined({ ...notification, id: undefined }),
      createdAt: event.at,
    };
    const item: Item = {
      ...pending,
      ...this.key(event.model, registryKeys.outboxSk(id)),
      [ENTITY]: 'OUTBOX',
      [GSI_PK]: registryKeys.outboxPk,
      [GSI_SK]: registryKeys.outboxGsiSk(event.at, event.model, event.eventId),
    };
    return [{ Put: { TableName: this.tableName, Item: item } }];
  }

  private updatedAt(request: TransitionRequest): string {
    return request.set?.updatedAt ?? request.audit.at;
  }

  /**
   * The conditional update of a version: status in `from` -> `to`, the GSI keys, `set`. Throws
   * `ForbiddenTransitionError` when the machine does not allow `to` from a status in `from`.
   */
  private transitionSpec(request: TransitionRequest): UpdateSpec {
    assertTransition(request.model, request.version, request.from, request.to);
    const expression = new Expression();
    const updatedAt = this.updatedAt(request);
    const extra: Record<string, unknown> = { ...request.set };
    const protectedAttributes = [
      'model',
      'version',
      'status',
      'createdAt',
      'updatedAt',
      ...LAYOUT_ATTRIBUTES,
    ];
    for (const attribute of protectedAttributes) delete extra[attribute];
    const set = expression.assignments({
      ...extra,
      status: request.to,
      updatedAt,
      [GSI_PK]: registryKeys.versionStatusPk(request.to),
      [GSI_SK]: registryKeys.versionStatusSk(updatedAt, request.model, request.version),
    });
    // An attribute both set and removed is set (DynamoDB refuses one path in two clauses).
    const remove = (request.remove ?? [])
      .filter((attribute) => !protectedAttributes.includes(attribute) && !(attribute in extra))
      .map((attribute) => expression.name(attribute));
    const status = expression.name('status');
    // The sources come from the machine's table (narrowed to the ones the caller expects), so the
    // condition DynamoDB evaluates is the machine itself, not only the caller's belief.
    const from = transitionSources(request.to)
      .filter((state) => request.from.includes(state))
      .map((state) => expression.value(state));
    return {
      Key: this.key(request.model, registryKeys.versionSk(request.version)),
      UpdateExpression: `SET ${set.join(', ')}${remove.length > 0 ? ` REMOVE ${remove.join(', ')}` : ''}`,
      ConditionExpression: `attribute_exists(${PK}) AND ${status} IN (${from.join(', ')})`,
      ...expression.attributes(),
    };
  }

  private updateItem(spec: UpdateSpec): TransactItem {
    return { Update: { TableName: this.tableName, ...spec } };
  }

  // ---------------------------------------------------------------- SDK calls

  private async getItem(operation: string, key: Key): Promise<Item | undefined> {
    try {
      const result = await this.client.send(
        new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true }),
      );
      return result.Item;
    } catch (error) {
      throw sdkError(operation, error);
    }
  }

  private async getRecord<T>(operation: string, key: Key): Promise<T | undefined> {
    const item = await this.getItem(operation, key);
    return item ? toRecord<T>(item) : undefined;
  }

  private async put(
    operation: string,
    item: Item,
    condition: string,
    options: { ignoreConditionFailure: boolean },
  ): Promise<boolean> {
    try {
      await this.client.send(
        new PutCommand({ TableName: this.tableName, Item: item, ConditionExpression: condition }),
      );
      return true;
    } catch (error) {
      if (options.ignoreConditionFailure && errorName(error) === 'ConditionalCheckFailedException')
        return false;
      throw sdkError(operation, error);
    }
  }

  private async update(
    operation: string,
    spec: UpdateSpec,
    options: { ignoreConditionFailure?: boolean } = {},
  ): Promise<boolean> {
    try {
      await this.client.send(new UpdateCommand({ TableName: this.tableName, ...spec }));
      return true;
    } catch (error) {
      if (options.ignoreConditionFailure && errorName(error) === 'ConditionalCheckFailedException')
        return false;
      throw sdkError(operation, error);
    }
  }

  /**
   * Runs a transaction. Cancelled by conditions → which items failed. Cancelled only by
   * `TransactionConflict` → retried (bounded). Outcome unknown (no response, a 5xx,
   * `TransactionInProgressException`) → the same transaction sent again with the same token
   * (bounded). Anything else → {@link RegistryStoreError}.
   *
   * The `ClientRequestToken` makes the sends idempotent: multiple identical calls have the effect
   * of one; a token is valid for 10 minutes after the first request that used it completes; the
   * same token with other parameters fails with IdempotentParameterMismatch; 1 to 36 characters.
   * (DynamoDB API reference, TransactWriteItems, ClientRequestToken:
   * https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html ;
   * the same text in the SDK docs: https://docs.aws.amazon.com/sdk-for-kotlin/api/latest/dynamodb/aws.sdk.kotlin.services.dynamodb.model/-transact-write-items-request/client-request-token.html )
   * So a re-send after a lost response gets the first send's success instead of
   * ConditionalCheckFailed, and a re-send after a cancellation (nothing applied) runs again
   * (both checked against DynamoDB Local).
   *
   * One token per call of this method, random: it is the same on every send of these `items` (the
   * SDK's own retries re-send the serialized request, token included, and this loop reuses it), and
   * it is never given to different items, so IdempotentParameterMismatch cannot happen. It is not
   * derived from the items on purpose: two separate calls with byte-identical items (duplicate
   * events handled in the same millisecond) must stay two transactions, so that the second meets
   * the first one's write and answers `false`; with one token for both, both would answer `true`
   * and the caller's step (a notification) would run twice.
   */
  private async transact(operation: string, items: TransactItem[]): Promise<TransactOutcome> {
    const token = randomUUID(); // 36 characters, the API's maximum
    return this.retrying<TransactOutcome>(async () => {
      try {
        await this.client.send(new TransactWriteCommand({ TransactItems: items, ClientRequestToken: token }));
        return done({ ok: true });
      } catch (error) {
        // The same transaction again, same token: the outcome of the send is not known.
        if (outcomeUnknown(error)) return again(() => sdkError(operation, error));
        if (errorName(error) !== 'TransactionCanceledException') throw sdkError(operation, error);
        const codes = cancellationCodes(error);
        const conditionFailed = items.map((_, index) => codes[index] === 'ConditionalCheckFailed');
        if (conditionFailed.some(Boolean)) return done({ ok: false, conditionFailed });
        const onlyConflicts =
          codes.length > 0 &&
          codes.every((code) => code === 'None' || code === 'TransactionConflict' || code === undefined);
        if (!onlyConflicts) throw sdkError(operation, error);
        return again(
          (attempts) =>
            new RegistryStoreError(
              'CONFLICT',
              operation,
              `transaction kept conflicting after ${attempts} attempts`,
              { cause: error },
            ),
        );
      }
    });
  }

  /**
   * The one retry loop of the store: runs `attempt` until it is done, at most
   * {@link DynamoDbRegistryStoreOptions.maxAttempts} times with jittered backoff between attempts,
   * then throws the error the last attempt named. An error thrown by an attempt ends the loop.
   */
  private async retrying<T>(attempt: () => Promise<Attempt<T>>): Promise<T> {
    for (let attempts = 1; ; attempts++) {
      const result = await attempt();
      if (result.done) return result.value;
      if (attempts >= this.maxAttempts) throw result.giveUp(attempts);
      await backoff(attempts);
    }
  }

  private async queryPrefix<T>(operation: string, model: string, prefix: string): Promise<T[]> {
    return this.queryAll<T>(operation, {
      TableName: this.tableName,
      KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
      ExpressionAttributeNames: { '#pk': PK, '#sk': SK },
      ExpressionAttributeValues: { ':pk': registryKeys.pk(model), ':prefix': prefix },
      ConsistentRead: true,
    });
  }

  private async queryIndex<T>(operation: string, gsiPk: string): Promise<T[]> {
    return this.queryAll<T>(operation, {
      TableName: this.tableName,
      IndexName: statusIndex.name,
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeNames: { '#pk': GSI_PK },
      ExpressionAttributeValues: { ':pk': gsiPk },
    });
  }

  /** Follows `LastEvaluatedKey` until the last page. */
  private async queryAll<T>(operation: string, input: QueryCommandInput): Promise<T[]> {
    const records: T[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      let page;
      try {
        page = await this.client.send(
          new QueryCommand({
            ...input,
            ...(this.pageSize ? { Limit: this.pageSize } : {}),
            ...(startKey ? { ExclusiveStartKey: startKey } : {}),
          }),
        );
      } catch (error) {
        throw sdkError(operation, error);
      }
      for (const item of page.Items ?? []) records.push(toRecord<T>(item));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return records;
  }
}

// ------------------------------------------------------------------ helpers

/** The domain record of an item: every attribute but the keys and the entity marker. */
function toRecord<T>(item: Item): T {
  const record: Item = {};
  for (const [attribute, value] of Object.entries(item)) {
    if (!LAYOUT_ATTRIBUTES.has(attribute)) record[attribute] = value;
  }
  return record as T;
}

/** A copy without `undefined` values (DynamoDB has no such thing), recursively through plain objects and arrays. */
function stripUndefined<T>(value: T): T {
  if (Array.isArray(value))
    return value.filter((entry) => entry !== undefined).map((entry: unknown) => stripUndefined(entry)) as T;
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const copy: Item = {};
    for (const [key, entry] of Object.entries(value)) {
      if (entry !== undefined) copy[key] = stripUndefined(entry);
    }
    return copy as T;
  }
  return value;
}

function errorName(error: unknown): string | undefined {
  return error instanceof Error ? error.name : undefined;
}

/** Node's codes for a connection that failed or dropped: the request may have been applied. */
const CONNECTION_ERROR_CODES = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED']);

/**
 * True when a failed send may or may not have been applied: no HTTP response (a dropped
 * connection, a timeout), a server error, or the same token's transaction still in progress.
 * Throttling and validation errors (4xx) say nothing was applied, so they are not in this set.
 */
function outcomeUnknown(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === 'TransactionInProgressException') return true;
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  if (status !== undefined) return status >= 500;
  const code = (error as { code?: unknown }).code;
  return (
    error.name === 'TimeoutError' ||
    error.name === 'RequestTimeout' ||
    (typeof code === 'string' && CONNECTION_ERROR_CODES.has(code))
  );
}

function cancellationCodes(error: unknown): (string | undefined)[] {
  const reasons = (error as { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? [];
  return reasons.map((reason) => reason.Code);
}

function sdkError(operation: string, error: unknown): RegistryStoreError {
  if (error instanceof RegistryStoreError) return error;
  const detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return new RegistryStoreError('DYNAMODB_ERROR', operation, detail, { cause: error });
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Full-jitter exponential backoff: up to 20, 40, 80 ... 640 ms. */
async function backoff(attempt: number): Promise<void> {
  const cap = 10 * 2 ** Math.min(attempt, 6);
  await new Promise((resolve) => setTimeout(resolve, Math.random() * cap));
}
