/**
 * What runs for a job's training image, the part of a container that cannot be copied without
 * Docker: the built-in XGBoost image runs the local trainer (`train-builtin.ts`), script mode
 * (`sagemaker_program` + `sagemaker_submit_directory`) runs the user's entry point from its
 * `sourcedir.tar.gz`, and any other image fails the job. Where this stands: local runtime; the
 * local training service asks it for the job's {@link TrainingProgram} before staging the data.
 */
import { stat, mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { extract } from 'tar';
import type { ObjectStore } from '../../core/ports/object-store';
import type { TrainingJobSpec } from '../../core/ports/training-service';
import { definitionMetricReader, xgboostMetricReader, type LogMetricReader } from './log-metrics';
import { downloadObject } from './s3-staging';
import {
  builtinEnvironment,
  decodeHyperparameters,
  envValue,
  scriptModeEnvironment,
  type JobLayout,
} from './sagemaker-environment';
import { JobFailure } from './training-job';
import type { Command } from './training-process';

/** The built-in XGBoost repository in any registry (see core/domain/algorithm-images.ts). */
const BUILTIN_XGBOOST_IMAGE = /\/sagemaker-xgboost:/;

const TRAIN_BUILTIN = fileURLToPath(new URL('./train-builtin.ts', import.meta.url));

/** How a job's image runs. */
export interface TrainingProgram {
  /** Decides the failure reason's wording (script mode's says ExecuteUserScriptError). */
  readonly kind: 'builtin' | 'script';
  /** Reads the job's metrics from its log: its own round lines, or the MetricDefinitions. */
  readonly metrics: LogMetricReader;
  /** Readies the program (script mode fetches its code) once the data is staged; the command to spawn. */
  prepare(): Promise<Command>;
}

/** What a program needs from the machine. */
export interface TrainingProgramOptions {
  readonly objects: ObjectStore;
  /** Interpreter for `.py` entry points. @default 'python3' */
  readonly python?: string;
}

/** The job's program; a job failure (ClientError) when its image or entry point cannot run. */
export function trainingProgram(
  spec: TrainingJobSpec,
  layout: JobLayout,
  options: TrainingProgramOptions,
): TrainingProgram {
  const hps = spec.hyperparameters;
  // Script mode is a property of the hyperparameters, not of the image (the SageMaker SDK's way).
  if (hps.sagemaker_program !== undefined) {
    const decoded = decodeHyperparameters(hps);
    // As the toolkit reads them from its environment: text as is, anything else as its JSON.
    const entryPoint = envValue(decoded.sagemaker_program);
    const submitDir = envValue(decoded.sagemaker_submit_directory);
    checkEntryPoint(entryPoint);
    return {
      kind: 'script',
      metrics: definitionMetricReader(spec.metricDefinitions),
      prepare: async () => {
        if (!submitDir.startsWith('s3://')) {
          throw new JobFailure(
            `ClientError: sagemaker_submit_directory must be an s3:// URI of a sourcedir.tar.gz; got "${submitDir}"`,
          );
        }
        await mkdir(layout.codeDir, { recursive: true });
        const archive = join(layout.jobDir, 'sourcedir.tar.gz');
        await downloadObject(options.objects, submitDir, archive);
        try {
          await extract({ file: archive, cwd: layout.codeDir });
        } catch (error) {
          throw new JobFailure(`ClientError: cannot extract ${submitDir}: ${(error as Error).message}`);
        }
        const script = join(layout.codeDir, entryPoint);
        if (!(await stat(script).catch(() => undefined))?.isFile()) {
          throw new JobFailure(`ClientError: the entry point ${entryPoint} is not in ${submitDir}`);
        }
        const { env, args } = scriptModeEnvironment({
          spec,
          layout,
          decoded,
          entryPoint,
          submitDir,
          host: process.env,
          cpus: availableParallelism(),
        });
        const [command, ...prefix] = interpreter(entryPoint, script, options.python ?? 'python3');
        return { command: command!, args: [...prefix, ...args], cwd: layout.codeDir, env };
      },
    };
  }
  if (BUILTIN_XGBOOST_IMAGE.test(spec.image)) {
    return {
      kind: 'builtin',
      metrics: xgboostMetricReader(),
      prepare: () =>
        Promise.resolve({
          command: process.execPath,
          args: ['--import', tsxLoader(), TRAIN_BUILTIN, layout.jobDir],
          cwd: layout.jobDir,
          env: builtinEnvironment(spec, layout, process.env),
        }),
    };
  }
  throw new JobFailure(
    `ClientError: local training runs the built-in XGBoost and script mode; image ${spec.image} cannot run locally`,
  );
}

/** An entry point must be a path inside the source directory: not absolute, no `..`. */
export function checkEntryPoint(entryPoint: string): void {
  if (!entryPoint || /(^|[\\/])\.\.([\\/]|$)/.test(entryPoint) || entryPoint.startsWith('/')) {
    throw new JobFailure(
      `ClientError: sagemaker_program "${entryPoint}" must be a file name inside the source directory`,
    );
  }
}

/**
 * The command line that runs an entry point, by its extension: Python, Node (JavaScript, or
 * TypeScript through tsx), a shell script, else the file itself (it must be executable).
 */
export function interpreter(entryPoint: string, script: string, python: string): string[] {
  if (entryPoint.endsWith('.py')) return [python, script];
  if (/\.(m|c)?js$/.test(entryPoint)) return [process.execPath, script];
  if (/\.(m|c)?ts$/.test(entryPoint)) return [process.execPath, '--import', tsxLoader(), script];
  if (entryPoint.endsWith('.sh')) return ['/bin/sh', script];
  return [script];
}

/** tsx's loader for `node --import` (an absolute URL, so it resolves from any working directory). */
function tsxLoader(): string {
  return pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
}
