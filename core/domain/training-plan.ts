/**
 * What a training job runs for a model config: the image, the hyperparameters as SageMaker takes
 * them, and the metric regexes; and where a script bundle may live. Where this stands: core domain
 * (pure); ingest builds the version record and the training job spec from it.
 */
import { builtInXgboostHyperparameters, xgboostImageUri } from './algorithm-images';
import type { ModelConfig } from './model-config';

/** The training image, hyperparameters and metric regexes of a model's training jobs. */
export interface TrainingPlan {
  readonly image: string;
  readonly hyperparameters: Record<string, string>;
  readonly metricDefinitions: { name: string; regex: string }[];
}

/** The training image, hyperparameters and metric regexes the config asks for, in `region`. */
export function trainingPlan(config: ModelConfig, region: string): TrainingPlan {
  const algorithm = config.algorithm;
  switch (algorithm.type) {
    case 'xgboost':
      return {
        image: xgboostImageUri(region, algorithm.version),
        hyperparameters: builtInXgboostHyperparameters(config),
        metricDefinitions: [],
      };
    case 'image':
      return {
        image: algorithm.imageUri,
        hyperparameters: stringify(config.hyperparameters, false),
        metricDefinitions: algorithm.metricDefinitions,
      };
    case 'script':
      // SageMaker's framework containers JSON-decode every hyperparameter (as the SageMaker Python
      // SDK encodes them), and find the script through sagemaker_program / sagemaker_submit_directory.
      return {
        image: algorithm.imageUri,
        hyperparameters: {
          ...stringify(config.hyperparameters, true),
          sagemaker_program: JSON.stringify(algorithm.entryPoint),
          sagemaker_submit_directory: JSON.stringify(algorithm.sourceUri),
        },
        metricDefinitions: algorithm.metricDefinitions,
      };
  }
}

/**
 * Why a script config's bundle cannot be used, or undefined when it can (or the config is no
 * script). Script bundles must live in the data bucket under `models/<model>/code/`: the only place
 * the SageMaker execution role may read them from.
 */
export function scriptSourceProblem(config: ModelConfig, bucket: string, model: string): string | undefined {
  if (config.algorithm.type !== 'script') return undefined;
  const expected = `s3://${bucket}/models/${model}/code/`;
  return config.algorithm.sourceUri.startsWith(expected)
    ? undefined
    : `algorithm.sourceUri: must be under ${expected} (where SageMaker may read it)`;
}

function stringify(
  values: Readonly<Record<string, string | number | boolean>>,
  json: boolean,
): Record<string, string> {
  return Object.fromEntries(
    Object.entries(values).map(([k, v]) => [k, json ? JSON.stringify(v) : String(v)]),
  );
}
