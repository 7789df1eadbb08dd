import { describe, expect, it } from 'vitest';
import { xgboostImageUri } from '../../../core/domain/algorithm-images';
import { parseModelConfig, type ModelConfig } from '../../../core/domain/model-config';
import { scriptSourceProblem, trainingPlan } from '../../../core/domain/training-plan';

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
