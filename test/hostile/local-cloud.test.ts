/**
 * Hostile inputs against the local cloud itself (issue 16, item 3): no single request may bring it
 * down, and a service that dies comes back alone. One local cloud for the file, at a high time
 * scale: a 300-character file name is answered with S3's error and the next upload trains; DynamoDB
 * Local's JVM killed with `kill -9` is started again, and an upload made while it was down is
 * recorded (its ingest retried in real seconds), not dead-lettered.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Log } from '../../core/use-cases/context';
import { LocalCloud } from '../../local/cloud';
import { churnCsv } from '../../local/demo/dataset';
import { s3ClientConfig } from '../../local/services/s3-server';
import { stringMatching } from '../support/matchers';
import { until } from '../support/until';

/** The pids of the DynamoDB Local JVMs running on `dataDir` (as test/local/services/dynamodb-local.test.ts finds them). */
function javaPidsFor(dataDir: string): number[] {
  try {
    return execFileSync('pgrep', ['-f', `^java .*DynamoDBLocal\\.jar.*${dataDir}`], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

describe('the local cloud under hostile requests and failures (issue 16)', () => {
  let dir: string;
  let cloud: LocalCloud | undefined;
  let s3: S3Client | undefined;
  const warnings: string[] = [];
  const log: Log = {
    debug: () => {},
    info: () => {},
    warn: (message) => warnings.push(message),
    error: (message) => warnings.push(message),
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mlops-hostile-'));
    cloud = await LocalCloud.start({
      dir,
      s3Port: 0,
      dynamodbPort: 0,
      timeScale: 360,
      quiet: true,
      log,
      handlerLogLevel: 'SILENT',
      monitorSchedule: false,
      reconcileSchedule: false,
    });
    s3 = new S3Client({ ...s3ClientConfig(cloud.env.s3Endpoint), maxAttempts: 1 });
    for (const model of ['churn', 'leads']) {
      await s3.send(
        new PutObjectCommand({
          Bucket: cloud.env.bucket,
          Key: `models/${model}/config.json`,
          Body: JSON.stringify({ labelColumn: 'churned' }),
        }),
      );
    }
  });
  afterAll(async () => {
    s3?.destroy();
    await cloud?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const upload = (key: string, seed: number) =>
    s3!.send(
      new PutObjectCommand({
        Bucket: cloud!.env.bucket,
        Key: key,
        Body: churnCsv({ rows: 300, seed }),
      }),
    );
  /** The versions of `model` once one has left TRAINING (trained, then gated and deployed or not). */
  const trained = (model: string) =>
    until(
      `a trained version of ${model}`,
      async () => {
        const versions = await cloud!.context.registry.listVersions(model).catch(() => []);
        return versions.some((v) => v.status !== 'TRAINING') ? versions : undefined;
      },
      60_000,
    );

  it('answers a 300-character file name with S3 KeyTooLongError and keeps serving: the next upload trains', async () => {
    const longName = `datasets/churn/${'n'.repeat(296)}.csv`;
    await expect(upload(longName, 1)).rejects.toMatchObject({
      name: 'KeyTooLongError',
      $metadata: { httpStatusCode: 400 },
      message: stringMatching(/file name is 300 bytes long.*at most \d+ bytes/),
    });
    // Still up: the next upload is stored and trains.
    await upload('datasets/churn/customers.csv', 2);
    const versions = await trained('churn');
    expect(versions[0]?.status).not.toBe('FAILED');
    await cloud!.bus.drain();
    expect(cloud!.bus.deadLetters()).toEqual([]);
  });

  it('restarts DynamoDB Local when its JVM is killed (kill -9); an upload made meanwhile is recorded, not dead-lettered', async () => {
    const dataDir = join(dir, 'dynamodb');
    const [pid] = javaPidsFor(dataDir);
    expect(pid).toBeGreaterThan(0);
    process.kill(pid!, 'SIGKILL');
    await until(
      'the JVM gone',
      () => Promise.resolve(javaPidsFor(dataDir).includes(pid!) ? undefined : true),
      10_000,
      20,
    );
    // Uploaded while the registry is down: its ingest fails until DynamoDB Local is back.
    await upload('datasets/leads/leads.csv', 3);
    await until(
      'DynamoDB Local back',
      () => Promise.resolve(javaPidsFor(dataDir).some((p) => p !== pid) ? true : undefined),
      30_000,
    );
    const versions = await trained('leads');
    expect(versions).toHaveLength(1);
    await cloud!.bus.drain();
    expect(cloud!.bus.deadLetters()).toEqual([]);
    expect(warnings.join('\n')).toMatch(/DynamoDB Local \(pid \d+\) was killed by SIGKILL: restarting it/);
  });
});
