/**
 * DeployVersion when the hosting service refuses a call for good: the version ends DEPLOY_FAILED
 * with the refusal as its reason, the rollout lock (the model's challenger) is released, a
 * notification goes out and the next approved version rolls out; a transient error is rethrown
 * with the lock kept, so that the retried event sends the call again. On the in-memory registry
 * (adapters/memory/memory-registry-store.ts: the DynamoDB store's conditional writes and outbox),
 * seeded through the port's own methods.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { MemoryRegistryStore } from '../../../adapters/memory/memory-registry-store';
import { parseModelConfig, type ModelConfig } from '../../../core/domain/model-config';
import { ResourceNames } from '../../../core/domain/naming';
import type { VersionStatus } from '../../../core/domain/registry';
import {
  EndpointRequestRejected,
  type EndpointDescription,
  type EndpointService,
} from '../../../core/ports/endpoint-service';
import { NotificationNotSent, type Notification } from '../../../core/ports/monitoring';
import { silentLog, type MlopsContext } from '../../../core/use-cases/context';
import { DeployVersion } from '../../../core/use-cases/deploy-version';
import { NotificationOutbox } from '../../../core/use-cases/notification-outbox';
import { stringContaining } from '../../support/matchers';

const MODEL = 'churn';
const names = new ResourceNames('mlops');
const ENDPOINT = names.endpoint(MODEL);

const SEEDED_AT = '2025-06-01T00:00:00Z';

/**
 * Puts MODEL and `versions` (numbered from 1, each trained from dataset `d<n>` with its artifact)
 * in the registry through the port's own writes, as the use cases would have made them: a
 * PRODUCTION version took the rollout lock and was promoted, so it is the champion. Each write
 * must apply: a seed cannot silently set up something else.
 */
async function seed(
  store: MemoryRegistryStore,
  config: ModelConfig,
  versions: Record<number, 'APPROVED' | 'PRODUCTION'>,
): Promise<void> {
  const applied = (what: string, ok: boolean) => {
    if (!ok) throw new Error(`seed: ${what} did not apply`);
  };
  await store.saveModelConfig(MODEL, config, SEEDED_AT);
  const numbers = Object.keys(versions)
    .map(Number)
    .sort((a, b) => a - b);
  for (const n of numbers) {
    const audit = (type: string) => ({
      model: MODEL,
      at: SEEDED_AT,
      eventId: `seed:${type}:${n}`,
      type,
      actor: 'seed',
      version: n,
      reason: 'seed',
    });
    const { version } = await store.registerDatasetAndVersion({
      dataset: {
        model: MODEL,
        datasetId: `d${n}`,
        sourceUri: `s3://data/datasets/churn/d${n}.csv`,
        status: 'ACCEPTED',
        createdAt: SEEDED_AT,
      },
      buildVersion: (v) => ({
        model: MODEL,
        version: v,
        status: 'TRAINING',
        datasetId: `d${v}`,
        trainingJobName: `mlops-churn-v${v}`,
        image: 'xgboost',
        hyperparameters: {},
        objectiveMetric: 'validation:auc',
        artifactUri: `s3://data/artifacts/churn/v${v}/model.tar.gz`,
        createdAt: SEEDED_AT,
        updatedAt: SEEDED_AT,
      }),
      audit: audit('REGISTERED'),
    });
    applied(`v${n} registered`, version?.version === n);
    const move = (from: VersionStatus, to: VersionStatus) => ({
      model: MODEL,
      version: n,
      from: [from],
      to,
      set: { updatedAt: SEEDED_AT },
      audit: audit(to),
    });
    applied(`v${n} TRAINED`, await store.transitionVersion(move('TRAINING', 'TRAINED')));
    applied(`v${n} APPROVED`, await store.transitionVersion(move('TRAINED', 'APPROVED')));
    if (versions[n] === 'APPROVED') continue;
    applied(`v${n} DEPLOYING`, await store.startDeployment(move('APPROVED', 'DEPLOYING')));
    const champion = (await store.getModel(MODEL))?.champion;
    applied(
      `v${n} promoted`,
      await store.promote({
        model: MODEL,
        version: n,
        ...(champion !== undefined ? { previousChampion: champion } : {}),
        at: SEEDED_AT,
        audit: audit('PROMOTED'),
      }),
    );
  }
}

type Call = 'ensureModel' | 'ensureEndpointConfig' | 'createEndpoint' | 'updateEndpoint';

/** An endpoint service that serves `endpoint` and fails the planned calls. */
class FakeEndpoints implements EndpointService {
  endpoint: EndpointDescription | undefined;
  readonly calls: { call: Call; configName?: string }[] = [];
  private readonly faults: { call: Call; error: Error; configName?: string }[] = [];

  failNext(call: Call, error: Error, configName?: string): void {
    this.faults.push({ call, error, ...(configName !== undefined ? { configName } : {}) });
  }

  /** Records the call; rejects with its planned fault, if any. */
  private record(call: Call, configName: string): Promise<void> {
    this.calls.push({ call, configName });
    const i = this.faults.findIndex(
      (f) => f.call === call && (f.configName === undefined || f.configName === configName),
    );
    return i >= 0 ? Promise.reject(this.faults.splice(i, 1)[0]!.error) : Promise.resolve();
  }

  ensureModel(spec: { modelName: string }): Promise<void> {
    return this.record('ensureModel', spec.modelName);
  }
  ensureEndpointConfig(spec: { configName: string }): Promise<void> {
    return this.record('ensureEndpointConfig', spec.configName);
  }
  describeEndpoint(): Promise<EndpointDescription | undefined> {
    return Promise.resolve(this.endpoint);
  }
  async createEndpoint(endpointName: string, configName: string): Promise<void> {
    await this.record('createEndpoint', configName);
    this.endpoint = { endpointName, status: 'Creating', configName, pendingConfigName: configName };
  }
  async updateEndpoint(_endpointName: string, configName: string): Promise<void> {
    await this.record('updateEndpoint', configName);
    this.endpoint = { ...this.endpoint!, status: 'Updating', pendingConfigName: configName };
  }
  deleteEndpoint(): Promise<void> {
    this.endpoint = undefined;
    return Promise.resolve();
  }
}

const refused = (operation: string, message: string) =>
  new EndpointRequestRejected(`SageMaker refused ${operation} ${ENDPOINT}: ${message}`);
const throttled = () => Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
const configOf = (version: number) => names.endpointConfig(MODEL, version, `d${version}`);

let registry: MemoryRegistryStore;
let endpoints: FakeEndpoints;
let notified: Notification[];
/** Errors the notifier throws at its next calls, in order. */
let notifyFaults: Error[];
let deployer: DeployVersion;
let ctx: MlopsContext;

/** A model with `versions` in the given statuses; `champion` (a PRODUCTION one) serves the endpoint. */
async function setUp(options: {
  champion?: number;
  versions: Record<number, 'APPROVED' | 'PRODUCTION'>;
}): Promise<void> {
  const parsed = parseModelConfig('{}');
  if (!parsed.ok) throw new Error(parsed.problems.join('; '));
  registry = new MemoryRegistryStore();
  await seed(registry, parsed.config, options.versions);
  if ((await registry.getModel(MODEL))?.champion !== options.champion)
    throw new Error(`seed: the champion is not v${options.champion}`);
  endpoints = new FakeEndpoints();
  if (options.champion !== undefined) {
    endpoints.endpoint = {
      endpointName: ENDPOINT,
      status: 'InService',
      configName: configOf(options.champion),
    };
  }
  notified = [];
  notifyFaults = [];
  ctx = {
    registry,
    endpoints,
    notifier: {
      notify: (n: Notification) => {
        const fault = notifyFaults.shift();
        if (fault) return Promise.reject(fault);
        notified.push(n);
        return Promise.resolve();
      },
    },
    clock: { now: () => new Date('2025-06-03T12:00:00Z') },
    names,
    log: silentLog,
    bucket: 'data',
    region: 'us-east-1',
  } as unknown as MlopsContext;
  deployer = new DeployVersion(ctx);
}

/** What the registry holds now. */
const versionOf = (n: number) => registry.getVersion(MODEL, n);
const statusOf = async (n: number) => (await versionOf(n))?.status;
const modelRecord = async () => (await registry.getModel(MODEL))!;
const auditOf = async (type: string) => (await registry.listAudit(MODEL)).filter((a) => a.type === type);
const pending = () => registry.listPendingNotifications(MODEL);

describe('a refused endpoint call', () => {
  beforeEach(() => setUp({ champion: 1, versions: { 1: 'PRODUCTION', 2: 'APPROVED' } }));

  it('UpdateEndpoint refused: DEPLOY_FAILED with the reason, lock released, one notification', async () => {
    endpoints.failNext(
      'updateEndpoint',
      refused('UpdateEndpoint', 'ResourceLimitExceeded: ml.m5.large for endpoint usage'),
    );
    const outcome = await deployer.execute(MODEL, 2);

    expect(outcome).toEqual({
      kind: 'failed',
      reason: stringContaining('ResourceLimitExceeded: ml.m5.large for endpoint usage'),
    });
    expect(await versionOf(2)).toMatchObject({
      status: 'DEPLOY_FAILED',
      failureReason: stringContaining('SageMaker refused UpdateEndpoint'),
    });
    expect((await modelRecord()).challenger).toBeUndefined();
    expect((await modelRecord()).champion).toBe(1);
    expect(await auditOf('DEPLOY_FAILED')).toEqual([
      expect.objectContaining({ version: 2, from: 'DEPLOYING', to: 'DEPLOY_FAILED' }),
    ]);
    expect(notified).toEqual([
      expect.objectContaining({ kind: 'deployment-failed', subject: 'churn v2: deployment failed' }),
    ]);

    // Delivered again: nothing more happens.
    expect(await deployer.execute(MODEL, 2)).toEqual({ kind: 'not-approved', status: 'DEPLOY_FAILED' });
    expect(endpoints.calls.filter((c) => c.call === 'updateEndpoint')).toHaveLength(1);
    expect(notified).toHaveLength(1);
  });

  it('CreateEndpoint refused for a first version: DEPLOY_FAILED and the lock released', async () => {
    await setUp({ versions: { 1: 'APPROVED' } });
    endpoints.failNext(
      'createEndpoint',
      refused('CreateEndpoint', 'ResourceLimitExceeded: Number of endpoints'),
    );
    expect(await deployer.execute(MODEL, 1)).toMatchObject({ kind: 'failed' });
    expect(await statusOf(1)).toBe('DEPLOY_FAILED');
    expect((await modelRecord()).challenger).toBeUndefined();
    expect(notified).toHaveLength(1);
  });

  it('CreateEndpointConfig refused before the lock is taken: APPROVED -> DEPLOY_FAILED, no lock', async () => {
    endpoints.failNext(
      'ensureEndpointConfig',
      refused('CreateEndpointConfig', 'ValidationException: bad instance type'),
    );
    expect(await deployer.execute(MODEL, 2)).toMatchObject({
      kind: 'failed',
      reason: stringContaining('bad instance type'),
    });
    expect(await versionOf(2)).toMatchObject({
      status: 'DEPLOY_FAILED',
      failureReason: stringContaining('bad instance type'),
    });
    expect(await auditOf('DEPLOY_FAILED')).toEqual([
      expect.objectContaining({ version: 2, from: 'APPROVED', to: 'DEPLOY_FAILED' }),
    ]);
    expect((await modelRecord()).challenger).toBeUndefined();
    expect(endpoints.calls.map((c) => c.call)).toEqual(['ensureModel', 'ensureEndpointConfig']);
    expect(notified).toEqual([expect.objectContaining({ kind: 'deployment-failed' })]);
  });

  it('a refused notification is rethrown and stays pending; a later flush sends it once, with its id', async () => {
    endpoints.failNext('updateEndpoint', refused('UpdateEndpoint', 'ResourceLimitExceeded'));
    notifyFaults.push(new NotificationNotSent('SNS refused Publish: Throttling: Rate exceeded'));
    await expect(deployer.execute(MODEL, 2)).rejects.toThrow('Rate exceeded');
    expect(await statusOf(2)).toBe('DEPLOY_FAILED');
    expect(notified).toEqual([]);
    expect(await pending()).toHaveLength(1);

    // The retried event finds the version ended (nothing more to deploy) and its handler's flush
    // (ProcessTrainingJob, ProcessEndpointChange) delivers what the first delivery could not.
    expect(await deployer.execute(MODEL, 2)).toEqual({ kind: 'not-approved', status: 'DEPLOY_FAILED' });
    await new NotificationOutbox(ctx).flush(MODEL);
    expect(notified).toEqual([
      expect.objectContaining({
        kind: 'deployment-failed',
        id: (await auditOf('DEPLOY_FAILED'))[0]!.at + '#DEPLOY_FAILED:2',
      }),
    ]);
    expect(await pending()).toEqual([]);
  });

  it('a transient error is rethrown and keeps the lock, so the retried event sends the call again', async () => {
    endpoints.failNext('updateEndpoint', throttled());
    await expect(deployer.execute(MODEL, 2)).rejects.toThrow('Rate exceeded');
    expect(await statusOf(2)).toBe('DEPLOYING');
    expect((await modelRecord()).challenger).toBe(2);
    expect(notified).toEqual([]);

    expect(await deployer.execute(MODEL, 2)).toMatchObject({ kind: 'updating', configName: configOf(2) });
    expect((await versionOf(2))?.rolloutRequestedAt).toBeDefined();
  });
});

describe('the next approved version after a refusal', () => {
  it('rolls out the version that waited behind the refused one', async () => {
    await setUp({ champion: 1, versions: { 1: 'PRODUCTION', 2: 'APPROVED', 3: 'APPROVED' } });
    endpoints.failNext('updateEndpoint', throttled());
    await expect(deployer.execute(MODEL, 2)).rejects.toThrow('Rate exceeded');
    expect(await deployer.execute(MODEL, 3)).toEqual({ kind: 'queued', behind: 2 });

    // The retry is refused for good: v3 goes next, in the same invocation.
    endpoints.failNext(
      'updateEndpoint',
      refused('UpdateEndpoint', 'ValidationException: bad rollback alarm'),
      configOf(2),
    );
    expect(await deployer.execute(MODEL, 2)).toEqual({
      kind: 'failed',
      reason: stringContaining('bad rollback alarm'),
      next: { kind: 'updating', endpointName: ENDPOINT, configName: configOf(3) },
    });
    expect(await statusOf(2)).toBe('DEPLOY_FAILED');
    expect(await statusOf(3)).toBe('DEPLOYING');
    expect((await modelRecord()).challenger).toBe(3);
  });

  it('goes on past a next version that is refused too', async () => {
    await setUp({ champion: 1, versions: { 1: 'PRODUCTION', 2: 'APPROVED', 3: 'APPROVED' } });
    endpoints.failNext('updateEndpoint', refused('UpdateEndpoint', 'no'), configOf(2));
    endpoints.failNext('updateEndpoint', refused('UpdateEndpoint', 'no again'), configOf(3));
    // v2 is the one delivered; v3 (the newest waiting) is tried next and refused as well.
    expect(await deployer.execute(MODEL, 2)).toMatchObject({
      kind: 'failed',
      next: { kind: 'failed', reason: stringContaining('no again') },
    });
    expect([await statusOf(2), await statusOf(3)]).toEqual(['DEPLOY_FAILED', 'DEPLOY_FAILED']);
    expect((await modelRecord()).challenger).toBeUndefined();
    expect(notified.map((n) => n.subject)).toEqual([
      'churn v2: deployment failed',
      'churn v3: deployment failed',
    ]);
  });
});
