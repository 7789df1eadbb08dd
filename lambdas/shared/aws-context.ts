/**
 * Builds the use cases' context from AWS adapters. Where this stands: handler plumbing, the one
 * place where handlers meet SDK clients. Clients are created once per cold start and can be
 * replaced in tests (`overrides`), as in Powertools' examples. The clients created here are
 * captured by the Powertools tracer, so each SDK call is an X-Ray subsegment (a pass-through
 * where tracing is off, lambdas/shared/observability.ts); injected clients are used as given.
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SageMakerClient } from '@aws-sdk/client-sagemaker';
import { SNSClient } from '@aws-sdk/client-sns';
import { CloudWatchAlarmService } from '../../adapters/aws/cloudwatch-alarm-service';
import { S3ObjectStore } from '../../adapters/aws/s3-object-store';
import { SageMakerEndpointService } from '../../adapters/aws/sagemaker-endpoint-service';
import { SageMakerTrainingService } from '../../adapters/aws/sagemaker-training-service';
import { createNotifier } from '../../adapters/aws/sns-notifier';
import { createRegistryStore } from '../../adapters/dynamodb/dynamodb-registry-store';
import { ResourceNames } from '../../core/domain/naming';
import { systemClock } from '../../core/ports/clock';
import type { Log, MlopsContext } from '../../core/use-cases/context';
import { readSettings, type HandlerSettings } from './environment';
import { traced } from './observability';
import { isPlainObject } from '../../core/support/objects';

/** SDK clients the context uses; any of them can be injected (tests, the local cloud). */
export interface AwsClients {
  readonly dynamodb: DynamoDBClient;
  readonly s3: S3Client;
  readonly sagemaker: SageMakerClient;
  readonly cloudwatch: CloudWatchClient;
  readonly sns: SNSClient;
}

/** Creates the context for a handler from its settings (read from the environment by default). */
export function createAwsContext(
  log: Log,
  settings: HandlerSettings = readSettings(),
  overrides: Partial<AwsClients> = {},
): MlopsContext {
  const region = settings.region;
  const clients: AwsClients = {
    dynamodb: overrides.dynamodb ?? traced(new DynamoDBClient({ region })),
    s3: overrides.s3 ?? traced(new S3Client({ region })),
    sagemaker: overrides.sagemaker ?? traced(new SageMakerClient({ region })),
    cloudwatch: overrides.cloudwatch ?? traced(new CloudWatchClient({ region })),
    sns: overrides.sns ?? traced(new SNSClient({ region })),
  };
  let defaultModelConfig: Record<string, unknown> | undefined;
  if (settings.defaultModelConfig) {
    const parsed: unknown = JSON.parse(settings.defaultModelConfig);
    if (!isPlainObject(parsed)) throw new Error('DEFAULT_MODEL_CONFIG must be a JSON object');
    defaultModelConfig = parsed;
  }
  return {
    registry: createRegistryStore(clients.dynamodb, settings.registryTable),
    objects: new S3ObjectStore(clients.s3),
    training: new SageMakerTrainingService(clients.sagemaker, settings.sageMakerRoleArn),
    endpoints: new SageMakerEndpointService(clients.sagemaker, settings.sageMakerRoleArn),
    alarms: new CloudWatchAlarmService(clients.cloudwatch),
    notifier: createNotifier(clients.sns, settings.notificationTopicArn),
    clock: systemClock,
    names: new ResourceNames(settings.resourcePrefix),
    log,
    bucket: settings.dataBucket,
    region,
    ...(defaultModelConfig ? { defaultModelConfig } : {}),
  };
}
