import { mkdir, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TrainingJobSpec } from '../../../core/ports/training-service';
import {
  builtinEnvironment,
  commandArgs,
  decodeHyperparameters,
  envValue,
  inheritedEnvironment,
  inputConfigFiles,
  jobLayout,
  scriptModeEnvironment,
  trainingJobArn,
  writeInputConfig,
} from '../../../local/training/sagemaker-environment';

const spec: TrainingJobSpec = {
  jobName: 'Demo-v3',
  model: 'demo',
  version: 3,
  image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/my-trainer:1',
  metricDefinitions: [],
  hyperparameters: {
    epochs: '3',
    'learning-rate': '0.01',
    sagemaker_program: '"train.py"',
    sagemaker_submit_directory: '"s3://bucket/code/sourcedir.tar.gz"',
  },
  trainUri: 's3://bucket/prepared/train/',
  validationUri: 's3://bucket/prepared/validation/',
  outputUri: 's3://bucket/artifacts/demo/',
  instanceType: 'ml.m5.large',
  instanceCount: 1,
  volumeSizeGb: 10,
  maxRuntimeSeconds: 3600,
  spot: false,
  tags: {},
};

const layout = jobLayout('/jobs/Demo-v3');

describe('the /opt/ml layout', () => {
  it('puts every path where a container finds it', () => {
    expect(layout).toEqual({
      jobDir: '/jobs/Demo-v3',
      configDir: '/jobs/Demo-v3/input/config',
      dataDir: '/jobs/Demo-v3/input/data',
      modelDir: '/jobs/Demo-v3/model',
      outputDir: '/jobs/Demo-v3/output',
      outputDataDir: '/jobs/Demo-v3/output/data',
      failure: '/jobs/Demo-v3/output/failure',
      codeDir: '/jobs/Demo-v3/code',
      logs: '/jobs/Demo-v3/logs.txt',
    });
  });

  it('names the job in a lower-cased ARN', () => {
    expect(trainingJobArn('Demo-v3')).toBe('arn:aws:sagemaker:us-east-1:000000000000:training-job/demo-v3');
  });
});

describe('input/config files', () => {
  it('holds the hyperparameters as given, both CSV channels and one host', () => {
    const files = Object.fromEntries(inputConfigFiles(spec));
    expect(inputConfigFiles(spec).map(([name]) => name)).toEqual([
      'hyperparameters.json',
      'inputdataconfig.json',
      'resourceconfig.json',
    ]);
    expect(files['hyperparameters.json']).toEqual(spec.hyperparameters);
    const channel = {
      ContentType: 'text/csv',
      TrainingInputMode: 'File',
      S3DistributionType: 'FullyReplicated',
      RecordWrapperType: 'None',
    };
    expect(files['inputdataconfig.json']).toEqual({ train: channel, validation: channel });
    expect(files['resourceconfig.json']).toEqual({
      current_host: 'algo-1',
      current_instance_type: 'ml.m5.large',
      current_group_name: 'homogeneousCluster',
      hosts: ['algo-1'],
      instance_groups: [
        { instance_group_name: 'homogeneousCluster', instance_type: 'ml.m5.large', hosts: ['algo-1'] },
      ],
      network_interface_name: 'eth0',
    });
  });

  it('writes them into input/config', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sm-env-'));
    try {
      const target = jobLayout(dir);
      await mkdir(target.configDir, { recursive: true });
      await writeInputConfig(spec, target);
      expect((await readdir(target.configDir)).sort()).toEqual([
        'hyperparameters.json',
        'inputdataconfig.json',
        'resourceconfig.json',
      ]);
      const hps = JSON.parse(
        await readFile(join(target.configDir, 'hyperparameters.json'), 'utf8'),
      ) as unknown;
      expect(hps).toEqual(spec.hyperparameters);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("the training toolkit's value mapping", () => {
  it('decodes JSON values and keeps the rest as strings', () => {
    expect(
      decodeHyperparameters({ a: '3', b: '"text"', c: 'plain', d: 'true', e: '{"y":1,"x":[2]}', f: '' }),
    ).toEqual({ a: 3, b: 'text', c: 'plain', d: true, e: { y: 1, x: [2] }, f: '' });
  });

  it('formats values as format_value: strings as is, the rest compact JSON with sorted keys', () => {
    expect(envValue('a b')).toBe('a b');
    expect(envValue(3)).toBe('3');
    expect(envValue(true)).toBe('true');
    expect(envValue(null)).toBe('');
    expect(envValue({ b: 1, a: { d: [1, { z: 0, y: 0 }], c: 'x' } })).toBe(
      '{"a":{"c":"x","d":[1,{"y":0,"z":0}]},"b":1}',
    );
  });

  it('makes sorted command-line arguments as to_cmd_args', () => {
    expect(
      commandArgs({
        'learning-rate': 0.01,
        epochs: 3,
        n: 'x',
        flag: false,
        on: true,
        none: null,
        d: { b: 2, a: 1 },
      }),
    ).toEqual([
      '-d',
      'a=1,b=2',
      '--epochs',
      '3',
      '--flag',
      'False',
      '--learning-rate',
      '0.01',
      '-n',
      'x',
      '--none',
      '',
      '--on',
      'True',
    ]);
  });
});

describe('environments', () => {
  it("inherit the host's variables but none of its SM_ ones", () => {
    expect(inheritedEnvironment({ PATH: '/bin', SM_MODEL_DIR: '/elsewhere', EMPTY: undefined })).toEqual({
      PATH: '/bin',
    });
  });

  it("gives the built-in trainer its root, the job's name and ARN", () => {
    expect(builtinEnvironment(spec, layout, { PATH: '/bin', SM_HPS: '{}' })).toEqual({
      PATH: '/bin',
      SM_ROOT: '/jobs/Demo-v3',
      TRAINING_JOB_NAME: 'Demo-v3',
      TRAINING_JOB_ARN: 'arn:aws:sagemaker:us-east-1:000000000000:training-job/demo-v3',
    });
  });

  describe('script mode', () => {
    const submitDir = 's3://bucket/code/sourcedir.tar.gz';
    const { env, args } = scriptModeEnvironment({
      spec,
      layout,
      decoded: decodeHyperparameters(spec.hyperparameters),
      entryPoint: 'train.py',
      submitDir,
      host: { PATH: '/bin', SM_CHANNELS: '["stale"]' },
      cpus: 3,
    });

    it('passes the hyperparameters without the framework ones, as variables and arguments', () => {
      expect(args).toEqual(['--epochs', '3', '--learning-rate', '0.01']);
      expect(env.SM_USER_ARGS).toBe('["--epochs","3","--learning-rate","0.01"]');
      expect(env.SM_HPS).toBe('{"epochs":3,"learning-rate":0.01}');
      expect(env.SM_HP_EPOCHS).toBe('3');
      expect(env['SM_HP_LEARNING-RATE']).toBe('0.01');
      expect(env.SM_HP_SAGEMAKER_PROGRAM).toBeUndefined();
      expect(env.SM_FRAMEWORK_PARAMS).toBe(
        `{"sagemaker_program":"train.py","sagemaker_submit_directory":"${submitDir}"}`,
      );
    });

    it('points at the channels, the model and output directories and the code', () => {
      expect(env).toMatchObject({
        PATH: '/bin',
        SM_CHANNELS: '["train","validation"]',
        SM_CHANNEL_TRAIN: '/jobs/Demo-v3/input/data/train',
        SM_CHANNEL_VALIDATION: '/jobs/Demo-v3/input/data/validation',
        SM_MODEL_DIR: '/jobs/Demo-v3/model',
        SM_OUTPUT_DATA_DIR: '/jobs/Demo-v3/output/data',
        SM_OUTPUT_DIR: '/jobs/Demo-v3/output',
        SM_OUTPUT_INTERMEDIATE_DIR: '/jobs/Demo-v3/output/intermediate',
        SM_INPUT_DIR: '/jobs/Demo-v3/input',
        SM_INPUT_CONFIG_DIR: '/jobs/Demo-v3/input/config',
        SM_MODULE_DIR: submitDir,
        SM_MODULE_NAME: 'train',
        SM_USER_ENTRY_POINT: 'train.py',
        SM_HOSTS: '["algo-1"]',
        SM_CURRENT_HOST: 'algo-1',
        SM_CURRENT_INSTANCE_TYPE: 'ml.m5.large',
        SM_NETWORK_INTERFACE_NAME: 'eth0',
        SM_NUM_CPUS: '3',
        SM_NUM_GPUS: '0',
        SM_LOG_LEVEL: '20',
        SM_FRAMEWORK_MODULE: '',
        TRAINING_JOB_NAME: 'Demo-v3',
        TRAINING_JOB_ARN: 'arn:aws:sagemaker:us-east-1:000000000000:training-job/demo-v3',
      });
      expect(JSON.parse(env.SM_INPUT_DATA_CONFIG!)).toEqual(
        Object.fromEntries(inputConfigFiles(spec))['inputdataconfig.json'],
      );
      expect(JSON.parse(env.SM_RESOURCE_CONFIG!)).toEqual(
        Object.fromEntries(inputConfigFiles(spec))['resourceconfig.json'],
      );
    });

    it('holds the whole environment in SM_TRAINING_ENV, keys sorted', () => {
      const training = JSON.parse(env.SM_TRAINING_ENV!) as Record<string, unknown>;
      expect(Object.keys(training)).toEqual(Object.keys(training).sort());
      expect(training).toMatchObject({
        job_name: 'Demo-v3',
        is_master: true,
        master_hostname: 'algo-1',
        hyperparameters: { epochs: 3, 'learning-rate': 0.01 },
        additional_framework_parameters: { sagemaker_program: 'train.py' },
        channel_input_dirs: {
          train: '/jobs/Demo-v3/input/data/train',
          validation: '/jobs/Demo-v3/input/data/validation',
        },
        num_cpus: 3,
        framework_module: null,
      });
    });

    it("sets no variable but the toolkit's, the job's and the host's", () => {
      const own = Object.keys(env).filter(
        (k) => k !== 'PATH' && !k.startsWith('SM_HP_') && !k.startsWith('SM_CHANNEL_'),
      );
      expect(own.sort()).toEqual(
        [
          'SM_CHANNELS',
          'SM_CURRENT_HOST',
          'SM_CURRENT_INSTANCE_TYPE',
          'SM_FRAMEWORK_MODULE',
          'SM_FRAMEWORK_PARAMS',
          'SM_HOSTS',
          'SM_HPS',
          'SM_INPUT_CONFIG_DIR',
          'SM_INPUT_DATA_CONFIG',
          'SM_INPUT_DIR',
          'SM_LOG_LEVEL',
          'SM_MODEL_DIR',
          'SM_MODULE_DIR',
          'SM_MODULE_NAME',
          'SM_NETWORK_INTERFACE_NAME',
          'SM_NUM_CPUS',
          'SM_NUM_GPUS',
          'SM_OUTPUT_DATA_DIR',
          'SM_OUTPUT_DIR',
          'SM_OUTPUT_INTERMEDIATE_DIR',
          'SM_RESOURCE_CONFIG',
          'SM_TRAINING_ENV',
          'SM_USER_ARGS',
          'SM_USER_ENTRY_POINT',
          'TRAINING_JOB_ARN',
          'TRAINING_JOB_NAME',
        ].sort(),
      );
    });
  });
});
