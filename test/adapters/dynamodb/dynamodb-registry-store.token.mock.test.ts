/**
 * Unit tests, with a mocked document client, of what the store sends in each TransactWriteItems:
 * its ClientRequestToken (present, at most 36 characters, the same on every re-send of one
 * transaction, different between calls) and the status condition built from the status machine.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { mockClient } from 'aws-sdk-client-mock';
import {
  DynamoDBClient,
  TransactionCanceledException,
  TransactionInProgressException,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoDbRegistryStore } from '../../../adapters/dynamodb/dynamodb-registry-store';
import { ForbiddenTransitionError, type VersionStatus } from '../../../core/domain/registry';
import type { TransitionRequest } from '../../../core/ports/registry-store';

const documentClient = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
const ddb = mockClient(documentClient);
const store = new DynamoDbRegistryStore(documentClient, 'registry', { maxAttempts: 3 });

function request(
  from: VersionStatus[],
  to: VersionStatus,
  at = '2026-01-01T00:00:00.000Z',
): TransitionRequest {
  return {
    model: 'm',
    version: 1,
    from,
    to,
    audit: { model: 'm', at, eventId: `${to}:1`, type: to, actor: 'test', reason: 'r' },
  };
}

function tokens(): (string | undefined)[] {
  return ddb.commandCalls(TransactWriteCommand).map((call) => call.args[0].input.ClientRequestToken);
}

function conflict(): TransactionCanceledException {
  return new TransactionCanceledException({
    message: 'Transaction cancelled',
    $metadata: {},
    CancellationReasons: [{ Code: 'TransactionConflict' }, { Code: 'None' }],
  });
}

beforeEach(() => {
  ddb.reset();
});

describe('ClientRequestToken', () => {
  it('is on every transaction, at most 36 characters', async () => {
    ddb.on(TransactWriteCommand).resolves({});
    ddb.on(GetCommand).resolves({ Item: { challenger: 1 } });
    await store.transitionVersion(request(['TRAINING'], 'TRAINED'));
    await store.startDeployment(request(['APPROVED'], 'DEPLOYING'));
    await store.promote({
      model: 'm',
      version: 1,
      previousChampion: 0,
      at: 'a',
      audit: request([], 'PRODUCTION').audit,
    });
    await store.endFailedDeployment(request(['DEPLOYING'], 'ROLLED_BACK'));
    await store.recordRejectedDataset(
      { model: 'm', datasetId: 'd', sourceUri: 's3://b/k', status: 'REJECTED', createdAt: 'a' },
      request([], 'REJECTED').audit,
    );

    const sent = tokens();
    expect(sent).toHaveLength(5);
    for (const token of sent) {
      expect(token).toBeTypeOf('string');
      expect(token!.length).toBeGreaterThanOrEqual(1);
      expect(token!.length).toBeLessThanOrEqual(36);
    }
    expect(new Set(sent).size).toBe(5);
  });

  it('is the same on every re-send of one transaction (conflict, in progress, lost connection)', async () => {
    const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET', $metadata: {} });
    ddb
      .on(TransactWriteCommand)
      .rejectsOnce(conflict())
      .rejectsOnce(
        new TransactionInProgressException({ message: 'in progress', $metadata: { httpStatusCode: 400 } }),
      )
      .resolves({});
    const patient = new DynamoDbRegistryStore(documentClient, 'registry', { maxAttempts: 5 });
    expect(await patient.transitionVersion(request(['TRAINING'], 'TRAINED'))).toBe(true);
    const first = tokens();

    ddb.reset();
    ddb.on(TransactWriteCommand).rejectsOnce(reset).resolves({});
    expect(await patient.transitionVersion(request(['TRAINING'], 'FAILED'))).toBe(true);
    const second = tokens();

    expect(first).toHaveLength(3);
    expect(new Set(first).size).toBe(1);
    expect(second).toHaveLength(2);
    expect(new Set(second).size).toBe(1);
    expect(second[0]).not.toBe(first[0]);
  });

  it('differs between two calls, even with identical requests (a duplicate event is not merged into the first)', async () => {
    ddb.on(TransactWriteCommand).resolves({});
    const same = request(['TRAINING'], 'TRAINED');
    await store.transitionVersion(same);
    await store.transitionVersion(same);
    const [first, second] = tokens();
    expect(first).not.toBe(second);
  });

  it('is not re-sent after an error that says nothing was applied', async () => {
    const invalid = Object.assign(new Error('bad expression'), {
      name: 'ValidationException',
      $metadata: { httpStatusCode: 400 },
    });
    ddb.on(TransactWriteCommand).rejects(invalid);
    await expect(store.transitionVersion(request(['TRAINING'], 'TRAINED'))).rejects.toMatchObject({
      code: 'DYNAMODB_ERROR',
      cause: invalid,
    });
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(1);
  });

  it('gives up on a transaction whose outcome stays unknown with the SDK error as cause', async () => {
    const unavailable = Object.assign(new Error('try later'), {
      name: 'InternalServerError',
      $metadata: { httpStatusCode: 500 },
    });
    ddb.on(TransactWriteCommand).rejects(unavailable);
    await expect(store.transitionVersion(request(['TRAINING'], 'TRAINED'))).rejects.toMatchObject({
      name: 'RegistryStoreError',
      code: 'DYNAMODB_ERROR',
      cause: unavailable,
    });
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(3);
    expect(new Set(tokens()).size).toBe(1);
  });
});

describe('the status condition', () => {
  it('lists the requested sources the machine allows: #status IN (...)', async () => {
    ddb.on(TransactWriteCommand).resolves({});
    await store.transitionVersion(request(['TRAINED', 'PENDING_APPROVAL'], 'APPROVED'));
    const update = ddb.commandCalls(TransactWriteCommand)[0]!.args[0].input.TransactItems![0]!.Update!;
    const match = /(#n\d+) IN \(([^)]*)\)/.exec(update.ConditionExpression!);
    expect(match).not.toBeNull();
    expect(update.ExpressionAttributeNames![match![1]!]).toBe('status');
    const values = match![2]!
      .split(', ')
      .map((placeholder): unknown => update.ExpressionAttributeValues![placeholder]);
    expect(values.sort()).toEqual(['PENDING_APPROVAL', 'TRAINED']);
  });

  it('sends nothing for a transition the machine forbids', async () => {
    ddb.on(TransactWriteCommand).resolves({});
    await expect(store.transitionVersion(request(['FAILED'], 'DEPLOYING'))).rejects.toBeInstanceOf(
      ForbiddenTransitionError,
    );
    await expect(store.startDeployment(request(['FAILED'], 'DEPLOYING'))).rejects.toBeInstanceOf(
      ForbiddenTransitionError,
    );
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(0);
  });
});
