/**
 * RegistryTable: the model registry, one DynamoDB table. Where this stands: infrastructure
 * (lib/constructs); its keys and index come from adapters/dynamodb/table-layout.ts, the file the
 * DynamoDB adapter reads too, so the two cannot drift apart.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { REGISTRY_TABLE_LAYOUT } from '../../adapters/dynamodb/table-layout';

/** Removal and point-in-time recovery of the registry table. */
export interface RegistryTableProps {
  /**
   * What happens to the table when it leaves the stack. Anything but DESTROY also turns on
   * deletion protection.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Days of point-in-time recovery history (1 to 35).
   * @default 35
   */
  readonly recoveryPeriodInDays?: number;
}

/** On-demand, PITR-protected, AWS-managed-key table with the `byStatus` index. */
export class RegistryTable extends Construct {
  readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: RegistryTableProps = {}) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const recoveryPeriodInDays = props.recoveryPeriodInDays ?? 35;
    if (!Number.isInteger(recoveryPeriodInDays) || recoveryPeriodInDays < 1 || recoveryPeriodInDays > 35) {
      throw new Error(
        `recoveryPeriodInDays must be an integer between 1 and 35, got ${recoveryPeriodInDays}`,
      );
    }
    const layout = REGISTRY_TABLE_LAYOUT;

    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: layout.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: layout.sortKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true, recoveryPeriodInDays },
      deletionProtection: removalPolicy !== RemovalPolicy.DESTROY,
      removalPolicy,
    });
    this.table.addGlobalSecondaryIndex({
      indexName: layout.statusIndex.name,
      partitionKey: { name: layout.statusIndex.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: layout.statusIndex.sortKey, type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.ALL,
    });
  }
}
