/**
 * `--stack <name>`: a deployed stack as the operator commands see it, through the user's own AWS
 * credentials (the SDK's default chain): outputs from CloudFormation, reads from the registry
 * table, alarm states from CloudWatch, mutations through the operator function, uploads into the
 * data bucket. Where this stands: CLI target for AWS; every call it makes is listed in
 * cli/target/aws-calls.ts.
 */
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { CloudWatchClient, DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { createRegistryStore } from '../../adapters/dynamodb/dynamodb-registry-store';
import { ResourceNames } from '../../core/domain/naming';
import type { OperatorCommand, OperatorResult } from '../../core/domain/operator-commands';
import { CliError } from '../command';
import { explainAwsError } from './aws-errors';
import { AwsDeadLetterQueues } from './dead-letter-queues';
import { parseOperatorResult } from './operator-result';
import { S3DatasetUploader } from './s3-uploader';
import { readStackOutputs, requireOutput, type StackOutputs } from './stack-outputs';
import type { AlarmReader, AlarmState, OperatorClient, RegistryReader, Target } from './target';

/** The SDK clients of the AWS target (injected by tests, mocked per instance). */
export interface AwsClients {
  readonly cloudFormation: CloudFormationClient;
  readonly dynamodb: DynamoDBClient;
  readonly cloudWatch: CloudWatchClient;
  readonly lambda: LambdaClient;
  readonly sts: STSClient;
  readonly s3: S3Client;
  readonly sqs: SQSClient;
}

/** Clients in `region` (or the SDK's default: AWS_REGION, the profile's region). */
export function createAwsClients(region?: string): AwsClients {
  const config = region ? { region } : {};
  return {
    cloudFormation: new CloudFormationClient(config),
    dynamodb: new DynamoDBClient(config),
    cloudWatch: new CloudWatchClient(config),
    lambda: new LambdaClient(config),
    sts: new STSClient(config),
    s3: new S3Client(config),
    sqs: new SQSClient(config),
  };
}

/** A deployed stack: a {@link Target} plus its outputs and dead-letter queues. */
export interface AwsTarget extends Target {
  readonly kind: 'aws';
  readonly stack: string;
  readonly outputs: StackOutputs;
  readonly deadLetters: AwsDeadLetterQueues;
}

/** The target of `--stack <stack> [--region <region>]`. */
export async function awsTarget(
  options: { readonly stack: string; readonly region?: string },
  clients: AwsClients = createAwsClients(options.region),
): Promise<AwsTarget> {
  const { stack } = options;
  let region: string;
  try {
    region = await clients.cloudFormation.config.region();
  } catch (error) {
    throw explainAwsError(error, `finding stack ${stack}`);
  }
  const outputs = await readStackOutputs(clients.cloudFormation, stack, region);
  const table = requireOutput(outputs, 'RegistryTableName', stack);
  const bucket = requireOutput(outputs, 'DataBucketName', stack);
  const registry = explaining(createRegistryStore(clients.dynamodb, table), `reading table ${table}`);
  const prefix = outputs.ResourcePrefix;
  let actor: Promise<string> | undefined;
  return {
    kind: 'aws',
    stack,
    outputs,
    description: `stack ${stack} (${region})`,
    bucket,
    ...(prefix ? { resourcePrefix: prefix } : {}),
    registry,
    alarms: new CloudWatchAlarmReader(clients.cloudWatch, () =>
      prefix ? Promise.resolve(prefix) : prefixFromRegistry(registry),
    ),
    operator: new LambdaOperatorClient(clients.lambda, () =>
      requireOutput(outputs, 'OperatorFunctionName', stack),
    ),
    uploader: new S3DatasetUploader(clients.s3, bucket),
    deadLetters: new AwsDeadLetterQueues(clients.sqs, clients.lambda, outputs, stack),
    actor: () => (actor ??= callerArn(clients.sts)),
    close() {
      for (const client of Object.values(clients) as { destroy(): void }[]) client.destroy();
    },
  };
}

/** The caller's identity for the audit trail: STS GetCallerIdentity's ARN (needs no permission). */
async function callerArn(sts: STSClient): Promise<string> {
  try {
    const { Arn } = await sts.send(new GetCallerIdentityCommand({}));
    if (!Arn) throw new CliError('STS GetCallerIdentity returned no ARN');
    return Arn;
  } catch (error) {
    throw explainAwsError(error, 'finding who you are (STS GetCallerIdentity)');
  }
}

/**
 * The stack's resource prefix read off a training job name (`<prefix>-<model>-v<n>-<hash>`), for
 * stacks without a ResourcePrefix output; undefined while no version exists.
 */
export async function prefixFromRegistry(registry: RegistryReader): Promise<string | undefined> {
  for (const model of await registry.listModels()) {
    for (const version of await registry.listVersions(model.model)) {
      const match = new RegExp(`^(.+)-${model.model}-v${version.version}-[0-9a-f]{4}$`).exec(
        version.trainingJobName,
      );
      if (match?.[1]) return match[1];
    }
  }
  return undefined;
}

/** DescribeAlarms takes at most 100 alarm names per request. */
const ALARM_NAMES_PER_CALL = 100;

/**
 * The model alarms from CloudWatch DescribeAlarms, asked by name (the five of each model,
 * core/domain/naming.ts): the read-only policy grants DescribeAlarms on those names only.
 */
export class CloudWatchAlarmReader implements AlarmReader {
  constructor(
    private readonly cloudWatch: CloudWatchClient,
    private readonly prefix: () => Promise<string | undefined>,
  ) {}

  async listAlarms(models: readonly string[]): Promise<AlarmState[]> {
    const prefix = await this.prefix();
    if (prefix === undefined || models.length === 0) return [];
    const names = new ResourceNames(prefix);
    const wanted = models.flatMap((model) => Object.values(names.alarms(model)));
    const alarms: AlarmState[] = [];
    try {
      for (let i = 0; i < wanted.length; i += ALARM_NAMES_PER_CALL) {
        let token: string | undefined;
        do {
          const page = await this.cloudWatch.send(
            new DescribeAlarmsCommand({
              AlarmNames: wanted.slice(i, i + ALARM_NAMES_PER_CALL),
              ...(token ? { NextToken: token } : {}),
            }),
          );
          for (const alarm of page.MetricAlarms ?? []) {
            if (!alarm.AlarmName) continue;
            const model = names.modelFromAlarm(alarm.AlarmName);
            alarms.push({
              name: alarm.AlarmName,
              state: alarm.StateValue ?? 'INSUFFICIENT_DATA',
              reason: alarm.StateReason ?? '',
              updatedAt: alarm.StateUpdatedTimestamp?.toISOString() ?? '',
              ...(alarm.Threshold !== undefined ? { threshold: alarm.Threshold } : {}),
              ...(model ? { model } : {}),
            });
          }
          token = page.NextToken;
        } while (token);
      }
    } catch (error) {
      throw explainAwsError(error, 'reading the model alarms (CloudWatch DescribeAlarms)');
    }
    return alarms;
  }
}

/** Operator commands through the stack's operator function (Lambda Invoke, request-response). */
export class LambdaOperatorClient implements OperatorClient {
  constructor(
    private readonly lambda: LambdaClient,
    private readonly functionName: () => string,
  ) {}

  async send(command: OperatorCommand): Promise<OperatorResult> {
    const functionName = this.functionName();
    let answer;
    try {
      answer = await this.lambda.send(
        new InvokeCommand({
          FunctionName: functionName,
          InvocationType: 'RequestResponse',
          Payload: new TextEncoder().encode(JSON.stringify(command)),
        }),
      );
    } catch (error) {
      throw explainAwsError(error, `invoking the operator function ${functionName}`);
    }
    const text = answer.Payload ? new TextDecoder().decode(answer.Payload) : '';
    if (answer.FunctionError) {
      // The handler answers bad input itself; a FunctionError is a crash, logged by the function.
      throw new CliError(
        `the operator function ${functionName} failed (${answer.FunctionError}): ${text}\nIts log group has the details.`,
      );
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new CliError(`the operator function ${functionName} answered what is not JSON: ${text}`);
    }
    return parseOperatorResult(parsed, `the operator function ${functionName}`);
  }
}

/** Wraps every method of a registry reader so SDK errors say what to do. */
function explaining(registry: RegistryReader, doing: string): RegistryReader {
  return new Proxy(registry, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        try {
          const method = value as (...a: unknown[]) => Promise<unknown>;
          return await method.apply(target, args);
        } catch (error) {
          throw explainAwsError(error, doing);
        }
      };
    },
  });
}
