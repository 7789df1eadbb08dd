import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import { padVersion } from '../../core/domain/naming';
import type { IncidentRecord, VersionStatus } from '../../core/domain/registry';

/**
 * The registry table's physical layout, shared by the DynamoDB adapter (which reads and writes it)
 * and the CDK construct (which creates it), so the two cannot drift apart.
 *
 * One table, every item under `PK = MODEL#<model>` (key formats: {@link registryKeys}; every item
 * kind with its GSI keys: the table in adapters/dynamodb/dynamodb-registry-store.ts):
 *
 * | SK                                | item                                          |
 * | --------------------------------- | --------------------------------------------- |
 * | `MODEL`                           | the model: config, counter, champion...       |
 * | `DATASET#<datasetId>`             | a dataset (accepted or rejected)              |
 * | `VERSION#<000001>`                | a version (six-digit zero-padded number)      |
 * | `EVENT#<iso time>#<eventId>`      | an audit line                                 |
 * | `INCIDENT#<alarmName>#<openedAt>` | an incident (id `<alarmName>@<openedAt>`)     |
 * | `OPEN_INCIDENT#<alarmName>`       | guard: exists iff the alarm has an open one   |
 * | `RETRAIN#<requestId>`             | a retrain request and the version it made     |
 * | `OUTBOX#<at>#<eventId>`           | a notification not yet delivered              |
 *
 * The `byStatus` GSI (`GSI1PK` / `GSI1SK`, all attributes projected) answers the fleet questions
 * with one Query each: `MODEL` / `<model>` (every model), `VERSION_STATUS#<status>` /
 * `<updatedAt>#<model>#<000001>`, `INCIDENT_STATUS#OPEN|RESOLVED` / `<at>#<model>#<alarmName>`,
 * `OUTBOX` / `<at>#<model>#<eventId>`.
 */
export const REGISTRY_TABLE_LAYOUT = {
  partitionKey: 'PK',
  sortKey: 'SK',
  /**
   * GSI answering fleet questions: every model, all versions in a status, all open incidents, all
   * notifications still pending (the outbox).
   */
  statusIndex: {
    name: 'byStatus',
    partitionKey: 'GSI1PK', // `MODEL`, `VERSION_STATUS#TRAINING`, `INCIDENT_STATUS#OPEN`, `OUTBOX`
    sortKey: 'GSI1SK', // e.g. `<model>`, `<updatedAt>#<model>#<000001>`
  },
} as const;

/**
 * The registry table's definition, as the CDK construct creates it: `PK`/`SK` strings, the
 * `byStatus` GSI on `GSI1PK`/`GSI1SK` projecting all attributes, on-demand billing. Used where the
 * table is created outside CloudFormation: DynamoDB Local in tests and in the local cloud.
 */
export function registryTableDefinition(tableName: string): CreateTableCommandInput {
  const { partitionKey, sortKey, statusIndex } = REGISTRY_TABLE_LAYOUT;
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [
      { AttributeName: partitionKey, AttributeType: 'S' },
      { AttributeName: sortKey, AttributeType: 'S' },
      { AttributeName: statusIndex.partitionKey, AttributeType: 'S' },
      { AttributeName: statusIndex.sortKey, AttributeType: 'S' },
    ],
    KeySchema: [
      { AttributeName: partitionKey, KeyType: 'HASH' },
      { AttributeName: sortKey, KeyType: 'RANGE' },
    ],
    GlobalSecondaryIndexes: [
      {
        IndexName: statusIndex.name,
        KeySchema: [
          { AttributeName: statusIndex.partitionKey, KeyType: 'HASH' },
          { AttributeName: statusIndex.sortKey, KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'ALL' },
      },
    ],
  };
}

/**
 * Attributes of the registry's items beyond the domain records' own fields, shared by the DynamoDB
 * store and its in-memory twin so that both write and strip the same ones.
 */
export const ITEM_ATTRIBUTES = {
  /** The item's kind (`model`, `version`, `outbox`...). */
  entity: 'entity',
  /** On an open-incident guard item: the open incident's sort key. */
  incidentSk: 'incidentSk',
  /** On an outbox item: until when a delivery holds it (ISO 8601). */
  claimedUntil: 'claimedUntil',
} as const;

/** Attributes that belong to the table layout, not to the domain records: stripped on reading. */
export const LAYOUT_ATTRIBUTES: ReadonlySet<string> = new Set<string>([
  REGISTRY_TABLE_LAYOUT.partitionKey,
  REGISTRY_TABLE_LAYOUT.sortKey,
  REGISTRY_TABLE_LAYOUT.statusIndex.partitionKey,
  REGISTRY_TABLE_LAYOUT.statusIndex.sortKey,
  ITEM_ATTRIBUTES.entity,
]);

/**
 * Sort keys and GSI keys of the registry's items (the table under {@link REGISTRY_TABLE_LAYOUT}).
 * Shared by the DynamoDB store and its in-memory twin (adapters/memory), which keeps the same keys
 * so that its orders, and the ids it derives from them, are the DynamoDB store's.
 */
export const registryKeys = {
  pk: (model: string): string => `MODEL#${model}`,
  modelSk: 'MODEL',
  /** The model items' partition of the GSI (the fleet), sorted by model name. */
  modelsGsiPk: 'MODEL',
  modelsGsiSk: (model: string): string => model,
  retrainSk: (requestId: string): string => `RETRAIN#${requestId}`,
  datasetSk: (datasetId: string): string => `DATASET#${datasetId}`,
  versionSk: (version: number): string => `VERSION#${padVersion(version)}`,
  eventSk: (at: string, eventId: string): string => `EVENT#${at}#${eventId}`,
  incidentSk: (alarmName: string, openedAt: string): string => `INCIDENT#${alarmName}#${openedAt}`,
  openIncidentSk: (alarmName: string): string => `OPEN_INCIDENT#${alarmName}`,
  versionStatusPk: (status: VersionStatus): string => `VERSION_STATUS#${status}`,
  versionStatusSk: (updatedAt: string, model: string, version: number): string =>
    `${updatedAt}#${model}#${padVersion(version)}`,
  incidentStatusPk: (status: IncidentRecord['status']): string => `INCIDENT_STATUS#${status}`,
  incidentStatusSk: (at: string, model: string, alarmName: string): string => `${at}#${model}#${alarmName}`,
  /** An outbox item's id (`PendingNotification.id`): the change's audit `at` and `eventId`. */
  outboxId: (at: string, eventId: string): string => `${at}#${eventId}`,
  outboxSk: (id: string): string => `OUTBOX#${id}`,
  outboxPk: 'OUTBOX',
  outboxGsiSk: (at: string, model: string, eventId: string): string => `${at}#${model}#${eventId}`,
} as const;

/** What went wrong in a registry call that is not a condition failure. */
export type RegistryStoreErrorCode =
  /** The SDK call failed (throttling, network, validation...): transient from the handler's view. */
  | 'DYNAMODB_ERROR'
  /** Concurrent writers kept winning for `maxAttempts` attempts (DynamoDbRegistryStoreOptions). */
  | 'CONFLICT'
  /** The table holds a state the store never writes (e.g. a version item beyond the counter). */
  | 'INCONSISTENT'
  /** The caller asked for something the port does not allow (a bug in the caller). */
  | 'INVALID_REQUEST';

/**
 * An error of a registry store that is not a condition failure, with the SDK error (if any) as
 * `cause`. Thrown by the DynamoDB store and, with the same codes and operations, by its in-memory
 * twin. It lives here, next to the keys, rather than in dynamodb-registry-store.ts so that the
 * memory store can throw it without loading the AWS SDK (this file imports only its types).
 */
export class RegistryStoreError extends Error {
  override readonly name = 'RegistryStoreError';
  constructor(
    readonly code: RegistryStoreErrorCode,
    readonly operation: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`registry ${operation}: ${message}`, options);
  }
}
