/**
 * The registry table's physical layout, shared by the DynamoDB adapter (which reads and writes it)
 * and the CDK construct (which creates it), so the two cannot drift apart.
 */
export const REGISTRY_TABLE_LAYOUT = {
  partitionKey: 'PK',
  sortKey: 'SK',
  /** GSI answering fleet questions: all versions in a status, all open incidents. */
  statusIndex: {
    name: 'byStatus',
    partitionKey: 'GSI1PK', // e.g. `VERSION_STATUS#TRAINING`, `INCIDENT_STATUS#OPEN`
    sortKey: 'GSI1SK', // e.g. `<updatedAt>#<model>#<000001>`
  },
} as const;
