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
  const given = config.algorithm.sourceUri;
  // The prefix is checked on the URI as a file system or a decoding client would resolve it:
  // `models/m/code/../../x/` starts with the prefix but names x/ (the local cloud ran it).
  const normalised = normaliseS3Uri(given);
  if (normalised === undefined)
    return `algorithm.sourceUri: ${given} holds a malformed percent-escape; write the key as it is`;
  if (!normalised.startsWith(expected) || normalised.length === expected.length)
    return `algorithm.sourceUri: must be under ${expected} (where SageMaker may read it)${normalised === given ? '' : `; ${given} resolves to ${normalised}`}`;
  // Inside, but written another way: S3 would fetch the key as written, not the one checked.
  if (normalised !== given)
    return `algorithm.sourceUri: write it as ${normalised} (no percent-escapes, backslashes, repeated slashes or "." and ".." segments), so that the object checked is the object SageMaker reads`;
  return undefined;
}

/** How many rounds of percent-decoding are undone (`%252e` is `%2e` is `.`) before giving up. */
const MAX_DECODE_ROUNDS = 4;

/**
 * An `s3://bucket/key` URI resolved as a path: percent-escapes decoded (repeatedly, so a
 * double-encoded `..` is seen), backslashes read as slashes, repeated slashes collapsed, `.`
 * segments dropped and `..` segments applied (never above the bucket). A trailing slash is kept.
 * Undefined when a percent-escape is malformed or the key still holds one after
 * {@link MAX_DECODE_ROUNDS} rounds.
 */
export function normaliseS3Uri(uri: string): string | undefined {
  let text = uri;
  for (let round = 0; text.includes('%'); round++) {
    if (round === MAX_DECODE_ROUNDS) return undefined;
    try {
      text = decodeURIComponent(text);
    } catch {
      return undefined;
    }
  }
  text = text.replace(/\\/g, '/');
  const match = /^s3:\/+([^/]*)\/?(.*)$/i.exec(text);
  if (!match) return text;
  const [, bucket, key] = match;
  const segments: string[] = [];
  for (const segment of key!.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const trailing = /\/(\.{1,2})?$/.test(key!) && segments.length > 0 ? '/' : '';
  return `s3://${bucket}/${segments.join('/')}${trailing}`;
}

function stringify(
  values: Readonly<Record<string, string | number | boolean>>,
  json: boolean,
): Record<string, string> {
  return Object.fromEntries(
    Object.entries(values).map(([k, v]) => [k, json ? JSON.stringify(v) : String(v)]),
  );
}
