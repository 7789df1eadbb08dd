/**
 * A local training job's record and its life as SageMaker reports it: the request's validation,
 * the state kept in `job.json`, the secondary status transitions, failure reasons, the
 * DescribeTrainingJob view and the EventBridge "SageMaker Training Job State Change" event. Where
 * this stands: local runtime; the local training service drives a job through these states. All
 * pure except {@link writeJobState} and {@link readJobState}.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildCreateTrainingJobRequest } from '../../adapters/aws/sagemaker-training-service';
import {
  TrainingRequestRejected,
  type TrainingJobDescription,
  type TrainingJobSpec,
} from '../../core/ports/training-service';
import { cloudEvent, LOCAL_ACCOUNT, type CloudEvent } from '../contracts';
import { trainingJobArn } from './sagemaker-environment';

/** The role ARN the local cloud pretends jobs run with (it only appears in events). */
const LOCAL_TRAINING_ROLE_ARN = `arn:aws:iam::${LOCAL_ACCOUNT}:role/local-sagemaker-training`;

/** SageMaker's training job name rule (CreateTrainingJob, TrainingJobName). */
const JOB_NAME = /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/;

/** FailureReason is at most 1024 characters (DescribeTrainingJob API reference). */
const MAX_REASON = 1024;

/** The job's state file in its directory. */
const STATE_FILE = 'job.json';

/** The job failed for a reason worth reporting as is (other errors become InternalServerError). */
export class JobFailure extends Error {
  override readonly name = 'JobFailure';
}

/** One entry of SecondaryStatusTransitions (times in epoch milliseconds). */
export interface SecondaryStatusTransition {
  Status: string;
  StartTime: number;
  EndTime?: number;
  StatusMessage: string;
}

/** What `job.json` holds. */
export interface JobState {
  readonly spec: TrainingJobSpec;
  readonly arn: string;
  status: TrainingJobDescription['status'];
  secondaryStatus: string;
  failureReason?: string;
  metrics: Record<string, number>;
  metricsTime?: number;
  artifactUri?: string;
  creationTime: number;
  trainingStartTime?: number;
  trainingEndTime?: number;
  lastModifiedTime: number;
  transitions: SecondaryStatusTransition[];
  /** pid of the process that runs the job (to spot jobs orphaned by a crash). */
  hostPid: number;
}

/** Why a running job is being stopped: it ran past MaxRuntimeInSeconds, or the service is closing. */
export type StopCause = 'max-runtime' | 'closed';

/** Whether `name` is a valid training job name (so it is also a safe directory name). */
export function isJobName(name: string): boolean {
  return JOB_NAME.test(name);
}

/** Refuses, as CreateTrainingJob would, a request that can never run. */
export function validateSpec(spec: TrainingJobSpec): void {
  if (!isJobName(spec.jobName)) {
    throw new TrainingRequestRejected(
      `1 validation error detected: Value '${spec.jobName}' at 'trainingJobName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}`,
    );
  }
  for (const [field, uri] of [
    ['trainUri', spec.trainUri],
    ['validationUri', spec.validationUri],
    ['outputUri', spec.outputUri],
  ] as const) {
    if (!/^s3:\/\/[^/]+/.test(uri))
      throw new TrainingRequestRejected(`${field} must be an s3:// URI; got "${uri}"`);
  }
  if (!(spec.maxRuntimeSeconds > 0))
    throw new TrainingRequestRejected(`maxRuntimeSeconds must be > 0; got ${spec.maxRuntimeSeconds}`);
  for (const definition of spec.metricDefinitions) {
    try {
      new RegExp(definition.regex);
    } catch (error) {
      throw new TrainingRequestRejected(
        `metric definition ${definition.name}: invalid regex: ${(error as Error).message}`,
      );
    }
  }
}

/** A new job's state: InProgress, Starting. */
export function newJobState(spec: TrainingJobSpec, now: number, hostPid: number): JobState {
  return {
    spec,
    arn: trainingJobArn(spec.jobName),
    status: 'InProgress',
    secondaryStatus: 'Starting',
    metrics: {},
    creationTime: now,
    lastModifiedTime: now,
    transitions: [{ Status: 'Starting', StartTime: now, StatusMessage: 'Launching requested ML instances' }],
    hostPid,
  };
}

/** Moves the job to a secondary status, ending the current one. */
export function recordTransition(state: JobState, secondary: string, message: string, now: number): void {
  const last = state.transitions[state.transitions.length - 1];
  if (last && last.EndTime === undefined) last.EndTime = now;
  state.transitions.push({ Status: secondary, StartTime: now, StatusMessage: message });
  state.secondaryStatus = secondary;
  state.lastModifiedTime = now;
}

/** Records metrics read from the log; `found` undefined means none were. */
export function recordMetrics(state: JobState, found: Record<string, number> | undefined, now: number): void {
  if (found === undefined) return;
  Object.assign(state.metrics, found);
  state.metricsTime = now;
}

/** A reason on one line, cut to SageMaker's 1024 characters. */
export function truncateReason(reason: string): string {
  const oneLine = reason.replace(/\s*\n\s*/g, ' ').trim();
  return oneLine.length > MAX_REASON ? `${oneLine.slice(0, MAX_REASON - 3)}...` : oneLine;
}

/** The FailureReason of an error that ended the job: a {@link JobFailure} as is, others as internal. */
export function failureReasonOf(error: unknown): string {
  return error instanceof JobFailure ? error.message : `InternalServerError: ${(error as Error).message}`;
}

/**
 * The FailureReason of a program that exited non-zero: what it wrote to `output/failure`, else
 * SageMaker's AlgorithmError with the exit code (or signal) and the tail of stderr.
 */
export function exitFailureReason(
  kind: 'builtin' | 'script',
  exit: { code: number | null; signal: NodeJS.Signals | null; stderrTail: string },
  failureFile: string,
): string {
  return (
    failureFile.trim() ||
    `AlgorithmError: ${kind === 'script' ? 'ExecuteUserScriptError: ' : ''}ExitCode ${exit.code ?? exit.signal}` +
      (exit.stderrTail ? ` ErrorMessage "${exit.stderrTail}"` : '')
  );
}

/** How a stopped job ends: its FailureReason and its last secondary status. */
export function stopOutcome(
  cause: StopCause,
  maxRuntimeSeconds: number,
): { failureReason: string; secondary: string; message: string } {
  return cause === 'max-runtime'
    ? {
        failureReason: `the job exceeded MaxRuntimeInSeconds (${maxRuntimeSeconds} s) and was stopped`,
        secondary: 'MaxRuntimeExceeded',
        message: 'Job stopped because it exceeded the maximum allowed runtime',
      }
    : {
        failureReason: 'the local training service was closed while the job was running',
        secondary: 'Stopped',
        message: 'Training job stopped',
      };
}

/** The FailureReason of a job whose host process died while it ran. */
export function orphanFailureReason(hostPid: number): string {
  return `InternalServerError: the local training host (pid ${hostPid}) exited while the job was running`;
}

/** Whether the job has not ended yet. */
export function isRunning(state: JobState): boolean {
  return state.status === 'InProgress' || state.status === 'Stopping';
}

/** The job as {@link TrainingJobDescription}. */
export function describeJob(state: JobState): TrainingJobDescription {
  const { spec } = state;
  return {
    jobName: spec.jobName,
    status: state.status,
    secondaryStatus: state.secondaryStatus,
    ...(state.failureReason !== undefined ? { failureReason: state.failureReason } : {}),
    metrics: { ...state.metrics },
    ...(state.artifactUri !== undefined ? { artifactUri: state.artifactUri } : {}),
    image: spec.image,
    hyperparameters: { ...spec.hyperparameters },
    ...(state.trainingStartTime !== undefined
      ? { startedAt: new Date(state.trainingStartTime).toISOString() }
      : {}),
    ...(state.trainingEndTime !== undefined
      ? { endedAt: new Date(state.trainingEndTime).toISOString() }
      : {}),
    ...(state.trainingStartTime !== undefined && state.trainingEndTime !== undefined
      ? { billableSeconds: Math.max(1, Math.ceil((state.trainingEndTime - state.trainingStartTime) / 1000)) }
      : {}),
  };
}

/**
 * EventBridge's "SageMaker Training Job State Change" for the job as it is now.
 *
 * @param id the event's id (a fresh UUID unless given)
 * @param time when the change happened (now unless given)
 */
export function stateChangeEvent(state: JobState, id?: string, time?: Date): CloudEvent {
  return cloudEvent({
    detailType: 'SageMaker Training Job State Change',
    source: 'aws.sagemaker',
    resources: [state.arn],
    detail: eventDetail(state),
    id,
    time,
  });
}

/** The event's detail: DescribeTrainingJob's shape, times in epoch milliseconds (as EventBridge delivers them). */
function eventDetail(state: JobState): Record<string, unknown> {
  const { spec } = state;
  // The request fields come from the AWS adapter's mapping, so both clouds send the same ones.
  const request = buildCreateTrainingJobRequest(spec, LOCAL_TRAINING_ROLE_ARN);
  const metricNames = Object.keys(state.metrics);
  return {
    TrainingJobName: spec.jobName,
    TrainingJobArn: state.arn,
    TrainingJobStatus: state.status,
    SecondaryStatus: state.secondaryStatus,
    ...(state.failureReason !== undefined ? { FailureReason: state.failureReason } : {}),
    ...(state.artifactUri !== undefined ? { ModelArtifacts: { S3ModelArtifacts: state.artifactUri } } : {}),
    ...(metricNames.length
      ? {
          FinalMetricDataList: metricNames.map((name) => ({
            MetricName: name,
            Value: state.metrics[name],
            Timestamp: state.metricsTime ?? state.lastModifiedTime,
          })),
        }
      : {}),
    HyperParameters: request.HyperParameters,
    AlgorithmSpecification: request.AlgorithmSpecification,
    RoleArn: request.RoleArn,
    InputDataConfig: request.InputDataConfig?.map((channel) => ({ ...channel, RecordWrapperType: 'None' })),
    OutputDataConfig: request.OutputDataConfig,
    ResourceConfig: request.ResourceConfig,
    StoppingCondition: request.StoppingCondition,
    EnableManagedSpotTraining: request.EnableManagedSpotTraining,
    CreationTime: state.creationTime,
    ...(state.trainingStartTime !== undefined ? { TrainingStartTime: state.trainingStartTime } : {}),
    ...(state.trainingEndTime !== undefined ? { TrainingEndTime: state.trainingEndTime } : {}),
    LastModifiedTime: state.lastModifiedTime,
    SecondaryStatusTransitions: state.transitions,
    Tags: request.Tags,
  };
}

/** Writes `job.json` atomically (a reader never sees half of it). */
export async function writeJobState(jobDir: string, state: JobState): Promise<void> {
  const file = join(jobDir, STATE_FILE);
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, JSON.stringify(state, null, 2));
  await rename(temporary, file);
}

/** Reads `job.json`; undefined when the job does not exist. */
export async function readJobState(jobDir: string): Promise<JobState | undefined> {
  try {
    return JSON.parse(await readFile(join(jobDir, STATE_FILE), 'utf8')) as JobState;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
