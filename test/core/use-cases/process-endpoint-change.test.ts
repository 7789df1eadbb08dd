/**
 * ProcessEndpointChange, on in-memory parts (test/support/memory-context.ts): the registry store in
 * memory, SageMaker, CloudWatch and SNS answered by a stateful fake through the real adapters. The
 * rollouts are requested by DeployVersion itself, so the endpoint is in the state a real rollout
 * leaves; the use case then reads it (DescribeEndpoint is the truth) and ends the rollout: promoted
 * (alarms first, the champion archived), ROLLED_BACK or DEPLOY_FAILED, then the next approved
 * version. Duplicated and late events change nothing twice; a notification the first delivery could
 * not send is sent by the redelivered event. The same behaviours as the handler-level pipeline tests
 * (test/lambdas/pipeline.test.ts, test/lambdas/rollout-*.test.ts), asserted at the use case.
 */
import { UpdateEndpointCommand } from '@aws-sdk/client-sagemaker';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseModelConfig } from '../../../core/domain/model-config';
import type { VersionRecord } from '../../../core/domain/registry';
import type { EndpointService } from '../../../core/ports/endpoint-service';
import { NotificationNotSent } from '../../../core/ports/monitoring';
import type { MlopsContext } from '../../../core/use-cases/context';
import { DeployVersion } from '../../../core/use-cases/deploy-version';
import { ProcessEndpointChange } from '../../../core/use-cases/process-endpoint-change';
import { createMemoryContext, type MemoryContext } from '../../support/memory-context';
import { anything, stringContaining, stringMatching } from '../../support/matchers';

const MODEL = 'churn';
const IMAGE = '683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1';

let m: MemoryContext;
let endpointName: string;

beforeEach(async () => {
  m = createMemoryContext();
  endpointName = m.names.endpoint(MODEL);
  const parsed = parseModelConfig(
    JSON.stringify({ deployment: { strategy: 'linear', stepPercent: 20, initialInstanceCount: 5 } }),
  );
  if (!parsed.ok) throw new Error(parsed.problems.join('; '));
  await m.registry.saveModelConfig(MODEL, parsed.config, m.clock.now().toISOString());
});
afterEach(() => m.dispose());

/** A minute passes: every write below gets its own time. */
function later(): void {
  m.clock.advance(60_000);
}

/**
 * A version of MODEL trained from `datasetId` (with its artifact) and approved, written through the
 * port as ingest, training events and the gate write it. Each write must apply.
 */
async function approvedVersion(datasetId: string): Promise<VersionRecord> {
  later();
  const at = m.clock.now().toISOString();
  const { created, version } = await m.registry.registerDatasetAndVersion({
    dataset: {
      model: MODEL,
      datasetId,
      sourceUri: `s3://${m.bucket}/datasets/${MODEL}/${datasetId}.csv`,
      status: 'ACCEPTED',
      createdAt: at,
    },
    buildVersion: (n) => ({
      model: MODEL,
      version: n,
      status: 'TRAINING',
      datasetId,
      trainingJobName: m.names.trainingJob(MODEL, n, datasetId),
      image: IMAGE,
      hyperparameters: {},
      objectiveMetric: 'validation:auc',
      createdAt: at,
      updatedAt: at,
    }),
    audit: {
      model: MODEL,
      at,
      eventId: `REGISTERED:${datasetId}`,
      type: 'VERSION_REGISTERED',
      actor: 'ingest',
      to: 'TRAINING',
      reason: 'seed',
    },
  });
  if (!created || !version) throw new Error(`seed: ${datasetId} not registered`);
  const n = version.version;
  for (const [from, to, set] of [
    [
      'TRAINING',
      'TRAINED',
      { artifactUri: `s3://${m.bucket}/artifacts/${MODEL}/${version.trainingJobName}/output/model.tar.gz` },
    ],
    ['TRAINED', 'APPROVED', {}],
  ] as const) {
    const moved = await m.registry.transitionVersion({
      model: MODEL,
      version: n,
      from: [from],
      to,
      set: { ...set, updatedAt: at },
      audit: { model: MODEL, at, eventId: `${to}:${n}`, type: to, actor: 'seed', version: n, reason: 'seed' },
    });
    if (!moved) throw new Error(`seed: v${n} ${from} -> ${to} did not apply`);
  }
  return (await m.registry.getVersion(MODEL, n))!;
}

/** DeployVersion rolls the version out (creates or updates the endpoint). */
async function deploy(version: VersionRecord, ctx: MlopsContext = m) {
  later();
  return new DeployVersion(ctx).execute(MODEL, version.version);
}

/** The endpoint's state-change event reaches the use case. */
async function change(ctx: MlopsContext = m, name = endpointName) {
  later();
  return new ProcessEndpointChange(ctx).execute(name);
}

/** A version rolled out, its endpoint in service, promoted. */
async function inProduction(datasetId: string): Promise<VersionRecord> {
  const version = await approvedVersion(datasetId);
  await deploy(version);
  m.aws.settleEndpoint(endpointName, 'in-service');
  expect(await change()).toMatchObject({ kind: 'promoted', version: version.version });
  return version;
}

const configOf = (version: VersionRecord) =>
  m.names.endpointConfig(MODEL, version.version, version.datasetId);
const statusOf = async (n: number) => (await m.registry.getVersion(MODEL, n))?.status;
const modelRecord = async () => (await m.registry.getModel(MODEL))!;
const auditOf = async (type: string) =>
  (await m.registry.listAudit(MODEL)).filter((line) => line.type === type);
const pending = () => m.registry.listPendingNotifications(MODEL);
const notices = () =>
  m.notifications().map(({ kind, subject, message, id }) => ({ kind, subject, message, id }));

/** A context whose endpoint service fails `call` once with a transient error (throttled). */
function throttledOnce(call: keyof EndpointService): MlopsContext {
  let failed = false;
  const endpoints = new Proxy(m.endpoints, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (property === call && !failed) {
          failed = true;
          return Promise.reject(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
        }
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return m.with({ endpoints });
}

/** A context whose notifier refuses every notification (SNS answered with a refusal). */
function refusingNotifier(): MlopsContext {
  return m.with({
    notifier: { notify: () => Promise.reject(new NotificationNotSent('SNS refused Publish: Throttling')) },
  });
}

describe('a first rollout', () => {
  it('an event while the endpoint is created changes nothing; InService promotes once, alarms created, one notification', async () => {
    const v1 = await approvedVersion('d1');
    expect(await deploy(v1)).toMatchObject({ kind: 'creating', configName: configOf(v1) });

    expect(await change()).toEqual({ kind: 'in-progress', status: 'Creating' });
    expect(await statusOf(1)).toBe('DEPLOYING');
    expect(m.aws.alarms.size).toBe(0);
    expect(m.notifications()).toEqual([]);

    m.aws.settleEndpoint(endpointName, 'in-service');
    expect(await change()).toEqual({ kind: 'promoted', version: 1 });
    expect(await statusOf(1)).toBe('PRODUCTION');
    const record = await modelRecord();
    expect(record).toMatchObject({ champion: 1, alarmsCreated: true });
    expect(record.challenger).toBeUndefined();
    expect([...m.aws.alarms.keys()].sort()).toEqual(Object.values(m.names.alarms(MODEL)).sort());
    expect(m.aws.alarms.get(m.names.alarms(MODEL).featureDrift)?.input).toMatchObject({
      MetricName: 'FeatureDriftMax',
      Threshold: 0.2,
    });
    const [promoted] = await auditOf('PROMOTED');
    expect(notices()).toEqual([
      {
        kind: 'version-promoted',
        subject: 'churn v1 is in production',
        message: `${endpointName} now serves v1 (${configOf(v1)}).`,
        id: `${promoted!.at}#PROMOTED:1`,
      },
    ]);

    // Delivered again, and late: nothing more.
    expect(await change()).toEqual({ kind: 'ignored', why: 'no rollout in flight for churn' });
    expect(await auditOf('PROMOTED')).toHaveLength(1);
    expect(m.notifications()).toHaveLength(1);
    expect(await pending()).toEqual([]);
  });

  it('a Failed endpoint: DEPLOY_FAILED with the reason, the endpoint that never served removed, the next version creates it', async () => {
    const v1 = await approvedVersion('d1');
    await deploy(v1);
    const v2 = await approvedVersion('d2');
    expect(await deploy(v2)).toEqual({ kind: 'queued', behind: 1 });

    m.aws.settleEndpoint(endpointName, 'failed');
    const outcome = await change();
    expect(outcome).toEqual({
      kind: 'deploy-failed',
      version: 1,
      reason: stringMatching(/^the rollout of v1 failed: mlops-churn is Failed \(.*ping health check/),
      next: { kind: 'creating', endpointName, configName: configOf(v2) },
    });
    expect(await m.registry.getVersion(MODEL, 1)).toMatchObject({
      status: 'DEPLOY_FAILED',
      failureReason: stringContaining('did not pass the ping health check'),
    });
    expect(m.aws.endpoints.get(endpointName)).toMatchObject({ config: configOf(v2), status: 'Creating' });
    expect(await modelRecord()).toMatchObject({ challenger: 2 });
    expect((await modelRecord()).champion).toBeUndefined();
    expect(notices()).toEqual([
      expect.objectContaining({ kind: 'deployment-failed', subject: 'churn v1: deployment failed' }),
    ]);
    expect(await auditOf('DEPLOY_FAILED')).toEqual([expect.objectContaining({ version: 1 })]);
  });

  it('an event for an endpoint that was deleted behind the rollout is ignored', async () => {
    await deploy(await approvedVersion('d1'));
    m.aws.endpoints.delete(endpointName);
    expect(await change()).toEqual({ kind: 'ignored', why: `${endpointName} does not exist` });
    expect(await statusOf(1)).toBe('DEPLOYING');
  });
});

describe('a later rollout', () => {
  let v1: VersionRecord;
  let v2: VersionRecord;
  beforeEach(async () => {
    v1 = await inProduction('d1');
    v2 = await approvedVersion('d2');
  });

  it('a late event of the previous rollout while the update runs changes nothing; InService promotes and archives the champion', async () => {
    expect(await deploy(v2)).toMatchObject({ kind: 'updating', configName: configOf(v2) });
    // The alarms created at v1's promotion guard this rollout.
    expect(m.aws.sagemaker.commandCalls(UpdateEndpointCommand)[0]!.args[0].input).toMatchObject({
      EndpointConfigName: configOf(v2),
      DeploymentConfig: {
        AutoRollbackConfiguration: {
          Alarms: [
            { AlarmName: m.names.alarms(MODEL).errorRate },
            { AlarmName: m.names.alarms(MODEL).latency },
          ],
        },
      },
    });

    expect(await change()).toEqual({ kind: 'in-progress', status: 'Updating' });
    expect([await statusOf(1), await statusOf(2)]).toEqual(['PRODUCTION', 'DEPLOYING']);

    m.aws.settleEndpoint(endpointName, 'in-service');
    expect(await change()).toEqual({ kind: 'promoted', version: 2, archived: 1 });
    expect([await statusOf(1), await statusOf(2)]).toEqual(['ARCHIVED', 'PRODUCTION']);
    expect(await modelRecord()).toMatchObject({ champion: 2 });
    expect((await modelRecord()).challenger).toBeUndefined();
    expect(await auditOf('VERSION_ARCHIVED')).toEqual([
      expect.objectContaining({ version: 1, from: 'PRODUCTION', to: 'ARCHIVED' }),
    ]);
    expect(notices().at(-1)).toMatchObject({
      kind: 'version-promoted',
      subject: 'churn v2 is in production',
      message: `${endpointName} now serves v2 (${configOf(v2)}). v1 was archived.`,
    });

    expect(await change()).toMatchObject({ kind: 'ignored' });
    expect(await auditOf('PROMOTED')).toHaveLength(2);
    expect(m.notifications()).toHaveLength(2);
    expect(v1.version).toBe(1);
  });

  it('rolled back by SageMaker: ROLLED_BACK with the reason, the champion stays, once', async () => {
    await deploy(v2);
    m.aws.settleEndpoint(endpointName, 'rolled-back');
    const reason = `the rollout of v2 was rolled back: ${endpointName} still serves ${configOf(v1)} (Alarm mlops-churn-error-rate in ALARM during the baking period; traffic rolled back)`;
    expect(await change()).toEqual({ kind: 'rolled-back', version: 2, reason });
    expect(await m.registry.getVersion(MODEL, 2)).toMatchObject({
      status: 'ROLLED_BACK',
      failureReason: reason,
    });
    expect(await statusOf(1)).toBe('PRODUCTION');
    expect(await modelRecord()).toMatchObject({ champion: 1 });
    expect((await modelRecord()).challenger).toBeUndefined();
    expect(notices().at(-1)).toMatchObject({
      kind: 'deployment-failed',
      subject: 'churn v2: rolled back',
      message: reason,
    });

    expect(await change()).toMatchObject({ kind: 'ignored' });
    expect(await auditOf('ROLLED_BACK')).toHaveLength(1);
    expect(m.notifications()).toHaveLength(2);
  });

  it('UpdateRollbackFailed: DEPLOY_FAILED with the reason, and the endpoint (serving the champion) is kept', async () => {
    await deploy(v2);
    const endpoint = m.aws.endpoints.get(endpointName)!;
    endpoint.status = 'UpdateRollbackFailed';
    endpoint.failureReason = 'Rollback failed: instance limit';
    delete endpoint.pending;

    expect(await change()).toEqual({
      kind: 'deploy-failed',
      version: 2,
      reason: `the rollout of v2 failed: ${endpointName} is UpdateRollbackFailed (Rollback failed: instance limit)`,
    });
    expect(await statusOf(2)).toBe('DEPLOY_FAILED');
    expect(m.aws.endpoints.has(endpointName)).toBe(true);
    expect(await modelRecord()).toMatchObject({ champion: 1 });
    expect((await modelRecord()).challenger).toBeUndefined();
    expect(await change()).toMatchObject({ kind: 'ignored' });
    expect(await auditOf('DEPLOY_FAILED')).toHaveLength(1);
  });

  it.each([
    ['in-service', 'promoted', 'PROMOTED', 'version-promoted'],
    ['rolled-back', 'rolled-back', 'ROLLED_BACK', 'deployment-failed'],
  ] as const)(
    'the same event delivered twice at once (%s): one delivery ends the rollout, once, with one notification',
    async (outcome, kind, audit, notice) => {
      await deploy(v2);
      m.aws.settleEndpoint(endpointName, outcome);
      const outcomes = await Promise.all([change(), change()]);
      expect(outcomes.map((o) => o.kind).sort()).toEqual(['ignored', kind].sort());
      expect(await auditOf(audit)).toEqual(
        audit === 'PROMOTED'
          ? [expect.objectContaining({ version: 1 }), expect.objectContaining({ version: 2 })]
          : [expect.objectContaining({ version: 2 })],
      );
      expect(notices().slice(1)).toEqual([expect.objectContaining({ kind: notice })]);
      expect(await pending()).toEqual([]);
    },
  );

  it('an event after the lock was taken but before the update was requested is not read as a rollback', async () => {
    // v2 takes the lock and its UpdateEndpoint is throttled: the endpoint still serves v1, in service.
    await expect(deploy(v2, throttledOnce('updateEndpoint'))).rejects.toThrow('Rate exceeded');
    expect(await m.registry.getVersion(MODEL, 2)).toMatchObject({ status: 'DEPLOYING' });
    expect((await m.registry.getVersion(MODEL, 2))?.rolloutRequestedAt).toBeUndefined();

    expect(await change()).toEqual({ kind: 'in-progress', status: 'rollout not yet requested' });
    expect(await statusOf(2)).toBe('DEPLOYING');
    expect(await auditOf('ROLLED_BACK')).toEqual([]);

    // The retried event sends the update; its end promotes v2.
    expect(await deploy(v2)).toMatchObject({ kind: 'updating' });
    m.aws.settleEndpoint(endpointName, 'in-service');
    expect(await change()).toEqual({ kind: 'promoted', version: 2, archived: 1 });
  });

  it.each([
    ['in-service', { kind: 'promoted', version: 2, archived: 1 }],
    ['rolled-back', { kind: 'rolled-back', version: 2 }],
  ] as const)(
    'when the rollout ends (%s), the newest approved version that waited rolls out next',
    async (outcome, ended) => {
      await deploy(v2);
      const v3 = await approvedVersion('d3');
      const v4 = await approvedVersion('d4');
      expect(await deploy(v3)).toEqual({ kind: 'queued', behind: 2 });
      expect(await deploy(v4)).toEqual({ kind: 'queued', behind: 2 });

      m.aws.settleEndpoint(endpointName, outcome);
      expect(await change()).toMatchObject({
        ...ended,
        next: { kind: 'updating', endpointName, configName: configOf(v4) },
      });
      expect(await modelRecord()).toMatchObject({ challenger: 4 });
      expect([await statusOf(3), await statusOf(4)]).toEqual(['APPROVED', 'DEPLOYING']);
      expect(m.aws.endpoints.get(endpointName)).toMatchObject({ status: 'Updating', pending: configOf(v4) });
      // The end was notified before the next rollout started; the duplicate starts nothing more.
      expect(m.notifications()).toHaveLength(2);
      expect(await change()).toEqual({ kind: 'in-progress', status: 'Updating' });
      expect(m.rolloutRequests().update).toBe(2);
    },
  );
});

describe('failures between the change and its notification', () => {
  it('a promotion that fails: the alarms are there already, and the retried event promotes once', async () => {
    await deploy(await approvedVersion('d1'));
    m.aws.settleEndpoint(endpointName, 'in-service');
    m.registry.failNext('promote');
    await expect(change()).rejects.toThrow('injected failure');
    expect(await statusOf(1)).toBe('DEPLOYING');
    expect(await modelRecord()).toMatchObject({ alarmsCreated: true, challenger: 1 });
    expect(m.aws.alarms.size).toBe(5);
    expect(m.notifications()).toEqual([]);

    expect(await change()).toEqual({ kind: 'promoted', version: 1 });
    expect(m.notifications()).toHaveLength(1);
    expect(await auditOf('PROMOTED')).toHaveLength(1);
  });

  it('a promotion written whose answer was lost: the retried event finds no rollout and sends the notification', async () => {
    await deploy(await approvedVersion('d1'));
    m.aws.settleEndpoint(endpointName, 'in-service');
    m.registry.failNext('promote', { when: 'after' });
    await expect(change()).rejects.toThrow('injected failure');
    expect(await statusOf(1)).toBe('PRODUCTION');
    expect(m.notifications()).toEqual([]);
    expect(await pending()).toHaveLength(1);

    expect(await change()).toEqual({ kind: 'ignored', why: 'no rollout in flight for churn' });
    expect(notices()).toEqual([expect.objectContaining({ kind: 'version-promoted' })]);
    expect(await pending()).toEqual([]);
  });

  it('a refused notification: the rollback stands, the redelivered event sends it once, with its id', async () => {
    await inProduction('d1');
    await deploy(await approvedVersion('d2'));
    m.aws.settleEndpoint(endpointName, 'rolled-back');
    await expect(change(refusingNotifier())).rejects.toBeInstanceOf(NotificationNotSent);
    expect(await statusOf(2)).toBe('ROLLED_BACK');
    expect(await pending()).toEqual([expect.not.objectContaining({ claimedUntil: anything() })]);

    expect(await change()).toMatchObject({ kind: 'ignored' });
    const [rolledBack] = await auditOf('ROLLED_BACK');
    expect(notices().at(-1)).toMatchObject({
      kind: 'deployment-failed',
      id: `${rolledBack!.at}#ROLLED_BACK:2`,
    });
    expect(m.notifications()).toHaveLength(2);
    expect(await change()).toMatchObject({ kind: 'ignored' });
    expect(m.notifications()).toHaveLength(2);
  });
});

describe('events that are not about a rollout of ours', () => {
  it('an endpoint of another stack, a model never seen, a model with no rollout in flight', async () => {
    expect(await change(m, 'other-endpoint')).toEqual({
      kind: 'ignored',
      why: 'other-endpoint is not an endpoint of this stack',
    });
    expect(await change(m, m.names.endpoint('leads'))).toEqual({
      kind: 'ignored',
      why: 'no rollout in flight for leads',
    });
    await inProduction('d1');
    expect(await change()).toEqual({ kind: 'ignored', why: 'no rollout in flight for churn' });
    expect(await m.registry.getModel('leads')).toBeUndefined();
  });
});
