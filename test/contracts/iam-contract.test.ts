/**
 * Contract: every AWS call a handler makes is one its role is allowed to make, in a real account.
 *
 * The pipeline scenario (support/pipeline-scenario.ts) drives every Lambda handler through a
 * representative run on local services and records each call, attributed to its handler. Each
 * call becomes the IAM actions and resource ARNs AWS authorizes for it, hidden ones included
 * (support/iam-actions.ts: AddTags for tagged Create*, PassRole, TagResource for tagged alarms,
 * GetObjectVersion, ListBucket for 404 semantics, transaction elements, index ARNs, KMS for the
 * encrypted topic). Each is evaluated by a real policy evaluator (@cloud-copilot/iam-simulate)
 * against THAT handler's identity policies in the synthesized template, plus the bucket policy,
 * the KMS key policy and the topic policy, with the template's resources resolved to the names the
 * harness uses (support/template-resolver.ts).
 *
 * The pipeline scenario's manual approval calls the use case in-process (handler `approval`): its
 * calls are in the scenario but not evaluated against a role. In AWS an operator's commands run in
 * the operator function (lambdas/operator/handler.ts): an operator scenario of its own
 * (support/operator-scenario.ts: approve, rollback, retrain, reject through the real handler) is
 * evaluated against the operator function's role.
 *
 * The alarm policies act in the alarm-events handler: a scenario of their own
 * (support/alarm-policy-scenario.ts: a `rollback` policy rolling back, a `retrain` policy
 * retraining after reading a drift incident's evidence) is evaluated against that handler's role.
 *
 * The `mlops` CLI's own calls against the deployed stack (support/cli-aws-calls.ts: every command,
 * each call on the resource the CLI would name) are evaluated against the two managed policies the
 * stack outputs: the operator policy allows them all, the read-only policy every read and none of
 * the calls that change something.
 *
 * The reconciler (lambdas/reconciler/handler.ts) has a scenario of its own on a fresh harness
 * (support/reconciler-scenario.ts: every situation it repairs), evaluated against its role, with
 * its re-delivery targets (the ingest queue, the two lifecycle functions) read from the
 * reconciler function's environment in the template, and the queue's policy among the resource
 * policies.
 */
import type { CfnElement } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type { IConstruct } from 'constructs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerlessMlopsStack } from '../../lib/serverless-mlops-stack';
import { cleanupOutdirs, synthMlopsStack } from '../lib/helpers';
import { readReconcilerSettings, type ReconcilerSettings } from '../../lambdas/reconciler/settings';
import type { RecordedCall } from '../support/aws-call-journal';
import { ROLE_ARN, startPipelineHarness, TOPIC_ARN, type PipelineHarness } from '../support/pipeline-harness';
import {
  queueArnOfUrl,
  requiredPermissions,
  type CallSite,
  type RequiredPermission,
} from './support/iam-actions';
import { evaluatePermission, type IamPrincipal } from './support/iam-evaluator';
import {
  LAMBDA_HANDLERS,
  runPipelineScenario,
  type PipelineScenario,
  type ScenarioHandler,
} from './support/pipeline-scenario';
import { runReconcilerScenario, type ReconcilerScenario } from './support/reconciler-scenario';
import {
  CLI_MUTATING_COMMANDS,
  CLI_READ_COMMANDS,
  cliAwsCalls,
  type CliAwsCall,
  type CliPolicyName,
  type CliStack,
} from './support/cli-aws-calls';
import { runOperatorScenario, type OperatorScenario } from './support/operator-scenario';
import { runAlarmPolicyScenario, type AlarmPolicyScenario } from './support/alarm-policy-scenario';
import { CLI_AWS_CALLS as CLI_DECLARED_CALLS } from '../../cli/target/aws-calls';
import { TemplateResolver, type PolicyDocument, type TemplateJson } from './support/template-resolver';

const ACCOUNT = '123456789012';
const REGION = 'us-east-1';
const PARTITION = 'aws';
/** The notification key as deployed (any key id: the template's key is mapped to it). */
const TOPIC_KEY_ARN = `arn:aws:kms:${REGION}:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;

/** Each Lambda handler's execution role, found through the construct that owns it. */
const HANDLER_ROLES: Record<
  Exclude<ScenarioHandler, 'approval'>,
  (stack: ServerlessMlopsStack) => iam.Role
> = {
  ingest: (stack) => stack.ingest.handler.role,
  'training-events': (stack) => stack.trainingEvents.handler.role,
  'endpoint-events': (stack) => stack.endpointEvents.handler.role,
  'alarm-events': (stack) => stack.alarmEvents.handler.role,
  monitor: (stack) => stack.driftMonitor.handler.role,
};

let harness: PipelineHarness;
let scenario: PipelineScenario;
let site: CallSite;
let principals: Map<ScenarioHandler, IamPrincipal>;
let resourcePolicies: Map<string, PolicyDocument>;
/** The reconciler as deployed, for the registry table of the harness it runs on. */
let reconcilerDeployment: (table: string) => ReconcilerDeployment;
/** A function the reconciler must not reach (for the evaluator's denials). */
let ingestFunctionArn: string;
/** The operator function's role, as deployed. */
let operatorPrincipal: IamPrincipal;
/** Operators' commands through the operator handler. */
let operatorRun: OperatorScenario;
/** The alarm policies acting through the alarm-events handler. */
let alarmPolicyRun: AlarmPolicyScenario;
/** The CLI's view of the stack, and a user with each of the two managed policies. */
let cli: {
  readonly stack: CliStack;
  readonly site: CallSite;
  readonly principals: Record<CliPolicyName, IamPrincipal>;
  /** Every function and queue of the stack by construct, as deployed (for the denials). */
  readonly functionArns: Record<'ingest' | 'reconciler' | 'operator', string>;
  readonly tableArn: string;
};

/** The reconciler's role, the resource policies, and where the template tells it to re-deliver. */
interface ReconcilerDeployment {
  readonly principal: IamPrincipal;
  readonly resourcePolicies: Map<string, PolicyDocument>;
  readonly targets: ReconcilerSettings;
}

/**
 * A physical name as CloudFormation generates it for an unnamed resource: `<stack>-<logical id>-
 * <suffix>`, the logical id cut so that the whole fits `max` characters.
 */
function physicalName(logicalId: string, max: number): string {
  const suffix = '-Ab12Cd34Ef56';
  return `ServerlessMlops-${logicalId}`.slice(0, max - suffix.length) + suffix;
}

beforeAll(async () => {
  const { stack, template } = synthMlopsStack();
  harness = await startPipelineHarness();
  const logicalId = (construct: IConstruct) => stack.getLogicalId(construct.node.defaultChild as CfnElement);
  const bucket = harness.s3.bucket;
  const roleIds = Object.fromEntries(
    Object.entries(HANDLER_ROLES).map(([handler, role]) => [handler, logicalId(role(stack))]),
  );
  const reconcilerRoleId = logicalId(stack.reconciler.handler.role);
  const operatorRoleId = logicalId(stack.operator.handler.role);
  // The reconciler's re-delivery targets, named as deployed (queue names up to 80 characters,
  // function names up to 64).
  const queueId = logicalId(stack.ingest.queue);
  const queueName = physicalName(queueId, 80);
  const functions = Object.fromEntries(
    [
      stack.trainingEvents,
      stack.endpointEvents,
      stack.ingest,
      stack.alarmEvents,
      stack.driftMonitor,
      stack.reconciler,
      stack.operator,
    ].map(({ handler }) => {
      const id = logicalId(handler.function);
      const name = physicalName(id, 64);
      return [id, { ref: name, attributes: { Arn: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${name}` } }];
    }),
  );
  const functionOf = (construct: { handler: { function: IConstruct } }) =>
    functions[logicalId(construct.handler.function)]!;
  ingestFunctionArn = functionOf(stack.ingest).attributes.Arn;
  // The dead-letter queues the CLI reads, named as deployed too.
  const deadLetterQueues = {
    ingest: stack.ingest.deadLetterQueue,
    'training-events': stack.trainingEvents.deadLetterQueue,
    'endpoint-events': stack.endpointEvents.deadLetterQueue,
    'alarm-events': stack.alarmEvents.deadLetterQueue,
    'drift-monitor': stack.driftMonitor.deadLetterQueue,
  };
  const queueOf = (id: string) => {
    const name = physicalName(id, 80);
    const url = `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/${name}`;
    return {
      ref: url,
      attributes: { Arn: `arn:aws:sqs:${REGION}:${ACCOUNT}:${name}`, QueueName: name, QueueUrl: url },
    };
  };
  const queues = Object.fromEntries(
    Object.values(deadLetterQueues).map((queue) => [logicalId(queue), queueOf(logicalId(queue))]),
  );
  // The template's resources, as a harness names them (each harness has a table of its own).
  const resolverFor = (table: string) =>
    new TemplateResolver(template.toJSON() as TemplateJson, {
      partition: PARTITION,
      region: REGION,
      account: ACCOUNT,
      resources: {
        [logicalId(stack.data.bucket)]: { ref: bucket, attributes: { Arn: `arn:aws:s3:::${bucket}` } },
        [logicalId(stack.registry.table)]: {
          ref: table,
          attributes: { Arn: `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${table}` },
        },
        [logicalId(stack.notifications.topic)]: {
          ref: TOPIC_ARN,
          attributes: { TopicArn: TOPIC_ARN, TopicName: TOPIC_ARN.split(':').at(-1)! },
        },
        [logicalId(stack.notifications.key)]: {
          ref: TOPIC_KEY_ARN.split('/').at(-1)!,
          attributes: { Arn: TOPIC_KEY_ARN },
        },
        [logicalId(stack.sageMakerRole.role)]: {
          ref: ROLE_ARN.split('/').at(-1)!,
          attributes: { Arn: ROLE_ARN },
        },
        ...Object.fromEntries(
          [...Object.values(roleIds), reconcilerRoleId, operatorRoleId].map((id) => [
            id,
            { ref: id, attributes: { Arn: `arn:aws:iam::${ACCOUNT}:role/${id}` } },
          ]),
        ),
        [queueId]: {
          ref: `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/${queueName}`,
          attributes: {
            Arn: `arn:aws:sqs:${REGION}:${ACCOUNT}:${queueName}`,
            QueueName: queueName,
            QueueUrl: `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/${queueName}`,
          },
        },
        ...queues,
        ...functions,
      },
    });
  const resolver = resolverFor(harness.table);
  const bucketKey = resolver.bucketKmsKey(logicalId(stack.data.bucket));
  const topicKey = resolver.topicKmsKey(logicalId(stack.notifications.topic));
  const queueKey = resolver.queueKmsKey(queueId);
  site = {
    partition: PARTITION,
    region: REGION,
    account: ACCOUNT,
    ...(bucketKey ? { bucketKeys: { [bucket]: bucketKey } } : {}),
    ...(topicKey ? { topicKeys: { [TOPIC_ARN]: topicKey } } : {}),
    ...(queueKey ? { queueKeys: { [resolver.getAtt(queueId, 'Arn')]: queueKey } } : {}),
  };
  resourcePolicies = resolver.resourcePolicies();
  principals = new Map(
    Object.entries(roleIds).map(([handler, id]) => {
      const policies = resolver.rolePolicies(id);
      return [
        handler as ScenarioHandler,
        {
          sessionArn: `arn:aws:sts::${ACCOUNT}:assumed-role/${id}/${handler}`,
          roleArn: `arn:aws:iam::${ACCOUNT}:role/${id}`,
          account: ACCOUNT,
          identityPolicies: policies.identityPolicies,
          ...(policies.permissionsBoundary ? { permissionsBoundary: policies.permissionsBoundary } : {}),
        },
      ];
    }),
  );
  const { Resources } = template.toJSON() as {
    Resources: Record<string, { Properties: { Environment: { Variables: Record<string, unknown> } } }>;
  };
  const reconcilerFunction = Resources[logicalId(stack.reconciler.handler.function)]!;
  reconcilerDeployment = (table) => {
    const deployed = resolverFor(table);
    const policies = deployed.rolePolicies(reconcilerRoleId);
    return {
      principal: {
        sessionArn: `arn:aws:sts::${ACCOUNT}:assumed-role/${reconcilerRoleId}/reconciler`,
        roleArn: `arn:aws:iam::${ACCOUNT}:role/${reconcilerRoleId}`,
        account: ACCOUNT,
        identityPolicies: policies.identityPolicies,
        ...(policies.permissionsBoundary ? { permissionsBoundary: policies.permissionsBoundary } : {}),
      },
      resourcePolicies: deployed.resourcePolicies(),
      // Read with the handler's own settings parser, from the function's environment as deployed.
      targets: readReconcilerSettings(
        deployed.resolve(reconcilerFunction.Properties.Environment.Variables) as NodeJS.ProcessEnv,
      ),
    };
  };
  const rolePrincipal = (id: string, session: string): IamPrincipal => {
    const policies = resolver.rolePolicies(id);
    return {
      sessionArn: `arn:aws:sts::${ACCOUNT}:assumed-role/${id}/${session}`,
      roleArn: `arn:aws:iam::${ACCOUNT}:role/${id}`,
      account: ACCOUNT,
      identityPolicies: policies.identityPolicies,
      ...(policies.permissionsBoundary ? { permissionsBoundary: policies.permissionsBoundary } : {}),
    };
  };
  operatorPrincipal = rolePrincipal(operatorRoleId, 'operator');

  // The CLI: the stack as its outputs name it, and a person's role with one managed policy each.
  const queueUrl = (queue: IConstruct) => resolver.getAtt(logicalId(queue), 'QueueUrl');
  const cliStack: CliStack = {
    stackName: 'ServerlessMlops',
    stackArn: `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/ServerlessMlops/8d5c1f20-0c4a-11f1-9a4b-0affd3c1e5a1`,
    region: REGION,
    account: ACCOUNT,
    resourcePrefix: stack.resourcePrefix,
    registryTable: harness.table,
    dataBucket: bucket,
    operatorFunction: functionOf(stack.operator).ref,
    redriveFunctions: {
      'training-events': functionOf(stack.trainingEvents).ref,
      'endpoint-events': functionOf(stack.endpointEvents).ref,
      'alarm-events': functionOf(stack.alarmEvents).ref,
      'drift-monitor': functionOf(stack.driftMonitor).ref,
    },
    deadLetterQueueUrls: {
      ingest: queueUrl(deadLetterQueues.ingest),
      'training-events': queueUrl(deadLetterQueues['training-events']),
      'endpoint-events': queueUrl(deadLetterQueues['endpoint-events']),
      'alarm-events': queueUrl(deadLetterQueues['alarm-events']),
      'drift-monitor': queueUrl(deadLetterQueues['drift-monitor']),
    },
    ingestQueueUrl: queueUrl(stack.ingest.queue),
  };
  const policyUser = (policy: CliPolicyName, id: string): IamPrincipal => ({
    sessionArn: `arn:aws:sts::${ACCOUNT}:assumed-role/oncall-${policy}/alice`,
    roleArn: `arn:aws:iam::${ACCOUNT}:role/oncall-${policy}`,
    account: ACCOUNT,
    identityPolicies: [{ name: id, policy: resolver.managedPolicy(id) }],
  });
  cli = {
    stack: cliStack,
    site: { ...site, stacks: { [cliStack.stackName]: cliStack.stackArn } },
    principals: {
      'read-only': policyUser('read-only', logicalId(stack.operatorAccess.readOnlyPolicy)),
      operator: policyUser('operator', logicalId(stack.operatorAccess.operatorPolicy)),
    },
    functionArns: {
      ingest: ingestFunctionArn,
      reconciler: functionOf(stack.reconciler).attributes.Arn,
      operator: functionOf(stack.operator).attributes.Arn,
    },
    tableArn: `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${harness.table}`,
  };
  scenario = await runPipelineScenario(harness);
  // On the same harness and table (the role is resolved for that table), on a model of its own;
  // here, before another harness's fakes replace this one's (aws-sdk-client-mock mocks the SDK's
  // prototypes, and a harness's stop restores them).
  operatorRun = await runOperatorScenario(harness);
  alarmPolicyRun = await runAlarmPolicyScenario(harness);
  cleanupOutdirs();
}, 240_000);

afterAll(async () => harness?.stop());

/** Every permission a handler's calls need, deduplicated, with the operation that needed it. */
function permissionsOf(handler: ScenarioHandler): { operation: string; permission: RequiredPermission }[] {
  return permissionsOfCalls(scenario.calls.filter((c) => c.handler === handler));
}

/** Every permission `calls` need, deduplicated, with the operation that needed it. */
function permissionsOfCalls(
  calls: readonly RecordedCall[],
): { operation: string; permission: RequiredPermission }[] {
  const seen = new Map<string, { operation: string; permission: RequiredPermission }>();
  for (const call of calls) {
    for (const permission of requiredPermissions(call, site)) {
      const key = JSON.stringify([permission.action, permission.resource, permission.context ?? {}]);
      if (!seen.has(key)) seen.set(key, { operation: `${call.service}.${call.operation}`, permission });
    }
  }
  return [...seen.values()];
}

async function decide(handler: ScenarioHandler, permission: RequiredPermission) {
  return evaluatePermission(principals.get(handler)!, permission, resourcePolicies);
}

describe('the scenario', () => {
  it('drove every Lambda handler, through the operations that matter', () => {
    const byHandler = (handler: ScenarioHandler) =>
      new Set(scenario.calls.filter((c) => c.handler === handler).map((c) => `${c.service}.${c.operation}`));
    expect([...new Set(scenario.calls.map((c) => c.handler))].sort()).toEqual(
      [...LAMBDA_HANDLERS, 'approval'].sort(),
    );
    const minimum: Record<Exclude<ScenarioHandler, 'approval'>, string[]> = {
      ingest: [
        's3.GetObject',
        's3.ListObjectsV2',
        's3.PutObject',
        'dynamodb.GetItem',
        'dynamodb.TransactWriteItems',
        'sagemaker.CreateTrainingJob',
        'sns.Publish',
      ],
      'training-events': [
        'sagemaker.DescribeTrainingJob',
        'sagemaker.CreateModel',
        'sagemaker.CreateEndpointConfig',
        'sagemaker.CreateEndpoint',
        'sagemaker.UpdateEndpoint',
        'sagemaker.DescribeEndpoint',
        'dynamodb.TransactWriteItems',
        'sns.Publish',
      ],
      'endpoint-events': [
        'sagemaker.DescribeEndpoint',
        'cloudwatch.PutMetricAlarm',
        'dynamodb.Query',
        'dynamodb.TransactWriteItems',
      ],
      'alarm-events': ['cloudwatch.DescribeAlarms', 'dynamodb.TransactWriteItems', 'sns.Publish'],
      monitor: ['dynamodb.Query', 'dynamodb.GetItem', 's3.GetObject', 's3.ListObjectsV2', 's3.PutObject'],
    };
    for (const [handler, operations] of Object.entries(minimum))
      expect([...byHandler(handler as ScenarioHandler)], handler).toEqual(expect.arrayContaining(operations));
  });

  it('needed the hidden permissions too (so their checks below are not vacuous)', () => {
    const actions = new Set(
      LAMBDA_HANDLERS.flatMap((handler) => permissionsOf(handler).map(({ permission }) => permission.action)),
    );
    for (const hidden of [
      'sagemaker:AddTags',
      'iam:PassRole',
      'cloudwatch:TagResource',
      'cloudwatch:DescribeAlarms',
      's3:GetObjectVersion',
      's3:ListBucket',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
      'kms:GenerateDataKey',
      'kms:Decrypt',
    ])
      expect(actions, hidden).toContain(hidden);
    const ingestResources = permissionsOf('ingest').map(({ permission }) => permission.resource);
    expect(ingestResources).toContainEqual(expect.stringMatching(/^arn:aws:s3:::mlops-data-123\/reports\//));
    // The monitor asks the status index which versions are in production.
    const queries = permissionsOf('monitor').filter(
      ({ permission }) => permission.action === 'dynamodb:Query',
    );
    expect(queries.map(({ permission }) => permission.resource)).toContainEqual(
      expect.stringMatching(/\/index\/byStatus$/),
    );
  });
});

describe('every call of every handler is allowed by its own role', () => {
  it.each(LAMBDA_HANDLERS.map((handler) => [handler]))('%s', async (handler) => {
    const denied: string[] = [];
    const checked = permissionsOf(handler);
    for (const { operation, permission } of checked) {
      const decision = await decide(handler, permission);
      if (!decision.allowed)
        denied.push(
          `${handler}: ${operation} needs ${permission.action} on ${permission.resource}` +
            `${permission.because ? ` (${permission.because})` : ''}: ${decision.result}, ${decision.reason}`,
        );
    }
    expect(checked.length).toBeGreaterThan(0);
    expect(denied).toEqual([]);
  });
});

describe('the evaluator can deny (the contract cannot pass vacuously)', () => {
  const object = (key: string) => `arn:aws:s3:::mlops-data-123/${key}`;
  const tls = { 'aws:SecureTransport': 'true', 's3:TlsVersion': '1.3' };

  it('denies the ingest role a write outside its prefixes, and reads outside its prefixes', async () => {
    for (const [action, key] of [
      ['s3:PutObject', 'artifacts/churn/model.tar.gz'],
      ['s3:PutObject', 'datasets/churn/overwritten.csv'],
      ['s3:GetObject', 'capture/churn/x.jsonl'],
    ] as const) {
      const decision = await decide('ingest', { action, resource: object(key), context: tls });
      expect(decision, `${action} ${key}`).toMatchObject({ allowed: false, result: 'ImplicitlyDenied' });
      expect(decision.reason).toMatch(/no statement of the role allows it/);
    }
    expect(
      await decide('ingest', {
        action: 's3:GetObject',
        resource: object('datasets/churn/a.csv'),
        context: tls,
      }),
    ).toMatchObject({ allowed: true });
  });

  it('denies a handler what another handler may do, and resources of other stacks', async () => {
    const table = `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${harness.table}`;
    expect(await decide('monitor', { action: 'dynamodb:PutItem', resource: table })).toMatchObject({
      allowed: false,
    });
    // (The alarm-events role deploys now: its `rollback` policy rolls out through DeployVersion.)
    expect(
      await decide('monitor', {
        action: 'sagemaker:CreateEndpoint',
        resource: `arn:aws:sagemaker:${REGION}:${ACCOUNT}:endpoint/mlops-churn`,
      }),
    ).toMatchObject({ allowed: false });
    expect(
      await decide('training-events', {
        action: 'sagemaker:CreateModel',
        resource: `arn:aws:sagemaker:${REGION}:${ACCOUNT}:model/other-churn`,
      }),
    ).toMatchObject({ allowed: false });
    expect(
      await decide('ingest', {
        action: 'iam:PassRole',
        resource: ROLE_ARN,
        context: { 'iam:PassedToService': 'ec2.amazonaws.com' },
      }),
    ).toMatchObject({ allowed: false });
  });

  it('applies resource policies: the bucket policy denies plain HTTP, the key policy gates KMS', async () => {
    const http = await decide('ingest', {
      action: 's3:GetObject',
      resource: object('datasets/churn/a.csv'),
      context: { 'aws:SecureTransport': 'false', 's3:TlsVersion': '1.3' },
    });
    expect(http).toMatchObject({ allowed: false, result: 'ExplicitlyDenied' });
    expect(http.reason).toMatch(/resource policy/);
    // The monitor never publishes: no KMS grant on the topic key.
    expect(await decide('monitor', { action: 'kms:GenerateDataKey', resource: TOPIC_KEY_ARN })).toMatchObject(
      { allowed: false },
    );
    // A key policy that does not trust the account makes the identity grant useless.
    const strictKey = new Map(resourcePolicies);
    strictKey.set(TOPIC_KEY_ARN, { Version: '2012-10-17', Statement: [] });
    const withoutTrust = await evaluatePermission(
      principals.get('ingest')!,
      { action: 'kms:GenerateDataKey', resource: TOPIC_KEY_ARN },
      strictKey,
    );
    expect(withoutTrust).toMatchObject({ allowed: false });
  });
});

describe('the action mapping', () => {
  const mapping: CallSite = {
    partition: 'aws',
    region: REGION,
    account: ACCOUNT,
    bucketKeys: { kms: 'arn:aws:kms:us-east-1:123456789012:key/k' },
    topicKeys: { [TOPIC_ARN]: TOPIC_KEY_ARN },
    queueKeys: { 'arn:aws:sqs:us-east-1:123456789012:kms-queue': TOPIC_KEY_ARN },
  };
  const actions = (service: RecordedCall['service'], operation: string, input: Record<string, unknown>) =>
    requiredPermissions({ service, operation, input }, mapping).map((p) => `${p.action} ${p.resource}`);

  it('maps the hidden permissions as documented', () => {
    expect(actions('s3', 'GetObject', { Bucket: 'b', Key: 'k', VersionId: 'v1' })).toEqual([
      's3:GetObjectVersion arn:aws:s3:::b/k',
      's3:ListBucket arn:aws:s3:::b',
    ]);
    expect(actions('s3', 'CreateMultipartUpload', { Bucket: 'kms', Key: 'k' })).toEqual([
      's3:PutObject arn:aws:s3:::kms/k',
      'kms:GenerateDataKey arn:aws:kms:us-east-1:123456789012:key/k',
      'kms:Decrypt arn:aws:kms:us-east-1:123456789012:key/k',
    ]);
    expect(actions('s3', 'AbortMultipartUpload', { Bucket: 'b', Key: 'k' })).toEqual([
      's3:AbortMultipartUpload arn:aws:s3:::b/k',
    ]);
    expect(
      actions('dynamodb', 'TransactWriteItems', {
        TransactItems: [
          { Put: { TableName: 't' } },
          { ConditionCheck: { TableName: 't' } },
          { Update: { TableName: 't' } },
        ],
      }),
    ).toEqual([
      `dynamodb:PutItem arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/t`,
      `dynamodb:ConditionCheckItem arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/t`,
      `dynamodb:UpdateItem arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/t`,
    ]);
    expect(actions('dynamodb', 'Query', { TableName: 't', IndexName: 'byStatus' })).toEqual([
      `dynamodb:Query arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/t/index/byStatus`,
    ]);
    expect(
      actions('sagemaker', 'CreateTrainingJob', {
        TrainingJobName: 'Mlops-A',
        RoleArn: ROLE_ARN,
        Tags: [{ Key: 'k', Value: 'v' }],
      }),
    ).toEqual([
      `sagemaker:CreateTrainingJob arn:aws:sagemaker:${REGION}:${ACCOUNT}:training-job/mlops-a`,
      `sagemaker:AddTags arn:aws:sagemaker:${REGION}:${ACCOUNT}:training-job/mlops-a`,
      `iam:PassRole ${ROLE_ARN}`,
    ]);
    expect(
      actions('cloudwatch', 'PutMetricAlarm', { AlarmName: 'a', Tags: [{ Key: 'k', Value: 'v' }] }),
    ).toEqual([
      `cloudwatch:PutMetricAlarm arn:aws:cloudwatch:${REGION}:${ACCOUNT}:alarm:a`,
      `cloudwatch:TagResource arn:aws:cloudwatch:${REGION}:${ACCOUNT}:alarm:a`,
    ]);
    expect(actions('sns', 'Publish', { TopicArn: TOPIC_ARN, Message: 'm' })).toEqual([
      `sns:Publish ${TOPIC_ARN}`,
      `kms:GenerateDataKey ${TOPIC_KEY_ARN}`,
      `kms:Decrypt ${TOPIC_KEY_ARN}`,
    ]);
    expect(() => actions('sns', 'Subscribe', {})).toThrow(/no IAM mapping for sns\.Subscribe/);
  });

  it("maps the reconciler's listing and re-delivery", () => {
    expect(actions('s3', 'ListObjectVersions', { Bucket: 'b', Prefix: 'datasets/' })).toEqual([
      's3:ListBucketVersions arn:aws:s3:::b',
    ]);
    const queue = (name: string) => `https://sqs.us-east-1.amazonaws.com/${ACCOUNT}/${name}`;
    expect(actions('sqs', 'SendMessage', { QueueUrl: queue('ingest'), MessageBody: '{}' })).toEqual([
      `sqs:SendMessage arn:aws:sqs:us-east-1:${ACCOUNT}:ingest`,
    ]);
    // SSE-KMS: the producer needs the key too; SSE-SQS (the ingest queue) needs nothing more.
    expect(actions('sqs', 'SendMessage', { QueueUrl: queue('kms-queue'), MessageBody: '{}' })).toEqual([
      `sqs:SendMessage arn:aws:sqs:us-east-1:${ACCOUNT}:kms-queue`,
      `kms:GenerateDataKey ${TOPIC_KEY_ARN}`,
      `kms:Decrypt ${TOPIC_KEY_ARN}`,
    ]);
    const fn = `arn:aws:lambda:us-east-1:${ACCOUNT}:function:f`;
    for (const [name, qualifier, expected] of [
      [fn, undefined, fn],
      ['f', undefined, fn],
      [`${ACCOUNT}:function:f`, undefined, fn],
      ['f', 'live', `${fn}:live`],
      [`${fn}:3`, undefined, `${fn}:3`],
    ] as const)
      expect(
        actions('lambda', 'Invoke', {
          FunctionName: name,
          InvocationType: 'Event',
          ...(qualifier ? { Qualifier: qualifier } : {}),
        }),
      ).toEqual([`lambda:InvokeFunction ${expected}`]);
    expect(() => actions('lambda', 'InvokeAsync', { FunctionName: 'f' })).toThrow(
      /no IAM mapping for lambda\.InvokeAsync/,
    );
    expect(() => actions('sqs', 'SendMessage', { QueueUrl: 'ingest' })).toThrow(/not an SQS queue URL/);
  });
});

describe('the reconciler: every call of every repair is allowed by its role', () => {
  let reconcilerHarness: PipelineHarness;
  let deployed: ReconcilerDeployment;
  let run: ReconcilerScenario;
  let needed: { operation: string; permission: RequiredPermission }[];
  const decideReconciler = (permission: RequiredPermission) =>
    evaluatePermission(deployed.principal, permission, deployed.resourcePolicies);

  beforeAll(async () => {
    // A harness of its own: the situations use model names the pipeline scenario uses too.
    reconcilerHarness = await startPipelineHarness();
    deployed = reconcilerDeployment(reconcilerHarness.table);
    run = await runReconcilerScenario(reconcilerHarness, { targets: deployed.targets });
    needed = permissionsOfCalls(run.calls);
  }, 240_000);
  afterAll(async () => reconcilerHarness?.stop());

  it('made every call of every repair, and needed the hidden permissions (so the check is not vacuous)', () => {
    const operations = new Set(run.calls.map((c) => `${c.service}.${c.operation}`));
    expect([...operations]).toEqual(
      expect.arrayContaining([
        // The dataset scan and its cursor.
        's3.ListObjectVersions',
        's3.GetObject',
        's3.PutObject',
        'dynamodb.Query',
        'dynamodb.GetItem',
        // Only events that were lost are re-delivered.
        'sagemaker.DescribeTrainingJob',
        'sagemaker.DescribeEndpoint',
        // Rollouts re-applied (DeployVersion on a DEPLOYING version)...
        'sagemaker.CreateEndpoint',
        'sagemaker.UpdateEndpoint',
        'dynamodb.TransactWriteItems',
        // ... one refused for good: DEPLOY_FAILED, notified, and the version waiting rolled out.
        'sns.Publish',
        'sagemaker.CreateModel',
        'sagemaker.CreateEndpointConfig',
        // Re-delivery.
        'sqs.SendMessage',
        'lambda.Invoke',
      ]),
    );
    // A missing cursor answers 404 only with s3:ListBucket (checked below like every permission).
    expect(run.calls).toContainEqual(
      expect.objectContaining({ operation: 'GetObject', outcome: 'NoSuchKey' }),
    );
    const actions = new Set(needed.map(({ permission }) => permission.action));
    for (const hidden of [
      's3:ListBucketVersions',
      's3:ListBucket',
      'sagemaker:AddTags',
      'cloudwatch:DescribeAlarms',
      'iam:PassRole',
      'kms:GenerateDataKey',
      'dynamodb:UpdateItem',
      'sqs:SendMessage',
      'lambda:InvokeFunction',
    ])
      expect(actions, hidden).toContain(hidden);
    const resources = (action: string) =>
      needed
        .filter(({ permission }) => permission.action === action)
        .map(({ permission }) => permission.resource);
    expect(resources('lambda:InvokeFunction').sort()).toEqual(
      [deployed.targets.trainingEventsFunction, deployed.targets.endpointEventsFunction].sort(),
    );
    expect(resources('sqs:SendMessage')).toEqual([
      expect.stringMatching(/^arn:aws:sqs:us-east-1:123456789012:ServerlessMlops-IngestQueue/),
    ]);
    expect(resources('s3:PutObject')).toEqual([
      `arn:aws:s3:::${reconcilerHarness.s3.bucket}/reports/_reconciler/datasets-cursor.json`,
    ]);
    expect(resources('dynamodb:Query')).toContainEqual(expect.stringMatching(/\/index\/byStatus$/));
  });

  it('is allowed every one of them by the reconciler role', async () => {
    const denied: string[] = [];
    for (const { operation, permission } of needed) {
      const decision = await decideReconciler(permission);
      if (!decision.allowed)
        denied.push(
          `reconciler: ${operation} needs ${permission.action} on ${permission.resource}` +
            `${permission.because ? ` (${permission.because})` : ''}: ${decision.result}, ${decision.reason}`,
        );
    }
    expect(needed.length).toBeGreaterThan(0);
    expect(denied).toEqual([]);
  });

  it('is denied what it does not need (the evaluator can deny it)', async () => {
    const tls = { 'aws:SecureTransport': 'true', 's3:TlsVersion': '1.3' };
    const bucket = `arn:aws:s3:::${reconcilerHarness.s3.bucket}`;
    const endpoint = `arn:aws:sagemaker:${REGION}:${ACCOUNT}:endpoint/mlops-churn`;
    for (const [what, permission] of [
      [
        'list versions outside datasets/',
        { action: 's3:ListBucketVersions', resource: bucket, context: { ...tls, 's3:prefix': 'models/' } },
      ],
      [
        'write another object',
        { action: 's3:PutObject', resource: `${bucket}/reports/churn/drift.json`, context: tls },
      ],
      [
        'read a dataset',
        { action: 's3:GetObject', resource: `${bucket}/datasets/churn/a.csv`, context: tls },
      ],
      [
        'send to another queue',
        { action: 'sqs:SendMessage', resource: `arn:aws:sqs:${REGION}:${ACCOUNT}:other` },
      ],
      ['invoke the ingest function', { action: 'lambda:InvokeFunction', resource: ingestFunctionArn }],
      [
        'create a model of another stack',
        {
          action: 'sagemaker:CreateModel',
          resource: `arn:aws:sagemaker:${REGION}:${ACCOUNT}:model/other-churn-v1`,
        },
      ],
      [
        'start a training job',
        {
          action: 'sagemaker:CreateTrainingJob',
          resource: `arn:aws:sagemaker:${REGION}:${ACCOUNT}:training-job/mlops-churn-v9`,
        },
      ],
      [
        'pass the SageMaker role to another service',
        {
          action: 'iam:PassRole',
          resource: ROLE_ARN,
          context: { 'iam:PassedToService': 'ec2.amazonaws.com' },
        },
      ],
      [
        'create an alarm',
        {
          action: 'cloudwatch:PutMetricAlarm',
          resource: `arn:aws:cloudwatch:${REGION}:${ACCOUNT}:alarm:mlops-churn-error-rate`,
        },
      ],
      [
        'update an endpoint of another stack',
        { action: 'sagemaker:UpdateEndpoint', resource: endpoint.replace('mlops-', 'other-') },
      ],
    ] as [string, RequiredPermission][]) {
      expect(await decideReconciler(permission), what).toMatchObject({ allowed: false });
    }
    // ... while the same evaluation allows what it does need.
    expect(await decideReconciler({ action: 'sagemaker:UpdateEndpoint', resource: endpoint })).toMatchObject({
      allowed: true,
    });
  });
});

describe('the operator function: every call of every command is allowed by its role', () => {
  let run: OperatorScenario;
  let needed: { operation: string; permission: RequiredPermission }[];
  const decideOperator = (permission: RequiredPermission) =>
    evaluatePermission(operatorPrincipal, permission, resourcePolicies);

  beforeAll(() => {
    run = operatorRun;
    needed = permissionsOfCalls(run.calls);
  });

  it('ran approve, rollback, retrain and reject, through the calls that matter (so the check is not vacuous)', () => {
    const operations = (command: string) =>
      new Set(run.calls.filter((c) => c.command === command).map((c) => `${c.service}.${c.operation}`));
    expect([...operations('approve')]).toEqual(
      expect.arrayContaining([
        'dynamodb.TransactWriteItems',
        'sagemaker.CreateModel',
        'sagemaker.CreateEndpointConfig',
        'sagemaker.CreateEndpoint',
        'sagemaker.UpdateEndpoint',
        'sagemaker.DescribeEndpoint',
      ]),
    );
    expect([...operations('rollback')]).toEqual(
      expect.arrayContaining(['dynamodb.TransactWriteItems', 'sagemaker.UpdateEndpoint']),
    );
    expect([...operations('retrain')]).toEqual(
      expect.arrayContaining(['s3.GetObject', 'dynamodb.TransactWriteItems', 'sagemaker.CreateTrainingJob']),
    );
    expect([...operations('reject')]).toEqual(expect.arrayContaining(['dynamodb.TransactWriteItems']));
    const actions = new Set(needed.map(({ permission }) => permission.action));
    for (const hidden of [
      'iam:PassRole',
      'sagemaker:AddTags',
      'cloudwatch:DescribeAlarms',
      'dynamodb:UpdateItem',
      'dynamodb:ConditionCheckItem',
      's3:ListBucket',
    ])
      expect(actions, hidden).toContain(hidden);
  });

  it('is allowed every one of them by the operator function role', async () => {
    const denied: string[] = [];
    for (const { operation, permission } of needed) {
      const decision = await decideOperator(permission);
      if (!decision.allowed)
        denied.push(
          `operator: ${operation} needs ${permission.action} on ${permission.resource}` +
            `${permission.because ? ` (${permission.because})` : ''}: ${decision.result}, ${decision.reason}`,
        );
    }
    expect(needed.length).toBeGreaterThan(0);
    expect(denied).toEqual([]);
  });

  it('is denied what no command needs (the evaluator can deny it)', async () => {
    const tls = { 'aws:SecureTransport': 'true', 's3:TlsVersion': '1.3' };
    const bucket = `arn:aws:s3:::${harness.s3.bucket}`;
    for (const [what, permission] of [
      [
        'write a dataset',
        { action: 's3:PutObject', resource: `${bucket}/datasets/fraud/x.csv`, context: tls },
      ],
      [
        'read a dataset',
        { action: 's3:GetObject', resource: `${bucket}/datasets/fraud/x.csv`, context: tls },
      ],
      [
        'write a model config',
        { action: 's3:PutObject', resource: `${bucket}/models/fraud/config.json`, context: tls },
      ],
      ['scan the registry', { action: 'dynamodb:Scan', resource: cli.tableArn }],
      [
        'create an alarm',
        {
          action: 'cloudwatch:PutMetricAlarm',
          resource: `arn:aws:cloudwatch:${REGION}:${ACCOUNT}:alarm:mlops-fraud-error-rate`,
        },
      ],
      ['invoke another function', { action: 'lambda:InvokeFunction', resource: cli.functionArns.ingest }],
      [
        'start a job of another stack',
        {
          action: 'sagemaker:CreateTrainingJob',
          resource: `arn:aws:sagemaker:${REGION}:${ACCOUNT}:training-job/other-fraud-v1`,
        },
      ],
      [
        'pass the role to another service',
        {
          action: 'iam:PassRole',
          resource: ROLE_ARN,
          context: { 'iam:PassedToService': 'ec2.amazonaws.com' },
        },
      ],
    ] as [string, RequiredPermission][])
      expect(await decideOperator(permission), what).toMatchObject({ allowed: false });
  });
});

describe('the alarm policies: every call of a rollback and a retrain is allowed by the alarm-events role', () => {
  let needed: { operation: string; permission: RequiredPermission }[];
  beforeAll(() => {
    needed = permissionsOfCalls(alarmPolicyRun.calls);
  });

  it('rolled back and retrained, through the calls that matter (so the check is not vacuous)', () => {
    expect(alarmPolicyRun.actions).toMatchObject({
      rollback: { kind: 'rollback', status: 'started' },
      retrain: { kind: 'retrain', status: 'started' },
    });
    const operations = (policy: string) =>
      new Set(
        alarmPolicyRun.calls.filter((c) => c.policy === policy).map((c) => `${c.service}.${c.operation}`),
      );
    expect([...operations('rollback')]).toEqual(
      expect.arrayContaining([
        'sagemaker.CreateModel',
        'sagemaker.CreateEndpointConfig',
        'sagemaker.UpdateEndpoint',
      ]),
    );
    expect([...operations('retrain')]).toEqual(
      expect.arrayContaining(['s3.ListObjectsV2', 's3.GetObject', 'sagemaker.CreateTrainingJob']),
    );
    const resources = needed.map(({ permission }) => `${permission.action} ${permission.resource}`);
    expect(resources).toContainEqual(
      expect.stringMatching(/^s3:GetObject .*\/reports\/scoring\/monitoring\/.*\/drift\.json$/),
    );
    expect(resources).toContainEqual(
      expect.stringMatching(/^s3:GetObject .*\/models\/scoring\/config\.json$/),
    );
    expect(resources).toContainEqual(expect.stringMatching(/^iam:PassRole /));
  });

  it('is allowed every one of them by the alarm-events role', async () => {
    const denied: string[] = [];
    for (const { operation, permission } of needed) {
      const decision = await decide('alarm-events', permission);
      if (!decision.allowed)
        denied.push(
          `alarm-events: ${operation} needs ${permission.action} on ${permission.resource}` +
            `${permission.because ? ` (${permission.because})` : ''}: ${decision.result}, ${decision.reason}`,
        );
    }
    expect(needed.length).toBeGreaterThan(0);
    expect(denied).toEqual([]);
  });

  it("is denied the reports that are not the drift monitor's, and writes to the bucket", async () => {
    const tls = { 'aws:SecureTransport': 'true', 's3:TlsVersion': '1.3' };
    const bucket = `arn:aws:s3:::${harness.s3.bucket}`;
    for (const key of ['reports/scoring/batch-31/statistics.json', 'datasets/scoring/batch-31.csv'])
      expect(
        await decide('alarm-events', { action: 's3:GetObject', resource: `${bucket}/${key}`, context: tls }),
        key,
      ).toMatchObject({ allowed: false });
    expect(
      await decide('alarm-events', {
        action: 's3:PutObject',
        resource: `${bucket}/models/scoring/config.json`,
        context: tls,
      }),
    ).toMatchObject({ allowed: false });
  });
});

describe("the mlops CLI's calls against the two managed policies", () => {
  let calls: CliAwsCall[];
  const needs = (call: CliAwsCall) => requiredPermissions(call, cli.site);
  const decideCli = (policy: CliPolicyName, permission: RequiredPermission) =>
    evaluatePermission(cli.principals[policy], permission, resourcePolicies);
  /** The permissions of `call` that `policy` denies, in words. */
  const deniedTo = async (policy: CliPolicyName, call: CliAwsCall) => {
    const denied: string[] = [];
    for (const permission of needs(call)) {
      const decision = await decideCli(policy, permission);
      if (!decision.allowed)
        denied.push(
          `${call.command}: ${call.service}.${call.operation} needs ${permission.action} on ${permission.resource}: ${decision.reason}`,
        );
    }
    return denied;
  };

  beforeAll(() => {
    calls = cliAwsCalls(cli.stack);
  });

  it('lists every command and every kind of permission (so the checks below are not vacuous)', () => {
    expect([...new Set(calls.map((c) => c.command))].sort()).toEqual(
      [...CLI_READ_COMMANDS, ...CLI_MUTATING_COMMANDS].sort(),
    );
    const actions = new Set(calls.flatMap((call) => needs(call).map((p) => p.action)));
    expect([...actions].sort()).toEqual(
      [
        'cloudformation:DescribeStacks',
        'cloudwatch:DescribeAlarms',
        'dynamodb:GetItem',
        'dynamodb:Query',
        'lambda:InvokeFunction',
        's3:AbortMultipartUpload',
        's3:GetObject',
        's3:ListBucket',
        's3:ListMultipartUploadParts',
        's3:PutObject',
        'sqs:DeleteMessage',
        'sqs:GetQueueAttributes',
        'sqs:ListMessageMoveTasks',
        'sqs:ReceiveMessage',
        'sqs:SendMessage',
        'sqs:StartMessageMoveTask',
      ].sort(),
    );
    // The fleet and the open incidents come from the status index, never a Scan.
    expect(calls.flatMap(needs).map((p) => p.resource)).toContainEqual(
      expect.stringMatching(/\/index\/byStatus$/),
    );
    // STS GetCallerIdentity (the actor of a command) needs no permission.
    expect(calls.filter((c) => c.service === 'sts').flatMap(needs)).toEqual([]);
  });

  it('the operator policy allows every call of every command', async () => {
    const denied = (await Promise.all(calls.map((call) => deniedTo('operator', call)))).flat();
    expect(denied).toEqual([]);
  });

  it('the read-only policy allows every read, and denies every call that changes something', async () => {
    const readsDenied: string[] = [];
    const mutationsAllowed: string[] = [];
    for (const call of calls) {
      const denied = await deniedTo('read-only', call);
      if (call.policy === 'read-only') readsDenied.push(...denied);
      else if (denied.length === 0)
        mutationsAllowed.push(`${call.command}: ${call.service}.${call.operation}`);
    }
    expect(readsDenied).toEqual([]);
    expect(mutationsAllowed).toEqual([]);
    // Every read command needs nothing but the read-only policy.
    for (const command of CLI_READ_COMMANDS)
      expect(
        calls.filter((c) => c.command === command && c.policy !== 'read-only'),
        command,
      ).toEqual([]);
  });

  it('the read-only policy denies invoking, uploading and deleting dead letters', async () => {
    const tls = { 'aws:SecureTransport': 'true', 's3:TlsVersion': '1.3' };
    const dlq = queueArnOf(cli.stack.deadLetterQueueUrls['training-events']);
    for (const [what, permission] of [
      ['run a command', { action: 'lambda:InvokeFunction', resource: cli.functionArns.operator }],
      [
        'upload a dataset',
        {
          action: 's3:PutObject',
          resource: `arn:aws:s3:::${cli.stack.dataBucket}/datasets/churn/a.csv`,
          context: tls,
        },
      ],
      [
        'delete a dead letter',
        { action: 'sqs:DeleteMessage', resource: dlq, context: { 'aws:SecureTransport': 'true' } },
      ],
    ] as [string, RequiredPermission][]) {
      expect(await decideCli('read-only', permission), what).toMatchObject({
        allowed: false,
        result: 'ImplicitlyDenied',
      });
      expect(await decideCli('operator', permission), what).toMatchObject({ allowed: true });
    }
  });

  it('neither policy allows more than the CLI needs', async () => {
    const tls = { 'aws:SecureTransport': 'true', 's3:TlsVersion': '1.3' };
    const bucket = `arn:aws:s3:::${cli.stack.dataBucket}`;
    const arn = (service: string, resource: string) => `arn:aws:${service}:${REGION}:${ACCOUNT}:${resource}`;
    for (const [what, permission] of [
      ['write the registry', { action: 'dynamodb:PutItem', resource: cli.tableArn }],
      ['scan the registry', { action: 'dynamodb:Scan', resource: cli.tableArn }],
      [
        'read a dataset',
        { action: 's3:GetObject', resource: `${bucket}/datasets/churn/a.csv`, context: tls },
      ],
      [
        'overwrite a model config',
        { action: 's3:PutObject', resource: `${bucket}/models/churn/config.json`, context: tls },
      ],
      [
        'write a report',
        { action: 's3:PutObject', resource: `${bucket}/reports/churn/x.json`, context: tls },
      ],
      [
        'delete a dataset',
        { action: 's3:DeleteObject', resource: `${bucket}/datasets/churn/a.csv`, context: tls },
      ],
      ['invoke the ingest function', { action: 'lambda:InvokeFunction', resource: cli.functionArns.ingest }],
      ['invoke the reconciler', { action: 'lambda:InvokeFunction', resource: cli.functionArns.reconciler }],
      [
        'purge a dead-letter queue',
        { action: 'sqs:PurgeQueue', resource: queueArnOf(cli.stack.deadLetterQueueUrls.ingest) },
      ],
      [
        'move messages out of another DLQ',
        {
          action: 'sqs:StartMessageMoveTask',
          resource: queueArnOf(cli.stack.deadLetterQueueUrls['alarm-events']),
        },
      ],
      [
        'describe another stack',
        { action: 'cloudformation:DescribeStacks', resource: arn('cloudformation', 'stack/Other/1') },
      ],
      [
        'read the stack operational alarms',
        {
          action: 'cloudwatch:DescribeAlarms',
          resource: arn('cloudwatch', 'alarm:ServerlessMlops-ops-ingest-dlq'),
        },
      ],
      [
        'update an endpoint',
        { action: 'sagemaker:UpdateEndpoint', resource: arn('sagemaker', 'endpoint/mlops-churn') },
      ],
      [
        'pass the SageMaker role',
        {
          action: 'iam:PassRole',
          resource: ROLE_ARN,
          context: { 'iam:PassedToService': 'sagemaker.amazonaws.com' },
        },
      ],
      ['publish a notification', { action: 'sns:Publish', resource: TOPIC_ARN }],
    ] as [string, RequiredPermission][])
      for (const policy of ['read-only', 'operator'] as const)
        expect(await decideCli(policy, permission), `${policy}: ${what}`).toMatchObject({ allowed: false });
  });

  it('covers every call the CLI declares it makes (cli/target/aws-calls.ts), with the same policy', () => {
    const resourceKinds: Record<string, (resource: string) => boolean> = {
      stack: (r) => r === cli.stack.stackArn,
      'registry-table': (r) => r === cli.tableArn || r.startsWith(`${cli.tableArn}/index/`),
      'model-alarms': (r) =>
        r.startsWith(`arn:aws:cloudwatch:${REGION}:${ACCOUNT}:alarm:${cli.stack.resourcePrefix}-`),
      caller: () => true,
      'operator-function': (r) => r === cli.functionArns.operator,
      'datasets-objects': (r) => r.startsWith(`arn:aws:s3:::${cli.stack.dataBucket}/datasets/`),
      'dead-letter-queues': (r) => Object.values(cli.stack.deadLetterQueueUrls).map(queueArnOf).includes(r),
      'ingest-queue': (r) => r === queueArnOf(cli.stack.ingestQueueUrl),
      'lifecycle-functions': (r) =>
        Object.values(cli.stack.redriveFunctions).some((name) => r.endsWith(`:function:${name}`)),
    };
    const missing: string[] = [];
    for (const [command, declared] of Object.entries(CLI_DECLARED_CALLS)) {
      const ours = calls.filter((c) => c.command === command);
      if (ours.length === 0) {
        missing.push(`${command}: not in support/cli-aws-calls.ts`);
        continue;
      }
      const policy = ours.some((c) => c.policy === 'operator') ? 'operator' : 'read-only';
      if (policy !== declared.policy)
        missing.push(`${command}: declared ${declared.policy}, needs ${policy}`);
      const permissions = ours.flatMap(needs);
      for (const { action, resource } of declared.calls) {
        const kind = resourceKinds[resource];
        if (!kind) {
          missing.push(`${command}: ${action} on "${resource}", a resource kind this test does not know`);
          continue;
        }
        const covered =
          action === 'sts:GetCallerIdentity'
            ? ours.some((c) => c.service === 'sts' && c.operation === 'GetCallerIdentity')
            : permissions.some((p) => p.action === action && kind(p.resource));
        if (!covered) missing.push(`${command}: ${action} on ${resource}`);
      }
    }
    expect(missing).toEqual([]);
  });
});

/** A queue's ARN from its URL (as IAM names it). */
function queueArnOf(url: string): string {
  return queueArnOfUrl({ partition: PARTITION, region: REGION, account: ACCOUNT }, url);
}
