import { describe, expect, it } from 'vitest';
import {
  GbmParamError,
  parseGbmParams,
  seededRandom,
  trainGbm,
  type GbmDataset,
} from '../../../local/training/gbm';
import { auc, merror, rmse } from '../../../local/training/metrics';
import {
  loadModelArtifact,
  modelDocument,
  packModelDir,
  writeModel,
} from '../../../local/training/model-artifact';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Rows of 6 uniform features in [-1, 1] and a label from `rule`. */
function dataset(rows: number, seed: number, rule: (x: number[]) => number): GbmDataset {
  const random = seededRandom(seed);
  const features: number[][] = [];
  const labels: number[] = [];
  for (let i = 0; i < rows; i++) {
    const x = Array.from({ length: 6 }, () => random() * 2 - 1);
    features.push(x);
    labels.push(rule(x));
  }
  return { features, labels };
}

const binaryRule = (x: number[]) => (x[0]! + x[1]! * x[2]! > 0.1 ? 1 : 0);
const fast = { num_round: '30', eta: '0.3', max_depth: '4' };

function shuffled(data: GbmDataset, seed: number): GbmDataset {
  const random = seededRandom(seed);
  const labels = [...data.labels];
  for (let i = labels.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [labels[i], labels[j]] = [labels[j]!, labels[i]!];
  }
  return { features: data.features, labels };
}

describe('gradient-boosted trees', () => {
  it('learns a binary rule (validation AUC > 0.9) and not shuffled labels (< 0.65)', () => {
    const params = parseGbmParams({ objective: 'binary:logistic', ...fast });
    const train = dataset(1500, 1, binaryRule);
    const validation = dataset(500, 2, binaryRule);
    const model = trainGbm(train, params);
    const p = model.predict(validation.features);
    expect(p.every((v) => v > 0 && v < 1)).toBe(true);
    expect(auc(validation.labels, p)).toBeGreaterThan(0.9);

    const noise = trainGbm(shuffled(train, 3), params);
    expect(auc(validation.labels, noise.predict(validation.features))).toBeLessThan(0.65);
  });

  it('regresses well below the label standard deviation', () => {
    const rule = (x: number[]) => 3 * x[0]! + 2 * Math.sin(3 * x[1]!) + 10;
    const train = dataset(1200, 4, rule);
    const validation = dataset(400, 5, rule);
    const model = trainGbm(train, parseGbmParams({ objective: 'reg:squarederror', ...fast }));
    const m = validation.labels.reduce((a, b) => a + b, 0) / validation.labels.length;
    const sd = Math.sqrt(validation.labels.reduce((a, y) => a + (y - m) ** 2, 0) / validation.labels.length);
    expect(rmse(validation.labels, model.predict(validation.features))).toBeLessThan(sd / 3);
  });

  it('classifies three classes well above chance and reports each round', () => {
    const rule = (x: number[]) => (x[0]! < -0.3 ? 0 : x[1]! < 0 ? 1 : 2);
    const train = dataset(900, 6, rule);
    const validation = dataset(300, 7, rule);
    const rounds: number[] = [];
    const model = trainGbm(
      train,
      parseGbmParams({ objective: 'multi:softprob', num_class: '3', num_round: '15', max_depth: '4' }),
      {
        evals: [{ name: 'validation', data: validation }],
        metrics: ['merror'],
        evaluate: (_m, labels, predictions) => merror(labels, predictions as number[][]),
        onRound: (round, scores) => {
          expect(scores[0]).toMatchObject({ set: 'validation', metric: 'merror' });
          rounds.push(round);
        },
      },
    );
    expect(rounds).toEqual(Array.from({ length: 15 }, (_, i) => i));
    const predicted = model.predict(validation.features);
    const accuracy = predicted.filter((c, i) => c === validation.labels[i]).length / predicted.length;
    expect(accuracy).toBeGreaterThan(0.8);
    const probabilities = model.predictRaw(validation.features.slice(0, 3)) as number[][];
    for (const row of probabilities) expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
  });

  it('is deterministic for a seed and differs across seeds with subsampling', () => {
    const train = dataset(400, 8, binaryRule);
    const params = (seed: string) =>
      parseGbmParams({ objective: 'binary:logistic', num_round: '10', subsample: '0.8', seed });
    const a = JSON.stringify(trainGbm(train, params('42')).toJSON());
    expect(JSON.stringify(trainGbm(train, params('42')).toJSON())).toBe(a);
    expect(JSON.stringify(trainGbm(train, params('43')).toJSON())).not.toBe(a);
  });

  it('imputes missing values with the training mean', () => {
    const train = dataset(600, 9, binaryRule);
    const withGaps: GbmDataset = {
      features: train.features.map((row, i) => (i % 7 === 0 ? [NaN, ...row.slice(1)] : row)),
      labels: train.labels,
    };
    const model = trainGbm(withGaps, parseGbmParams({ objective: 'binary:logistic', ...fast }));
    const { imputation } = model.toJSON();
    const seen = withGaps.features.map((r) => r[0]!).filter((v) => !Number.isNaN(v));
    expect(imputation[0]).toBeCloseTo(seen.reduce((a, b) => a + b, 0) / seen.length, 12);
    const [missing, imputed] = model.predict([
      [null, 0.5, 0.5, 0, 0, 0],
      [imputation[0]!, 0.5, 0.5, 0, 0, 0],
    ]);
    expect(missing).toBe(imputed);
    expect(Number.isFinite(missing)).toBe(true);
  });

  it('parses XGBoost hyperparameters and refuses bad ones', () => {
    expect(parseGbmParams({ objective: 'binary:logistic' })).toMatchObject({
      numRound: 100,
      eta: 0.3,
      maxDepth: 6,
      minChildWeight: 1,
      subsample: 1,
      seed: 0,
    });
    expect(() => parseGbmParams({ objective: 'multi:softprob' })).toThrow(/num_class/);
    expect(() => parseGbmParams({ objective: 'rank:pairwise' })).toThrow(GbmParamError);
    expect(() => parseGbmParams({ objective: 'binary:logistic', eta: 'fast' })).toThrow(/eta="fast"/);
    expect(() =>
      trainGbm({ features: [[1], [2]], labels: [0, 2] }, parseGbmParams({ objective: 'binary:logistic' })),
    ).toThrow(/\[0,1\]/);
  });

  it('round-trips through model.tar.gz (loadModelArtifact)', async () => {
    const train = dataset(300, 10, binaryRule);
    const model = trainGbm(train, parseGbmParams({ objective: 'binary:logistic', num_round: '5' }));
    const dir = await mkdtemp(join(tmpdir(), 'gbm-artifact-'));
    try {
      await writeModel(dir, modelDocument(model, { objective: 'binary:logistic' }));
      const loaded = await loadModelArtifact(await packModelDir(dir));
      expect(loaded.featureCount).toBe(6);
      expect(loaded.predict(train.features.slice(0, 20))).toEqual(model.predict(train.features.slice(0, 20)));
      await expect(loadModelArtifact(new Uint8Array([1, 2, 3]))).rejects.toThrow();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
