/**
 * OperatorAccess: the read-only and operator managed policies, statement by statement (what the
 * mlops CLI calls, scoped to this stack's resources), attached to nothing, and props validation.
 * test/contracts/iam-contract.test.ts evaluates the CLI's calls against them.
 */
import type { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  actionsOf,
  cleanupOutdirs,
  flat,
  resourcesOf,
  resourcesOfType,
  synthMlopsStack,
  type StatementJson,
} from '../helpers';
import { stringMatching } from '../../support/matchers';

afterAll(cleanupOutdirs);

/** A policy's statements as `Sid: actions on resources`, resources flattened and sorted. */
function summary(statements: StatementJson[]): Record<string, { actions: string[]; resources: string[] }> {
  return Object.fromEntries(
    statements.map((s) => {
      expect(s.Effect).toBe('Allow');
      expect(s.Condition).toBeUndefined();
      return [s.Sid!, { actions: actionsOf(s).sort(), resources: resourcesOf(s).map(flat).sort() }];
    }),
  );
}

const arn = (service: string, resource: string) =>
  `arn:\${AWS::Partition}:${service}:\${AWS::Region}:\${AWS::AccountId}:${resource}`;
const dlqs = [
  stringMatching(/^\$\{AlarmEventsDeadLetterQueue[0-9A-F]+\.Arn\}$/),
  stringMatching(/^\$\{DriftMonitorDeadLetterQueue[0-9A-F]+\.Arn\}$/),
  stringMatching(/^\$\{EndpointEventsDeadLetterQueue[0-9A-F]+\.Arn\}$/),
  stringMatching(/^\$\{IngestDeadLetterQueue[0-9A-F]+\.Arn\}$/),
  stringMatching(/^\$\{TrainingEventsDeadLetterQueue[0-9A-F]+\.Arn\}$/),
];
const table = stringMatching(/^\$\{RegistryTable[0-9A-F]+\.Arn\}$/);
const bucket = (suffix = '') => stringMatching(new RegExp(`^\\$\\{DataBucket[0-9A-F]+\\.Arn\\}${suffix}$`));

/** The read-only statements, the same in both policies. */
const READS = {
  ReadStackOutputs: {
    actions: ['cloudformation:DescribeStacks'],
    resources: [arn('cloudformation', 'stack/ServerlessMlops/*')],
  },
  ReadRegistry: { actions: ['dynamodb:GetItem', 'dynamodb:Query'], resources: [table] },
  ReadRegistryStatusIndex: {
    actions: ['dynamodb:Query'],
    resources: [stringMatching(/^\$\{RegistryTable[0-9A-F]+\.Arn\}\/index\/byStatus$/)],
  },
  ReadModelAlarms: {
    actions: ['cloudwatch:DescribeAlarms'],
    resources: [arn('cloudwatch', 'alarm:mlops-*')],
  },
  ReadReports: { actions: ['s3:GetObject'], resources: [bucket('/reports/\\*')] },
  ListDataBucket: { actions: ['s3:ListBucket'], resources: [bucket()] },
  InspectDeadLetters: { actions: ['sqs:GetQueueAttributes', 'sqs:ReceiveMessage'], resources: dlqs },
};

describe('OperatorAccess in the stack', () => {
  let template: Template;
  let policies: Record<string, { description: string; statements: StatementJson[]; attached: unknown[] }>;
  beforeAll(() => {
    template = synthMlopsStack().template;
    policies = Object.fromEntries(
      Object.entries(resourcesOfType(template, 'AWS::IAM::ManagedPolicy')).map(([id, policy]) => {
        const props = policy.Properties ?? {};
        return [
          id.replace(/[0-9A-F]{8}$/, ''),
          {
            description: props.Description as string,
            statements: (props.PolicyDocument as { Statement: StatementJson[] }).Statement,
            attached: [props.Roles, props.Users, props.Groups].filter((a) => a !== undefined),
          },
        ];
      }),
    );
  });

  it('creates exactly two customer-managed policies, attached to nothing', () => {
    expect(Object.keys(policies).sort()).toEqual([
      'OperatorAccessOperatorPolicy',
      'OperatorAccessReadOnlyPolicy',
    ]);
    for (const policy of Object.values(policies)) {
      expect(policy.attached).toEqual([]);
      expect(policy.description).toMatch(/mlops CLI/);
    }
  });

  it('read-only: the stack outputs, registry reads, model alarms, reports and the dead letters, nothing more', () => {
    expect(summary(policies.OperatorAccessReadOnlyPolicy!.statements)).toEqual(READS);
  });

  it('operator: read-only, plus the operator function, dataset uploads and dead-letter redrive', () => {
    expect(summary(policies.OperatorAccessOperatorPolicy!.statements)).toEqual({
      ...READS,
      RunOperatorCommands: {
        actions: ['lambda:InvokeFunction'],
        resources: [stringMatching(/^\$\{OperatorHandlerFunction[0-9A-F]+\.Arn\}$/)],
      },
      UploadDatasets: {
        actions: ['s3:AbortMultipartUpload', 's3:ListMultipartUploadParts', 's3:PutObject'],
        resources: [bucket('/datasets/\\*')],
      },
      DeleteRedrivenDeadLetters: { actions: ['sqs:DeleteMessage'], resources: dlqs },
      RedriveToHandlers: {
        actions: ['lambda:InvokeFunction'],
        resources: [
          stringMatching(/^\$\{AlarmEventsHandlerFunction[0-9A-F]+\.Arn\}$/),
          stringMatching(/^\$\{DriftMonitorHandlerFunction[0-9A-F]+\.Arn\}$/),
          stringMatching(/^\$\{EndpointEventsHandlerFunction[0-9A-F]+\.Arn\}$/),
          stringMatching(/^\$\{TrainingEventsHandlerFunction[0-9A-F]+\.Arn\}$/),
        ],
      },
      MoveIngestDeadLetters: {
        actions: ['sqs:ListMessageMoveTasks', 'sqs:StartMessageMoveTask'],
        resources: [stringMatching(/^\$\{IngestDeadLetterQueue[0-9A-F]+\.Arn\}$/)],
      },
      MoveIngestDeadLettersBack: {
        actions: ['sqs:GetQueueAttributes', 'sqs:SendMessage'],
        resources: [stringMatching(/^\$\{IngestQueue[0-9A-F]+\.Arn\}$/)],
      },
    });
  });

  it('grants no KMS, no registry write, no SageMaker and no PassRole to people: the operator function does that', () => {
    const actions = Object.values(policies).flatMap((p) => p.statements.flatMap(actionsOf));
    for (const prefix of ['kms:', 'sagemaker:', 'iam:', 'sns:', 'sts:'])
      expect(
        actions.filter((a) => a.startsWith(prefix)),
        prefix,
      ).toEqual([]);
    for (const write of ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:Scan'])
      expect(actions, write).not.toContain(write);
  });

  it('outputs both ARNs', () => {
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(outputs.ReadOnlyPolicyArn!.Value).toEqual({
      Ref: stringMatching(/^OperatorAccessReadOnlyPolicy/),
    });
    expect(outputs.OperatorPolicyArn!.Value).toEqual({
      Ref: stringMatching(/^OperatorAccessOperatorPolicy/),
    });
  });
});

describe('OperatorAccess with another prefix', () => {
  it('scopes the alarms to it', () => {
    const { template } = synthMlopsStack({ resourcePrefix: 'ml-dev' });
    for (const policy of Object.values(resourcesOfType(template, 'AWS::IAM::ManagedPolicy'))) {
      const statements = (policy.Properties?.PolicyDocument as { Statement: StatementJson[] }).Statement;
      const alarms = statements.find((s) => s.Sid === 'ReadModelAlarms')!;
      expect(resourcesOf(alarms).map(flat)).toEqual([arn('cloudwatch', 'alarm:ml-dev-*')]);
    }
  });
});
