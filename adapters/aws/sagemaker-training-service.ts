/**
 * SageMaker adapter of the {@link TrainingService} port. Where this stands: adapter; ingest starts
 * jobs through it and the training-events handler describes them.
 */
import {
  CreateTrainingJobCommand,
  DescribeTrainingJobCommand,
  type CreateTrainingJobCommandInput,
  type SageMakerClient,
  type TrainingInstanceType,
} from '@aws-sdk/client-sagemaker';
import {
  TrainingRequestRejected,
  type TrainingJobDescription,
  type TrainingJobSpec,
  type TrainingService,
} from '../../core/ports/training-service';
import { errorMessage, errorName } from './aws-errors';
import { toTags } from './tags';

/** The CSV channels the use cases prepare, in SageMaker's names. */
const CHANNELS = ['train', 'validation'] as const;

/**
 * Errors that mean "this request can never succeed as is": SageMaker answers a bad
 * hyperparameter, an instance type unknown in the region, a malformed URI... with
 * `ValidationException`; `ResourceNotFound` means something the request names does not exist.
 * `ResourceLimitExceeded` (a quota, freed when other jobs end) and throttling are transient and
 * rethrown so the event is retried.
 */
const REJECTED_ERRORS = new Set(['ValidationException', 'ResourceNotFound']);

/**
 * The {@link TrainingService} port on SageMaker, built by the handlers' AWS context with the stack's
 * SageMaker execution role. A job name already taken is `already-exists` (names are deterministic:
 * it is this job); a ValidationException or ResourceNotFound is {@link TrainingRequestRejected};
 * anything else (a quota, throttling) is rethrown, for the event to be retried.
 */
export class SageMakerTrainingService implements TrainingService {
  /**
   * @param client the SageMaker client
   * @param roleArn the execution role SageMaker assumes to read the channels and write the artifact
   */
  constructor(
    private readonly client: SageMakerClient,
    private readonly roleArn: string,
  ) {}

  async startTrainingJob(spec: TrainingJobSpec): Promise<'started' | 'already-exists'> {
    try {
      await this.client.send(new CreateTrainingJobCommand(buildCreateTrainingJobRequest(spec, this.roleArn)));
      return 'started';
    } catch (error) {
      const name = errorName(error);
      // CreateTrainingJob answers ResourceInUse when the name is taken (names are unique per
      // account and region): our names are deterministic, so it is this job, started by an
      // earlier delivery of the same event.
      if (name === 'ResourceInUse') return 'already-exists';
      if (name !== undefined && REJECTED_ERRORS.has(name)) {
        throw new TrainingRequestRejected(
          `SageMaker refused training job "${spec.jobName}": ${errorMessage(error)}`,
          { cause: error },
        );
      }
      throw error;
    }
  }

  async describeTrainingJob(jobName: string): Promise<TrainingJobDescription | undefined> {
    let job;
    try {
      job = await this.client.send(new DescribeTrainingJobCommand({ TrainingJobName: jobName }));
    } catch (error) {
      if (isMissingTrainingJob(error)) return undefined;
      throw error;
    }
    const metrics: Record<string, number> = {};
    for (const metric of job.FinalMetricDataList ?? []) {
      if (metric.MetricName !== undefined && metric.Value !== undefined)
        metrics[metric.MetricName] = metric.Value;
    }
    return {
      jobName: job.TrainingJobName ?? jobName,
      status: mapStatus(job.TrainingJobStatus, jobName),
      ...(job.SecondaryStatus !== undefined ? { secondaryStatus: job.SecondaryStatus } : {}),
      ...(job.FailureReason !== undefined ? { failureReason: job.FailureReason } : {}),
      metrics,
      ...(job.ModelArtifacts?.S3ModelArtifacts !== undefined
        ? { artifactUri: job.ModelArtifacts.S3ModelArtifacts }
        : {}),
      ...(job.AlgorithmSpecification?.TrainingImage !== undefined
        ? { image: job.AlgorithmSpecification.TrainingImage }
        : {}),
      ...(job.HyperParameters !== undefined ? { hyperparameters: job.HyperParameters } : {}),
      ...(job.TrainingStartTime !== undefined ? { startedAt: job.TrainingStartTime.toISOString() } : {}),
      ...(job.TrainingEndTime !== undefined ? { endedAt: job.TrainingEndTime.toISOString() } : {}),
      ...(job.BillableTimeInSeconds !== undefined ? { billableSeconds: job.BillableTimeInSeconds } : {}),
    };
  }
}

/** The CreateTrainingJob request for a spec (exported for tests and the local trainer's parity checks). */
export function buildCreateTrainingJobRequest(
  spec: TrainingJobSpec,
  roleArn: string,
): CreateTrainingJobCommandInput {
  const channelUri = { train: spec.trainUri, validation: spec.validationUri };
  // StoppingCondition: with managed spot, MaxWaitTimeInSeconds (time waiting for spot capacity plus
  // training) is required and must be >= MaxRuntimeInSeconds (CreateTrainingJob API reference,
  // StoppingCondition). Without spot it must be left out.
  const maxWait = spec.spot
    ? Math.max(spec.maxWaitSeconds ?? spec.maxRuntimeSeconds, spec.maxRuntimeSeconds)
    : undefined;
  return {
    TrainingJobName: spec.jobName,
    AlgorithmSpecification: {
      TrainingImage: spec.image,
      TrainingInputMode: 'File',
      // Built-in algorithms publish their own metrics and refuse definitions that clash with them.
      ...(spec.metricDefinitions.length > 0
        ? { MetricDefinitions: spec.metricDefinitions.map((m) => ({ Name: m.name, Regex: m.regex })) }
        : {}),
    },
    RoleArn: roleArn,
    HyperParameters: { ...spec.hyperparameters },
    InputDataConfig: CHANNELS.map((channel) => ({
      ChannelName: channel,
      DataSource: {
        S3DataSource: {
          S3DataType: 'S3Prefix',
          S3Uri: channelUri[channel],
          S3DataDistributionType: 'FullyReplicated',
        },
      },
      ContentType: 'text/csv',
      CompressionType: 'None',
    })),
    OutputDataConfig: { S3OutputPath: spec.outputUri },
    ResourceConfig: {
      InstanceType: spec.instanceType as TrainingInstanceType,
      InstanceCount: spec.instanceCount,
      VolumeSizeInGB: spec.volumeSizeGb,
    },
    StoppingCondition: {
      MaxRuntimeInSeconds: spec.maxRuntimeSeconds,
      ...(maxWait !== undefined ? { MaxWaitTimeInSeconds: maxWait } : {}),
    },
    // No CheckpointConfig: a spot interruption then restarts the job from scratch, which is cheap
    // for the tabular jobs this product runs; a checkpoint location would need its own S3 prefix.
    EnableManagedSpotTraining: spec.spot,
    Tags: toTags(spec.tags),
  };
}

/**
 * DescribeTrainingJob on an unknown name: the API reference lists `ResourceNotFound`, but the
 * service actually answers `ValidationException: Requested resource not found.`
 * (aws/aws-sdk#165, boto/boto3#2808; the SageMaker operator for Kubernetes matches the same
 * prefix). Both are accepted.
 */
function isMissingTrainingJob(error: unknown): boolean {
  const name = errorName(error);
  if (name === 'ResourceNotFound') return true;
  return name === 'ValidationException' && /^Requested resource not found/i.test(errorMessage(error));
}

function mapStatus(status: string | undefined, jobName: string): TrainingJobDescription['status'] {
  switch (status) {
    case 'InProgress':
    case 'Completed':
    case 'Failed':
    case 'Stopping':
    case 'Stopped':
      return status;
    case 'Deleting':
      // A job being deleted will never produce an artifact: to the registry it is stopped.
      return 'Stopped';
    default:
      throw new Error(`training job "${jobName}" has an unknown status "${String(status)}"`);
  }
}
