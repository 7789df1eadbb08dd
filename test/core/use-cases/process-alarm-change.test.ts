/**
 * ProcessAlarmChange, on in-memory parts (test/support/memory-context.ts): the registry store in
 * memory, CloudWatch and SNS answered by a stateful fake through the real adapters. The alarm's
 * current state decides, whatever the event says: ALARM opens one incident against the model (and
 * its champion) whatever the duplicates, OK resolves it, each with one notification; a late or
 * duplicated event changes nothing twice, and a notification the first delivery could not send is
 * sent by the redelivered one. The same behaviours as the handler-level pipeline test
 * (test/lambdas/pipeline.test.ts), asserted at the use case.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseModelConfig } from '../../../core/domain/model-config';
import { NotificationNotSent } from '../../../core/ports/monitoring';
import type { MlopsContext } from '../../../core/use-cases/context';
import { ProcessAlarmChange } from '../../../core/use-cases/process-alarm-change';
import { createMemoryContext, type MemoryContext } from '../../support/memory-context';

const MODEL = 'churn';

let m: MemoryContext;
let errorRate: string;

beforeEach(async () => {
  m = createMemoryContext();
  errorRate = m.names.alarms(MODEL).errorRate;
  await championOf(MODEL, { alarmPolicy: 'rollback' });
  alarm(errorRate, 'INSUFFICIENT_DATA', '');
});
afterEach(() => m.dispose());

/**
 * `model` with v1 in production, written through the port as the use cases write it (registered,
 * trained, approved, rolled out, promoted). Each write must apply.
 */
async function championOf(model: string, config: Record<string, unknown>): Promise<void> {
  const parsed = parseModelConfig(JSON.stringify(config));
  if (!parsed.ok) throw new Error(parsed.problems.join('; '));
  const at = m.clock.now().toISOString();
  await m.registry.saveModelConfig(model, parsed.config, at);
  const audit = (type: string) => ({
    model,
    at,
    eventId: `seed:${type}`,
    type,
    actor: 'seed',
    version: 1,
    reason: 'seed',
  });
  const { version } = await m.registry.registerDatasetAndVersion({
    dataset: {
      model,
      datasetId: 'd1',
      sourceUri: `s3://${m.bucket}/datasets/${model}/d1.csv`,
      status: 'ACCEPTED',
      createdAt: at,
    },
    buildVersion: (n) => ({
      model,
      version: n,
      status: 'TRAINING',
      datasetId: 'd1',
      trainingJobName: m.names.trainingJob(model, n, 'd1'),
      image: 'xgboost',
      hyperparameters: {},
      objectiveMetric: 'validation:auc',
      createdAt: at,
      updatedAt: at,
    }),
    audit: audit('REGISTERED'),
  });
  const move = (from: 'TRAINING' | 'TRAINED' | 'APPROVED', to: 'TRAINED' | 'APPROVED' | 'DEPLOYING') => ({
    model,
    version: 1,
    from: [from],
    to,
    set: { updatedAt: at },
    audit: audit(to),
  });
  const applied = [
    version?.version === 1,
    await m.registry.transitionVersion(move('TRAINING', 'TRAINED')),
    await m.registry.transitionVersion(move('TRAINED', 'APPROVED')),
    await m.registry.startDeployment(move('APPROVED', 'DEPLOYING')),
    await m.registry.promote({ model, version: 1, at, audit: audit('PROMOTED') }),
  ];
  if (!applied.every(Boolean)) throw new Error(`seed: ${model} v1 not in production (${applied.join()})`);
}

/** The alarm, as CloudWatch holds it now: in `state` since the context's clock says, for `reason`. */
function alarm(name: string, state: 'OK' | 'ALARM' | 'INSUFFICIENT_DATA', reason: string): string {
  m.clock.advance(60_000);
  const at = m.clock.now();
  m.aws.alarms.set(name, { input: { AlarmName: name }, state, reason, at });
  return at.toISOString();
}

/** The alarm's state-change event reaches the use case (a minute after the change). */
function change(name: string, eventReason?: string, ctx: MlopsContext = m) {
  m.clock.advance(60_000);
  return new ProcessAlarmChange(ctx).execute(name, eventReason);
}

const auditOf = async (type: string, model = MODEL) =>
  (await m.registry.listAudit(model)).filter((line) => line.type === type);
const notices = () =>
  m.notifications().map(({ kind, model, subject, message, id }) => ({ kind, model, subject, message, id }));

describe('an alarm in ALARM, then OK', () => {
  it('ALARM opens one incident against the champion, with one notification naming the policy; duplicates change nothing', async () => {
    const reason =
      'Threshold Crossed: 3 out of the last 5 datapoints were greater than the threshold (0.05).';
    const since = alarm(errorRate, 'ALARM', reason);
    const incidentId = `${errorRate}@${since}`;

    // The event's own reason is older than the alarm's: the alarm's is recorded. The policy
    // (rollback) has no earlier champion to put back: it says so on the incident.
    const action = {
      kind: 'rollback',
      status: 'skipped',
      at: '2026-11-26T10:03:00.000Z',
      detail: 'v1 is the first version of churn that served: no earlier champion to put back',
    };
    expect(await change(errorRate, 'Threshold Crossed: 1 datapoint')).toEqual({
      kind: 'opened',
      model: MODEL,
      alarmName: errorRate,
      incidentId,
      action,
    });
    expect(await m.registry.listOpenIncidents()).toEqual([
      {
        model: MODEL,
        alarmName: errorRate,
        incidentId,
        status: 'OPEN',
        openedAt: since,
        reason,
        version: 1,
        policy: 'rollback',
        action,
      },
    ]);
    const [opened] = await auditOf('INCIDENT_OPENED');
    expect(opened).toMatchObject({ version: 1, reason: `${errorRate}: ${reason}` });
    expect(notices()).toEqual([
      {
        kind: 'incident-opened',
        model: MODEL,
        subject: `churn: ${errorRate} in ALARM`,
        message: `Incident opened for churn (v1 in production).\n${reason}\nAlarm policy: rollback (not acting): ${action.detail}.`,
        id: `${opened!.at}#INCIDENT_OPENED:${errorRate}:${since}`,
      },
    ]);

    for (let i = 0; i < 2; i++)
      expect(await change(errorRate)).toEqual({
        kind: 'unchanged',
        model: MODEL,
        alarmName: errorRate,
        state: 'ALARM',
        action,
      });
    expect(await m.registry.listIncidents(MODEL)).toHaveLength(1);
    expect(await auditOf('INCIDENT_OPENED')).toHaveLength(1);
    expect(m.notifications()).toHaveLength(1);
    expect(await m.registry.listPendingNotifications(MODEL)).toEqual([]);
  });

  it('OK resolves it once; a late ALARM event after the recovery opens nothing', async () => {
    const since = alarm(errorRate, 'ALARM', 'errors');
    await change(errorRate);
    const recovered = alarm(errorRate, 'OK', 'back to normal');

    expect(await change(errorRate)).toEqual({ kind: 'resolved', model: MODEL, alarmName: errorRate });
    expect(await m.registry.listOpenIncidents()).toEqual([]);
    expect(await m.registry.listIncidents(MODEL)).toEqual([
      expect.objectContaining({
        incidentId: `${errorRate}@${since}`,
        status: 'RESOLVED',
        resolvedAt: recovered,
      }),
    ]);
    expect(notices().at(-1)).toMatchObject({
      kind: 'incident-resolved',
      subject: `churn: ${errorRate} is OK again`,
      message: 'Incident resolved.\nback to normal',
    });

    // The ALARM event delivered late, and the OK event again: the alarm is OK, nothing changes.
    expect(await change(errorRate, 'Threshold Crossed')).toEqual({
      kind: 'unchanged',
      model: MODEL,
      alarmName: errorRate,
      state: 'OK',
    });
    expect(await change(errorRate)).toMatchObject({ kind: 'unchanged', state: 'OK' });
    expect(await auditOf('INCIDENT_RESOLVED')).toHaveLength(1);
    expect(m.notifications()).toHaveLength(2);
  });

  it('a new ALARM after the recovery opens a new incident; two alarms in ALARM are two incidents', async () => {
    const first = alarm(errorRate, 'ALARM', 'errors');
    await change(errorRate);
    alarm(errorRate, 'OK', 'back to normal');
    await change(errorRate);
    const second = alarm(errorRate, 'ALARM', 'errors again');
    expect(await change(errorRate)).toMatchObject({ kind: 'opened', incidentId: `${errorRate}@${second}` });
    const latency = m.names.alarms(MODEL).latency;
    alarm(latency, 'ALARM', 'slow');
    expect(await change(latency)).toMatchObject({ kind: 'opened', alarmName: latency });

    expect((await m.registry.listOpenIncidents()).map((i) => i.alarmName).sort()).toEqual(
      [errorRate, latency].sort(),
    );
    expect((await m.registry.listIncidents(MODEL)).map((i) => [i.alarmName, i.openedAt, i.status])).toEqual([
      [latency, expect.any(String), 'OPEN'],
      [errorRate, second, 'OPEN'],
      [errorRate, first, 'RESOLVED'],
    ]);
    expect(m.notifications().map((n) => n.kind)).toEqual([
      'incident-opened',
      'incident-resolved',
      'incident-opened',
      'incident-opened',
    ]);
  });
});

describe('states and events that change nothing', () => {
  it('INSUFFICIENT_DATA, and OK without an open incident', async () => {
    expect(await change(errorRate)).toEqual({
      kind: 'unchanged',
      model: MODEL,
      alarmName: errorRate,
      state: 'INSUFFICIENT_DATA',
    });
    alarm(errorRate, 'OK', 'fine');
    expect(await change(errorRate)).toMatchObject({ kind: 'unchanged', state: 'OK' });
    expect(await m.registry.listIncidents(MODEL)).toEqual([]);
    expect(await auditOf('INCIDENT_RESOLVED')).toEqual([]);
    expect(m.notifications()).toEqual([]);
  });

  it('an alarm of another stack, and one of ours that no longer exists, are ignored', async () => {
    expect(await change('billing-alarm')).toEqual({
      kind: 'ignored',
      why: 'billing-alarm is not an alarm of this stack',
    });
    const latency = m.names.alarms(MODEL).latency;
    expect(await change(latency)).toEqual({ kind: 'ignored', why: `${latency} no longer exists` });
    expect(await m.registry.listIncidents(MODEL)).toEqual([]);
  });

  it('a model with no champion (nor record): an incident without a version, the event’s reason, the default policy', async () => {
    const name = m.names.alarms('leads').errorRate;
    alarm(name, 'ALARM', '');
    expect(await change(name, 'Threshold Crossed: from the event')).toMatchObject({ kind: 'opened' });
    const [incident] = await m.registry.listOpenIncidents();
    expect(incident).toMatchObject({ model: 'leads', reason: 'Threshold Crossed: from the event' });
    expect(incident!.version).toBeUndefined();
    expect(notices()).toEqual([
      expect.objectContaining({
        model: 'leads',
        message: 'Incident opened for leads.\nThreshold Crossed: from the event\nAlarm policy: notify.',
      }),
    ]);
  });
});

describe('failures between the change and its notification', () => {
  it('a refused notification: the incident stands, the redelivered event sends it once, with its id', async () => {
    const since = alarm(errorRate, 'ALARM', 'errors');
    const refusing = m.with({
      notifier: { notify: () => Promise.reject(new NotificationNotSent('SNS refused Publish: Throttling')) },
    });
    await expect(change(errorRate, undefined, refusing)).rejects.toBeInstanceOf(NotificationNotSent);
    expect(await m.registry.listOpenIncidents()).toHaveLength(1);
    expect(await m.registry.listPendingNotifications(MODEL)).toHaveLength(1);

    expect(await change(errorRate)).toMatchObject({ kind: 'unchanged', state: 'ALARM' });
    const [opened] = await auditOf('INCIDENT_OPENED');
    expect(notices()).toEqual([
      expect.objectContaining({
        kind: 'incident-opened',
        id: `${opened!.at}#INCIDENT_OPENED:${errorRate}:${since}`,
      }),
    ]);
    expect(await change(errorRate)).toMatchObject({ kind: 'unchanged' });
    expect(m.notifications()).toHaveLength(1);
  });

  it('an incident written whose answer was lost: the retried event finds it open and sends the notification', async () => {
    alarm(errorRate, 'ALARM', 'errors');
    m.registry.failNext('openIncident', { when: 'after' });
    await expect(change(errorRate)).rejects.toThrow('injected failure');
    expect(await m.registry.listOpenIncidents()).toHaveLength(1);
    expect(m.notifications()).toEqual([]);

    expect(await change(errorRate)).toMatchObject({ kind: 'unchanged', state: 'ALARM' });
    expect(m.notifications().map((n) => n.kind)).toEqual(['incident-opened']);
    expect(await m.registry.listPendingNotifications(MODEL)).toEqual([]);
  });

  it('a resolution that fails writes nothing: the retried event resolves it once', async () => {
    alarm(errorRate, 'ALARM', 'errors');
    await change(errorRate);
    alarm(errorRate, 'OK', 'back to normal');
    m.registry.failNext('resolveIncident');
    await expect(change(errorRate)).rejects.toThrow('injected failure');
    expect(await m.registry.listOpenIncidents()).toHaveLength(1);

    expect(await change(errorRate)).toMatchObject({ kind: 'resolved' });
    expect(m.notifications().map((n) => n.kind)).toEqual(['incident-opened', 'incident-resolved']);
  });
});
