/**
 * Use case component: how a version's training starts, shared by ingest (a new dataset) and
 * RetrainModel (a dataset already registered), so a retrained version is trained exactly as an
 * uploaded one. Where this stands: core; the model's config as ingest reads it, the version record
 * it registers, and the training job it starts (with the refusal recorded as ingest records it).
 */
import {
  mergeModelConfig,
  parseModelConfig,
  readConfigJson,
  resolveGate,
  type ModelConfig,
} from '../domain/model-config';
import { artifactPrefix, modelConfigKey } from '../domain/naming';
import type { DatasetRecord, VersionOrigin, VersionRecord } from '../domain/registry';
import { RejectionError } from '../domain/errors';
import { trainingPlan, type TrainingPlan } from '../domain/training-plan';
import { isPlainObject } from '../support/objects';
import { TrainingRequestRejected, type TrainingJobSpec } from '../ports/training-service';
import { auditId, type MlopsContext } from './context';
import { NotificationOutbox } from './notification-outbox';

/** The model's config, or every problem with it (each naming its field). */
export type LoadedConfig = { ok: true; config: ModelConfig } | { ok: false; problems: string[] };

/**
 * The model's config file (`models/<model>/config.json`) merged over the stack's defaults; the
 * defaults alone when there is no file.
 */
export async function loadModelConfig(ctx: MlopsContext, model: string): Promise<LoadedConfig> {
  const text = await ctx.objects.readText(ctx.bucket, modelConfigKey(model));
  const defaults = ctx.defaultModelConfig ?? {};
  if (text === undefined) {
    const parsed = parseModelConfig(JSON.stringify(defaults));
    return parsed.ok ? parsed : { ok: false, problems: parsed.problems.map((p) => `stack default ${p}`) };
  }
  // Read as parseModelConfig reads it: a leading BOM dropped, `__proto__` keys refused by path.
  const json = readConfigJson(text);
  if (!json.ok) return json;
  const raw = json.value;
  if (!isPlainObject(raw)) return { ok: false, problems: ['(root): must be a JSON object'] };
  return parseModelConfig(JSON.stringify(mergeModelConfig(defaults, raw)));
}

/**
 * Why the config cannot be trained, or undefined when it can: the training plan refuses it with a
 * {@link RejectionError} (a multiclass model without `num_class`, say). A refusal is permanent, so a
 * caller records it as a rejection before it registers anything; thrown from a version's
 * registration it was retried as a transient fault, then dead-lettered with no record.
 */
export function trainingConfigProblem(
  ctx: Pick<MlopsContext, 'region'>,
  config: ModelConfig,
): string | undefined {
  const plan = planOf(config, ctx.region);
  return plan.ok ? undefined : plan.problem;
}

/** The training plan, or the plan's refusal of the config as a problem. */
function planOf(
  config: ModelConfig,
  region: string,
): { ok: true; plan: TrainingPlan } | { ok: false; problem: string } {
  try {
    return { ok: true, plan: trainingPlan(config, region) };
  } catch (error) {
    if (error instanceof RejectionError) return { ok: false, problem: error.message };
    throw error;
  }
}

/** The TRAINING version record a registration builds once the store allocated its number. */
export function trainingVersion(
  ctx: MlopsContext,
  request: {
    readonly model: string;
    readonly version: number;
    readonly datasetId: string;
    readonly config: ModelConfig;
    readonly at: string;
    readonly origin?: VersionOrigin;
  },
): VersionRecord {
  const { model, version, datasetId, config, at } = request;
  const plan = trainingPlan(config, ctx.region);
  return {
    model,
    version,
    status: 'TRAINING',
    datasetId,
    trainingJobName: ctx.names.trainingJob(model, version, datasetId),
    image: plan.image,
    hyperparameters: plan.hyperparameters,
    objectiveMetric: resolveGate(config).metric,
    ...(request.origin ? { origin: request.origin } : {}),
    createdAt: at,
    updatedAt: at,
  };
}

/** What starting a version's training job came to. */
export type TrainingStart =
  | { readonly kind: 'training'; readonly jobName: string }
  | { readonly kind: 'training-failed'; readonly reason: string };

/**
 * Starts the version's training job on the dataset's prepared channels (CreateTrainingJob is
 * idempotent by the version's job name, so a retried start is harmless). A refusal by the training
 * service, or by the training plan (a config that changed since the version was registered), moves
 * the version TRAINING -> FAILED with its notification, delivered at once; any other error is
 * thrown, so the caller's event is retried.
 * @param actor who starts it, for the audit line of a refusal (`ingest`, `retrain`)
 */
export async function startTraining(
  ctx: MlopsContext,
  version: VersionRecord,
  dataset: DatasetRecord,
  config: ModelConfig,
  actor: string,
): Promise<TrainingStart> {
  const { model, datasetId } = dataset;
  const planned = planOf(config, ctx.region);
  if (!planned.ok)
    return failTraining(
      ctx,
      version,
      datasetId,
      actor,
      `training job ${version.trainingJobName} cannot start: ${planned.problem}`,
    );
  const plan = planned.plan;
  const spec: TrainingJobSpec = {
    jobName: version.trainingJobName,
    model,
    version: version.version,
    image: version.image,
    metricDefinitions: plan.metricDefinitions,
    hyperparameters: version.hyperparameters,
    trainUri: dataset.preparedTrainUri!.replace(/[^/]+$/, ''),
    validationUri: dataset.preparedValidationUri!.replace(/[^/]+$/, ''),
    outputUri: `s3://${ctx.bucket}/${artifactPrefix(model)}`,
    instanceType: config.training.instanceType,
    instanceCount: config.training.instanceCount,
    volumeSizeGb: config.training.volumeSizeGb,
    maxRuntimeSeconds: config.training.maxRuntimeSeconds,
    spot: config.training.spot,
    ...(config.training.spot
      ? { maxWaitSeconds: config.training.maxWaitSeconds ?? config.training.maxRuntimeSeconds }
      : {}),
    tags: { 'mlops:model': model, 'mlops:version': String(version.version), 'mlops:dataset': datasetId },
  };
  try {
    const started = await ctx.training.startTrainingJob(spec);
    ctx.log.info('training job requested', {
      model,
      version: version.version,
      jobName: spec.jobName,
      result: started,
    });
    return { kind: 'training', jobName: spec.jobName };
  } catch (error) {
    if (!(error instanceof TrainingRequestRejected)) throw error;
    return failTraining(
      ctx,
      version,
      datasetId,
      actor,
      `SageMaker refused the training job ${spec.jobName}: ${error.message}`,
    );
  }
}

/** TRAINING -> FAILED with `reason` and its notification (delivered at once): the start is refused for good. */
async function failTraining(
  ctx: MlopsContext,
  version: VersionRecord,
  datasetId: string,
  actor: string,
  reason: string,
): Promise<TrainingStart> {
  const { model } = version;
  const at = ctx.clock.now().toISOString();
  await ctx.registry.transitionVersion({
    model,
    version: version.version,
    from: ['TRAINING'],
    to: 'FAILED',
    set: { failureReason: reason, updatedAt: at },
    audit: {
      model,
      at,
      eventId: auditId('TRAINING_FAILED', datasetId, version.version),
      type: 'TRAINING_FAILED',
      actor,
      version: version.version,
      from: 'TRAINING',
      to: 'FAILED',
      reason,
      notification: {
        kind: 'training-failed',
        model,
        subject: `${model} v${version.version}: training could not start`,
        message: reason,
      },
    },
  });
  // Moved here or by an earlier delivery: either way, what is pending goes out now.
  await new NotificationOutbox(ctx).flush(model);
  return { kind: 'training-failed', reason };
}
