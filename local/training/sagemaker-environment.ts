/**
 * A copy of what a SageMaker training container finds when it starts: the `/opt/ml` layout, the
 * `input/config/*.json` files and, in script mode, the environment of the SageMaker training
 * toolkit (`SM_*` variables and the entry point's arguments). Where this stands: local runtime; the
 * local training service lays out each job's directory with it and passes the environment to the
 * job's process. Everything here is pure except {@link writeInputConfig}.
 *
 * Sources: "How Amazon SageMaker Runs Your Training Image" and "How Amazon SageMaker Provides
 * Training Information" (the files), ENVIRONMENT_VARIABLES.md, environment.py and mapping.py of
 * aws/sagemaker-training-toolkit (the variables). One host (`algo-1`), no GPUs, two channels.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TrainingJobSpec } from '../../core/ports/training-service';
import { LOCAL_ACCOUNT, LOCAL_REGION } from '../contracts';

/** The only host of a local job (SageMaker names hosts `algo-<n>`). */
export const HOST = 'algo-1';

/** The channels every job has, in this order: ingest always prepares both. */
export const CHANNELS = ['train', 'validation'] as const;

/** A job's directory, laid out like a container's `/opt/ml`, plus the local service's own files. */
export interface JobLayout {
  /** Stands in for `/opt/ml`. */
  readonly jobDir: string;
  readonly configDir: string;
  /** `input/data`, one folder per channel. */
  readonly dataDir: string;
  readonly modelDir: string;
  readonly outputDir: string;
  readonly outputDataDir: string;
  /** `output/failure`: the one-line reason a failing program leaves. */
  readonly failure: string;
  /** Script mode's extracted `sourcedir.tar.gz` (`/opt/ml/code`). */
  readonly codeDir: string;
  /** Not SageMaker's: the job's stdout and stderr, as CloudWatch would hold them. */
  readonly logs: string;
}

/** The paths of a job's directory. */
export function jobLayout(jobDir: string): JobLayout {
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

/** The directory of one channel, `input/data/<channel>`. */
export function channelDir(layout: JobLayout, channel: string): string {
  return join(layout.dataDir, channel);
}

/** The training job's ARN. */
export function trainingJobArn(jobName: string): string {
  // SageMaker lower-cases resource names in ARNs.
  return `arn:aws:sagemaker:${LOCAL_REGION}:${LOCAL_ACCOUNT}:training-job/${jobName.toLowerCase()}`;
}

/** `inputdataconfig.json`: every channel CSV in File mode, as ingest prepares them. */
export function inputDataConfig(): Record<string, Record<string, string>> {
  const channel = {
    ContentType: 'text/csv',
    TrainingInputMode: 'File',
    S3DistributionType: 'FullyReplicated',
    RecordWrapperType: 'None',
  };
  return Object.fromEntries(CHANNELS.map((name) => [name, channel]));
}

/** `resourceconfig.json`: one host in one homogeneous instance group. */
export function resourceConfig(spec: TrainingJobSpec): Record<string, unknown> {
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

/** The files of `input/config/`, by name, in the order they are written. */
export function inputConfigFiles(spec: TrainingJobSpec): [name: string, content: unknown][] {
  return [
    // String values, as SageMaker writes them (script mode's are JSON-encoded by the SDK).
    ['hyperparameters.json', spec.hyperparameters],
    ['inputdataconfig.json', inputDataConfig()],
    ['resourceconfig.json', resourceConfig(spec)],
  ];
}

/** Writes `hyperparameters.json`, `inputdataconfig.json` and `resourceconfig.json`. */
export async function writeInputConfig(spec: TrainingJobSpec, layout: JobLayout): Promise<void> {
  for (const [name, content] of inputConfigFiles(spec))
    await writeFile(join(layout.configDir, name), JSON.stringify(content, null, 2));
}

/**
 * Hyperparameters JSON-decoded as the toolkit does (`read_hyperparameters`): a value that is not
 * JSON stays a string.
 */
export function decodeHyperparameters(hps: Readonly<Record<string, string>>): Record<string, unknown> {
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
export function envValue(value: unknown): string {
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
export function commandArgs(hps: Record<string, unknown>): string[] {
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

/**
 * The host's environment a job inherits (PATH and the like). The host's own `SM_*` variables are
 * dropped so that only the job's reach the program.
 */
export function inheritedEnvironment(host: NodeJS.ProcessEnv): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(host)) if (v !== undefined && !k.startsWith('SM_')) env[k] = v;
  return env;
}

/**
 * The built-in algorithm's environment: the inherited one, the job's name and ARN, and `SM_ROOT`
 * (not SageMaker's) telling the local trainer where its `/opt/ml` is.
 */
export function builtinEnvironment(
  spec: TrainingJobSpec,
  layout: JobLayout,
  host: NodeJS.ProcessEnv,
): Record<string, string> {
  return {
    ...inheritedEnvironment(host),
    SM_ROOT: layout.jobDir,
    TRAINING_JOB_NAME: spec.jobName,
    TRAINING_JOB_ARN: trainingJobArn(spec.jobName),
  };
}

/** What script mode's environment is built from. */
export interface ScriptModeInput {
  readonly spec: TrainingJobSpec;
  readonly layout: JobLayout;
  /** The hyperparameters as {@link decodeHyperparameters} returns them. */
  readonly decoded: Record<string, unknown>;
  /** `sagemaker_program`, a file name inside the source directory. */
  readonly entryPoint: string;
  /** `sagemaker_submit_directory`, the `s3://` URI of `sourcedir.tar.gz`. */
  readonly submitDir: string;
  /** The host's environment, see {@link inheritedEnvironment}. */
  readonly host: NodeJS.ProcessEnv;
  /** `SM_NUM_CPUS`. */
  readonly cpus: number;
}

/**
 * Script mode's environment and the entry point's arguments, as the SageMaker training toolkit
 * builds them (environment.py `Environment.to_env_vars`, mapping.py `to_env_vars`; documented in
 * ENVIRONMENT_VARIABLES.md): `SM_<KEY>` upper-cased, strings as is, other values as compact sorted
 * JSON; `SM_HPS`, `SM_HP_*` and the arguments exclude the `sagemaker_*` framework parameters.
 */
export function scriptModeEnvironment(input: ScriptModeInput): {
  env: Record<string, string>;
  args: string[];
} {
  const { spec, layout, decoded, entryPoint, submitDir, cpus } = input;
  const hps = Object.fromEntries(Object.entries(decoded).filter(([k]) => !k.startsWith('sagemaker_')));
  const frameworkParams = Object.fromEntries(
    Object.entries(decoded).filter(([k]) => k.startsWith('sagemaker_')),
  );
  const channels = Object.fromEntries(CHANNELS.map((name) => [name, channelDir(layout, name)]));
  const resource = resourceConfig(spec);
  const moduleName = entryPoint.endsWith('.py') ? entryPoint.slice(0, -3) : entryPoint;
  const args = commandArgs(hps);
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
    num_cpus: cpus,
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
    num_cpus: cpus,
    num_gpus: 0,
    model_dir: layout.modelDir,
    module_dir: submitDir,
    training_env: training,
    user_args: args,
    output_intermediate_dir: join(layout.outputDir, 'intermediate'),
  };
  for (const [name, path] of Object.entries(channels)) values[`channel_${name}`] = path;
  for (const [name, value] of Object.entries(hps)) values[`hp_${name}`] = value;
  const env = inheritedEnvironment(input.host);
  for (const [key, value] of Object.entries(values)) env[`SM_${key.toUpperCase()}`] = envValue(value);
  env.TRAINING_JOB_NAME = spec.jobName;
  env.TRAINING_JOB_ARN = trainingJobArn(spec.jobName);
  return { env, args };
}
