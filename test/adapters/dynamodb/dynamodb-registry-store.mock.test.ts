/**
 * Unit tests of the DynamoDB registry store's error handling with a mocked document client: the
 * cases DynamoDB Local does not produce on demand (TransactionConflict, throttling).
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { mockClient } from 'aws-sdk-client-mock';
import { DynamoDBClient, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import {
  DynamoDbRegistryStore,
  RegistryStoreError,
} from '../../../adapters/dynamodb/dynamodb-registry-store';
import type { TransitionRequest } from '../../../core/ports/registry-store';

const documentClient = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
const ddb = mockClient(documentClient);
const store = new DynamoDbRegistryStore(documentClient, 'registry', { maxAttempts: 3 });

const request: TransitionRequest = {
  model: 'm',
  version: 1,
  from: ['TRAINING'],
  to: 'TRAINED',
  audit: { model: 'm', at: '2026-01-01T00:00:00.000Z', eventId: 'e', type: 'T', actor: 'test', reason: 'r' },
};

function cancelled(...codes: string[]): TransactionCanceledException {
  return new TransactionCanceledException({
    message: 'Transaction cancelled',
    $metadata: {},
    CancellationReasons: codes.map((Code) => ({ Code })),
  });
}

beforeEach(() => {
  ddb.reset();
});

describe('DynamoDbRegistryStore error handling', () => {
  it('retries a transaction cancelled by TransactionConflict', async () => {
    ddb.on(TransactWriteCommand).rejectsOnce(cancelled('TransactionConflict', 'None')).resolves({});
    expect(await store.transitionVersion(request)).toBe(true);
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(2);
  });

  it('gives up on endless conflicts with a CONFLICT error', async () => {
    ddb.on(TransactWriteCommand).rejects(cancelled('TransactionConflict', 'None'));
    await expect(store.transitionVersion(request)).rejects.toMatchObject({
      name: 'RegistryStoreError',
      code: 'CONFLICT',
    });
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(3);
  });

  it('maps a condition failure on the version to false', async () => {
    ddb.on(TransactWriteCommand).rejects(cancelled('ConditionalCheckFailed', 'None'));
    expect(await store.transitionVersion(request)).toBe(false);
    const input = ddb.commandCalls(TransactWriteCommand)[0]!.args[0].input;
    expect(input.TransactItems?.[0]?.Update).toMatchObject({
      Key: { PK: 'MODEL#m', SK: 'VERSION#000001' },
      ConditionExpression: expect.stringContaining('IN (') as unknown,
    });
  });

  it('propagates other failures with the SDK error as cause', async () => {
    const throttled = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
    ddb.on(TransactWriteCommand).rejects(cancelled('ThrottlingError', 'None'));
    ddb.on(GetCommand).rejects(throttled);

    const transition = await store.transitionVersion(request).catch((error: unknown) => error);
    expect(transition).toBeInstanceOf(RegistryStoreError);
    expect(transition).toMatchObject({
      code: 'DYNAMODB_ERROR',
      cause: { name: 'TransactionCanceledException' },
    });

    await expect(store.getVersion('m', 1)).rejects.toMatchObject({
      name: 'RegistryStoreError',
      operation: 'getVersion',
      cause: throttled,
    });
  });
});

describe('DynamoDbRegistryStore.startDeployment: the rollout lock', () => {
  const start: TransitionRequest = { ...request, from: ['APPROVED'], to: 'DEPLOYING' };
  // The model item's condition failed: the cancellation alone does not say why.
  const lockRefused = () => cancelled('None', 'ConditionalCheckFailed', 'None');

  it('makes the lock a condition on the model item: absent, or held by this version', async () => {
    ddb.on(TransactWriteCommand).resolves({});
    expect(await store.startDeployment(start)).toBe(true);
    const model = ddb.commandCalls(TransactWriteCommand)[0]!.args[0].input.TransactItems?.[1]?.Update;
    expect(model).toMatchObject({ Key: { PK: 'MODEL#m', SK: 'MODEL' } });
    const names = model!.ExpressionAttributeNames!;
    const challenger = Object.keys(names).find((placeholder) => names[placeholder] === 'challenger')!;
    const self = Object.keys(model!.ExpressionAttributeValues!).find(
      (placeholder) => model!.ExpressionAttributeValues![placeholder] === 1,
    )!;
    expect(model!.ConditionExpression).toBe(
      `attribute_exists(PK) AND (attribute_not_exists(${challenger}) OR ${challenger} = ${self})`,
    );
  });

  it('answers false, once, when another version holds the lock', async () => {
    ddb.on(TransactWriteCommand).rejects(lockRefused());
    ddb.on(GetCommand).resolves({ Item: { PK: 'MODEL#m', SK: 'MODEL', model: 'm', challenger: 2 } });
    expect(await store.startDeployment(start)).toBe(false);
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(1);
  });

  it('tries again when the lock was released between the write and the read', async () => {
    ddb.on(TransactWriteCommand).rejectsOnce(lockRefused()).resolves({});
    ddb.on(GetCommand).resolves({ Item: { PK: 'MODEL#m', SK: 'MODEL', model: 'm' } });
    expect(await store.startDeployment(start)).toBe(true);
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(2);
  });

  it('is INCONSISTENT when the version exists but its model item does not', async () => {
    ddb.on(TransactWriteCommand).rejects(lockRefused());
    ddb.on(GetCommand).resolves({});
    await expect(store.startDeployment(start)).rejects.toMatchObject({
      code: 'INCONSISTENT',
      operation: 'startDeployment',
    });
  });
});
