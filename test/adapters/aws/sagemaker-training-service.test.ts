import {
  CreateTrainingJobCommand,
  DescribeTrainingJobCommand,
  ResourceInUse,
  ResourceLimitExceeded,
  ResourceNotFound,
  SageMakerClient,
  SageMakerServiceException,
  type Channel,
  type CreateTrainingJobCommandInput,
} from '@aws-sdk/client-sagemaker';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { SageMakerTrainingService } from '../../../adapters/aws/sagemaker-training-service';
import { TrainingRequestRejected, type TrainingJobSpec } from '../../../core/ports/training-service';

const ROLE = 'arn:aws:iam::123456789012:role/mlops-training';
const sagemaker = mockClient(SageMakerClient);
const service = new SageMakerTrainingService(new SageMakerClient({ region: 'us-east-1' }), ROLE);

function spec(overrides: Partial<TrainingJobSpec> = {}): TrainingJobSpec {
  return {
    jobName: 'mlops-churn-v3-1a2b',
    model: 'churn',
    version: 3,
    image: '683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1',
    metricDefinitions: [],
    hyperparameters: { objective: 'binary:logistic', eval_metric: 'auc', num_round: '100' },
    trainUri: 's3://data/prepared/churn/ds1/train/',
    validationUri: 's3://data/prepared/churn/ds1/validation/',
    outputUri: 's3://data/artifacts/churn/',
    instanceType: 'ml.m5.large',
    instanceCount: 1,
    volumeSizeGb: 10,
    maxRuntimeSeconds: 3600,
    spot: false,
    tags: { 'mlops:model': 'churn', 'mlops:version': '3' },
    ...overrides,
  };
}

function sageMakerError(name: string, message: string): SageMakerServiceException {
  return new SageMakerServiceException({
    name,
    $fault: 'client',
    message,
    $metadata: { httpStatusCode: 400 },
  });
}

const channel = (name: string, uri: string): Channel => ({
  ChannelName: name,
  DataSource: {
    S3DataSource: { S3DataType: 'S3Prefix', S3Uri: uri, S3DataDistributionType: 'FullyReplicated' },
  },
  ContentType: 'text/csv',
  CompressionType: 'None',
});

beforeEach(() => {
  sagemaker.reset();
});

describe('SageMakerTrainingService.startTrainingJob', () => {
  it('sends exactly the CreateTrainingJob request of an on-demand built-in job', async () => {
    sagemaker.on(CreateTrainingJobCommand).resolves({
      TrainingJobArn: 'arn:aws:sagemaker:us-east-1:123456789012:training-job/mlops-churn-v3-1a2b',
    });

    await expect(service.startTrainingJob(spec())).resolves.toBe('started');

    const expected: CreateTrainingJobCommandInput = {
      TrainingJobName: 'mlops-churn-v3-1a2b',
      AlgorithmSpecification: {
        TrainingImage: '683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1',
        TrainingInputMode: 'File',
      },
      RoleArn: ROLE,
      HyperParameters: { objective: 'binary:logistic', eval_metric: 'auc', num_round: '100' },
      InputDataConfig: [
        channel('train', 's3://data/prepared/churn/ds1/train/'),
        channel('validation', 's3://data/prepared/churn/ds1/validation/'),
      ],
      OutputDataConfig: { S3OutputPath: 's3://data/artifacts/churn/' },
      ResourceConfig: { InstanceType: 'ml.m5.large', InstanceCount: 1, VolumeSizeInGB: 10 },
      StoppingCondition: { MaxRuntimeInSeconds: 3600 },
      EnableManagedSpotTraining: false,
      Tags: [
        { Key: 'mlops:model', Value: 'churn' },
        { Key: 'mlops:version', Value: '3' },
      ],
    };
    expect(sagemaker).toHaveReceivedCommandExactlyOnceWith(CreateTrainingJobCommand, { ...expected });
    expect(sagemaker.commandCalls(CreateTrainingJobCommand)[0]?.args[0].input).toEqual(expected);
  });

  it('adds metric definitions for a custom image, and spot with MaxWaitTimeInSeconds', async () => {
    sagemaker.on(CreateTrainingJobCommand).resolves({});

    await service.startTrainingJob(
      spec({
        image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/my-trainer:1',
        metricDefinitions: [{ name: 'validation:f1', regex: 'f1=([0-9.]+)' }],
        spot: true,
        maxWaitSeconds: 7200,
      }),
    );

    const input = sagemaker.commandCalls(CreateTrainingJobCommand)[0]?.args[0].input;
    expect(input?.AlgorithmSpecification).toEqual({
      TrainingImage: '123456789012.dkr.ecr.us-east-1.amazonaws.com/my-trainer:1',
      TrainingInputMode: 'File',
      MetricDefinitions: [{ Name: 'validation:f1', Regex: 'f1=([0-9.]+)' }],
    });
    expect(input?.StoppingCondition).toEqual({ MaxRuntimeInSeconds: 3600, MaxWaitTimeInSeconds: 7200 });
    expect(input?.EnableManagedSpotTraining).toBe(true);
  });

  it('defaults the spot wait to the max runtime, and never below it', async () => {
    sagemaker.on(CreateTrainingJobCommand).resolves({});

    await service.startTrainingJob(spec({ spot: true }));
    await service.startTrainingJob(spec({ spot: true, maxWaitSeconds: 60 }));

    const [first, second] = sagemaker
      .commandCalls(CreateTrainingJobCommand)
      .map((call) => call.args[0].input.StoppingCondition);
    expect(first).toEqual({ MaxRuntimeInSeconds: 3600, MaxWaitTimeInSeconds: 3600 });
    expect(second).toEqual({ MaxRuntimeInSeconds: 3600, MaxWaitTimeInSeconds: 3600 });
  });

  it('leaves MaxWaitTimeInSeconds out without spot', async () => {
    sagemaker.on(CreateTrainingJobCommand).resolves({});
    await service.startTrainingJob(spec({ maxWaitSeconds: 7200 }));
    expect(sagemaker.commandCalls(CreateTrainingJobCommand)[0]?.args[0].input.StoppingCondition).toEqual({
      MaxRuntimeInSeconds: 3600,
    });
  });

  it('reports an existing job (ResourceInUse) as already-exists', async () => {
    sagemaker.on(CreateTrainingJobCommand).rejects(
      new ResourceInUse({
        message: 'Training job names must be unique within an AWS account and region',
        $metadata: {},
      }),
    );
    await expect(service.startTrainingJob(spec())).resolves.toBe('already-exists');
  });

  it('turns a ValidationException into TrainingRequestRejected, keeping the cause', async () => {
    const cause = sageMakerError(
      'ValidationException',
      "1 validation error detected: Value 'ml.x9.huge' at 'resourceConfig.instanceType' failed to satisfy constraint",
    );
    sagemaker.on(CreateTrainingJobCommand).rejects(cause);

    const error = await service.startTrainingJob(spec()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TrainingRequestRejected);
    expect((error as Error).message).toBe(
      `SageMaker refused training job "mlops-churn-v3-1a2b": ${cause.message}`,
    );
    expect((error as Error).cause).toBe(cause);
  });

  it('turns ResourceNotFound into TrainingRequestRejected', async () => {
    sagemaker
      .on(CreateTrainingJobCommand)
      .rejects(new ResourceNotFound({ message: 'Resource being access is not found.', $metadata: {} }));
    await expect(service.startTrainingJob(spec())).rejects.toBeInstanceOf(TrainingRequestRejected);
  });

  it('rethrows transient errors: quota (ResourceLimitExceeded) and throttling', async () => {
    const quota = new ResourceLimitExceeded({
      message: 'The account-level service limit for ml.m5.large is 2 Instances',
      $metadata: {},
    });
    sagemaker
      .on(CreateTrainingJobCommand)
      .rejectsOnce(quota)
      .rejectsOnce(sageMakerError('ThrottlingException', 'Rate exceeded'));

    await expect(service.startTrainingJob(spec())).rejects.toBe(quota);
    await expect(service.startTrainingJob(spec())).rejects.toMatchObject({ name: 'ThrottlingException' });
  });
});

describe('SageMakerTrainingService.describeTrainingJob', () => {
  it('maps a completed job', async () => {
    sagemaker.on(DescribeTrainingJobCommand, { TrainingJobName: 'mlops-churn-v3-1a2b' }).resolves({
      TrainingJobName: 'mlops-churn-v3-1a2b',
      TrainingJobArn: 'arn:aws:sagemaker:us-east-1:123456789012:training-job/mlops-churn-v3-1a2b',
      TrainingJobStatus: 'Completed',
      SecondaryStatus: 'Completed',
      FinalMetricDataList: [
        { MetricName: 'validation:auc', Value: 0.91, Timestamp: new Date('2025-01-02T03:10:00Z') },
        { MetricName: 'train:auc', Value: 0.95, Timestamp: new Date('2025-01-02T03:10:00Z') },
      ],
      ModelArtifacts: {
        S3ModelArtifacts: 's3://data/artifacts/churn/mlops-churn-v3-1a2b/output/model.tar.gz',
      },
      AlgorithmSpecification: {
        TrainingImage: '683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1',
        TrainingInputMode: 'File',
      },
      HyperParameters: { objective: 'binary:logistic', num_round: '100' },
      TrainingStartTime: new Date('2025-01-02T03:04:05Z'),
      TrainingEndTime: new Date('2025-01-02T03:10:05Z'),
      BillableTimeInSeconds: 360,
      StoppingCondition: { MaxRuntimeInSeconds: 3600 },
      CreationTime: new Date('2025-01-02T03:00:00Z'),
    });

    await expect(service.describeTrainingJob('mlops-churn-v3-1a2b')).resolves.toEqual({
      jobName: 'mlops-churn-v3-1a2b',
      status: 'Completed',
      secondaryStatus: 'Completed',
      metrics: { 'validation:auc': 0.91, 'train:auc': 0.95 },
      artifactUri: 's3://data/artifacts/churn/mlops-churn-v3-1a2b/output/model.tar.gz',
      image: '683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1',
      hyperparameters: { objective: 'binary:logistic', num_round: '100' },
      startedAt: '2025-01-02T03:04:05.000Z',
      endedAt: '2025-01-02T03:10:05.000Z',
      billableSeconds: 360,
    });
    expect(sagemaker).toHaveReceivedCommandWith(DescribeTrainingJobCommand, {
      TrainingJobName: 'mlops-churn-v3-1a2b',
    });
  });

  it('maps a failed job with its reason and no metrics', async () => {
    sagemaker.on(DescribeTrainingJobCommand).resolves({
      TrainingJobName: 'mlops-churn-v3-1a2b',
      TrainingJobStatus: 'Failed',
      SecondaryStatus: 'Failed',
      FailureReason: 'AlgorithmError: num_class must be set',
      ModelArtifacts: undefined,
      StoppingCondition: undefined,
      TrainingJobArn: undefined,
      CreationTime: undefined,
    });
    await expect(service.describeTrainingJob('mlops-churn-v3-1a2b')).resolves.toEqual({
      jobName: 'mlops-churn-v3-1a2b',
      status: 'Failed',
      secondaryStatus: 'Failed',
      failureReason: 'AlgorithmError: num_class must be set',
      metrics: {},
    });
  });

  it('returns undefined for an unknown job, as SageMaker really reports it (ValidationException)', async () => {
    sagemaker
      .on(DescribeTrainingJobCommand)
      .rejects(sageMakerError('ValidationException', 'Requested resource not found.'));
    await expect(service.describeTrainingJob('nope')).resolves.toBeUndefined();
  });

  it('returns undefined for an unknown job reported as documented (ResourceNotFound)', async () => {
    sagemaker
      .on(DescribeTrainingJobCommand)
      .rejects(new ResourceNotFound({ message: 'Resource being access is not found.', $metadata: {} }));
    await expect(service.describeTrainingJob('nope')).resolves.toBeUndefined();
  });

  it('rethrows other errors', async () => {
    sagemaker
      .on(DescribeTrainingJobCommand)
      .rejectsOnce(
        sageMakerError('ValidationException', 'Value at trainingJobName failed to satisfy constraint'),
      )
      .rejectsOnce(sageMakerError('ThrottlingException', 'Rate exceeded'));
    await expect(service.describeTrainingJob('Bad_Name')).rejects.toMatchObject({
      name: 'ValidationException',
    });
    await expect(service.describeTrainingJob('x')).rejects.toMatchObject({ name: 'ThrottlingException' });
  });
});
