/**
 * The CLI against a deployed stack (`--stack`), on SDK clients mocked per instance: the stack's
 * outputs from CloudFormation, the operator commands as a Lambda Invoke whose payload is the
 * command with the STS caller as actor, alarm states by name, `dlq` and `dlq --redrive` through
 * SQS and Lambda; and every call each command makes is one cli/target/aws-calls.ts declares.
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { CloudWatchClient, DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import {
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { createDlqCommand } from '../../../cli/commands/dlq';
import {
  createApproveCommand,
  createRetrainCommand,
  createRollbackCommand,
} from '../../../cli/commands/operate';
import { CLI_AWS_CALLS } from '../../../cli/target/aws-calls';
import { awsTarget, type AwsClients } from '../../../cli/target/aws-target';
import { CliError } from '../../../cli/command';
import { run } from '../support/cli-fakes';

const OUTPUTS: Record<string, string> = {
  DataBucketName: 'data-bucket',
  RegistryTableName: 'registry',
  ResourcePrefix: 'mlops',
  OperatorFunctionName: 'mlops-operator',
  IngestQueueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/ingest',
  IngestDeadLetterQueueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/ingest-dlq',
  TrainingEventsDeadLetterQueueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/training-dlq',
  EndpointEventsDeadLetterQueueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/endpoint-dlq',
  AlarmEventsDeadLetterQueueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/alarm-dlq',
  DriftMonitorDeadLetterQueueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/drift-dlq',
  TrainingEventsFunctionName: 'mlops-training-events',
  EndpointEventsFunctionName: 'mlops-endpoint-events',
  AlarmEventsFunctionName: 'mlops-alarm-events',
  DriftMonitorFunctionName: 'mlops-drift-monitor',
};
const ARN = 'arn:aws:sts::123456789012:assumed-role/oncall/alice';

type Mocks = { [K in keyof AwsClients]: ReturnType<typeof mockClient> };
let clients: AwsClients;
let mocks: Mocks;

function stack(outputs: Record<string, string> = OUTPUTS) {
  const region = { region: 'eu-west-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } };
  clients = {
    cloudFormation: new CloudFormationClient(region),
    dynamodb: new DynamoDBClient(region),
    cloudWatch: new CloudWatchClient(region),
    lambda: new LambdaClient(region),
    sts: new STSClient(region),
    s3: new S3Client(region),
    sqs: new SQSClient(region),
  };
  mocks = Object.fromEntries(
    Object.entries(clients).map(([k, c]) => [k, mockClient(c as never)]),
  ) as unknown as Mocks;
  mocks.cloudFormation.on(DescribeStacksCommand, { StackName: 'Prod' }).resolves({
    Stacks: [
      {
        StackName: 'Prod',
        CreationTime: new Date(),
        StackStatus: 'CREATE_COMPLETE',
        Outputs: Object.entries(outputs).map(([OutputKey, OutputValue]) => ({ OutputKey, OutputValue })),
      },
    ],
  } as never);
  mocks.sts.on(GetCallerIdentityCommand).resolves({ Arn: ARN, Account: '123456789012' });
  return (options: { stack: string; region?: string }) => awsTarget(options, clients);
}

afterEach(() => {
  for (const mock of Object.values(mocks ?? {})) mock.restore();
});

/** Every call made through the mocked clients, as IAM actions (`service:Operation`). */
function actionsCalled(): string[] {
  const service: Record<keyof AwsClients, string> = {
    cloudFormation: 'cloudformation',
    dynamodb: 'dynamodb',
    cloudWatch: 'cloudwatch',
    lambda: 'lambda',
    sts: 'sts',
    s3: 's3',
    sqs: 'sqs',
  };
  return (Object.keys(mocks) as (keyof AwsClients)[]).flatMap((k) =>
    mocks[k].calls().map((call) => {
      const operation = (call.args[0] as { constructor: { name: string } }).constructor.name.replace(
        /Command$/,
        '',
      );
      return `${service[k]}:${operation === 'Invoke' ? 'InvokeFunction' : operation}`;
    }),
  );
}

function expectDeclared(command: string): void {
  const declared = new Set(CLI_AWS_CALLS[command]!.calls.map((c) => c.action));
  for (const action of actionsCalled()) expect(declared, `${command} calls ${action}`).toContain(action);
}

const ok = (payload: unknown) => ({
  StatusCode: 200,
  Payload: new TextEncoder().encode(JSON.stringify(payload)),
});

describe('operator commands through the operator function', () => {
  it('approve: invokes OperatorFunctionName with the command, actor = the STS caller ARN', async () => {
    const resolve = stack();
    mocks.lambda
      .on(InvokeCommand)
      .resolves(
        ok({ ok: true, action: 'approve', model: 'churn', version: 3, message: 'approved' }) as never,
      );
    const result = await run(
      [createApproveCommand((o) => resolve({ stack: o.stack!, region: o.region! }))],
      ['approve', 'churn', '3', '--stack', 'Prod', '--region', 'eu-west-1'],
    );
    expect(result.code).toBe(0);
    const invoke = mocks.lambda.commandCalls(InvokeCommand)[0]!.args[0].input;
    expect(invoke.FunctionName).toBe('mlops-operator');
    expect(invoke.InvocationType).toBe('RequestResponse');
    expect(JSON.parse(new TextDecoder().decode(invoke.Payload as Uint8Array))).toEqual({
      action: 'approve',
      model: 'churn',
      version: 3,
      actor: ARN,
    });
    expectDeclared('approve');
  });

  it.each([
    [
      ['rollback', 'churn', '--to', '1'],
      { action: 'rollback', model: 'churn', to: 1, actor: ARN },
      'rollback',
    ],
    [
      ['retrain', 'churn', '--dataset', 'd-1', '--request-id', 'r-1'],
      { action: 'retrain', model: 'churn', datasetId: 'd-1', requestId: 'r-1', actor: ARN },
      'retrain',
    ],
  ])('%j sends the same command the pipeline would run', async (args, command, name) => {
    const resolve = stack();
    mocks.lambda
      .on(InvokeCommand)
      .resolves(ok({ ok: false, error: { code: 'conflict', message: 'a rollout is in flight' } }) as never);
    const resolver = (o: { stack?: string }) => resolve({ stack: o.stack! });
    const commands = [createRollbackCommand(resolver), createRetrainCommand(resolver)];
    const result = await run(commands, [...args, '--stack', 'Prod']);
    expect(result.code).toBe(4);
    expect(result.stderr).toBe('conflict: a rollout is in flight\n');
    const payload = mocks.lambda.commandCalls(InvokeCommand)[0]!.args[0].input.Payload;
    expect(JSON.parse(new TextDecoder().decode(payload as Uint8Array))).toEqual(command);
    expectDeclared(name);
  });

  it('a function error (a crash, not a refusal) is exit 1 with its message', async () => {
    const resolve = stack();
    mocks.lambda.on(InvokeCommand).resolves({
      StatusCode: 200,
      FunctionError: 'Unhandled',
      Payload: new TextEncoder().encode('{"errorMessage":"boom"}'),
    } as never);
    const result = await run(
      [createApproveCommand((o) => resolve({ stack: o.stack! }))],
      ['approve', 'churn', '3', '--stack', 'Prod'],
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      'the operator function mlops-operator failed (Unhandled): {"errorMessage":"boom"}',
    );
  });
});

describe('resolving the stack', () => {
  it('reads bucket, table and prefix from the outputs', async () => {
    const target = await stack()({ stack: 'Prod' });
    expect(target).toMatchObject({
      kind: 'aws',
      bucket: 'data-bucket',
      resourcePrefix: 'mlops',
      description: 'stack Prod (eu-west-1)',
    });
    target.close();
  });

  it('a stack that does not exist is exit code 3 naming --stack and --region', async () => {
    stack();
    mocks.cloudFormation
      .on(DescribeStacksCommand, { StackName: 'Gone' })
      .rejects(Object.assign(new Error('Stack with id Gone does not exist'), { name: 'ValidationError' }));
    const error = await awsTarget({ stack: 'Gone' }, clients).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CliError);
    expect(error).toMatchObject({
      exitCode: 3,
      message: expect.stringContaining('no stack Gone in eu-west-1') as unknown,
    });
  });

  it('missing credentials say how to configure them', async () => {
    stack();
    mocks.cloudFormation.on(DescribeStacksCommand).rejects(
      Object.assign(new Error('Could not load credentials from any providers'), {
        name: 'CredentialsProviderError',
      }),
    );
    const result = await run(
      [createApproveCommand(() => awsTarget({ stack: 'Prod' }, clients))],
      ['approve', 'churn', '3', '--stack', 'Prod'],
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('no AWS credentials found');
  });

  it('a stack without the operator function output says to deploy this version', async () => {
    const older = Object.fromEntries(
      Object.entries(OUTPUTS).filter(([key]) => key !== 'OperatorFunctionName'),
    );
    const resolve = stack(older);
    const result = await run(
      [createApproveCommand((o) => resolve({ stack: o.stack! }))],
      ['approve', 'churn', '3', '--stack', 'Prod'],
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('stack Prod has no OperatorFunctionName output');
  });

  it('reads alarm states by name, the five of each model', async () => {
    const target = await stack()({ stack: 'Prod' });
    mocks.cloudWatch.on(DescribeAlarmsCommand).resolves({
      MetricAlarms: [
        {
          AlarmName: 'mlops-churn-error-rate',
          StateValue: 'ALARM',
          StateReason: 'errors',
          StateUpdatedTimestamp: new Date('2026-01-01T00:00:00Z'),
          Threshold: 0.05,
        },
      ],
    } as never);
    expect(await target.alarms.listAlarms(['churn'])).toEqual([
      {
        name: 'mlops-churn-error-rate',
        state: 'ALARM',
        reason: 'errors',
        updatedAt: '2026-01-01T00:00:00.000Z',
        threshold: 0.05,
        model: 'churn',
      },
    ]);
    expect(mocks.cloudWatch.commandCalls(DescribeAlarmsCommand)[0]!.args[0].input.AlarmNames).toEqual([
      'mlops-churn-latency-anomaly',
      'mlops-churn-invocations-anomaly',
      'mlops-churn-error-rate',
      'mlops-churn-feature-drift',
      'mlops-churn-prediction-drift',
    ]);
    target.close();
  });
});

describe('mlops dlq --stack', () => {
  const depth = (url: string, messages: number) =>
    mocks.sqs.on(GetQueueAttributesCommand, { QueueUrl: url }).resolves({
      Attributes: {
        QueueArn: `arn:aws:sqs:eu-west-1:123456789012:${url.split('/').at(-1)!}`,
        ApproximateNumberOfMessages: String(messages),
        ApproximateNumberOfMessagesNotVisible: '0',
      },
    });

  function setUp() {
    const resolve = stack();
    for (const key of Object.keys(OUTPUTS).filter((k) => k.endsWith('QueueUrl'))) depth(OUTPUTS[key]!, 0);
    depth(OUTPUTS.IngestDeadLetterQueueUrl!, 2);
    depth(OUTPUTS.TrainingEventsDeadLetterQueueUrl!, 1);
    const record = {
      requestContext: { condition: 'RetriesExhausted' },
      requestPayload: {
        'detail-type': 'SageMaker Training Job State Change',
        detail: { TrainingJobName: 'j' },
      },
      responsePayload: { errorMessage: 'Throttled' },
    };
    mocks.sqs.on(ReceiveMessageCommand).resolves({ Messages: [] });
    mocks.sqs
      .on(ReceiveMessageCommand, { QueueUrl: OUTPUTS.TrainingEventsDeadLetterQueueUrl })
      .resolvesOnce({
        Messages: [
          {
            MessageId: 'm-1',
            ReceiptHandle: 'rh-1',
            Body: JSON.stringify(record),
            Attributes: { SentTimestamp: '1767225600000' },
          },
        ],
      })
      .resolves({ Messages: [] });
    mocks.sqs.on(StartMessageMoveTaskCommand).resolves({ TaskHandle: 'task-1' });
    mocks.lambda.on(InvokeCommand).resolves({ StatusCode: 202 });
    return createDlqCommand((o) => resolve(o));
  }

  it('lists each queue’s depth and peeks at its messages without hiding them', async () => {
    const result = await run([setUp()], ['dlq', '--stack', 'Prod', '--json']);
    expect(result.code).toBe(0);
    const out = result.json() as {
      queues: { handler: string; messages: number; peeked: { what: string; error?: string }[] }[];
    };
    expect(out.queues.map((q) => [q.handler, q.messages])).toEqual([
      ['ingest', 2],
      ['training-events', 1],
      ['endpoint-events', 0],
      ['alarm-events', 0],
      ['drift-monitor', 0],
    ]);
    expect(out.queues[1]!.peeked).toEqual([
      expect.objectContaining({
        messageId: 'm-1',
        what: 'SageMaker Training Job State Change',
        error: 'Throttled',
        sentAt: '2026-01-01T00:00:00.000Z',
      }),
    ]);
    for (const call of mocks.sqs.commandCalls(ReceiveMessageCommand))
      expect(call.args[0].input.VisibilityTimeout).toBe(0);
    expectDeclared('dlq');
  });

  it('--redrive moves the ingest DLQ back to the ingest queue and replays the others into their function', async () => {
    const result = await run([setUp()], ['dlq', '--stack', 'Prod', '--redrive', '--json']);
    expect(result.code).toBe(0);
    expect(mocks.sqs.commandCalls(StartMessageMoveTaskCommand).map((c) => c.args[0].input)).toEqual([
      {
        SourceArn: 'arn:aws:sqs:eu-west-1:123456789012:ingest-dlq',
        DestinationArn: 'arn:aws:sqs:eu-west-1:123456789012:ingest',
      },
    ]);
    const invokes = mocks.lambda.commandCalls(InvokeCommand).map((c) => c.args[0].input);
    expect(invokes).toHaveLength(1);
    expect(invokes[0]).toMatchObject({ FunctionName: 'mlops-training-events', InvocationType: 'Event' });
    // The on-failure record's original event, not the record.
    expect(JSON.parse(new TextDecoder().decode(invokes[0]!.Payload as Uint8Array))).toEqual({
      'detail-type': 'SageMaker Training Job State Change',
      detail: { TrainingJobName: 'j' },
    });
    expect(mocks.sqs.commandCalls(DeleteMessageCommand).map((c) => c.args[0].input)).toEqual([
      { QueueUrl: OUTPUTS.TrainingEventsDeadLetterQueueUrl, ReceiptHandle: 'rh-1' },
    ]);
    expect(result.json()).toEqual({
      redriven: [
        { handler: 'ingest', kind: 'move-task', taskHandle: 'task-1', messages: 2 },
        { handler: 'training-events', kind: 'invoked', redriven: 1, failed: [] },
        { handler: 'endpoint-events', kind: 'invoked', redriven: 0, failed: [] },
        { handler: 'alarm-events', kind: 'invoked', redriven: 0, failed: [] },
        { handler: 'drift-monitor', kind: 'invoked', redriven: 0, failed: [] },
      ],
    });
    expectDeclared('dlq --redrive');
  });

  it('keeps a message whose invoke failed, and exits 1', async () => {
    const command = setUp();
    mocks.lambda.on(InvokeCommand).rejects(new Error('TooManyRequests'));
    const result = await run([command], ['dlq', 'redrive', '--stack', 'Prod', '--rule', 'training-events']);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('1 failed (kept in the queue): m-1 TooManyRequests');
    expect(mocks.sqs.commandCalls(DeleteMessageCommand)).toHaveLength(0);
  });
});
