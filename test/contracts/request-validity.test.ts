/**
 * Contract: every request the stack sends to AWS is one AWS accepts. Requests are checked against
 * AWS's own service models (botocore's service-2.json: required members, enums, lengths, patterns,
 * ranges, unknown members) and against the documented rules the models do not encode (blue/green
 * sizes against the fleet, managed spot waits, alarm metric math: botocore-documented-rules.ts).
 * Requests come from (a) a matrix of model configs driven through the real adapters and use cases
 * with mocked clients, and (c) every call a pipeline run makes (DynamoDB and S3 included),
 * recorded by the harness's call journal (test/contracts/support/pipeline-scenario.ts when
 * present, else a small run of our own), and (d) every call the reconciler makes over every
 * situation it repairs (support/reconciler-scenario.ts: S3 listing and cursor, registry, SageMaker,
 * the rollout it re-applies, SQS and Lambda re-delivery), whose re-delivered events must also be
 * the ones EventBridge would have delivered (the target handler's schema, the synthesized rule's
 * pattern); (b) the documented rules apply to all, and known-bad inputs show that neither the
 * model validator nor the rules can pass vacuously.
 *
 * The models come from Debian's python3-botocore (.ci/run installs it); without them this test
 * fails, naming the fix.
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import {
  DescribeEndpointCommand,
  SageMakerClient,
  SageMakerServiceException,
} from '@aws-sdk/client-sagemaker';
import { convertToAttr } from '@aws-sdk/util-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { CfnElement } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloudWatchAlarmService } from '../../adapters/aws/cloudwatch-alarm-service';
import { SageMakerEndpointService } from '../../adapters/aws/sagemaker-endpoint-service';
import { SageMakerTrainingService } from '../../adapters/aws/sagemaker-training-service';
import { parseModelConfig, type ModelConfig } from '../../core/domain/model-config';
import { artifactPrefix, ResourceNames } from '../../core/domain/naming';
import type { ModelRecord, VersionRecord } from '../../core/domain/registry';
import type { RegistryStore, TransitionRequest } from '../../core/ports/registry-store';
import type { TrainingJobSpec } from '../../core/ports/training-service';
import { silentLog, type MlopsContext } from '../../core/use-cases/context';
import { DeployVersion, VARIANT_NAME } from '../../core/use-cases/deploy-version';
import { trainingPlan } from '../../core/use-cases/ingest-dataset';
import { datasetIdentity } from '../../core/use-cases/reconcile';
import {
  endpointStateChangeEvent,
  s3ObjectCreatedEvent,
  trainingJobStateChangeEvent,
} from '../../lambdas/shared/events';
import { cleanupOutdirs, synthMlopsStack } from '../lib/helpers';
import type { RecordedCall } from '../support/aws-call-journal';
import { MemoryOutbox } from '../support/memory-outbox';
import { anyString, objectContaining } from '../support/matchers';
import {
  alarmEvent,
  churnCsv,
  endpointEvent,
  lambdaContext,
  sqsBatch,
  startPipelineHarness,
  trainingEvent,
  type PipelineHarness,
} from '../support/pipeline-harness';
import {
  asyncInvokeProblems,
  deploymentConfigProblems,
  MAX_EVENT_PAYLOAD_BYTES,
  metricAlarmProblems,
  spotTrainingProblems,
  sqsMessageProblems,
  type VariantCapacity,
} from './support/botocore-documented-rules';
import {
  botocoreDataDir,
  BOTOCORE_SERVICES,
  loadServiceModel,
  type BotocoreServiceModel,
} from './support/botocore-model';
import { newStats, validateInput, type ValidationStats } from './support/botocore-validate';
import { matchesPattern, synthesizedRules, type SynthesizedRule } from './support/event-pattern';
import {
  LOST_UPLOAD_KEY,
  runReconcilerScenario,
  type ReconcilerScenario,
  type RedeliveryTarget,
} from './support/reconciler-scenario';

const REGION = 'us-east-1';
const BUCKET = 'mlops-data-123';
const ROLE = 'arn:aws:iam::123456789012:role/mlops-sagemaker';
const ECR = '123456789012.dkr.ecr.us-east-1.amazonaws.com';

type Service = keyof typeof BOTOCORE_SERVICES;
let models: Record<Service, BotocoreServiceModel>;
const stats = newStats();

beforeAll(() => {
  // Throws, naming the fix, when python3-botocore is not installed: never a silent skip.
  const dir = botocoreDataDir();
  models = Object.fromEntries(
    (Object.keys(BOTOCORE_SERVICES) as Service[]).map((service) => [
      service,
      loadServiceModel(BOTOCORE_SERVICES[service], dir),
    ]),
  ) as unknown as Record<Service, BotocoreServiceModel>;
});

/** The members of DynamoDB's AttributeValue (a value already in wire form has exactly one). */
const ATTRIBUTE_VALUE_MEMBERS = new Set(['S', 'N', 'B', 'SS', 'NS', 'BS', 'M', 'L', 'NULL', 'BOOL']);

/**
 * A DynamoDB value as it goes on the wire. The registry uses the document client, which marshals
 * native values into AttributeValues just before serialising (lib-dynamodb's DocumentMarshall
 * middleware), after the journal recorded them: marshal them the same way (the registry's
 * options: removeUndefinedValues, no convertEmptyValues). A value already in wire form is kept.
 */
function wireAttributeValue(shapeName: string, value: unknown): unknown {
  if (shapeName !== 'AttributeValue') return value;
  const keys = value !== null && typeof value === 'object' && !Array.isArray(value) ? Object.keys(value) : [];
  if (keys.length === 1 && ATTRIBUTE_VALUE_MEMBERS.has(keys[0]!) && !(value instanceof Set)) return value;
  return convertToAttr(value, { removeUndefinedValues: true, convertEmptyValues: false });
}

/** Model and documented-rule problems of one call, each prefixed with the operation. */
function callProblems(
  call: RecordedCall,
  capacityOf: (configName: string) => VariantCapacity | undefined,
): string[] {
  const problems = validateInput(models[call.service], call.operation, call.input, {
    stats,
    ...(call.service === 'dynamodb' ? { transform: wireAttributeValue } : {}),
    // S3 payloads are streams the SDK serialises itself; their content is not a request member.
    skip: (_path, ref, shape) =>
      call.service === 's3' && shape.type === 'blob' && (ref.streaming || shape.streaming)
        ? 'streaming payload'
        : undefined,
  });
  const input = call.input as Record<string, unknown>;
  if (call.operation === 'UpdateEndpoint') {
    const capacity = capacityOf(String(input.EndpointConfigName));
    if (capacity === undefined)
      problems.push(`UpdateEndpoint: endpoint config ${String(input.EndpointConfigName)} was never created`);
    else problems.push(...deploymentConfigProblems(input, capacity).map((p) => `UpdateEndpoint.${p}`));
  }
  if (call.operation === 'CreateTrainingJob')
    problems.push(...spotTrainingProblems(input).map((p) => `CreateTrainingJob.${p}`));
  if (call.operation === 'PutMetricAlarm')
    problems.push(...metricAlarmProblems(input).map((p) => `PutMetricAlarm.${p}`));
  if (call.service === 'sqs' && call.operation === 'SendMessage')
    problems.push(...sqsMessageProblems(input).map((p) => `SendMessage.${p}`));
  if (call.service === 'lambda' && call.operation === 'Invoke')
    problems.push(...asyncInvokeProblems(input).map((p) => `Invoke.${p}`));
  return problems;
}

/** The capacity of each endpoint config created in `calls` (CreateEndpointConfig's only variant). */
function capacities(calls: readonly RecordedCall[]): (configName: string) => VariantCapacity | undefined {
  const byName = new Map<string, VariantCapacity>();
  for (const call of calls) {
    if (call.operation !== 'CreateEndpointConfig') continue;
    const input = call.input as {
      EndpointConfigName: string;
      ProductionVariants: { InitialInstanceCount?: number; ServerlessConfig?: unknown }[];
    };
    const variant = input.ProductionVariants[0];
    byName.set(
      input.EndpointConfigName,
      variant?.ServerlessConfig !== undefined
        ? 'serverless'
        : { instances: variant?.InitialInstanceCount ?? 0 },
    );
  }
  return (name) => byName.get(name);
}

describe("AWS's service models", () => {
  it('are installed (python3-botocore) and hold every service the stack calls', () => {
    for (const service of Object.keys(BOTOCORE_SERVICES) as Service[]) {
      expect(Object.keys(models[service].operations).length, service).toBeGreaterThan(10);
    }
    expect(models.sagemaker.operations.UpdateEndpoint).toBeDefined();
    expect(models.cloudwatch.operations.PutMetricAlarm).toBeDefined();
  });

  it('fail with the fix named when missing (never a silent skip)', () => {
    expect(() => loadServiceModel('sagemaker', '/nonexistent/botocore/data')).toThrow(
      /no botocore model for sagemaker .*install Debian's python3-botocore/,
    );
  });
});

describe('the validators refuse known-bad requests (so they cannot pass vacuously)', () => {
  const good = {
    EndpointName: 'mlops-churn',
    EndpointConfigName: 'mlops-churn-v2-1a2b',
    DeploymentConfig: {
      BlueGreenUpdatePolicy: {
        TrafficRoutingConfiguration: { Type: 'ALL_AT_ONCE', WaitIntervalInSeconds: 300 },
        TerminationWaitInSeconds: 120,
        MaximumExecutionTimeoutInSeconds: 2220,
      },
    },
  };
  const problems = (input: unknown) => validateInput(models.sagemaker, 'UpdateEndpoint', input);

  it('accepts a good request', () => {
    expect(problems(good)).toEqual([]);
  });

  it('refuses a missing required member', () => {
    expect(problems({ EndpointName: 'mlops-churn' })).toEqual([
      'UpdateEndpoint: missing required member EndpointConfigName (UpdateEndpointInput)',
    ]);
    const noType = structuredClone(good) as {
      DeploymentConfig: { BlueGreenUpdatePolicy: { TrafficRoutingConfiguration: Record<string, unknown> } };
    };
    delete noType.DeploymentConfig.BlueGreenUpdatePolicy.TrafficRoutingConfiguration.Type;
    expect(problems(noType)).toEqual([
      'UpdateEndpoint.DeploymentConfig.BlueGreenUpdatePolicy.TrafficRoutingConfiguration: missing required member Type (TrafficRoutingConfig)',
    ]);
  });

  it('refuses a value outside an enum', () => {
    const bad = structuredClone(good);
    (bad.DeploymentConfig.BlueGreenUpdatePolicy.TrafficRoutingConfiguration as { Type: string }).Type =
      'BLUE_GREEN';
    expect(problems(bad)[0]).toMatch(
      /TrafficRoutingConfiguration\.Type: "BLUE_GREEN" is not one of .*ALL_AT_ONCE \| CANARY \| LINEAR/,
    );
  });

  it('refuses a name that is too long or breaks the pattern', () => {
    // 64 characters breaks the length limit, and the pattern too ({0,62} after the first).
    expect(problems({ ...good, EndpointName: 'x'.repeat(64) })).toEqual([
      'UpdateEndpoint.EndpointName: 64 characters is above the maximum 63',
      `UpdateEndpoint.EndpointName: "${'x'.repeat(64)}" does not match EndpointName's pattern ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}`,
    ]);
    expect(problems({ ...good, EndpointName: 'x'.repeat(63) })).toEqual([]);
    expect(problems({ ...good, EndpointName: 'mlops_churn' })[0]).toMatch(
      /EndpointName: "mlops_churn" does not match EndpointName's pattern/,
    );
  });

  it('refuses an unknown member, a wrong type and an out-of-range number', () => {
    expect(problems({ ...good, RetainVariantWeights: true })[0]).toMatch(
      /^UpdateEndpoint: unknown member RetainVariantWeights/,
    );
    const wait = structuredClone(good);
    (
      wait.DeploymentConfig.BlueGreenUpdatePolicy.TrafficRoutingConfiguration as {
        WaitIntervalInSeconds: unknown;
      }
    ).WaitIntervalInSeconds = 3601;
    expect(problems(wait)).toEqual([
      'UpdateEndpoint.DeploymentConfig.BlueGreenUpdatePolicy.TrafficRoutingConfiguration.WaitIntervalInSeconds: 3601 is above the maximum 3600',
    ]);
    (
      wait.DeploymentConfig.BlueGreenUpdatePolicy.TrafficRoutingConfiguration as {
        WaitIntervalInSeconds: unknown;
      }
    ).WaitIntervalInSeconds = '300';
    expect(problems(wait)[0]).toMatch(/WaitIntervalInSeconds: must be an integer/);
  });

  it('refuses list and map sizes out of range (AutoRollbackConfig.Alarms 1-10, Tags)', () => {
    const noAlarms = {
      ...good,
      DeploymentConfig: { ...good.DeploymentConfig, AutoRollbackConfiguration: { Alarms: [] } },
    };
    expect(problems(noAlarms)).toEqual([
      'UpdateEndpoint.DeploymentConfig.AutoRollbackConfiguration.Alarms: 0 items is below the minimum 1',
    ]);
    const tooManyTags = validateInput(models.sagemaker, 'CreateEndpoint', {
      EndpointName: 'mlops-churn',
      EndpointConfigName: 'cfg',
      Tags: Array.from({ length: 51 }, (_, i) => ({ Key: `k${i}`, Value: 'v' })),
    });
    expect(tooManyTags).toEqual(['CreateEndpoint.Tags: 51 items is above the maximum 50']);
  });

  it('refuses the documented blue/green rules: a canary on one instance, a step above half the fleet', () => {
    const canary = (size: { Type: string; Value: number }) => ({
      ...good,
      DeploymentConfig: {
        BlueGreenUpdatePolicy: {
          ...good.DeploymentConfig.BlueGreenUpdatePolicy,
          TrafficRoutingConfiguration: { Type: 'CANARY', WaitIntervalInSeconds: 300, CanarySize: size },
        },
      },
    });
    // Today's default deployment (1 instance, canary 10 %): valid for the model, refused by the rule.
    expect(problems(canary({ Type: 'CAPACITY_PERCENT', Value: 10 }))).toEqual([]);
    expect(
      deploymentConfigProblems(canary({ Type: 'CAPACITY_PERCENT', Value: 10 }), { instances: 1 })[0],
    ).toMatch(/CanarySize: 10 % of a 1-instance variant is 100% of its instances; a canary must be <= 50%/);
    expect(deploymentConfigProblems(canary({ Type: 'INSTANCE_COUNT', Value: 1 }), { instances: 2 })).toEqual(
      [],
    );
    expect(
      deploymentConfigProblems(canary({ Type: 'INSTANCE_COUNT', Value: 3 }), { instances: 4 }),
    ).toHaveLength(1);
    expect(deploymentConfigProblems(canary({ Type: 'INSTANCE_COUNT', Value: 1 }), 'serverless')).toHaveLength(
      1,
    );
    const linear = {
      DeploymentConfig: {
        BlueGreenUpdatePolicy: {
          TrafficRoutingConfiguration: {
            Type: 'LINEAR',
            WaitIntervalInSeconds: 300,
            LinearStepSize: { Type: 'INSTANCE_COUNT', Value: 1 },
          },
          MaximumExecutionTimeoutInSeconds: 900,
        },
      },
    };
    // 1 of 20 instances is a 5 % step (below 10 %), and 20 bakes of 300 s outlast the timeout.
    expect(deploymentConfigProblems(linear, { instances: 20 })).toHaveLength(2);
  });

  it('refuses the documented spot rules', () => {
    expect(
      spotTrainingProblems({
        EnableManagedSpotTraining: true,
        StoppingCondition: { MaxRuntimeInSeconds: 3600 },
      }),
    ).toHaveLength(1);
    expect(
      spotTrainingProblems({
        EnableManagedSpotTraining: true,
        StoppingCondition: { MaxRuntimeInSeconds: 3600, MaxWaitTimeInSeconds: 600 },
      }),
    ).toEqual(['StoppingCondition.MaxWaitTimeInSeconds: 600 must be >= MaxRuntimeInSeconds (3600)']);
    expect(
      spotTrainingProblems({
        EnableManagedSpotTraining: false,
        StoppingCondition: { MaxRuntimeInSeconds: 3600, MaxWaitTimeInSeconds: 3600 },
      }),
    ).toHaveLength(1);
  });

  it('refuses bad alarm metric math', () => {
    const stat = (id: string, returnData?: boolean) => ({
      Id: id,
      MetricStat: {
        Metric: { Namespace: 'AWS/SageMaker', MetricName: 'Invocations' },
        Period: 60,
        Stat: 'Sum',
      },
      ...(returnData === undefined ? {} : { ReturnData: returnData }),
    });
    const base = { AlarmName: 'a', EvaluationPeriods: 5, DatapointsToAlarm: 3 };
    // Two queries return data (ReturnData omitted means true) without a band.
    expect(
      metricAlarmProblems({
        ...base,
        Metrics: [stat('m1'), stat('m2')],
        Threshold: 1,
        ComparisonOperator: 'GreaterThanThreshold',
      }),
    ).toEqual(['Metrics: exactly one query must return data (ReturnData true or omitted), got 2 (m1, m2)']);
    // Ids must start with a lowercase letter.
    expect(
      metricAlarmProblems({
        ...base,
        Metrics: [stat('M1')],
        Threshold: 1,
        ComparisonOperator: 'GreaterThanThreshold',
      })[0],
    ).toMatch(/Metrics\[0\]\.Id: "M1" must be/);
    // An anomaly band needs ThresholdMetricId, a band operator and no Threshold.
    const band = { Id: 'ad1', Expression: 'ANOMALY_DETECTION_BAND(m1, 2)', ReturnData: true };
    expect(
      metricAlarmProblems({
        ...base,
        Metrics: [stat('m1', true), band],
        ThresholdMetricId: 'ad1',
        ComparisonOperator: 'LessThanLowerOrGreaterThanUpperThreshold',
      }),
    ).toEqual([]);
    expect(
      metricAlarmProblems({
        ...base,
        Metrics: [stat('m1', true), band],
        ThresholdMetricId: 'ad1',
        Threshold: 3,
        ComparisonOperator: 'GreaterThanThreshold',
      }),
    ).toHaveLength(2);
    expect(
      metricAlarmProblems({
        ...base,
        Metrics: [stat('m1', false), band],
        ThresholdMetricId: 'ad1',
        ComparisonOperator: 'GreaterThanUpperThreshold',
      }),
    ).toHaveLength(1);
    expect(
      metricAlarmProblems({
        ...base,
        DatapointsToAlarm: 6,
        MetricName: 'x',
        Namespace: 'n',
        Statistic: 'Sum',
        Period: 45,
        Threshold: 1,
        ComparisonOperator: 'GreaterThanThreshold',
      }),
    ).toHaveLength(2);
  });

  it("refuses the reconciler's bad re-delivery requests: the model's and the documented rules", () => {
    const fn = 'arn:aws:lambda:us-east-1:123456789012:function:mlops-training-events';
    const invoke = (input: Record<string, unknown>) => [
      ...validateInput(models.lambda, 'Invoke', input),
      ...asyncInvokeProblems(input),
    ];
    const payload = new TextEncoder().encode('{"source":"aws.sagemaker"}');
    expect(invoke({ FunctionName: fn, InvocationType: 'Event', Payload: payload })).toEqual([]);
    expect(invoke({ FunctionName: fn, InvocationType: 'Async', Payload: payload })[0]).toMatch(
      /^Invoke\.InvocationType: "Async" is not one of InvocationType's values/,
    );
    expect(invoke({ FunctionName: 'my function', InvocationType: 'Event' })[0]).toMatch(
      /^Invoke\.FunctionName: "my function" does not match/,
    );
    expect(invoke({ FunctionName: fn, InvocationType: 'Event', Payload: 'source=aws.sagemaker' })).toEqual([
      expect.stringMatching(/^Payload: not JSON/),
    ]);
    expect(
      invoke({
        FunctionName: fn,
        InvocationType: 'Event',
        Payload: `"${'x'.repeat(MAX_EVENT_PAYLOAD_BYTES)}"`,
      }),
    ).toEqual([expect.stringMatching(/^Payload: 1048578 bytes is above the asynchronous invocation limit/)]);
    const send = (input: Record<string, unknown>) => [
      ...validateInput(models.sqs, 'SendMessage', input),
      ...sqsMessageProblems(input),
    ];
    const queue = 'https://sqs.us-east-1.amazonaws.com/123456789012/mlops-ingest';
    expect(send({ QueueUrl: queue, MessageBody: '{}' })).toEqual([]);
    expect(send({ MessageBody: '{}' })).toEqual([
      'SendMessage: missing required member QueueUrl (SendMessageRequest)',
    ]);
    expect(send({ QueueUrl: queue, MessageBody: '' })).toEqual([
      'MessageBody: must be at least one character',
    ]);
    expect(send({ QueueUrl: queue, MessageBody: '{"key":"a\u0000b"}' })).toEqual([
      'MessageBody: U+0000 at 9 is not an allowed character',
    ]);
    expect(send({ QueueUrl: queue, MessageBody: 'x'.repeat(MAX_EVENT_PAYLOAD_BYTES + 1) })).toHaveLength(1);
    expect(
      validateInput(models.s3, 'ListObjectVersions', {
        Bucket: 'b',
        Prefix: 'datasets/',
        MaxKeys: '1000',
      })[0],
    ).toMatch(/^ListObjectVersions\.MaxKeys: must be an integer/);
  });
});

/** A model config of the matrix, as a data scientist would write its config.json. */
interface MatrixEntry {
  readonly name: string;
  readonly model: string;
  readonly config: Record<string, unknown>;
  /** Must be accepted (a config every deployment relies on); otherwise refusing it is fine. */
  readonly mustAccept: boolean;
}

const script = {
  type: 'script',
  imageUri: `${ECR}/sagemaker-scikit-learn:1.2-1-cpu-py3`,
  entryPoint: 'train.py',
  sourceUri: `s3://${BUCKET}/models/churn/code/sourcedir.tar.gz`,
  metricDefinitions: [{ name: 'validation:auc', regex: 'validation auc: ([0-9\\.]+)' }],
};
const MATRIX: readonly MatrixEntry[] = [
  { name: 'default (no config.json)', model: 'churn', config: {}, mustAccept: true },
  // The longest model name: every derived name (job, config, endpoint, alarms) at its longest.
  { name: 'default, longest model name', model: 'a'.repeat(40), config: {}, mustAccept: true },
  { name: 'serverless', model: 'churn', config: { deployment: { type: 'serverless' } }, mustAccept: true },
  ...[1, 2, 4].flatMap((instances) => [
    {
      name: `canary, ${instances} instance(s)`,
      model: 'churn',
      config: { deployment: { strategy: 'canary', initialInstanceCount: instances } },
      mustAccept: instances > 1,
    },
    {
      name: `linear, ${instances} instance(s)`,
      model: 'churn',
      config: { deployment: { strategy: 'linear', initialInstanceCount: instances, stepPercent: 25 } },
      mustAccept: instances > 1,
    },
    {
      name: `default strategy, ${instances} instance(s)`,
      model: 'churn',
      config: { deployment: { initialInstanceCount: instances } },
      mustAccept: true,
    },
  ]),
  {
    name: 'spot',
    model: 'churn',
    config: { training: { spot: true, maxWaitSeconds: 7200 } },
    mustAccept: true,
  },
  { name: 'spot, default wait', model: 'churn', config: { training: { spot: true } }, mustAccept: true },
  {
    name: 'multiclass',
    model: 'churn',
    config: { problemType: 'multiclass_classification', hyperparameters: { num_class: 3 } },
    mustAccept: true,
  },
  { name: 'regression', model: 'churn', config: { problemType: 'regression' }, mustAccept: true },
  {
    name: 'script mode',
    model: 'churn',
    config: { algorithm: script, hyperparameters: { epochs: 3 } },
    mustAccept: true,
  },
  {
    name: 'custom image',
    model: 'churn',
    config: {
      algorithm: {
        type: 'image',
        imageUri: `${ECR}/my-trainer@sha256:${'a'.repeat(64)}`,
        metricDefinitions: script.metricDefinitions,
      },
      hyperparameters: { depth: 4, verbose: true },
      training: {
        instanceType: 'ml.c5.xlarge',
        instanceCount: 2,
        volumeSizeGb: 50,
        maxRuntimeSeconds: 86400,
      },
      monitoring: { evaluationPeriods: 60, datapointsToAlarm: 60, anomalyBandWidth: 10 },
    },
    mustAccept: true,
  },
];

/** A registry holding one model and its versions, enough for DeployVersion (its outbox included). */
function memoryRegistry(model: ModelRecord, versions: VersionRecord[]): RegistryStore {
  const byNumber = new Map(versions.map((v) => [v.version, v]));
  let record = model;
  const outbox = new MemoryOutbox();
  const transition = (request: TransitionRequest): Promise<boolean> => {
    const current = byNumber.get(request.version);
    if (!current || !request.from.includes(current.status)) return Promise.resolve(false);
    byNumber.set(request.version, {
      ...current,
      ...(request.set ?? {}),
      status: request.to,
    });
    outbox.write(request.audit);
    return Promise.resolve(true);
  };
  const registry: Partial<RegistryStore> = {
    listPendingNotifications: (m) => outbox.listPendingNotifications(m),
    listPendingNotificationsBefore: (before) => outbox.listPendingNotificationsBefore(before),
    claimNotification: (m, id, now, until) => outbox.claimNotification(m, id, now, until),
    completeNotification: (m, id) => outbox.completeNotification(m, id),
    releaseNotification: (m, id, until) => outbox.releaseNotification(m, id, until),
    getModel: () => Promise.resolve(record),
    getVersion: (_model, version) => Promise.resolve(byNumber.get(version)),
    listVersions: () => Promise.resolve([...byNumber.values()]),
    transitionVersion: transition,
    startDeployment: async (request) => {
      const ok = await transition(request);
      if (ok) record = { ...record, challenger: request.version };
      return ok;
    },
    endFailedDeployment: async (request) => {
      const ok = await transition(request);
      if (ok && record.challenger === request.version) record = { ...record, challenger: undefined };
      return ok;
    },
  };
  return registry as RegistryStore;
}

/**
 * The requests the stack sends for one model config, through the real adapters and use cases:
 * CreateTrainingJob (the spec built as ingest builds it, from trainingPlan), the first rollout
 * (DeployVersion: CreateModel, CreateEndpointConfig, CreateEndpoint), the alarms (as the
 * endpoint-events use case asks for them), and a second rollout (DeployVersion: UpdateEndpoint).
 */
async function requestsFor(entry: MatrixEntry, config: ModelConfig): Promise<RecordedCall[]> {
  const sagemakerClient = new SageMakerClient({ region: REGION });
  const cloudwatchClient = new CloudWatchClient({ region: REGION });
  const sagemaker = mockClient(sagemakerClient);
  const cloudwatch = mockClient(cloudwatchClient);
  const names = new ResourceNames('mlops');
  const model = entry.model;
  const endpointName = names.endpoint(model);
  let endpoint: { config: string } | undefined;
  sagemaker.onAnyCommand().resolves({});
  sagemaker.on(DescribeEndpointCommand).callsFake(() => {
    if (!endpoint)
      throw new SageMakerServiceException({
        name: 'ValidationException',
        $fault: 'client',
        message: `Could not find endpoint "${endpointName}".`,
        $metadata: {},
      });
    return { EndpointName: endpointName, EndpointConfigName: endpoint.config, EndpointStatus: 'InService' };
  });
  cloudwatch.onAnyCommand().resolves({});
  try {
    const training = new SageMakerTrainingService(sagemakerClient, ROLE);
    const endpoints = new SageMakerEndpointService(sagemakerClient, ROLE);
    const alarms = new CloudWatchAlarmService(cloudwatchClient);
    const plan = trainingPlan(config, REGION);
    const datasetId = 'customers-2024-06-01.csv-3f2a9c';
    const versions = [1, 123_456].map((version): VersionRecord => {
      const jobName = names.trainingJob(model, version, `${datasetId}-${version}`);
      return {
        model,
        version,
        status: 'APPROVED',
        datasetId: `${datasetId}-${version}`,
        trainingJobName: jobName,
        image: plan.image,
        hyperparameters: plan.hyperparameters,
        objectiveMetric: 'validation:auc',
        artifactUri: `s3://${BUCKET}/${artifactPrefix(model)}${jobName}/output/model.tar.gz`,
        createdAt: '2024-06-01T00:00:00.000Z',
        updatedAt: '2024-06-01T00:00:00.000Z',
      };
    });
    // CreateTrainingJob, with the spec ingest builds (core/use-cases/ingest-dataset.ts startTraining).
    const first = versions[0]!;
    const spec: TrainingJobSpec = {
      jobName: first.trainingJobName,
      model,
      version: first.version,
      image: first.image,
      metricDefinitions: plan.metricDefinitions,
      hyperparameters: first.hyperparameters,
      trainUri: `s3://${BUCKET}/prepared/${model}/${first.datasetId}/train/`,
      validationUri: `s3://${BUCKET}/prepared/${model}/${first.datasetId}/validation/`,
      outputUri: `s3://${BUCKET}/${artifactPrefix(model)}`,
      instanceType: config.training.instanceType,
      instanceCount: config.training.instanceCount,
      volumeSizeGb: config.training.volumeSizeGb,
      maxRuntimeSeconds: config.training.maxRuntimeSeconds,
      spot: config.training.spot,
      ...(config.training.spot
        ? { maxWaitSeconds: config.training.maxWaitSeconds ?? config.training.maxRuntimeSeconds }
        : {}),
      tags: {
        'mlops:model': model,
        'mlops:version': String(first.version),
        'mlops:dataset': first.datasetId,
      },
    };
    await training.startTrainingJob(spec);

    const now = '2024-06-01T00:00:00.000Z';
    const deployContext = (record: ModelRecord, version: VersionRecord): MlopsContext =>
      ({
        registry: memoryRegistry(record, [version]),
        endpoints,
        alarms,
        clock: { now: () => new Date(now) },
        names,
        log: silentLog,
        bucket: BUCKET,
        region: REGION,
      }) as unknown as MlopsContext;
    // The first version creates the endpoint.
    const created = await new DeployVersion(
      deployContext({ model, config, versionCounter: 1, createdAt: now, updatedAt: now }, first),
    ).execute(model, first.version);
    expect(created.kind).toBe('creating');
    endpoint = { config: names.endpointConfig(model, first.version, first.datasetId) };

    // Its alarms, as the endpoint-events use case asks for them (process-endpoint-change.ts).
    const m = config.monitoring;
    await alarms.ensureModelAlarms({
      model,
      endpointName,
      variantName: VARIANT_NAME,
      names: names.alarms(model),
      anomalyBandWidth: m.anomalyBandWidth,
      errorRateThreshold: m.errorRateThreshold,
      featureDriftThreshold: m.featureDriftThreshold,
      predictionDriftThreshold: m.predictionDriftThreshold,
      evaluationPeriods: m.evaluationPeriods,
      datapointsToAlarm: m.datapointsToAlarm,
      notificationTopicArn: 'arn:aws:sns:us-east-1:123456789012:mlops-notifications',
      tags: { 'mlops:model': model },
    });

    // The second version rolls out blue/green, guarded by the alarms.
    const second = versions[1]!;
    const updated = await new DeployVersion(
      deployContext(
        {
          model,
          config,
          versionCounter: 2,
          champion: 1,
          alarmsCreated: true,
          createdAt: now,
          updatedAt: now,
        },
        second,
      ),
    ).execute(model, second.version);
    expect(updated.kind).toBe('updating');

    const calls = (service: 'sagemaker' | 'cloudwatch', mock: typeof sagemaker | typeof cloudwatch) =>
      mock.calls().map((call): RecordedCall => {
        const command = call.args[0] as unknown as {
          constructor: { name: string };
          input: Record<string, unknown>;
        };
        return { service, operation: command.constructor.name.replace(/Command$/, ''), input: command.input };
      });
    return [...calls('sagemaker', sagemaker), ...calls('cloudwatch', cloudwatch)];
  } finally {
    sagemaker.restore();
    cloudwatch.restore();
  }
}

describe('(a) the requests of every model config in the matrix are valid, or the config is refused', () => {
  it.each(MATRIX.map((entry) => [entry.name, entry] as const))('%s', async (_name, entry) => {
    const parsed = parseModelConfig(JSON.stringify(entry.config));
    if (!parsed.ok) {
      // A refused config never reaches AWS; it must be refused with the field named, and only when
      // AWS would refuse it too.
      expect(entry.mustAccept, `refused: ${parsed.problems.join('; ')}`).toBe(false);
      expect(parsed.problems.join('; ')).toMatch(/^deployment\.\w+: /);
      return;
    }
    const calls = await requestsFor(entry, parsed.config);
    const operations = new Set(calls.map((c) => c.operation));
    for (const op of [
      'CreateTrainingJob',
      'CreateModel',
      'CreateEndpointConfig',
      'CreateEndpoint',
      'UpdateEndpoint',
      'PutMetricAlarm',
    ])
      expect(operations, op).toContain(op);
    const capacityOf = capacities(calls);
    const problems = calls.flatMap((call) => callProblems(call, capacityOf));
    expect(problems).toEqual([]);
  });
});

/** The pipeline scenario another contract may provide; run when present. */
const SCENARIO = join(dirname(fileURLToPath(import.meta.url)), 'support', 'pipeline-scenario.ts');

/**
 * A small pipeline run of our own (the pattern of test/lambdas/pipeline.test.ts), used when the
 * shared scenario does not exist: the default config, two versions (create, then blue/green
 * update), promotion, alarms, an alarm event.
 */
async function ownScenario(harness: PipelineHarness): Promise<void> {
  const { createIngestHandler } = await import('../../lambdas/ingest/handler');
  const { createTrainingEventsHandler } = await import('../../lambdas/training-events/handler');
  const { createEndpointEventsHandler } = await import('../../lambdas/endpoint-events/handler');
  const { createAlarmEventsHandler } = await import('../../lambdas/alarm-events/handler');
  const ctx = harness.context();
  const ingest = createIngestHandler(() => ctx);
  const training = createTrainingEventsHandler(() => ctx);
  const endpoints = createEndpointEventsHandler(() => ctx);
  const alarms = createAlarmEventsHandler(() => ctx);
  const model = 'leads';
  const endpointName = `mlops-${model}`;
  for (const seed of [1, 2]) {
    const event = await harness.upload(
      `datasets/${model}/batch-${seed}.csv`,
      churnCsv(300, seed).replace('churned', 'label'),
    );
    expect((await ingest(sqsBatch(event), lambdaContext)).batchItemFailures).toEqual([]);
    const latest = (await ctx.registry.listVersions(model)).at(-1)!;
    harness.aws.finishJob(latest.trainingJobName, { metrics: { 'validation:auc': 0.9 + seed / 100 } });
    await training(trainingEvent(latest.trainingJobName), lambdaContext);
    harness.aws.settleEndpoint(endpointName, 'in-service');
    await endpoints(endpointEvent(endpointName), lambdaContext);
  }
  await alarms(alarmEvent(`mlops-${model}-error-rate`, 'ALARM', 'OK'), lambdaContext);
}

describe('(c) every call recorded in a pipeline run is valid', () => {
  let harness: PipelineHarness;
  beforeAll(async () => {
    harness = await startPipelineHarness();
  });
  afterAll(async () => harness?.stop());

  it('validates every call of the handlers (DynamoDB, S3, SageMaker, CloudWatch, SNS)', async () => {
    if (existsSync(SCENARIO)) {
      const scenario = (await import(/* @vite-ignore */ pathToFileURL(SCENARIO).href)) as {
        runPipelineScenario: (harness: PipelineHarness) => Promise<unknown>;
      };
      await scenario.runPipelineScenario(harness);
    } else {
      await ownScenario(harness);
    }
    const calls = harness.journal.calls;
    const services = new Set(calls.map((c) => c.service));
    for (const service of ['dynamodb', 's3', 'sagemaker', 'cloudwatch', 'sns'] as const)
      expect(services).toContain(service);
    expect(calls.map((c) => c.operation)).toContain('UpdateEndpoint');
    const capacityOf = capacities(calls);
    const problems = calls.flatMap((call) => callProblems(call, capacityOf));
    expect(problems).toEqual([]);
  });
});

describe('(d) every request of the reconciler is valid, and re-delivers what EventBridge would have', () => {
  let harness: PipelineHarness;
  let run: ReconcilerScenario;
  let rules: SynthesizedRule[];
  /** The logical id of each re-delivery target in the template. */
  let targetIds: Record<RedeliveryTarget, string>;

  beforeAll(async () => {
    // A harness of its own: the situations use model names the pipeline runs use too.
    harness = await startPipelineHarness();
    run = await runReconcilerScenario(harness);
    const { stack, template } = synthMlopsStack();
    const logicalId = (construct: IConstruct) =>
      stack.getLogicalId(construct.node.defaultChild as CfnElement);
    // The rules as deployed, the data bucket's Ref resolved to the bucket the scenario uses.
    rules = synthesizedRules(template.toJSON(), {
      [logicalId(stack.data.bucket)]: harness.s3.bucket,
    });
    targetIds = {
      ingest: logicalId(stack.ingest.queue),
      'training-events': logicalId(stack.trainingEvents.handler.function),
      'endpoint-events': logicalId(stack.endpointEvents.handler.function),
    };
    cleanupOutdirs();
  }, 240_000);
  afterAll(async () => harness?.stop());

  it('validates every call of the reconciler (S3, DynamoDB, SageMaker, SQS, Lambda)', () => {
    const operations = new Set(run.calls.map((c) => `${c.service}.${c.operation}`));
    for (const operation of [
      's3.ListObjectVersions',
      's3.GetObject',
      's3.PutObject',
      'dynamodb.Query',
      'dynamodb.GetItem',
      'dynamodb.TransactWriteItems',
      'sagemaker.DescribeTrainingJob',
      'sagemaker.DescribeEndpoint',
      'sagemaker.CreateEndpoint',
      'sagemaker.UpdateEndpoint',
      'sagemaker.CreateModel',
      'sagemaker.CreateEndpointConfig',
      'sns.Publish',
      'sqs.SendMessage',
      'lambda.Invoke',
    ])
      expect(operations, operation).toContain(operation);
    // The second run goes on after the first one's cursor.
    expect(run.calls).toContainEqual(
      objectContaining({
        operation: 'ListObjectVersions',
        input: objectContaining({ KeyMarker: anyString() }),
      }),
    );
    // UpdateEndpoint's rollout is checked against the fleet its config was created with (set-up).
    const capacityOf = capacities([...run.setupCalls, ...run.calls]);
    const problems = run.calls.flatMap((call) => callProblems(call, capacityOf));
    expect(problems).toEqual([]);
  });

  it("re-delivers to each target the event its rule would have: the handler's schema, the rule's pattern", () => {
    const schemas = {
      ingest: s3ObjectCreatedEvent,
      'training-events': trainingJobStateChangeEvent,
      'endpoint-events': endpointStateChangeEvent,
    } as const;
    expect(new Set(run.redelivered.map((r) => r.target))).toEqual(
      new Set(['ingest', 'training-events', 'endpoint-events']),
    );
    for (const { target, via, event } of run.redelivered) {
      const what = `${via} to ${target}: ${JSON.stringify(event)}`;
      expect(schemas[target].safeParse(event).error?.issues ?? [], what).toEqual([]);
      // Exactly the rule that targets it matches, as if EventBridge had routed the event.
      const routed = rules
        .filter((rule) => rule.pattern !== undefined && matchesPattern(rule.pattern, event))
        .flatMap((rule) =>
          rule.targetArns.map((arn) => (arn as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0]),
        );
      expect(routed, what).toEqual([targetIds[target]]);
    }
    // EventBridge invokes its Lambda targets asynchronously: so does the re-delivery.
    const invocations = run.calls.filter((c) => c.service === 'lambda');
    expect(invocations.length).toBeGreaterThan(0);
    for (const call of invocations) expect(call.input).toMatchObject({ InvocationType: 'Event' });
  });

  it('re-delivers the lost upload under the identity ingest derives the dataset id the reconciler looked for from', () => {
    const uploads = run.redelivered.filter((r) => r.target === 'ingest');
    expect(uploads).toHaveLength(1);
    const { detail } = s3ObjectCreatedEvent.parse(uploads[0]!.event);
    expect(detail.object.key).toBe(LOST_UPLOAD_KEY);
    expect(detail.object['version-id']).toEqual(expect.any(String));
    const reported = run.runs.flatMap((r) => r.datasets?.redelivered ?? []);
    expect(
      datasetIdentity(detail.bucket.name, {
        key: detail.object.key,
        size: detail.object.size ?? 0,
        ...(detail.object.etag !== undefined ? { etag: detail.object.etag } : {}),
        ...(detail.object['version-id'] !== undefined ? { versionId: detail.object['version-id'] } : {}),
      }),
    ).toEqual({ model: reported[0]!.model, datasetId: reported[0]!.datasetId });
  });
});

describe('what the validator looked at', () => {
  it('checked patterns and counted the ones JS cannot express', () => {
    const summary: ValidationStats = stats;
    expect(summary.patternsChecked).toBeGreaterThan(0);
    // Every Java pattern of the seven models converts today; a new one that does not is counted
    // here, with its reason, rather than silently passing.
    expect([...summary.skippedPatterns.entries()]).toEqual([]);
  });
});
