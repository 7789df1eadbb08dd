/**
 * Use case: one of a model's alarms changed state. Where this stands: core use case, called by the
 * alarm-events handler ("CloudWatch Alarm State Change") and by the local cloud.
 *
 * The alarm's current state decides (events can be late or out of order): ALARM opens an incident
 * against the model (once, whatever the duplicates), OK resolves it (with its time to recover) and
 * rolls out a version that waited for the alarm (DeployVersion). The incident carries its evidence:
 * the model's alarm policy, the alarm's threshold and datapoints (time to detect: its opening minus
 * the first breaching datapoint), and for the drift alarms the drifted features of the drift
 * monitor's latest report (`reports/<model>/monitoring/<window>/drift.json`).
 *
 * Then the policy acts, at most once per incident (a conditional write claims the incident's one
 * action) and once per model per cool-down (`alarmPolicyCooldownMinutes`, claimed in the same write):
 * - `rollback`: the previous champion goes back (RollbackModel) when a production model's alarm
 *   fires outside a rollout (during one, SageMaker's auto-rollback watches the rollback alarms);
 * - `retrain`: on a drift alarm, a new version from the latest accepted dataset (RetrainModel);
 * - `notify`: nothing besides the notification.
 * Never a loop: no automatic rollback to a version an automatic rollback took out (it would swap
 * the two back and forth), no automatic retrain from a dataset an automatic retrain already used
 * (the same data makes the same model: new data is needed), none while one is in flight. What the
 * policy did or why it did not is stored on the incident (`action`: started, skipped or failed, with
 * a sentence) and audited; the incident's notification names the policy and that action.
 *
 * The notification is written with the incident's change (the registry's outbox) and delivered
 * right after, by this delivery or by a redelivered one (which finds the change made). A delivery
 * that died between claiming the action and carrying it out is resumed by the next one: the actions
 * are idempotent (a rollback re-approves conditionally, a retrain is keyed by the incident).
 */
import { createHash } from 'node:crypto';
import { DEFAULT_ALARM_POLICY_COOLDOWN_MINUTES } from '../domain/model-config';
import { monitoringReportsPrefix } from '../domain/naming';
import {
  incidentIdOf,
  secondsBetween,
  type AlarmPolicy,
  type IncidentAction,
  type IncidentEvidence,
  type IncidentRecord,
  type ModelRecord,
} from '../domain/registry';
import type { AlarmState, Notification } from '../ports/monitoring';
import { isPlainObject } from '../support/objects';
import { auditId, type MlopsContext } from './context';
import { DeployVersion, type DeployOutcome } from './deploy-version';
import { NotificationOutbox } from './notification-outbox';
import { latestAcceptedDataset, RetrainModel } from './retrain-model';
import { previousChampionOf, RollbackModel } from './rollback-model';

/**
 * What an alarm change did: `ignored` (not an alarm of this stack, or gone), `opened` or `resolved`
 * an incident, or `unchanged` (the incident was already so: a duplicated or late event, or a state
 * other than ALARM and OK). `action` is what the policy did about the incident (this delivery or an
 * earlier one); `next` the rollout that waited for the alarm. The handler logs it and counts it by
 * `kind`.
 */
export type AlarmOutcome =
  | { readonly kind: 'ignored'; readonly why: string }
  | {
      readonly kind: 'opened';
      readonly model: string;
      readonly alarmName: string;
      readonly incidentId: string;
      readonly action?: IncidentAction;
    }
  | {
      readonly kind: 'resolved';
      readonly model: string;
      readonly alarmName: string;
      readonly next?: DeployOutcome;
    }
  | {
      readonly kind: 'unchanged';
      readonly model: string;
      readonly alarmName: string;
      readonly state: string;
      readonly action?: IncidentAction;
      readonly next?: DeployOutcome;
    };

const ACTOR = 'alarm-events';
/** Who asks for the policy's rollbacks and retrains (their origin's `by`). */
export const ALARM_POLICY_ACTOR = 'alarm-policy';
/** At most this many datapoints and drifted features are kept on an incident. */
const MAX_EVIDENCE_ITEMS = 20;

/** What the policy will do about an incident, decided before anything is written. */
type Decision =
  | { readonly act: false; readonly kind: AlarmPolicy; readonly detail: string }
  | { readonly act: true; readonly kind: 'rollback'; readonly detail: string; readonly version: number }
  | { readonly act: true; readonly kind: 'retrain'; readonly detail: string; readonly datasetId: string };

/**
 * Opens or resolves a model's incident from its alarm's current state, and applies the model's
 * alarm policy. Run by the alarm-events handler (lambdas/alarm-events/handler.ts) for each
 * "CloudWatch Alarm State Change", in AWS and in the local cloud. Safe to run twice: the incident's
 * id comes from the alarm's state change time, and opening, resolving it and claiming its action are
 * conditional writes.
 */
export class ProcessAlarmChange {
  private readonly outbox: NotificationOutbox;

  constructor(private readonly ctx: MlopsContext) {
    this.outbox = new NotificationOutbox(ctx);
  }

  /**
   * @param alarmName the alarm from the event
   * @param eventReason the state reason the event carried (used when the alarm cannot be read)
   */
  async execute(alarmName: string, eventReason?: string): Promise<AlarmOutcome> {
    const { ctx } = this;
    const model = ctx.names.modelFromAlarm(alarmName);
    if (!model) return { kind: 'ignored', why: `${alarmName} is not an alarm of this stack` };
    const current = await ctx.alarms.describeAlarmState(alarmName);
    if (!current) return { kind: 'ignored', why: `${alarmName} no longer exists` };
    const reason = current.reason || eventReason || 'no reason given';
    if (current.state === 'ALARM') return this.alarm(model, alarmName, current, reason);
    if (current.state === 'OK') return this.ok(model, alarmName, current, reason);
    return { kind: 'unchanged', model, alarmName, state: current.state };
  }

  private async alarm(
    model: string,
    alarmName: string,
    current: AlarmState,
    reason: string,
  ): Promise<AlarmOutcome> {
    const { ctx } = this;
    const modelRecord = await ctx.registry.getModel(model);
    const champion = modelRecord?.champion;
    const policy = modelRecord?.config?.alarmPolicy ?? 'notify';
    const incidentId = incidentIdOf(alarmName, current.updatedAt);
    const existing = await ctx.registry.getIncident(model, incidentId);

    let opened = false;
    if (!existing) {
      const decision = await this.decide(model, modelRecord, alarmName, current.updatedAt);
      const at = ctx.clock.now().toISOString();
      const evidence = await this.evidence(model, alarmName, current);
      const timeToDetect = timeToDetectSeconds(current);
      // A decision not to act is the incident's action from the start, named in its one notification;
      // an action to take is claimed next, and that claim carries the notification.
      const skipped: IncidentAction | undefined = decision.act
        ? undefined
        : { kind: decision.kind, status: 'skipped', at, detail: decision.detail };
      opened = await ctx.registry.openIncident(
        {
          model,
          alarmName,
          incidentId,
          status: 'OPEN',
          openedAt: current.updatedAt,
          reason,
          ...(champion !== undefined ? { version: champion } : {}),
          policy,
          ...(evidence ? { evidence } : {}),
          ...(timeToDetect !== undefined ? { timeToDetectSeconds: timeToDetect } : {}),
          ...(skipped ? { action: skipped } : {}),
        },
        {
          model,
          at,
          eventId: auditId('INCIDENT_OPENED', alarmName, current.updatedAt),
          type: 'INCIDENT_OPENED',
          actor: ACTOR,
          ...(champion !== undefined ? { version: champion } : {}),
          reason: `${alarmName}: ${reason}`,
          ...(skipped
            ? {
                notification: openedNotification(
                  model,
                  alarmName,
                  champion,
                  reason,
                  policy,
                  evidence,
                  skipped,
                ),
              }
            : {}),
        },
      );
    }
    // Opened here or by an earlier delivery: either way, what is pending goes out now.
    await this.outbox.flush(model);
    const action = await this.act(model, incidentId, reason);
    await this.outbox.flush(model);
    if (!opened)
      return { kind: 'unchanged', model, alarmName, state: 'ALARM', ...(action ? { action } : {}) };
    return { kind: 'opened', model, alarmName, incidentId, ...(action ? { action } : {}) };
  }

  private async ok(
    model: string,
    alarmName: string,
    current: AlarmState,
    reason: string,
  ): Promise<AlarmOutcome> {
    const { ctx } = this;
    const resolved = await ctx.registry.resolveIncident(model, alarmName, current.updatedAt, {
      model,
      at: ctx.clock.now().toISOString(),
      eventId: auditId('INCIDENT_RESOLVED', alarmName, current.updatedAt),
      type: 'INCIDENT_RESOLVED',
      actor: ACTOR,
      reason: `${alarmName}: ${reason}`,
      notification: {
        kind: 'incident-resolved',
        model,
        subject: `${model}: ${alarmName} is OK again`,
        message: `Incident resolved.\n${reason}`,
      },
    });
    // Resolved here or by an earlier delivery: either way, what is pending goes out now.
    await this.outbox.flush(model);
    // A version held back by the alarm goes now (it waits again if another alarm still fires). Also
    // on a duplicate OK: the delivery that resolved it may have died before this step.
    const { next } = await new DeployVersion(ctx).deployHeldBack(model);
    if (!resolved) return { kind: 'unchanged', model, alarmName, state: 'OK', ...(next ? { next } : {}) };
    return { kind: 'resolved', model, alarmName, ...(next ? { next } : {}) };
  }

  // ------------------------------------------------------------------------------ the policy

  /** What the policy would do about a new incident of `alarmName`, from the registry as it is. */
  private async decide(
    model: string,
    modelRecord: ModelRecord | undefined,
    alarmName: string,
    openedAt: string,
  ): Promise<Decision> {
    const { ctx } = this;
    const config = modelRecord?.config;
    const policy = config?.alarmPolicy ?? 'notify';
    const skip = (detail: string): Decision => ({ act: false, kind: policy, detail });
    if (!modelRecord || !config) return skip(`${model} has no registered config: nothing is done`);
    if (policy === 'notify') return skip('alarm policy notify: people are notified, nothing else is done');

    const cooldown = cooldownSince(config.alarmPolicyCooldownMinutes, ctx.clock.now());
    const last = modelRecord.lastAutomaticActionAt;
    if (last !== undefined && last > cooldown.since)
      return skip(
        `cooling down: the policy acted on ${model} at ${last}, less than ${cooldown.minutes} minutes ago (alarmPolicyCooldownMinutes)`,
      );

    if (policy === 'rollback') {
      const champion = modelRecord.champion;
      if (champion === undefined) return skip(`${model} has no version in production to roll back`);
      if (modelRecord.challenger !== undefined)
        return skip(
          `a rollout of v${modelRecord.challenger} is in flight: SageMaker's auto-rollback watches it, nothing more is done`,
        );
      const target = previousChampionOf(await ctx.registry.listAudit(model), champion);
      if (target === undefined)
        return skip(
          `v${champion} is the first version of ${model} that served: no earlier champion to put back`,
        );
      const record = await ctx.registry.getVersion(model, target);
      if (record?.status !== 'ARCHIVED')
        return skip(
          `v${target}, the previous champion, is ${record?.status ?? 'gone'}: it cannot be put back`,
        );
      const earlier = (await ctx.registry.listIncidents(model)).find(
        (incident) =>
          incident.version === target &&
          incident.action?.kind === 'rollback' &&
          incident.action.status === 'started',
      );
      if (earlier)
        return skip(
          `v${target} was itself rolled back automatically (incident ${earlier.incidentId}); putting it back by itself could swap the two for ever: roll back by hand (mlops rollback ${model} --to <version>)`,
        );
      return {
        act: true,
        kind: 'rollback',
        version: target,
        detail: `rolling v${champion} back to v${target}, the previous champion, through a blue/green rollout`,
      };
    }

    // retrain: the drift loop.
    const names = ctx.names.alarms(model);
    if (alarmName !== names.featureDrift && alarmName !== names.predictionDrift)
      return skip(
        `alarm policy retrain acts on the drift alarms; ${alarmName} is not one: people are notified`,
      );
    const dataset = await latestAcceptedDataset(ctx, model);
    if (!dataset) return skip(`${model} has no accepted dataset to retrain from`);
    const versions = await ctx.registry.listVersions(model);
    const inFlight = versions.find(
      (v) =>
        v.origin?.kind === 'retrain' &&
        v.origin.by === ALARM_POLICY_ACTOR &&
        ['TRAINING', 'TRAINED', 'PENDING_APPROVAL', 'APPROVED', 'DEPLOYING'].includes(v.status),
    );
    if (inFlight)
      return skip(`v${inFlight.version}, an automatic retrain, is still ${inFlight.status}: no second one`);
    const used = versions.find(
      (v) =>
        v.origin?.kind === 'retrain' &&
        v.origin.by === ALARM_POLICY_ACTOR &&
        v.datasetId === dataset.datasetId,
    );
    if (used)
      return skip(
        `v${used.version} was already retrained automatically from dataset ${dataset.datasetId} (the latest accepted), and ${alarmName} fires again (opened ${openedAt}): the same data makes the same model; upload new data`,
      );
    return {
      act: true,
      kind: 'retrain',
      datasetId: dataset.datasetId,
      detail: `retraining ${model} from dataset ${dataset.datasetId}, the latest accepted`,
    };
  }

  /**
   * Claims the incident's action (with the model's cool-down) and carries it out; or goes on with
   * one an earlier delivery claimed. Returns the incident's action as it stands.
   */
  private async act(model: string, incidentId: string, reason: string): Promise<IncidentAction | undefined> {
    const { ctx } = this;
    const incident = await ctx.registry.getIncident(model, incidentId);
    if (!incident) return undefined;
    if (incident.action) {
      // Claimed by an earlier delivery that may have died before carrying it out.
      if (incident.status === 'OPEN' && incident.action.status === 'started')
        return this.carryOut(incident, incident.action, reason);
      return incident.action;
    }
    if (incident.status !== 'OPEN') return undefined;
    const modelRecord = await ctx.registry.getModel(model);
    const decision = await this.decide(model, modelRecord, incident.alarmName, incident.openedAt);
    const at = ctx.clock.now().toISOString();
    const policy = incident.policy ?? decision.kind;
    const claim: IncidentAction = decision.act
      ? {
          kind: decision.kind,
          status: 'started',
          at,
          detail: decision.detail,
          ...(decision.kind === 'rollback' ? { version: decision.version } : {}),
        }
      : { kind: decision.kind, status: 'skipped', at, detail: decision.detail };
    const notification = openedNotification(
      model,
      incident.alarmName,
      incident.version,
      incident.reason,
      policy,
      incident.evidence,
      claim,
    );
    const cooldown = cooldownSince(modelRecord?.config?.alarmPolicyCooldownMinutes, ctx.clock.now());
    let written = await ctx.registry.recordIncidentAction(
      model,
      incidentId,
      claim,
      this.actionAudit(incident, claim, 'claim', notification),
      decision.act ? { cooldownSince: cooldown.since } : {},
    );
    if (written === 'cooling-down') {
      // Another incident of the model took the cool-down a moment ago.
      const skipped: IncidentAction = {
        kind: claim.kind,
        status: 'skipped',
        at,
        detail: `cooling down: another incident of ${model} made the policy act a moment ago (alarmPolicyCooldownMinutes ${cooldown.minutes})`,
      };
      written = await ctx.registry.recordIncidentAction(
        model,
        incidentId,
        skipped,
        this.actionAudit(incident, skipped, 'claim', {
          ...notification,
          message: notificationMessage(
            model,
            incident.alarmName,
            incident.version,
            incident.reason,
            policy,
            incident.evidence,
            skipped,
          ),
        }),
      );
      return written === 'recorded' ? skipped : (await ctx.registry.getIncident(model, incidentId))?.action;
    }
    // A conflict: another delivery claimed it, and carries it out.
    if (written !== 'recorded') return (await ctx.registry.getIncident(model, incidentId))?.action;
    if (claim.status !== 'started') return claim;
    await this.outbox.flush(model);
    return this.carryOut(incident, claim, reason);
  }

  /** Runs the claimed action (idempotent) and records its outcome on the incident. */
  private async carryOut(
    incident: IncidentRecord,
    claim: IncidentAction,
    reason: string,
  ): Promise<IncidentAction> {
    const { ctx } = this;
    const { model, incidentId, alarmName } = incident;
    const why = `${alarmName} in ALARM (${reason})`;
    let outcome: IncidentAction | undefined;
    if (claim.kind === 'rollback' && claim.version !== undefined) {
      const target = await ctx.registry.getVersion(model, claim.version);
      // Re-approved and rolling out (or done) already: an earlier delivery carried it out.
      if (target?.status !== 'ARCHIVED' && target?.status !== 'APPROVED') return claim;
      const rollback = await new RollbackModel(ctx).execute({
        model,
        to: claim.version,
        actor: ALARM_POLICY_ACTOR,
        reason: why,
        incidentId,
      });
      if (rollback.kind === 'refused')
        outcome = { ...claim, status: 'failed', detail: `${claim.detail}: refused: ${rollback.reason}` };
      else if (rollback.deploy.kind === 'failed')
        outcome = {
          ...claim,
          status: 'failed',
          detail: `${claim.detail}: the rollout failed: ${rollback.deploy.reason}`,
        };
    } else if (claim.kind === 'retrain') {
      const retrain = await new RetrainModel(ctx).execute({
        model,
        actor: ALARM_POLICY_ACTOR,
        requestId: incidentRequestId(incidentId),
        reason: why,
        incidentId,
      });
      if (retrain.kind === 'refused')
        outcome = { ...claim, status: 'failed', detail: `${claim.detail}: refused: ${retrain.reason}` };
      else if (retrain.kind === 'training-failed')
        outcome = {
          ...claim,
          status: 'failed',
          version: retrain.version,
          detail: `${claim.detail}: ${retrain.reason}`,
        };
      else if (claim.version === undefined)
        outcome = {
          ...claim,
          version: retrain.version,
          detail: `${claim.detail}: v${retrain.version} is training (job ${retrain.jobName})`,
        };
    }
    if (!outcome) return claim;
    const written = await ctx.registry.recordIncidentAction(
      model,
      incidentId,
      outcome,
      this.actionAudit(incident, outcome, 'outcome'),
      { expected: claim },
    );
    if (written !== 'recorded') return (await ctx.registry.getIncident(model, incidentId))?.action ?? claim;
    ctx.log.info('alarm policy acted', { model, incidentId, action: outcome });
    return outcome;
  }

  private actionAudit(
    incident: IncidentRecord,
    action: IncidentAction,
    step: 'claim' | 'outcome',
    notification?: Notification,
  ) {
    return {
      model: incident.model,
      at: action.at,
      eventId: auditId('INCIDENT_ACTION', incident.incidentId, step),
      type: `ALARM_POLICY_${action.kind.toUpperCase()}`,
      actor: ACTOR,
      ...(action.version !== undefined ? { version: action.version } : {}),
      reason: `${incident.alarmName}: ${action.status}: ${action.detail}`,
      ...(notification ? { notification } : {}),
    };
  }

  // ------------------------------------------------------------------------------ evidence

  /** What the alarm showed, and for the model's drift alarms what drifted. */
  private async evidence(
    model: string,
    alarmName: string,
    current: AlarmState,
  ): Promise<IncidentEvidence | undefined> {
    const names = this.ctx.names.alarms(model);
    const drift =
      alarmName === names.featureDrift || alarmName === names.predictionDrift
        ? await this.driftEvidence(model, current.updatedAt)
        : undefined;
    const evidence: IncidentEvidence = {
      ...(current.threshold !== undefined ? { threshold: current.threshold } : {}),
      ...(current.comparison !== undefined ? { comparison: current.comparison } : {}),
      ...(current.datapoints && current.datapoints.length > 0
        ? { datapoints: sortedDatapoints(current).slice(-MAX_EVIDENCE_ITEMS) }
        : {}),
      ...drift,
    };
    return Object.keys(evidence).length > 0 ? evidence : undefined;
  }

  /**
   * The drifted features of the drift monitor's latest report before `openedAt`: the window folders
   * of that day and the day before (a window's id starts with its start time), the last one ended by
   * then. Undefined when there is none or it cannot be read (the incident opens all the same).
   */
  private async driftEvidence(
    model: string,
    openedAt: string,
  ): Promise<Pick<IncidentEvidence, 'driftedFeatures' | 'reportUri'> | undefined> {
    const { ctx } = this;
    const opened = Date.parse(openedAt);
    const prefix = monitoringReportsPrefix(model);
    let latest: { key: string; end: number } | undefined;
    for (const day of [opened, opened - 86_400_000]) {
      const listed = await ctx.objects.list(
        ctx.bucket,
        `${prefix}${new Date(day).toISOString().slice(0, 10).replace(/-/g, '')}`,
      );
      for (const object of listed) {
        const end = windowEnd(object.key.slice(prefix.length));
        if (end !== undefined && end <= opened && (!latest || end >= latest.end))
          latest = { key: object.key, end };
      }
      if (latest) break;
    }
    if (!latest) return undefined;
    const reportUri = `s3://${ctx.bucket}/${latest.key}`;
    try {
      const summary: unknown = JSON.parse((await ctx.objects.readText(ctx.bucket, latest.key)) ?? 'null');
      if (!isPlainObject(summary) || !Array.isArray(summary['features'])) return { reportUri };
      const drifted = new Set(Array.isArray(summary['drifted']) ? summary['drifted'] : []);
      const driftedFeatures = summary['features']
        .filter(isPlainObject)
        .filter((c) => typeof c['column'] === 'string' && typeof c['distance'] === 'number')
        .filter((c) => drifted.has(c['column']) || c['drifted'] === true)
        .map((c) => ({
          feature: c['column'] as string,
          distance: c['distance'] as number,
          ...(typeof c['psi'] === 'number' ? { psi: c['psi'] } : {}),
        }))
        .sort((a, b) => b.distance - a.distance)
        .slice(0, MAX_EVIDENCE_ITEMS);
      return { driftedFeatures, reportUri };
    } catch (error) {
      ctx.log.warn('drift report unreadable; the incident opens without its features', {
        reportUri,
        error: String(error),
      });
      return { reportUri };
    }
  }
}

/** The id of the policy's retrain for an incident: the same on every delivery, a valid request id. */
export function incidentRequestId(incidentId: string): string {
  return `incident-${createHash('sha256').update(incidentId).digest('hex').slice(0, 40)}`;
}

/** The cool-down in force and the time before which an automatic action no longer holds it. */
function cooldownSince(minutes: number | undefined, now: Date): { minutes: number; since: string } {
  const m = minutes ?? DEFAULT_ALARM_POLICY_COOLDOWN_MINUTES;
  return { minutes: m, since: new Date(now.getTime() - m * 60_000).toISOString() };
}

function sortedDatapoints(current: AlarmState): { at: string; value: number }[] {
  return [...(current.datapoints ?? [])]
    .filter((p) => Number.isFinite(p.value) && !Number.isNaN(Date.parse(p.at)))
    .sort((a, b) => Date.parse(a.at) - Date.parse(b.at))
    .map((p) => ({ at: p.at, value: p.value }));
}

/**
 * Seconds from the first breaching datapoint to the alarm's opening, when a static threshold and
 * its comparison say which datapoints breach (an anomaly band's do not say).
 */
export function timeToDetectSeconds(current: AlarmState): number | undefined {
  const { threshold, comparison } = current;
  if (threshold === undefined || comparison === undefined) return undefined;
  const breaches = BREACH[comparison];
  if (!breaches) return undefined;
  const first = sortedDatapoints(current).find(
    (p) => Date.parse(p.at) <= Date.parse(current.updatedAt) && breaches(p.value, threshold),
  );
  return first ? secondsBetween(first.at, current.updatedAt) : undefined;
}

/** CloudWatch's static-threshold comparisons. */
const BREACH: Readonly<Record<string, (value: number, threshold: number) => boolean>> = {
  GreaterThanThreshold: (v, t) => v > t,
  GreaterThanOrEqualToThreshold: (v, t) => v >= t,
  LessThanThreshold: (v, t) => v < t,
  LessThanOrEqualToThreshold: (v, t) => v <= t,
};

/** The end of a monitoring window from its report key (`<start>-<end>/drift.json`), or undefined. */
function windowEnd(relativeKey: string): number | undefined {
  const match =
    /^\d{8}T\d{6}(?:\.\d+)?Z-(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\.\d+)?Z\/drift\.json$/.exec(
      relativeKey,
    );
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s, fraction] = match;
  const end = Date.parse(`${y}-${mo}-${d}T${h}:${mi}:${s}${fraction ?? ''}Z`);
  return Number.isNaN(end) ? undefined : end;
}

function openedNotification(
  model: string,
  alarmName: string,
  champion: number | undefined,
  reason: string,
  policy: AlarmPolicy,
  evidence: IncidentEvidence | undefined,
  action: IncidentAction,
): Notification {
  return {
    kind: 'incident-opened',
    model,
    subject: `${model}: ${alarmName} in ALARM`,
    message: notificationMessage(model, alarmName, champion, reason, policy, evidence, action),
  };
}

/** The incident's notification: what fired, against which version, the policy and what it did. */
function notificationMessage(
  model: string,
  _alarmName: string,
  champion: number | undefined,
  reason: string,
  policy: AlarmPolicy,
  evidence: IncidentEvidence | undefined,
  action: IncidentAction,
): string {
  const drifted = evidence?.driftedFeatures?.length
    ? `\nDrifted features: ${evidence.driftedFeatures.map((f) => `${f.feature} (${round(f.distance)})`).join(', ')}.`
    : '';
  const verb = action.status === 'started' ? 'acting' : action.status === 'skipped' ? 'not acting' : 'failed';
  return (
    `Incident opened for ${model}${champion !== undefined ? ` (v${champion} in production)` : ''}.\n${reason}${drifted}\n` +
    `Alarm policy: ${policy}${policy === 'notify' ? '.' : ` (${verb}): ${action.detail}.`}`
  );
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
