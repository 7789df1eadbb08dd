/**
 * The local cloud running in `--dir` as the operator commands see it: the registry in DynamoDB
 * Local (env.json's endpoint and table, the fixed local credentials), alarm states and operator
 * commands through its control API (`GET /alarms`, `POST /operator`), uploads into its S3 API.
 * Where this stands: CLI target for the local cloud.
 */
import { userInfo } from 'node:os';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { createRegistryStore } from '../../adapters/dynamodb/dynamodb-registry-store';
import type { OperatorCommand, OperatorResult } from '../../core/domain/operator-commands';
import { isPlainObject } from '../../core/support/objects';
import { readLocalCloudEnv, type LocalCloudEnv } from '../../local/cloud-env';
import { controlFetch, type ControlAccess } from '../../local/control-server';
import { findRunningCloud } from '../../local/demo/remote-cloud';
import { dynamoDbLocalClientConfig } from '../../local/services/dynamodb-local';
import { s3ClientConfig } from '../../local/services/s3-server';
import { CliError } from '../command';
import { parseOperatorResult } from './operator-result';
import { S3DatasetUploader } from './s3-uploader';
import type { AlarmReader, AlarmState, OperatorClient, Target } from './target';

/** The target of a command without `--stack`: the local cloud running in `dir`. */
export async function localTarget(dir: string): Promise<Target> {
  const env = await findRunningCloud(dir);
  if (!env) {
    const stale = readLocalCloudEnv(dir);
    throw new CliError(
      stale
        ? `the local cloud of ${dir} (pid ${stale.pid}) does not answer: start it again with \`npm run local\`, or pass --stack <name> for a deployed stack`
        : `no local cloud is running in ${dir}: start one with \`npm run local\` (or pass --dir), or pass --stack <name> for a deployed stack`,
    );
  }
  return localTargetOf(env);
}

/** The target on a local cloud's env.json (tests give one of their own). */
export function localTargetOf(
  env: Pick<
    LocalCloudEnv,
    'dir' | 'dynamodbEndpoint' | 'registryTable' | 's3Endpoint' | 'bucket' | 'resourcePrefix'
  > &
    ControlAccess,
): Target {
  const dynamodb = new DynamoDBClient(dynamoDbLocalClientConfig(env.dynamodbEndpoint));
  const s3 = new S3Client(s3ClientConfig(env.s3Endpoint));
  return {
    kind: 'local',
    description: `local cloud in ${env.dir}`,
    bucket: env.bucket,
    resourcePrefix: env.resourcePrefix,
    registry: createRegistryStore(dynamodb, env.registryTable),
    alarms: new ControlApiAlarmReader(env),
    operator: new ControlApiOperatorClient(env),
    uploader: new S3DatasetUploader(s3, env.bucket),
    actor: () => Promise.resolve(localActor()),
    close() {
      dynamodb.destroy();
      s3.destroy();
    },
  };
}

/** `local:<os user>`: who approved, in the local cloud's audit trail. */
export function localActor(): string {
  let user: string;
  try {
    user = userInfo().username;
  } catch {
    user = process.env.USER ?? process.env.USERNAME ?? 'unknown';
  }
  return `local:${user}`;
}

/** Alarm states from the control API's `GET /alarms` (kept live by the local cloud). */
export class ControlApiAlarmReader implements AlarmReader {
  constructor(private readonly access: ControlAccess) {}

  async listAlarms(models: readonly string[]): Promise<AlarmState[]> {
    const response = await controlFetch(this.access, '/alarms');
    if (response.status === 404)
      throw new CliError('this local cloud does not serve its alarm states (an older version): restart it');
    const body: unknown = await response.json().catch(() => undefined);
    if (!response.ok || !isPlainObject(body) || !Array.isArray(body.alarms))
      throw new CliError(
        `the local cloud's GET /alarms answered ${response.status}: ${JSON.stringify(body)}`,
      );
    const wanted = new Set(models);
    return (body.alarms as AlarmState[]).filter((a) => a.model !== undefined && wanted.has(a.model));
  }
}

/** Operator commands through the control API's `POST /operator` (the operator handler, run locally). */
export class ControlApiOperatorClient implements OperatorClient {
  constructor(private readonly access: ControlAccess) {}

  async send(command: OperatorCommand): Promise<OperatorResult> {
    const response = await controlFetch(this.access, '/operator', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(command),
    });
    if (response.status === 404)
      throw new CliError('this local cloud does not take operator commands (an older version): restart it');
    const body: unknown = await response.json().catch(() => undefined);
    // 400 carries the malformed result; anything else that is not 200 is the control API's own error.
    if (response.status !== 200 && response.status !== 400)
      throw new CliError(
        `the local cloud's POST /operator answered ${response.status}: ${JSON.stringify(body)}`,
      );
    return parseOperatorResult(body, 'the local cloud');
  }
}
