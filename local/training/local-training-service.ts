/**
 * Local adapter of the {@link TrainingService} port: SageMaker training on this machine. Where this
 * stands: adapter of the local cloud; ingest starts jobs through it and the training-events handler
 * describes them, exactly as with {@link SageMakerTrainingService}.
 *
 * A job is a directory `<root>/<job>/` laid out like a SageMaker container's `/opt/ml`
 * (`input/config/*.json`, `input/data/<channel>/`, `model/`, `output/`, `code/` in script mode),
 * its state in `job.json` (so jobs survive a restart), its output in `logs.txt` (stdout and stderr,
 * tabs shown as `#011` as CloudWatch shows them). The job runs as a child process:
 * - the built-in XGBoost image (`.../sagemaker-xgboost:<v>`) runs `local/training/train-builtin.ts`;
 * - script mode (`sagemaker_program` + `sagemaker_submit_directory` hyperparameters, JSON-encoded)
 *   downloads and extracts `sourcedir.tar.gz` into `code/` and runs the entry point with the
 *   environment of the SageMaker training toolkit (ENVIRONMENT_VARIABLES.md, environment.py and
 *   mapping.py of aws/sagemaker-training-toolkit);
 * - any other image fails the job: it cannot run without Docker and ECR.
 * Every status change goes to the event bus as EventBridge's "SageMaker Training Job State Change".
 *
 * Differences from SageMaker: one host (`algo-1`), no GPUs, spot settings ignored, no
 * `output.tar.gz` of `output/data`, hyperparameters not validated at creation (a bad one fails the
 * job, as in a custom image).
 *
 * This class only drives a job from start to end; the parts live beside it:
 * - `training-job.ts`: the job's record (`job.json`), statuses, failure reasons, description, events;
 * - `training-image.ts`: what runs for an image (built-in trainer, script mode, or nothing);
 * - `sagemaker-environment.ts`: the `/opt/ml` layout, `input/config/*.json`, the `SM_*` variables;
 * - `s3-staging.ts`: channels downloaded from S3, `model.tar.gz` uploaded;
 * - `training-process.ts`: the child process, its log, SIGTERM/SIGKILL;
 * - `log-metrics.ts`: metrics read from the log (XGBoost round lines, MetricDefinitions).
 */
import type { ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { ObjectStore } from '../../core/ports/object-store';
import type {
  TrainingJobDescription,
  TrainingJobSpec,
  TrainingService,
} from '../../core/ports/training-service';
import type { EventPublisher, LocalTime } from '../contracts';
import { downloadPrefix, uploadModel } from './s3-staging';
import { CHANNELS, channelDir, jobLayout, writeInputConfig, type JobLayout } from './sagemaker-environment';
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
  type JobState,
  type StopCause,
} from './training-job';
import { trainingProgram } from './training-image';
import {
  SIGTERM_GRACE_SECONDS,
  isProcessAlive,
  startTrainingProcess,
  terminateProcess,
} from './training-process';

/** What the local training service runs jobs with. */
export interface LocalTrainingServiceOptions {
  /** Directory holding one folder per job, e.g. `.mlops-local/training`. */
  readonly root: string;
  readonly objects: ObjectStore;
  readonly events: EventPublisher;
  /** Scales `MaxRuntimeInSeconds` and the SIGTERM grace period. */
  readonly time: LocalTime;
  readonly log?: LocalTrainingLog;
  /** Interpreter for `.py` entry points. @default 'python3' */
  readonly python?: string;
}

/** Where the service reports what happens to jobs (the local cloud's log). */
export interface LocalTrainingLog {
  info(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
}

/**
 * Grace between SIGTERM and SIGKILL when the service closes, or when a stopped job's process only
 * starts after the stop (real ms, not scaled: a shutdown should not wait long).
 */
const CLOSE_GRACE_MS = 2_000;

/** A job this service runs. */
interface RunningJob {
  state: JobState;
  done: Promise<void>;
  child?: ChildProcess;
  stop?: StopCause;
  stopTimer?: NodeJS.Timeout;
}

/** The {@link TrainingService} of the local cloud (see the module's comment). */
export class LocalTrainingService implements TrainingService {
  private readonly root: string;
  private readonly running = new Map<string, RunningJob>();
  private readonly claimed = new Set<string>();
  private readonly log: LocalTrainingLog;
  private closed = false;

  constructor(private readonly options: LocalTrainingServiceOptions) {
    this.root = resolve(options.root);
    this.log = options.log ?? { info: () => {}, warn: () => {}, error: () => {} };
  }

  async startTrainingJob(spec: TrainingJobSpec): Promise<'started' | 'already-exists'> {
    if (this.closed) throw new Error('the local training service is closed');
    validateSpec(spec);
    const name = spec.jobName;
    if (this.claimed.has(name) || this.running.has(name)) return 'already-exists';
    this.claimed.add(name);
    const dir = this.jobDir(name);
    await mkdir(this.root, { recursive: true });
    try {
      // Non-recursive: creating the job's directory is the atomic claim on its name.
      await mkdir(dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return 'already-exists';
      this.claimed.delete(name);
      throw error;
    }
    const state = newJobState(spec, Date.now(), process.pid);
    const layout = jobLayout(dir);
    for (const d of [layout.configDir, layout.dataDir, layout.modelDir, layout.outputDataDir])
      await mkdir(d, { recursive: true });
    await this.persist(state);
    this.publish(state);
    const job: RunningJob = { state, done: Promise.resolve() };
    this.running.set(name, job);
    job.done = this.execute(job)
      .catch((error: unknown) =>
        this.log.error('local training job could not be recorded', { jobName: name, error: String(error) }),
      )
      .finally(() => {
        if (job.stopTimer) clearTimeout(job.stopTimer);
        this.running.delete(name);
      });
    this.log.info('local training job started', { jobName: name, image: spec.image });
    return 'started';
  }

  async describeTrainingJob(jobName: string): Promise<TrainingJobDescription | undefined> {
    const state = await this.currentState(jobName);
    return state && describeJob(state);
  }

  /** Waits until the job ends (polling `job.json` when another process runs it). */
  async waitForJob(jobName: string, timeoutMs = 10 * 60_000): Promise<TrainingJobDescription> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const running = this.running.get(jobName);
      if (running) await running.done;
      const state = await this.currentState(jobName);
      if (!state) throw new Error(`training job ${jobName} does not exist`);
      if (!isRunning(state)) return describeJob(state);
      if (Date.now() > deadline)
        throw new Error(`training job ${jobName} still ${state.status} after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** Stops every running job (they end Stopped) and refuses new ones. */
  async close(): Promise<void> {
    this.closed = true;
    const jobs = [...this.running.values()];
    for (const job of jobs) {
      job.stop ??= 'closed';
      terminateProcess(job.child, CLOSE_GRACE_MS);
    }
    await Promise.allSettled(jobs.map((j) => j.done));
  }

  // ---------------------------------------------------------------------------------------------

  private async execute(job: RunningJob): Promise<void> {
    const { state } = job;
    const { spec } = state;
    const layout = jobLayout(this.jobDir(spec.jobName));
    const logs = createWriteStream(layout.logs, { flags: 'a' });
    logs.on('error', (error) =>
      this.log.warn('cannot write training logs', { jobName: spec.jobName, error: String(error) }),
    );
    // MaxRuntimeInSeconds counts from here, in the local cloud's time scale.
    job.stopTimer = setTimeout(() => {
      job.stop ??= 'max-runtime';
      terminateProcess(job.child, this.options.time.ms(SIGTERM_GRACE_SECONDS));
    }, this.options.time.ms(spec.maxRuntimeSeconds));
    job.stopTimer.unref();
    try {
      const program = trainingProgram(spec, layout, this.options);
      await this.transition(state, 'Downloading', 'Downloading input data');
      state.trainingStartTime = Date.now();
      await writeInputConfig(spec, layout);
      const uris = { train: spec.trainUri, validation: spec.validationUri };
      for (const channel of CHANNELS)
        await downloadPrefix(this.options.objects, uris[channel], channelDir(layout, channel));
      const command = await program.prepare();
      // Stopped during staging: no process to start (the catch below ends the job Stopped).
      if (job.stop) throw new JobFailure('stopped');
      await this.transition(state, 'Training', 'Training image download completed. Training in progress.');
      const run = startTrainingProcess(command, logs, (shown, raw) =>
        recordMetrics(state, program.metrics.line(shown, raw), Date.now()),
      );
      job.child = run.child;
      // Stopped while it was starting: the timer or close() found no process to signal.
      if (job.stop) terminateProcess(job.child, CLOSE_GRACE_MS);
      const exit = await run.exit;
      recordMetrics(state, program.metrics.end(), Date.now());
      state.trainingEndTime = Date.now();
      if (job.stop) {
        await this.uploadIfAny(state, layout);
        return await this.finishStopped(job);
      }
      if (exit.code !== 0) {
        const failure = await readFile(layout.failure, 'utf8').catch(() => '');
        throw new JobFailure(exitFailureReason(program.kind, exit, failure));
      }
      await this.transition(state, 'Uploading', 'Uploading generated training model');
      state.artifactUri = await uploadModel(
        this.options.objects,
        spec.outputUri,
        spec.jobName,
        layout.modelDir,
      );
      state.status = 'Completed';
      await this.transition(state, 'Completed', 'Training job completed');
      this.publish(state);
      this.log.info('local training job completed', { jobName: spec.jobName, metrics: state.metrics });
    } catch (error) {
      state.trainingEndTime ??= Date.now();
      if (job.stop) return await this.finishStopped(job);
      state.status = 'Failed';
      state.failureReason = truncateReason(failureReasonOf(error));
      await this.transition(state, 'Failed', 'Training job failed').catch((e: unknown) =>
        this.log.error('cannot record the failed training job', { jobName: spec.jobName, error: String(e) }),
      );
      this.publish(state);
      this.log.warn('local training job failed', { jobName: spec.jobName, reason: state.failureReason });
    } finally {
      await new Promise<void>((r) => logs.end(r));
    }
  }

  private async finishStopped(job: RunningJob): Promise<void> {
    const { state } = job;
    const outcome = stopOutcome(job.stop ?? 'closed', state.spec.maxRuntimeSeconds);
    state.status = 'Stopped';
    state.failureReason = outcome.failureReason;
    await this.transition(state, outcome.secondary, outcome.message);
    this.publish(state);
    this.log.warn('local training job stopped', { jobName: state.spec.jobName, reason: state.failureReason });
  }

  /** A stopped job keeps what it saved in `model/` (SageMaker uploads it too). */
  private async uploadIfAny(state: JobState, layout: JobLayout): Promise<void> {
    try {
      if ((await readdir(layout.modelDir)).length > 0)
        state.artifactUri = await uploadModel(
          this.options.objects,
          state.spec.outputUri,
          state.spec.jobName,
          layout.modelDir,
        );
    } catch (error) {
      this.log.warn('cannot upload the model of a stopped job', {
        jobName: state.spec.jobName,
        error: String(error),
      });
    }
  }

  /** Records the secondary status in `job.json` (every change is persisted, so a restart sees it). */
  private async transition(state: JobState, secondary: string, message: string): Promise<void> {
    recordTransition(state, secondary, message, Date.now());
    await this.persist(state);
  }

  private async persist(state: JobState): Promise<void> {
    await writeJobState(this.jobDir(state.spec.jobName), state);
  }

  /** The job's state: in memory while this service runs it, else from `job.json`. */
  private async currentState(jobName: string): Promise<JobState | undefined> {
    const running = this.running.get(jobName);
    if (running) return running.state;
    // Also keeps a name like `../x` from reaching the file system.
    if (!isJobName(jobName)) return undefined;
    const state = await readJobState(this.jobDir(jobName));
    if (!state) return undefined;
    if (isRunning(state) && !isProcessAlive(state.hostPid)) {
      // The process that ran it is gone (a crash or a kill): the job can never finish.
      state.status = 'Failed';
      state.failureReason = orphanFailureReason(state.hostPid);
      state.trainingEndTime ??= Date.now();
      await this.transition(state, 'Failed', 'Training job failed');
      this.publish(state);
    }
    return state;
  }

  /** Sends the job's state to the bus; a failing bus is logged, never fails the job. */
  private publish(state: JobState): void {
    const event = stateChangeEvent(state);
    try {
      this.options.events.publish(event);
    } catch (error) {
      this.log.error('cannot publish the training job event', {
        jobName: state.spec.jobName,
        error: String(error),
      });
    }
  }

  private jobDir(jobName: string): string {
    return join(this.root, jobName);
  }
}
