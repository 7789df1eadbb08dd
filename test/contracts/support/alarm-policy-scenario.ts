/**
 * The alarm policies acting, through the REAL alarm-events handler (lambdas/alarm-events/handler.ts)
 * on a {@link PipelineHarness}, with every AWS call it made while acting recorded. Where this
 * stands: test infrastructure for the IAM contract (is each call allowed by the alarm-events
 * role, which now rolls back and retrains).
 *
 * Two models, driven to production by the real pipeline handlers (their calls are not kept):
 * - `rollback` policy: v1 then v2 promoted; v2's error-rate alarm fires outside a rollout, and the
 *   policy puts v1 back (RollbackModel: CreateModel, CreateEndpointConfig, a blue/green
 *   UpdateEndpoint to v1's endpoint config, its rollback alarms read first);
 * - `retrain` policy: v1 promoted, a drift report of the last hour written by the drift monitor;
 *   the feature-drift alarm fires: the incident's evidence is read from the report (ListObjectsV2
 *   under reports/<model>/monitoring/, GetObject of its drift.json), and the policy retrains
 *   (the model config read, CreateTrainingJob with Tags and PassRole).
 *
 * Each step checks its own outcome and throws when it did not do what it should. The model names
 * are none of the other scenarios', so all can run on one harness and table.
 */
import type { IncidentAction } from '../../../core/domain/registry';
import { createAlarmEventsHandler } from '../../../lambdas/alarm-events/handler';
import { createEndpointEventsHandler } from '../../../lambdas/endpoint-events/handler';
import { createIngestHandler } from '../../../lambdas/ingest/handler';
import { createTrainingEventsHandler } from '../../../lambdas/training-events/handler';
import type { RecordedCall } from '../../support/aws-call-journal';
import {
  alarmEvent,
  churnCsv,
  endpointEvent,
  lambdaContext,
  sqsBatch,
  trainingEvent,
  type PipelineHarness,
} from '../../support/pipeline-harness';

/** The models of the two policies. */
export const ALARM_POLICY_MODELS = { rollback: 'pricing', retrain: 'scoring' } as const;

/** One recorded AWS call of the alarm-events handler, with the policy it acted on. */
export interface AlarmPolicyCall extends RecordedCall {
  readonly policy: keyof typeof ALARM_POLICY_MODELS;
}

/** The run: the alarm-events handler's calls, and what each policy did. */
export interface AlarmPolicyScenario {
  readonly calls: readonly AlarmPolicyCall[];
  readonly actions: Readonly<Record<keyof typeof ALARM_POLICY_MODELS, IncidentAction | undefined>>;
}

/** Runs both stories (see the file comment) on `harness`'s own registry table. */
export async function runAlarmPolicyScenario(harness: PipelineHarness): Promise<AlarmPolicyScenario> {
  const ctx = harness.context();
  const ingest = createIngestHandler(() => ctx);
  const training = createTrainingEventsHandler(() => ctx);
  const endpoints = createEndpointEventsHandler(() => ctx);
  const alarms = createAlarmEventsHandler(() => ctx);
  const calls: AlarmPolicyCall[] = [];

  const check = (step: string, ok: boolean, detail: unknown) => {
    if (!ok)
      throw new Error(
        `alarm policy scenario step "${step}" did not do what it should: ${JSON.stringify(detail)}`,
      );
  };

  /** A new version of `model` trained, through the gate, rolled out and promoted. */
  async function production(model: string, batch: number, auc: number): Promise<number> {
    const event = await harness.upload(
      `datasets/${model}/batch-${batch}.csv`,
      churnCsv(300, batch).replace('churned', 'label'),
    );
    const ingested = await ingest(sqsBatch(event), lambdaContext);
    check(`ingest ${model} batch ${batch}`, ingested.batchItemFailures.length === 0, ingested);
    const version = (await ctx.registry.listVersions(model)).at(-1)!;
    harness.aws.finishJob(version.trainingJobName, { metrics: { 'validation:auc': auc } });
    const trained = await training(trainingEvent(version.trainingJobName), lambdaContext);
    check(
      `deploy ${model} v${version.version}`,
      (trained as { kind?: string }).kind === 'deploying',
      trained,
    );
    const endpoint = ctx.names.endpoint(model);
    harness.aws.settleEndpoint(endpoint, 'in-service');
    const promoted = await endpoints(endpointEvent(endpoint), lambdaContext);
    check(
      `promote ${model} v${version.version}`,
      (promoted as { kind?: string }).kind === 'promoted',
      promoted,
    );
    return version.version;
  }

  /** The alarm fires and the alarm-events handler runs; its calls are kept. */
  async function fire(
    policy: keyof typeof ALARM_POLICY_MODELS,
    alarmName: string,
  ): Promise<IncidentAction | undefined> {
    harness.aws.setAlarm(
      alarmName,
      'ALARM',
      'Threshold Crossed: 3 out of the last 3 datapoints were greater than the threshold',
    );
    const from = harness.journal.calls.length;
    const outcome = await alarms(alarmEvent(alarmName, 'ALARM', 'OK'), lambdaContext);
    calls.push(...harness.journal.calls.slice(from).map((call) => ({ ...call, policy })));
    check(`${alarmName} opens an incident`, (outcome as { kind?: string }).kind === 'opened', outcome);
    return (outcome as { action?: IncidentAction }).action;
  }

  // --- rollback: v2's error rate fires after its promotion; v1 goes back.
  const rollback = ALARM_POLICY_MODELS.rollback;
  await harness.upload(`models/${rollback}/config.json`, JSON.stringify({ alarmPolicy: 'rollback' }));
  const r1 = await production(rollback, 21, 0.8);
  await production(rollback, 22, 0.85);
  const rolledBack = await fire('rollback', ctx.names.alarms(rollback).errorRate);
  check(
    'the rollback policy acts',
    rolledBack?.kind === 'rollback' && rolledBack.status === 'started',
    rolledBack,
  );
  const endpoint = harness.aws.endpoints.get(ctx.names.endpoint(rollback));
  const v1Config = (await ctx.registry.getVersion(rollback, r1))?.endpointConfigName;
  check('v1 goes back', endpoint?.pending === v1Config, { endpoint, v1Config });

  // --- retrain: drift over the last hour; a new version from the latest accepted dataset.
  const retrain = ALARM_POLICY_MODELS.retrain;
  await harness.upload(`models/${retrain}/config.json`, JSON.stringify({ alarmPolicy: 'retrain' }));
  await production(retrain, 31, 0.8);
  const jobs = harness.aws.jobs.size;
  await harness.upload(
    `reports/${retrain}/monitoring/${lastHourWindow()}/drift.json`,
    JSON.stringify(driftReport()),
  );
  const retrained = await fire('retrain', ctx.names.alarms(retrain).featureDrift);
  check(
    'the retrain policy acts',
    retrained?.kind === 'retrain' && retrained.status === 'started',
    retrained,
  );
  check('a training job starts', harness.aws.jobs.size === jobs + 1, [...harness.aws.jobs.keys()]);
  const incident = (await ctx.registry.listIncidents(retrain)).at(-1);
  check(
    'the evidence names the drifted feature',
    JSON.stringify(incident?.evidence).includes('tenure'),
    incident,
  );

  return { calls, actions: { rollback: rolledBack, retrain: retrained } };
}

/** The id of the last complete hour's window, as the drift monitor names it (`<start>-<end>`). */
function lastHourWindow(): string {
  const end = Math.floor(Date.now() / 3_600_000) * 3_600_000;
  const stamp = (ms: number) =>
    new Date(ms)
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d{3}Z$/, 'Z');
  return `${stamp(end - 3_600_000)}-${stamp(end)}`;
}

/** A drift summary (drift.json) in which one feature drifted. */
function driftReport() {
  return {
    drifted: ['tenure'],
    features: [
      { column: 'tenure', distance: 0.41, psi: 0.62, drifted: true },
      { column: 'monthly_charges', distance: 0.04, psi: 0.01, drifted: false },
    ],
  };
}
