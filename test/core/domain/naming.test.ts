import { describe, expect, it } from 'vitest';
import { RejectionError } from '../../../core/domain/errors';
import {
  artifactPrefix,
  assertModelName,
  capturePrefix,
  decodeEventKey,
  MODEL_NAME_PATTERN,
  modelConfigKey,
  modelNameProblem,
  padVersion,
  parseDatasetKey,
  preparedKeys,
  ResourceNames,
  shortHash,
} from '../../../core/domain/naming';

/** SageMaker's rule for training job, model, endpoint config and endpoint names. */
const SAGEMAKER_NAME = /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/;
const LONGEST_MODEL = 'm' + 'a-b1'.repeat(9) + 'xyz'; // 40 characters

function rejectionOf(fn: () => unknown): RejectionError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(RejectionError);
    return error as RejectionError;
  }
  throw new Error('expected a RejectionError, but nothing was thrown');
}

describe('model names', () => {
  it('uses a 40-character name in these tests', () => {
    expect(LONGEST_MODEL).toHaveLength(40);
  });

  it.each(['churn', 'a', 'churn-v2', 'a1', 'x-1-y', 'fraud-detection-eu', LONGEST_MODEL, 'a'.repeat(40)])(
    'accepts %s',
    (name) => {
      expect(modelNameProblem(name)).toBeUndefined();
      expect(assertModelName(name)).toBe(name);
      expect(MODEL_NAME_PATTERN.test(name)).toBe(true);
    },
  );

  it.each([
    ['Churn', 'lowercase'],
    ['CHURN', 'lowercase'],
    ['my_model', 'lowercase letters, digits and single hyphens'],
    ['1model', 'start with a letter'],
    ['-model', 'start with a letter'],
    ['churn-', 'not end with a hyphen'],
    ['a--b', 'single hyphens'],
    ['my model', 'lowercase letters, digits'],
    ['my.model', 'lowercase letters, digits'],
    ['a/b', 'lowercase letters, digits'],
    ['zoë', 'lowercase letters, digits'],
  ])('refuses %j, explaining the rule', (name, explanation) => {
    const problem = modelNameProblem(name);
    expect(problem).toBeDefined();
    expect(problem).toContain(`"${name}"`);
    expect(problem).toContain(explanation);
    const error = rejectionOf(() => assertModelName(name));
    expect(error.code).toBe('INVALID_MODEL_NAME');
    expect(error.message).toBe(problem);
  });

  it('refuses an empty name', () => {
    expect(modelNameProblem('')).toBe('the model name is empty');
    expect(rejectionOf(() => assertModelName('')).code).toBe('INVALID_MODEL_NAME');
  });

  it('accepts 40 characters and refuses 41, giving the count', () => {
    expect(modelNameProblem('a'.repeat(40))).toBeUndefined();
    const problem = modelNameProblem('a'.repeat(41));
    expect(problem).toContain('41 characters');
    expect(problem).toContain('at most 40');
    expect(rejectionOf(() => assertModelName(LONGEST_MODEL + 'q')).code).toBe('INVALID_MODEL_NAME');
  });
});

describe('parseDatasetKey', () => {
  it('reads a file dataset', () => {
    expect(parseDatasetKey('datasets/churn/customers.csv')).toEqual({
      kind: 'file',
      model: 'churn',
      key: 'datasets/churn/customers.csv',
      fileName: 'customers.csv',
    });
  });

  it('reads the _SUCCESS marker of a folder dataset', () => {
    expect(parseDatasetKey('datasets/churn/2024-06-01/_SUCCESS')).toEqual({
      kind: 'folder',
      model: 'churn',
      key: 'datasets/churn/2024-06-01/_SUCCESS',
      folder: 'datasets/churn/2024-06-01/',
      folderName: '2024-06-01',
    });
  });

  it('reads a marker in a nested folder', () => {
    expect(parseDatasetKey('datasets/churn/a/b/_SUCCESS')).toMatchObject({
      kind: 'folder',
      folder: 'datasets/churn/a/b/',
      folderName: 'a/b',
    });
  });

  it('ignores the parts of a folder dataset', () => {
    const key = parseDatasetKey('datasets/churn/2024-06-01/part-0000.csv');
    expect(key).toMatchObject({
      kind: 'ignored',
      model: 'churn',
      key: 'datasets/churn/2024-06-01/part-0000.csv',
    });
    expect(key.kind === 'ignored' && key.why).toContain('_SUCCESS');
  });

  it('ignores folder placeholders', () => {
    expect(parseDatasetKey('datasets/churn/')).toEqual({
      kind: 'ignored',
      model: 'churn',
      key: 'datasets/churn/',
      why: 'folder placeholder',
    });
    expect(parseDatasetKey('datasets/churn/2024-06-01/')).toMatchObject({
      kind: 'ignored',
      why: 'folder placeholder',
    });
  });

  it('ignores a _SUCCESS marker at the top of a model folder', () => {
    const key = parseDatasetKey('datasets/churn/_SUCCESS');
    expect(key).toMatchObject({ kind: 'ignored', model: 'churn' });
    expect(key.kind === 'ignored' && key.why).toContain('inside a dataset folder');
  });

  it.each([
    'models/churn/config.json',
    'prepared/churn/x.csv',
    'dataset/churn/x.csv',
    'churn/x.csv',
    '',
    '/datasets/churn/x.csv',
  ])('refuses the key %j outside datasets/', (key) => {
    const error = rejectionOf(() => parseDatasetKey(key));
    expect(error.code).toBe('INVALID_KEY');
    expect(error.message).toContain('datasets/');
  });

  it.each(['datasets/x.csv', 'datasets/', 'datasets/churn'])(
    'refuses %j, which is not inside a model folder',
    (key) => {
      const error = rejectionOf(() => parseDatasetKey(key));
      expect(error.code).toBe('INVALID_KEY');
      expect(error.message).toContain('datasets/<model>/<file>');
    },
  );

  it.each([
    'datasets/Churn/x.csv',
    'datasets/my_model/x.csv',
    'datasets/1abc/d/_SUCCESS',
    'datasets//x.csv',
    `datasets/${'a'.repeat(41)}/x.csv`,
  ])('refuses %j for its invalid model name', (key) => {
    expect(rejectionOf(() => parseDatasetKey(key)).code).toBe('INVALID_MODEL_NAME');
  });
});

describe('decodeEventKey', () => {
  it('decodes keys as S3 event notifications encode them', () => {
    expect(decodeEventKey('datasets/churn/a+b%2Bc%C3%A9.csv')).toBe('datasets/churn/a b+cé.csv');
  });

  it('returns a key that does not decode as it is', () => {
    expect(decodeEventKey('datasets/churn/100%.csv')).toBe('datasets/churn/100%.csv');
  });
});

describe('keys and prefixes', () => {
  it('builds the bucket keys of a model', () => {
    expect(modelConfigKey('churn')).toBe('models/churn/config.json');
    expect(artifactPrefix('churn')).toBe('artifacts/churn/');
    expect(capturePrefix('churn')).toBe('capture/churn/');
    expect(preparedKeys('churn', 'ds1')).toEqual({
      train: 'prepared/churn/ds1/train/train.csv',
      validation: 'prepared/churn/ds1/validation/validation.csv',
      schema: 'prepared/churn/ds1/schema.json',
    });
  });

  it('pads versions to six digits', () => {
    expect(padVersion(1)).toBe('000001');
    expect(padVersion(42)).toBe('000042');
    expect(padVersion(999999)).toBe('999999');
  });

  it('hashes to four stable hex characters', () => {
    expect(shortHash('ds-1')).toMatch(/^[0-9a-f]{4}$/);
    expect(shortHash('ds-1')).toBe(shortHash('ds-1'));
    expect(shortHash('')).toBe('9dc5');
    const hashes = new Set(Array.from({ length: 200 }, (_, i) => shortHash(`dataset-${i}`)));
    expect(hashes.size).toBeGreaterThan(190);
  });
});

describe('ResourceNames', () => {
  const names = new ResourceNames('mlops');

  it('validates the prefix', () => {
    for (const prefix of ['a', 'mlops', 'ml-ops', 'abcdefgh', 'p1'])
      expect(new ResourceNames(prefix).prefix).toBe(prefix);
    for (const prefix of ['', 'MLOps', 'abcdefghi', '1ml', '-ml', 'ml-', 'ml--ops', 'ml_ops', 'ml ops']) {
      expect(() => new ResourceNames(prefix), prefix).toThrow(/resource prefix/);
    }
  });

  it('derives deterministic names', () => {
    expect(names.trainingJob('churn', 3, 'ds1')).toBe(`mlops-churn-v3-${shortHash('ds1')}`);
    expect(names.trainingJob('churn', 3, 'ds1')).toBe(names.trainingJob('churn', 3, 'ds1'));
    expect(names.trainingJob('churn', 3, 'ds1')).not.toBe(names.trainingJob('churn', 3, 'ds2'));
    expect(names.sageMakerModel('churn', 3, 'ds1')).toBe(names.trainingJob('churn', 3, 'ds1'));
    expect(names.endpointConfig('churn', 3, 'ds1')).toBe(names.trainingJob('churn', 3, 'ds1'));
    expect(names.endpoint('churn')).toBe('mlops-churn');
    expect(names.alarms('churn')).toEqual({
      latency: 'mlops-churn-latency-anomaly',
      invocations: 'mlops-churn-invocations-anomaly',
      errorRate: 'mlops-churn-error-rate',
      featureDrift: 'mlops-churn-feature-drift',
      predictionDrift: 'mlops-churn-prediction-drift',
    });
    expect(names.alarmPrefix()).toBe('mlops-');
  });

  it('keeps every SageMaker name valid for the longest model, version 999999 and an 8-character prefix', () => {
    for (const prefix of ['abcdefgh', 'a-b-c-de', 'z']) {
      const longest = new ResourceNames(prefix);
      for (const model of [LONGEST_MODEL, 'z'.repeat(40), 'a']) {
        for (const version of [1, 999999]) {
          for (const datasetId of ['ds', '2024-06-01T00:00:00Z', 'x'.repeat(200)]) {
            const derived = [
              longest.trainingJob(model, version, datasetId),
              longest.sageMakerModel(model, version, datasetId),
              longest.endpointConfig(model, version, datasetId),
              longest.endpoint(model),
            ];
            for (const name of derived) {
              expect(name.length, name).toBeLessThanOrEqual(63);
              expect(name, name).toMatch(SAGEMAKER_NAME);
            }
          }
        }
      }
    }
    expect(new ResourceNames('abcdefgh').trainingJob(LONGEST_MODEL, 999999, 'ds')).toHaveLength(62);
  });

  it('keeps alarm names within the CloudWatch limit of 255 characters', () => {
    for (const name of Object.values(new ResourceNames('abcdefgh').alarms(LONGEST_MODEL))) {
      expect(name.length).toBeLessThanOrEqual(255);
      expect(name.startsWith('abcdefgh-')).toBe(true);
    }
  });

  it('parses its own training job names back', () => {
    for (const model of ['churn', 'a', LONGEST_MODEL, 'x-v2-beef', 'model-v1']) {
      for (const version of [1, 12, 999999]) {
        expect(names.parseTrainingJob(names.trainingJob(model, version, 'some-dataset'))).toEqual({
          model,
          version,
        });
      }
    }
  });

  it('does not parse training jobs that are not its own', () => {
    expect(names.parseTrainingJob('other-churn-v1-abcd')).toBeUndefined();
    expect(names.parseTrainingJob('mlops-churn-v1')).toBeUndefined();
    expect(names.parseTrainingJob('mlops-churn-vx-abcd')).toBeUndefined();
    expect(names.parseTrainingJob('mlops-Churn-v1-abcd')).toBeUndefined();
    expect(names.parseTrainingJob('mlops-churn-v1-ABCD')).toBeUndefined();
    expect(names.parseTrainingJob('mlops-churn-v1-abcde')).toBeUndefined();
    expect(names.parseTrainingJob('xmlops-churn-v1-abcd')).toBeUndefined();
  });

  it('recovers the model from its endpoint names only', () => {
    for (const model of ['churn', 'a', LONGEST_MODEL, 'fraud-eu-2'])
      expect(names.modelFromEndpoint(names.endpoint(model))).toBe(model);
    expect(names.modelFromEndpoint('other-churn')).toBeUndefined();
    expect(names.modelFromEndpoint('mlops-')).toBeUndefined();
    expect(names.modelFromEndpoint('mlops-Churn')).toBeUndefined();
    expect(names.modelFromEndpoint('mlopschurn')).toBeUndefined();
  });

  it('recovers the model from each of its alarm names only', () => {
    for (const model of ['churn', 'a', LONGEST_MODEL, 'latency-anomaly', 'x-error-rate', 'y-feature-drift']) {
      for (const alarm of Object.values(names.alarms(model)))
        expect(names.modelFromAlarm(alarm), alarm).toBe(model);
    }
    expect(names.modelFromAlarm('other-churn-error-rate')).toBeUndefined();
    expect(names.modelFromAlarm('mlops-churn-cpu')).toBeUndefined();
    expect(names.modelFromAlarm('mlops-churn-label-drift')).toBeUndefined();
    expect(names.modelFromAlarm('mlops--error-rate')).toBeUndefined();
    expect(names.modelFromAlarm('mlops-Churn-error-rate')).toBeUndefined();
  });

  it('keeps two prefixes apart', () => {
    const other = new ResourceNames('prod');
    expect(other.parseTrainingJob(names.trainingJob('churn', 1, 'd'))).toBeUndefined();
    expect(other.modelFromAlarm(names.alarms('churn').latency)).toBeUndefined();
    expect(other.modelFromEndpoint(names.endpoint('churn'))).toBeUndefined();
  });
});
