/**
 * Every AWS call the `mlops` operator commands make against a deployed stack (`--stack`), per
 * command: what the stack's two managed policies (read-only, operator) must grant, and no more.
 * Where this stands: CLI target; test/cli/ records the calls each command makes through mocked
 * clients and checks them against this list, and the stack's policy contract
 * (test/contracts/support/cli-aws-calls.ts) reads it.
 */

/** The resource a call acts on, named by the stack output that identifies it. */
export type CliAwsResource =
  /** The stack itself (`--stack`). */
  | 'stack'
  /** `RegistryTableName` and its indexes (the status GSI). */
  | 'registry-table'
  /** The model alarms, asked by name (`<resourcePrefix>-<model>-<kind>`). */
  | 'model-alarms'
  /** The caller itself (STS GetCallerIdentity needs no permission). */
  | 'caller'
  /** `OperatorFunctionName`. */
  | 'operator-function'
  /** `DataBucketName`, objects under `datasets/`. */
  | 'datasets-objects'
  /** The dead-letter queues (`*DeadLetterQueueUrl`). */
  | 'dead-letter-queues'
  /** `IngestQueueUrl`: the destination of the ingest DLQ's message move task. */
  | 'ingest-queue'
  /** `TrainingEventsFunctionName`, `EndpointEventsFunctionName`, `AlarmEventsFunctionName`, `DriftMonitorFunctionName`. */
  | 'lifecycle-functions';

/** One AWS API call: its IAM action (`service:Operation`) and the resource it touches. */
export interface CliAwsCall {
  readonly action: string;
  readonly resource: CliAwsResource;
}

/** Which managed policy grants a command: reads need read-only, mutations need operator. */
export type CliPolicy = 'read-only' | 'operator';

/** A command's AWS calls and the policy that must allow them. */
export interface CliCommandCalls {
  readonly policy: CliPolicy;
  readonly calls: readonly CliAwsCall[];
}

const RESOLVE: readonly CliAwsCall[] = [{ action: 'cloudformation:DescribeStacks', resource: 'stack' }];
const REGISTRY: readonly CliAwsCall[] = [
  { action: 'dynamodb:GetItem', resource: 'registry-table' },
  { action: 'dynamodb:Query', resource: 'registry-table' },
];
const ALARMS: readonly CliAwsCall[] = [{ action: 'cloudwatch:DescribeAlarms', resource: 'model-alarms' }];
const OPERATE: readonly CliAwsCall[] = [
  { action: 'sts:GetCallerIdentity', resource: 'caller' },
  { action: 'lambda:InvokeFunction', resource: 'operator-function' },
];
const DLQ_READ: readonly CliAwsCall[] = [
  { action: 'sqs:GetQueueAttributes', resource: 'dead-letter-queues' },
  // Peeking receives with a visibility timeout of 0: the messages stay visible.
  { action: 'sqs:ReceiveMessage', resource: 'dead-letter-queues' },
];

/**
 * The AWS calls of each operator command with `--stack`. `dlq` without `--redrive` receives
 * messages to show them (so it needs sqs:ReceiveMessage, which the read-only policy grants on the
 * DLQs); `dlq --redrive` is the operator's.
 */
export const CLI_AWS_CALLS: Readonly<Record<string, CliCommandCalls>> = {
  models: { policy: 'read-only', calls: [...RESOLVE, ...REGISTRY, ...ALARMS] },
  versions: { policy: 'read-only', calls: [...RESOLVE, ...REGISTRY] },
  show: { policy: 'read-only', calls: [...RESOLVE, ...REGISTRY] },
  incidents: { policy: 'read-only', calls: [...RESOLVE, ...REGISTRY] },
  incident: { policy: 'read-only', calls: [...RESOLVE, ...REGISTRY] },
  approve: { policy: 'operator', calls: [...RESOLVE, ...OPERATE] },
  reject: { policy: 'operator', calls: [...RESOLVE, ...OPERATE] },
  rollback: { policy: 'operator', calls: [...RESOLVE, ...OPERATE] },
  retrain: { policy: 'operator', calls: [...RESOLVE, ...OPERATE] },
  upload: {
    policy: 'operator',
    calls: [
      ...RESOLVE,
      // lib-storage's Upload: one PutObject for a small file, else a multipart upload, aborted on failure.
      { action: 's3:PutObject', resource: 'datasets-objects' },
      { action: 's3:AbortMultipartUpload', resource: 'datasets-objects' },
      { action: 's3:ListMultipartUploadParts', resource: 'datasets-objects' },
      // --wait follows the dataset and its version in the registry.
      ...REGISTRY,
    ],
  },
  dlq: { policy: 'read-only', calls: [...RESOLVE, ...DLQ_READ] },
  'dlq --redrive': {
    policy: 'operator',
    calls: [
      ...RESOLVE,
      ...DLQ_READ,
      // The ingest queue's ARN, the move task's destination.
      { action: 'sqs:GetQueueAttributes', resource: 'ingest-queue' },
      // StartMessageMoveTask is authorised on the source DLQ (sqs:StartMessageMoveTask) and needs
      // sqs:ReceiveMessage, sqs:DeleteMessage on it and sqs:SendMessage on the destination.
      { action: 'sqs:StartMessageMoveTask', resource: 'dead-letter-queues' },
      { action: 'sqs:DeleteMessage', resource: 'dead-letter-queues' },
      { action: 'sqs:SendMessage', resource: 'ingest-queue' },
      { action: 'lambda:InvokeFunction', resource: 'lifecycle-functions' },
    ],
  },
};
