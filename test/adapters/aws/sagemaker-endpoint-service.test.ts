import {
  CreateEndpointCommand,
  CreateEndpointConfigCommand,
  CreateModelCommand,
  DeleteEndpointCommand,
  DescribeEndpointCommand,
  ResourceLimitExceeded,
  SageMakerClient,
  SageMakerServiceException,
  UpdateEndpointCommand,
  type CreateEndpointConfigCommandInput,
  type UpdateEndpointCommandInput,
} from '@aws-sdk/client-sagemaker';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  buildDeploymentConfig,
  SageMakerEndpointService,
} from '../../../adapters/aws/sagemaker-endpoint-service';
import type { EndpointConfigSpec, RolloutPolicy } from '../../../core/ports/endpoint-service';
import { stringContaining, stringMatching } from '../../support/matchers';

const ROLE = 'arn:aws:iam::123456789012:role/mlops-hosting';
const sagemaker = mockClient(SageMakerClient);
const service = new SageMakerEndpointService(new SageMakerClient({ region: 'us-east-1' }), ROLE);
const TAGS = { 'mlops:model': 'churn' };

function validation(message: string): SageMakerServiceException {
  return new SageMakerServiceException({
    name: 'ValidationException',
    $fault: 'client',
    message,
    $metadata: { httpStatusCode: 400 },
  });
}

/** An SDK service exception other than ValidationException, as the SDK throws it. */
function serviceError(name: string, message: string, fault: 'client' | 'server' = 'client'): Error {
  return new SageMakerServiceException({ name, $fault: fault, message, $metadata: {} });
}

/** ResourceLimitExceeded as SageMaker answers a request above an account quota. */
function quota(limit: string): ResourceLimitExceeded {
  return new ResourceLimitExceeded({
    message: `The account-level service limit '${limit}' is 2 Instances, with current utilization of 2 Instances and a request delta of 2 Instances. Please use AWS Service Quotas to request an increase for this quota.`,
    $metadata: { httpStatusCode: 400 },
  });
}

function configSpec(overrides: Partial<EndpointConfigSpec> = {}): EndpointConfigSpec {
  return {
    configName: 'mlops-churn-v3-cfg',
    modelName: 'mlops-churn-v3',
    variantName: 'main',
    hosting: { type: 'instance', instanceType: 'ml.m5.large', initialInstanceCount: 2 },
    captureUri: 's3://data/capture/churn/',
    capturePercent: 50,
    tags: TAGS,
    ...overrides,
  };
}

function policy(overrides: Partial<RolloutPolicy> = {}): RolloutPolicy {
  return {
    strategy: 'canary',
    stepPercent: 10,
    instanceCount: 4,
    bakeSeconds: 300,
    terminationWaitSeconds: 120,
    rollbackAlarms: ['mlops-churn-latency-anomaly', 'mlops-churn-error-rate'],
    ...overrides,
  };
}

const describeResponse = (fields: Record<string, unknown>) => ({
  EndpointName: 'mlops-churn',
  EndpointArn: 'arn:aws:sagemaker:us-east-1:123456789012:endpoint/mlops-churn',
  CreationTime: new Date('2025-01-01T00:00:00Z'),
  LastModifiedTime: new Date('2025-01-02T00:00:00Z'),
  EndpointStatus: undefined,
  ...fields,
});

beforeEach(() => {
  sagemaker.reset();
});

describe('ensureModel', () => {
  const model = {
    modelName: 'mlops-churn-v3',
    image: '683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1',
    artifactUri: 's3://data/artifacts/churn/job/output/model.tar.gz',
    tags: TAGS,
  };

  it('sends exactly the CreateModel request', async () => {
    sagemaker.on(CreateModelCommand).resolves({ ModelArn: 'arn' });
    await service.ensureModel(model);
    const expected = {
      ModelName: 'mlops-churn-v3',
      ExecutionRoleArn: ROLE,
      PrimaryContainer: { Image: model.image, ModelDataUrl: model.artifactUri },
      Tags: [{ Key: 'mlops:model', Value: 'churn' }],
    };
    expect(sagemaker).toHaveReceivedCommandExactlyOnceWith(CreateModelCommand, expected);
    expect(sagemaker.commandCalls(CreateModelCommand)[0]?.args[0].input).toEqual(expected);
  });

  it('is a no-op when the model already exists', async () => {
    sagemaker
      .on(CreateModelCommand)
      .rejects(
        validation(
          'Cannot create already existing model "arn:aws:sagemaker:us-east-1:123456789012:model/mlops-churn-v3".',
        ),
      );
    await expect(service.ensureModel(model)).resolves.toBeUndefined();
  });

  it('turns other validation errors into EndpointRequestRejected, keeping the cause', async () => {
    sagemaker
      .on(CreateModelCommand)
      .rejects(
        validation('Could not access model data at s3://data/artifacts/churn/job/output/model.tar.gz.'),
      );
    await expect(service.ensureModel(model)).rejects.toMatchObject({
      name: 'EndpointRequestRejected',
      message: stringMatching(
        /^SageMaker refused CreateModel mlops-churn-v3: ValidationException: Could not access model data/,
      ),
      cause: { name: 'ValidationException' },
    });
  });
});

describe('ensureEndpointConfig', () => {
  it('sends exactly the CreateEndpointConfig request of an instance endpoint with data capture', async () => {
    sagemaker.on(CreateEndpointConfigCommand).resolves({});
    await service.ensureEndpointConfig(configSpec());
    const expected: CreateEndpointConfigCommandInput = {
      EndpointConfigName: 'mlops-churn-v3-cfg',
      ProductionVariants: [
        {
          VariantName: 'main',
          ModelName: 'mlops-churn-v3',
          InstanceType: 'ml.m5.large',
          InitialInstanceCount: 2,
          InitialVariantWeight: 1,
        },
      ],
      DataCaptureConfig: {
        EnableCapture: true,
        InitialSamplingPercentage: 50,
        DestinationS3Uri: 's3://data/capture/churn/',
        CaptureOptions: [{ CaptureMode: 'Input' }, { CaptureMode: 'Output' }],
        CaptureContentTypeHeader: { CsvContentTypes: ['text/csv'], JsonContentTypes: ['application/json'] },
      },
      Tags: [{ Key: 'mlops:model', Value: 'churn' }],
    };
    expect(sagemaker).toHaveReceivedCommandExactlyOnceWith(CreateEndpointConfigCommand, { ...expected });
    expect(sagemaker.commandCalls(CreateEndpointConfigCommand)[0]?.args[0].input).toEqual(expected);
  });

  it('hosts a serverless variant, without data capture (not supported by serverless endpoints)', async () => {
    sagemaker.on(CreateEndpointConfigCommand).resolves({});
    await service.ensureEndpointConfig(
      configSpec({ hosting: { type: 'serverless', memorySizeMb: 2048, maxConcurrency: 5 } }),
    );
    expect(sagemaker.commandCalls(CreateEndpointConfigCommand)[0]?.args[0].input).toEqual({
      EndpointConfigName: 'mlops-churn-v3-cfg',
      ProductionVariants: [
        {
          VariantName: 'main',
          ModelName: 'mlops-churn-v3',
          ServerlessConfig: { MemorySizeInMB: 2048, MaxConcurrency: 5 },
        },
      ],
      Tags: [{ Key: 'mlops:model', Value: 'churn' }],
    });
  });

  it('leaves data capture out at 0 percent and refuses a percentage out of range', async () => {
    sagemaker.on(CreateEndpointConfigCommand).resolves({});
    await service.ensureEndpointConfig(configSpec({ capturePercent: 0 }));
    expect(
      sagemaker.commandCalls(CreateEndpointConfigCommand)[0]?.args[0].input.DataCaptureConfig,
    ).toBeUndefined();
    await expect(service.ensureEndpointConfig(configSpec({ capturePercent: 101 }))).rejects.toThrow(
      'capturePercent must be an integer from 0 to 100',
    );
  });

  it('is a no-op when the config already exists', async () => {
    sagemaker
      .on(CreateEndpointConfigCommand)
      .rejects(
        validation(
          'Cannot create already existing endpoint configuration "arn:aws:sagemaker:us-east-1:123456789012:endpoint-config/mlops-churn-v3-cfg".',
        ),
      );
    await expect(service.ensureEndpointConfig(configSpec())).resolves.toBeUndefined();
  });

  it('rethrows throttling', async () => {
    sagemaker.on(CreateEndpointConfigCommand).rejects(
      new SageMakerServiceException({
        name: 'ThrottlingException',
        $fault: 'client',
        message: 'Rate exceeded',
        $metadata: {},
      }),
    );
    await expect(service.ensureEndpointConfig(configSpec())).rejects.toMatchObject({
      name: 'ThrottlingException',
    });
  });
});

describe('describeEndpoint', () => {
  it('maps the endpoint', async () => {
    sagemaker.on(DescribeEndpointCommand, { EndpointName: 'mlops-churn' }).resolves(
      describeResponse({
        EndpointStatus: 'Failed',
        EndpointConfigName: 'mlops-churn-v3-cfg',
        FailureReason: 'The primary container did not pass the ping health check.',
      }),
    );
    await expect(service.describeEndpoint('mlops-churn')).resolves.toEqual({
      endpointName: 'mlops-churn',
      status: 'Failed',
      configName: 'mlops-churn-v3-cfg',
      failureReason: 'The primary container did not pass the ping health check.',
      lastModifiedAt: '2025-01-02T00:00:00.000Z',
    });
  });

  it('reports the config an update in progress rolls out', async () => {
    sagemaker.on(DescribeEndpointCommand).resolves(
      describeResponse({
        EndpointStatus: 'Updating',
        EndpointConfigName: 'mlops-churn-v3-cfg',
        PendingDeploymentSummary: { EndpointConfigName: 'mlops-churn-v4-cfg' },
      }),
    );
    await expect(service.describeEndpoint('mlops-churn')).resolves.toEqual({
      endpointName: 'mlops-churn',
      status: 'Updating',
      configName: 'mlops-churn-v3-cfg',
      pendingConfigName: 'mlops-churn-v4-cfg',
      lastModifiedAt: '2025-01-02T00:00:00.000Z',
    });
  });

  it('reports the config of an endpoint being created as pending', async () => {
    sagemaker
      .on(DescribeEndpointCommand)
      .resolves(describeResponse({ EndpointStatus: 'Creating', EndpointConfigName: 'mlops-churn-v1-cfg' }));
    await expect(service.describeEndpoint('mlops-churn')).resolves.toMatchObject({
      configName: 'mlops-churn-v1-cfg',
      pendingConfigName: 'mlops-churn-v1-cfg',
    });
  });

  it('returns undefined when the endpoint does not exist', async () => {
    sagemaker
      .on(DescribeEndpointCommand)
      .rejects(
        validation(
          'Could not find endpoint "arn:aws:sagemaker:us-east-1:123456789012:endpoint/mlops-churn".',
        ),
      );
    await expect(service.describeEndpoint('mlops-churn')).resolves.toBeUndefined();
  });

  it('rethrows other errors', async () => {
    sagemaker.on(DescribeEndpointCommand).rejects(
      new SageMakerServiceException({
        name: 'ThrottlingException',
        $fault: 'client',
        message: 'Rate exceeded',
        $metadata: {},
      }),
    );
    await expect(service.describeEndpoint('mlops-churn')).rejects.toMatchObject({
      name: 'ThrottlingException',
    });
  });
});

describe('createEndpoint / deleteEndpoint', () => {
  it('sends exactly the CreateEndpoint request', async () => {
    sagemaker.on(CreateEndpointCommand).resolves({ EndpointArn: 'arn' });
    await service.createEndpoint('mlops-churn', 'mlops-churn-v3-cfg', TAGS);
    expect(sagemaker.commandCalls(CreateEndpointCommand)[0]?.args[0].input).toEqual({
      EndpointName: 'mlops-churn',
      EndpointConfigName: 'mlops-churn-v3-cfg',
      Tags: [{ Key: 'mlops:model', Value: 'churn' }],
    });
  });

  it('is a no-op when the endpoint already exists', async () => {
    sagemaker
      .on(CreateEndpointCommand)
      .rejects(
        validation(
          'Cannot create already existing endpoint "arn:aws:sagemaker:us-east-1:123456789012:endpoint/mlops-churn".',
        ),
      );
    await expect(service.createEndpoint('mlops-churn', 'mlops-churn-v3-cfg', TAGS)).resolves.toBeUndefined();
  });

  it('deletes an endpoint, and is a no-op when it is gone', async () => {
    sagemaker
      .on(DeleteEndpointCommand)
      .resolvesOnce({})
      .rejectsOnce(
        validation(
          'Could not find endpoint "arn:aws:sagemaker:us-east-1:123456789012:endpoint/mlops-churn".',
        ),
      );
    await service.deleteEndpoint('mlops-churn');
    await service.deleteEndpoint('mlops-churn');
    expect(sagemaker).toHaveReceivedCommandTimes(DeleteEndpointCommand, 2);
    expect(sagemaker).toHaveReceivedCommandWith(DeleteEndpointCommand, { EndpointName: 'mlops-churn' });
  });

  it('rethrows when the endpoint to delete is still in progress', async () => {
    sagemaker
      .on(DeleteEndpointCommand)
      .rejects(
        validation(
          'Cannot update in-progress endpoint "arn:aws:sagemaker:us-east-1:123456789012:endpoint/mlops-churn".',
        ),
      );
    await expect(service.deleteEndpoint('mlops-churn')).rejects.toMatchObject({
      name: 'ValidationException',
    });
  });
});

describe('updateEndpoint', () => {
  it('sends exactly the UpdateEndpoint request of a canary rollout guarded by alarms', async () => {
    sagemaker.on(UpdateEndpointCommand).resolves({ EndpointArn: 'arn' });
    await service.updateEndpoint('mlops-churn', 'mlops-churn-v4-cfg', policy());
    const expected: UpdateEndpointCommandInput = {
      EndpointName: 'mlops-churn',
      EndpointConfigName: 'mlops-churn-v4-cfg',
      DeploymentConfig: {
        BlueGreenUpdatePolicy: {
          TrafficRoutingConfiguration: {
            Type: 'CANARY',
            WaitIntervalInSeconds: 300,
            // 10% of 4 instances, rounded up to a whole instance.
            CanarySize: { Type: 'INSTANCE_COUNT', Value: 1 },
          },
          TerminationWaitInSeconds: 120,
          // 2 bakes of 300 s + 120 s termination wait + 1800 s to provision the new fleet.
          MaximumExecutionTimeoutInSeconds: 2520,
        },
        AutoRollbackConfiguration: {
          Alarms: [{ AlarmName: 'mlops-churn-latency-anomaly' }, { AlarmName: 'mlops-churn-error-rate' }],
        },
      },
    };
    expect(sagemaker).toHaveReceivedCommandExactlyOnceWith(UpdateEndpointCommand, { ...expected });
    expect(sagemaker.commandCalls(UpdateEndpointCommand)[0]?.args[0].input).toEqual(expected);
  });

  it.each([
    {
      what: 'is a no-op when the endpoint is already updating to the same config',
      pending: 'mlops-churn-v4-cfg',
      noop: true,
    },
    {
      what: 'rethrows when the update in progress goes to another config',
      pending: 'mlops-churn-v3-cfg',
      noop: false,
    },
  ])('$what', async ({ pending, noop }) => {
    sagemaker
      .on(UpdateEndpointCommand)
      .rejects(
        validation(
          'Cannot update in-progress endpoint "arn:aws:sagemaker:us-east-1:123456789012:endpoint/mlops-churn".',
        ),
      );
    sagemaker.on(DescribeEndpointCommand).resolves(
      describeResponse({
        EndpointStatus: 'Updating',
        EndpointConfigName: 'mlops-churn-v2-cfg',
        PendingDeploymentSummary: { EndpointConfigName: pending },
      }),
    );
    const update = service.updateEndpoint('mlops-churn', 'mlops-churn-v4-cfg', policy());
    if (noop) await expect(update).resolves.toBeUndefined();
    else await expect(update).rejects.toThrow('Cannot update in-progress endpoint');
    expect(sagemaker).toHaveReceivedCommandWith(DescribeEndpointCommand, { EndpointName: 'mlops-churn' });
  });

  it('rethrows other errors without describing', async () => {
    sagemaker
      .on(UpdateEndpointCommand)
      .rejects(
        validation(
          'Could not find endpoint "arn:aws:sagemaker:us-east-1:123456789012:endpoint/mlops-churn".',
        ),
      );
    await expect(service.updateEndpoint('mlops-churn', 'mlops-churn-v4-cfg', policy())).rejects.toThrow(
      'Could not find endpoint',
    );
    expect(sagemaker).not.toHaveReceivedCommand(DescribeEndpointCommand);
  });
});

describe('refusals for good and transient errors', () => {
  // A refusal for good: the version ends DEPLOY_FAILED. Anything else: rethrown as is, the event retried.
  const calls = {
    CreateModel: () =>
      service.ensureModel({
        modelName: 'mlops-churn-v3',
        image: 'img',
        artifactUri: 's3://a/m.tar.gz',
        tags: TAGS,
      }),
    CreateEndpointConfig: () => service.ensureEndpointConfig(configSpec()),
    CreateEndpoint: () => service.createEndpoint('mlops-churn', 'mlops-churn-v3-cfg', TAGS),
    UpdateEndpoint: () => service.updateEndpoint('mlops-churn', 'mlops-churn-v4-cfg', policy()),
  };
  const commands = {
    CreateModel: CreateModelCommand,
    CreateEndpointConfig: CreateEndpointConfigCommand,
    CreateEndpoint: CreateEndpointCommand,
    UpdateEndpoint: UpdateEndpointCommand,
  } as const;

  it.each([
    {
      operation: 'UpdateEndpoint',
      error: validation(
        "1 validation error detected: Value 'mlops-churn-error-rate' at 'deploymentConfig.autoRollbackConfiguration.alarms.1.member.alarmName' failed to satisfy constraint",
      ),
    },
    { operation: 'UpdateEndpoint', error: quota('ml.m5.large for endpoint usage') },
    {
      operation: 'CreateEndpoint',
      error: validation(
        'Could not find endpoint configuration "arn:aws:sagemaker:us-east-1:123456789012:endpoint-config/mlops-churn-v3-cfg".',
      ),
    },
    { operation: 'CreateEndpoint', error: quota('Number of endpoints') },
    {
      operation: 'CreateEndpointConfig',
      error: validation(
        "Value 'ml.m5.huge' at 'productionVariants.1.member.instanceType' failed to satisfy constraint",
      ),
    },
    { operation: 'CreateEndpointConfig', error: quota('Total number of instances across all endpoints') },
    { operation: 'CreateModel', error: quota('Number of models') },
  ] as const)('$operation: $error.name is refused for good', async ({ operation, error }) => {
    // Only the rejection matters here, not the command's input type.
    sagemaker.on(commands[operation] as typeof UpdateEndpointCommand).rejects(error);
    const thrown = await calls[operation]().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(thrown).toMatchObject({
      name: 'EndpointRequestRejected',
      message: stringContaining(`SageMaker refused ${operation} `),
      cause: error,
    });
    // The service's code and message are what a person reads in the registry.
    expect((thrown as Error).message).toContain(`${error.name}: ${error.message}`);
  });

  it.each([
    { what: 'throttling', error: serviceError('ThrottlingException', 'Rate exceeded') },
    { what: 'a server fault', error: serviceError('InternalFailure', 'internal error', 'server') },
    { what: 'the service unavailable', error: serviceError('ServiceUnavailable', 'unavailable', 'server') },
    {
      // The stack's own permissions (or IAM still propagating after a deploy): not the version's
      // fault, fixed by the operator, then the retried or redriven event goes through.
      what: 'access denied',
      error: serviceError(
        'AccessDeniedException',
        'User: arn:aws:sts::123456789012:assumed-role/deploy/fn is not authorized to perform: sagemaker:UpdateEndpoint',
      ),
    },
    {
      what: 'a client-side timeout',
      error: Object.assign(new Error('Connection timed out'), { name: 'TimeoutError' }),
    },
    {
      what: 'an endpoint busy with another change (its status in the message)',
      error: validation(
        'Cannot update endpoint "arn:aws:sagemaker:us-east-1:123456789012:endpoint/mlops-churn" because it is in status Updating.',
      ),
    },
    {
      what: 'an endpoint gone since it was described (the retry creates it)',
      error: validation(
        'Could not find endpoint "arn:aws:sagemaker:us-east-1:123456789012:endpoint/mlops-churn".',
      ),
    },
  ])('UpdateEndpoint: $what is rethrown as is, for the event to be retried', async ({ error }) => {
    sagemaker.on(UpdateEndpointCommand).rejects(error);
    await expect(calls.UpdateEndpoint()).rejects.toBe(error);
  });

  it('an in-progress endpoint rolling out another config is rethrown as is', async () => {
    const busy = validation(
      'Cannot update in-progress endpoint "arn:aws:sagemaker:us-east-1:123456789012:endpoint/mlops-churn".',
    );
    sagemaker.on(UpdateEndpointCommand).rejects(busy);
    sagemaker.on(DescribeEndpointCommand).resolves(
      describeResponse({
        EndpointStatus: 'RollingBack',
        EndpointConfigName: 'mlops-churn-v2-cfg',
        PendingDeploymentSummary: { EndpointConfigName: 'mlops-churn-v3-cfg' },
      }),
    );
    await expect(calls.UpdateEndpoint()).rejects.toBe(busy);
  });

  it('a rollout SageMaker would refuse is refused without being sent', async () => {
    sagemaker.on(UpdateEndpointCommand).resolves({});
    await expect(
      service.updateEndpoint(
        'mlops-churn',
        'mlops-churn-v4-cfg',
        policy({ strategy: 'canary', instanceCount: 1 }),
      ),
    ).rejects.toMatchObject({
      name: 'EndpointRequestRejected',
      message: stringMatching(
        /UpdateEndpoint mlops-churn.*'canary' needs deployment.initialInstanceCount >= 2/,
      ),
    });
    expect(sagemaker).not.toHaveReceivedCommand(UpdateEndpointCommand);
  });

  it('an endpoint config SageMaker would refuse is refused without being sent', async () => {
    await expect(service.ensureEndpointConfig(configSpec({ capturePercent: 101 }))).rejects.toMatchObject({
      name: 'EndpointRequestRejected',
      message: stringContaining('capturePercent must be an integer from 0 to 100'),
    });
    expect(sagemaker).not.toHaveReceivedCommand(CreateEndpointConfigCommand);
  });
});

describe('buildDeploymentConfig', () => {
  it('sizes a linear rollout in whole instances: stepPercent of the fleet, rounded up', () => {
    expect(
      buildDeploymentConfig(
        policy({
          strategy: 'linear',
          stepPercent: 25,
          instanceCount: 10,
          bakeSeconds: 60,
          terminationWaitSeconds: 0,
          rollbackAlarms: [],
        }),
      ),
    ).toEqual({
      BlueGreenUpdatePolicy: {
        TrafficRoutingConfiguration: {
          Type: 'LINEAR',
          WaitIntervalInSeconds: 60,
          // 25% of 10 = 2.5 -> 3 instances (30%), so 4 steps.
          LinearStepSize: { Type: 'INSTANCE_COUNT', Value: 3 },
        },
        TerminationWaitInSeconds: 0,
        MaximumExecutionTimeoutInSeconds: 4 * 60 + 1800,
      },
    });
    // A small percentage of a small fleet is still one instance: 5% of 4 is 1 (25%).
    expect(
      buildDeploymentConfig(policy({ strategy: 'linear', stepPercent: 5, instanceCount: 4 }))
        .BlueGreenUpdatePolicy?.TrafficRoutingConfiguration?.LinearStepSize,
    ).toEqual({ Type: 'INSTANCE_COUNT', Value: 1 });
  });

  it('refuses sizes SageMaker would refuse instead of sending them (TrafficRoutingConfig)', () => {
    // A canary or a step on one instance would be 100% of the fleet.
    expect(() => buildDeploymentConfig(policy({ strategy: 'canary', instanceCount: 1 }))).toThrow(
      "'canary' needs deployment.initialInstanceCount >= 2",
    );
    expect(() => buildDeploymentConfig(policy({ strategy: 'linear', instanceCount: 1 }))).toThrow(
      "'linear' needs deployment.initialInstanceCount >= 2",
    );
    // Above half the fleet, or a linear step below 10% of it.
    expect(() =>
      buildDeploymentConfig(policy({ strategy: 'linear', stepPercent: 80, instanceCount: 4 })),
    ).toThrow('a linear step must be 10-50%');
    expect(() =>
      buildDeploymentConfig(policy({ strategy: 'linear', stepPercent: 5, instanceCount: 20 })),
    ).toThrow('a linear step must be 10-50%');
    expect(() =>
      buildDeploymentConfig(policy({ strategy: 'canary', stepPercent: 40, instanceCount: 3 })),
    ).toThrow('a canary must be at most 50%');
    // Serverless: no instance count to take a share of.
    expect(() => buildDeploymentConfig(policy({ strategy: 'canary', instanceCount: undefined }))).toThrow(
      "needs the variant's instance count",
    );
    // All at once needs no size, whatever the fleet.
    expect(() => buildDeploymentConfig(policy({ strategy: 'all_at_once', instanceCount: 1 }))).not.toThrow();
    expect(() =>
      buildDeploymentConfig(policy({ strategy: 'all_at_once', instanceCount: undefined })),
    ).not.toThrow();
  });

  it('builds an all-at-once rollout', () => {
    expect(
      buildDeploymentConfig(policy({ strategy: 'all_at_once', bakeSeconds: 0, terminationWaitSeconds: 0 }))
        .BlueGreenUpdatePolicy,
    ).toEqual({
      TrafficRoutingConfiguration: { Type: 'ALL_AT_ONCE', WaitIntervalInSeconds: 0 },
      TerminationWaitInSeconds: 0,
      MaximumExecutionTimeoutInSeconds: 1800,
    });
  });

  it('clamps the waits to the documented limits', () => {
    const config = buildDeploymentConfig(
      policy({ stepPercent: 50, bakeSeconds: 99_999, terminationWaitSeconds: -5 }),
    );
    expect(config.BlueGreenUpdatePolicy).toEqual({
      TrafficRoutingConfiguration: {
        Type: 'CANARY',
        WaitIntervalInSeconds: 3600,
        CanarySize: { Type: 'INSTANCE_COUNT', Value: 2 },
      },
      TerminationWaitInSeconds: 0,
      MaximumExecutionTimeoutInSeconds: 2 * 3600 + 1800,
    });
  });

  it('shortens the bake when the waits would not fit the 8-hour timeout', () => {
    const config = buildDeploymentConfig(
      policy({
        strategy: 'linear',
        stepPercent: 10,
        instanceCount: 10,
        bakeSeconds: 3600,
        terminationWaitSeconds: 3600,
      }),
    );
    const blueGreen = config.BlueGreenUpdatePolicy;
    // 28800 - 3600 - 1800 = 23400 s for 10 bakes.
    expect(blueGreen?.TrafficRoutingConfiguration?.WaitIntervalInSeconds).toBe(2340);
    expect(blueGreen?.MaximumExecutionTimeoutInSeconds).toBe(28800);
  });

  it('refuses more than 10 rollback alarms', () => {
    expect(() =>
      buildDeploymentConfig(policy({ rollbackAlarms: Array.from({ length: 11 }, (_, i) => `alarm-${i}`) })),
    ).toThrow('at most 10 alarms');
  });
});
