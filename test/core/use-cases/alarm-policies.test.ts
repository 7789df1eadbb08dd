/**
 * Alarm policies that act (ProcessAlarmChange) and rollouts that wait for a firing alarm
 * (DeployVersion), on the memory context with SageMaker and CloudWatch answered by FakeAws through
 * the real adapters: `rollback` puts the previous champion back, `retrain` trains from the latest
 * accepted dataset, with one action per incident, a cool-down per model and no loop; the incident
 * keeps its evidence and what was done; a rollout into a firing alarm waits and says why.
 */
import { UpdateEndpointCommand } from '@aws-sdk/client-sagemaker';
import { describe, expect, it } from 'vitest';
import type { AlarmService, AlarmState } from '../../../core/ports/monitoring';
import type { MlopsContext } from '../../../core/use-cases/context';
import { ProcessAlarmChange } from '../../../core/use-cases/process-alarm-change';
import { ProcessTrainingJob } from '../../../core/use-cases/process-training-job';
import {
  settleRollout,
  trainVersion,
  useMemoryContext,
  type MemoryContext,
} from '../../support/memory-context';

const MODEL = 'churn';
const HOUR = 3_600_000;

const change = (m: MemoryContext, alarm: string, ctx: MlopsContext = m) => {
  m.clock.advance(60_000);
  return new ProcessAlarmChange(ctx).execute(alarm);
};
const incidentsOf = (m: MemoryContext) => m.registry.listIncidents(MODEL);
const updates = (m: MemoryContext) =>
  m.aws.sagemaker.commandCalls(UpdateEndpointCommand).map((c) => c.args[0].input);

/** The alarm service with one alarm's state replaced (threshold, datapoints: what CloudWatch tells). */
function withAlarm(m: MemoryContext, name: string, state: AlarmState): MlopsContext {
  const alarms: AlarmService = {
    ensureModelAlarms: (spec) => m.alarms.ensureModelAlarms(spec),
    describeAlarmState: (alarm) =>
      alarm === name ? Promise.resolve(state) : m.alarms.describeAlarmState(alarm),
  };
  return m.with({ alarms });
}

describe('alarm policy rollback', () => {
  const memory = useMemoryContext();

  async function twoChampions(m: MemoryContext) {
    await trainVersion(m, MODEL, { alarmPolicy: 'rollback' }, 0.8);
    await trainVersion(m, MODEL, { alarmPolicy: 'rollback' }, 0.85);
    return m.names.alarms(MODEL);
  }

  it('puts the previous champion back once, through the guarded rollout, and the incident and notification say so', async () => {
    const m = memory();
    const alarms = await twoChampions(m);
    m.aws.setAlarm(alarms.errorRate, 'ALARM', 'Threshold Crossed: 3 datapoints > 0.05');

    const outcome = await change(m, alarms.errorRate);

    const action = {
      kind: 'rollback',
      status: 'started',
      at: m.clock.now().toISOString(),
      detail: 'rolling v2 back to v1, the previous champion, through a blue/green rollout',
      version: 1,
    };
    expect(outcome).toMatchObject({ kind: 'opened', action });
    const [incident] = await incidentsOf(m);
    expect(incident).toMatchObject({ policy: 'rollback', version: 2, action });
    expect(await m.registry.getVersion(MODEL, 1)).toMatchObject({
      status: 'DEPLOYING',
      origin: { kind: 'rollback', by: 'alarm-policy', incidentId: incident!.incidentId },
    });
    expect((await m.registry.getModel(MODEL))?.lastAutomaticActionAt).toBe(action.at);
    // The firing alarm is not armed against the remedy.
    expect(updates(m).at(-1)!.DeploymentConfig?.AutoRollbackConfiguration?.Alarms).toEqual([
      { AlarmName: alarms.latency },
    ]);
    const opened = m.notifications().filter((n) => n.kind === 'incident-opened');
    expect(opened).toHaveLength(1);
    expect(opened[0]!.message).toContain(`Alarm policy: rollback (acting): ${action.detail}.`);
    expect(
      (await m.registry.listAudit(MODEL)).filter((a) => a.type === 'ALARM_POLICY_ROLLBACK'),
    ).toHaveLength(1);

    // Duplicates: the same action, nothing done twice.
    const sent = updates(m).length;
    for (let i = 0; i < 2; i++)
      expect(await change(m, alarms.errorRate)).toMatchObject({ kind: 'unchanged', action });
    expect(updates(m)).toHaveLength(sent);
    expect(m.notifications().filter((n) => n.kind === 'incident-opened')).toHaveLength(1);
  });

  it('acts once per model during the cool-down: another alarm at once is only recorded', async () => {
    const m = memory();
    const alarms = await twoChampions(m);
    m.aws.setAlarm(alarms.errorRate, 'ALARM', 'errors');
    await change(m, alarms.errorRate);
    m.aws.setAlarm(alarms.latency, 'ALARM', 'slow');

    const outcome = await change(m, alarms.latency);

    expect(outcome).toMatchObject({
      kind: 'opened',
      action: {
        kind: 'rollback',
        status: 'skipped',
        detail: expect.stringContaining('cooling down') as string,
      },
    });
    expect((await m.registry.listVersions(MODEL)).map((v) => v.status)).toEqual(['DEPLOYING', 'PRODUCTION']);
  });

  it('never loops: the remedy’s own alarm later does not put back the version it replaced', async () => {
    const m = memory();
    const alarms = await twoChampions(m);
    m.aws.setAlarm(alarms.errorRate, 'ALARM', 'errors');
    await change(m, alarms.errorRate);
    await settleRollout(m, MODEL); // v1 serves again
    m.aws.setAlarm(alarms.errorRate, 'OK', 'fine');
    expect(await change(m, alarms.errorRate)).toMatchObject({ kind: 'resolved' });
    const resolved = (await incidentsOf(m))[0]!;
    expect(resolved.timeToRecoverSeconds).toBe(
      Math.round((Date.parse(resolved.resolvedAt!) - Date.parse(resolved.openedAt)) / 1000),
    );

    m.clock.advance(2 * HOUR); // the cool-down is over
    m.aws.setAlarm(alarms.latency, 'ALARM', 'slow');
    const outcome = await change(m, alarms.latency);

    expect(outcome).toMatchObject({
      action: {
        status: 'skipped',
        detail: expect.stringContaining('v2 was itself rolled back automatically') as string,
      },
    });
    expect(await m.registry.getModel(MODEL)).toMatchObject({ champion: 1 });
    expect((await m.registry.getVersion(MODEL, 2))?.status).toBe('ARCHIVED');
  });

  it('leaves a rollout in flight to SageMaker’s auto-rollback', async () => {
    const m = memory();
    const alarms = await twoChampions(m);
    await trainVersion(m, MODEL, { alarmPolicy: 'rollback' }, 0.9, 'gated'); // v3 rolling out
    m.aws.setAlarm(alarms.errorRate, 'ALARM', 'errors');
    expect(await change(m, alarms.errorRate)).toMatchObject({
      action: { status: 'skipped', detail: expect.stringContaining('rollout of v3 is in flight') as string },
    });
    expect((await m.registry.getVersion(MODEL, 1))?.status).toBe('ARCHIVED');
  });
});

describe('alarm policy retrain and the incident’s evidence', () => {
  const memory = useMemoryContext();

  async function driftingModel(m: MemoryContext) {
    const v1 = await trainVersion(m, MODEL, { alarmPolicy: 'retrain' }, 0.8);
    const name = m.names.alarms(MODEL).featureDrift;
    const openedAt = '2026-11-26T12:05:00.000Z';
    // The drift monitor's reports: the window before the alarm, and a later one (not yet written then).
    for (const [window, distance] of [
      ['20261126T110000Z-20261126T120000Z', 0.62],
      ['20261126T120000Z-20261126T130000Z', 0.9],
    ] as const)
      await m.objects.write(
        m.bucket,
        `reports/${MODEL}/monitoring/${window}/drift.json`,
        JSON.stringify({
          features: [
            { column: 'tenure', distance, psi: 1.4, drifted: true },
            { column: 'plan', distance: 0.3, drifted: true },
            { column: 'age', distance: 0.05, drifted: false },
          ],
          drifted: ['tenure', 'plan'],
        }),
        'application/json',
      );
    const state: AlarmState = {
      state: 'ALARM',
      reason: 'Threshold Crossed: 1 datapoint [0.62] was greater than the threshold (0.2)',
      updatedAt: openedAt,
      threshold: 0.2,
      comparison: 'GreaterThanThreshold',
      datapoints: [
        { at: '2026-11-26T11:59:59.999Z', value: 0.62 },
        { at: '2026-11-26T10:59:59.999Z', value: 0.1 },
      ],
    };
    return { v1, name, openedAt, state, ctx: withAlarm(m, name, state) };
  }

  it('stores the evidence (datapoints, drifted features, report) and starts a retrain from the latest accepted dataset', async () => {
    const m = memory();
    const { v1, name, openedAt, ctx } = await driftingModel(m);

    const outcome = await change(m, name, ctx);

    expect(outcome).toMatchObject({
      kind: 'opened',
      action: { kind: 'retrain', status: 'started', version: 2 },
    });
    const [incident] = await incidentsOf(m);
    expect(incident).toMatchObject({
      policy: 'retrain',
      timeToDetectSeconds: 300,
      evidence: {
        threshold: 0.2,
        comparison: 'GreaterThanThreshold',
        datapoints: [
          { at: '2026-11-26T10:59:59.999Z', value: 0.1 },
          { at: '2026-11-26T11:59:59.999Z', value: 0.62 },
        ],
        driftedFeatures: [
          { feature: 'tenure', distance: 0.62, psi: 1.4 },
          { feature: 'plan', distance: 0.3 },
        ],
        reportUri: `s3://${m.bucket}/reports/${MODEL}/monitoring/20261126T110000Z-20261126T120000Z/drift.json`,
      },
    });
    expect(incident!.incidentId).toBe(`${name}@${openedAt}`);
    expect(await m.registry.getVersion(MODEL, 2)).toMatchObject({
      status: 'TRAINING',
      datasetId: v1.datasetId,
      origin: { kind: 'retrain', by: 'alarm-policy', incidentId: incident!.incidentId },
    });
    expect(m.trainingJobs()).toHaveLength(2);
    expect(m.notifications().find((n) => n.kind === 'incident-opened')!.message).toContain(
      'Drifted features: tenure (0.62), plan (0.3).\nAlarm policy: retrain (acting)',
    );
  });

  it('a delivery that died after claiming the retrain is carried out by the next one, once', async () => {
    const m = memory();
    const { name, ctx } = await driftingModel(m);
    m.registry.failNext('registerRetrainVersion');
    await expect(change(m, name, ctx)).rejects.toThrow('injected failure');
    expect((await incidentsOf(m))[0]!.action).toMatchObject({ status: 'started' });
    expect((await incidentsOf(m))[0]!.action!.version).toBeUndefined();

    expect(await change(m, name, ctx)).toMatchObject({ kind: 'unchanged', action: { version: 2 } });
    expect(await change(m, name, ctx)).toMatchObject({ action: { version: 2 } });
    expect(await m.registry.listVersions(MODEL)).toHaveLength(2);
  });

  it('never retrains twice in a row: not while one is in flight, not from the data it already used; not on an endpoint alarm', async () => {
    const m = memory();
    const { name, state, ctx } = await driftingModel(m);
    await change(m, name, ctx);
    /** The drift alarm recovers, then fires again at `at`: a new incident. */
    const recurs = async (at: string) => {
      m.clock.advance(2 * HOUR); // past the cool-down
      await change(
        m,
        name,
        withAlarm(m, name, { ...state, state: 'OK', updatedAt: at.replace(':05:', ':04:') }),
      );
      return withAlarm(m, name, { ...state, updatedAt: at });
    };
    const again = await recurs('2026-11-26T14:05:00.000Z');
    expect(await change(m, name, again)).toMatchObject({
      action: {
        status: 'skipped',
        detail: expect.stringContaining('v2, an automatic retrain, is still TRAINING') as string,
      },
    });

    // v2 trained, gated and promoted; the drift goes on.
    m.finishTraining(m.trainingJobs()[1]!, { metrics: { 'validation:auc': 0.81 } });
    await new ProcessTrainingJob(m).execute(m.trainingJobs()[1]!);
    await settleRollout(m, MODEL);
    const third = await recurs('2026-11-26T17:05:00.000Z');
    expect(await change(m, name, third)).toMatchObject({
      action: { status: 'skipped', detail: expect.stringContaining('upload new data') as string },
    });

    const latency = m.names.alarms(MODEL).latency;
    m.aws.setAlarm(latency, 'ALARM', 'slow');
    expect(await change(m, latency)).toMatchObject({
      action: {
        kind: 'retrain',
        status: 'skipped',
        detail: expect.stringContaining('acts on the drift alarms') as string,
      },
    });
    expect(await m.registry.listVersions(MODEL)).toHaveLength(2);
  });
});

describe('a rollout into a firing alarm', () => {
  const memory = useMemoryContext();

  it('waits in APPROVED and says why, once per alarm change; starts when the alarm is OK', async () => {
    const m = memory();
    await trainVersion(m, MODEL, {}, 0.8);
    const { errorRate } = m.names.alarms(MODEL);
    m.aws.setAlarm(errorRate, 'ALARM', 'errors');
    await change(m, errorRate);

    const v2 = await trainVersion(m, MODEL, {}, 0.85, 'gated');

    expect((await m.registry.getVersion(MODEL, v2.version))?.status).toBe('APPROVED');
    // A redelivered training event: still waiting, no second line.
    expect(await new ProcessTrainingJob(m).execute(v2.jobName)).toMatchObject({
      deploy: { kind: 'waiting', alarms: [errorRate] },
    });
    const waiting = (await m.registry.listAudit(MODEL)).filter((a) => a.type === 'DEPLOYMENT_WAITING');
    expect(waiting).toEqual([
      expect.objectContaining({
        version: 2,
        reason: expect.stringContaining(`${errorRate} is in ALARM`) as string,
      }),
    ]);
    expect(updates(m)).toEqual([]);

    m.aws.setAlarm(errorRate, 'OK', 'fine');
    expect(await change(m, errorRate)).toMatchObject({ kind: 'resolved', next: { kind: 'updating' } });
    expect((await m.registry.getVersion(MODEL, v2.version))?.status).toBe('DEPLOYING');
  });
});
