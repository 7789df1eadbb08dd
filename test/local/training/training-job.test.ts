import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TrainingRequestRejected, type TrainingJobSpec } from '../../../core/ports/training-service';
import {
  JobFailure,
  describeJob,
  exitFailureReason,
  failureReasonOf,
  isJobName,
  isRunning,
  newJobState,
  orphanFailureReason,
  readJobState,
  recordMetrics,
  recordTransition,
  stateChangeEvent,
  stopOutcome,
  truncateReason,
  validateSpec,
  writeJobState,
} from '../../../local/training/training-job';
import fixture from '../../fixtures/events/sagemaker-training-job-state-change.json';

const spec: TrainingJobSpec = {
  jobName: 'Demo-v1',
  model: 'demo',
  version: 1,
  image: '683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1',
  metricDefinitions: [],
  hyperparameters: { objective: 'binary:logistic', num_round: '10' },
  trainUri: 's3://bucket/prepared/train/',
  validationUri: 's3://bucket/prepared/validation/',
  outputUri: 's3://bucket/artifacts/demo/',
  instanceType: 'ml.m5.large',
  instanceCount: 1,
  volumeSizeGb: 10,
  maxRuntimeSeconds: 3600,
  spot: false,
  tags: { 'mlops:model': 'demo' },
};

describe('validateSpec', () => {
  it('accepts a good request', () => {
    expect(() => validateSpec(spec)).not.toThrow();
  });

  it.each([
    [{ jobName: 'bad_name' }, /trainingJobName.*regular expression pattern/],
    [{ jobName: `a${'b'.repeat(63)}` }, /trainingJobName/],
    [{ trainUri: '/local/train' }, /^trainUri must be an s3:\/\/ URI; got "\/local\/train"$/],
    [{ validationUri: 's3:///no-bucket' }, /^validationUri must be an s3:\/\/ URI/],
    [{ outputUri: 'https://bucket/x' }, /^outputUri must be an s3:\/\/ URI/],
    [{ maxRuntimeSeconds: 0 }, /^maxRuntimeSeconds must be > 0; got 0$/],
    [{ metricDefinitions: [{ name: 'm', regex: 'a=(' }] }, /^metric definition m: invalid regex/],
  ] as [Partial<TrainingJobSpec>, RegExp][])('refuses %j', (over, message) => {
    let thrown: unknown;
    try {
      validateSpec({ ...spec, ...over });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(TrainingRequestRejected);
    expect((thrown as Error).message).toMatch(message);
  });

  it('job names are safe directory names', () => {
    expect(isJobName('demo-v1')).toBe(true);
    expect(isJobName('../demo')).toBe(false);
    expect(isJobName('demo/v1')).toBe(false);
  });
});

describe('the job state', () => {
  it('starts InProgress/Starting and records transitions, ending the previous one', () => {
    const state = newJobState(spec, 1_000, 42);
    expect(state).toMatchObject({
      arn: 'arn:aws:sagemaker:us-east-1:000000000000:training-job/demo-v1',
      status: 'InProgress',
      secondaryStatus: 'Starting',
      creationTime: 1_000,
      lastModifiedTime: 1_000,
      hostPid: 42,
      metrics: {},
    });
    expect(isRunning(state)).toBe(true);
    recordTransition(state, 'Downloading', 'Downloading input data', 2_000);
    recordTransition(state, 'Training', 'Training in progress.', 3_500);
    expect(state.secondaryStatus).toBe('Training');
    expect(state.lastModifiedTime).toBe(3_500);
    expect(state.transitions).toEqual([
      {
        Status: 'Starting',
        StartTime: 1_000,
        EndTime: 2_000,
        StatusMessage: 'Launching requested ML instances',
      },
      { Status: 'Downloading', StartTime: 2_000, EndTime: 3_500, StatusMessage: 'Downloading input data' },
      { Status: 'Training', StartTime: 3_500, StatusMessage: 'Training in progress.' },
    ]);
  });

  it('records metrics and their time only when some were read', () => {
    const state = newJobState(spec, 1_000, 42);
    recordMetrics(state, undefined, 2_000);
    expect(state.metricsTime).toBeUndefined();
    recordMetrics(state, { 'train:auc': 0.8 }, 3_000);
    recordMetrics(state, { 'validation:auc': 0.7 }, 4_000);
    recordMetrics(state, {}, 5_000);
    expect(state.metrics).toEqual({ 'train:auc': 0.8, 'validation:auc': 0.7 });
    expect(state.metricsTime).toBe(5_000);
  });

  it('is stored in job.json and read back; a job without one does not exist', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'training-job-'));
    try {
      const state = newJobState(spec, 1_000, 42);
      await writeJobState(dir, state);
      expect(await readdir(dir)).toEqual(['job.json']);
      expect(await readJobState(dir)).toEqual(state);
      expect(await readJobState(join(dir, 'missing'))).toBeUndefined();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('failure reasons', () => {
  it('are one line of at most 1024 characters', () => {
    expect(truncateReason('  first\n   second  \n')).toBe('first second');
    const long = truncateReason('x'.repeat(2_000));
    expect(long).toHaveLength(1024);
    expect(long.endsWith('...')).toBe(true);
    expect(truncateReason('y'.repeat(1024))).toBe('y'.repeat(1024));
  });

  it('report a JobFailure as is and anything else as an internal error', () => {
    expect(failureReasonOf(new JobFailure('ClientError: bad data'))).toBe('ClientError: bad data');
    expect(failureReasonOf(new Error('EACCES'))).toBe('InternalServerError: EACCES');
  });

  it("of a non-zero exit prefer the program's output/failure", () => {
    const exit = { code: 1, signal: null, stderrTail: 'Traceback | boom' };
    expect(exitFailureReason('script', exit, 'ClientError: no label\n')).toBe('ClientError: no label');
    expect(exitFailureReason('script', exit, '  ')).toBe(
      'AlgorithmError: ExecuteUserScriptError: ExitCode 1 ErrorMessage "Traceback | boom"',
    );
    expect(exitFailureReason('builtin', { code: null, signal: 'SIGKILL', stderrTail: '' }, '')).toBe(
      'AlgorithmError: ExitCode SIGKILL',
    );
  });

  it('say why a job stopped or was orphaned', () => {
    expect(stopOutcome('max-runtime', 60)).toEqual({
      failureReason: 'the job exceeded MaxRuntimeInSeconds (60 s) and was stopped',
      secondary: 'MaxRuntimeExceeded',
      message: 'Job stopped because it exceeded the maximum allowed runtime',
    });
    expect(stopOutcome('closed', 60)).toMatchObject({ secondary: 'Stopped' });
    expect(orphanFailureReason(1234)).toBe(
      'InternalServerError: the local training host (pid 1234) exited while the job was running',
    );
  });
});

describe('describeJob', () => {
  it('shows a new job without times, artifact or failure', () => {
    const description = describeJob(newJobState(spec, 1_000, 42));
    expect(description).toEqual({
      jobName: 'Demo-v1',
      status: 'InProgress',
      secondaryStatus: 'Starting',
      metrics: {},
      image: spec.image,
      hyperparameters: spec.hyperparameters,
    });
  });

  it('bills whole seconds, at least one', () => {
    const state = newJobState(spec, 1_000, 42);
    Object.assign(state, {
      status: 'Completed',
      trainingStartTime: Date.UTC(2026, 0, 1),
      trainingEndTime: Date.UTC(2026, 0, 1) + 2_001,
      artifactUri: 's3://bucket/model.tar.gz',
      metrics: { 'validation:auc': 0.9 },
    });
    expect(describeJob(state)).toMatchObject({
      status: 'Completed',
      startedAt: '2026-01-01T00:00:00.000Z',
      endedAt: '2026-01-01T00:00:02.001Z',
      billableSeconds: 3,
      artifactUri: 's3://bucket/model.tar.gz',
      metrics: { 'validation:auc': 0.9 },
    });
    state.trainingEndTime = state.trainingStartTime! + 10;
    expect(describeJob(state).billableSeconds).toBe(1);
  });

  it('copies the metrics, so a caller cannot change the job', () => {
    const state = newJobState(spec, 1_000, 42);
    (describeJob(state).metrics as Record<string, number>).x = 1;
    expect(state.metrics).toEqual({});
  });
});

describe('stateChangeEvent', () => {
  it("is EventBridge's SageMaker Training Job State Change, with the fixture's keys", () => {
    const state = newJobState(spec, 1_000, 42);
    const event = stateChangeEvent(state, 'event-1', new Date(Date.UTC(2026, 0, 1, 12, 0, 0, 345)));
    expect(Object.keys(event).sort()).toEqual(Object.keys(fixture).sort());
    expect(event).toMatchObject({
      version: '0',
      id: 'event-1',
      'detail-type': 'SageMaker Training Job State Change',
      source: 'aws.sagemaker',
      account: '000000000000',
      region: 'us-east-1',
      time: '2026-01-01T12:00:00Z',
      resources: ['arn:aws:sagemaker:us-east-1:000000000000:training-job/demo-v1'],
    });
    expect(event.detail).toMatchObject({
      TrainingJobName: 'Demo-v1',
      TrainingJobStatus: 'InProgress',
      SecondaryStatus: 'Starting',
      HyperParameters: spec.hyperparameters,
      AlgorithmSpecification: { TrainingImage: spec.image, TrainingInputMode: 'File' },
      RoleArn: 'arn:aws:iam::000000000000:role/local-sagemaker-training',
      CreationTime: 1_000,
      LastModifiedTime: 1_000,
    });
    for (const channel of event.detail.InputDataConfig as { RecordWrapperType: string }[])
      expect(channel.RecordWrapperType).toBe('None');
    expect(event.detail).not.toHaveProperty('FinalMetricDataList');
    expect(event.detail).not.toHaveProperty('ModelArtifacts');
    expect(event.detail).not.toHaveProperty('FailureReason');
    expect(event.detail).not.toHaveProperty('TrainingEndTime');
  });

  it('lists the final metrics, stamped when they were read (else when the job last changed)', () => {
    const state = newJobState(spec, 1_000, 42);
    Object.assign(state, {
      status: 'Failed',
      failureReason: 'ClientError: x',
      artifactUri: 's3://bucket/model.tar.gz',
      metrics: { 'validation:auc': 0.9 },
      trainingEndTime: 9_000,
    });
    recordTransition(state, 'Failed', 'Training job failed', 9_000);
    const detail = stateChangeEvent(state).detail;
    expect(detail).toMatchObject({
      FailureReason: 'ClientError: x',
      ModelArtifacts: { S3ModelArtifacts: 's3://bucket/model.tar.gz' },
      FinalMetricDataList: [{ MetricName: 'validation:auc', Value: 0.9, Timestamp: 9_000 }],
      TrainingEndTime: 9_000,
    });
    recordMetrics(state, { 'validation:auc': 0.95 }, 8_000);
    expect(stateChangeEvent(state).detail.FinalMetricDataList).toEqual([
      { MetricName: 'validation:auc', Value: 0.95, Timestamp: 8_000 },
    ]);
  });

  it('gives each event its own id', () => {
    const state = newJobState(spec, 1_000, 42);
    expect(stateChangeEvent(state).id).not.toBe(stateChangeEvent(state).id);
  });
});
