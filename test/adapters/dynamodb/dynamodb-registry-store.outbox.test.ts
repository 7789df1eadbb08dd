/**
 * The registry store as the notifications' transactional outbox, against DynamoDB Local (one JVM
 * and one table for this file): a write whose audit line carries a notification stores it in the
 * same transaction, so the outbox item exists iff the change applied and a duplicate writes none;
 * the items are listed per model and across the fleet (GSI), claimed conditionally, released only
 * by the claim's holder, and completed idempotently.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoDbRegistryStore } from '../../../adapters/dynamodb/dynamodb-registry-store';
import type { IncidentRecord } from '../../../core/domain/registry';
import type { Notification } from '../../../core/ports/monitoring';
import type { NotifyingAuditEvent, TransitionRequest } from '../../../core/ports/registry-store';
import { createRegistryTable, startDynamoDbLocal, type DynamoDbLocal } from '../../support/dynamodb-local';
import { audit, nextAt, transition, uniqueModel, versionIn } from './registry-fixtures';

const TABLE = 'registry-outbox';
let local: DynamoDbLocal;
let store: DynamoDbRegistryStore;

beforeAll(async () => {
  local = await startDynamoDbLocal();
  await createRegistryTable(local.client, TABLE);
  store = new DynamoDbRegistryStore(local.documentClient, TABLE);
});

afterAll(async () => {
  await local?.stop();
});

function notice(model: string, kind: Notification['kind'] = 'training-failed'): Notification {
  return { kind, model, subject: `${model}: ${kind}`, message: 'what happened' };
}

/** A transition whose audit line carries a notification. */
function notifying(request: TransitionRequest, kind?: Notification['kind']): TransitionRequest {
  return { ...request, audit: { ...request.audit, notification: notice(request.model, kind) } };
}

/** The model's items as stored, by entity. */
async function items(model: string, entity: string): Promise<Record<string, unknown>[]> {
  const page = await local.documentClient.send(
    new QueryCommand({
      TableName: TABLE,
      KeyConditionExpression: 'PK = :pk',
      ExpressionAttributeValues: { ':pk': `MODEL#${model}` },
      ConsistentRead: true,
    }),
  );
  return (page.Items ?? []).filter((item) => item.entity === entity);
}

describe('the outbox item is written with the change, iff it applied', () => {
  it('a transition writes its notification once; duplicates (in a row and at once) write none', async () => {
    const { model, version } = await versionIn(store, 'tr', 'TRAINING');
    const request = notifying(transition(model, version, ['TRAINING'], 'FAILED', { failureReason: 'oom' }));
    const results = await Promise.all([1, 2, 3].map(() => store.transitionVersion(request)));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await store.transitionVersion(request)).toBe(false);
    expect(
      await store.transitionVersion(
        notifying(transition(model, version, ['TRAINING'], 'FAILED', { failureReason: 'again' })),
      ),
    ).toBe(false);

    const pending = await store.listPendingNotifications(model);
    expect(pending).toEqual([
      {
        id: `${request.audit.at}#${request.audit.eventId}`,
        model,
        notification: notice(model),
        createdAt: request.audit.at,
      },
    ]);
    // The audit line is stored without the notification.
    const trail = await store.listAudit(model);
    expect(trail.at(-1)).toEqual(
      Object.fromEntries(Object.entries(request.audit).filter(([k]) => k !== 'notification')),
    );
    expect(await items(model, 'OUTBOX')).toEqual([
      expect.objectContaining({
        SK: `OUTBOX#${pending[0]!.id}`,
        GSI1PK: 'OUTBOX',
        GSI1SK: `${request.audit.at}#${model}#${request.audit.eventId}`,
      }),
    ]);
  });

  it('a refused transition writes no notification, and one without a notification writes none', async () => {
    const { model, version } = await versionIn(store, 'refused', 'TRAINING');
    expect(
      await store.transitionVersion(notifying(transition(model, version, ['TRAINED'], 'APPROVED'))),
    ).toBe(false);
    expect(await store.transitionVersion(transition(model, version, ['TRAINING'], 'TRAINED'))).toBe(true);
    expect(await store.listPendingNotifications(model)).toEqual([]);
  });

  it('a rejected dataset: the notification once, a duplicate rejection none', async () => {
    const model = uniqueModel('rej');
    const dataset = {
      model,
      datasetId: 'bad.csv-1',
      sourceUri: `s3://data/datasets/${model}/bad.csv`,
      status: 'REJECTED' as const,
      rejection: { code: 'EMPTY_DATASET', reason: 'no rows' },
      createdAt: nextAt(),
    };
    const line = (): NotifyingAuditEvent => ({
      ...audit(model, 'DATASET_REJECTED:bad.csv-1'),
      notification: notice(model, 'dataset-rejected'),
    });
    const first = line();
    expect(await store.recordRejectedDataset(dataset, first)).toBe(true);
    expect(await store.recordRejectedDataset(dataset, line())).toBe(false);
    expect((await store.listPendingNotifications(model)).map((p) => p.id)).toEqual([
      `${first.at}#DATASET_REJECTED:bad.csv-1`,
    ]);
  });

  it('a promotion and a failed rollout carry theirs; a second promotion none', async () => {
    const { model, version } = await versionIn(store, 'promo', 'DEPLOYING');
    const at = nextAt();
    const promotion = {
      model,
      version,
      at,
      audit: {
        ...audit(model, `PROMOTED:${version}`, { at }),
        notification: notice(model, 'version-promoted'),
      },
    };
    expect(await store.promote(promotion)).toBe(true);
    expect(await store.promote({ ...promotion, at: nextAt() })).toBe(false);
    expect((await store.listPendingNotifications(model)).map((p) => p.notification.kind)).toEqual([
      'version-promoted',
    ]);

    const failed = await versionIn(store, 'fail', 'DEPLOYING');
    const end = notifying(
      transition(failed.model, failed.version, ['DEPLOYING'], 'DEPLOY_FAILED', { failureReason: 'x' }),
      'deployment-failed',
    );
    expect(await store.endFailedDeployment(end)).toBe(true);
    expect(await store.endFailedDeployment(end)).toBe(false);
    expect((await store.listPendingNotifications(failed.model)).map((p) => p.notification.kind)).toEqual([
      'deployment-failed',
    ]);
  });

  it('an incident opened and resolved: one notification each, whatever the duplicates', async () => {
    const model = uniqueModel('inc');
    const alarm = `mlops-${model}-error-rate`;
    const openedAt = nextAt();
    const incident: IncidentRecord = {
      model,
      alarmName: alarm,
      incidentId: `${alarm}@${openedAt}`,
      status: 'OPEN',
      openedAt,
      reason: 'errors',
    };
    const opening = {
      ...audit(model, 'open', { at: openedAt }),
      notification: notice(model, 'incident-opened'),
    };
    const opened = await Promise.all([1, 2, 3].map(() => store.openIncident(incident, opening)));
    expect(opened.filter(Boolean)).toHaveLength(1);
    const resolvedAt = nextAt();
    const resolving = {
      ...audit(model, 'resolve', { at: resolvedAt }),
      notification: notice(model, 'incident-resolved'),
    };
    const resolved = await Promise.all(
      [1, 2, 3].map(() => store.resolveIncident(model, alarm, resolvedAt, resolving)),
    );
    expect(resolved.filter(Boolean)).toHaveLength(1);
    expect((await store.listPendingNotifications(model)).map((p) => p.notification.kind)).toEqual([
      'incident-opened',
      'incident-resolved',
    ]);
  });
});

describe('delivery', () => {
  /** A model with one pending notification; its id. */
  async function pendingOne(label: string): Promise<{ model: string; id: string }> {
    const { model, version } = await versionIn(store, label, 'TRAINING');
    const request = notifying(transition(model, version, ['TRAINING'], 'FAILED', { failureReason: 'x' }));
    expect(await store.transitionVersion(request)).toBe(true);
    return { model, id: `${request.audit.at}#${request.audit.eventId}` };
  }
  const T = (minute: number) => new Date(Date.UTC(2030, 0, 1, 0, minute)).toISOString();

  it('a claim is taken once, held until it ends, then taken again', async () => {
    const { model, id } = await pendingOne('claim');
    const claims = await Promise.all([1, 2, 3].map(() => store.claimNotification(model, id, T(0), T(5))));
    expect(claims.filter(Boolean)).toHaveLength(1);
    expect((await store.listPendingNotifications(model))[0]).toMatchObject({ id, claimedUntil: T(5) });
    expect(await store.claimNotification(model, id, T(4), T(9))).toBe(false);
    expect(await store.claimNotification(model, id, T(6), T(11))).toBe(true);
    expect((await store.listPendingNotifications(model))[0]).toMatchObject({ claimedUntil: T(11) });
  });

  it('a release frees only the caller’s own claim', async () => {
    const { model, id } = await pendingOne('release');
    expect(await store.claimNotification(model, id, T(0), T(5))).toBe(true);
    await store.releaseNotification(model, id, T(4)); // not the claim held: nothing happens
    expect(await store.claimNotification(model, id, T(1), T(6))).toBe(false);
    await store.releaseNotification(model, id, T(5));
    expect((await store.listPendingNotifications(model))[0]).not.toHaveProperty('claimedUntil');
    expect(await store.claimNotification(model, id, T(1), T(6))).toBe(true);
  });

  it('a completed notification is gone: completing again is fine, claiming it fails', async () => {
    const { model, id } = await pendingOne('complete');
    expect(await store.claimNotification(model, id, T(0), T(5))).toBe(true);
    await store.completeNotification(model, id);
    await store.completeNotification(model, id);
    expect(await store.listPendingNotifications(model)).toEqual([]);
    expect(await store.claimNotification(model, id, T(10), T(15))).toBe(false);
    await store.releaseNotification(model, id, T(15));
    expect(await items(model, 'OUTBOX')).toEqual([]);
  });

  it('lists pending notifications across models written before a time, oldest first', async () => {
    const a = await pendingOne('fleet-a');
    const b = await pendingOne('fleet-b');
    const cut = nextAt();
    const c = await pendingOne('fleet-c');
    const before = (await store.listPendingNotificationsBefore(cut)).map((p) => p.id);
    expect(before).toEqual(expect.arrayContaining([a.id, b.id]));
    expect(before).not.toContain(c.id);
    expect(before.indexOf(a.id)).toBeLessThan(before.indexOf(b.id));
    const all = await store.listPendingNotificationsBefore('9999');
    expect(all.map((p) => p.id)).toContain(c.id);
    for (const attribute of ['PK', 'SK', 'GSI1PK', 'GSI1SK', 'entity'])
      expect(Object.keys(all[0]!)).not.toContain(attribute);
    await store.completeNotification(a.model, a.id);
    expect((await store.listPendingNotificationsBefore(cut)).map((p) => p.id)).not.toContain(a.id);
  });
});
