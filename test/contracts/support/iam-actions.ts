/**
 * Which IAM actions, on which resources, AWS authorizes for one API call, hidden ones included.
 * Where this stands: test infrastructure for the IAM contract (test/contracts/iam-contract.test.ts):
 * every call the handlers make in the pipeline scenario (and the reconciler in its own scenario)
 * is turned into the permissions below, which the contract then evaluates against the handler's
 * role.
 *
 * Sources, per service (Service Authorization Reference, "Actions, resources, and condition keys
 * for ..."; each mapping below cites the page that says so):
 * - DynamoDB: https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazondynamodb.html
 * - S3: https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html
 * - SageMaker: https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsagemaker.html
 * - CloudWatch: https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatch.html
 * - SNS: https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsns.html
 * - SQS: https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsqs.html
 * - Lambda: https://docs.aws.amazon.com/service-authorization/latest/reference/list_awslambda.html
 * - KMS: https://docs.aws.amazon.com/service-authorization/latest/reference/list_awskeymanagementservice.html
 * - CloudFormation: https://docs.aws.amazon.com/service-authorization/latest/reference/list_awscloudformation.html
 * - STS: https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html
 *
 * Besides the handlers' calls, the `mlops` CLI's calls against a deployed stack
 * (support/cli-aws-calls.ts) are mapped here too: CloudFormation, STS and the SQS calls of
 * dead-letter inspection and redrive.
 *
 * An operation without a mapping throws: a new call must be mapped before the contract passes.
 */
import type { AwsService } from '../../support/aws-call-journal';

/** The services a call can be made to: the handlers' (the journal's), and the CLI's own. */
export type IamService = AwsService | 'cloudformation' | 'sts';

/** One API call as made (a journal's RecordedCall, test/support/aws-call-journal.ts, is one). */
export interface ServiceCall {
  readonly service: IamService;
  /** API operation name, e.g. `PutItem`, `DescribeStacks`. */
  readonly operation: string;
  readonly input: Readonly<Record<string, unknown>>;
}

/** One permission a call needs. */
export interface RequiredPermission {
  /** `service:Action` as IAM spells it. */
  readonly action: string;
  /** The ARN IAM authorizes the action on (`*` for actions without resource-level permissions). */
  readonly resource: string;
  /** Request context keys that policies may test (e.g. `s3:prefix`, `iam:PassedToService`). */
  readonly context?: Readonly<Record<string, string | string[]>>;
  /** Why a permission other than the operation's own is needed. */
  readonly because?: string;
}

/** The account the calls are made in, and the keys that encrypt what they touch. */
export interface CallSite {
  readonly partition: string;
  readonly region: string;
  readonly account: string;
  /** Key ARN of the bucket's SSE-KMS default encryption, by bucket name (absent: SSE-S3). */
  readonly bucketKeys?: Readonly<Record<string, string>>;
  /** Key ARN that encrypts a topic, by topic ARN (absent: unencrypted). */
  readonly topicKeys?: Readonly<Record<string, string>>;
  /** Key ARN of a queue's SSE-KMS, by queue ARN (absent: SSE-SQS or unencrypted, no KMS call). */
  readonly queueKeys?: Readonly<Record<string, string>>;
  /** Stack ARNs (`...:stack/<name>/<id>`) by stack name: DescribeStacks is authorized on the ARN. */
  readonly stacks?: Readonly<Record<string, string>>;
}

type Input = Readonly<Record<string, unknown>>;

/** The permissions AWS checks for `call` (see the file comment). */
export function requiredPermissions(call: ServiceCall, site: CallSite): RequiredPermission[] {
  switch (call.service) {
    case 'dynamodb':
      return dynamodb(call.operation, call.input, site);
    case 's3':
      return s3(call.operation, call.input, site);
    case 'sagemaker':
      return sagemaker(call.operation, call.input, site);
    case 'cloudwatch':
      return cloudwatch(call.operation, call.input, site);
    case 'sns':
      return sns(call.operation, call.input, site);
    case 'sqs':
      return sqs(call.operation, call.input, site);
    case 'lambda':
      return lambda(call.operation, call.input, site);
    case 'cloudformation':
      return cloudformation(call.operation, call.input, site);
    case 'sts':
      // "No permissions are required to perform this operation" (STS API Reference, GetCallerIdentity).
      if (call.operation === 'GetCallerIdentity') return [];
      return unmapped(`sts.${call.operation}`);
  }
}

function unmapped(call: string): never {
  throw new Error(`no IAM mapping for ${call}: add it to test/contracts/support/iam-actions.ts`);
}

// --- DynamoDB --------------------------------------------------------------------------------

function tableArn(site: CallSite, table: unknown): string {
  return `arn:${site.partition}:dynamodb:${site.region}:${site.account}:table/${String(table)}`;
}

function dynamodb(operation: string, input: Input, site: CallSite): RequiredPermission[] {
  switch (operation) {
    case 'GetItem':
    case 'PutItem':
    case 'UpdateItem':
    case 'DeleteItem':
    case 'Scan':
    case 'DescribeTable':
      return [{ action: `dynamodb:${operation}`, resource: tableArn(site, input.TableName) }];
    case 'Query':
      // Query with IndexName authorizes on the index resource type,
      // arn:...:table/<table>/index/<index> (SAR, list_amazondynamodb: Query, resource "index").
      return [
        {
          action: 'dynamodb:Query',
          resource:
            input.IndexName === undefined
              ? tableArn(site, input.TableName)
              : `${tableArn(site, input.TableName)}/index/${fieldText(input.IndexName)}`,
        },
      ];
    case 'BatchGetItem':
    case 'BatchWriteItem':
      return Object.keys((input.RequestItems as Input | undefined) ?? {}).map((table) => ({
        action: `dynamodb:${operation}`,
        resource: tableArn(site, table),
      }));
    case 'TransactWriteItems':
    case 'TransactGetItems': {
      // No action of its own: each element is authorized as PutItem / UpdateItem / DeleteItem /
      // GetItem, and ConditionCheck as dynamodb:ConditionCheckItem, on the element's table
      // (DynamoDB Developer Guide, "Using IAM with DynamoDB transactions",
      // https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis-iam.html).
      const element: Record<string, string> = {
        Put: 'dynamodb:PutItem',
        Update: 'dynamodb:UpdateItem',
        Delete: 'dynamodb:DeleteItem',
        ConditionCheck: 'dynamodb:ConditionCheckItem',
        Get: 'dynamodb:GetItem',
      };
      return ((input.TransactItems as Input[] | undefined) ?? []).flatMap((item) =>
        Object.entries(item).map(([kind, body]) => {
          const action = element[kind];
          if (!action) return unmapped(`dynamodb.${operation} element ${kind}`);
          return {
            action,
            resource: tableArn(site, (body as Input).TableName),
            context: { 'dynamodb:EnclosingOperation': operation },
            because: `${kind} element of ${operation}`,
          };
        }),
      );
    }
    default:
      return unmapped(`dynamodb.${operation}`);
  }
}

// --- S3 ----------------------------------------------------------------------------------------

/** Context every S3 request carries: TLS (the bucket policy denies anything else). */
function s3Context(extra: Record<string, string> = {}): Record<string, string> {
  return { 'aws:SecureTransport': 'true', 's3:TlsVersion': '1.3', ...extra };
}

function s3(operation: string, input: Input, site: CallSite): RequiredPermission[] {
  const bucket = String(input.Bucket);
  const bucketArn = `arn:${site.partition}:s3:::${bucket}`;
  const objectArn = `${bucketArn}/${String(input.Key)}`;
  const key = site.bucketKeys?.[bucket];
  const kms = (actions: string[], why: string): RequiredPermission[] =>
    key === undefined
      ? []
      : actions.map((action) => ({
          action,
          resource: key,
          context: { 'kms:ViaService': `s3.${site.region}.amazonaws.com` },
          because: why,
        }));
  // The adapter (adapters/aws/s3-object-store.ts) reads a missing object as "absent": S3 only
  // answers 404 NoSuchKey (rather than 403 AccessDenied) to a caller that also has s3:ListBucket
  // on the bucket (S3 API Reference, GetObject / HeadObject, "Permissions",
  // https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html).
  const notFoundSemantics: RequiredPermission = {
    action: 's3:ListBucket',
    resource: bucketArn,
    context: s3Context(),
    because: `${operation} of a missing object must answer 404, not 403`,
  };
  switch (operation) {
    case 'GetObject':
    case 'HeadObject':
      return [
        // With a VersionId the action is s3:GetObjectVersion, and s3:GetObject is not required
        // (S3 API Reference, GetObject, "versionId").
        input.VersionId === undefined
          ? { action: 's3:GetObject', resource: objectArn, context: s3Context() }
          : {
              action: 's3:GetObjectVersion',
              resource: objectArn,
              context: s3Context({ 's3:versionid': fieldText(input.VersionId) }),
              because: `${operation} with a VersionId`,
            },
        notFoundSemantics,
        ...kms(['kms:Decrypt'], 'reading an SSE-KMS object'),
      ];
    case 'ListObjectsV2':
    case 'ListObjects':
      // ListObjectsV2 is authorized as s3:ListBucket on the bucket, with s3:prefix
      // (SAR, list_amazons3: ListBucket, condition key s3:prefix).
      return [
        {
          action: 's3:ListBucket',
          resource: bucketArn,
          context: s3Context(input.Prefix === undefined ? {} : { 's3:prefix': fieldText(input.Prefix) }),
        },
      ];
    case 'ListObjectVersions':
      // "you must have permissions to perform the s3:ListBucketVersions action. Be aware of the
      // name difference" (S3 API Reference, ListObjectVersions,
      // https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectVersions.html); on the
      // bucket, with s3:prefix (SAR, list_amazons3: ListBucketVersions, condition key s3:prefix).
      return [
        {
          action: 's3:ListBucketVersions',
          resource: bucketArn,
          context: s3Context(input.Prefix === undefined ? {} : { 's3:prefix': fieldText(input.Prefix) }),
        },
      ];
    case 'PutObject':
      return [
        { action: 's3:PutObject', resource: objectArn, context: s3Context() },
        ...(input.Tagging === undefined
          ? []
          : [
              {
                action: 's3:PutObjectTagging',
                resource: objectArn,
                context: s3Context(),
                because: 'PutObject with Tagging',
              },
            ]),
        ...kms(['kms:GenerateDataKey'], 'writing an SSE-KMS object'),
      ];
    case 'CreateMultipartUpload':
    case 'UploadPart':
    case 'CompleteMultipartUpload':
      // Multipart uploads are authorized as s3:PutObject; with SSE-KMS they need kms:Decrypt too
      // (S3 User Guide, "Multipart upload API and permissions",
      // https://docs.aws.amazon.com/AmazonS3/latest/userguide/mpuoverview.html#mpuAndPermissions).
      return [
        {
          action: 's3:PutObject',
          resource: objectArn,
          context: s3Context(),
          because: `${operation} (multipart upload)`,
        },
        ...kms(['kms:GenerateDataKey', 'kms:Decrypt'], 'multipart upload of an SSE-KMS object'),
      ];
    case 'AbortMultipartUpload':
      return [{ action: 's3:AbortMultipartUpload', resource: objectArn, context: s3Context() }];
    case 'ListParts':
      return [{ action: 's3:ListMultipartUploadParts', resource: objectArn, context: s3Context() }];
    case 'DeleteObject':
      return [
        input.VersionId === undefined
          ? { action: 's3:DeleteObject', resource: objectArn, context: s3Context() }
          : { action: 's3:DeleteObjectVersion', resource: objectArn, context: s3Context() },
      ];
    default:
      return unmapped(`s3.${operation}`);
  }
}

// --- SageMaker ---------------------------------------------------------------------------------

/** SageMaker ARNs use lower-cased names. */
function sageMakerArn(site: CallSite, type: string, name: unknown): string {
  return `arn:${site.partition}:sagemaker:${site.region}:${site.account}:${type}/${String(name).toLowerCase()}`;
}

function hasTags(input: Input): boolean {
  return Array.isArray(input.Tags) && input.Tags.length > 0;
}

function sagemaker(operation: string, input: Input, site: CallSite): RequiredPermission[] {
  // A Create* call that carries Tags also needs sagemaker:AddTags on the created resource (SAR,
  // list_amazonsagemaker: CreateTrainingJob, CreateModel, CreateEndpointConfig and CreateEndpoint
  // list sagemaker:AddTags as a dependent action with condition aws:RequestTag/aws:TagKeys).
  const tagging = (resource: string): RequiredPermission[] =>
    hasTags(input) ? [{ action: 'sagemaker:AddTags', resource, because: `${operation} with Tags` }] : [];
  // Passing a role to SageMaker needs iam:PassRole on it (SAR, list_amazonsagemaker: dependent
  // action of CreateTrainingJob and CreateModel; IAM User Guide, "Grant a user permissions to pass
  // a role to an AWS service", https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html).
  const passRole = (role: unknown): RequiredPermission[] =>
    role === undefined
      ? []
      : [
          {
            action: 'iam:PassRole',
            resource: fieldText(role),
            context: { 'iam:PassedToService': 'sagemaker.amazonaws.com' },
            because: `${operation} passes the execution role`,
          },
        ];
  // Rollback alarms of a blue/green deployment: "Ensure that your IAM execution role has
  // permission to perform the cloudwatch:DescribeAlarms action on the auto-rollback alarms"
  // (SageMaker Developer Guide, "Auto-Rollback Configuration and Monitoring",
  // https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-configuration.html).
  const rollbackAlarms = (): RequiredPermission[] => {
    const deployment = input.DeploymentConfig as
      { AutoRollbackConfiguration?: { Alarms?: { AlarmName?: string }[] } } | undefined;
    return (deployment?.AutoRollbackConfiguration?.Alarms ?? []).map((alarm) => ({
      action: 'cloudwatch:DescribeAlarms',
      resource: alarmArn(site, alarm.AlarmName),
      because: `${operation} names ${String(alarm.AlarmName)} as a rollback alarm`,
    }));
  };
  switch (operation) {
    case 'CreateTrainingJob': {
      const job = sageMakerArn(site, 'training-job', input.TrainingJobName);
      return [
        { action: 'sagemaker:CreateTrainingJob', resource: job },
        ...tagging(job),
        ...passRole(input.RoleArn),
      ];
    }
    case 'DescribeTrainingJob':
    case 'StopTrainingJob':
      return [
        {
          action: `sagemaker:${operation}`,
          resource: sageMakerArn(site, 'training-job', input.TrainingJobName),
        },
      ];
    case 'CreateModel': {
      const model = sageMakerArn(site, 'model', input.ModelName);
      return [
        { action: 'sagemaker:CreateModel', resource: model },
        ...tagging(model),
        ...passRole(input.ExecutionRoleArn),
      ];
    }
    case 'DeleteModel':
    case 'DescribeModel':
      return [{ action: `sagemaker:${operation}`, resource: sageMakerArn(site, 'model', input.ModelName) }];
    case 'CreateEndpointConfig': {
      const config = sageMakerArn(site, 'endpoint-config', input.EndpointConfigName);
      return [{ action: 'sagemaker:CreateEndpointConfig', resource: config }, ...tagging(config)];
    }
    case 'DescribeEndpointConfig':
    case 'DeleteEndpointConfig':
      return [
        {
          action: `sagemaker:${operation}`,
          resource: sageMakerArn(site, 'endpoint-config', input.EndpointConfigName),
        },
      ];
    case 'CreateEndpoint':
    case 'UpdateEndpoint': {
      // Both resource types are required: endpoint* and endpoint-config* (SAR, list_amazonsagemaker).
      const endpoint = sageMakerArn(site, 'endpoint', input.EndpointName);
      return [
        { action: `sagemaker:${operation}`, resource: endpoint },
        {
          action: `sagemaker:${operation}`,
          resource: sageMakerArn(site, 'endpoint-config', input.EndpointConfigName),
          because: `${operation} authorizes on the endpoint config too`,
        },
        ...(operation === 'CreateEndpoint' ? tagging(endpoint) : []),
        ...rollbackAlarms(),
      ];
    }
    case 'DescribeEndpoint':
    case 'DeleteEndpoint':
      return [
        { action: `sagemaker:${operation}`, resource: sageMakerArn(site, 'endpoint', input.EndpointName) },
      ];
    default:
      return unmapped(`sagemaker.${operation}`);
  }
}

// --- CloudWatch --------------------------------------------------------------------------------

function alarmArn(site: CallSite, name: unknown): string {
  return `arn:${site.partition}:cloudwatch:${site.region}:${site.account}:alarm:${String(name)}`;
}

function cloudwatch(operation: string, input: Input, site: CallSite): RequiredPermission[] {
  switch (operation) {
    case 'PutMetricAlarm': {
      const alarm = alarmArn(site, input.AlarmName);
      return [
        { action: 'cloudwatch:PutMetricAlarm', resource: alarm },
        // "If you are using this operation to create an alarm with tags, you must also have the
        // cloudwatch:TagResource permission" (CloudWatch API Reference, PutMetricAlarm,
        // https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html).
        ...(hasTags(input)
          ? [{ action: 'cloudwatch:TagResource', resource: alarm, because: 'PutMetricAlarm with Tags' }]
          : []),
      ];
    }
    case 'DescribeAlarms': {
      // By name: each alarm's ARN; otherwise the action needs "*" (SAR, list_amazoncloudwatch).
      const names = (input.AlarmNames as string[] | undefined) ?? [];
      return names.length === 0
        ? [{ action: 'cloudwatch:DescribeAlarms', resource: '*' }]
        : names.map((name) => ({ action: 'cloudwatch:DescribeAlarms', resource: alarmArn(site, name) }));
    }
    case 'DeleteAlarms':
      return ((input.AlarmNames as string[] | undefined) ?? []).map((name) => ({
        action: 'cloudwatch:DeleteAlarms',
        resource: alarmArn(site, name),
      }));
    case 'PutMetricData':
      return [{ action: 'cloudwatch:PutMetricData', resource: '*' }];
    default:
      return unmapped(`cloudwatch.${operation}`);
  }
}

// --- SNS ---------------------------------------------------------------------------------------

function sns(operation: string, input: Input, site: CallSite): RequiredPermission[] {
  if (operation !== 'Publish') return unmapped(`sns.${operation}`);
  const topic = String(input.TopicArn ?? input.TargetArn);
  const key = site.topicKeys?.[topic];
  return [
    { action: 'sns:Publish', resource: topic, context: { 'aws:SecureTransport': 'true' } },
    // Publishing to an SSE-KMS topic: "make sure that any publishers have the
    // kms:GenerateDataKey* and kms:Decrypt permissions for the AWS KMS key" (SNS Developer Guide,
    // "Key management", https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html).
    ...(key === undefined
      ? []
      : ['kms:GenerateDataKey', 'kms:Decrypt'].map((action) => ({
          action,
          resource: key,
          context: {
            'kms:ViaService': `sns.${site.region}.amazonaws.com`,
            'kms:CallerAccount': site.account,
          },
          because: 'Publish to a KMS-encrypted topic',
        }))),
  ];
}

// --- SQS ---------------------------------------------------------------------------------------

/**
 * The queue's ARN from its URL, `https://sqs.<region>.amazonaws.com/<account>/<name>` (SAR,
 * list_amazonsqs: resource type queue, `arn:${Partition}:sqs:${Region}:${Account}:${QueueName}`).
 */
export function queueArnOfUrl(site: CallSite, queueUrl: unknown): string {
  const match = /^https:\/\/sqs\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?\/(\d{12})\/([^/]+)$/.exec(
    String(queueUrl),
  );
  if (!match) throw new Error(`not an SQS queue URL: ${String(queueUrl)}`);
  const [, region, account, name] = match;
  return `arn:${site.partition}:sqs:${region}:${account}:${name}`;
}

function sqs(operation: string, input: Input, site: CallSite): RequiredPermission[] {
  const tls = { 'aws:SecureTransport': 'true' };
  // The queue's own KMS key, when it is SSE-KMS: a producer needs kms:GenerateDataKey and
  // kms:Decrypt, a consumer kms:Decrypt (SQS Developer Guide, "Amazon SQS Key management",
  // "Example: producer permissions" / "consumer permissions",
  // https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-key-management.html);
  // an SSE-SQS queue's keys are SQS's own, and need no permission.
  const kms = (queue: string, actions: string[]): RequiredPermission[] => {
    const key = site.queueKeys?.[queue];
    return key === undefined
      ? []
      : actions.map((action) => ({
          action,
          resource: key,
          context: {
            'kms:ViaService': `sqs.${site.region}.amazonaws.com`,
            'kms:CallerAccount': site.account,
          },
          because: `${operation} on a KMS-encrypted queue`,
        }));
  };
  switch (operation) {
    case 'SendMessage':
    case 'SendMessageBatch': {
      // SendMessageBatch has no action of its own: it is authorized as sqs:SendMessage (SAR,
      // list_amazonsqs, which lists no SendMessageBatch action).
      const queue = queueArnOfUrl(site, input.QueueUrl);
      return [
        { action: 'sqs:SendMessage', resource: queue, context: tls },
        ...kms(queue, ['kms:GenerateDataKey', 'kms:Decrypt']),
      ];
    }
    case 'ReceiveMessage': {
      const queue = queueArnOfUrl(site, input.QueueUrl);
      return [
        { action: 'sqs:ReceiveMessage', resource: queue, context: tls },
        ...kms(queue, ['kms:Decrypt']),
      ];
    }
    case 'GetQueueAttributes':
    case 'DeleteMessage':
    case 'ChangeMessageVisibility':
      return [{ action: `sqs:${operation}`, resource: queueArnOfUrl(site, input.QueueUrl), context: tls }];
    case 'DeleteMessageBatch':
      // Authorized as sqs:DeleteMessage (SAR, list_amazonsqs: no DeleteMessageBatch action).
      return [{ action: 'sqs:DeleteMessage', resource: queueArnOfUrl(site, input.QueueUrl), context: tls }];
    case 'StartMessageMoveTask':
    case 'ListMessageMoveTasks':
    case 'CancelMessageMoveTask': {
      // A message move task reads and deletes on the source (the dead-letter queue) and sends to
      // the destination: "StartMessageMoveTask: sqs:StartMessageMoveTask, sqs:ReceiveMessage,
      // sqs:DeleteMessage, sqs:GetQueueAttributes on the DLQ, sqs:SendMessage on the destination";
      // ListMessageMoveTasks and CancelMessageMoveTask list the same four on the DLQ (SQS Developer
      // Guide, "Amazon SQS API permissions: Actions and resource reference",
      // https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-api-permissions-reference.html).
      // Cancel names a task handle, not a queue: it is not mapped.
      if (operation === 'CancelMessageMoveTask') return unmapped(`sqs.${operation}`);
      const source = fieldText(input.SourceArn);
      if (!/^arn:[^:]+:sqs:/.test(source)) throw new Error(`not an SQS queue ARN: ${source}`);
      const onSource = [
        `sqs:${operation}`,
        'sqs:ReceiveMessage',
        'sqs:DeleteMessage',
        'sqs:GetQueueAttributes',
      ];
      const permissions: RequiredPermission[] = onSource.map((action, i) => ({
        action,
        resource: source,
        context: tls,
        ...(i > 0 ? { because: `${operation} reads and deletes the source queue's messages` } : {}),
      }));
      if (operation === 'ListMessageMoveTasks') return permissions;
      // Without DestinationArn the messages go back to their source queues, which the request
      // does not name: the mapping needs the destination.
      if (input.DestinationArn === undefined)
        throw new Error('StartMessageMoveTask without DestinationArn: name the destination to map it');
      const destination = fieldText(input.DestinationArn);
      return [
        ...permissions,
        ...kms(source, ['kms:Decrypt']),
        {
          action: 'sqs:SendMessage',
          resource: destination,
          context: tls,
          because: 'StartMessageMoveTask sends the messages to the destination queue',
        },
        ...kms(destination, ['kms:GenerateDataKey', 'kms:Decrypt']),
      ];
    }
    default:
      return unmapped(`sqs.${operation}`);
  }
}

// --- Lambda ------------------------------------------------------------------------------------

/**
 * The function ARN IAM authorizes an invocation on, from Invoke's FunctionName (a name, a partial
 * ARN `<account>:function:<name>`, or an ARN, each with an optional `:<qualifier>`) and Qualifier
 * (Lambda API Reference, Invoke, "FunctionName"; a qualified ARN is the version's or alias's,
 * Lambda Developer Guide, "Fine-tuning the Resources and Conditions sections of policies",
 * https://docs.aws.amazon.com/lambda/latest/dg/lambda-api-permissions-ref.html).
 */
export function functionArnOf(site: CallSite, functionName: unknown, qualifier?: unknown): string {
  const name = String(functionName);
  const base = name.startsWith('arn:')
    ? name
    : /^\d{12}:function:/.test(name)
      ? `arn:${site.partition}:lambda:${site.region}:${name}`
      : `arn:${site.partition}:lambda:${site.region}:${site.account}:function:${name}`;
  // arn:partition:lambda:region:account:function:name[:qualifier]
  const qualified = base.split(':').length > 7;
  return qualifier === undefined || qualified ? base : `${base}:${fieldText(qualifier)}`;
}

function lambda(operation: string, input: Input, site: CallSite): RequiredPermission[] {
  if (operation !== 'Invoke') return unmapped(`lambda.${operation}`);
  // Invoke, synchronous or asynchronous (InvocationType Event) alike, is lambda:InvokeFunction on
  // the function (SAR, list_awslambda: InvokeFunction, resource type function, required).
  return [
    {
      action: 'lambda:InvokeFunction',
      resource: functionArnOf(site, input.FunctionName, input.Qualifier),
    },
  ];
}

// --- CloudFormation ----------------------------------------------------------------------------

function cloudformation(operation: string, input: Input, site: CallSite): RequiredPermission[] {
  if (operation !== 'DescribeStacks') return unmapped(`cloudformation.${operation}`);
  // Authorized on the stack, arn:${Partition}:cloudformation:${Region}:${Account}:stack/<name>/<id>
  // (SAR, list_awscloudformation: DescribeStacks, resource type stack); a request by name is
  // authorized on the named stack's ARN. Without StackName it describes every stack: "*".
  if (input.StackName === undefined) return [{ action: 'cloudformation:DescribeStacks', resource: '*' }];
  const name = fieldText(input.StackName);
  const arn = name.startsWith('arn:') ? name : site.stacks?.[name];
  if (arn === undefined) throw new Error(`no ARN known for stack ${name}: add it to the call site's stacks`);
  return [{ action: 'cloudformation:DescribeStacks', resource: arn }];
}

/** A request field as text: a string as is, anything else as its JSON (not `[object Object]`). */
function fieldText(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}
