/**
 * What `mlops local up` prints: where each service is and with which credentials, and a warning when
 * DynamoDB Local could not be kept on 127.0.0.1.
 */
import { describe, expect, it } from 'vitest';
import { describeLocalCloud, type LocalCloudEnv } from '../../local/cloud-env';

const env: LocalCloudEnv = {
  dir: '/home/me/.mlops-local',
  pid: 1234,
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
  endpoints: { host: '127.0.0.1', urls: {} },
  controlUrl: 'http://127.0.0.1:40000',
  controlToken: 'x'.repeat(64),
  files: { deadLetters: 'd', notifications: 'n', metrics: 'm', alarms: 'a', objectEvents: 'o' },
  startedAt: '2026-12-02T00:00:00.000Z',
};

describe('the local cloud as printed', () => {
  it('names DynamoDB Local as loopback-only with the local access key', () => {
    const text = describeLocalCloud(env);
    expect(text).toContain(
      'DynamoDB Local  http://127.0.0.1:8000   (table mlops-registry; 127.0.0.1 only; access key S3RVER)',
    );
    expect(text).not.toContain('WARNING');
    expect(text).not.toContain(env.controlToken);
  });

  it('warns when DynamoDB Local listens on every interface, and says how to fix it', () => {
    const text = describeLocalCloud({
      ...env,
      dynamodbExposure:
        'listening on every interface, any credentials: this Java has no compiler module (a JRE only); install a JDK (openjdk-17-jdk-headless) to keep it on 127.0.0.1',
    });
    expect(text).toMatch(/DynamoDB Local .*WARNING: listening on every interface.*openjdk-17-jdk-headless/);
    expect(text).not.toContain('127.0.0.1 only');
  });
});
