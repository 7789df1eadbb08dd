/**
 * A running local cloud (another process, `npm run local`) as the demo sees it: the S3 API and
 * DynamoDB Local through the SDK, endpoint URLs from its `env.json`, faults through its control
 * API. Where this stands: local demo support.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { S3ObjectStore } from '../../adapters/aws/s3-object-store';
import { createRegistryStore } from '../../adapters/dynamodb/dynamodb-registry-store';
import { readLocalCloudEnv, type LocalCloudEnv } from '../cloud';
import { controlFetch } from '../control-server';
import { dynamoDbLocalClientConfig } from '../services/dynamodb-local';
import { s3ClientConfig } from '../services/s3-server';
import type { DemoCloud } from './demo';

/** The env of a local cloud running in `dir` that answers, or undefined. */
export async function findRunningCloud(dir: string): Promise<LocalCloudEnv | undefined> {
  const env = readLocalCloudEnv(dir);
  if (!env?.controlUrl || !env.controlToken) return undefined;
  try {
    process.kill(env.pid, 0);
  } catch {
    return undefined; // env.json left behind by a process that is gone
  }
  try {
    const response = await controlFetch(env, '/endpoints/-', { signal: AbortSignal.timeout(2000) });
    await response.text();
    return env;
  } catch {
    return undefined;
  }
}

/** A DemoCloud over a local cloud running in another process; `close()` releases the clients. */
export function remoteDemoCloud(env: LocalCloudEnv): DemoCloud & { close(): void } {
  const s3 = new S3Client(s3ClientConfig(env.s3Endpoint));
  const dynamodb = new DynamoDBClient(dynamoDbLocalClientConfig(env.dynamodbEndpoint));
  const fault = async (name: string, method: 'PUT' | 'DELETE', body?: unknown) => {
    const response = await controlFetch(env, `/endpoints/${name}/fault`, {
      method,
      ...(body ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
    });
    if (!response.ok)
      throw new Error(`the local cloud refused the fault (${response.status}): ${await response.text()}`);
  };
  return {
    registry: createRegistryStore(dynamodb, env.registryTable),
    objects: new S3ObjectStore(s3),
    bucket: env.bucket,
    timeScale: env.timeScale,
    // env.json is rewritten as endpoints come into service: read it afresh.
    endpointUrl: (name) => readLocalCloudEnv(env.dir)?.endpoints.urls[name],
    injectFault: (name, f) => fault(name, 'PUT', f),
    clearFault: (name) => fault(name, 'DELETE'),
    close() {
      s3.destroy();
      dynamodb.destroy();
    },
  };
}
