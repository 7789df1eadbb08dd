/**
 * The traces a lost event leaves, set up through the real handlers on a {@link PipelineHarness}:
 * the situations the reconciler repairs (core/use-cases/reconcile.ts). Where this stands: test
 * infrastructure shared by the repairs through the handlers (test/lambdas/reconciler/repairs.test.ts)
 * and the reconciler's contract scenario (test/contracts/support/reconciler-scenario.ts), so that
 * both build the same situations the same way. The use case's unit tests
 * (test/core/use-cases/reconcile.test.ts) build the same situations on in-memory parts.
 *
 * Each helper checks that the situation really is what it says and throws otherwise: a test built
 * on one cannot pass on a setup that silently did something else.
 */
import type { VersionRecord } from '../../core/domain/registry';
import type { EndpointService } from '../../core/ports/endpoint-service';
import type { MlopsContext } from '../../core/use-cases/context';
import type { createIngestHandler } from '../../lambdas/ingest/handler';
import { createTrainingEventsHandler } from '../../lambdas/training-events/handler';
import { lambdaContext, sqsBatch, trainingEvent, type PipelineHarness } from './pipeline-harness';

/** The error the endpoint call fails with in {@link strandRollout}. */
export const STRANDED_ROLLOUT_ERROR = 'ThrottlingException: Rate exceeded';

/** Options of {@link ingestDataset}. */
export interface IngestDatasetOptions {
  /**
   * The version id S3 gave the upload (the data bucket is versioned): the event carries it as
   * `version-id`, and ingest derives the dataset id from it. The local S3 server keeps no versions
   * and serves the current object for any version id.
   */
  readonly versionId?: string;
  /** Sees the "Object Created" event before ingest does (e.g. to record the object's identity). */
  readonly onEvent?: (event: unknown) => void;
}

/**
 * Uploads `body` under `key` (a `datasets/<model>/...` key), delivers its "Object Created" event to
 * ingest once, and returns the version ingest registered for the model (TRAINING).
 */
export async function ingestDataset(
  harness: PipelineHarness,
  ingest: ReturnType<typeof createIngestHandler>,
  registry: MlopsContext['registry'],
  key: string,
  body: string,
  options: IngestDatasetOptions = {},
): Promise<VersionRecord> {
  const uploaded = await harness.upload(key, body);
  const event = options.versionId === undefined ? uploaded : withVersionId(uploaded, options.versionId);
  options.onEvent?.(event);
  const result = await ingest(sqsBatch(event), lambdaContext);
  if (result.batchItemFailures.length > 0)
    throw new Error(`ingest of ${key} failed: ${JSON.stringify(result.batchItemFailures)}`);
  const model = key.split('/')[1]!;
  const latest = (await registry.listVersions(model)).at(-1);
  if (!latest) throw new Error(`ingest of ${key} registered no version of ${model}`);
  return latest;
}

/** An "Object Created" event of a versioned bucket: `detail.object.version-id` set. */
export function withVersionId(event: unknown, versionId: string): unknown {
  const e = event as { detail: { object: Record<string, unknown> } };
  return { ...e, detail: { ...e.detail, object: { ...e.detail.object, 'version-id': versionId } } };
}

/**
 * A rollout that was never requested: the training event of `version` (whose job has completed)
 * reaches training-events, the gate passes, the version takes the rollout lock (DEPLOYING), and
 * the endpoint call (`createEndpoint` for a first version, `updateEndpoint` for a later one) fails
 * ({@link STRANDED_ROLLOUT_ERROR}); every retry of the event would find the version DEPLOYING.
 * Returns the version as the registry then holds it: DEPLOYING, `rolloutRequestedAt` unset.
 */
export async function strandRollout(
  ctx: MlopsContext,
  version: VersionRecord,
  call: 'createEndpoint' | 'updateEndpoint',
): Promise<VersionRecord> {
  // Every other endpoint call goes through to the real adapter.
  const endpoints = new Proxy(ctx.endpoints, {
    get(target, property, receiver) {
      if (property === call) return () => Promise.reject(new Error(STRANDED_ROLLOUT_ERROR));
      const value = Reflect.get(target, property, receiver) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  }) satisfies EndpointService;
  const flaky: MlopsContext = { ...ctx, endpoints };
  const failed = await createTrainingEventsHandler(() => flaky)(
    trainingEvent(version.trainingJobName),
    lambdaContext,
  ).then(
    () => undefined,
    (error: unknown) => error,
  );
  if (!(failed instanceof Error) || !failed.message.includes('Rate exceeded'))
    throw new Error(
      `the training event of ${version.trainingJobName} should have failed at ${call}: ${String(failed)}`,
    );
  const stuck = await ctx.registry.getVersion(version.model, version.version);
  if (stuck?.status !== 'DEPLOYING' || stuck.rolloutRequestedAt !== undefined)
    throw new Error(
      `${version.model} v${version.version} is not a stranded rollout: ${JSON.stringify(stuck)}`,
    );
  return stuck;
}

/**
 * An approval whose rollout was lost: `version` (PENDING_APPROVAL) is approved as ApproveVersion's
 * first step records it, and the process dies before the rollout starts (its second step).
 */
export async function approveWithoutRollout(
  ctx: MlopsContext,
  version: VersionRecord,
  actor = 'alice',
): Promise<void> {
  const { model, version: n } = version;
  const at = new Date().toISOString();
  const approved = await ctx.registry.transitionVersion({
    model,
    version: n,
    from: ['PENDING_APPROVAL'],
    to: 'APPROVED',
    set: { updatedAt: at },
    audit: { model, at, eventId: `APPROVED:${n}`, type: 'APPROVED', actor, version: n, reason: 'ok' },
  });
  if (!approved) throw new Error(`${model} v${n} could not be approved: it is not PENDING_APPROVAL`);
}
