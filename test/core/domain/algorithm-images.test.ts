import { describe, expect, it } from 'vitest';
import {
  builtInXgboostHyperparameters,
  xgboostImageUri,
  XGBOOST_REGIONS,
} from '../../../core/domain/algorithm-images';
import { RejectionError } from '../../../core/domain/errors';
import { modelConfigSchema } from '../../../core/domain/model-config';

describe('xgboostImageUri', () => {
  it('builds the image URI from the region account (SageMaker Python SDK xgboost.json)', () => {
    expect(xgboostImageUri('us-east-1', '1.7-1')).toBe(
      '683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1',
    );
    expect(xgboostImageUri('eu-west-1', '1.5-1')).toBe(
      '141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.5-1',
    );
    expect(xgboostImageUri('ap-southeast-2', '1.3-1')).toBe(
      '783357654285.dkr.ecr.ap-southeast-2.amazonaws.com/sagemaker-xgboost:1.3-1',
    );
    expect(xgboostImageUri('us-gov-west-1', '1.7-1')).toBe(
      '414596584902.dkr.ecr.us-gov-west-1.amazonaws.com/sagemaker-xgboost:1.7-1',
    );
  });

  it('uses the .com.cn domain in the China regions', () => {
    expect(xgboostImageUri('cn-north-1', '1.7-1')).toBe(
      '450853457545.dkr.ecr.cn-north-1.amazonaws.com.cn/sagemaker-xgboost:1.7-1',
    );
    expect(xgboostImageUri('cn-northwest-1', '1.7-1')).toBe(
      '451049120500.dkr.ecr.cn-northwest-1.amazonaws.com.cn/sagemaker-xgboost:1.7-1',
    );
  });

  it('uses the isolated partitions’ domains', () => {
    expect(xgboostImageUri('us-iso-east-1', '1.7-1')).toBe(
      '833128469047.dkr.ecr.us-iso-east-1.c2s.ic.gov/sagemaker-xgboost:1.7-1',
    );
    expect(xgboostImageUri('us-isob-east-1', '1.7-1')).toBe(
      '281123927165.dkr.ecr.us-isob-east-1.sc2s.sgov.gov/sagemaker-xgboost:1.7-1',
    );
    expect(xgboostImageUri('us-isof-south-1', '1.7-1')).toBe(
      '124985052026.dkr.ecr.us-isof-south-1.csp.hci.ic.gov/sagemaker-xgboost:1.7-1',
    );
  });

  it('knows every region of the SDK table', () => {
    expect(XGBOOST_REGIONS).toHaveLength(37);
    for (const region of XGBOOST_REGIONS) {
      expect(xgboostImageUri(region, '1.7-1')).toMatch(
        /^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.[a-z0-9.-]+\/sagemaker-xgboost:1\.7-1$/,
      );
    }
  });

  it('refuses an unknown region with a clear message', () => {
    expect(() => xgboostImageUri('mars-north-1', '1.7-1')).toThrow(
      /not available in region "mars-north-1"; known regions: af-south-1, /,
    );
    expect(() => xgboostImageUri('toString', '1.7-1')).toThrow(/not available in region "toString"/);
  });

  it('refuses an unsupported version', () => {
    expect(() => xgboostImageUri('us-east-1', '0.90-1' as never)).toThrow(
      'unsupported built-in XGBoost version "0.90-1"; supported: 1.7-1, 1.5-1, 1.3-1',
    );
  });
});

describe('builtInXgboostHyperparameters', () => {
  it('defaults a binary classifier', () => {
    expect(builtInXgboostHyperparameters(modelConfigSchema.parse({}))).toEqual({
      objective: 'binary:logistic',
      eval_metric: 'auc',
      num_round: '100',
    });
  });

  it('defaults a regression model', () => {
    expect(builtInXgboostHyperparameters(modelConfigSchema.parse({ problemType: 'regression' }))).toEqual({
      objective: 'reg:squarederror',
      eval_metric: 'rmse',
      num_round: '100',
    });
  });

  it('takes eval_metric from the gate metric, without its channel prefix', () => {
    const config = modelConfigSchema.parse({ gate: { metric: 'validation:error' } });
    expect(builtInXgboostHyperparameters(config).eval_metric).toBe('error');
    expect(
      builtInXgboostHyperparameters(modelConfigSchema.parse({ gate: { metric: 'logloss' } })).eval_metric,
    ).toBe('logloss');
  });

  it('lets user hyperparameters override the defaults, every value a string', () => {
    const config = modelConfigSchema.parse({
      hyperparameters: { num_round: 250, max_depth: 6, eta: 0.1, verbosity: true, objective: 'binary:hinge' },
    });
    expect(builtInXgboostHyperparameters(config)).toEqual({
      objective: 'binary:hinge',
      eval_metric: 'auc',
      num_round: '250',
      max_depth: '6',
      eta: '0.1',
      verbosity: 'true',
    });
  });

  it('requires num_class for a multiclass model', () => {
    const config = modelConfigSchema.parse({ problemType: 'multiclass_classification' });
    expect(() => builtInXgboostHyperparameters(config)).toThrow(RejectionError);
    expect(() => builtInXgboostHyperparameters(config)).toThrow(
      'hyperparameters.num_class: a multiclass_classification model needs "num_class"',
    );
    try {
      builtInXgboostHyperparameters(config);
    } catch (error) {
      expect((error as RejectionError).code).toBe('INVALID_CONFIG');
    }
  });

  it('refuses a num_class that is not an integer >= 2', () => {
    const config = modelConfigSchema.parse({
      problemType: 'multiclass_classification',
      hyperparameters: { num_class: 'three' },
    });
    expect(() => builtInXgboostHyperparameters(config)).toThrow('got "three"');
    expect(() =>
      builtInXgboostHyperparameters(
        modelConfigSchema.parse({
          problemType: 'multiclass_classification',
          hyperparameters: { num_class: 1 },
        }),
      ),
    ).toThrow(RejectionError);
  });

  it('builds a multiclass model with num_class', () => {
    const config = modelConfigSchema.parse({
      problemType: 'multiclass_classification',
      hyperparameters: { num_class: 3 },
    });
    expect(builtInXgboostHyperparameters(config)).toEqual({
      objective: 'multi:softprob',
      eval_metric: 'mlogloss',
      num_round: '100',
      num_class: '3',
    });
  });
});
