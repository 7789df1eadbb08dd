/**
 * Use case: a person approves (or rejects) a version waiting in PENDING_APPROVAL. Where this
 * stands: core use case, for the CLI and tooling; an approved version is rolled out at once.
 */
import { auditId, type MlopsContext } from './context';
import { DeployVersion, type DeployOutcome } from './deploy-version';

/**
 * A person's decision on a version the gate left in PENDING_APPROVAL (`gate.approval: "manual"`).
 * No handler or CLI command runs it yet: it is called in-process. Both decisions are conditional
 * writes from PENDING_APPROVAL, so a repeated call changes nothing; an approval goes on to
 * {@link DeployVersion}, which queues the version behind a rollout in flight.
 */
export class ApproveVersion {
  constructor(private readonly ctx: MlopsContext) {}

  /** @returns false when the version was not waiting for approval (nothing changed). */
  async approve(
    model: string,
    version: number,
    approver: string,
    note = 'approved',
  ): Promise<{ approved: boolean; deploy?: DeployOutcome }> {
    const at = this.ctx.clock.now().toISOString();
    const approved = await this.ctx.registry.transitionVersion({
      model,
      version,
      from: ['PENDING_APPROVAL'],
      to: 'APPROVED',
      set: { updatedAt: at },
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
    return { approved, deploy: await new DeployVersion(this.ctx).execute(model, version) };
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
