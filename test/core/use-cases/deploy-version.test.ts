/**
 * DeployVersion when the hosting service refuses a call for good: the version ends DEPLOY_FAILED
 * with the refusal as its reason, the rollout lock (the model's challenger) is released, a
 * notification goes out and the next approved version rolls out; a transient error is rethrown
 * with the lock kept, so that the retried event sends the call again. On an in-memory registry
 * that applies transitions conditionally and keeps their notifications in an outbox, as the
 * DynamoDB store does.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { parseModelConfig, type ModelConfig } from '../../../core/domain/model-config';
import { ResourceNames } from '../../../core/domain/naming';
import type { AuditEvent, ModelRecord, VersionRecord, VersionStatus } from '../../../core/domain/registry';
import {
  EndpointRequestRejected,
  type EndpointDescription,
  type EndpointService,
} from '../../../core/ports/endpoint-service';
import { NotificationNotSent, type Notification } from '../../../core/ports/monitoring';
import type { RegistryStore, TransitionRequest } from '../../../core/ports/registry-store';
import { silentLog, type MlopsContext } from '../../../core/use-cases/context';
import { DeployVersion } from '../../../core/use-cases/deploy-version';
import { NotificationOutbox } from '../../../core/use-cases/notification-outbox';
import { MemoryOutbox } from '../../support/memory-outbox';

const MODEL = 'churn';
const names = new ResourceNames('mlops');
const ENDPOINT = names.endpoint(MODEL);

/**
 * The registry methods DeployVersion uses, in memory, every transition conditional on `from` and
 * writing its notification to the outbox only when it applied.
 */
class MemoryRegistry extends MemoryOutbox {
  readonly versions = new Map<number, VersionRecord>();
  readonly audit: AuditEvent[] = [];
  model: ModelRecord;

  constructor(config: ModelConfig, champion?: number) {
    super();
    const at = '2025-06-01T00:00:00Z';
    this.model = {
      model: MODEL,
      config,
      versionCounter: 0,
      ...(champion !== undefined ? { champion } : {}),
      createdAt: at,
      updatedAt: at,
    };
  }

  add(version: number, status: VersionStatus): void {
    this.versions.set(version, {
      model: MODEL,
      version,
      status,
      datasetId: `d${version}`,
      trainingJobName: `mlops-churn-v${version}`,
      image: 'xgboost',
      hyperparameters: {},
      objectiveMetric: 'validation:auc',
      artifactUri: `s3://data/artifacts/churn/v${version}/model.tar.gz`,
      createdAt: '2025-06-01T00:00:00Z',
      updatedAt: '2025-06-01T00:00:00Z',
    });
  }

  status(version: number): VersionStatus | undefined {
    return this.versions.get(version)?.status;
  }

  async getModel(): Promise<ModelRecord> {
    return this.model;
  }
  async getVersion(_model: string, version: number): Promise<VersionRecord | undefined> {
    return this.versions.get(version);
  }
  async listVersions(): Promise<VersionRecord[]> {
    return [...this.versions.values()].sort((a, b) => a.version - b.version);
  }
  async transitionVersion(request: TransitionRequest): Promise<boolean> {
    const version = this.versions.get(request.version);
    if (!version || !request.from.includes(version.status)) return false;
    this.versions.set(request.version, { ...version, ...request.set, status: request.to });
    this.audit.push(request.audit);
    this.write(request.audit);
    return true;
  }
  async startDeployment(request: TransitionRequest): Promise<boolean> {
    const { challenger } = this.model;
    if (challenger !== undefined && challenger !== request.version) return false;
    if (!(await this.transitionVersion(request))) return false;
    this.model = { ...this.model, challenger: request.version };
    return true;
  }
  async endFailedDeployment(request: TransitionRequest): Promise<boolean> {
    if (!(await this.transitionVersion(request))) return false;
    if (this.model.challenger === request.version) this.model = { ...this.model, challenger: undefined };
    return true;
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

  private record(call: Call, configName: string): void {
    this.calls.push({ call, configName });
    const i = this.faults.findIndex(
      (f) => f.call === call && (f.configName === undefined || f.configName === configName),
    );
    if (i >= 0) throw this.faults.splice(i, 1)[0]!.error;
  }

  async ensureModel(spec: { modelName: string }): Promise<void> {
    this.record('ensureModel', spec.modelName);
  }
  async ensureEndpointConfig(spec: { configName: string }): Promise<void> {
    this.record('ensureEndpointConfig', spec.configName);
  }
  async describeEndpoint(): Promise<EndpointDescription | undefined> {
    return this.endpoint;
  }
  async createEndpoint(endpointName: string, configName: string): Promise<void> {
    this.record('createEndpoint', configName);
    this.endpoint = { endpointName, status: 'Creating', configName, pendingConfigName: configName };
  }
  async updateEndpoint(_endpointName: string, configName: string): Promise<void> {
    this.record('updateEndpoint', configName);
    this.endpoint = { ...this.endpoint!, status: 'Updating', pendingConfigName: configName };
  }
  async deleteEndpoint(): Promise<void> {
    this.endpoint = undefined;
  }
}

const refused = (operation: string, message: string) =>
  new EndpointRequestRejected(`SageMaker refused ${operation} ${ENDPOINT}: ${message}`);
const throttled = () => Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
const configOf = (version: number) => names.endpointConfig(MODEL, version, `d${version}`);

let registry: MemoryRegistry;
let endpoints: FakeEndpoints;
let notified: Notification[];
/** Errors the notifier throws at its next calls, in order. */
let notifyFaults: Error[];
let deployer: DeployVersion;
let ctx: MlopsContext;

/** A model whose v1 serves production, with `versions` in the given statuses. */
function setUp(options: { champion?: number; versions: Record<number, VersionStatus> }): void {
  const parsed = parseModelConfig('{}');
  if (!parsed.ok) throw new Error(parsed.problems.join('; '));
  registry = new MemoryRegistry(parsed.config, options.champion);
  for (const [n, status] of Object.entries(options.versions)) registry.add(Number(n), status);
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
    registry: registry as unknown as RegistryStore,
    endpoints,
    notifier: {
      notify: async (n: Notification) => {
        const fault = notifyFaults.shift();
        if (fault) throw fault;
        notified.push(n);
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
      reason: expect.stringContaining('ResourceLimitExceeded: ml.m5.large for endpoint usage'),
    });
    expect(registry.versions.get(2)).toMatchObject({
      status: 'DEPLOY_FAILED',
      failureReason: expect.stringContaining('SageMaker refused UpdateEndpoint'),
    });
    expect(registry.model.challenger).toBeUndefined();
    expect(registry.model.champion).toBe(1);
    expect(registry.audit.filter((a) => a.type === 'DEPLOY_FAILED')).toEqual([
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
    setUp({ versions: { 1: 'APPROVED' } });
    endpoints.failNext(
      'createEndpoint',
      refused('CreateEndpoint', 'ResourceLimitExceeded: Number of endpoints'),
    );
    expect(await deployer.execute(MODEL, 1)).toMatchObject({ kind: 'failed' });
    expect(registry.status(1)).toBe('DEPLOY_FAILED');
    expect(registry.model.challenger).toBeUndefined();
    expect(notified).toHaveLength(1);
  });

  it('CreateEndpointConfig refused before the lock is taken: APPROVED -> DEPLOY_FAILED, no lock', async () => {
    endpoints.failNext(
      'ensureEndpointConfig',
      refused('CreateEndpointConfig', 'ValidationException: bad instance type'),
    );
    expect(await deployer.execute(MODEL, 2)).toMatchObject({
      kind: 'failed',
      reason: expect.stringContaining('bad instance type'),
    });
    expect(registry.versions.get(2)).toMatchObject({
      status: 'DEPLOY_FAILED',
      failureReason: expect.stringContaining('bad instance type'),
    });
    expect(registry.audit.filter((a) => a.type === 'DEPLOY_FAILED')).toEqual([
      expect.objectContaining({ version: 2, from: 'APPROVED', to: 'DEPLOY_FAILED' }),
    ]);
    expect(registry.model.challenger).toBeUndefined();
    expect(endpoints.calls.map((c) => c.call)).toEqual(['ensureModel', 'ensureEndpointConfig']);
    expect(notified).toEqual([expect.objectContaining({ kind: 'deployment-failed' })]);
  });

  it('a refused notification is rethrown and stays pending; a later flush sends it once, with its id', async () => {
    endpoints.failNext('updateEndpoint', refused('UpdateEndpoint', 'ResourceLimitExceeded'));
    notifyFaults.push(new NotificationNotSent('SNS refused Publish: Throttling: Rate exceeded'));
    await expect(deployer.execute(MODEL, 2)).rejects.toThrow('Rate exceeded');
    expect(registry.status(2)).toBe('DEPLOY_FAILED');
    expect(notified).toEqual([]);
    expect(registry.pending()).toHaveLength(1);

    // The retried event finds the version ended (nothing more to deploy) and its handler's flush
    // (ProcessTrainingJob, ProcessEndpointChange) delivers what the first delivery could not.
    expect(await deployer.execute(MODEL, 2)).toEqual({ kind: 'not-approved', status: 'DEPLOY_FAILED' });
    await new NotificationOutbox(ctx).flush(MODEL);
    expect(notified).toEqual([
      expect.objectContaining({
        kind: 'deployment-failed',
        id: registry.audit.find((a) => a.type === 'DEPLOY_FAILED')!.at + '#DEPLOY_FAILED:2',
      }),
    ]);
    expect(registry.pending()).toEqual([]);
  });

  it('a transient error is rethrown and keeps the lock, so the retried event sends the call again', async () => {
    endpoints.failNext('updateEndpoint', throttled());
    await expect(deployer.execute(MODEL, 2)).rejects.toThrow('Rate exceeded');
    expect(registry.status(2)).toBe('DEPLOYING');
    expect(registry.model.challenger).toBe(2);
    expect(notified).toEqual([]);

    expect(await deployer.execute(MODEL, 2)).toMatchObject({ kind: 'updating', configName: configOf(2) });
    expect(registry.versions.get(2)?.rolloutRequestedAt).toBeDefined();
  });
});

describe('the next approved version after a refusal', () => {
  it('rolls out the version that waited behind the refused one', async () => {
    setUp({ champion: 1, versions: { 1: 'PRODUCTION', 2: 'APPROVED', 3: 'APPROVED' } });
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
      reason: expect.stringContaining('bad rollback alarm'),
      next: { kind: 'updating', endpointName: ENDPOINT, configName: configOf(3) },
    });
    expect(registry.status(2)).toBe('DEPLOY_FAILED');
    expect(registry.status(3)).toBe('DEPLOYING');
    expect(registry.model.challenger).toBe(3);
  });

  it('goes on past a next version that is refused too', async () => {
    setUp({ champion: 1, versions: { 1: 'PRODUCTION', 2: 'APPROVED', 3: 'APPROVED' } });
    endpoints.failNext('updateEndpoint', refused('UpdateEndpoint', 'no'), configOf(2));
    endpoints.failNext('updateEndpoint', refused('UpdateEndpoint', 'no again'), configOf(3));
    // v2 is the one delivered; v3 (the newest waiting) is tried next and refused as well.
    expect(await deployer.execute(MODEL, 2)).toMatchObject({
      kind: 'failed',
      next: { kind: 'failed', reason: expect.stringContaining('no again') },
    });
    expect([registry.status(2), registry.status(3)]).toEqual(['DEPLOY_FAILED', 'DEPLOY_FAILED']);
    expect(registry.model.challenger).toBeUndefined();
    expect(notified.map((n) => n.subject)).toEqual([
      'churn v2: deployment failed',
      'churn v3: deployment failed',
    ]);
  });
});
