import { describe, expect, it } from 'vitest';
import { xgboostImageUri } from '../../../core/domain/algorithm-images';
import { parseModelConfig, type ModelConfig } from '../../../core/domain/model-config';
import { normaliseS3Uri, scriptSourceProblem, trainingPlan } from '../../../core/domain/training-plan';

const IMAGE = '123456789012.dkr.ecr.us-east-1.amazonaws.com/trainer:1';

function config(raw: object): ModelConfig {
  const parsed = parseModelConfig(JSON.stringify(raw));
  if (!parsed.ok) throw new Error(parsed.problems.join('; '));
  return parsed.config;
}

describe('trainingPlan', () => {
  it('runs built-in XGBoost from the region’s image, with no metric regexes (SageMaker knows them)', () => {
    const plan = trainingPlan(config({}), 'eu-west-1');
    expect(plan.image).toBe(xgboostImageUri('eu-west-1', '1.7-1'));
    expect(plan.hyperparameters.objective).toBe('binary:logistic');
    expect(plan.metricDefinitions).toEqual([]);
  });

  it('passes an image its hyperparameters as plain strings and its metric regexes', () => {
    const metricDefinitions = [{ name: 'validation:auc', regex: 'auc=([0-9.]+)' }];
    const plan = trainingPlan(
      config({
        algorithm: { type: 'image', imageUri: IMAGE, metricDefinitions },
        hyperparameters: { depth: 3, name: 'x', on: true },
      }),
      'us-east-1',
    );
    expect(plan).toEqual({
      image: IMAGE,
      hyperparameters: { depth: '3', name: 'x', on: 'true' },
      metricDefinitions,
    });
  });

  it('JSON-encodes a script’s hyperparameters and names its program and bundle', () => {
    const plan = trainingPlan(
      config({
        algorithm: {
          type: 'script',
          imageUri: IMAGE,
          entryPoint: 'train.py',
          sourceUri: 's3://b/models/m/code/s.tar.gz',
        },
        hyperparameters: { depth: 3, name: 'x' },
      }),
      'us-east-1',
    );
    expect(plan.hyperparameters).toEqual({
      depth: '3',
      name: '"x"',
      sagemaker_program: '"train.py"',
      sagemaker_submit_directory: '"s3://b/models/m/code/s.tar.gz"',
    });
  });
});

describe('scriptSourceProblem', () => {
  const script = (sourceUri: string) =>
    config({ algorithm: { type: 'script', imageUri: IMAGE, entryPoint: 'train.py', sourceUri } });

  it('accepts a bundle under models/<model>/code/ of the data bucket, and any non-script config', () => {
    expect(scriptSourceProblem(script('s3://data/models/m/code/s.tar.gz'), 'data', 'm')).toBeUndefined();
    expect(scriptSourceProblem(config({}), 'data', 'm')).toBeUndefined();
  });

  it('refuses a bundle anywhere else, saying where it must be', () => {
    expect(scriptSourceProblem(script('s3://other/models/m/code/s.tar.gz'), 'data', 'm')).toBe(
      'algorithm.sourceUri: must be under s3://data/models/m/code/ (where SageMaker may read it)',
    );
  });
});

describe('normaliseS3Uri', () => {
  it.each([
    ['s3://b/models/m/code/s.tar.gz', 's3://b/models/m/code/s.tar.gz'],
    ['s3://b/models/m/code/../../x/', 's3://b/models/x/'],
    ['s3://b/models/m/code/./s.tar.gz', 's3://b/models/m/code/s.tar.gz'],
    ['s3://b/models//m///code/s.tar.gz', 's3://b/models/m/code/s.tar.gz'],
    ['s3://b/models\\m\\code\\..\\..\\x', 's3://b/models/x'],
    ['s3://b/models/m/code/%2e%2e/%2E%2E/x', 's3://b/models/x'],
    ['s3://b/models/m/code/%252e%252e/%252e%252e/x', 's3://b/models/x'],
    ['s3://b/models/m/code/%2e%2e%2f%2e%2e%2fx', 's3://b/models/x'],
    ['s3://b/../../etc/passwd', 's3://b/etc/passwd'],
  ])('%s resolves to %s', (uri, expected) => {
    expect(normaliseS3Uri(uri)).toBe(expected);
  });

  it('gives up on a malformed or endlessly encoded escape', () => {
    expect(normaliseS3Uri('s3://b/models/m/code/%zz')).toBeUndefined();
    expect(normaliseS3Uri('s3://b/models/m/code/%252525252e')).toBeUndefined();
  });
});

describe('scriptSourceProblem: the prefix is checked on the normalised URI', () => {
  const script = (sourceUri: string) =>
    config({ algorithm: { type: 'script', imageUri: IMAGE, entryPoint: 'train.py', sourceUri } });

  it.each([
    's3://data/models/m/code/../../x/',
    's3://data/models/m/code/../../x/s.tar.gz',
    's3://data/models/m/code/%2e%2e/%2e%2e/x/s.tar.gz',
    's3://data/models/m/code/..\\..\\x\\s.tar.gz',
    's3://data/models/m/code/../../other/code/s.tar.gz',
  ])('refuses %s, saying what it resolves to', (uri) => {
    expect(scriptSourceProblem(script(uri), 'data', 'm')).toMatch(
      /^algorithm\.sourceUri: must be under s3:\/\/data\/models\/m\/code\/ \(where SageMaker may read it\); .* resolves to s3:\/\/data\/models\/(x|other)\//,
    );
  });

  it('refuses a bundle inside the folder written another way: S3 reads the key as written', () => {
    expect(scriptSourceProblem(script('s3://data/models/m/code/./s.tar.gz'), 'data', 'm')).toBe(
      'algorithm.sourceUri: write it as s3://data/models/m/code/s.tar.gz (no percent-escapes, backslashes, repeated slashes or "." and ".." segments), so that the object checked is the object SageMaker reads',
    );
    expect(scriptSourceProblem(script('s3://data/models/m/code//s.tar.gz'), 'data', 'm')).toMatch(
      /write it as/,
    );
  });

  it('refuses the folder itself and a malformed escape', () => {
    expect(scriptSourceProblem(script('s3://data/models/m/code/x/..'), 'data', 'm')).toMatch(/must be under/);
    expect(scriptSourceProblem(script('s3://data/models/m/code/%zz.tar.gz'), 'data', 'm')).toMatch(
      /malformed percent-escape/,
    );
  });
});
