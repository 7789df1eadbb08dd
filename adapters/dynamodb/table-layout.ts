import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';

/**
 * The registry table's physical layout, shared by the DynamoDB adapter (which reads and writes it)
 * and the CDK construct (which creates it), so the two cannot drift apart.
 */
export const REGISTRY_TABLE_LAYOUT = {
  partitionKey: 'PK',
  sortKey: 'SK',
  /**
   * GSI answering fleet questions: all versions in a status, all open incidents, all notifications
   * still pending (the outbox).
   */
  statusIndex: {
    name: 'byStatus',
    partitionKey: 'GSI1PK', // e.g. `VERSION_STATUS#TRAINING`, `INCIDENT_STATUS#OPEN`, `OUTBOX`
    sortKey: 'GSI1SK', // e.g. `<updatedAt>#<model>#<000001>`
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
