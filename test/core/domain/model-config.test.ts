import { describe, expect, it } from 'vitest';
import {
  defaultModelConfig,
  mergeModelConfig,
  modelConfigSchema,
  parseModelConfig,
  PROBLEM_DEFAULTS,
  readConfigJson,
  RESERVED_HYPERPARAMETER_NAMES,
  resolveGate,
  resolveStrategy,
  type ModelConfig,
} from '../../../core/domain/model-config';

const IMAGE = '123456789012.dkr.ecr.us-east-1.amazonaws.com/x:1';

/** Parses a config object and returns its problems (failing the test if it parsed). */
function problems(input: unknown): string[] {
  const result = parseModelConfig(JSON.stringify(input));
  if (result.ok) throw new Error(`expected the config to be refused: ${JSON.stringify(input)}`);
  return result.problems;
}

function parsed(input: unknown): ModelConfig {
  const result = parseModelConfig(JSON.stringify(input));
  if (!result.ok) throw new Error(`expected the config to parse: ${result.problems.join('; ')}`);
  return result.config;
}

describe('model config defaults', () => {
  it('trains a built-in XGBoost binary classifier on a "label" column with no config at all', () => {
    const config = defaultModelConfig();
    expect(config).toEqual(modelConfigSchema.parse({}));
    expect(config).toMatchObject({
      labelColumn: 'label',
      problemType: 'binary_classification',
      algorithm: { type: 'xgboost', version: '1.7-1' },
      hyperparameters: {},
      training: {
        instanceType: 'ml.m5.large',
        instanceCount: 1,
        volumeSizeGb: 10,
        maxRuntimeSeconds: 3600,
        spot: false,
      },
      split: { validationFraction: 0.2, seed: 'serverless-mlops' },
      gate: { regressionTolerance: 0, approval: 'auto' },
      deployment: {
        type: 'instance',
        instanceType: 'ml.m5.large',
        initialInstanceCount: 1,
        serverless: { memorySizeMb: 2048, maxConcurrency: 5 },
        stepPercent: 10,
        bakeSeconds: 300,
        terminationWaitSeconds: 120,
        dataCapturePercent: 100,
      },
      monitoring: {
        anomalyBandWidth: 3,
        errorRateThreshold: 0.05,
        evaluationPeriods: 5,
        datapointsToAlarm: 3,
      },
      alarmPolicy: 'notify',
    });
    expect(config.gate.metric).toBeUndefined();
    expect(config.gate.direction).toBeUndefined();
    expect(config.gate.threshold).toBeUndefined();
    expect(config.deployment.strategy).toBeUndefined();
    expect(config.training.maxWaitSeconds).toBeUndefined();
  });

  it('fills the defaults inside a partly given section', () => {
    const config = parsed({
      training: { instanceCount: 2 },
      split: { seed: 'x' },
      deployment: { type: 'serverless' },
    });
    expect(config.training).toMatchObject({
      instanceCount: 2,
      instanceType: 'ml.m5.large',
      maxRuntimeSeconds: 3600,
    });
    expect(config.split).toEqual({ validationFraction: 0.2, seed: 'x' });
    expect(config.deployment).toMatchObject({
      type: 'serverless',
      serverless: { memorySizeMb: 2048, maxConcurrency: 5 },
      bakeSeconds: 300,
    });
  });

  it('returns a fresh config each time', () => {
    const a = defaultModelConfig();
    (a.hyperparameters as Record<string, unknown>)['eta'] = 0.1;
    expect(defaultModelConfig().hyperparameters).toEqual({});
  });

  it('accepts a full custom-image config', () => {
    const config = parsed({
      labelColumn: 'churned',
      problemType: 'regression',
      algorithm: {
        type: 'image',
        imageUri: IMAGE,
        metricDefinitions: [{ name: 'validation:r2', regex: 'r2=([0-9.]+)' }],
      },
      hyperparameters: { epochs: 10, lr: '0.01', verbose: true },
      training: { spot: true, maxRuntimeSeconds: 600, maxWaitSeconds: 1200 },
      gate: { metric: 'validation:r2', threshold: 0.5, approval: 'manual' },
    });
    expect(config.algorithm).toEqual({
      type: 'image',
      imageUri: IMAGE,
      metricDefinitions: [{ name: 'validation:r2', regex: 'r2=([0-9.]+)' }],
    });
    expect(config.hyperparameters).toEqual({ epochs: 10, lr: '0.01', verbose: true });
  });

  it('accepts an image pinned by digest and a China-region image', () => {
    expect(
      parsed({
        algorithm: {
          type: 'image',
          imageUri: `123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/model@sha256:${'a'.repeat(64)}`,
        },
      }).algorithm.type,
    ).toBe('image');
    expect(
      parsed({
        algorithm: { type: 'image', imageUri: '123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/x:latest' },
      }).algorithm.type,
    ).toBe('image');
  });

  it('accepts a script algorithm', () => {
    const config = parsed({
      algorithm: {
        type: 'script',
        imageUri: IMAGE,
        entryPoint: 'train.py',
        sourceUri: 's3://bucket/code/sourcedir.tar.gz',
      },
    });
    expect(config.algorithm).toMatchObject({ type: 'script', entryPoint: 'train.py', metricDefinitions: [] });
  });
});

describe('parseModelConfig: problems name the field', () => {
  it('refuses invalid JSON', () => {
    const result = parseModelConfig('{ "labelColumn": ');
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.problems).toHaveLength(1);
      expect(result.problems[0]).toMatch(/^not valid JSON: /);
    }
  });

  it('refuses a document that is not an object', () => {
    expect(problems([])[0]).toMatch(/^\(root\): /);
    expect(problems(null)[0]).toMatch(/^\(root\): /);
    expect(problems('text')[0]).toMatch(/^\(root\): /);
  });

  it('refuses an unknown key at the top, naming the key', () => {
    const found = problems({ labelColum: 'y' });
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/^\(root\): /);
    expect(found[0]).toContain('labelColum');
  });

  it('refuses an unknown key in a section, naming the section and the key', () => {
    const found = problems({ training: { instanceTyp: 'ml.m5.large' } });
    expect(found[0]).toMatch(/^training: /);
    expect(found[0]).toContain('instanceTyp');
    expect(problems({ gate: { threshhold: 1 } })[0]).toMatch(/^gate: .*threshhold/);
    expect(problems({ deployment: { serverless: { memory: 1024 } } })[0]).toMatch(
      /^deployment\.serverless: .*memory/,
    );
    expect(problems({ algorithm: { type: 'image', imageUri: IMAGE, entryPoint: 'x.py' } })[0]).toMatch(
      /^algorithm: .*entryPoint/,
    );
  });

  it('refuses a wrong type, naming the field path', () => {
    expect(problems({ training: { instanceCount: '2' } })[0]).toMatch(/^training\.instanceCount: .*number/);
    expect(problems({ labelColumn: 3 })[0]).toMatch(/^labelColumn: /);
    expect(problems({ gate: { threshold: 'high' } })[0]).toMatch(/^gate\.threshold: /);
    expect(problems({ hyperparameters: { eta: [1] } })[0]).toMatch(/^hyperparameters\.eta: /);
    expect(
      problems({
        algorithm: { type: 'image', imageUri: IMAGE, metricDefinitions: [{ name: '', regex: 'x' }] },
      })[0],
    ).toMatch(/^algorithm\.metricDefinitions\.0\.name: /);
  });

  it('refuses out-of-range and malformed values, naming the field path', () => {
    expect(problems({ problemType: 'clustering' })[0]).toMatch(/^problemType: /);
    expect(problems({ split: { validationFraction: 1 } })[0]).toMatch(/^split\.validationFraction: /);
    expect(problems({ split: { validationFraction: 0 } })[0]).toMatch(/^split\.validationFraction: /);
    expect(problems({ training: { instanceType: 'm5.large' } })[0]).toBe(
      'training.instanceType: must look like ml.m5.large',
    );
    expect(problems({ training: { instanceCount: 1.5 } })[0]).toMatch(/^training\.instanceCount: /);
    expect(problems({ training: { maxRuntimeSeconds: 10 } })[0]).toMatch(/^training\.maxRuntimeSeconds: /);
    expect(problems({ deployment: { serverless: { memorySizeMb: 1000 } } })[0]).toMatch(
      /^deployment\.serverless\.memorySizeMb: /,
    );
    expect(problems({ algorithm: { type: 'xgboost', version: '0.90-1' } })[0]).toMatch(
      /^algorithm\.version: /,
    );
    expect(problems({ algorithm: { type: 'image', imageUri: 'docker.io/me/x:1' } })[0]).toBe(
      'algorithm.imageUri: must be an ECR image URI',
    );
    expect(
      problems({
        algorithm: { type: 'script', imageUri: IMAGE, entryPoint: 'a.py', sourceUri: 'https://x/y' },
      })[0],
    ).toBe('algorithm.sourceUri: must be an s3:// URI');
    expect(problems({ algorithm: { type: 'sklearn' } })[0]).toMatch(/^algorithm\.type: /);
    expect(problems({ gate: { regressionTolerance: -0.1 } })[0]).toMatch(/^gate\.regressionTolerance: /);
    expect(problems({ alarmPolicy: 'page' })[0]).toMatch(/^alarmPolicy: /);
  });

  it('names every bad field at once', () => {
    const found = problems({ labelColumn: '', training: { instanceCount: 0 }, alarmPolicy: 'x' });
    expect(found).toHaveLength(3);
    expect(found.map((p) => p.split(':')[0])).toEqual(
      expect.arrayContaining(['labelColumn', 'training.instanceCount', 'alarmPolicy']),
    );
  });

  it('refuses spot training whose maxWaitSeconds is below maxRuntimeSeconds', () => {
    expect(problems({ training: { spot: true, maxRuntimeSeconds: 3600, maxWaitSeconds: 3599 } })).toEqual([
      'training.maxWaitSeconds: must be >= training.maxRuntimeSeconds when spot is on',
    ]);
    expect(problems({ training: { spot: true, maxWaitSeconds: 600 } })[0]).toMatch(
      /^training\.maxWaitSeconds: /,
    );
    expect(
      parsed({ training: { spot: true, maxRuntimeSeconds: 3600, maxWaitSeconds: 3600 } }).training
        .maxWaitSeconds,
    ).toBe(3600);
    expect(
      parsed({ training: { spot: false, maxRuntimeSeconds: 3600, maxWaitSeconds: 600 } }).training.spot,
    ).toBe(false);
  });

  it('refuses canary or linear rollouts on serverless endpoints', () => {
    expect(problems({ deployment: { type: 'serverless', strategy: 'canary' } })).toEqual([
      "deployment.strategy: must be 'all_at_once' for serverless endpoints (canary and linear sizes are shares of an instance fleet)",
    ]);
    expect(problems({ deployment: { type: 'serverless', strategy: 'linear' } })[0]).toMatch(
      /^deployment\.strategy: /,
    );
    expect(parsed({ deployment: { type: 'serverless', strategy: 'all_at_once' } }).deployment.strategy).toBe(
      'all_at_once',
    );
    expect(
      parsed({ deployment: { type: 'instance', strategy: 'linear', initialInstanceCount: 2 } }).deployment
        .strategy,
    ).toBe('linear');
  });

  // TrafficRoutingConfig (SageMaker API Reference): a canary is at most 50% of the variant's
  // instances, a linear step 10-50%; a canary or step is at least one instance.
  it('refuses canary or linear rollouts on one instance, naming the field', () => {
    expect(problems({ deployment: { strategy: 'canary' } })).toEqual([
      "deployment.strategy: 'canary' needs deployment.initialInstanceCount >= 2 (got 1): a canary must be at most 50% of the variant's instances and at least one instance; use 'all_at_once' with one instance",
    ]);
    expect(problems({ deployment: { strategy: 'linear', initialInstanceCount: 1 } })[0]).toMatch(
      /^deployment\.strategy: 'linear' needs deployment\.initialInstanceCount >= 2/,
    );
  });

  it('refuses a canary or linear step SageMaker would refuse for the fleet, naming stepPercent', () => {
    // 60% of 4 rounds up to 3 instances: more than half the fleet.
    expect(
      problems({ deployment: { strategy: 'canary', initialInstanceCount: 4, stepPercent: 60 } }),
    ).toEqual([
      "deployment.stepPercent: 60% of 4 instances rounds up to 3 instance(s), 75% of the fleet; a canary must be at most 50% of the variant's instances",
    ]);
    // 40% of 3 rounds up to 2 instances (67%).
    expect(
      problems({ deployment: { strategy: 'linear', initialInstanceCount: 3, stepPercent: 40 } })[0],
    ).toMatch(/^deployment\.stepPercent: .*a linear step must be 10-50%/);
    // 5% of 20 is one instance, a 5% step: below the 10% minimum.
    expect(
      problems({ deployment: { strategy: 'linear', initialInstanceCount: 20, stepPercent: 5 } })[0],
    ).toMatch(/^deployment\.stepPercent: 5% of 20 instances rounds up to 1 instance\(s\), 5% of the fleet/);
    // The default strategy of a fleet is a canary: its size is checked too.
    expect(problems({ deployment: { initialInstanceCount: 2, stepPercent: 100 } })[0]).toMatch(
      /^deployment\.stepPercent: /,
    );
  });

  it('accepts the canary and linear sizes SageMaker accepts', () => {
    for (const [strategy, initialInstanceCount, stepPercent] of [
      ['canary', 2, 10],
      ['canary', 2, 50],
      ['canary', 4, 25],
      ['linear', 2, 10],
      ['linear', 4, 25],
      ['linear', 10, 10],
      ['linear', 4, 5],
    ] as const) {
      expect(
        parsed({ deployment: { strategy, initialInstanceCount, stepPercent } }).deployment.strategy,
        `${strategy} ${stepPercent}% of ${initialInstanceCount}`,
      ).toBe(strategy);
    }
    // stepPercent does not matter to an all-at-once rollout, nor to the default of one instance.
    expect(parsed({ deployment: { strategy: 'all_at_once', stepPercent: 100 } }).deployment.stepPercent).toBe(
      100,
    );
    expect(parsed({ deployment: { stepPercent: 100 } }).deployment.stepPercent).toBe(100);
  });

  it('refuses more datapoints to alarm than evaluation periods', () => {
    expect(problems({ monitoring: { evaluationPeriods: 3, datapointsToAlarm: 4 } })).toEqual([
      'monitoring.datapointsToAlarm: must be <= monitoring.evaluationPeriods',
    ]);
    expect(problems({ monitoring: { evaluationPeriods: 2 } })[0]).toMatch(/^monitoring\.datapointsToAlarm: /);
    expect(
      parsed({ monitoring: { evaluationPeriods: 3, datapointsToAlarm: 3 } }).monitoring.datapointsToAlarm,
    ).toBe(3);
  });
});

describe('mergeModelConfig', () => {
  it('merges objects recursively and replaces everything else, leaving its inputs alone', () => {
    const defaults = {
      labelColumn: 'label',
      training: { instanceType: 'ml.m5.large', spot: false },
      tags: ['a'],
    };
    const file = { training: { spot: true }, tags: ['b'] };
    expect(mergeModelConfig(defaults, file)).toEqual({
      labelColumn: 'label',
      training: { instanceType: 'ml.m5.large', spot: true },
      tags: ['b'],
    });
    expect(defaults.training.spot).toBe(false);
  });

  it('replaces the algorithm block whole (its fields depend on its type)', () => {
    expect(
      mergeModelConfig(
        { algorithm: { type: 'xgboost', version: '1.5-1' } },
        { algorithm: { type: 'image', imageUri: IMAGE } },
      ),
    ).toEqual({ algorithm: { type: 'image', imageUri: IMAGE } });
  });

  it('lets the file replace an object with a value and the reverse', () => {
    expect(mergeModelConfig({ a: { b: 1 }, c: 1 }, { a: null, c: { d: 2 } })).toEqual({
      a: null,
      c: { d: 2 },
    });
  });
});

describe('resolveGate', () => {
  it.each(Object.entries(PROBLEM_DEFAULTS))(
    'defaults the metric and direction for %s',
    (problemType, defaults) => {
      const gate = resolveGate(modelConfigSchema.parse({ problemType }));
      expect(gate).toEqual({
        metric: defaults.metric,
        direction: defaults.direction,
        regressionTolerance: 0,
        approval: 'auto',
      });
      expect('threshold' in gate).toBe(false);
    },
  );

  it('gives the documented defaults', () => {
    expect(resolveGate(modelConfigSchema.parse({ problemType: 'binary_classification' }))).toMatchObject({
      metric: 'validation:auc',
      direction: 'maximize',
    });
    expect(resolveGate(modelConfigSchema.parse({ problemType: 'regression' }))).toMatchObject({
      metric: 'validation:rmse',
      direction: 'minimize',
    });
    expect(resolveGate(modelConfigSchema.parse({ problemType: 'multiclass_classification' }))).toMatchObject({
      metric: 'validation:mlogloss',
      direction: 'minimize',
    });
  });

  // The SageMaker XGBoost metrics and their optimization directions (SageMaker Developer Guide,
  // "Tune an XGBoost Model").
  it.each([
    ['validation:accuracy', 'maximize'],
    ['validation:auc', 'maximize'],
    ['validation:error', 'minimize'],
    ['validation:f1', 'maximize'],
    ['validation:logloss', 'minimize'],
    ['validation:mae', 'minimize'],
    ['validation:map', 'maximize'],
    ['validation:merror', 'minimize'],
    ['validation:mlogloss', 'minimize'],
    ['validation:mse', 'minimize'],
    ['validation:ndcg', 'maximize'],
    ['validation:rmse', 'minimize'],
    ['validation:mape', 'minimize'],
    ['validation:loss', 'minimize'],
  ])('infers the direction of %s: %s', (metric, direction) => {
    for (const problemType of Object.keys(PROBLEM_DEFAULTS)) {
      expect(resolveGate(modelConfigSchema.parse({ problemType, gate: { metric } })).direction).toBe(
        direction,
      );
    }
  });

  it('keeps the direction the config gives', () => {
    expect(
      resolveGate(modelConfigSchema.parse({ gate: { metric: 'validation:rmse', direction: 'maximize' } }))
        .direction,
    ).toBe('maximize');
    expect(resolveGate(modelConfigSchema.parse({ gate: { direction: 'minimize' } }))).toMatchObject({
      metric: 'validation:auc',
      direction: 'minimize',
    });
  });

  it('carries the threshold, tolerance and approval', () => {
    expect(
      resolveGate(
        modelConfigSchema.parse({ gate: { threshold: 0.75, regressionTolerance: 0.01, approval: 'manual' } }),
      ),
    ).toEqual({
      metric: 'validation:auc',
      direction: 'maximize',
      threshold: 0.75,
      regressionTolerance: 0.01,
      approval: 'manual',
    });
    expect(resolveGate(modelConfigSchema.parse({ gate: { threshold: 0 } })).threshold).toBe(0);
  });
});

describe('resolveStrategy', () => {
  it('defaults to canary on fleets of 2 or more instances, all_at_once on one instance and serverless', () => {
    // A canary is at least one instance and at most half the fleet: impossible with one instance.
    expect(resolveStrategy(modelConfigSchema.parse({}))).toBe('all_at_once');
    expect(resolveStrategy(defaultModelConfig())).toBe('all_at_once');
    expect(resolveStrategy(modelConfigSchema.parse({ deployment: { type: 'instance' } }))).toBe(
      'all_at_once',
    );
    expect(resolveStrategy(modelConfigSchema.parse({ deployment: { initialInstanceCount: 2 } }))).toBe(
      'canary',
    );
    expect(resolveStrategy(modelConfigSchema.parse({ deployment: { initialInstanceCount: 8 } }))).toBe(
      'canary',
    );
    expect(resolveStrategy(modelConfigSchema.parse({ deployment: { type: 'serverless' } }))).toBe(
      'all_at_once',
    );
  });

  it('keeps the configured strategy', () => {
    expect(
      resolveStrategy(
        modelConfigSchema.parse({ deployment: { strategy: 'linear', initialInstanceCount: 4 } }),
      ),
    ).toBe('linear');
    expect(resolveStrategy(modelConfigSchema.parse({ deployment: { strategy: 'all_at_once' } }))).toBe(
      'all_at_once',
    );
    expect(
      resolveStrategy(
        modelConfigSchema.parse({ deployment: { type: 'serverless', strategy: 'all_at_once' } }),
      ),
    ).toBe('all_at_once');
  });
});

describe('alarmPolicyCooldownMinutes', () => {
  it('defaults to 60 and names the field when it is not a whole number of minutes from 0 to a week', () => {
    const parsed = parseModelConfig('{}');
    expect(parsed.ok && parsed.config.alarmPolicyCooldownMinutes).toBe(60);
    for (const bad of [-1, 1.5, 7 * 24 * 60 + 1, '60']) {
      const result = parseModelConfig(JSON.stringify({ alarmPolicyCooldownMinutes: bad }));
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.problems[0]).toMatch(/^alarmPolicyCooldownMinutes: /);
    }
    const off = parseModelConfig(JSON.stringify({ alarmPolicyCooldownMinutes: 0 }));
    expect(off.ok && off.config.alarmPolicyCooldownMinutes).toBe(0);
  });
});

describe('reserved hyperparameters (sagemaker-training-toolkit params.py)', () => {
  it.each([
    ...RESERVED_HYPERPARAMETER_NAMES,
    'sagemaker_mpi_enabled',
    'SAGEMAKER_PROGRAM',
    'Sagemaker_Submit_Directory',
  ])('refuses "%s" at parse, naming the field', (name) => {
    for (const algorithm of [
      { type: 'xgboost' },
      { type: 'image', imageUri: IMAGE },
      { type: 'script', imageUri: IMAGE, entryPoint: 'train.py', sourceUri: 's3://b/models/m/code/s.tar.gz' },
    ])
      expect(problems({ algorithm, hyperparameters: { max_depth: 3, [name]: 'evil.py' } })).toEqual([
        expect.stringMatching(
          new RegExp(`^hyperparameters\\.${name}: "${name}" is reserved by SageMaker's training toolkit`),
        ),
      ]);
  });

  it('keeps the names that only look alike', () => {
    expect(
      parsed({ hyperparameters: { program: 'x', my_sagemaker_program: 1, sagemaker: 2 } }).hyperparameters,
    ).toEqual({
      program: 'x',
      my_sagemaker_program: 1,
      sagemaker: 2,
    });
  });
});

describe('config file text', () => {
  it('reads a config saved with one UTF-8 BOM (Windows editors write one)', () => {
    const result = parseModelConfig(`\uFEFF${JSON.stringify({ labelColumn: 'churned' })}`);
    expect(result.ok && result.config.labelColumn).toBe('churned');
    expect(readConfigJson('\uFEFF{"a":1}')).toEqual({ ok: true, value: { a: 1 } });
  });

  it('still refuses a second BOM: only the one a file starts with is dropped', () => {
    expect(readConfigJson('\uFEFF\uFEFF{}')).toMatchObject({
      ok: false,
      problems: [expect.stringMatching(/^not valid JSON/)],
    });
  });

  it.each([
    ['{"__proto__": {"labelColumn": "x"}}', '__proto__'],
    ['{"hyperparameters": {"__proto__": {"max_depth": 3}}}', 'hyperparameters.__proto__'],
    [
      '{"algorithm": {"type": "image", "imageUri": "i", "metricDefinitions": [{"__proto__": 1}]}}',
      'algorithm.metricDefinitions.0.__proto__',
    ],
    ['{"hyperparameters": {"constructor": 1}}', 'hyperparameters.constructor'],
    ['{"gate": {"prototype": {}}}', 'gate.prototype'],
  ])('refuses %s, naming the key by its path', (text, path) => {
    const key = path.split('.').pop()!;
    const result = parseModelConfig(text);
    expect(result).toEqual({
      ok: false,
      problems: [`${path}: the key "${key}" is not allowed in a config (it names an object's prototype)`],
    });
  });

  it('keeps a __proto__ key through a merge, as a key, so that it is refused after it', () => {
    const merged = mergeModelConfig(
      { gate: { threshold: 0.5 } },
      JSON.parse('{"__proto__": {"labelColumn": "x"}}') as Record<string, unknown>,
    );
    expect(Object.getPrototypeOf(merged)).toBe(Object.prototype);
    expect(Object.keys(merged)).toEqual(['gate', '__proto__']);
    expect(parseModelConfig(JSON.stringify(merged))).toMatchObject({
      ok: false,
      problems: [expect.stringMatching(/^__proto__: the key "__proto__" is not allowed/)],
    });
  });
});
