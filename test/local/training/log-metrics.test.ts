import { describe, expect, it } from 'vitest';
import {
  definitionMetricReader,
  parseXgboostLine,
  xgboostMetricReader,
} from '../../../local/training/log-metrics';

describe('parseXgboostLine', () => {
  it('turns a round line into SageMaker metric names', () => {
    expect(parseXgboostLine('[99]#011train-auc:0.95000#011validation-auc:0.91000')).toEqual({
      'train:auc': 0.95,
      'validation:auc': 0.91,
    });
  });

  it('reads tabs too, keeps `@` in names and drops values that are not numbers', () => {
    expect(parseXgboostLine('[3]\ttrain-error@0.7:0.1\tvalidation-rmse:nan')).toEqual({
      'train:error@0.7': 0.1,
    });
  });
});

describe('xgboostMetricReader', () => {
  it('reports the last round line once the process ends, nothing before', () => {
    const reader = xgboostMetricReader();
    expect(reader.line('[local-xgboost] objective=binary:logistic', '')).toBeUndefined();
    expect(reader.line('[0]#011train-auc:0.70000#011validation-auc:0.60000', '')).toBeUndefined();
    expect(reader.line('[1]#011train-auc:0.80000#011validation-auc:0.75000', '')).toBeUndefined();
    expect(reader.line('[local-xgboost] model written to model/model.json', '')).toBeUndefined();
    expect(reader.end()).toEqual({ 'train:auc': 0.8, 'validation:auc': 0.75 });
  });

  it('reports nothing without a round line, and an empty set for a round of NaNs', () => {
    const none = xgboostMetricReader();
    none.line('[not a round] #011train-auc:0.5', '');
    expect(none.end()).toBeUndefined();
    const nan = xgboostMetricReader();
    nan.line('[4]#011validation-auc:nan', '');
    // An empty set still means "a round was seen": the service updates the metrics' time.
    expect(nan.end()).toEqual({});
  });
});

describe('definitionMetricReader', () => {
  it('reports each match at once; a later match replaces the value', () => {
    const reader = definitionMetricReader([
      { name: 'validation:score', regex: 'score=([0-9.]+)' },
      { name: 'train:rows', regex: 'rows=(\\d+);' },
    ]);
    expect(reader.line('rows=30;#011score=0.5', 'rows=30;\tscore=0.5')).toEqual({
      'validation:score': 0.5,
      'train:rows': 30,
    });
    expect(reader.line('score=0.75', 'score=0.75')).toEqual({ 'validation:score': 0.75 });
    expect(reader.line('nothing here', 'nothing here')).toBeUndefined();
    expect(reader.end()).toBeUndefined();
  });

  it('matches the line as CloudWatch shows it or as printed', () => {
    const reader = definitionMetricReader([
      { name: 'shown', regex: '#011loss=([0-9.]+)' },
      { name: 'raw', regex: '\\tacc=([0-9.]+)' },
    ]);
    expect(reader.line('x#011loss=0.25', 'x\tloss=0.25')).toEqual({ shown: 0.25 });
    expect(reader.line('x#011acc=0.9', 'x\tacc=0.9')).toEqual({ raw: 0.9 });
  });

  it('ignores a match without a numeric first group', () => {
    const reader = definitionMetricReader([
      { name: 'a', regex: 'a=(\\S+)' },
      { name: 'b', regex: 'b=\\d+' },
    ]);
    expect(reader.line('a=nan b=3', 'a=nan b=3')).toBeUndefined();
    expect(reader.line('a=Infinity', 'a=Infinity')).toBeUndefined();
  });
});
