/**
 * Use case: put an earlier version of a model back in production. Where this stands: core use
 * case, run by OperateModel (`mlops rollback`) and by the `rollback` alarm policy
 * (ProcessAlarmChange).
 *
 * The target is a version that served (ARCHIVED): `to`, or the previous champion (the version that
 * served before the current one, from the PROMOTED audit lines). It is re-approved
 * (ARCHIVED -> APPROVED, a conditional write with its origin and an audit line) and rolled out by
 * {@link DeployVersion}: the same guarded blue/green path as any approved version, without the
 * gate's regression check (rolling back is the remedy) and without waiting for the model's alarms
 * to clear (a rollback is what should clear them). When the new fleet is in service, the endpoint
 * events promote it and archive the version it replaces.
 *
 * Safe to repeat: a second call meets the target APPROVED (or its rollout started) with a rollback
 * origin and goes on with its rollout instead of starting another.
 */
import type { AuditEvent, VersionRecord } from '../domain/registry';
import { auditId, type MlopsContext } from './context';
import { DeployVersion, type DeployOutcome } from './deploy-version';

/** What a rollback asks for. */
export interface RollbackRequest {
  readonly model: string;
  /** The version to put back; default: the previous champion. */
  readonly to?: number;
  /** Who asks: an operator's identity, or `alarm-policy`. */
  readonly actor: string;
  readonly reason?: string;
  /** The incident this rollback remedies (the alarm policy's). */
  readonly incidentId?: string;
}

/**
 * What a rollback did: `started` (the target re-approved and its rollout asked for: `deploy`;
 * `resumed` when an earlier call had re-approved it), or `refused` with why (`not-found`: the model
 * or the version; `conflict`: no champion, the target is the champion or never served, a rollout in
 * flight). A refusal changes nothing.
 */
export type RollbackOutcome =
  | {
      readonly kind: 'started';
      readonly version: number;
      readonly from: number;
      readonly resumed: boolean;
      readonly deploy: DeployOutcome;
    }
  | { readonly kind: 'refused'; readonly code: 'not-found' | 'conflict'; readonly reason: string };

/**
 * The version that served before `champion`: the last one promoted before the champion's latest
 * promotion (the PROMOTED audit lines, oldest first), or undefined when it was the first.
 */
export function previousChampionOf(audit: readonly AuditEvent[], champion: number): number | undefined {
  const promoted = audit
    .filter((line) => line.type === 'PROMOTED' && line.version !== undefined)
    .map((line) => line.version!);
  const latest = promoted.lastIndexOf(champion);
  if (latest < 0) return undefined;
  return promoted
    .slice(0, latest)
    .reverse()
    .find((version) => version !== champion);
}

/** Rolls a model back to a version that served, through the guarded rollout. */
export class RollbackModel {
  constructor(private readonly ctx: MlopsContext) {}

  async execute(request: RollbackRequest): Promise<RollbackOutcome> {
    const { ctx } = this;
    const { model } = request;
    const modelRecord = await ctx.registry.getModel(model);
    if (!modelRecord) return refused('not-found', `model "${model}" is not registered`);
    const champion = modelRecord.champion;
    if (champion === undefined)
      return refused('conflict', `${model} has no version in production: there is nothing to roll back`);
    const to = request.to ?? previousChampionOf(await ctx.registry.listAudit(model), champion);
    if (to === undefined)
      return refused(
        'conflict',
        `${model} v${champion} is the first version that served: no earlier champion to put back (name one with --to)`,
      );
    if (to === champion) return refused('conflict', `${model} v${to} is already in production`);
    const target = await ctx.registry.getVersion(model, to);
    if (!target) return refused('not-found', `${model} has no version ${to}`);

    if (isRollbackOf(target) && (target.status === 'APPROVED' || target.status === 'DEPLOYING'))
      return this.deploy(target, champion, true);
    if (modelRecord.challenger !== undefined)
      return refused(
        'conflict',
        `a rollout of ${model} v${modelRecord.challenger} is in flight; roll back once it has ended`,
      );
    if (target.status !== 'ARCHIVED')
      return refused(
        'conflict',
        `${model} v${to} is ${target.status}: only a version that served (ARCHIVED) can be put back`,
      );

    const at = ctx.clock.now().toISOString();
    const why = request.reason ?? 'rollback requested';
    const reapproved = await ctx.registry.transitionVersion({
      model,
      version: to,
      from: ['ARCHIVED'],
      to: 'APPROVED',
      set: {
        origin: {
          kind: 'rollback',
          by: request.actor,
          reason: why,
          ...(request.incidentId !== undefined ? { incidentId: request.incidentId } : {}),
        },
        updatedAt: at,
      },
      // What the version's earlier rollout left would be read as this rollout's.
      remove: ['rolloutRequestedAt', 'failureReason'],
      audit: {
        model,
        at,
        eventId: auditId('ROLLBACK_REQUESTED', to, champion),
        type: 'ROLLBACK_REQUESTED',
        actor: request.actor,
        version: to,
        from: 'ARCHIVED',
        to: 'APPROVED',
        reason: `put v${to} back in place of v${champion} through a blue/green rollout: ${why}`,
      },
    });
    const current = reapproved ? undefined : await ctx.registry.getVersion(model, to);
    if (current && !(isRollbackOf(current) && current.status === 'APPROVED'))
      return refused('conflict', `${model} v${to} moved on meanwhile (it is ${current.status})`);
    return this.deploy(current ?? { ...target, status: 'APPROVED' }, champion, !reapproved);
  }

  private async deploy(target: VersionRecord, from: number, resumed: boolean): Promise<RollbackOutcome> {
    const deploy = await new DeployVersion(this.ctx).execute(target.model, target.version);
    this.ctx.log.info('rollback rolling out', { model: target.model, version: target.version, from, deploy });
    return { kind: 'started', version: target.version, from, resumed, deploy };
  }
}

/** A version a rollback re-approved (its origin stays until another rollback re-approves it). */
function isRollbackOf(version: VersionRecord): boolean {
  return version.origin?.kind === 'rollback';
}

function refused(code: 'not-found' | 'conflict', reason: string): RollbackOutcome {
  return { kind: 'refused', code, reason };
}
