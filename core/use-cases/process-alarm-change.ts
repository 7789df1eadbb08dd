/**
 * Use case: one of a model's alarms changed state. Where this stands: core use case, called by the
 * alarm-events handler ("CloudWatch Alarm State Change") and by the local cloud.
 *
 * The alarm's current state decides (events can be late or out of order): ALARM opens an incident
 * against the model (once, whatever the duplicates), OK resolves it; both notify. The model's
 * alarm policy is named in the notification; rollbacks during a rollout are SageMaker's own
 * (AutoRollbackConfiguration names these alarms). The notification is written with the incident's
 * change (the registry's outbox) and delivered right after, by this delivery or by a redelivered
 * one (which finds the change made).
 */
import { auditId, type MlopsContext } from './context';
import { NotificationOutbox } from './notification-outbox';

/**
 * What an alarm change did: `ignored` (not an alarm of this stack, or gone), `opened` or `resolved`
 * an incident, or `unchanged` (the incident was already so: a duplicated or late event, or a state
 * other than ALARM and OK). The handler logs it and counts it by `kind`.
 */
export type AlarmOutcome =
  | { readonly kind: 'ignored'; readonly why: string }
  | {
      readonly kind: 'opened' | 'resolved';
      readonly model: string;
      readonly alarmName: string;
      readonly incidentId?: string;
    }
  | {
      readonly kind: 'unchanged';
      readonly model: string;
      readonly alarmName: string;
      readonly state: string;
    };

const ACTOR = 'alarm-events';

/**
 * Opens or resolves a model's incident from its alarm's current state. Run by the alarm-events
 * handler (lambdas/alarm-events/handler.ts) for each "CloudWatch Alarm State Change", in AWS and in
 * the local cloud. Safe to run twice: the incident's id comes from the alarm's state change time,
 * and opening or resolving it is a conditional write.
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
    const modelRecord = await ctx.registry.getModel(model);
    const champion = modelRecord?.champion;
    const policy = modelRecord?.config?.alarmPolicy ?? 'notify';
    const at = ctx.clock.now().toISOString();
    const reason = current.reason || eventReason || 'no reason given';

    if (current.state === 'ALARM') {
      const incidentId = `${alarmName}@${current.updatedAt}`;
      const opened = await ctx.registry.openIncident(
        {
          model,
          alarmName,
          incidentId,
          status: 'OPEN',
          openedAt: current.updatedAt,
          reason,
          ...(champion !== undefined ? { version: champion } : {}),
        },
        {
          model,
          at,
          eventId: auditId('INCIDENT_OPENED', alarmName, current.updatedAt),
          type: 'INCIDENT_OPENED',
          actor: ACTOR,
          ...(champion !== undefined ? { version: champion } : {}),
          reason: `${alarmName}: ${reason}`,
          notification: {
            kind: 'incident-opened',
            model,
            subject: `${model}: ${alarmName} in ALARM`,
            message: `Incident opened for ${model}${champion !== undefined ? ` (v${champion} in production)` : ''}.\n${reason}\nAlarm policy: ${policy}.`,
          },
        },
      );
      // Opened here or by an earlier delivery: either way, what is pending goes out now.
      await this.outbox.flush(model);
      if (!opened) return { kind: 'unchanged', model, alarmName, state: 'ALARM' };
      return { kind: 'opened', model, alarmName, incidentId };
    }
    if (current.state === 'OK') {
      const resolved = await ctx.registry.resolveIncident(model, alarmName, current.updatedAt, {
        model,
        at,
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
      if (!resolved) return { kind: 'unchanged', model, alarmName, state: 'OK' };
      return { kind: 'resolved', model, alarmName };
    }
    return { kind: 'unchanged', model, alarmName, state: current.state };
  }
}
