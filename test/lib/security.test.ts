/**
 * Security invariants of the whole stack: no mutating IAM action on "*", PassRole only to
 * SageMaker, cdk-nag AWS Solutions with zero unacknowledged findings, and every acknowledgement
 * justified and still needed.
 */
import { Stack, Validations } from 'aws-cdk-lib';
import type { Template } from 'aws-cdk-lib/assertions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flattenForNag } from '../../lib/private/nag';
import type { ServerlessMlopsStack } from '../../lib/serverless-mlops-stack';
import {
  actionsOf,
  cleanupOutdirs,
  fastApp,
  identityStatements,
  resourcesOf,
  resourcesOfType,
  synthMlopsStack,
} from './helpers';

afterAll(cleanupOutdirs);

/** Read-only verbs: allowed on "*" where an action has no resource type. */
const READ_ONLY = /^[a-z0-9-]+:(Describe|List|Get|BatchGet)[A-Za-z]*$/;

/**
 * Mutating actions that AWS offers no resource-level permission for (Service Authorization
 * Reference: no resource type in their row), each with the reason it is needed.
 */
const NO_RESOURCE_LEVEL_WRITES: Readonly<Record<string, string>> = {
  'xray:PutTraceSegments': 'Lambda active tracing',
  'xray:PutTelemetryRecords': 'Lambda active tracing',
  'cloudwatch:PutMetricData': 'SageMaker job/endpoint metrics, limited by the cloudwatch:namespace condition',
};

describe('IAM identity policies', () => {
  let template: Template;
  beforeAll(() => {
    template = synthMlopsStack().template;
  });

  it('never grant a mutating action on "*"', () => {
    const offenders: string[] = [];
    for (const { logicalId, statement } of identityStatements(template)) {
      if (statement.Effect !== 'Allow' || !resourcesOf(statement).includes('*')) continue;
      for (const action of actionsOf(statement)) {
        const allowed =
          READ_ONLY.test(action) ||
          action === 'ecr:GetAuthorizationToken' ||
          action in NO_RESOURCE_LEVEL_WRITES;
        if (!allowed) offenders.push(`${logicalId}: ${action}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it('limit PutMetricData on "*" to the SageMaker namespaces', () => {
    const putMetricData = identityStatements(template).filter(({ statement }) =>
      actionsOf(statement).includes('cloudwatch:PutMetricData'),
    );
    expect(putMetricData.length).toBeGreaterThan(0);
    for (const { statement } of putMetricData) {
      expect(statement.Condition).toEqual({
        StringEquals: { 'cloudwatch:namespace': ['/aws/sagemaker/TrainingJobs', '/aws/sagemaker/Endpoints'] },
      });
    }
  });

  it('use no action wildcards other than kms:GenerateDataKey*', () => {
    const wildcards = identityStatements(template)
      .flatMap(({ statement }) => actionsOf(statement))
      .filter((action) => action.includes('*'));
    expect([...new Set(wildcards)]).toEqual(['kms:GenerateDataKey*']);
  });

  it('pass roles only to SageMaker, only the SageMaker execution role', () => {
    const passRole = identityStatements(template).filter(({ statement }) =>
      actionsOf(statement).includes('iam:PassRole'),
    );
    expect(passRole.map((p) => p.logicalId).sort()).toEqual([
      // The alarm policies roll back (CreateModel) and retrain (CreateTrainingJob).
      expect.stringMatching(/^AlarmEventsHandlerRoleDefaultPolicy/),
      expect.stringMatching(/^EndpointEventsHandlerRoleDefaultPolicy/),
      expect.stringMatching(/^IngestHandlerRoleDefaultPolicy/),
      // The operator function approves, rolls back (CreateModel) and retrains (CreateTrainingJob).
      expect.stringMatching(/^OperatorHandlerRoleDefaultPolicy/),
      // The reconciler deploys the next approved version when a re-applied rollout is refused.
      expect.stringMatching(/^ReconcilerHandlerRoleDefaultPolicy/),
      expect.stringMatching(/^TrainingEventsHandlerRoleDefaultPolicy/),
    ]);
    for (const { statement } of passRole) {
      expect(actionsOf(statement)).toEqual(['iam:PassRole']);
      expect(statement.Resource).toEqual({
        'Fn::GetAtt': [expect.stringMatching(/^SageMakerExecutionRole/), 'Arn'],
      });
      expect(statement.Condition).toEqual({
        StringEquals: { 'iam:PassedToService': 'sagemaker.amazonaws.com' },
      });
    }
  });

  it('attach no AWS managed policies', () => {
    for (const role of Object.values(resourcesOfType(template, 'AWS::IAM::Role'))) {
      expect(role.Properties?.ManagedPolicyArns).toBeUndefined();
    }
  });
});

/** Every `Validations.of(x).acknowledge()` in the tree: id, reason and where. */
function acknowledgements(root: IConstruct): { id: string; reason: string; path: string }[] {
  const out: { id: string; reason: string; path: string }[] = [];
  for (const node of root.node.findAll()) {
    for (const entry of node.node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) {
        out.push({ id: id.replace(/^annotation::/i, ''), reason, path: node.node.path });
      }
    }
  }
  return out;
}

describe('cdk-nag AWS Solutions', () => {
  let stack: ServerlessMlopsStack;
  let template: Template;
  beforeAll(() => {
    ({ stack, template } = synthMlopsStack());
  });

  it('reports zero unacknowledged findings', () => {
    const report = new AwsSolutionsChecks().validateScope(stack);
    const findings = report.violations.map(
      (v) => `${v.ruleName} @ ${v.violatingResources.map((r) => r.constructPath).join(', ')}`,
    );
    expect(findings).toEqual([]);
    expect(report.success).toBe(true);
  });

  it('is live: the same checks flag an unencrypted, unprotected queue', () => {
    const probe = new Stack(fastApp(), 'Probe');
    new sqs.Queue(probe, 'Bare', { encryption: sqs.QueueEncryption.UNENCRYPTED });
    const rules = new AwsSolutionsChecks().validateScope(probe).violations.map((v) => v.ruleName);
    expect(rules).toEqual(
      expect.arrayContaining(['AwsSolutions-SQS2', 'AwsSolutions-SQS3', 'AwsSolutions-SQS4']),
    );
  });

  it('acknowledges only with real reasons, on specific constructs', () => {
    const acks = acknowledgements(stack);
    expect(acks.length).toBeGreaterThan(0);
    for (const ack of acks) {
      expect(ack.id, ack.path).toMatch(/^AwsSolutions-[A-Z]+\d+(\[.+\])?$/);
      expect(ack.reason.length, `${ack.id} at ${ack.path}`).toBeGreaterThanOrEqual(40);
      expect(ack.reason, `${ack.id} at ${ack.path}`).not.toMatch(
        /^(ok|fine|n\/a|todo|suppress(ed)?|ignore)\b/i,
      );
      // Never on the stack or the app as a whole.
      expect(ack.path).not.toBe(stack.node.path);
      expect(ack.path).not.toBe('');
    }
    // IAM5 only ever for named resources or actions, never a blanket IAM5.
    expect(acks.filter((a) => a.id === 'AwsSolutions-IAM5')).toEqual([]);
  });

  it('acknowledges no IAM5 resource that the template does not grant (no stale acknowledgements)', () => {
    const granted = new Set(
      identityStatements(template).flatMap(({ statement }) => resourcesOf(statement).map(flattenForNag)),
    );
    const stale = acknowledgements(stack)
      .map((a) => /^AwsSolutions-IAM5\[Resource::(.+)\]$/.exec(a.id)?.[1])
      .filter((resource): resource is string => resource !== undefined && !granted.has(resource));
    expect(stale).toEqual([]);
  });
});
