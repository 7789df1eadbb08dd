/**
 * Port: the training service. Where this stands: core port; SageMaker in AWS, a local trainer in
 * the local cloud. Requests use SageMaker's vocabulary so the AWS adapter is a straight mapping.
 */

/** Everything needed to start one training job. */
export interface TrainingJobSpec {
  readonly jobName: string;
  readonly model: string;
  readonly version: number;
  /** Training image (built-in XGBoost or the model's own). */
  readonly image: string;
  /** Regexes for metrics in the logs (custom images only; built-in algorithms report their own). */
  readonly metricDefinitions: readonly { readonly name: string; readonly regex: string }[];
  readonly hyperparameters: Readonly<Record<string, string>>;
  /** `s3://` URIs of the channels' prefixes; content type text/csv. */
  readonly trainUri: string;
  readonly validationUri: string;
  /** `s3://` prefix for the output model.tar.gz. */
  readonly outputUri: string;
  readonly instanceType: string;
  readonly instanceCount: number;
  readonly volumeSizeGb: number;
  readonly maxRuntimeSeconds: number;
  readonly spot: boolean;
  readonly maxWaitSeconds?: number;
  readonly tags: Readonly<Record<string, string>>;
}

/** The training job as the service reports it now. */
export interface TrainingJobDescription {
  readonly jobName: string;
  readonly status: 'InProgress' | 'Completed' | 'Failed' | 'Stopping' | 'Stopped';
  readonly secondaryStatus?: string;
  readonly failureReason?: string;
  /** Final metrics, by name (e.g. `validation:auc`). */
  readonly metrics: Readonly<Record<string, number>>;
  /** `s3://.../model.tar.gz` when completed. */
  readonly artifactUri?: string;
  readonly image?: string;
  readonly hyperparameters?: Readonly<Record<string, string>>;
  readonly startedAt?: string;
  readonly endedAt?: string;
  readonly billableSeconds?: number;
}

/**
 * Runs training jobs: `IngestDataset` starts one per accepted dataset, `ProcessTrainingJob` and the
 * reconciler read how it went. Implemented by `SageMakerTrainingService`
 * (adapters/aws/sagemaker-training-service.ts) and `LocalTrainingService`
 * (local/training/local-training-service.ts). A job's state changes come back as "SageMaker Training
 * Job State Change" events, at least once and maybe late; `describeTrainingJob` is the truth.
 */
export interface TrainingService {
  /**
   * Starts a job. Idempotent by name: when a job with this name already exists it returns
   * `already-exists` instead of failing. Throws {@link TrainingRequestRejected} when the service
   * refuses the request itself (a bad hyperparameter, an unknown instance type).
   */
  startTrainingJob(spec: TrainingJobSpec): Promise<'started' | 'already-exists'>;

  /** The job's current state, or undefined when no such job exists. */
  describeTrainingJob(jobName: string): Promise<TrainingJobDescription | undefined>;
}

/** The training service refused the request; retrying the same request cannot succeed. */
export class TrainingRequestRejected extends Error {
  override readonly name = 'TrainingRequestRejected';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
