/**
 * The operator handler on local parts (DynamoDB Local, s3rver) with SageMaker, CloudWatch and SNS
 * mocked (aws-sdk-client-mock, test/support/pipeline-harness.ts): the operator's path sends the
 * same requests and makes the same transitions as the pipeline.
 * - approve: a version held for manual approval gets exactly the CreateModel,
 *   CreateEndpointConfig and blue/green UpdateEndpoint an automatically approved version gets, and
 *   reaches DEPLOYING the same way, with who approved it in the audit trail;
 * - rollback: an UpdateEndpoint to the earlier version's endpoint config, guarded like a rollout,
 *   and the earlier version promoted again;
 * - retrain: a CreateTrainingJob of the shape ingest sends for an upload, from the registered
 *   dataset (no re-upload), once per request id;
 * - reject, bad input (answered `malformed`, never thrown), refusals, and infrastructure errors
 *   (thrown, for Lambda to report).
 *
 * Each test starts from an empty registry (a table of its own) and a fresh SageMaker / CloudWatch /
 * SNS, and drives the pipeline to the state it needs through the real handlers.
 */
import {
  CreateEndpointConfigCommand,
  CreateModelCommand,
  CreateTrainingJobCommand,
  UpdateEndpointCommand,
  type BlueGreenUpdatePolicy,
  type CreateTrainingJobCommandInput,
} from '@aws-sdk/client-sagemaker';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { OperatorCommand, OperatorResult } from '../../../core/domain/operator-commands';
import type { MlopsContext } from '../../../core/use-cases/context';
import { createEndpointEventsHandler } from '../../../lambdas/endpoint-events/handler';
import { createIngestHandler } from '../../../lambdas/ingest/handler';
import { createOperatorHandler } from '../../../lambdas/operator/handler';
import { createTrainingEventsHandler } from '../../../lambdas/training-events/handler';
import { logger } from '../../../lambdas/shared/observability';
import {
  churnCsv,
  endpointEvent,
  lambdaContext,
  sqsBatch,
  startPipelineHarness,
  trainingEvent,
  type PipelineHarness,
} from '../../support/pipeline-harness';
import { objectContaining } from '../../support/matchers';

const MODEL = 'churn';
const ENDPOINT = 'mlops-churn';
const ACTOR = 'arn:aws:sts::123456789012:assumed-role/oncall/alice';

let harness: PipelineHarness;
let ctx: MlopsContext;
let ingest: ReturnType<typeof createIngestHandler>;
let training: ReturnType<typeof createTrainingEventsHandler>;
let endpoints: ReturnType<typeof createEndpointEventsHandler>;
let operator: ReturnType<typeof createOperatorHandler>;

beforeAll(async () => {
  harness = await startPipelineHarness();
});
afterAll(async () => harness?.stop());
beforeEach(async () => {
  await fresh();
});

/** An empty registry and a fresh SageMaker / CloudWatch / SNS, with the handlers on them. */
async function fresh(): Promise<void> {
  harness.aws.reset();
  ctx = harness.context({ registryTable: await harness.newTable() });
  ingest = createIngestHandler(() => ctx);
  training = createTrainingEventsHandler(() => ctx);
  endpoints = createEndpointEventsHandler(() => ctx);
  operator = createOperatorHandler(() => ctx);
}

/** The model's config: a linear blue/green rollout on 5 instances, and the approval mode. */
const configure = (approval: 'auto' | 'manual') =>
  harness.upload(
    `models/${MODEL}/config.json`,
    JSON.stringify({
      gate: { threshold: 0.7, regressionTolerance: 0.01, approval },
      deployment: { strategy: 'linear', stepPercent: 20, bakeSeconds: 600, initialInstanceCount: 5 },
    }),
  );

/** A dataset uploaded and ingested: the new version, TRAINING. */
async function upload(batch: number): Promise<{ version: number; jobName: string; datasetId: string }> {
  const event = await harness.upload(
    `datasets/${MODEL}/batch-${batch}.csv`,
    churnCsv(400, batch).replace('churned', 'label'),
  );
  expect((await ingest(sqsBatch(event), lambdaContext)).batchItemFailures).toEqual([]);
  const latest = (await ctx.registry.listVersions(MODEL)).at(-1)!;
  return { version: latest.version, jobName: latest.trainingJobName, datasetId: latest.datasetId };
}

/** The version's job completes with `auc`, and the training event runs the gate. */
async function train(job: { jobName: string }, auc: number): Promise<unknown> {
  harness.aws.finishJob(job.jobName, { metrics: { 'validation:auc': auc } });
  return training(trainingEvent(job.jobName), lambdaContext);
}

/** The rollout in flight ends in service and the endpoint event promotes `version`. */
async function promote(version: number): Promise<void> {
  harness.aws.settleEndpoint(ENDPOINT, 'in-service');
  expect(await endpoints(endpointEvent(ENDPOINT), lambdaContext)).toMatchObject({
    kind: 'promoted',
    version,
  });
}

async function run(command: OperatorCommand): Promise<OperatorResult> {
  return operator(command, lambdaContext);
}

async function status(version: number): Promise<string | undefined> {
  return (await ctx.registry.getVersion(MODEL, version))?.status;
}

/** The deployment requests SageMaker received, in order, with the versions' names made generic. */
function deploymentRequests(names: Record<string, string>): unknown[] {
  const deploying = new Set([
    CreateModelCommand.name,
    CreateEndpointConfigCommand.name,
    UpdateEndpointCommand.name,
  ]);
  const requests = harness.aws.sagemaker
    .calls()
    .map((call) => call.args[0] as { constructor: { name: string }; input: unknown })
    .filter((command) => deploying.has(command.constructor.name))
    .map((command) => ({ command: command.constructor.name, input: command.input }));
  let text = JSON.stringify(requests);
  for (const [name, generic] of Object.entries(names)) text = text.replaceAll(name, generic);
  return JSON.parse(text) as unknown[];
}

/** The version's audit trail as (type, from, to), and who made each line. */
async function transitions(
  version: number,
): Promise<{ type: string; from?: string; to?: string; actor: string }[]> {
  return (await ctx.registry.listAudit(MODEL))
    .filter((line) => line.version === version)
    .map(({ type, from, to, actor }) => ({ type, ...(from ? { from } : {}), ...(to ? { to } : {}), actor }));
}

describe('approve', () => {
  /** v1 in production, v2 trained and through the gate (auto) or held (manual). */
  async function secondVersion(approval: 'auto' | 'manual') {
    await configure(approval);
    const v1 = await upload(1);
    await train(v1, 0.91);
    if (approval === 'manual')
      expect(await run({ action: 'approve', model: MODEL, version: v1.version, actor: ACTOR })).toMatchObject(
        {
          ok: true,
        },
      );
    await promote(v1.version);
    const v2 = await upload(2);
    harness.aws.sagemaker.resetHistory();
    const gated = await train(v2, 0.93);
    return { v1, v2, gated };
  }

  it('sends the requests and makes the transitions of an automatically approved version', async () => {
    const auto = await secondVersion('auto');
    expect(auto.gated).toMatchObject({ kind: 'deploying', deploy: { kind: 'updating' } });
    const automatic = {
      requests: deploymentRequests({ [auto.v1.jobName]: 'V1', [auto.v2.jobName]: 'V2' }),
      record: await ctx.registry.getVersion(MODEL, auto.v2.version),
      transitions: await transitions(auto.v2.version),
    };

    await fresh();
    const manual = await secondVersion('manual');
    expect(manual.gated).toMatchObject({ kind: 'pending-approval' });
    expect(await status(manual.v2.version)).toBe('PENDING_APPROVAL');
    expect(harness.aws.sagemaker.commandCalls(UpdateEndpointCommand)).toEqual([]);

    const approved = await run({
      action: 'approve',
      model: MODEL,
      version: manual.v2.version,
      actor: ACTOR,
      note: 'checked the holdout',
    });
    expect(approved).toMatchObject({ ok: true, action: 'approve', model: MODEL, version: manual.v2.version });

    // The same CreateModel, CreateEndpointConfig and blue/green UpdateEndpoint, request for request.
    const requests = deploymentRequests({ [manual.v1.jobName]: 'V1', [manual.v2.jobName]: 'V2' });
    expect(requests.map((r) => (r as { command: string }).command)).toEqual([
      'CreateModelCommand',
      'CreateEndpointConfigCommand',
      'UpdateEndpointCommand',
    ]);
    expect(requests).toEqual(automatic.requests);
    expect(harness.aws.sagemaker).toHaveReceivedCommandWith(UpdateEndpointCommand, {
      EndpointName: ENDPOINT,
      EndpointConfigName: manual.v2.jobName,
      DeploymentConfig: {
        BlueGreenUpdatePolicy: objectContaining({
          TrafficRoutingConfiguration: objectContaining({ Type: 'LINEAR' as const }),
        } as BlueGreenUpdatePolicy),
        AutoRollbackConfiguration: {
          Alarms: [{ AlarmName: 'mlops-churn-error-rate' }, { AlarmName: 'mlops-churn-latency-anomaly' }],
        },
      },
    });

    // The same version record (DEPLOYING, the same endpoint config, the rollout requested), and
    // the same transitions, with the person's approval where the gate's stood.
    const record = await ctx.registry.getVersion(MODEL, manual.v2.version);
    const comparable = (r: typeof record) => ({
      status: r?.status,
      endpointName: r?.endpointName,
      endpointConfigName: r?.endpointConfigName === undefined ? undefined : 'V2',
      requested: r?.rolloutRequestedAt !== undefined,
      metrics: r?.metrics,
      gatePassed: r?.gate?.passed,
    });
    expect(comparable(record)).toEqual(comparable(automatic.record));
    expect(comparable(record)).toMatchObject({ status: 'DEPLOYING', requested: true, gatePassed: true });
    const manualTransitions = await transitions(manual.v2.version);
    const moves = (lines: { from?: string; to?: string }[]) =>
      lines.filter((line) => line.to !== undefined).map((line) => `${line.from ?? ''}->${line.to}`);
    expect(moves(manualTransitions)).toEqual(
      moves(automatic.transitions).flatMap((move) =>
        move === 'TRAINED->APPROVED' ? ['TRAINED->PENDING_APPROVAL', 'PENDING_APPROVAL->APPROVED'] : [move],
      ),
    );
    expect(manualTransitions).toContainEqual(
      expect.objectContaining({ type: 'APPROVED', from: 'PENDING_APPROVAL', to: 'APPROVED', actor: ACTOR }),
    );

    // The rollout ends as any other: v2 promoted, v1 archived.
    await promote(manual.v2.version);
    expect(await status(manual.v1.version)).toBe('ARCHIVED');
  });

  it('is refused with a reason when the version is not waiting, or does not exist', async () => {
    await configure('auto');
    const v1 = await upload(1);
    harness.aws.sagemaker.resetHistory();
    expect(await run({ action: 'approve', model: MODEL, version: v1.version, actor: ACTOR })).toMatchObject({
      ok: false,
      error: { code: 'conflict', message: expect.stringMatching(/TRAINING/) as unknown },
    });
    expect(await run({ action: 'approve', model: MODEL, version: 9, actor: ACTOR })).toMatchObject({
      ok: false,
      error: { code: 'not-found' },
    });
    expect(await run({ action: 'approve', model: 'nobody', version: 1, actor: ACTOR })).toMatchObject({
      ok: false,
      error: { code: 'not-found' },
    });
    expect(harness.aws.sagemaker.calls()).toEqual([]);
  });
});

describe('reject', () => {
  it('ends a held version REJECTED with the reason and who, and deploys nothing', async () => {
    await configure('manual');
    const v1 = await upload(1);
    await train(v1, 0.91);
    harness.aws.sagemaker.resetHistory();
    expect(
      await run({
        action: 'reject',
        model: MODEL,
        version: v1.version,
        actor: ACTOR,
        reason: 'leaks the label',
      }),
    ).toMatchObject({ ok: true, action: 'reject', version: v1.version });
    expect(await ctx.registry.getVersion(MODEL, v1.version)).toMatchObject({
      status: 'REJECTED',
      failureReason: expect.stringContaining('leaks the label') as unknown,
    });
    expect(await transitions(v1.version)).toContainEqual(
      expect.objectContaining({ type: 'REJECTED', from: 'PENDING_APPROVAL', to: 'REJECTED', actor: ACTOR }),
    );
    expect(harness.aws.sagemaker.calls()).toEqual([]);
    // Once rejected, it cannot be approved.
    expect(await run({ action: 'approve', model: MODEL, version: v1.version, actor: ACTOR })).toMatchObject({
      ok: false,
      error: { code: 'conflict' },
    });
  });
});

describe('rollback', () => {
  it('puts the earlier version back with a guarded blue/green UpdateEndpoint to its endpoint config', async () => {
    await configure('auto');
    const v1 = await upload(1);
    await train(v1, 0.91);
    await promote(v1.version);
    const v2 = await upload(2);
    await train(v2, 0.93);
    const update = harness.aws.sagemaker.commandCalls(UpdateEndpointCommand).at(-1)!.args[0].input;
    await promote(v2.version);
    harness.aws.sagemaker.resetHistory();

    const rolledBack = await run({
      action: 'rollback',
      model: MODEL,
      to: v1.version,
      actor: ACTOR,
      reason: 'v2 drifts',
    });
    expect(rolledBack).toMatchObject({ ok: true, action: 'rollback', model: MODEL, version: v1.version });
    const updates = harness.aws.sagemaker.commandCalls(UpdateEndpointCommand).map((c) => c.args[0].input);
    expect(updates).toHaveLength(1);
    // v1's own endpoint config, through the same blue/green policy and rollback alarms as v2's rollout.
    expect(updates[0]).toEqual({ ...update, EndpointConfigName: v1.jobName });
    expect(await status(v1.version)).toBe('DEPLOYING');
    expect((await ctx.registry.getModel(MODEL))?.champion).toBe(v2.version);

    await promote(v1.version);
    expect((await ctx.registry.getModel(MODEL))?.champion).toBe(v1.version);
    expect(await status(v2.version)).toBe('ARCHIVED');
    expect(
      (await ctx.registry.listAudit(MODEL)).filter(
        (line) => line.version === v1.version && line.actor === ACTOR,
      ),
    ).not.toEqual([]);
  });

  it('is refused when there is nothing to roll back to', async () => {
    await configure('auto');
    const v1 = await upload(1);
    await train(v1, 0.91);
    await promote(v1.version);
    harness.aws.sagemaker.resetHistory();
    expect(await run({ action: 'rollback', model: MODEL, actor: ACTOR })).toMatchObject({ ok: false });
    expect(harness.aws.sagemaker.commandCalls(UpdateEndpointCommand)).toEqual([]);
  });
});

describe('retrain', () => {
  it('sends the CreateTrainingJob ingest sends, from the registered dataset, once per request id', async () => {
    await configure('auto');
    const v1 = await upload(1);
    const ingested = harness.aws.sagemaker.commandCalls(CreateTrainingJobCommand).at(-1)!.args[0].input;
    harness.aws.sagemaker.resetHistory();

    const retrain: OperatorCommand = {
      action: 'retrain',
      model: MODEL,
      datasetId: v1.datasetId,
      actor: ACTOR,
      requestId: 'req-42',
      reason: 'weekly refresh',
    };
    const first = await run(retrain);
    expect(first).toMatchObject({ ok: true, action: 'retrain', model: MODEL, version: v1.version + 1 });
    const v2 = (await ctx.registry.getVersion(MODEL, v1.version + 1))!;
    expect(v2).toMatchObject({
      status: 'TRAINING',
      datasetId: v1.datasetId,
      origin: { kind: 'retrain', by: ACTOR },
    });

    const jobs = harness.aws.sagemaker.commandCalls(CreateTrainingJobCommand).map((c) => c.args[0].input);
    expect(jobs).toHaveLength(1);
    const sent: CreateTrainingJobCommandInput = jobs[0]!;
    // Everything as ingest sends it (image, hyperparameters, the dataset's prepared channels,
    // output, resources, stopping condition, role), but the new version's name and tag.
    const withoutIdentity = ({
      TrainingJobName: _name,
      Tags: _tags,
      ...rest
    }: CreateTrainingJobCommandInput) => rest;
    expect(withoutIdentity(sent)).toEqual(withoutIdentity(ingested));
    expect(sent.TrainingJobName).toBe(v2.trainingJobName);
    expect(sent.TrainingJobName).not.toBe(ingested.TrainingJobName);
    const tags = (input: CreateTrainingJobCommandInput) =>
      Object.fromEntries((input.Tags ?? []).map((t) => [t.Key!, t.Value!]));
    expect(tags(sent)).toEqual({ ...tags(ingested), 'mlops:version': String(v2.version) });

    // The same request again: the version the first made, and no second job (it asks for the same
    // job again, which SageMaker refuses by name: the job exists).
    expect(await run(retrain)).toMatchObject({ ok: true, version: v2.version });
    const names = harness.aws.sagemaker
      .commandCalls(CreateTrainingJobCommand)
      .map((c) => c.args[0].input.TrainingJobName);
    expect(new Set(names)).toEqual(new Set([v2.trainingJobName]));
    expect([...harness.aws.jobs.keys()].sort()).toEqual([v1.jobName, v2.trainingJobName].sort());
    expect(await ctx.registry.listVersions(MODEL)).toHaveLength(2);
  });

  it('is refused for a dataset the model does not have', async () => {
    await configure('auto');
    await upload(1);
    harness.aws.sagemaker.resetHistory();
    expect(
      await run({
        action: 'retrain',
        model: MODEL,
        datasetId: 'no-such-dataset',
        actor: ACTOR,
        requestId: 'r-1',
      }),
    ).toMatchObject({ ok: false, error: { code: 'not-found' } });
    expect(harness.aws.sagemaker.commandCalls(CreateTrainingJobCommand)).toEqual([]);
  });
});

describe('the handler itself', () => {
  it('answers input that is not a command with `malformed`, naming the field, and calls nothing', async () => {
    const from = harness.journal.calls.length;
    for (const [input, problem] of [
      [undefined, /JSON object/],
      ['approve churn 3', /JSON object/],
      [{ action: 'deploy', model: MODEL, actor: ACTOR }, /^action: /],
      [{ action: 'approve', model: 'Not A Model', version: 1, actor: ACTOR }, /^model: /],
      [{ action: 'approve', model: MODEL, actor: ACTOR }, /^version: /],
      [{ action: 'reject', model: MODEL, version: 1, actor: ACTOR }, /^reason: /],
      [{ action: 'retrain', model: MODEL, actor: ACTOR }, /^requestId: /],
      [{ action: 'rollback', model: MODEL }, /^actor: /],
    ] as [unknown, RegExp][]) {
      const answer = await operator(input, lambdaContext);
      expect(answer, JSON.stringify(input)).toMatchObject({
        ok: false,
        error: { code: 'malformed', message: expect.stringMatching(problem) as unknown },
      });
    }
    expect(await operator({ action: 'deploy', model: MODEL, actor: ACTOR }, lambdaContext)).toMatchObject({
      action: 'deploy',
      model: MODEL,
    });
    expect(harness.journal.calls.slice(from)).toEqual([]);
  });

  it('logs the command and its outcome', async () => {
    await configure('manual');
    const v1 = await upload(1);
    await train(v1, 0.91);
    const info = vi.spyOn(logger, 'info');
    try {
      const command: OperatorCommand = {
        action: 'reject',
        model: MODEL,
        version: v1.version,
        actor: ACTOR,
        reason: 'too small',
      };
      const result = await run(command);
      expect(info).toHaveBeenCalledWith('operator command', { command });
      expect(info).toHaveBeenCalledWith('operator outcome', {
        command: `reject ${MODEL} v${v1.version} by ${ACTOR}`,
        result,
      });
    } finally {
      info.mockRestore();
    }
  });

  it('throws what the registry or SageMaker throws, for Lambda to report it', async () => {
    await configure('manual');
    const v1 = await upload(1);
    await train(v1, 0.91);
    for (const operation of ['GetItem', 'Query', 'TransactWriteItems'])
      harness.journal.injectFault('dynamodb', operation, 'server', { times: 10 });
    try {
      await expect(
        run({ action: 'approve', model: MODEL, version: v1.version, actor: ACTOR }),
      ).rejects.toThrow(/injected server fault: dynamodb\./);
    } finally {
      harness.journal.clear();
    }
    // Nothing changed: the same command goes through once the fault is gone.
    expect(await status(v1.version)).toBe('PENDING_APPROVAL');
    expect(await run({ action: 'approve', model: MODEL, version: v1.version, actor: ACTOR })).toMatchObject({
      ok: true,
    });
  });
});
