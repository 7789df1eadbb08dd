/**
 * RetrainModel on the memory context: a new version from a registered dataset, trained on its
 * prepared channels exactly as ingest trains (the CreateTrainingJob requests compared), with no
 * upload; idempotent on the request id; refusals that change nothing.
 */
import { SageMakerServiceException } from '@aws-sdk/client-sagemaker';
import { describe, expect, it } from 'vitest';
import { IngestDataset } from '../../../core/use-cases/ingest-dataset';
import { RetrainModel } from '../../../core/use-cases/retrain-model';
import { trainVersion, useMemoryContext, type MemoryContext } from '../../support/memory-context';

const MODEL = 'churn';

const retrain = (m: MemoryContext, fields: { datasetId?: string; requestId?: string } = {}) =>
  new RetrainModel(m).execute({
    model: MODEL,
    actor: 'alice',
    requestId: 'r1',
    reason: 'new config',
    ...fields,
  });

describe('RetrainModel', () => {
  const memory = useMemoryContext();

  it('trains a new version from the latest accepted dataset, as ingest trains, with no upload', async () => {
    const m = memory();
    await trainVersion(m, MODEL, {}, 0.8);
    const v2 = await trainVersion(m, MODEL, {}, 0.85);
    const objects = (await m.objects.list(m.bucket, 'datasets/')).length;

    const outcome = await retrain(m);

    expect(outcome).toEqual({
      kind: 'training',
      version: 3,
      created: true,
      datasetId: v2.datasetId,
      jobName: m.names.trainingJob(MODEL, 3, v2.datasetId),
      status: 'TRAINING',
    });
    expect(await m.registry.getVersion(MODEL, 3)).toMatchObject({
      status: 'TRAINING',
      datasetId: v2.datasetId,
      origin: { kind: 'retrain', by: 'alice', reason: 'new config' },
    });
    // The same request as ingest's for v2, but for the version's own job name and tags.
    const [, second, third] = m.trainingRequests();
    const same = (request: typeof second) => ({
      ...request,
      TrainingJobName: undefined,
      Tags: undefined,
    });
    expect(same(third)).toEqual(same(second));
    expect(third!.TrainingJobName).toBe(outcome.kind === 'training' ? outcome.jobName : '');
    expect((await m.objects.list(m.bucket, 'datasets/')).length).toBe(objects);
    expect((await m.registry.listAudit(MODEL)).filter((a) => a.eventId === 'RETRAIN:r1')).toEqual([
      expect.objectContaining({ actor: 'alice', version: 3, to: 'TRAINING' }),
    ]);
  });

  it('a retried request returns the same version and starts no second job', async () => {
    const m = memory();
    await trainVersion(m, MODEL, {}, 0.8);
    await retrain(m);
    expect(await retrain(m)).toMatchObject({ kind: 'training', version: 2, created: false });
    expect(m.trainingJobs()).toHaveLength(2);
    expect(await m.registry.listVersions(MODEL)).toHaveLength(2);
    expect(await retrain(m, { requestId: 'r2' })).toMatchObject({ version: 3, created: true });
  });

  it('trains from the dataset named, an older one', async () => {
    const m = memory();
    const v1 = await trainVersion(m, MODEL, {}, 0.8);
    await trainVersion(m, MODEL, {}, 0.85);
    expect(await retrain(m, { datasetId: v1.datasetId })).toMatchObject({
      version: 3,
      datasetId: v1.datasetId,
    });
  });

  it('refuses an unknown model or dataset, a rejected dataset, an invalid config, and writes nothing', async () => {
    const m = memory();
    expect(await new RetrainModel(m).execute({ model: 'nobody', actor: 'a', requestId: 'x' })).toMatchObject({
      kind: 'refused',
      code: 'not-found',
    });
    await trainVersion(m, MODEL, {}, 0.8);
    const rejected = await new IngestDataset(m).execute(
      await m.upload(`datasets/${MODEL}/empty.csv`, 'a,b\n1,2\n'),
    );
    expect(rejected.kind).toBe('rejected');
    const rejectedId = rejected.kind === 'rejected' ? rejected.datasetId : '';
    expect(await retrain(m, { datasetId: 'missing' })).toEqual({
      kind: 'refused',
      code: 'not-found',
      reason: 'churn has no dataset "missing"',
    });
    expect(await retrain(m, { datasetId: rejectedId })).toMatchObject({
      kind: 'refused',
      code: 'conflict',
      reason: expect.stringContaining('was rejected') as string,
    });
    await m.putModelConfig(MODEL, { labelColumn: 'churned', training: { instanceCount: 0 } });
    expect(await retrain(m)).toMatchObject({
      kind: 'refused',
      code: 'conflict',
      reason: expect.stringContaining('training.instanceCount') as string,
    });
    // Valid as a config, but not trainable: the training plan's refusal, before anything is written.
    await m.putModelConfig(MODEL, { labelColumn: 'churned', problemType: 'multiclass_classification' });
    expect(await retrain(m)).toMatchObject({
      kind: 'refused',
      code: 'conflict',
      reason: expect.stringContaining('num_class') as string,
    });
    expect(await m.registry.listVersions(MODEL)).toHaveLength(1);
    expect(m.trainingJobs()).toHaveLength(1);
  });

  it('records a job the training service refuses: the version FAILED, with its notification', async () => {
    const m = memory();
    await trainVersion(m, MODEL, {}, 0.8);
    m.aws.createTrainingJobFaults.push(
      new SageMakerServiceException({
        name: 'ValidationException',
        $fault: 'client',
        message: 'Instance type ml.m5.large is not supported for spot',
        $metadata: {},
      }),
    );
    expect(await retrain(m)).toMatchObject({ kind: 'training-failed', version: 2 });
    expect(await m.registry.getVersion(MODEL, 2)).toMatchObject({ status: 'FAILED' });
    expect(m.notifications().at(-1)).toMatchObject({ kind: 'training-failed' });
  });
});
