/**
 * Use case: a person approves (or rejects) a version waiting in PENDING_APPROVAL. Where this
 * stands: core use case, run by OperateModel (the operator function, `mlops approve` / `reject`);
 * an approved version is rolled out at once.
 */
import { evaluateGate } from '../domain/gate';
import { resolveGate } from '../domain/model-config';
import type { GateCheck } from '../domain/registry';
import { auditId, type MlopsContext } from './context';
import { DeployVersion, type DeployOutcome } from './deploy-version';

/**
 * What an approval did: `approved` (then `deploy` is the rollout it started), or not: the version
 * was not waiting (nothing changed), or `refused` by the re-check against the current champion
 * (the version stays PENDING_APPROVAL; `checks` are the gate's checks that failed).
 */
export interface ApprovalOutcome {
  readonly approved: boolean;
  readonly deploy?: DeployOutcome;
  readonly refused?: { readonly reason: string; readonly checks: readonly GateCheck[] };
}

/**
 * A person's decision on a version the gate left in PENDING_APPROVAL (`gate.approval: "manual"`).
 * The approval is re-checked with the gate's own comparison ({@link evaluateGate}: the threshold,
 * and no regression beyond `gate.regressionTolerance`) against the champion of the moment, which
 * may have changed since the gate ran: an approval that would roll a worse version out over it is
 * refused. Both decisions are conditional writes from PENDING_APPROVAL, audited with who made
 * them, so a repeated call changes nothing; an approval goes on to {@link DeployVersion}, which
 * queues the version behind a rollout in flight.
 */
export class ApproveVersion {
  constructor(private readonly ctx: MlopsContext) {}

  /** Approves and rolls out `version`, unless it is not waiting or the current champion outperforms it. */
  async approve(
    model: string,
    version: number,
    approver: string,
    note = 'approved',
  ): Promise<ApprovalOutcome> {
    const { ctx } = this;
    const record = await ctx.registry.getVersion(model, version);
    if (record?.status !== 'PENDING_APPROVAL') return { approved: false };
    const modelRecord = await ctx.registry.getModel(model);
    const config = modelRecord?.config;
    if (!config) throw new Error(`model ${model} has no stored config; cannot approve v${version}`);
    const championNumber = modelRecord.champion;
    const champion =
      championNumber !== undefined && championNumber !== version
        ? await ctx.registry.getVersion(model, championNumber)
        : undefined;
    const recheck = evaluateGate(
      resolveGate(config),
      record.metrics ?? {},
      champion?.metrics ? { version: champion.version, metrics: champion.metrics } : undefined,
    );
    const at = ctx.clock.now().toISOString();
    if (!recheck.passed) {
      const failed = recheck.checks.filter((check) => !check.passed);
      const reason = `approval of v${version} refused: ${failed.map((check) => check.detail).join('; ')}`;
      await ctx.registry.appendAudit({
        model,
        at,
        eventId: auditId('APPROVAL_REFUSED', version, championNumber),
        type: 'APPROVAL_REFUSED',
        actor: approver,
        version,
        reason,
      });
      return { approved: false, refused: { reason, checks: failed } };
    }
    const checks: GateCheck[] = [
      ...recheck.checks.filter((check) => check.name !== 'approval'),
      { name: 'approval', passed: true, detail: `approved by ${approver} at ${at}: ${note}` },
    ];
    const approved = await ctx.registry.transitionVersion({
      model,
      version,
      from: ['PENDING_APPROVAL'],
      to: 'APPROVED',
      set: { updatedAt: at, gate: { passed: true, checks } },
      audit: {
        model,
        at,
        eventId: auditId('APPROVED', version),
        type: 'APPROVED',
        actor: approver,
        version,
        from: 'PENDING_APPROVAL',
        to: 'APPROVED',
        reason: note,
      },
    });
    if (!approved) return { approved };
    return { approved, deploy: await new DeployVersion(ctx).execute(model, version) };
  }

  /** @returns false when the version was not waiting for approval (nothing changed). */
  async reject(model: string, version: number, approver: string, reason: string): Promise<boolean> {
    const at = this.ctx.clock.now().toISOString();
    return this.ctx.registry.transitionVersion({
      model,
      version,
      from: ['PENDING_APPROVAL'],
      to: 'REJECTED',
      set: { updatedAt: at, failureReason: `rejected by ${approver}: ${reason}` },
      audit: {
        model,
        at,
        eventId: auditId('REJECTED', version),
        type: 'REJECTED',
        actor: approver,
        version,
        from: 'PENDING_APPROVAL',
        to: 'REJECTED',
        reason,
      },
    });
  }
}
