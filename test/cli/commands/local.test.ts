/**
 * `mlops local env`: how to reach the local cloud running in --dir, for people and (--json) for
 * scripts; a clear failure when none runs there. (`mlops local up` is exercised by the local
 * cloud's own tests.)
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localCommand } from '../../../cli/commands/local';
import type { LocalCloudEnv } from '../../../local/cloud-env';
import { captureIo } from '../support/cli-fakes';

describe('mlops local env', () => {
  let dir: string;
  let env: LocalCloudEnv;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mlops-local-env-'));
    env = {
      dir,
      pid: process.pid,
      region: 'us-east-1',
      s3Endpoint: 'http://127.0.0.1:4568',
      dynamodbEndpoint: 'http://127.0.0.1:8000',
      accessKeyId: 'S3RVER',
      secretAccessKey: 'S3RVER',
      dynamodbCredentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      bucket: 'mlops-local-data',
      registryTable: 'mlops-registry',
      resourcePrefix: 'mlops',
      timeScale: 60,
      endpoints: { host: '127.0.0.1', urls: { 'mlops-churn': 'http://127.0.0.1:41000' } },
      controlUrl: 'http://127.0.0.1:40000',
      controlToken: 'a'.repeat(64),
      files: { deadLetters: 'd', notifications: 'n', metrics: 'm', alarms: 'a', objectEvents: 'o' },
      startedAt: '2026-12-02T00:00:00.000Z',
    };
    await writeFile(join(dir, 'env.json'), JSON.stringify(env));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('--json prints env.json as it is', async () => {
    const io = captureIo();
    expect(await localCommand.run(['env', '--dir', dir, '--json'], io)).toBe(0);
    expect(JSON.parse(io.stdout)).toEqual(env);
  });

  it('prints the endpoints and credentials for people', async () => {
    const io = captureIo();
    expect(await localCommand.run(['env', '--dir', dir], io)).toBe(0);
    expect(io.stdout).toContain('S3 API          http://127.0.0.1:4568');
    expect(io.stdout).toContain('endpoint        http://127.0.0.1:41000   (mlops-churn)');
  });

  it('fails with what to do when no local cloud runs in --dir', async () => {
    const io = captureIo();
    expect(await localCommand.run(['env', '--dir', join(dir, 'nothing-here'), '--json'], io)).toBe(1);
    expect(io.stdout).toBe('');
    expect(io.stderr).toMatch(/no local cloud is running in .*npm run local/);
  });
});
