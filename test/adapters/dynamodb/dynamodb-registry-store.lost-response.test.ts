/**
 * A `TransactWriteItems` whose response is lost after DynamoDB applied it (DynamoDB Local, one JVM
 * for this file). A middleware lets the request reach the server, then throws a network error in
 * place of the response. The store must report the transition it made (`true`), not the condition
 * failure a re-send without the same `ClientRequestToken` would meet, so the use case's step (and
 * its notification) is not skipped.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  createRegistryStore,
  type DynamoDbRegistryStore,
} from '../../../adapters/dynamodb/dynamodb-registry-store';
import { ResourceNames } from '../../../core/domain/naming';
import type { Notification } from '../../../core/ports/monitoring';
import type { TrainingService } from '../../../core/ports/training-service';
import { systemClock } from '../../../core/ports/clock';
import { silentLog, type MlopsContext } from '../../../core/use-cases/context';
import { ProcessTrainingJob } from '../../../core/use-cases/process-training-job';
import { dynamoDbLocalClientConfig } from '../../../local/services/dynamodb-local';
import { createRegistryTable, startDynamoDbLocal, type DynamoDbLocal } from '../../support/dynamodb-local';
import { audit, transition, versionIn } from '../../support/registry-store-contract-fixtures';

const TABLE = 'registry-lost';
let local: DynamoDbLocal;
let store: DynamoDbRegistryStore;
const clients: DynamoDBClient[] = [];

beforeAll(async () => {
  local = await startDynamoDbLocal();
  await createRegistryTable(local.client, TABLE);
  store = createRegistryStore(local.client, TABLE);
});

afterAll(async () => {
  for (const client of clients) client.destroy();
  await local?.stop();
});

/** What a dropped connection looks like to the SDK (Node's socket error; the SDK retries it). */
function connectionReset(): Error {
  return Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
}

/**
 * A store whose client loses the response of the first `lose` TransactWriteItems calls after
 * DynamoDB applied them. `sdkAttempts` is the client's `maxAttempts` (1: the SDK does not retry,
 * as when its retries are used up). Records the token of every request that reached the server.
 */
function lossyStore(
  sdkAttempts: number,
  lose = 1,
): { store: DynamoDbRegistryStore; tokens: (string | undefined)[] } {
  const client = new DynamoDBClient({
    ...dynamoDbLocalClientConfig(local.endpoint),
    maxAttempts: sdkAttempts,
  });
  clients.push(client);
  const tokens: (string | undefined)[] = [];
  let toLose = lose;
  type Next = (args: { request: { body?: unknown } }) => Promise<unknown>;
  const loseResponse =
    (next: Next, context: { commandName?: string }) => async (args: { request: { body?: unknown } }) => {
      if (context.commandName !== 'TransactWriteItemsCommand') return next(args);
      const body = args.request.body;
      const text = typeof body === 'string' ? body : new TextDecoder().decode(body as Uint8Array);
      tokens.push((JSON.parse(text) as { ClientRequestToken?: string }).ClientRequestToken);
      const output = await next(args);
      if (toLose > 0) {
        toLose -= 1;
        throw connectionReset();
      }
      return output;
    };
  // After the retry middleware (finalizeRequest, low priority): the SDK sees the error and may retry.
  client.middlewareStack.add(loseResponse as never, {
    step: 'finalizeRequest',
    priority: 'low',
    name: 'loseTransactWriteResponse',
  });
  return { store: createRegistryStore(client, TABLE), tokens };
}

describe('a lost TransactWriteItems response', () => {
  it('the SDK retry carries the same token and succeeds', async () => {
    // Holds with or without the store's token: the SDK fills ClientRequestToken (an idempotency
    // token in the service model) once per command and re-sends that request on retry.
    const lossy = lossyStore(3);
    const { model, version } = await versionIn(store, 'sdk', 'TRAINING');

    expect(await lossy.store.transitionVersion(transition(model, version, ['TRAINING'], 'TRAINED'))).toBe(
      true,
    );

    expect(lossy.tokens).toHaveLength(2);
    expect(lossy.tokens[1]).toBe(lossy.tokens[0]);
    expect((await store.getVersion(model, version))?.status).toBe('TRAINED');
    expect((await store.listAudit(model)).filter((line) => line.to === 'TRAINED')).toHaveLength(1);
  });

  it('when the SDK has no retry left, the store re-sends the same transaction and reports it applied', async () => {
    const lossy = lossyStore(1);
    const { model, version } = await versionIn(store, 'store', 'TRAINING');

    expect(await lossy.store.transitionVersion(transition(model, version, ['TRAINING'], 'TRAINED'))).toBe(
      true,
    );

    expect(lossy.tokens).toHaveLength(2);
    expect(lossy.tokens[0]).toBeDefined();
    expect(lossy.tokens[0]!.length).toBeLessThanOrEqual(36);
    expect(lossy.tokens[1]).toBe(lossy.tokens[0]);
    expect((await store.getVersion(model, version))?.status).toBe('TRAINED');
    expect((await store.listAudit(model)).filter((line) => line.to === 'TRAINED')).toHaveLength(1);
  });

  it('a promotion whose response is lost is reported as done', async () => {
    const lossy = lossyStore(1);
    const { model, version } = await versionIn(store, 'promo', 'DEPLOYING');

    expect(
      await lossy.store.promote({ model, version, at: audit(model, 'x').at, audit: audit(model, 'promote') }),
    ).toBe(true);

    expect(await store.getModel(model)).toMatchObject({ champion: version });
    expect((await store.getVersion(model, version))?.status).toBe('PRODUCTION');
  });

  it('the use case step is not skipped: a failed training job is notified once', async () => {
    const lossy = lossyStore(1);
    const { model, version } = await versionIn(store, 'job', 'TRAINING');
    const jobName = (await store.getVersion(model, version))!.trainingJobName;
    const notifications: Notification[] = [];
    const training: Pick<TrainingService, 'describeTrainingJob'> = {
      describeTrainingJob: (name) =>
        Promise.resolve({
          jobName: name,
          status: 'Failed',
          failureReason: 'AlgorithmError: boom',
          metrics: {},
        }),
    };
    const ctx = {
      registry: lossy.store,
      training,
      notifier: {
        notify: (notification: Notification) => {
          notifications.push(notification);
          return Promise.resolve();
        },
      },
      clock: systemClock,
      names: new ResourceNames('mlops'),
      log: silentLog,
      bucket: 'data',
      region: 'us-east-1',
    } as unknown as MlopsContext;
    const useCase = new ProcessTrainingJob(ctx);

    // The handler fails on an error and the event comes again: what the second delivery does then.
    const outcome = await useCase.execute(jobName).catch(() => useCase.execute(jobName));

    expect(outcome).toMatchObject({ kind: 'failed' });
    expect(notifications.map((n) => n.kind)).toEqual(['training-failed']);
    expect((await store.getVersion(model, version))?.status).toBe('FAILED');
  });

  it('two separate identical requests still make one transition: the second answers false', async () => {
    // The port's duplicate guard: each call has its own token, so a duplicate event is not merged
    // into the first one's success (which would notify twice).
    const { model, version } = await versionIn(store, 'dup', 'TRAINING');
    const request = transition(model, version, ['TRAINING'], 'TRAINED');
    expect(await store.transitionVersion(request)).toBe(true);
    expect(await store.transitionVersion(request)).toBe(false);
    const concurrent = await versionIn(store, 'dupc', 'TRAINING');
    const same = transition(concurrent.model, concurrent.version, ['TRAINING'], 'FAILED');
    const results = await Promise.all([1, 2, 3, 4].map(() => store.transitionVersion(same)));
    expect(results.filter(Boolean)).toHaveLength(1);
  });
});
