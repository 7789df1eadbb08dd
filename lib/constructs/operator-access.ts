/**
 * OperatorAccess: the two customer-managed policies an infra team attaches to the people (or
 * roles) who run the `mlops` CLI against the deployed stack. Where this stands: infrastructure
 * (lib/constructs); the stack outputs their ARNs (`ReadOnlyPolicyArn`, `OperatorPolicyArn`), and
 * test/contracts/support/cli-aws-calls.ts lists the AWS calls of the CLI they must allow.
 *
 * - read-only: the stack's outputs (how the CLI finds everything else), the registry (GetItem and
 *   Query on the table and its `byStatus` index: no Scan, no write), the model alarms' states, the
 *   reports (drift evidence), and the dead-letter queues' depth and first messages.
 * - operator: the same, plus what changes something: invoking the operator function (approve,
 *   reject, rollback, retrain run inside the stack, with the stack's own permissions), uploading
 *   datasets, and sending dead letters back (asynchronous Invoke of the handler that gave up on
 *   them; an SQS message move task from the ingest DLQ back to the ingest queue).
 *
 * No KMS statement in either: the registry table uses the AWS managed key (its key policy lets
 * every principal of the account use it through DynamoDB), the bucket SSE-S3 and the queues
 * SSE-SQS, none of which asks the caller for a KMS permission. The notification topic's customer
 * managed key is not involved: the CLI does not publish. No sts statement: GetCallerIdentity (the
 * actor of an audited command) needs no permission (STS API Reference, GetCallerIdentity).
 *
 * The policies are attached to nothing here: who operates is the infra team's decision.
 */
import { ArnFormat, Stack } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { BUCKET_PREFIXES } from '../../core/domain/naming';
import { acknowledgeWildcardResource } from '../private/nag';
import { alarmArn, statusIndexArn } from '../private/permissions';
import type { DataBucket } from './data-bucket';

/** What the CLI reads and, for an operator, changes. */
export interface OperatorAccessProps {
  readonly data: DataBucket;
  readonly table: dynamodb.ITable;
  /** The stack's resource prefix: the model alarms are `<prefix>-<model>-<kind>`. */
  readonly resourcePrefix: string;
  /** The function that runs approve, reject, rollback and retrain. */
  readonly operatorFunction: lambda.IFunction;
  /**
   * Every dead-letter queue the CLI shows (`mlops dlq`): read-only may count their messages,
   * an operator may also receive and delete them.
   */
  readonly deadLetterQueues: readonly sqs.IQueue[];
  /**
   * The functions whose dead letters an operator sends back with an asynchronous Invoke (the
   * EventBridge-invoked handlers: their dead letters are the events they gave up on).
   */
  readonly redriveFunctions: readonly lambda.IFunction[];
  /** The ingest queue and its dead-letter queue: redriven with an SQS message move task. */
  readonly ingest: { readonly queue: sqs.IQueue; readonly deadLetterQueue: sqs.IQueue };
}

/** The read-only and operator managed policies. */
export class OperatorAccess extends Construct {
  /** Reads only: what `mlops models`, `versions`, `show`, `incidents` and `dlq` (counts) call. */
  readonly readOnlyPolicy: iam.ManagedPolicy;
  /** Read-only plus approve, reject, rollback, retrain, upload and dead-letter redrive. */
  readonly operatorPolicy: iam.ManagedPolicy;

  constructor(scope: Construct, id: string, props: OperatorAccessProps) {
    super(scope, id);
    const stack = Stack.of(this);
    // DescribeStacks authorizes on the stack's ARN, whose last part is the stack id (a UUID
    // CloudFormation assigns): `arn:${Partition}:cloudformation:${Region}:${Account}:stack/<name>/*`
    // (Service Authorization Reference, AWS CloudFormation: DescribeStacks, resource type stack).
    const stackArn = stack.formatArn({
      service: 'cloudformation',
      resource: 'stack',
      resourceName: `${stack.stackName}/*`,
      arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
    });
    const reports = props.data.objectsArn(BUCKET_PREFIXES.reports);
    const datasets = props.data.objectsArn(BUCKET_PREFIXES.datasets);
    const alarms = alarmArn(this, props.resourcePrefix);

    const reads = (): iam.PolicyStatement[] => [
      new iam.PolicyStatement({
        sid: 'ReadStackOutputs',
        actions: ['cloudformation:DescribeStacks'],
        resources: [stackArn],
      }),
      new iam.PolicyStatement({
        sid: 'ReadRegistry',
        actions: ['dynamodb:GetItem', 'dynamodb:Query'],
        resources: [props.table.tableArn],
      }),
      new iam.PolicyStatement({
        sid: 'ReadRegistryStatusIndex',
        actions: ['dynamodb:Query'],
        resources: [statusIndexArn(props.table)],
      }),
      // DescribeAlarms by AlarmNames authorizes on each alarm's ARN (Service Authorization
      // Reference, Amazon CloudWatch: DescribeAlarms, resource type alarm); only composite alarms
      // need it on "*" (CloudWatch API Reference, DescribeAlarms), and the product has none. The
      // CLI names the model alarms it reads.
      new iam.PolicyStatement({
        sid: 'ReadModelAlarms',
        actions: ['cloudwatch:DescribeAlarms'],
        resources: [alarms],
      }),
      new iam.PolicyStatement({ sid: 'ReadReports', actions: ['s3:GetObject'], resources: [reports] }),
      // Unconditioned: without it a missing report is a 403, not a 404 (S3 API Reference,
      // GetObject, "Permissions").
      new iam.PolicyStatement({
        sid: 'ListDataBucket',
        actions: ['s3:ListBucket'],
        resources: [props.data.bucket.bucketArn],
      }),
      // `mlops dlq`: each queue's depth, and a look at its first messages (received with a
      // visibility timeout of 0, so they stay where they are; ReceiveMessage is a Read action in
      // the Service Authorization Reference, Amazon SQS). Deleting one is the operator's.
      new iam.PolicyStatement({
        sid: 'InspectDeadLetters',
        actions: ['sqs:GetQueueAttributes', 'sqs:ReceiveMessage'],
        resources: props.deadLetterQueues.map((q) => q.queueArn),
      }),
    ];

    this.readOnlyPolicy = new iam.ManagedPolicy(this, 'ReadOnlyPolicy', {
      description: `Read-only use of the ${props.resourcePrefix} MLOps control plane with the mlops CLI: models, versions, lineage, incidents, alarm states, dead letters`,
      statements: reads(),
    });

    this.operatorPolicy = new iam.ManagedPolicy(this, 'OperatorPolicy', {
      description: `Operating the ${props.resourcePrefix} MLOps control plane with the mlops CLI: read-only, plus approve, reject, rollback, retrain, upload datasets and redrive dead letters`,
      statements: [
        ...reads(),
        // approve, reject, rollback, retrain: the stack's function does the work with its own role.
        new iam.PolicyStatement({
          sid: 'RunOperatorCommands',
          actions: ['lambda:InvokeFunction'],
          resources: [props.operatorFunction.functionArn],
        }),
        // `mlops upload`: PutObject, and the multipart upload's parts (lib-storage's Upload):
        // CreateMultipartUpload, UploadPart and CompleteMultipartUpload are s3:PutObject, ListParts
        // is s3:ListMultipartUploadParts, and an interrupted upload is aborted (S3 User Guide,
        // "Multipart upload API and permissions").
        new iam.PolicyStatement({
          sid: 'UploadDatasets',
          actions: ['s3:PutObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'],
          resources: [datasets],
        }),
        // `mlops dlq --redrive`: a dead letter sent back to its function is deleted.
        new iam.PolicyStatement({
          sid: 'DeleteRedrivenDeadLetters',
          actions: ['sqs:DeleteMessage'],
          resources: props.deadLetterQueues.map((q) => q.queueArn),
        }),
        // `mlops dlq --redrive`: an EventBridge target's dead letter is the event itself, a Lambda
        // on-failure record carries it as requestPayload; either goes back to its function.
        new iam.PolicyStatement({
          sid: 'RedriveToHandlers',
          actions: ['lambda:InvokeFunction'],
          resources: props.redriveFunctions.map((f) => f.functionArn),
        }),
        // The ingest DLQ is the redrive target of the ingest queue, so SQS moves its messages back
        // itself. StartMessageMoveTask needs sqs:StartMessageMoveTask, sqs:ReceiveMessage,
        // sqs:DeleteMessage and sqs:GetQueueAttributes on the DLQ (the source) and
        // sqs:SendMessage on the destination queue; ListMessageMoveTasks (the task's progress)
        // sqs:ListMessageMoveTasks on the DLQ (SQS Developer Guide, "Amazon SQS API permissions:
        // Actions and resource reference"). Receive, delete and attributes of the DLQ are granted
        // above; the CLI reads the destination's ARN from its attributes.
        new iam.PolicyStatement({
          sid: 'MoveIngestDeadLetters',
          actions: ['sqs:StartMessageMoveTask', 'sqs:ListMessageMoveTasks'],
          resources: [props.ingest.deadLetterQueue.queueArn],
        }),
        new iam.PolicyStatement({
          sid: 'MoveIngestDeadLettersBack',
          actions: ['sqs:SendMessage', 'sqs:GetQueueAttributes'],
          resources: [props.ingest.queue.queueArn],
        }),
      ],
    });

    for (const policy of [this.readOnlyPolicy, this.operatorPolicy]) {
      acknowledgeWildcardResource(
        policy,
        stackArn,
        "DescribeStacks of this stack only: its ARN ends with the stack id CloudFormation assigns at creation, which the template cannot know; the stack's own name is fixed.",
      );
      acknowledgeWildcardResource(
        policy,
        alarms,
        'Model alarms are named <prefix>-<model>-<kind> and created at run time; only the read-only DescribeAlarms on the <prefix>- alarm name prefix.',
      );
      acknowledgeWildcardResource(
        policy,
        reports,
        'The data-quality and drift reports an incident or a version points to live under reports/<model>/...; model names are chosen at run time, so read-only on the reports/ prefix.',
      );
    }
    acknowledgeWildcardResource(
      this.operatorPolicy,
      datasets,
      'mlops upload drops a dataset under datasets/<model>/<file>; model and file names are chosen by the operator, so writes are limited to the datasets/ prefix (no read, no delete).',
    );
  }
}
