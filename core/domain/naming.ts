/**
 * Names: model names users choose, and every AWS resource name derived from them. Where this
 * stands: core domain; ingest validates model names with it, the use cases derive job, model,
 * endpoint and alarm names, and the CDK stack builds its event-rule prefixes from the same prefix.
 *
 * SageMaker names (training job, model, endpoint config, endpoint) share one rule: at most 63
 * characters matching `^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}` (CreateTrainingJob API reference,
 * TrainingJobName). A model name of at most 40 characters from `[a-z0-9-]` keeps every derived
 * name valid with a prefix of at most 8 characters.
 */
import { fnv1a32 } from '../support/hash';
import { RejectionError } from './errors';

/** The rule for model names: lowercase letters, digits and single hyphens, 1 to 40 characters, starting with a letter. */
export const MODEL_NAME_PATTERN = /^[a-z](?:[a-z0-9]|-(?=[a-z0-9])){0,39}$/;
/** The rule for the stack's resource prefix. */
export const RESOURCE_PREFIX_PATTERN = /^[a-z](?:[a-z0-9]|-(?=[a-z0-9])){0,7}$/;

/** Top-level prefixes of the data bucket. */
export const BUCKET_PREFIXES = {
  datasets: 'datasets/',
  models: 'models/',
  prepared: 'prepared/',
  artifacts: 'artifacts/',
  capture: 'capture/',
  reports: 'reports/',
} as const;

/** The marker object that completes a folder dataset. */
export const SUCCESS_MARKER = '_SUCCESS';

/** Explains why a model name is not valid, or returns undefined when it is. */
export function modelNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'the model name is empty';
  if (name.length > 40)
    return `the model name "${name}" has ${name.length} characters; at most 40 are allowed`;
  if (!MODEL_NAME_PATTERN.test(name)) {
    return `the model name "${name}" must use only lowercase letters, digits and single hyphens, start with a letter and not end with a hyphen`;
  }
  return undefined;
}

/** Throws a {@link RejectionError} when `name` is not a valid model name. */
export function assertModelName(name: string): string {
  const problem = modelNameProblem(name);
  if (problem) throw new RejectionError('INVALID_MODEL_NAME', problem);
  return name;
}

/** What an object key under `datasets/` means. */
export type DatasetKey =
  /** `datasets/<model>/<file>`: one file is one dataset. */
  | { readonly kind: 'file'; readonly model: string; readonly key: string; readonly fileName: string }
  /** `datasets/<model>/<dataset-id>/_SUCCESS`: the folder is complete. */
  | {
      readonly kind: 'folder';
      readonly model: string;
      readonly key: string;
      readonly folder: string;
      readonly folderName: string;
    }
  /** A part of a folder dataset, or a folder placeholder: nothing to do until the marker lands. */
  | { readonly kind: 'ignored'; readonly model: string; readonly key: string; readonly why: string };

/**
 * Classifies an object key under `datasets/`. The model name is validated; a key outside
 * `datasets/<model>/...` or with an invalid model name is a {@link RejectionError}.
 */
export function parseDatasetKey(key: string): DatasetKey {
  if (!key.startsWith(BUCKET_PREFIXES.datasets)) {
    throw new RejectionError('INVALID_KEY', `the object "${key}" is not under ${BUCKET_PREFIXES.datasets}`);
  }
  const parts = key.slice(BUCKET_PREFIXES.datasets.length).split('/');
  const model = parts[0] ?? '';
  if (parts.length < 2) {
    throw new RejectionError(
      'INVALID_KEY',
      `the object "${key}" must be inside a model folder: datasets/<model>/<file>`,
    );
  }
  assertModelName(model);
  const rest = parts.slice(1);
  const last = rest[rest.length - 1] ?? '';
  if (last === '') return { kind: 'ignored', model, key, why: 'folder placeholder' };
  if (rest.length === 1) {
    if (last === SUCCESS_MARKER)
      return {
        kind: 'ignored',
        model,
        key,
        why: `a ${SUCCESS_MARKER} marker must be inside a dataset folder`,
      };
    return { kind: 'file', model, key, fileName: last };
  }
  if (last === SUCCESS_MARKER) {
    const folderName = rest.slice(0, -1).join('/');
    return {
      kind: 'folder',
      model,
      key,
      folder: `${BUCKET_PREFIXES.datasets}${model}/${folderName}/`,
      folderName,
    };
  }
  return {
    kind: 'ignored',
    model,
    key,
    why: `part of a folder dataset; work starts on its ${SUCCESS_MARKER} marker`,
  };
}

/** Key of a model's config file. */
export function modelConfigKey(model: string): string {
  return `${BUCKET_PREFIXES.models}${model}/config.json`;
}

/** Zero-padded version number as used in sort keys and prefixes. */
export function padVersion(version: number): string {
  return String(version).padStart(6, '0');
}

/** The S3 keys of a dataset's prepared channels and of its training schema (`{ label, features }`). */
export function preparedKeys(
  model: string,
  datasetId: string,
): { train: string; validation: string; schema: string } {
  const base = `${BUCKET_PREFIXES.prepared}${model}/${datasetId}`;
  return {
    train: `${base}/train/train.csv`,
    validation: `${base}/validation/validation.csv`,
    schema: `${base}/schema.json`,
  };
}

/**
 * Where a dataset's data-quality reports live (Model Monitor's formats): written by ingest, read as
 * the baseline by the data-quality gate and the live drift monitor.
 */
export function reportKeys(
  model: string,
  datasetId: string,
): { statistics: string; constraints: string; violations: string } {
  const base = `${BUCKET_PREFIXES.reports}${model}/${datasetId}/`;
  return {
    statistics: `${base}statistics.json`,
    constraints: `${base}constraints.json`,
    violations: `${base}constraint_violations.json`,
  };
}

/** Where a model's live-monitoring reports live: one folder per window, named by the window's id. */
export function monitoringReportsPrefix(model: string): string {
  return `${BUCKET_PREFIXES.reports}${model}/monitoring/`;
}

/** The keys of a model's live-monitoring reports for one window. */
export function monitoringReportKeys(
  model: string,
  windowId: string,
): { statistics: string; summary: string } {
  const base = `${monitoringReportsPrefix(model)}${windowId}`;
  return { statistics: `${base}/statistics.json`, summary: `${base}/drift.json` };
}

/** The S3 prefix training output (model.tar.gz) goes to. */
export function artifactPrefix(model: string): string {
  return `${BUCKET_PREFIXES.artifacts}${model}/`;
}

/** The S3 prefix endpoint data capture goes to. */
export function capturePrefix(model: string): string {
  return `${BUCKET_PREFIXES.capture}${model}/`;
}

/** Deterministic AWS resource names for a model and its versions. */
export class ResourceNames {
  constructor(readonly prefix: string) {
    if (!RESOURCE_PREFIX_PATTERN.test(prefix)) {
      throw new Error(
        `resource prefix "${prefix}" must be 1-8 lowercase letters, digits or single hyphens, starting with a letter`,
      );
    }
  }

  /**
   * The training job of a version. The short dataset suffix keeps names unique even if the
   * registry is recreated (SageMaker never lets a training job name be reused).
   */
  trainingJob(model: string, version: number, datasetId: string): string {
    return `${this.prefix}-${model}-v${version}-${shortHash(datasetId)}`;
  }

  /** The SageMaker model and endpoint config of a version share the training job's name. */
  sageMakerModel(model: string, version: number, datasetId: string): string {
    return this.trainingJob(model, version, datasetId);
  }

  endpointConfig(model: string, version: number, datasetId: string): string {
    return this.trainingJob(model, version, datasetId);
  }

  /** One stable endpoint per model. */
  endpoint(model: string): string {
    return `${this.prefix}-${model}`;
  }

  /**
   * The model's alarms; all start with {@link alarmPrefix} so the alarm rule can match them. The
   * endpoint alarms (latency, invocations, error rate) watch SageMaker's metrics; the drift alarms
   * (feature drift, prediction drift) watch the drift monitor's metrics and are never rollback
   * alarms (drift is measured hourly, long after a rollout's bake time).
   */
  alarms(model: string): {
    latency: string;
    invocations: string;
    errorRate: string;
    featureDrift: string;
    predictionDrift: string;
  } {
    return {
      latency: `${this.alarmPrefix()}${model}-latency-anomaly`,
      invocations: `${this.alarmPrefix()}${model}-invocations-anomaly`,
      errorRate: `${this.alarmPrefix()}${model}-error-rate`,
      featureDrift: `${this.alarmPrefix()}${model}-feature-drift`,
      predictionDrift: `${this.alarmPrefix()}${model}-prediction-drift`,
    };
  }

  /** Every alarm the product creates starts with this. */
  alarmPrefix(): string {
    return `${this.prefix}-`;
  }

  /** Recovers the model from one of our endpoint names, or undefined when it is not ours. */
  modelFromEndpoint(endpointName: string): string | undefined {
    const head = `${this.prefix}-`;
    if (!endpointName.startsWith(head)) return undefined;
    const model = endpointName.slice(head.length);
    return MODEL_NAME_PATTERN.test(model) ? model : undefined;
  }

  /** Recovers the model from one of our alarm names, or undefined when it is not ours. */
  modelFromAlarm(alarmName: string): string | undefined {
    const match = new RegExp(
      `^${this.prefix}-(.+)-(latency-anomaly|invocations-anomaly|error-rate|feature-drift|prediction-drift)$`,
    ).exec(alarmName);
    const model = match?.[1];
    return model && MODEL_NAME_PATTERN.test(model) ? model : undefined;
  }

  /** Recovers model and version from one of our training job names. */
  parseTrainingJob(jobName: string): { model: string; version: number } | undefined {
    const match = new RegExp(`^${this.prefix}-(.+)-v(\\d+)-[0-9a-f]{4}$`).exec(jobName);
    const model = match?.[1];
    const version = Number(match?.[2]);
    return model && MODEL_NAME_PATTERN.test(model) && Number.isSafeInteger(version)
      ? { model, version }
      : undefined;
  }
}

/**
 * Decodes a key the way S3 encodes it in event notifications (`+` for space, `%XX` escapes);
 * a key that does not decode is returned as it is.
 */
export function decodeEventKey(key: string): string {
  try {
    return decodeURIComponent(key.replace(/\+/g, ' '));
  } catch {
    return key;
  }
}

/** Four hex characters of FNV-1a over the text: short, stable, no crypto import needed in core. */
export function shortHash(text: string): string {
  return (fnv1a32(text) & 0xffff).toString(16).padStart(4, '0');
}
