/**
 * A rollout whose endpoint call fails after the rollout lock was taken must not wedge the model:
 * the redelivered training event sends the call again and the version reaches PRODUCTION.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
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

beforeAll(async () => {
  harness = await startPipelineHarness();
  ctx = harness.context();
});
afterAll(async () => harness?.stop());

it('a throttled CreateEndpoint is sent again on the retried event and the version reaches PRODUCTION', async () => {
  const ingest = createIngestHandler(() => ctx);
  const training = createTrainingEventsHandler(() => ctx);
  const endpoints = createEndpointEventsHandler(() => ctx);
  const event = await harness.upload('datasets/retry/data.csv', churnCsv(200).replace('churned', 'label'));
  expect((await ingest(sqsBatch(event), lambdaContext)).batchItemFailures).toEqual([]);
  const [version] = await ctx.registry.listVersions('retry');
  harness.aws.finishJob(version!.trainingJobName, { metrics: { 'validation:auc': 0.93 } });

  harness.journal.injectFault('sagemaker', 'CreateEndpoint', 'throttle');
  await expect(training(trainingEvent(version!.trainingJobName), lambdaContext)).rejects.toThrow(
    /Rate exceeded/,
  );
  expect(harness.journal.pendingFaults()).toBe(0);
  expect((await ctx.registry.getVersion('retry', 1))?.status).toBe('DEPLOYING');
  expect(harness.aws.endpoints.has('mlops-retry')).toBe(false);

  // Lambda retries the event: the endpoint call is sent again.
  const retried = await training(trainingEvent(version!.trainingJobName), lambdaContext);
  expect(retried).toMatchObject({ kind: 'deploying', deploy: { kind: 'creating' } });
  expect(harness.aws.endpoints.has('mlops-retry')).toBe(true);

  harness.aws.settleEndpoint('mlops-retry', 'in-service');
  expect(await endpoints(endpointEvent('mlops-retry'), lambdaContext)).toMatchObject({ kind: 'promoted' });
  expect((await ctx.registry.getVersion('retry', 1))?.status).toBe('PRODUCTION');
  expect((await ctx.registry.getModel('retry'))?.challenger).toBeUndefined();
});
