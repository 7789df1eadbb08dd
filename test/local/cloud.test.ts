import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INGEST_MAX_RECEIVE_COUNT } from '../../lib/constructs/ingest-pipeline';
import { FUNCTION_ASYNC_RETRY_ATTEMPTS } from '../../lib/constructs/event-handler';
import {
  alarmStateChangePattern,
  endpointStateChangePattern,
  trainingJobStateChangePattern,
} from '../../lib/constructs/lifecycle-handlers';
import { DEFAULT_INGEST_MAX_CONCURRENCY } from '../../lib/serverless-mlops-stack';
import { LOCAL_STACK_DEFAULTS, LocalCloud, stackEventPatterns, type LocalCloudEnv } from '../../local/cloud';
import { controlFetch } from '../../local/control-server';
import { fromCdkEventPattern } from '../../local/event-bus';
import { s3ClientConfig } from '../../local/services/s3-server';
import { stringMatching } from '../support/matchers';
import { churnCsv } from '../support/pipeline-harness';
import { until } from '../support/until';

/** The harness's learnable dataset, with the label column under the default name (`label`). */
const dataset = (rows: number) => churnCsv(rows).replace(/^(.*),churned\n/, '$1,label\n');

function jvmsFor(dir: string): string[] {
  try {
    return execFileSync('pgrep', ['-f', `^java .*DynamoDBLocal\\.jar.*${dir}`], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .filter(Boolean);
  } catch {
    return [];
  }
}

describe('the local cloud mirrors the stack', () => {
  it('routes with the stack rules’ own patterns', () => {
    const local = stackEventPatterns('mlops', 'bucket');
    expect(local.trainingEvents).toEqual(
      fromCdkEventPattern(trainingJobStateChangePattern('mlops') as Record<string, unknown>),
    );
    expect(local.endpointEvents).toEqual(
      fromCdkEventPattern(endpointStateChangePattern('mlops') as Record<string, unknown>),
    );
    expect(local.alarmEvents).toEqual(
      fromCdkEventPattern(alarmStateChangePattern('mlops') as Record<string, unknown>),
    );
  });

  it('uses the stack’s delivery settings', () => {
    expect(LOCAL_STACK_DEFAULTS.ingestMaxConcurrency).toBe(DEFAULT_INGEST_MAX_CONCURRENCY);
    expect(LOCAL_STACK_DEFAULTS.ingestMaxReceiveCount).toBe(INGEST_MAX_RECEIVE_COUNT);
    expect(LOCAL_STACK_DEFAULTS.functionAsyncRetryAttempts).toBe(FUNCTION_ASYNC_RETRY_ATTEMPTS);
  });
});

describe('LocalCloud', () => {
  let dir: string;
  let cloud: LocalCloud | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mlops-cloud-'));
  });
  /** The cloud on `dir`: the one a test before left running, or a new one (any test may run first). */
  const running = async (): Promise<LocalCloud> =>
    (cloud ??= await LocalCloud.start({
      dir,
      s3Port: 0,
      dynamodbPort: 0,
      timeScale: 60,
      quiet: true,
      handlerLogLevel: 'SILENT',
    }));
  afterAll(async () => {
    await cloud?.stop();
    expect(jvmsFor(dir)).toEqual([]);
    await rm(dir, { recursive: true, force: true });
  });

  it('writes env.json with what a person needs', async () => {
    const cloud = await running();
    const env = JSON.parse(await readFile(join(dir, 'env.json'), 'utf8')) as LocalCloudEnv;
    expect(env).toMatchObject({
      s3Endpoint: stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
      dynamodbEndpoint: stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
      region: 'us-east-1',
      accessKeyId: 'S3RVER',
      secretAccessKey: 'S3RVER',
      bucket: 'mlops-local-data',
      registryTable: 'mlops-registry',
    });
    expect(env).toEqual(cloud.env);
    // It holds the control API's token: its owner's only.
    expect(env.controlToken).toMatch(/^[0-9a-f]{64}$/);
    expect((await stat(join(dir, 'env.json'))).mode & 0o777).toBe(0o600);
  });

  it('takes a CSV dropped under datasets/<model>/ to a trained version in production', async () => {
    const cloud = await running();
    const s3 = new S3Client(s3ClientConfig(cloud.env.s3Endpoint));
    try {
      await s3.send(
        new PutObjectCommand({
          Bucket: cloud.env.bucket,
          Key: 'datasets/churn/customers.csv',
          Body: dataset(300),
        }),
      );
    } finally {
      s3.destroy();
    }
    const registry = cloud.context.registry;
    const version = await until(
      'a version with its training job',
      async () => {
        await cloud.bus.drain();
        const [first] = await registry.listVersions('churn');
        return first?.trainingJobName ? first : undefined;
      },
      15_000,
    );
    expect(version.version).toBe(1);
    const job = await cloud.training.waitForJob(version.trainingJobName, 20_000);
    expect(job.status).toBe('Completed');
    const promoted = await until(
      'the version in production',
      async () => {
        await cloud.bus.drain();
        const current = await registry.getVersion('churn', 1);
        return current?.status === 'PRODUCTION' ? current : undefined;
      },
      20_000,
    );
    expect(promoted.status).toBe('PRODUCTION');
    expect(cloud.bus.deadLetters()).toEqual([]);
  }, 45_000);

  it('runs operator commands and lists the alarms through its control API; alarms.json is live', async () => {
    const cloud = await running();
    const control = (path: string, body?: unknown) =>
      controlFetch(cloud.env, path, body === undefined ? {} : { method: 'POST', body: JSON.stringify(body) });
    // The operator function itself refuses a command that is not one.
    const malformed = await control('/operator', { action: 'approve', model: 'churn', version: 1 });
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toEqual({
      ok: false,
      action: 'approve',
      model: 'churn',
      error: { code: 'malformed', message: 'actor: required' },
    });
    const missing = await control('/operator', {
      action: 'reject',
      model: 'no-such-model',
      version: 1,
      actor: 'local:test',
      reason: 'testing the control API',
    });
    expect(missing.status).toBe(200);
    expect(await missing.json()).toMatchObject({ ok: false, error: { code: 'not-found' } });

    // An alarm outside the stack's prefix (no rule delivers its changes), put while the cloud runs.
    cloud.alarms.putMetricAlarm({
      AlarmName: 'test-control-api',
      Namespace: 'Test',
      MetricName: 'Errors',
      Statistic: 'Sum',
      Period: 60,
      EvaluationPeriods: 1,
      Threshold: 3,
      ComparisonOperator: 'GreaterThanThreshold',
      Tags: [{ Key: 'mlops:model', Value: 'churn' }],
    });
    const listed = (await (await control('/alarms')).json()) as { alarms: { name: string }[] };
    expect(listed.alarms.find((alarm) => alarm.name === 'test-control-api')).toEqual({
      name: 'test-control-api',
      state: 'INSUFFICIENT_DATA',
      reason: 'Unchecked: Initial alarm creation',
      updatedAt: stringMatching(/^\d{4}-\d{2}-\d{2}T/),
      threshold: 3,
      model: 'churn',
    });
    await until(
      'the alarm in alarms.json',
      async () =>
        (await readFile(cloud.env.files.alarms, 'utf8').catch(() => '')).includes('test-control-api')
          ? true
          : undefined,
      5_000,
      50,
    );
  });

  it('stops everything, once, and removes env.json', async () => {
    const stopping = await running();
    cloud = undefined;
    await Promise.all([stopping.stop(), stopping.stop()]);
    expect(jvmsFor(dir)).toEqual([]);
    expect(existsSync(join(dir, 'env.json'))).toBe(false);
  });
});
