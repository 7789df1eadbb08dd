/**
 * A rollout whose endpoint call SageMaker refuses for good (a ValidationException that is not about
 * an endpoint busy with another change) must not wedge the model: the version ends DEPLOY_FAILED
 * with SageMaker's reason, the rollout lock is released, a notification goes out, and the next
 * approved version of the model rolls out. Redelivered events for the failed version do nothing.
 * (ResourceLimitExceeded is refused the same way; the journal has no fault of that kind, so the
 * adapter's unit tests cover it.)
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { VersionRecord } from '../../core/domain/registry';
import type { MlopsContext } from '../../core/use-cases/context';
import { createEndpointEventsHandler } from '../../lambdas/endpoint-events/handler';
import { createIngestHandler } from '../../lambdas/ingest/handler';
import { createTrainingEventsHandler } from '../../lambdas/training-events/handler';
import {
  churnCsv,
  endpointEvent,
  lambdaContext,
  sqsBatch,
  startPipelineHarness,
  trainingEvent,
  type PipelineHarness,
} from '../support/pipeline-harness';

let harness: PipelineHarness;
let ctx: MlopsContext;
let ingest: ReturnType<typeof createIngestHandler>;
let training: ReturnType<typeof createTrainingEventsHandler>;
let endpoints: ReturnType<typeof createEndpointEventsHandler>;

beforeAll(async () => {
  harness = await startPipelineHarness();
  ctx = harness.context();
  ingest = createIngestHandler(() => ctx);
  training = createTrainingEventsHandler(() => ctx);
  endpoints = createEndpointEventsHandler(() => ctx);
});
afterAll(async () => harness?.stop());

/** Drops a dataset for `model`, ingests it and finishes its training job with `auc`. */
async function trained(model: string, seed: number, auc: number): Promise<VersionRecord> {
  const event = await harness.upload(
    `datasets/${model}/batch-${seed}.csv`,
    churnCsv(300, seed).replace('churned', 'label'),
  );
  expect((await ingest(sqsBatch(event), lambdaContext)).batchItemFailures).toEqual([]);
  const version = (await ctx.registry.listVersions(model)).at(-1)!;
  harness.aws.finishJob(version.trainingJobName, { metrics: { 'validation:auc': auc } });
  return version;
}

/** The version's training event is delivered, its rollout settles in service and it is promoted. */
async function toProduction(model: string, version: VersionRecord): Promise<void> {
  await training(trainingEvent(version.trainingJobName), lambdaContext);
  harness.aws.settleEndpoint(`mlops-${model}`, 'in-service');
  expect(await endpoints(endpointEvent(`mlops-${model}`), lambdaContext)).toMatchObject({
    kind: 'promoted',
    version: version.version,
  });
}

/** UpdateEndpoint calls that roll `version`'s config out. */
function updatesTo(version: VersionRecord): number {
  const config = ctx.names.endpointConfig(version.model, version.version, version.datasetId);
  return harness.journal.calls.filter(
    (c) => c.operation === 'UpdateEndpoint' && c.input['EndpointConfigName'] === config,
  ).length;
}

/** Notifications published for `model` v`n`. */
function notices(model: string, n: number): string[] {
  return harness.journal.calls
    .filter((c) => c.service === 'sns' && c.operation === 'Publish')
    .map((c) => String(c.input['Subject']))
    .filter((subject) => subject.startsWith(`${model} v${n}:`));
}

it('a refused UpdateEndpoint ends the version DEPLOY_FAILED and frees the model; the next version deploys', async () => {
  const model = 'refused';
  await toProduction(model, await trained(model, 1, 0.93));

  const v2 = await trained(model, 2, 0.93);
  harness.journal.injectFault('sagemaker', 'UpdateEndpoint', 'validation');
  const outcome = await training(trainingEvent(v2.trainingJobName), lambdaContext);
  expect(harness.journal.pendingFaults()).toBe(0);
  expect(outcome).toMatchObject({ kind: 'deploying', deploy: { kind: 'failed' } });
  const failed = await ctx.registry.getVersion(model, v2.version);
  expect(failed?.status).toBe('DEPLOY_FAILED');
  expect(failed?.failureReason).toMatch(/UpdateEndpoint.*ValidationException.*1 validation error detected/);
  const model1 = await ctx.registry.getModel(model);
  expect(model1?.challenger).toBeUndefined();
  expect(model1?.champion).toBe(1);
  expect(notices(model, v2.version)).toEqual([`${model} v${v2.version}: deployment failed`]);
  const audit = await ctx.registry.listAudit(model);
  expect(audit.filter((a) => a.type === 'DEPLOY_FAILED' && a.version === v2.version)).toHaveLength(1);

  // Redelivered events for the failed version change nothing and call nothing again.
  expect(await training(trainingEvent(v2.trainingJobName), lambdaContext)).toMatchObject({
    kind: 'already-processed',
    status: 'DEPLOY_FAILED',
  });
  expect(await endpoints(endpointEvent(`mlops-${model}`), lambdaContext)).toMatchObject({ kind: 'ignored' });
  expect(updatesTo(v2)).toBe(1);
  expect(notices(model, v2.version)).toHaveLength(1);

  // The model is not wedged: the next approved version rolls out and reaches PRODUCTION.
  const v3 = await trained(model, 3, 0.94);
  await toProduction(model, v3);
  expect((await ctx.registry.getVersion(model, v3.version))?.status).toBe('PRODUCTION');
  expect((await ctx.registry.getVersion(model, v2.version))?.status).toBe('DEPLOY_FAILED');
  expect(await ctx.registry.getModel(model)).toMatchObject({ champion: v3.version });
  expect((await ctx.registry.getModel(model))?.challenger).toBeUndefined();
});

it('a version approved while the refused one held the lock rolls out as soon as the refusal is recorded', async () => {
  const model = 'queued';
  await toProduction(model, await trained(model, 11, 0.93));
  const v2 = await trained(model, 12, 0.93);
  const v3 = await trained(model, 13, 0.94);
  const v2Config = ctx.names.endpointConfig(model, v2.version, v2.datasetId);

  // v2 takes the lock, and its UpdateEndpoint is throttled: the event will be retried.
  harness.journal.injectFault('sagemaker', 'UpdateEndpoint', 'throttle');
  await expect(training(trainingEvent(v2.trainingJobName), lambdaContext)).rejects.toThrow(/Rate exceeded/);
  expect((await ctx.registry.getModel(model))?.challenger).toBe(v2.version);
  // v3 passes the gate meanwhile and waits behind v2.
  expect(await training(trainingEvent(v3.trainingJobName), lambdaContext)).toMatchObject({
    kind: 'deploying',
    deploy: { kind: 'queued', behind: v2.version },
  });

  // The retried event sends v2's update again; this time SageMaker refuses it for good.
  harness.journal.injectFault('sagemaker', 'UpdateEndpoint', 'validation', {
    when: (input) => input['EndpointConfigName'] === v2Config,
  });
  const retried = await training(trainingEvent(v2.trainingJobName), lambdaContext);
  expect(harness.journal.pendingFaults()).toBe(0);
  expect(retried).toMatchObject({
    kind: 'deploying',
    deploy: { kind: 'failed', next: { kind: 'updating' } },
  });
  expect((await ctx.registry.getVersion(model, v2.version))?.status).toBe('DEPLOY_FAILED');
  expect(notices(model, v2.version)).toEqual([`${model} v${v2.version}: deployment failed`]);
  expect((await ctx.registry.getModel(model))?.challenger).toBe(v3.version);
  expect(updatesTo(v3)).toBe(1);

  harness.aws.settleEndpoint(`mlops-${model}`, 'in-service');
  expect(await endpoints(endpointEvent(`mlops-${model}`), lambdaContext)).toMatchObject({
    kind: 'promoted',
    version: v3.version,
    archived: 1,
  });
  expect((await ctx.registry.getModel(model))?.challenger).toBeUndefined();
  // And a late redelivery of v2's event still does nothing.
  expect(await training(trainingEvent(v2.trainingJobName), lambdaContext)).toMatchObject({
    kind: 'already-processed',
    status: 'DEPLOY_FAILED',
  });
  expect(updatesTo(v2)).toBe(2);
});
