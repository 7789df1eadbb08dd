/**
 * Operators' commands through the REAL operator handler (lambdas/operator/handler.ts), on a
 * {@link PipelineHarness}, with every AWS call each command made attributed to it. Where this
 * stands: test infrastructure for the IAM contract (is each call allowed by the operator
 * function's role).
 *
 * One model (manual approval), driven by the real pipeline handlers between the commands, which
 * are not attributed (the setup's calls are kept apart):
 * 1. v1 uploaded, trained, held for approval; `approve` v1: the first rollout (CreateModel,
 *    CreateEndpointConfig, CreateEndpoint with Tags and PassRole); the endpoint goes in service.
 * 2. v2 the same; `approve` v2: a blue/green UpdateEndpoint guarded by the model's alarms, which
 *    the approval re-checks first; v2 promoted, v1 archived.
 * 3. `rollback` to v1: v1 back through the same guarded blue/green path (UpdateEndpoint to v1's
 *    endpoint config); v1 promoted again.
 * 4. `retrain` from v1's dataset: a new version and its CreateTrainingJob (the model config read).
 * 5. the retrained version trained and held for approval; `reject` it.
 *
 * Each step checks its own outcome and throws when it did not do what it should, so a contract
 * built on this run cannot pass on a run that silently did nothing. The model name is fixed unless
 * `suffix` is given; it is none of the pipeline scenario's (support/pipeline-scenario.ts), so both
 * can run on one harness.
 */
import type { OperatorCommand, OperatorResult } from '../../../core/domain/operator-commands';
import { createEndpointEventsHandler } from '../../../lambdas/endpoint-events/handler';
import { createIngestHandler } from '../../../lambdas/ingest/handler';
import { createOperatorHandler } from '../../../lambdas/operator/handler';
import { createTrainingEventsHandler } from '../../../lambdas/training-events/handler';
import type { RecordedCall } from '../../support/aws-call-journal';
import {
  churnCsv,
  endpointEvent,
  lambdaContext,
  sqsBatch,
  trainingEvent,
  type PipelineHarness,
} from '../../support/pipeline-harness';

/** The model the scenario operates. */
export const OPERATOR_SCENARIO_MODEL = 'fraud';

/** One recorded AWS call, with the operator command that made it. */
export interface OperatorCall extends RecordedCall {
  readonly command: OperatorCommand['action'];
}

/** The run: the commands' calls, what each command answered, and the setup's own calls. */
export interface OperatorScenario {
  readonly model: string;
  /** Every AWS call the operator handler made, in order. */
  readonly calls: readonly OperatorCall[];
  /** Each command and what the handler answered. */
  readonly results: readonly { readonly command: OperatorCommand; readonly result: OperatorResult }[];
}

/** Runs the commands (see the file comment) on `harness`'s own registry table. */
export async function runOperatorScenario(
  harness: PipelineHarness,
  options: { readonly suffix?: string } = {},
): Promise<OperatorScenario> {
  const model = options.suffix ? `${OPERATOR_SCENARIO_MODEL}-${options.suffix}` : OPERATOR_SCENARIO_MODEL;
  const ctx = harness.context();
  const ingest = createIngestHandler(() => ctx);
  const training = createTrainingEventsHandler(() => ctx);
  const endpoints = createEndpointEventsHandler(() => ctx);
  const operator = createOperatorHandler(() => ctx);
  const endpoint = ctx.names.endpoint(model);
  const actor = 'arn:aws:sts::123456789012:assumed-role/oncall/alice';
  const calls: OperatorCall[] = [];
  const results: { command: OperatorCommand; result: OperatorResult }[] = [];

  const check = (step: string, ok: boolean, detail: unknown) => {
    if (!ok)
      throw new Error(
        `operator scenario step "${step}" did not do what it should: ${JSON.stringify(detail)}`,
      );
  };

  /** Runs one command through the handler and attributes the calls it made (and only those). */
  async function command(cmd: OperatorCommand): Promise<OperatorResult> {
    const from = harness.journal.calls.length;
    const result = await operator(cmd, lambdaContext);
    calls.push(...harness.journal.calls.slice(from).map((call) => ({ ...call, command: cmd.action })));
    results.push({ command: cmd, result });
    check(`${cmd.action} ${model}`, result.ok, result);
    return result;
  }

  /** A dataset uploaded and ingested; its version trained with `auc` and held for approval. */
  async function pendingVersion(batch: number, auc: number): Promise<number> {
    const event = await harness.upload(
      `datasets/${model}/batch-${batch}.csv`,
      churnCsv(300, batch).replace('churned', 'label'),
    );
    const ingested = await ingest(sqsBatch(event), lambdaContext);
    check(`ingest batch ${batch}`, ingested.batchItemFailures.length === 0, ingested);
    const version = (await ctx.registry.listVersions(model)).at(-1)!;
    harness.aws.finishJob(version.trainingJobName, { metrics: { 'validation:auc': auc } });
    const trained = await training(trainingEvent(version.trainingJobName), lambdaContext);
    check(`train v${version.version}`, (trained as { kind?: string }).kind === 'pending-approval', trained);
    return version.version;
  }

  /** The rollout in flight ends in service, and the endpoint event promotes its version. */
  async function settle(version: number): Promise<void> {
    harness.aws.settleEndpoint(endpoint, 'in-service');
    const promoted = await endpoints(endpointEvent(endpoint), lambdaContext);
    check(
      `promote v${version}`,
      (promoted as { kind?: string; version?: number }).version === version,
      promoted,
    );
  }

  await harness.upload(`models/${model}/config.json`, JSON.stringify({ gate: { approval: 'manual' } }));

  const v1 = await pendingVersion(1, 0.8);
  await command({ action: 'approve', model, version: v1, actor, note: 'first version' });
  await settle(v1);

  const v2 = await pendingVersion(2, 0.85);
  await command({ action: 'approve', model, version: v2, actor });
  check(
    'blue/green approve',
    calls.some((c) => c.command === 'approve' && c.operation === 'UpdateEndpoint'),
    calls,
  );
  await settle(v2);

  const from = calls.length;
  await command({ action: 'rollback', model, to: v1, actor, reason: 'v2 misroutes a segment' });
  check(
    'rollback to v1',
    calls.slice(from).some((c) => c.operation === 'UpdateEndpoint'),
    calls.slice(from).map((c) => c.operation),
  );
  await settle(v1);

  const dataset = (await ctx.registry.getVersion(model, v1))!.datasetId;
  const retrained = await command({
    action: 'retrain',
    model,
    datasetId: dataset,
    actor,
    requestId: 'retrain-1',
  });
  const v3 = retrained.ok ? retrained.version : undefined;
  check('retrain', v3 !== undefined && v3 > v2, retrained);
  const job = (await ctx.registry.getVersion(model, v3!))!.trainingJobName;
  check('retrain starts a job', harness.aws.jobs.has(job), [...harness.aws.jobs.keys()]);

  harness.aws.finishJob(job, { metrics: { 'validation:auc': 0.82 } });
  const held = await training(trainingEvent(job), lambdaContext);
  check(`train v${v3}`, (held as { kind?: string }).kind === 'pending-approval', held);
  await command({ action: 'reject', model, version: v3!, actor, reason: 'no better than v1' });

  return { model, calls, results };
}
