/**
 * Use case: train a new version of a model from a dataset already registered, without uploading it
 * again. Where this stands: core use case, run by OperateModel (`mlops retrain`) and by the
 * `retrain` alarm policy (ProcessAlarmChange).
 *
 * The dataset is an ACCEPTED one of the model (the given id, or the latest accepted), whose
 * prepared channels ingest wrote. The model's config is read as ingest reads it (a config changed
 * since is what a retrain is often for) and the version is registered and its training job started
 * exactly as ingest does (training-start.ts); from there the pipeline takes it: training events, the
 * gate against the champion, the rollout. Idempotent on `requestId`: a retried request returns the
 * version the first one made (`created: false`) and makes sure its training job was started.
 */
import { scriptSourceProblem } from '../domain/training-plan';
import type { DatasetRecord, VersionRecord } from '../domain/registry';
import { modelConfigKey } from '../domain/naming';
import { auditId, type MlopsContext } from './context';
import { loadModelConfig, startTraining, trainingConfigProblem, trainingVersion } from './training-start';

/** What a retrain asks for. */
export interface RetrainRequest {
  readonly model: string;
  /** The dataset to train on; default: the model's latest accepted dataset. */
  readonly datasetId?: string;
  /** Who asks: an operator's identity, or `alarm-policy`. */
  readonly actor: string;
  /** The same id on a retried request makes no second version. */
  readonly requestId: string;
  readonly reason?: string;
  /** The incident this retrain remedies (the alarm policy's). */
  readonly incidentId?: string;
}

/**
 * What a retrain did: `training` (the version and its job; `created: false` when the request id
 * had made it already), `training-failed` (the training service refused the job: the version is
 * FAILED), or `refused` (`not-found`: the model or the dataset; `conflict`: the dataset was rejected
 * or the model's config is invalid), which changes nothing.
 */
export type RetrainOutcome =
  | {
      readonly kind: 'training';
      readonly version: number;
      readonly created: boolean;
      readonly datasetId: string;
      readonly jobName: string;
      readonly status: VersionRecord['status'];
    }
  | {
      readonly kind: 'training-failed';
      readonly version: number;
      readonly datasetId: string;
      readonly reason: string;
    }
  | { readonly kind: 'refused'; readonly code: 'not-found' | 'conflict'; readonly reason: string };

/** The model's newest accepted dataset with prepared channels, or undefined. */
export async function latestAcceptedDataset(
  ctx: MlopsContext,
  model: string,
): Promise<DatasetRecord | undefined> {
  const datasets = (await ctx.registry.listDatasets(model)).filter(trainable);
  return datasets.sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : 0)).at(-1);
}

/** Trains a new version from a registered dataset. */
export class RetrainModel {
  constructor(private readonly ctx: MlopsContext) {}

  async execute(request: RetrainRequest): Promise<RetrainOutcome> {
    const { ctx } = this;
    const { model } = request;
    if (!(await ctx.registry.getModel(model)))
      return refused('not-found', `model "${model}" is not registered`);
    let dataset: DatasetRecord | undefined;
    if (request.datasetId !== undefined) {
      dataset = await ctx.registry.getDataset(model, request.datasetId);
      if (!dataset) return refused('not-found', `${model} has no dataset "${request.datasetId}"`);
      if (!trainable(dataset))
        return refused(
          'conflict',
          `dataset "${dataset.datasetId}" of ${model} was ${dataset.rejection ? `rejected (${dataset.rejection.code}: ${dataset.rejection.reason})` : 'never prepared for training'}; retrain from an accepted one`,
        );
    } else {
      dataset = await latestAcceptedDataset(ctx, model);
      if (!dataset) return refused('not-found', `${model} has no accepted dataset to retrain from`);
    }

    const loaded = await loadModelConfig(ctx, model);
    // The same refusals as ingest's, before anything is registered: a bad script source, or a
    // config the training plan cannot train (a multiclass model without num_class).
    const problem = loaded.ok
      ? (scriptSourceProblem(loaded.config, ctx.bucket, model) ?? trainingConfigProblem(ctx, loaded.config))
      : loaded.problems.join('; ');
    if (!loaded.ok || problem)
      return refused('conflict', `${modelConfigKey(model)} is invalid: ${problem}; fix it, then retrain`);
    const config = loaded.config;
    const at = ctx.clock.now().toISOString();
    // As ingest does: the config the version is trained with is the one the gate and rollout read.
    await ctx.registry.saveModelConfig(model, config, at);

    const why = request.reason ?? 'retrain requested';
    const registered = await ctx.registry.registerRetrainVersion({
      model,
      datasetId: dataset.datasetId,
      requestId: request.requestId,
      buildVersion: (version) =>
        trainingVersion(ctx, {
          model,
          version,
          datasetId: dataset.datasetId,
          config,
          at,
          origin: {
            kind: 'retrain',
            by: request.actor,
            reason: why,
            ...(request.incidentId !== undefined ? { incidentId: request.incidentId } : {}),
          },
        }),
      audit: {
        model,
        at,
        eventId: auditId('RETRAIN', request.requestId),
        type: 'VERSION_CREATED',
        actor: request.actor,
        to: 'TRAINING',
        reason: `retrain from dataset ${dataset.datasetId} (${dataset.profile?.rows ?? '?'} rows, no upload): ${why}; training starts`,
      },
    });
    const version = registered.version;
    if (!version) throw new Error(`registry returned no version for retrain request ${request.requestId}`);
    // A retried request: the first one's version, trained from the dataset that request chose.
    const source =
      version.datasetId === dataset.datasetId
        ? dataset
        : await ctx.registry.getDataset(model, version.datasetId);
    if (version.status === 'TRAINING' && source) {
      const started = await startTraining(ctx, version, source, config, 'retrain');
      if (started.kind === 'training-failed')
        return {
          kind: 'training-failed',
          version: version.version,
          datasetId: source.datasetId,
          reason: started.reason,
        };
    }
    return {
      kind: 'training',
      version: version.version,
      created: registered.created,
      datasetId: version.datasetId,
      jobName: version.trainingJobName,
      // As read when registered: a retried request's version may have moved on since.
      status: version.status,
    };
  }
}

/** An accepted dataset whose prepared channels exist: what a training job reads. */
function trainable(dataset: DatasetRecord): boolean {
  return (
    dataset.status === 'ACCEPTED' &&
    dataset.preparedTrainUri !== undefined &&
    dataset.preparedValidationUri !== undefined
  );
}

function refused(code: 'not-found' | 'conflict', reason: string): RetrainOutcome {
  return { kind: 'refused', code, reason };
}
