/**
 * The model config (`models/<model>/config.json`), validated with a schema. Where this stands: core
 * domain; ingest loads it, training and deployment read it. Every field has a default, so a model
 * with no config at all trains a built-in XGBoost binary classifier on a `label` column.
 */
import { z } from 'zod';
import { isPlainObject } from '../support/objects';

const hyperparameterValue = z.union([z.string(), z.number(), z.boolean()]);

/**
 * Hyperparameter names SageMaker's training toolkit keeps for itself: `SAGEMAKER_HYPERPARAMETERS`
 * in github.com/aws/sagemaker-training-toolkit `src/sagemaker_training/params.py` (read at commit
 * 3383937, September 2025). `sagemaker_program` is the script to run, `sagemaker_submit_directory`
 * the bundle it comes from. Its `environment.py` also takes every other name starting with
 * {@link RESERVED_HYPERPARAMETER_PREFIX} as a framework setting
 * (`mapping.split_by_criteria(keys=SAGEMAKER_HYPERPARAMETERS, prefix="sagemaker_")`).
 */
export const RESERVED_HYPERPARAMETER_NAMES: readonly string[] = [
  'sagemaker_program',
  'sagemaker_submit_directory',
  'sagemaker_enable_cloudwatch_metrics',
  'sagemaker_region',
  'sagemaker_container_log_level',
  'sagemaker_job_name',
  'default_user_module_name',
  '_tuning_objective_metric',
  'sagemaker_s3_output',
];

/** The prefix of the names the training toolkit reads as its own settings, never the user's. */
export const RESERVED_HYPERPARAMETER_PREFIX = 'sagemaker_';

/**
 * Why a hyperparameter name is reserved, or undefined when it is the user's to set. A config that
 * sets one could point the container at a script of its choosing, outside `models/<model>/code/`.
 * Compared without case: a name one letter-case away is too close to call harmless.
 */
export function reservedHyperparameterProblem(name: string): string | undefined {
  const lower = name.toLowerCase();
  if (RESERVED_HYPERPARAMETER_NAMES.includes(lower) || lower.startsWith(RESERVED_HYPERPARAMETER_PREFIX))
    return `"${name}" is reserved by SageMaker's training toolkit (names starting with "${RESERVED_HYPERPARAMETER_PREFIX}", "default_user_module_name", "_tuning_objective_metric"); the script and its bundle come from algorithm.entryPoint and algorithm.sourceUri`;
  return undefined;
}

const hyperparameters = z.record(z.string(), hyperparameterValue).superRefine((values, ctx) => {
  for (const name of Object.keys(values)) {
    const problem = reservedHyperparameterProblem(name);
    if (problem) ctx.addIssue({ code: 'custom', path: [name], message: problem });
  }
});

/**
 * The alarm policy's cool-down when the config does not say (`alarmPolicyCooldownMinutes`); also
 * what a config stored before the field existed gets.
 */
export const DEFAULT_ALARM_POLICY_COOLDOWN_MINUTES = 60;

/** Problem types and the defaults each implies for built-in XGBoost. */
export const PROBLEM_DEFAULTS = {
  binary_classification: { objective: 'binary:logistic', metric: 'validation:auc', direction: 'maximize' },
  regression: { objective: 'reg:squarederror', metric: 'validation:rmse', direction: 'minimize' },
  multiclass_classification: {
    objective: 'multi:softprob',
    metric: 'validation:mlogloss',
    direction: 'minimize',
  },
} as const;
/** The problems a model can solve (`problemType` in the config). */
export type ProblemType = keyof typeof PROBLEM_DEFAULTS;

const algorithmSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('xgboost'),
    /** Built-in XGBoost framework version. */
    version: z.enum(['1.7-1', '1.5-1', '1.3-1']).default('1.7-1'),
  }),
  z
    .object({
      type: z.literal('image'),
      /** An ECR image implementing SageMaker's training contract. */
      imageUri: z
        .string()
        .regex(
          /^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?\/[\w./-]+(:[\w.-]+|@sha256:[a-f0-9]{64})$/,
          'must be an ECR image URI',
        ),
      /** Regexes SageMaker uses to read metrics from the container's logs. */
      metricDefinitions: z
        .array(z.object({ name: z.string().min(1).max(255), regex: z.string().min(1).max(500) }))
        .max(40)
        .default([]),
    })
    .strict(),
  z
    .object({
      type: z.literal('script'),
      /** A framework image (e.g. the SageMaker scikit-learn image) that runs the user's script. */
      imageUri: z
        .string()
        .regex(
          /^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?\/[\w./-]+(:[\w.-]+|@sha256:[a-f0-9]{64})$/,
          'must be an ECR image URI',
        ),
      /** The script to run, e.g. `train.py`. */
      entryPoint: z.string().min(1),
      /** `s3://` URI of a `sourcedir.tar.gz` holding the script (under the data bucket). */
      sourceUri: z.string().regex(/^s3:\/\/[^/]+\/.+/, 'must be an s3:// URI'),
      metricDefinitions: z
        .array(z.object({ name: z.string().min(1).max(255), regex: z.string().min(1).max(500) }))
        .max(40)
        .default([]),
    })
    .strict(),
]);

const instanceType = z.string().regex(/^ml\.[a-z0-9]+\.[a-z0-9]+$/, 'must look like ml.m5.large');

/** The schema of `models/<model>/config.json`. Unknown keys are refused so that typos surface. */
export const modelConfigSchema = z
  .object({
    /** Name of the label column in the CSV header. */
    labelColumn: z.string().min(1).default('label'),
    problemType: z
      .enum(['binary_classification', 'regression', 'multiclass_classification'])
      .default('binary_classification'),
    algorithm: algorithmSchema.default({ type: 'xgboost', version: '1.7-1' }),
    /** Hyperparameters passed to the algorithm (values become strings, as SageMaker requires). */
    hyperparameters: hyperparameters.default({}),
    training: z
      .object({
        instanceType: instanceType.default('ml.m5.large'),
        instanceCount: z.number().int().min(1).max(20).default(1),
        volumeSizeGb: z.number().int().min(1).max(512).default(10),
        maxRuntimeSeconds: z.number().int().min(60).max(432000).default(3600),
        /** Managed spot training; `maxWaitSeconds` must then be >= `maxRuntimeSeconds`. */
        spot: z.boolean().default(false),
        maxWaitSeconds: z.number().int().min(60).max(432000).optional(),
      })
      .strict()
      .default({
        instanceType: 'ml.m5.large',
        instanceCount: 1,
        volumeSizeGb: 10,
        maxRuntimeSeconds: 3600,
        spot: false,
      }),
    split: z
      .object({
        /** Share of rows held out for the validation channel. */
        validationFraction: z.number().gt(0).lt(1).default(0.2),
        /** Seed of the deterministic split: the same dataset always splits the same way. */
        seed: z.string().default('serverless-mlops'),
      })
      .strict()
      .default({ validationFraction: 0.2, seed: 'serverless-mlops' }),
    gate: z
      .object({
        /** Metric that decides; defaults by problem type (validation:auc, validation:rmse, validation:mlogloss). */
        metric: z.string().min(1).optional(),
        /** Whether larger is better; defaults by metric. */
        direction: z.enum(['maximize', 'minimize']).optional(),
        /** The candidate must reach this value (>= when maximizing, <= when minimizing). */
        threshold: z.number().optional(),
        /** How much worse than the champion a candidate may be (absolute, in metric units). */
        regressionTolerance: z.number().min(0).default(0),
        /** `auto` promotes a passing candidate; `manual` waits in PENDING_APPROVAL. */
        approval: z.enum(['auto', 'manual']).default('auto'),
      })
      .strict()
      .default({ regressionTolerance: 0, approval: 'auto' }),
    deployment: z
      .object({
        type: z.enum(['instance', 'serverless']).default('instance'),
        instanceType: instanceType.default('ml.m5.large'),
        initialInstanceCount: z.number().int().min(1).max(100).default(1),
        serverless: z
          .object({
            memorySizeMb: z
              .union([
                z.literal(1024),
                z.literal(2048),
                z.literal(3072),
                z.literal(4096),
                z.literal(5120),
                z.literal(6144),
              ])
              .default(2048),
            maxConcurrency: z.number().int().min(1).max(200).default(5),
          })
          .strict()
          .default({ memorySizeMb: 2048, maxConcurrency: 5 }),
        /**
         * Blue/green traffic shifting for updates (see {@link resolveStrategy} for the default).
         * `canary` and `linear` need at least 2 instances: a canary is at most half the fleet and a
         * linear step 10-50% of it ({@link BLUE_GREEN_SIZE_LIMITS}).
         */
        strategy: z.enum(['canary', 'linear', 'all_at_once']).optional(),
        /**
         * Canary size or linear step, as a percentage of `initialInstanceCount`, rounded up to whole
         * instances ({@link trafficStepInstances}).
         */
        stepPercent: z.number().int().min(1).max(100).default(10),
        /** Bake time between traffic shifts, in seconds. */
        bakeSeconds: z.number().int().min(0).max(3600).default(300),
        /** How long the old fleet is kept after the shift, in seconds. */
        terminationWaitSeconds: z.number().int().min(0).max(3600).default(120),
        /** Percentage of requests captured to `capture/<model>/`. */
        dataCapturePercent: z.number().int().min(0).max(100).default(100),
      })
      .strict()
      .default({
        type: 'instance',
        instanceType: 'ml.m5.large',
        initialInstanceCount: 1,
        serverless: { memorySizeMb: 2048, maxConcurrency: 5 },
        stepPercent: 10,
        bakeSeconds: 300,
        terminationWaitSeconds: 120,
        dataCapturePercent: 100,
      }),
    monitoring: z
      .object({
        /** Width of the anomaly-detection band, in standard deviations. */
        anomalyBandWidth: z.number().gt(0).max(10).default(3),
        /** Error-rate alarm threshold, as a fraction of invocations (4XX + 5XX). */
        errorRateThreshold: z.number().gt(0).max(1).default(0.05),
        /** Number of one-minute periods an alarm looks at. */
        evaluationPeriods: z.number().int().min(1).max(60).default(5),
        datapointsToAlarm: z.number().int().min(1).max(60).default(3),
        /** Live drift alarm: the largest feature drift (KS / L-infinity) of captured traffic against the training baseline. */
        featureDriftThreshold: z.number().gt(0).max(1).default(0.2),
        /** Live drift alarm: drift of the predictions' distribution against the validation predictions' baseline. */
        predictionDriftThreshold: z.number().gt(0).max(1).default(0.2),
      })
      .strict()
      .default({
        anomalyBandWidth: 3,
        errorRateThreshold: 0.05,
        evaluationPeriods: 5,
        datapointsToAlarm: 3,
        featureDriftThreshold: 0.2,
        predictionDriftThreshold: 0.2,
      }),
    /**
     * The data-quality gate before training: every dataset is checked against the model's baseline
     * (the champion's training data, or the first accepted dataset). Schema and quality violations
     * always block training; drift blocks only when `blockOnDrift` is on.
     */
    dataQuality: z
      .object({
        /** KS (numeric) and L-infinity (categorical) distance above which a column has drifted. */
        driftThreshold: z.number().gt(0).max(1).default(0.1),
        /** Population stability index above which a numeric column has drifted. */
        psiThreshold: z.number().gt(0).max(10).default(0.25),
        /** Refuse to train on a dataset that drifted (off: drift is recorded, training goes on). */
        blockOnDrift: z.boolean().default(false),
        /** Largest accepted drop of a column's completeness below the baseline's (a fraction). */
        completenessTolerance: z.number().min(0).max(1).default(0.05),
      })
      .strict()
      .default({ driftThreshold: 0.1, psiThreshold: 0.25, blockOnDrift: false, completenessTolerance: 0.05 }),
    /** What an alarm does besides opening an incident: notify only, roll back, or retrain. */
    alarmPolicy: z.enum(['notify', 'rollback', 'retrain']).default('notify'),
    /**
     * After the policy acted on the model by itself (rollback or retrain), no other automatic action
     * for this long: one bad hour makes one remedy, not a remedy per alarm. 0 turns it off.
     */
    alarmPolicyCooldownMinutes: z
      .number()
      .int()
      .min(0)
      .max(7 * 24 * 60)
      .default(DEFAULT_ALARM_POLICY_COOLDOWN_MINUTES),
  })
  .strict()
  .superRefine((config, ctx) => {
    if (
      config.training.spot &&
      config.training.maxWaitSeconds !== undefined &&
      config.training.maxWaitSeconds < config.training.maxRuntimeSeconds
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['training', 'maxWaitSeconds'],
        message: 'must be >= training.maxRuntimeSeconds when spot is on',
      });
    }
    if (config.monitoring.datapointsToAlarm > config.monitoring.evaluationPeriods) {
      ctx.addIssue({
        code: 'custom',
        path: ['monitoring', 'datapointsToAlarm'],
        message: 'must be <= monitoring.evaluationPeriods',
      });
    }
    const d = config.deployment;
    if (d.type === 'serverless' && d.strategy !== undefined && d.strategy !== 'all_at_once') {
      // Canary and linear sizes are shares of "the variant's total instance count"
      // (TrafficRoutingConfig, SageMaker API Reference): a serverless variant has none.
      ctx.addIssue({
        code: 'custom',
        path: ['deployment', 'strategy'],
        message:
          "must be 'all_at_once' for serverless endpoints (canary and linear sizes are shares of an instance fleet)",
      });
    }
    const strategy = resolveStrategy(config);
    if (d.type === 'instance' && strategy !== 'all_at_once') {
      const step = trafficStepInstances(strategy, d.stepPercent, d.initialInstanceCount);
      if (!step.ok) {
        ctx.addIssue({
          code: 'custom',
          path: ['deployment', step.field === 'instances' ? 'strategy' : 'stepPercent'],
          message: step.problem,
        });
      }
    }
  });

/** A fully defaulted, validated model config. */
export type ModelConfig = z.output<typeof modelConfigSchema>;

/** The config's gate with the metric and direction resolved from the problem type. */
export interface ResolvedGate {
  readonly metric: string;
  readonly direction: 'maximize' | 'minimize';
  readonly threshold?: number;
  readonly regressionTolerance: number;
  readonly approval: 'auto' | 'manual';
}

/** Metrics where smaller is better (XGBoost's errors, losses and deviances; `error@0.7` too). */
const MINIMIZED_METRIC = /(rmse|rmsle|mse|mae|mape|mphe|logloss|nloglik|deviance|error(@[\d.]+)?|loss)$/;

/** Resolves the gate's metric and direction from the problem type when the config leaves them out. */
export function resolveGate(config: ModelConfig): ResolvedGate {
  const defaults = PROBLEM_DEFAULTS[config.problemType];
  const metric = config.gate.metric ?? defaults.metric;
  const direction =
    config.gate.direction ??
    (metric === defaults.metric
      ? defaults.direction
      : MINIMIZED_METRIC.test(metric)
        ? 'minimize'
        : 'maximize');
  return {
    metric,
    direction,
    ...(config.gate.threshold !== undefined ? { threshold: config.gate.threshold } : {}),
    regressionTolerance: config.gate.regressionTolerance,
    approval: config.gate.approval,
  };
}

/** The config a model gets when `models/<model>/config.json` does not exist. */
export function defaultModelConfig(): ModelConfig {
  return modelConfigSchema.parse({});
}

/** Outcome of parsing a config file: a config, or issues naming each bad field. */
export type ConfigParseResult = { ok: true; config: ModelConfig } | { ok: false; problems: string[] };

/**
 * A model's config file merged over the stack's default config, before validation: objects merge
 * recursively, anything else in `over` replaces what `under` holds. The `algorithm` block is
 * replaced whole (its fields depend on its `type`: an image's fields must not leak into xgboost's).
 */
export function mergeModelConfig(
  under: Readonly<Record<string, unknown>>,
  over: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...under };
  for (const [k, v] of Object.entries(over)) {
    const base = Object.hasOwn(out, k) ? out[k] : undefined;
    const value =
      isPlainObject(base) && isPlainObject(v) && k !== 'algorithm' ? mergeModelConfig(base, v) : v;
    // Defined, not assigned: `out.__proto__ = v` would swap the prototype and drop the key unseen;
    // kept as a plain key, parseModelConfig refuses it with its path.
    Object.defineProperty(out, k, { value, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/**
 * Keys refused anywhere in a config: JSON.parse keeps `__proto__` as a plain key, but code that
 * copies objects by assignment (a merge, a spread into a class) reads it as the prototype.
 */
export const FORBIDDEN_CONFIG_KEYS: readonly string[] = ['__proto__', 'constructor', 'prototype'];

/** A config file's JSON value, or the problems that keep it from being read. */
export type ConfigJsonResult = { ok: true; value: unknown } | { ok: false; problems: string[] };

/**
 * Reads a config file's JSON: one leading byte-order mark is dropped (Windows editors save one, and
 * JSON.parse refuses it), then every key named in {@link FORBIDDEN_CONFIG_KEYS} is refused with its
 * path, wherever it is. Never throws.
 */
export function readConfigJson(text: string): ConfigJsonResult {
  let value: unknown;
  try {
    value = JSON.parse(text.startsWith('\uFEFF') ? text.slice(1) : text);
  } catch (error) {
    return { ok: false, problems: [`not valid JSON: ${(error as Error).message}`] };
  }
  const problems = forbiddenKeyPaths(value, []).map(
    (path) =>
      `${path}: the key "${path.split('.').pop()}" is not allowed in a config (it names an object's prototype)`,
  );
  return problems.length ? { ok: false, problems } : { ok: true, value };
}

/** The dotted paths of the forbidden keys inside a JSON value (array items by index). */
function forbiddenKeyPaths(value: unknown, path: readonly string[]): string[] {
  if (Array.isArray(value)) return value.flatMap((item, i) => forbiddenKeyPaths(item, [...path, String(i)]));
  if (!isPlainObject(value)) return [];
  return Object.keys(value).flatMap((key) => [
    ...(FORBIDDEN_CONFIG_KEYS.includes(key) ? [[...path, key].join('.')] : []),
    ...forbiddenKeyPaths(value[key], [...path, key]),
  ]);
}

/**
 * Parses the text of a config file. Never throws: a bad config is a result the caller records
 * against the model, with every problem named by its field path.
 */
export function parseModelConfig(text: string): ConfigParseResult {
  const json = readConfigJson(text);
  if (!json.ok) return json;
  const raw = json.value;
  const parsed = modelConfigSchema.safeParse(raw);
  if (parsed.success) return { ok: true, config: parsed.data };
  return {
    ok: false,
    problems: parsed.error.issues.map(
      (issue) => `${issue.path.length ? issue.path.join('.') : '(root)'}: ${issue.message}`,
    ),
  };
}

/**
 * The rollout strategy in force: the configured one, or the default. The default is `canary` for an
 * instance endpoint of 2 or more instances, and `all_at_once` otherwise: a canary is at least one
 * instance and at most half the fleet, which one instance cannot be, and a serverless variant has
 * no instances to take a share of. All-at-once is still a guarded blue/green update: SageMaker
 * brings the new fleet up, shifts all traffic, bakes for `bakeSeconds` with the rollback alarms
 * armed and rolls back if one fires (Developer Guide, "Use all at once traffic shifting").
 */
export function resolveStrategy(config: {
  readonly deployment: Pick<ModelConfig['deployment'], 'strategy' | 'type' | 'initialInstanceCount'>;
}): 'canary' | 'linear' | 'all_at_once' {
  const d = config.deployment;
  return d.strategy ?? (d.type === 'instance' && d.initialInstanceCount >= 2 ? 'canary' : 'all_at_once');
}

/**
 * SageMaker's documented sizes of a blue/green traffic shift, as shares of the variant's instances
 * (SageMaker API Reference, TrafficRoutingConfig): "CanarySize ... Value must be less than or
 * equal to 50% of the variant's total instance count"; "LinearStepSize ... Value must be 10-50% of
 * the variant's total instance count" (Developer Guide, "Use canary traffic shifting" and "Use
 * linear traffic shifting", say the same of the new fleet's capacity). CapacitySize.Value is at
 * least 1: a canary or a step is at least one instance.
 */
export const BLUE_GREEN_SIZE_LIMITS = {
  canary: { minShare: 0, maxShare: 0.5 },
  linear: { minShare: 0.1, maxShare: 0.5 },
} as const;

/**
 * The instances a canary (or each linear step) turns on: `stepPercent` of the fleet rounded up to
 * whole instances, or why SageMaker would refuse it. Sizes are sent as INSTANCE_COUNT so that the
 * share SageMaker checks is exact (how it rounds a CAPACITY_PERCENT is not documented).
 * `field` says which setting to change: the fleet (`instances`) or the step (`stepPercent`).
 */
export function trafficStepInstances(
  strategy: 'canary' | 'linear',
  stepPercent: number,
  instanceCount: number,
): { ok: true; instances: number } | { ok: false; field: 'instances' | 'stepPercent'; problem: string } {
  const limits = BLUE_GREEN_SIZE_LIMITS[strategy];
  const rule =
    strategy === 'canary'
      ? "a canary must be at most 50% of the variant's instances"
      : "a linear step must be 10-50% of the variant's instances";
  if (!Number.isInteger(instanceCount) || instanceCount < 2) {
    return {
      ok: false,
      field: 'instances',
      problem: `'${strategy}' needs deployment.initialInstanceCount >= 2 (got ${instanceCount}): ${rule} and at least one instance; use 'all_at_once' with one instance`,
    };
  }
  const instances = Math.max(1, Math.ceil((instanceCount * stepPercent) / 100 - 1e-9));
  const share = instances / instanceCount;
  if (share > limits.maxShare || share < limits.minShare) {
    return {
      ok: false,
      field: 'stepPercent',
      problem: `${stepPercent}% of ${instanceCount} instances rounds up to ${instances} instance(s), ${Math.round(share * 100)}% of the fleet; ${rule}`,
    };
  }
  return { ok: true, instances };
}
