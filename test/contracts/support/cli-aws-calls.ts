/**
 * Every AWS call the `mlops` CLI makes against a deployed stack (`--stack`), as concrete requests
 * on the stack's resources, each with the managed policy that must allow it. Where this stands:
 * test infrastructure for the IAM contract (test/contracts/iam-contract.test.ts evaluates each
 * call against the synthesized `ReadOnlyPolicy` and `OperatorPolicy`, lib/constructs/operator-access.ts);
 * the CLI's own list of what it calls (cli/target/aws-calls.ts) is checked against this one.
 *
 * What the CLI does in AWS (issue 9; the shared contract's sections B and C):
 * - every command: CloudFormation DescribeStacks of `--stack` (the outputs name everything else);
 * - reads (`models`, `versions`, `show`, `incidents`, `incident`): the registry table (GetItem,
 *   Query on the table and on the `byStatus` index: the fleet, open incidents), the model alarms
 *   by name (DescribeAlarms with AlarmNames: authorized on each alarm's ARN), a drift report an
 *   incident points to (GetObject under reports/);
 * - `dlq`: each dead-letter queue's depth (GetQueueAttributes) and its first messages
 *   (ReceiveMessage with a visibility timeout of 0);
 * - mutations, operator only: approve, reject, rollback, retrain are a synchronous Invoke of the
 *   operator function (with STS GetCallerIdentity for the actor, which needs no permission);
 *   `upload` a PutObject or a multipart upload under datasets/; `dlq --redrive` an asynchronous
 *   Invoke of the handler that gave up on each dead letter and its DeleteMessage, and for the
 *   ingest DLQ an SQS message move task back to the ingest queue (StartMessageMoveTask,
 *   ListMessageMoveTasks, the destination's ARN from GetQueueAttributes).
 */
import { ResourceNames } from '../../../core/domain/naming';
import type { ServiceCall } from './iam-actions';

/** The two managed policies the stack outputs. */
export type CliPolicyName = 'read-only' | 'operator';

/** The handlers with a dead-letter queue the CLI shows (each has a `<Handler>DeadLetterQueueUrl` output). */
export const CLI_DEAD_LETTER_QUEUES = [
  'ingest',
  'training-events',
  'endpoint-events',
  'alarm-events',
  'drift-monitor',
] as const;

/** A handler whose dead-letter queue the CLI shows. */
export type CliDeadLetterQueue = (typeof CLI_DEAD_LETTER_QUEUES)[number];

/** The handlers whose dead letters go back with an asynchronous Invoke (all but ingest's). */
export type CliRedriveFunction = Exclude<CliDeadLetterQueue, 'ingest'>;

/** A deployed stack as the CLI sees it: names and URLs from its outputs, its ARN from DescribeStacks. */
export interface CliStack {
  readonly stackName: string;
  /** `arn:aws:cloudformation:<region>:<account>:stack/<name>/<id>`. */
  readonly stackArn: string;
  readonly region: string;
  readonly account: string;
  /** `ResourcePrefix`. */
  readonly resourcePrefix: string;
  /** `RegistryTableName`. */
  readonly registryTable: string;
  /** `DataBucketName`. */
  readonly dataBucket: string;
  /** `OperatorFunctionName`. */
  readonly operatorFunction: string;
  /** `<Handler>FunctionName` of each handler whose dead letters are invoked back. */
  readonly redriveFunctions: Readonly<Record<CliRedriveFunction, string>>;
  /** `<Handler>DeadLetterQueueUrl`. */
  readonly deadLetterQueueUrls: Readonly<Record<CliDeadLetterQueue, string>>;
  /** `IngestQueueUrl`. */
  readonly ingestQueueUrl: string;
}

/**
 * One call of the CLI: the request, the command that makes it, and the least policy that allows it:
 * `read-only` for a read (whichever command makes it: `approve` reads the stack's outputs too),
 * `operator` for what only an operator may do. The operator policy allows every call.
 */
export interface CliAwsCall extends ServiceCall {
  /** The CLI command, e.g. `models`, `dlq --redrive`. */
  readonly command: string;
  readonly policy: CliPolicyName;
}

/** The commands that change nothing (the read-only policy is enough for them). */
export const CLI_READ_COMMANDS = ['models', 'versions', 'show', 'incidents', 'incident', 'dlq'] as const;

/** The commands that change something (they need the operator policy). */
export const CLI_MUTATING_COMMANDS = [
  'approve',
  'reject',
  'rollback',
  'retrain',
  'upload',
  'dlq --redrive',
] as const;

/** A queue's ARN from its URL, `https://sqs.<region>.amazonaws.com/<account>/<name>`. */
function queueArn(url: string): string {
  const match = /^https:\/\/sqs\.([a-z0-9-]+)\.amazonaws\.com\/(\d{12})\/([^/]+)$/.exec(url);
  if (!match) throw new Error(`not an SQS queue URL: ${url}`);
  return `arn:aws:sqs:${match[1]}:${match[2]}:${match[3]}`;
}

/** The model the example calls are about (any model name: the grants are per prefix). */
const MODEL = 'churn';

/** Every call of the CLI against `stack` (see the file comment). */
export function cliAwsCalls(stack: CliStack): CliAwsCall[] {
  const table = stack.registryTable;
  const bucket = stack.dataBucket;
  const alarms = Object.values(new ResourceNames(stack.resourcePrefix).alarms(MODEL));
  const calls: CliAwsCall[] = [];
  const add = (
    command: string,
    policy: CliPolicyName,
    service: ServiceCall['service'],
    operation: string,
    input: Record<string, unknown>,
  ) => calls.push({ command, policy, service, operation, input });

  for (const command of [...CLI_READ_COMMANDS, ...CLI_MUTATING_COMMANDS])
    add(command, 'read-only', 'cloudformation', 'DescribeStacks', { StackName: stack.stackName });

  // The registry (adapters/dynamodb/dynamodb-registry-store.ts): items by key, a model's items by
  // sort-key prefix, and the fleet questions on the status index.
  const key = (pk: string, sk: string) => ({ PK: { S: pk }, SK: { S: sk } });
  add('models', 'read-only', 'dynamodb', 'Query', {
    TableName: table,
    IndexName: 'byStatus',
    KeyConditionExpression: 'GSI1PK = :pk',
    ExpressionAttributeValues: { ':pk': { S: 'MODEL' } },
  });
  add('models', 'read-only', 'dynamodb', 'GetItem', {
    TableName: table,
    Key: key(`MODEL#${MODEL}`, 'MODEL'),
  });
  add('models', 'read-only', 'cloudwatch', 'DescribeAlarms', { AlarmNames: alarms });
  add('versions', 'read-only', 'dynamodb', 'GetItem', {
    TableName: table,
    Key: key(`MODEL#${MODEL}`, 'MODEL'),
  });
  add('versions', 'read-only', 'dynamodb', 'Query', {
    TableName: table,
    KeyConditionExpression: 'PK = :pk AND begins_with(SK, :sk)',
    ExpressionAttributeValues: { ':pk': { S: `MODEL#${MODEL}` }, ':sk': { S: 'VERSION#' } },
  });
  add('show', 'read-only', 'dynamodb', 'GetItem', {
    TableName: table,
    Key: key(`MODEL#${MODEL}`, 'VERSION#000003'),
  });
  add('show', 'read-only', 'dynamodb', 'Query', {
    TableName: table,
    KeyConditionExpression: 'PK = :pk AND begins_with(SK, :sk)',
    ExpressionAttributeValues: { ':pk': { S: `MODEL#${MODEL}` }, ':sk': { S: 'EVENT#' } },
  });
  add('incidents', 'read-only', 'dynamodb', 'Query', {
    TableName: table,
    IndexName: 'byStatus',
    KeyConditionExpression: 'GSI1PK = :pk',
    ExpressionAttributeValues: { ':pk': { S: 'INCIDENT_STATUS#OPEN' } },
  });
  add('incidents', 'read-only', 'dynamodb', 'GetItem', {
    TableName: table,
    Key: key(`MODEL#${MODEL}`, 'MODEL'),
  });
  add('incident', 'read-only', 'dynamodb', 'Query', {
    TableName: table,
    KeyConditionExpression: 'PK = :pk AND begins_with(SK, :sk)',
    ExpressionAttributeValues: { ':pk': { S: `MODEL#${MODEL}` }, ':sk': { S: 'INCIDENT#' } },
  });
  add('incident', 'read-only', 'dynamodb', 'GetItem', {
    TableName: table,
    Key: key(`MODEL#${MODEL}`, `INCIDENT#${alarms[0]!}#2026-11-26T10:00:00.000Z`),
  });
  // The drift report an incident's evidence points to.
  add('incident', 'read-only', 's3', 'GetObject', {
    Bucket: bucket,
    Key: `reports/${MODEL}/monitoring/2026-11-26T09/drift.json`,
  });

  for (const handler of CLI_DEAD_LETTER_QUEUES) {
    const url = stack.deadLetterQueueUrls[handler];
    add('dlq', 'read-only', 'sqs', 'GetQueueAttributes', {
      QueueUrl: url,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'QueueArn'],
    });
    add('dlq', 'read-only', 'sqs', 'ReceiveMessage', {
      QueueUrl: url,
      MaxNumberOfMessages: 10,
      VisibilityTimeout: 0,
      WaitTimeSeconds: 0,
    });
  }

  // Mutations run in the stack: the operator function, invoked synchronously with the command.
  for (const [command, payload] of [
    ['approve', { action: 'approve', model: MODEL, version: 3 }],
    ['reject', { action: 'reject', model: MODEL, version: 3, reason: 'worse on the holdout' }],
    ['rollback', { action: 'rollback', model: MODEL, to: 1 }],
    ['retrain', { action: 'retrain', model: MODEL, requestId: 'r-1' }],
  ] as const) {
    add(command, 'read-only', 'sts', 'GetCallerIdentity', {});
    add(command, 'operator', 'lambda', 'Invoke', {
      FunctionName: stack.operatorFunction,
      InvocationType: 'RequestResponse',
      Payload: JSON.stringify({
        ...payload,
        actor: `arn:aws:sts::${stack.account}:assumed-role/oncall/alice`,
      }),
    });
  }

  // `upload`: lib-storage's Upload, one PutObject or a multipart upload (aborted on failure), then
  // --wait follows the dataset and its version in the registry.
  const small = `datasets/${MODEL}/day-2.csv`;
  const large = `datasets/${MODEL}/2026-11-26/part-00000.csv`;
  add('upload', 'operator', 's3', 'PutObject', { Bucket: bucket, Key: small });
  for (const operation of [
    'CreateMultipartUpload',
    'UploadPart',
    'CompleteMultipartUpload',
    'ListParts',
    'AbortMultipartUpload',
  ])
    add('upload', 'operator', 's3', operation, { Bucket: bucket, Key: large });
  add('upload', 'read-only', 'dynamodb', 'GetItem', {
    TableName: table,
    Key: key(`MODEL#${MODEL}`, 'DATASET#day-2-0a1b2c3d'),
  });
  add('upload', 'read-only', 'dynamodb', 'Query', {
    TableName: table,
    KeyConditionExpression: 'PK = :pk AND begins_with(SK, :sk)',
    ExpressionAttributeValues: { ':pk': { S: `MODEL#${MODEL}` }, ':sk': { S: 'VERSION#' } },
  });

  // `dlq --redrive`: each EventBridge-target DLQ's dead letters go back to their function
  // (asynchronously, as EventBridge would have invoked it) and are deleted; the ingest DLQ's are
  // moved back to the ingest queue by SQS.
  for (const [handler, fn] of Object.entries(stack.redriveFunctions) as [CliRedriveFunction, string][]) {
    const url = stack.deadLetterQueueUrls[handler];
    add('dlq --redrive', 'read-only', 'sqs', 'ReceiveMessage', { QueueUrl: url, MaxNumberOfMessages: 10 });
    add('dlq --redrive', 'operator', 'lambda', 'Invoke', {
      FunctionName: fn,
      InvocationType: 'Event',
      Payload: '{}',
    });
    add('dlq --redrive', 'operator', 'sqs', 'DeleteMessage', { QueueUrl: url, ReceiptHandle: 'rh' });
  }
  const ingestDlq = queueArn(stack.deadLetterQueueUrls.ingest);
  add('dlq --redrive', 'operator', 'sqs', 'GetQueueAttributes', {
    QueueUrl: stack.ingestQueueUrl,
    AttributeNames: ['QueueArn'],
  });
  add('dlq --redrive', 'operator', 'sqs', 'StartMessageMoveTask', {
    SourceArn: ingestDlq,
    DestinationArn: queueArn(stack.ingestQueueUrl),
  });
  add('dlq --redrive', 'operator', 'sqs', 'ListMessageMoveTasks', { SourceArn: ingestDlq });
  return calls;
}

/** A physical name as CloudFormation generates it for an unnamed resource of the example stack. */
function generated(logicalId: string, max: number): string {
  const suffix = '-Ab12Cd34Ef56';
  return `ServerlessMlops-${logicalId}`.slice(0, max - suffix.length) + suffix;
}

const EXAMPLE_ACCOUNT = '123456789012';
const EXAMPLE_REGION = 'us-east-1';
const exampleQueue = (logicalId: string) =>
  `https://sqs.${EXAMPLE_REGION}.amazonaws.com/${EXAMPLE_ACCOUNT}/${generated(logicalId, 80)}`;

/** A deployed stack with the default props, named as CloudFormation would name its resources. */
export const EXAMPLE_CLI_STACK: CliStack = {
  stackName: 'ServerlessMlops',
  stackArn: `arn:aws:cloudformation:${EXAMPLE_REGION}:${EXAMPLE_ACCOUNT}:stack/ServerlessMlops/8d5c1f20-0c4a-11f1-9a4b-0affd3c1e5a1`,
  region: EXAMPLE_REGION,
  account: EXAMPLE_ACCOUNT,
  resourcePrefix: 'mlops',
  registryTable: generated('RegistryTable', 255),
  dataBucket: 'serverlessmlops-databucket-ab12cd34ef56',
  operatorFunction: generated('OperatorHandlerFunction', 64),
  redriveFunctions: {
    'training-events': generated('TrainingEventsHandlerFunction', 64),
    'endpoint-events': generated('EndpointEventsHandlerFunction', 64),
    'alarm-events': generated('AlarmEventsHandlerFunction', 64),
    'drift-monitor': generated('DriftMonitorHandlerFunction', 64),
  },
  deadLetterQueueUrls: {
    ingest: exampleQueue('IngestDeadLetterQueue'),
    'training-events': exampleQueue('TrainingEventsDeadLetterQueue'),
    'endpoint-events': exampleQueue('EndpointEventsDeadLetterQueue'),
    'alarm-events': exampleQueue('AlarmEventsDeadLetterQueue'),
    'drift-monitor': exampleQueue('DriftMonitorDeadLetterQueue'),
  },
  ingestQueueUrl: exampleQueue('IngestQueue'),
};

/** The CLI's calls against {@link EXAMPLE_CLI_STACK}: the list a CLI test can compare its own calls with. */
export const CLI_AWS_CALLS: readonly CliAwsCall[] = cliAwsCalls(EXAMPLE_CLI_STACK);
