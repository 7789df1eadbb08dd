import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { S3ObjectStore } from '../../../adapters/aws/s3-object-store';
import {
  LocalEndpointService,
  trafficSteps,
  upperSnake,
} from '../../../local/inference/local-endpoint-service';
import { EndpointRequestRejected, type RolloutPolicy } from '../../../core/ports/endpoint-service';
import { localTime, type CloudEvent, type LoadedModel, type MetricDatum } from '../../../local/contracts';
import fixture from '../../fixtures/events/sagemaker-endpoint-state-change.json';
import type { CaptureLine } from '../../../local/inference/data-capture';
import { stringMatching } from '../../support/matchers';
import { startS3Server, type S3TestServer } from '../../support/s3-server';

/** Fake models, chosen by the artifact's bytes. */
const MODELS: Record<string, LoadedModel> = {
  blue: { featureCount: 2, predict: (rows) => rows.map((r) => ((r[0] ?? 0) > 0.5 ? 1 : 0)) },
  green: { featureCount: 2, predict: (rows) => rows.map(() => 7) },
  sick: {
    featureCount: 2,
    predict: () => {
      throw new Error('CUDA out of memory');
    },
  },
};
const loadModel = (bytes: Uint8Array): Promise<LoadedModel> => {
  const kind = Buffer.from(bytes).toString('utf8');
  const model = MODELS[kind];
  if (!model) return Promise.reject(new Error(`not a model archive (${kind})`));
  return Promise.resolve(model);
};

let s3: S3TestServer;
let objects: S3ObjectStore;

beforeAll(async () => {
  s3 = await startS3Server();
  objects = new S3ObjectStore(s3.client);
  for (const kind of ['blue', 'green', 'sick', 'broken']) {
    await objects.write(s3.bucket, `artifacts/${kind}/model.tar.gz`, kind, 'application/gzip');
  }
});
afterAll(async () => {
  await s3.stop();
});

interface Harness {
  svc: LocalEndpointService;
  events: CloudEvent[];
  metrics: MetricDatum[];
  alarms: Map<string, 'OK' | 'ALARM' | 'INSUFFICIENT_DATA'>;
  root: string;
}
const open: LocalEndpointService[] = [];
const roots: string[] = [];

async function harness(root?: string): Promise<Harness> {
  const dir = root ?? (await mkdtemp(join(tmpdir(), 'local-endpoints-')));
  if (!root) roots.push(dir);
  const events: CloudEvent[] = [];
  const metrics: MetricDatum[] = [];
  const alarms = new Map<string, 'OK' | 'ALARM' | 'INSUFFICIENT_DATA'>();
  const svc = new LocalEndpointService({
    root: dir,
    objects,
    events: { publish: (e) => events.push(e) },
    metrics: { put: (d) => metrics.push(d) },
    alarms: {
      states: (names) => new Map(names.filter((n) => alarms.has(n)).map((n) => [n, alarms.get(n)!])),
    },
    // 1000 simulated seconds per real second: a 200 s bake takes 200 ms.
    time: localTime(1000),
    loadModel,
  });
  open.push(svc);
  return { svc, events, metrics, alarms, root: dir };
}

afterEach(async () => {
  await Promise.all(open.splice(0).map((svc) => svc.close()));
  await Promise.all(roots.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

/** Model + config `<prefix>-v<n>` serving the artifact of `kind`. */
async function register(svc: LocalEndpointService, prefix: string, n: number, kind: string): Promise<string> {
  const modelName = `${prefix}-m${n}`;
  const configName = `${prefix}-v${n}`;
  await svc.ensureModel({
    modelName,
    image: 'local/xgboost',
    artifactUri: `s3://${s3.bucket}/artifacts/${kind}/model.tar.gz`,
    tags: {},
  });
  await svc.ensureEndpointConfig({
    configName,
    modelName,
    variantName: 'AllTraffic',
    hosting: { type: 'instance', instanceType: 'ml.m5.large', initialInstanceCount: 1 },
    captureUri: `s3://${s3.bucket}/capture/${prefix}/`,
    capturePercent: 100,
    tags: {},
  });
  return configName;
}

async function invoke(
  url: string,
  body = '0.9,1',
  contentType = 'text/csv',
): Promise<{ status: number; text: string }> {
  const res = await fetch(`${url}/invocations`, {
    method: 'POST',
    headers: { 'content-type': contentType },
    body,
  });
  return { status: res.status, text: await res.text() };
}

const statuses = (events: CloudEvent[]) => events.map((e) => e.detail.EndpointStatus);

async function inService(h: Harness, name: string, kind = 'blue'): Promise<string> {
  const config = await register(h.svc, name, 1, kind);
  await h.svc.createEndpoint(name, config, { 'mlops:model': name });
  const d = await h.svc.waitForStable(name);
  expect(d.status).toBe('InService');
  return h.svc.endpointUrl(name)!;
}

const policy = (over: Partial<RolloutPolicy> = {}): RolloutPolicy => ({
  strategy: 'canary',
  stepPercent: 50,
  bakeSeconds: 300,
  terminationWaitSeconds: 100,
  rollbackAlarms: ['churn-errors'],
  ...over,
});

/** Invokes the endpoint while it is Updating; returns the answers seen. */
async function trafficDuringUpdate(
  h: Harness,
  name: string,
  url: string,
  onAnswer?: (text: string) => void,
): Promise<string[]> {
  const seen: string[] = [];
  while ((await h.svc.describeEndpoint(name))?.status === 'Updating') {
    const { status, text } = await invoke(url);
    expect(status).toBe(200);
    seen.push(text);
    onAnswer?.(text);
  }
  return seen;
}

describe('LocalEndpointService: create', () => {
  it('goes Creating -> InService, publishes SageMaker events and serves on a stable URL', async () => {
    const h = await harness();
    const config = await register(h.svc, 'mlops-churn', 1, 'blue');
    await h.svc.createEndpoint('mlops-churn', config, { 'mlops:model': 'churn' });
    const creating = await h.svc.describeEndpoint('mlops-churn');
    expect(creating).toMatchObject({ status: 'Creating', configName: config, pendingConfigName: config });

    const d = await h.svc.waitForStable('mlops-churn');
    expect(d).toMatchObject({ endpointName: 'mlops-churn', status: 'InService', configName: config });
    expect(d.pendingConfigName).toBeUndefined();
    expect(d.lastModifiedAt).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    expect(statuses(h.events)).toEqual(['CREATING', 'IN_SERVICE']);

    const event = h.events[1]!;
    expect(Object.keys(event).sort()).toEqual(Object.keys(fixture).sort());
    expect(Object.keys(event.detail).sort()).toEqual(Object.keys(fixture.detail).sort());
    expect(event).toMatchObject({
      source: 'aws.sagemaker',
      'detail-type': 'SageMaker Endpoint State Change',
      account: '000000000000',
      region: 'us-east-1',
      resources: ['arn:aws:sagemaker:us-east-1:000000000000:endpoint/mlops-churn'],
      detail: {
        EndpointName: 'mlops-churn',
        EndpointConfigName: config,
        Tags: [{ Key: 'mlops:model', Value: 'churn' }],
      },
    });
    expect(typeof event.detail.CreationTime).toBe('number');
    expect(event.time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);

    const url = h.svc.endpointUrl('mlops-churn')!;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(await invoke(url, '0.9,1\n0.1,1')).toEqual({ status: 200, text: '1\n0' });
    // InvokeEndpoint's own path works too.
    const res = await fetch(`${url}/endpoints/mlops-churn/invocations`, {
      method: 'POST',
      headers: { 'content-type': 'text/csv', accept: 'application/json' },
      body: '0.9,1',
    });
    expect(await res.json()).toEqual({ predictions: [1] });
    expect(res.headers.get('x-amzn-invoked-production-variant')).toBe('AllTraffic');
    expect((await fetch(`${url}/ping`)).status).toBe(200);

    // Idempotent by name.
    await h.svc.createEndpoint('mlops-churn', config, {});
    expect(statuses(h.events)).toEqual(['CREATING', 'IN_SERVICE']);
    const saved = JSON.parse(await readFile(join(h.root, 'state.json'), 'utf8')) as {
      endpoints: Record<string, unknown>;
      models: Record<string, unknown>;
    };
    expect(saved.endpoints['mlops-churn']).toMatchObject({
      status: 'InService',
      port: Number(new URL(url).port),
    });
    expect(Object.keys(saved.models)).toEqual(['mlops-churn-m1']);
  });

  it('records SageMaker invocation metrics per request', async () => {
    const h = await harness();
    const url = await inService(h, 'ep-metrics');
    await invoke(url, '0.9,1');
    await invoke(url, '0.9');
    const named = (name: string) => h.metrics.filter((m) => m.name === name);
    expect(named('Invocations').map((m) => m.value)).toEqual([1, 1]);
    expect(named('Invocation4XXErrors').map((m) => m.value)).toEqual([0, 1]);
    expect(named('Invocation5XXErrors').map((m) => m.value)).toEqual([0, 0]);
    expect(named('ModelLatency')).toHaveLength(2);
    expect(named('OverheadLatency')).toHaveLength(2);
    for (const m of h.metrics) {
      expect(m.namespace).toBe('AWS/SageMaker');
      expect(m.dimensions).toEqual({ EndpointName: 'ep-metrics', VariantName: 'AllTraffic' });
    }
    expect(named('ModelLatency')[0]).toMatchObject({ unit: 'Microseconds' });
    expect(named('ModelLatency')[0]!.value).toBeGreaterThan(0);
  });

  it('captures requests and responses to S3 at the data-capture layout', async () => {
    const h = await harness();
    const url = await inService(h, 'ep-capture');
    await invoke(url, '0.9,1');
    await invoke(url, '0.2,1');
    await h.svc.close(); // flushes
    const listed = await objects.list(s3.bucket, 'capture/ep-capture/');
    expect(listed).toHaveLength(1);
    expect(listed[0]!.key).toMatch(
      /^capture\/ep-capture\/ep-capture\/AllTraffic\/\d{4}\/\d{2}\/\d{2}\/\d{2}\/\d{2}-\d{2}-\d{3}-[0-9a-f-]{36}\.jsonl$/,
    );
    const lines = (await objects.readText(s3.bucket, listed[0]!.key))!
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as CaptureLine);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({
      captureData: {
        endpointInput: { observedContentType: 'text/csv', mode: 'INPUT', data: '0.9,1', encoding: 'CSV' },
        endpointOutput: { observedContentType: 'text/csv', mode: 'OUTPUT', data: '1', encoding: 'CSV' },
      },
      eventVersion: '0',
    });
    expect(lines[1]!.captureData.endpointOutput.data).toBe('0');
    expect(lines[0]!.eventMetadata.eventId).not.toBe(lines[1]!.eventMetadata.eventId);
  });

  it('fails with a SageMaker-like reason when the artifact is missing or cannot be loaded', async () => {
    const h = await harness();
    await h.svc.ensureModel({
      modelName: 'gone',
      image: 'x',
      artifactUri: `s3://${s3.bucket}/artifacts/none/model.tar.gz`,
      tags: {},
    });
    await h.svc.ensureEndpointConfig({
      configName: 'gone-v1',
      modelName: 'gone',
      variantName: 'AllTraffic',
      hosting: { type: 'serverless', memorySizeMb: 2048, maxConcurrency: 5 },
      captureUri: `s3://${s3.bucket}/capture/gone/`,
      capturePercent: 0,
      tags: {},
    });
    await h.svc.createEndpoint('ep-missing', 'gone-v1', {});
    const missing = await h.svc.waitForStable('ep-missing');
    expect(missing.status).toBe('Failed');
    expect(missing.failureReason).toMatch(
      /Failed to download model data .* "s3:\/\/test-bucket\/artifacts\/none\/model.tar.gz"/,
    );
    expect(statuses(h.events)).toEqual(['CREATING', 'FAILED']);
    expect(h.events[1]!.detail.FailureReason).toBe(missing.failureReason);
    expect(h.svc.endpointUrl('ep-missing')).toBeUndefined();

    const config = await register(h.svc, 'ep-broken', 1, 'broken');
    await h.svc.createEndpoint('ep-broken', config, {});
    const broken = await h.svc.waitForStable('ep-broken');
    expect(broken.status).toBe('Failed');
    expect(broken.failureReason).toMatch(/did not pass the ping health check.*not a model archive/);

    // A failed endpoint cannot be updated; it can be deleted (then it is gone).
    await expect(h.svc.updateEndpoint('ep-broken', 'gone-v1', policy())).rejects.toThrow(/Failed/);
    await h.svc.deleteEndpoint('ep-broken');
    expect(await h.svc.describeEndpoint('ep-broken')).toBeUndefined();
    expect(statuses(h.events).at(-1)).toBe('DELETING');
    await h.svc.deleteEndpoint('ep-broken');
  });

  it('refuses an unknown config for good, as the AWS adapter classifies the ValidationException', async () => {
    const h = await harness();
    await expect(h.svc.createEndpoint('ep-x', 'nope', {})).rejects.toMatchObject({
      name: 'EndpointRequestRejected',
      message: stringMatching(/Could not find endpoint configuration/),
    });
    await expect(h.svc.createEndpoint('ep-x', 'nope', {})).rejects.toBeInstanceOf(EndpointRequestRejected);
  });
});

describe('LocalEndpointService: blue/green updates', () => {
  it('canary: shifts part of the traffic to green while baking, then all, then stops blue', async () => {
    const h = await harness();
    const url = await inService(h, 'ep-canary');
    const blueUrl = h.svc.fleetUrls('ep-canary').blue!;
    const v2 = await register(h.svc, 'ep-canary', 2, 'green');
    await h.svc.updateEndpoint('ep-canary', v2, policy());
    const updating = await h.svc.describeEndpoint('ep-canary');
    expect(updating).toMatchObject({ status: 'Updating', configName: 'ep-canary-v1', pendingConfigName: v2 });

    const percents = new Set<number>();
    const seen = await trafficDuringUpdate(h, 'ep-canary', url, () =>
      percents.add(h.svc.fleetUrls('ep-canary').greenPercent),
    );
    expect(seen).toContain('1'); // blue, during the canary
    expect(seen).toContain('7'); // green
    expect(percents).toContain(50);

    const d = await h.svc.waitForStable('ep-canary');
    expect(d).toMatchObject({ status: 'InService', configName: v2 });
    expect(d.pendingConfigName).toBeUndefined();
    expect(d.failureReason).toBeUndefined();
    expect(statuses(h.events)).toEqual(['CREATING', 'IN_SERVICE', 'UPDATING', 'IN_SERVICE']);
    expect(h.events.at(-1)!.detail.EndpointConfigName).toBe(v2);
    expect(h.svc.endpointUrl('ep-canary')).toBe(url);
    expect(await invoke(url, '0.1,1')).toEqual({ status: 200, text: '7' });
    await expect(fetch(`${blueUrl}/ping`)).rejects.toThrow();
    // Serving that config already: nothing to roll out.
    await h.svc.updateEndpoint('ep-canary', v2, policy());
    expect((await h.svc.describeEndpoint('ep-canary'))!.status).toBe('InService');
    expect(h.events).toHaveLength(4);
  });

  it('rolls back when a rollback alarm is in ALARM while baking', async () => {
    const h = await harness();
    const url = await inService(h, 'ep-alarm');
    const v2 = await register(h.svc, 'ep-alarm', 2, 'green');
    h.alarms.set('churn-errors', 'OK');
    await h.svc.updateEndpoint('ep-alarm', v2, policy({ bakeSeconds: 2000 }));
    await expect.poll(() => h.svc.fleetUrls('ep-alarm').green, { interval: 5 }).toBeDefined();
    const green = h.svc.fleetUrls('ep-alarm').green!;
    await trafficDuringUpdate(h, 'ep-alarm', url, (text) => {
      if (text === '7') h.alarms.set('churn-errors', 'ALARM');
    });
    const d = await h.svc.waitForStable('ep-alarm');
    expect(d).toMatchObject({ status: 'InService', configName: 'ep-alarm-v1' });
    expect(d.pendingConfigName).toBeUndefined();
    expect(d.failureReason).toMatch(/churn-errors/);
    expect(statuses(h.events)).toEqual(['CREATING', 'IN_SERVICE', 'UPDATING', 'IN_SERVICE']);
    expect(h.events.at(-1)!.detail).toMatchObject({
      EndpointConfigName: 'ep-alarm-v1',
      FailureReason: d.failureReason,
    });
    expect(await invoke(url, '0.9,1')).toEqual({ status: 200, text: '1' });
    await expect(fetch(`${green}/ping`)).rejects.toThrow();
  });

  it('rolls back when the green fleet does not pass /ping', async () => {
    const h = await harness();
    const url = await inService(h, 'ep-sick');
    const v2 = await register(h.svc, 'ep-sick', 2, 'sick');
    await h.svc.updateEndpoint('ep-sick', v2, policy());
    const d = await h.svc.waitForStable('ep-sick');
    expect(d).toMatchObject({ status: 'InService', configName: 'ep-sick-v1' });
    expect(d.failureReason).toMatch(/did not pass the ping health check/);
    expect(statuses(h.events)).toEqual(['CREATING', 'IN_SERVICE', 'UPDATING', 'IN_SERVICE']);
    expect(await invoke(url)).toEqual({ status: 200, text: '1' });
  });

  it('refuses another update while one is in progress; the same one is a no-op', async () => {
    const h = await harness();
    await inService(h, 'ep-busy');
    const v2 = await register(h.svc, 'ep-busy', 2, 'green');
    const v3 = await register(h.svc, 'ep-busy', 3, 'blue');
    await h.svc.updateEndpoint('ep-busy', v2, policy({ bakeSeconds: 100_000 }));
    await h.svc.updateEndpoint('ep-busy', v2, policy({ bakeSeconds: 100_000 }));
    await expect(h.svc.updateEndpoint('ep-busy', v3, policy())).rejects.toMatchObject({
      name: 'ValidationException',
      message:
        'Cannot update in-progress endpoint "arn:aws:sagemaker:us-east-1:000000000000:endpoint/ep-busy".',
    });
    await expect(h.svc.deleteEndpoint('ep-busy')).rejects.toThrow(/Cannot update in-progress endpoint/);
    expect(statuses(h.events)).toEqual(['CREATING', 'IN_SERVICE', 'UPDATING']);
    await expect(h.svc.updateEndpoint('ep-none', v2, policy())).rejects.toThrow(/Could not find endpoint/);
    const started = Date.now();
    await h.svc.close();
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('computes the traffic steps of each strategy', () => {
    expect(trafficSteps(policy({ strategy: 'canary', stepPercent: 10 }))).toEqual([0.1, 1]);
    expect(trafficSteps(policy({ strategy: 'linear', stepPercent: 25 }))).toEqual([0.25, 0.5, 0.75, 1]);
    expect(trafficSteps(policy({ strategy: 'linear', stepPercent: 40 }))).toEqual([0.4, 0.8, 1]);
    expect(trafficSteps(policy({ strategy: 'all_at_once' }))).toEqual([1]);
    expect(() => trafficSteps(policy({ strategy: 'linear', stepPercent: 0 }))).toThrow();
    expect(upperSnake('InService')).toBe('IN_SERVICE');
    expect(upperSnake('UpdateRollbackFailed')).toBe('UPDATE_ROLLBACK_FAILED');
  });

  it('linear: goes through every step and ends on the new config', async () => {
    const h = await harness();
    const url = await inService(h, 'ep-linear');
    const v2 = await register(h.svc, 'ep-linear', 2, 'green');
    await h.svc.updateEndpoint(
      'ep-linear',
      v2,
      policy({ strategy: 'linear', stepPercent: 50, bakeSeconds: 50, terminationWaitSeconds: 0 }),
    );
    const d = await h.svc.waitForStable('ep-linear');
    expect(d).toMatchObject({ status: 'InService', configName: v2 });
    expect(await invoke(url)).toEqual({ status: 200, text: '7' });
  });
});

describe('LocalEndpointService: restart and faults', () => {
  it('restores InService endpoints on the same URL after close', async () => {
    const first = await harness();
    const url = await inService(first, 'ep-restore');
    await first.svc.close();
    await expect(fetch(`${url}/ping`)).rejects.toThrow();

    const second = await harness(first.root);
    expect(await second.svc.describeEndpoint('ep-restore')).toMatchObject({
      status: 'InService',
      configName: 'ep-restore-v1',
    });
    await second.svc.restore();
    expect(second.svc.endpointUrl('ep-restore')).toBe(url);
    expect(await invoke(url, '0.9,1')).toEqual({ status: 200, text: '1' });
    expect(second.events).toEqual([]); // nothing changed state
  });

  it('ends an update interrupted by a restart rolled back to the old config', async () => {
    const first = await harness();
    const url = await inService(first, 'ep-interrupted');
    const v2 = await register(first.svc, 'ep-interrupted', 2, 'green');
    await first.svc.updateEndpoint('ep-interrupted', v2, policy({ bakeSeconds: 100_000 }));
    await first.svc.close();

    const second = await harness(first.root);
    await second.svc.restore();
    const d = await second.svc.describeEndpoint('ep-interrupted');
    expect(d).toMatchObject({ status: 'InService', configName: 'ep-interrupted-v1' });
    expect(d!.failureReason).toMatch(/interrupted/);
    expect(statuses(second.events)).toEqual(['IN_SERVICE']);
    expect(await invoke(url)).toEqual({ status: 200, text: '1' });
  });

  it('injected faults answer 500s counted as Invocation5XXErrors', async () => {
    const h = await harness();
    const url = await inService(h, 'ep-fault');
    h.svc.injectFault('ep-fault', { errorRate: 1, target: 'new' });
    expect((await invoke(url)).status).toBe(200); // no green fleet: 'new' hits nothing

    h.svc.injectFault('ep-fault', { errorRate: 1, addedLatencyMs: 20 });
    h.metrics.length = 0;
    expect((await invoke(url)).status).toBe(500);
    expect((await invoke(url)).status).toBe(500);
    expect(h.metrics.filter((m) => m.name === 'Invocation5XXErrors').map((m) => m.value)).toEqual([1, 1]);
    const latency = h.metrics.find((m) => m.name === 'ModelLatency')!;
    expect(latency.value).toBeGreaterThanOrEqual(15_000);

    h.svc.clearFault('ep-fault');
    expect(await invoke(url)).toEqual({ status: 200, text: '1' });
    expect(() => h.svc.injectFault('ep-fault', { errorRate: 2 })).toThrow();
  });

  it('a fault on the new fleet makes its alarm fire and the canary roll back (demo flow)', async () => {
    const h = await harness();
    const url = await inService(h, 'ep-demo');
    const v2 = await register(h.svc, 'ep-demo', 2, 'green');
    h.svc.injectFault('ep-demo', { errorRate: 1, target: 'new' });
    await h.svc.updateEndpoint('ep-demo', v2, policy({ bakeSeconds: 2000 }));
    // A stand-in for the error-rate alarm: ALARM as soon as a 5XX is recorded.
    const alarmWatcher = setInterval(() => {
      if (h.metrics.some((m) => m.name === 'Invocation5XXErrors' && m.value === 1))
        h.alarms.set('churn-errors', 'ALARM');
    }, 5);
    const codes: number[] = [];
    while ((await h.svc.describeEndpoint('ep-demo'))?.status === 'Updating')
      codes.push((await invoke(url)).status);
    clearInterval(alarmWatcher);
    expect(codes).toContain(500);
    expect(codes).toContain(200);
    const d = await h.svc.waitForStable('ep-demo');
    expect(d).toMatchObject({ status: 'InService', configName: 'ep-demo-v1' });
    expect(d.failureReason).toMatch(/churn-errors/);
  });
});
