import { RemovalPolicy } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { afterAll, describe, expect, it } from 'vitest';
import { REGISTRY_TABLE_LAYOUT } from '../../../adapters/dynamodb/table-layout';
import { RegistryTable } from '../../../lib/constructs/registry-table';
import { cleanupOutdirs, constructTestStack } from '../helpers';

afterAll(cleanupOutdirs);

function tableTemplate(props: ConstructorParameters<typeof RegistryTable>[2] = {}): Template {
  const stack = constructTestStack();
  new RegistryTable(stack, 'Registry', props);
  return Template.fromStack(stack);
}

describe('RegistryTable', () => {
  it('uses the shared layout: PK/SK strings and the byStatus GSI projecting everything', () => {
    expect(REGISTRY_TABLE_LAYOUT.statusIndex.name).toBe('byStatus');
    tableTemplate().hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [
        { AttributeName: 'PK', KeyType: 'HASH' },
        { AttributeName: 'SK', KeyType: 'RANGE' },
      ],
      AttributeDefinitions: [
        { AttributeName: 'PK', AttributeType: 'S' },
        { AttributeName: 'SK', AttributeType: 'S' },
        { AttributeName: 'GSI1PK', AttributeType: 'S' },
        { AttributeName: 'GSI1SK', AttributeType: 'S' },
      ],
      GlobalSecondaryIndexes: [
        {
          IndexName: 'byStatus',
          KeySchema: [
            { AttributeName: 'GSI1PK', KeyType: 'HASH' },
            { AttributeName: 'GSI1SK', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
    });
  });

  it('is on-demand, PITR-protected, AWS-managed-key encrypted, retained and deletion-protected', () => {
    tableTemplate().hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: {
        KeySchema: [
          { AttributeName: 'PK', KeyType: 'HASH' },
          { AttributeName: 'SK', KeyType: 'RANGE' },
        ],
        AttributeDefinitions: Match.anyValue(),
        GlobalSecondaryIndexes: Match.anyValue(),
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true, RecoveryPeriodInDays: 35 },
        SSESpecification: { SSEEnabled: true },
        DeletionProtectionEnabled: true,
      },
    });
  });

  it('can be destroyed, which lifts deletion protection', () => {
    tableTemplate({ removalPolicy: RemovalPolicy.DESTROY }).hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Delete',
    });
  });

  it('rejects a recovery period outside 1..35 days', () => {
    expect(() => tableTemplate({ recoveryPeriodInDays: 36 })).toThrow(
      'recoveryPeriodInDays must be an integer between 1 and 35, got 36',
    );
  });
});
