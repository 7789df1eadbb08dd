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
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, readFile, readdir, rename, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { extract } from 'tar';
import type { ObjectStore } from '../../core/ports/object-store';
import {
  TrainingRequestRejected,
  type TrainingJobDescription,
  type TrainingJobSpec,
  type TrainingService,
} from '../../core/ports/training-service';
import {
  LOCAL_ACCOUNT,
  LOCAL_REGION,
  type CloudEvent,
  type EventPublisher,
  type LocalTime,
} from '../contracts';
import { packModelDir } from './model-artifact';
import { buildCreateTrainingJobRequest } from '../../adapters/aws/sagemaker-training-service';

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

export interface LocalTrainingLog {
  info(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
}

/** The role ARN the local cloud pretends jobs run with (it only appears in events). */
const LOCAL_TRAINING_ROLE_ARN = `arn:aws:iam::${LOCAL_ACCOUNT}:role/local-sagemaker-training`;

/** SageMaker's training job name rule (CreateTrainingJob, TrainingJobName). */
const JOB_NAME = /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/;
/** The built-in XGBoost repository in any registry (see core/domain/algorithm-images.ts). */
const BUILTIN_XGBOOST_IMAGE = /\/sagemaker-xgboost:/;
/** FailureReason is at most 1024 characters (DescribeTrainingJob API reference). */
const MAX_REASON = 1024;
/** The grace SageMaker gives a container between SIGTERM and the kill (StoppingCondition docs). */
const SIGTERM_GRACE_SECONDS = 120;
/** The built-in trainer's round lines: `[12]\ttrain-auc:0.9\tvalidation-auc:0.8` (or with `#011`). */
const XGBOOST_ROUND_LINE = /^\[\d+\](?:\t|#011)/;
const HOST = 'algo-1';

type Status = TrainingJobDescription['status'];

interface SecondaryStatusTransition {
  Status: string;
  StartTime: number;
  EndTime?: number;
  StatusMessage: string;
}

/** What `job.json` holds. */
interface JobState {
  readonly spec: TrainingJobSpec;
  readonly arn: string;
  status: Status;
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

interface RunningJob {
  state: JobState;
  done: Promise<void>;
  child?: ChildProcess;
  stop?: 'max-runtime' | 'closed';
  stopTimer?: NodeJS.Timeout;
}

/** The job failed for a reason worth reporting as is. */
class JobFailure extends Error {
  override readonly name = 'JobFailure';
}

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
    const now = Date.now();
    const state: JobState = {
      spec,
      arn: trainingJobArn(name),
      status: 'InProgress',
      secondaryStatus: 'Starting',
      metrics: {},
      creationTime: now,
      lastModifiedTime: now,
      transitions: [
        { Status: 'Starting', StartTime: now, StatusMessage: 'Launching requested ML instances' },
      ],
      hostPid: process.pid,
    };
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
    return state && describe(state);
  }

  /** Waits until the job ends (polling `job.json` when another process runs it). */
  async waitForJob(jobName: string, timeoutMs = 10 * 60_000): Promise<TrainingJobDescription> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const running = this.running.get(jobName);
      if (running) await running.done;
      const state = await this.currentState(jobName);
      if (!state) throw new Error(`training job ${jobName} does not exist`);
      if (state.status !== 'InProgress' && state.status !== 'Stopping') return describe(state);
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
      this.terminate(job, 2_000);
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
    job.stopTimer = setTimeout(() => {
      job.stop ??= 'max-runtime';
      this.terminate(job, this.options.time.ms(SIGTERM_GRACE_SECONDS));
    }, this.options.time.ms(spec.maxRuntimeSeconds));
    job.stopTimer.unref();
    try {
      const program = this.program(spec, layout);
      await this.transition(state, 'Downloading', 'Downloading input data');
      state.trainingStartTime = Date.now();
      await this.writeConfig(spec, layout);
      await this.download(spec.trainUri, join(layout.dataDir, 'train'));
      await this.download(spec.validationUri, join(layout.dataDir, 'validation'));
      const command = await program.prepare();
      this.checkStopped(job);
      await this.transition(state, 'Training', 'Training image download completed. Training in progress.');
      const exit = await this.runProcess(job, command, logs, program.metrics);
      state.trainingEndTime = Date.now();
      if (job.stop) {
        await this.uploadIfAny(state, layout);
        return await this.finishStopped(job);
      }
      if (exit.code !== 0) {
        const failure = await readFile(layout.failure, 'utf8').catch(() => '');
        throw new JobFailure(
          failure.trim() ||
            `AlgorithmError: ${program.kind === 'script' ? 'ExecuteUserScriptError: ' : ''}ExitCode ${exit.code ?? exit.signal}` +
              (exit.stderrTail ? ` ErrorMessage "${exit.stderrTail}"` : ''),
        );
      }
      await this.transition(state, 'Uploading', 'Uploading generated training model');
      await this.upload(state, layout);
      state.status = 'Completed';
      await this.transition(state, 'Completed', 'Training job completed');
      this.publish(state);
      this.log.info('local training job completed', { jobName: spec.jobName, metrics: state.metrics });
    } catch (error) {
      state.trainingEndTime ??= Date.now();
      if (job.stop) return await this.finishStopped(job);
      const reason =
        error instanceof JobFailure ? error.message : `InternalServerError: ${(error as Error).message}`;
      state.status = 'Failed';
      state.failureReason = truncateReason(reason);
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
    state.status = 'Stopped';
    if (job.stop === 'max-runtime') {
      state.failureReason = `the job exceeded MaxRuntimeInSeconds (${state.spec.maxRuntimeSeconds} s) and was stopped`;
      await this.transition(
        state,
        'MaxRuntimeExceeded',
        'Job stopped because it exceeded the maximum allowed runtime',
      );
    } else {
      state.failureReason = 'the local training service was closed while the job was running';
      await this.transition(state, 'Stopped', 'Training job stopped');
    }
    this.publish(state);
    this.log.warn('local training job stopped', { jobName: state.spec.jobName, reason: state.failureReason });
  }

  private checkStopped(job: RunningJob): void {
    if (job.stop) throw new JobFailure('stopped');
  }

  /** SIGTERM to the job's process group, SIGKILL after `graceMs`. */
  private terminate(job: RunningJob, graceMs: number): void {
    const child = job.child;
    if (!child || child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
    const signal = (sig: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, sig);
      } catch {
        child.kill(sig);
      }
    };
    signal('SIGTERM');
    const kill = setTimeout(() => {
      if (child.exitCode === null && child.signalCode === null) signal('SIGKILL');
    }, graceMs);
    kill.unref();
    child.once('exit', () => clearTimeout(kill));
  }

  /** How the job's image runs: the command to spawn (after preparation) and how metrics are read. */
  private program(spec: TrainingJobSpec, layout: JobLayout): Program {
    const hps = spec.hyperparameters;
    if (hps.sagemaker_program !== undefined) {
      const decoded = decodeHyperparameters(hps);
      const entryPoint = String(decoded.sagemaker_program ?? '');
      const submitDir = String(decoded.sagemaker_submit_directory ?? '');
      if (!entryPoint || /(^|[\\/])\.\.([\\/]|$)/.test(entryPoint) || entryPoint.startsWith('/')) {
        throw new JobFailure(
          `ClientError: sagemaker_program "${entryPoint}" must be a file name inside the source directory`,
        );
      }
      return {
        kind: 'script',
        metrics: { kind: 'definitions', definitions: compileDefinitions(spec.metricDefinitions) },
        prepare: async () => {
          if (!submitDir.startsWith('s3://')) {
            throw new JobFailure(
              `ClientError: sagemaker_submit_directory must be an s3:// URI of a sourcedir.tar.gz; got "${submitDir}"`,
            );
          }
          await mkdir(layout.codeDir, { recursive: true });
          const archive = join(layout.jobDir, 'sourcedir.tar.gz');
          await this.downloadObject(submitDir, archive);
          try {
            await extract({ file: archive, cwd: layout.codeDir });
          } catch (error) {
            throw new JobFailure(`ClientError: cannot extract ${submitDir}: ${(error as Error).message}`);
          }
          const script = join(layout.codeDir, entryPoint);
          if (!(await stat(script).catch(() => undefined))?.isFile()) {
            throw new JobFailure(`ClientError: the entry point ${entryPoint} is not in ${submitDir}`);
          }
          const env = trainingToolkitEnvironment(spec, layout, decoded, entryPoint, submitDir);
          const args = JSON.parse(env.SM_USER_ARGS!) as string[];
          const [command, ...prefix] = this.interpreter(entryPoint, script);
          return { command: command!, args: [...prefix, ...args], cwd: layout.codeDir, env };
        },
      };
    }
    if (BUILTIN_XGBOOST_IMAGE.test(spec.image)) {
      return {
        kind: 'builtin',
        metrics: { kind: 'xgboost' },
        prepare: async () => ({
          command: process.execPath,
          args: ['--import', tsxLoader(), TRAIN_BUILTIN, layout.jobDir],
          cwd: layout.jobDir,
          env: {
            ...baseEnvironment(),
            SM_ROOT: layout.jobDir,
            TRAINING_JOB_NAME: spec.jobName,
            TRAINING_JOB_ARN: trainingJobArn(spec.jobName),
          },
        }),
      };
    }
    throw new JobFailure(
      `ClientError: local training runs the built-in XGBoost and script mode; image ${spec.image} cannot run locally`,
    );
  }

  private interpreter(entryPoint: string, script: string): string[] {
    if (entryPoint.endsWith('.py')) return [this.options.python ?? 'python3', script];
    if (/\.(m|c)?js$/.test(entryPoint)) return [process.execPath, script];
    if (/\.(m|c)?ts$/.test(entryPoint)) return [process.execPath, '--import', tsxLoader(), script];
    if (entryPoint.endsWith('.sh')) return ['/bin/sh', script];
    return [script];
  }

  /** Spawns the job's process; logs its output; reads metrics; resolves on exit (never rejects). */
  private runProcess(
    job: RunningJob,
    command: Command,
    logs: WriteStream,
    metrics: MetricSource,
  ): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderrTail: string }> {
    const { state } = job;
    const stderrTail: string[] = [];
    let lastRoundLine: string | undefined;
    const onLine = (line: string, stream: 'stdout' | 'stderr') => {
      const shown = line.replace(/\t/g, '#011');
      logs.write(shown + '\n');
      if (stream === 'stderr' && line.trim()) {
        stderrTail.push(line.trim());
        if (stderrTail.length > 10) stderrTail.shift();
      }
      if (metrics.kind === 'xgboost') {
        if (XGBOOST_ROUND_LINE.test(shown)) lastRoundLine = shown;
      } else {
        for (const definition of metrics.definitions) {
          const match = definition.regex.exec(shown) ?? definition.regex.exec(line);
          const value = match?.[1] === undefined ? NaN : Number(match[1]);
          if (Number.isFinite(value)) {
            state.metrics[definition.name] = value;
            state.metricsTime = Date.now();
          }
        }
      }
    };
    return new Promise((resolvePromise) => {
      let child: ChildProcess;
      const finish = (code: number | null, signal: NodeJS.Signals | null, extra?: string) => {
        if (lastRoundLine) {
          Object.assign(state.metrics, parseXgboostLine(lastRoundLine));
          state.metricsTime = Date.now();
        }
        if (extra) stderrTail.push(extra);
        resolvePromise({ code, signal, stderrTail: stderrTail.join(' | ').slice(-800) });
      };
      try {
        child = spawn(command.command, command.args, {
          cwd: command.cwd,
          env: command.env,
          stdio: ['ignore', 'pipe', 'pipe'],
          detached: true,
        });
      } catch (error) {
        finish(127, null, `cannot start ${command.command}: ${(error as Error).message}`);
        return;
      }
      job.child = child;
      if (job.stop) this.terminate(job, 2_000);
      const closed = {
        stdout: false,
        stderr: false,
        exit: undefined as undefined | [number | null, NodeJS.Signals | null],
      };
      const maybeFinish = () => {
        if (closed.stdout && closed.stderr && closed.exit) finish(...closed.exit);
      };
      for (const stream of ['stdout', 'stderr'] as const) {
        let buffer = '';
        const source = child[stream]!;
        source.setEncoding('utf8');
        source.on('data', (chunk: string) => {
          buffer += chunk;
          const lines = buffer.split('\n');
          buffer = lines.pop()!;
          for (const line of lines) onLine(line.replace(/\r$/, ''), stream);
        });
        source.on('close', () => {
          if (buffer) onLine(buffer, stream);
          closed[stream] = true;
          maybeFinish();
        });
      }
      child.on('error', (error) => {
        // Spawn failures (ENOENT, EACCES): no exit event follows.
        closed.stdout = closed.stderr = true;
        closed.exit ??= [127, null];
        stderrTail.push(`cannot start ${command.command}: ${error.message}`);
        maybeFinish();
      });
      child.on('exit', (code, signal) => {
        closed.exit = [code, signal];
        maybeFinish();
      });
    });
  }

  /** `hyperparameters.json`, `inputdataconfig.json`, `resourceconfig.json` (SageMaker's files). */
  private async writeConfig(spec: TrainingJobSpec, layout: JobLayout): Promise<void> {
    await writeFile(
      join(layout.configDir, 'hyperparameters.json'),
      JSON.stringify(spec.hyperparameters, null, 2),
    );
    await writeFile(
      join(layout.configDir, 'inputdataconfig.json'),
      JSON.stringify(inputDataConfig(), null, 2),
    );
    await writeFile(
      join(layout.configDir, 'resourceconfig.json'),
      JSON.stringify(resourceConfig(spec), null, 2),
    );
  }

  /** Copies every object under an `s3://bucket/prefix` into `dir`, keeping the key paths below the prefix. */
  private async download(uri: string, dir: string): Promise<void> {
    const { bucket, key: prefix } = parseS3Uri(uri);
    const objects = (await this.options.objects.list(bucket, prefix)).filter((o) => !o.key.endsWith('/'));
    if (objects.length === 0) {
      throw new JobFailure(
        `ClientError: No S3 objects found under S3 URL "${uri}" given in input data source.`,
      );
    }
    await mkdir(dir, { recursive: true });
    for (const object of objects) {
      const relativeKey =
        object.key === prefix
          ? object.key.slice(object.key.lastIndexOf('/') + 1)
          : object.key.slice(prefix.length).replace(/^\/+/, '');
      const target = resolve(dir, relativeKey);
      if (!target.startsWith(resolve(dir) + sep))
        throw new JobFailure(`ClientError: S3 key ${object.key} escapes its channel directory`);
      await this.downloadObject(`s3://${bucket}/${object.key}`, target);
    }
  }

  private async downloadObject(uri: string, target: string): Promise<void> {
    const { bucket, key } = parseS3Uri(uri);
    const object = await this.options.objects.read(bucket, key);
    if (!object) throw new JobFailure(`ClientError: ${uri} does not exist`);
    await mkdir(dirname(target), { recursive: true });
    await pipeline(Readable.from(object.body), createWriteStream(target));
  }

  /** `model/` as `<outputUri><job>/output/model.tar.gz`. */
  private async upload(state: JobState, layout: JobLayout): Promise<void> {
    const { bucket, key } = parseS3Uri(state.spec.outputUri);
    const prefix = key === '' || key.endsWith('/') ? key : `${key}/`;
    const artifactKey = `${prefix}${state.spec.jobName}/output/model.tar.gz`;
    const archive = await packModelDir(layout.modelDir);
    await this.options.objects.write(bucket, artifactKey, archive, 'application/x-gzip');
    state.artifactUri = `s3://${bucket}/${artifactKey}`;
  }

  /** A stopped job keeps what it saved in `model/` (SageMaker uploads it too). */
  private async uploadIfAny(state: JobState, layout: JobLayout): Promise<void> {
    try {
      if ((await readdir(layout.modelDir)).length > 0) await this.upload(state, layout);
    } catch (error) {
      this.log.warn('cannot upload the model of a stopped job', {
        jobName: state.spec.jobName,
        error: String(error),
      });
    }
  }

  private async transition(state: JobState, secondary: string, message: string): Promise<void> {
    const now = Date.now();
    const last = state.transitions[state.transitions.length - 1];
    if (last && last.EndTime === undefined) last.EndTime = now;
    state.transitions.push({ Status: secondary, StartTime: now, StatusMessage: message });
    state.secondaryStatus = secondary;
    state.lastModifiedTime = now;
    await this.persist(state);
  }

  private async persist(state: JobState): Promise<void> {
    const file = join(this.jobDir(state.spec.jobName), 'job.json');
    const temporary = `${file}.${process.pid}.tmp`;
    await writeFile(temporary, JSON.stringify(state, null, 2));
    await rename(temporary, file);
  }

  private async currentState(jobName: string): Promise<JobState | undefined> {
    const running = this.running.get(jobName);
    if (running) return running.state;
    if (!JOB_NAME.test(jobName)) return undefined;
    let state: JobState;
    try {
      state = JSON.parse(await readFile(join(this.jobDir(jobName), 'job.json'), 'utf8')) as JobState;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    if ((state.status === 'InProgress' || state.status === 'Stopping') && !isAlive(state.hostPid)) {
      // The process that ran it is gone (a crash or a kill): the job can never finish.
      state.status = 'Failed';
      state.failureReason = `InternalServerError: the local training host (pid ${state.hostPid}) exited while the job was running`;
      state.trainingEndTime ??= Date.now();
      await this.transition(state, 'Failed', 'Training job failed');
      this.publish(state);
    }
    return state;
  }

  private publish(state: JobState): void {
    const event: CloudEvent = {
      version: '0',
      id: randomUUID(),
      'detail-type': 'SageMaker Training Job State Change',
      source: 'aws.sagemaker',
      account: LOCAL_ACCOUNT,
      time: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      region: LOCAL_REGION,
      resources: [state.arn],
      detail: eventDetail(state),
    };
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

// -------------------------------------------------------------------------------------------------

interface JobLayout {
  readonly jobDir: string;
  readonly configDir: string;
  readonly dataDir: string;
  readonly modelDir: string;
  readonly outputDir: string;
  readonly outputDataDir: string;
  readonly failure: string;
  readonly codeDir: string;
  readonly logs: string;
}

interface Command {
  readonly command: string;
  readonly args: string[];
  readonly cwd: string;
  readonly env: Record<string, string>;
}

type MetricSource =
  { kind: 'xgboost' } | { kind: 'definitions'; definitions: { name: string; regex: RegExp }[] };

interface Program {
  readonly kind: 'builtin' | 'script';
  readonly metrics: MetricSource;
  prepare(): Promise<Command>;
}

const TRAIN_BUILTIN = fileURLToPath(new URL('./train-builtin.ts', import.meta.url));

/** tsx's loader for `node --import` (an absolute URL, so it resolves from any working directory). */
function tsxLoader(): string {
  return pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
}

function jobLayout(jobDir: string): JobLayout {
  const input = join(jobDir, 'input');
  const output = join(jobDir, 'output');
  return {
    jobDir,
    configDir: join(input, 'config'),
    dataDir: join(input, 'data'),
    modelDir: join(jobDir, 'model'),
    outputDir: output,
    outputDataDir: join(output, 'data'),
    failure: join(output, 'failure'),
    codeDir: join(jobDir, 'code'),
    logs: join(jobDir, 'logs.txt'),
  };
}

function validateSpec(spec: TrainingJobSpec): void {
  if (!JOB_NAME.test(spec.jobName)) {
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

function trainingJobArn(jobName: string): string {
  // SageMaker lower-cases resource names in ARNs.
  return `arn:aws:sagemaker:${LOCAL_REGION}:${LOCAL_ACCOUNT}:training-job/${jobName.toLowerCase()}`;
}

function parseS3Uri(uri: string): { bucket: string; key: string } {
  const match = /^s3:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (!match) throw new JobFailure(`ClientError: "${uri}" is not an s3:// URI`);
  return { bucket: match[1]!, key: match[2]! };
}

function isAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function truncateReason(reason: string): string {
  const oneLine = reason.replace(/\s*\n\s*/g, ' ').trim();
  return oneLine.length > MAX_REASON ? `${oneLine.slice(0, MAX_REASON - 3)}...` : oneLine;
}

/** `[9]#011train-auc:0.9#011validation-auc:0.8` -> `{ 'train:auc': 0.9, 'validation:auc': 0.8 }` (SageMaker's names). */
export function parseXgboostLine(line: string): Record<string, number> {
  const metrics: Record<string, number> = {};
  for (const part of line.split(/\t|#011/).slice(1)) {
    const match = /^([^-:\s]+)-([^:\s]+):(\S+)$/.exec(part.trim());
    if (!match) continue;
    const value = Number(match[3]);
    if (Number.isFinite(value)) metrics[`${match[1]}:${match[2]}`] = value;
  }
  return metrics;
}

function compileDefinitions(
  definitions: TrainingJobSpec['metricDefinitions'],
): { name: string; regex: RegExp }[] {
  return definitions.map((d) => ({ name: d.name, regex: new RegExp(d.regex) }));
}

function inputDataConfig(): Record<string, Record<string, string>> {
  const channel = {
    ContentType: 'text/csv',
    TrainingInputMode: 'File',
    S3DistributionType: 'FullyReplicated',
    RecordWrapperType: 'None',
  };
  return { train: channel, validation: channel };
}

function resourceConfig(spec: TrainingJobSpec): Record<string, unknown> {
  return {
    current_host: HOST,
    current_instance_type: spec.instanceType,
    current_group_name: 'homogeneousCluster',
    hosts: [HOST],
    instance_groups: [
      { instance_group_name: 'homogeneousCluster', instance_type: spec.instanceType, hosts: [HOST] },
    ],
    network_interface_name: 'eth0',
  };
}

/** Hyperparameters JSON-decoded as the toolkit does (`read_hyperparameters`): a value that is not JSON stays a string. */
function decodeHyperparameters(hps: Readonly<Record<string, string>>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(hps).map(([k, v]) => {
      try {
        return [k, JSON.parse(v) as unknown];
      } catch {
        return [k, v];
      }
    }),
  );
}

/** The toolkit's `format_value` (mapping.py): strings as is, anything else as compact sorted JSON. */
function envValue(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

/** The toolkit's `to_cmd_args` (mapping.py): sorted `--name value` pairs (`-n` for one-letter names). */
function commandArgs(hps: Record<string, unknown>): string[] {
  return Object.keys(hps)
    .sort()
    .flatMap((k) => {
      const v = hps[k];
      const value =
        v && typeof v === 'object' && !Array.isArray(v)
          ? Object.entries(v)
              .sort(([a], [b]) => (a < b ? -1 : 1))
              .map(([a, b]) => `${a}=${pyStr(b)}`)
              .join(',')
          : pyStr(v);
      return [k.length > 1 ? `--${k}` : `-${k}`, value];
    });
}

/** Python's str() of a JSON value, for the scalars that matter (True/False/None). */
function pyStr(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (value === true) return 'True';
  if (value === false) return 'False';
  return typeof value === 'string'
    ? value
    : typeof value === 'number'
      ? String(value)
      : JSON.stringify(value);
}

/** Environment the host passes through (PATH and the like); SageMaker's own variables are added on top. */
function baseEnvironment(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('SM_')) env[k] = v;
  return env;
}

/**
 * Script mode's environment, as the SageMaker training toolkit builds it (environment.py
 * `Environment.to_env_vars`, mapping.py `to_env_vars`; documented in ENVIRONMENT_VARIABLES.md):
 * `SM_<KEY>` upper-cased, strings as is, other values as compact sorted JSON; `SM_HPS` and
 * `SM_HP_*` exclude the `sagemaker_*` framework parameters.
 */
function trainingToolkitEnvironment(
  spec: TrainingJobSpec,
  layout: JobLayout,
  decoded: Record<string, unknown>,
  entryPoint: string,
  submitDir: string,
): Record<string, string> {
  const hps = Object.fromEntries(Object.entries(decoded).filter(([k]) => !k.startsWith('sagemaker_')));
  const frameworkParams = Object.fromEntries(
    Object.entries(decoded).filter(([k]) => k.startsWith('sagemaker_')),
  );
  const channels = { train: join(layout.dataDir, 'train'), validation: join(layout.dataDir, 'validation') };
  const resource = resourceConfig(spec);
  const moduleName = entryPoint.endsWith('.py') ? entryPoint.slice(0, -3) : entryPoint;
  const training: Record<string, unknown> = {
    additional_framework_parameters: frameworkParams,
    channel_input_dirs: channels,
    current_host: HOST,
    current_instance_type: spec.instanceType,
    framework_module: null,
    hosts: [HOST],
    hyperparameters: hps,
    input_config_dir: layout.configDir,
    input_data_config: inputDataConfig(),
    input_dir: join(layout.jobDir, 'input'),
    is_master: true,
    job_name: spec.jobName,
    log_level: 20,
    master_hostname: HOST,
    model_dir: layout.modelDir,
    module_dir: submitDir,
    module_name: moduleName,
    network_interface_name: 'eth0',
    num_cpus: availableParallelism(),
    num_gpus: 0,
    output_data_dir: layout.outputDataDir,
    output_dir: layout.outputDir,
    output_intermediate_dir: join(layout.outputDir, 'intermediate'),
    resource_config: resource,
    user_entry_point: entryPoint,
  };
  const values: Record<string, unknown> = {
    hosts: [HOST],
    network_interface_name: 'eth0',
    hps,
    user_entry_point: entryPoint,
    framework_params: frameworkParams,
    resource_config: resource,
    input_data_config: inputDataConfig(),
    output_data_dir: layout.outputDataDir,
    channels: Object.keys(channels).sort(),
    current_host: HOST,
    current_instance_type: spec.instanceType,
    module_name: moduleName,
    log_level: 20,
    framework_module: null,
    input_dir: join(layout.jobDir, 'input'),
    input_config_dir: layout.configDir,
    output_dir: layout.outputDir,
    num_cpus: availableParallelism(),
    num_gpus: 0,
    model_dir: layout.modelDir,
    module_dir: submitDir,
    training_env: training,
    user_args: commandArgs(hps),
    output_intermediate_dir: join(layout.outputDir, 'intermediate'),
  };
  for (const [name, path] of Object.entries(channels)) values[`channel_${name}`] = path;
  for (const [name, value] of Object.entries(hps)) values[`hp_${name}`] = value;
  const env = baseEnvironment();
  for (const [key, value] of Object.entries(values)) env[`SM_${key.toUpperCase()}`] = envValue(value);
  env.TRAINING_JOB_NAME = spec.jobName;
  env.TRAINING_JOB_ARN = trainingJobArn(spec.jobName);
  return env;
}

function describe(state: JobState): TrainingJobDescription {
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

/** The event's detail: DescribeTrainingJob's shape, times in epoch milliseconds (as EventBridge delivers them). */
function eventDetail(state: JobState): Record<string, unknown> {
  const { spec } = state;
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
