/**
 * Use case: one of a model's alarms changed state. Where this stands: core use case, called by the
 * alarm-events handler ("CloudWatch Alarm State Change") and by the local cloud.
 *
 * The alarm's current state decides (events can be late or out of order): ALARM opens an incident
 * against the model (once, whatever the duplicates), OK resolves it; both notify. The model's
 * alarm policy is named in the notification; rollbacks during a rollout are SageMaker's own
 * (AutoRollbackConfiguration names these alarms).
 */
import { auditId, type MlopsContext } from './context';

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

export class ProcessAlarmChange {
  constructor(private readonly ctx: MlopsContext) {}

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
        },
      );
      if (!opened) return { kind: 'unchanged', model, alarmName, state: 'ALARM' };
      await ctx.notifier.notify({
        kind: 'incident-opened',
        model,
        subject: `${model}: ${alarmName} in ALARM`,
        message: `Incident opened for ${model}${champion !== undefined ? ` (v${champion} in production)` : ''}.\n${reason}\nAlarm policy: ${policy}.`,
      });
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
      });
      if (!resolved) return { kind: 'unchanged', model, alarmName, state: 'OK' };
      await ctx.notifier.notify({
        kind: 'incident-resolved',
        model,
        subject: `${model}: ${alarmName} is OK again`,
        message: `Incident resolved.\n${reason}`,
      });
      return { kind: 'resolved', model, alarmName };
    }
    return { kind: 'unchanged', model, alarmName, state: current.state };
  }
}
