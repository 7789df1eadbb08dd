/**
 * Use case: a training job changed state. Where this stands: core use case, called by the
 * training-events handler ("SageMaker Training Job State Change") and by the local cloud.
 *
 * The event only says "look at this job": the job's current state is read from the training
 * service (DescribeTrainingJob), and the version is driven forward from whatever state the
 * registry holds. A duplicated event finds the work done; a late one (InProgress after Completed)
 * finds the version past TRAINING and changes nothing. Steps: TRAINING -> TRAINED (metrics,
 * artifact) | FAILED (reason); TRAINED -> gate -> REJECTED | PENDING_APPROVAL | APPROVED;
 * APPROVED -> deploy. The notifications of FAILED, REJECTED and PENDING_APPROVAL are written with
 * the transition (the registry's outbox) and delivered right after, by this delivery or, when
 * its send failed, by the retried event (which finds the version past the transition).
 */
import { evaluateGate } from '../domain/gate';
import { resolveGate } from '../domain/model-config';
import type { VersionRecord } from '../domain/registry';
import { auditId, type MlopsContext } from './context';
import { DeployVersion, type DeployOutcome } from './deploy-version';
import { NotificationOutbox } from './notification-outbox';

/**
 * What a training job change did: `ignored` (nothing to do, `why` says: e.g. no version for the job),
 * `in-progress`, `failed` (the job failed or was stopped), `rejected` by the gate,
 * `pending-approval`, `deploying` (approved, and the rollout's outcome), or `already-processed`
 * (a duplicated or late event: the version had moved on, to `status`). The handler logs it and
 * counts it by `kind`.
 */
export type TrainingOutcome =
  | { readonly kind: 'ignored'; readonly why: string }
  | { readonly kind: 'in-progress' }
  | { readonly kind: 'failed'; readonly reason: string }
  | { readonly kind: 'rejected'; readonly version: number; readonly reason: string }
  | { readonly kind: 'pending-approval'; readonly version: number }
  | { readonly kind: 'deploying'; readonly version: number; readonly deploy: DeployOutcome }
  | { readonly kind: 'already-processed'; readonly version: number; readonly status: string };

const ACTOR = 'training-events';

/**
 * Drives a version on from its training job's current state: metrics or failure, the gate, the
 * rollout of an approved version. Run by the training-events handler
 * (lambdas/training-events/handler.ts) for each "SageMaker Training Job State Change", in AWS and in
 * the local cloud, and for the reconciler's re-deliveries. Safe to run twice: every move is a
 * conditional write from the state it expects.
 */
export class ProcessTrainingJob {
  private readonly deployer: DeployVersion;
  private readonly outbox: NotificationOutbox;

  constructor(private readonly ctx: MlopsContext) {
    this.deployer = new DeployVersion(ctx);
    this.outbox = new NotificationOutbox(ctx);
  }

  async execute(jobName: string): Promise<TrainingOutcome> {
    const { ctx } = this;
    const parsed = ctx.names.parseTrainingJob(jobName);
    if (!parsed) return { kind: 'ignored', why: `${jobName} is not a job of this stack` };
    const { model, version: n } = parsed;
    let version = await ctx.registry.getVersion(model, n);
    if (!version || version.trainingJobName !== jobName) {
      return { kind: 'ignored', why: `no registry version for ${jobName}` };
    }

    if (version.status === 'TRAINING') {
      const job = await ctx.training.describeTrainingJob(jobName);
      if (!job) return { kind: 'ignored', why: `${jobName} does not exist in the training service` };
      if (job.status === 'InProgress' || job.status === 'Stopping') return { kind: 'in-progress' };
      const at = ctx.clock.now().toISOString();
      if (job.status === 'Failed' || job.status === 'Stopped') {
        const reason =
          job.status === 'Stopped'
            ? `training job ${jobName} was stopped${job.failureReason ? `: ${job.failureReason}` : ''}`
            : `training job ${jobName} failed: ${job.failureReason ?? 'no reason given'}`;
        await ctx.registry.transitionVersion({
          model,
          version: n,
          from: ['TRAINING'],
          to: 'FAILED',
          set: { failureReason: reason, metrics: job.metrics, updatedAt: at },
          audit: {
            ...this.audit(model, n, 'TRAINING_FAILED', reason, 'TRAINING', 'FAILED', at),
            notification: {
              kind: 'training-failed',
              model,
              subject: `${model} v${n}: training failed`,
              message: reason,
            },
          },
        });
        // Moved here or concurrently: either way, what is pending goes out now.
        await this.outbox.flush(model);
        return { kind: 'failed', reason };
      }
      // Completed.
      await ctx.registry.transitionVersion({
        model,
        version: n,
        from: ['TRAINING'],
        to: 'TRAINED',
        set: {
          metrics: job.metrics,
          ...(job.artifactUri ? { artifactUri: job.artifactUri } : {}),
          updatedAt: at,
        },
        audit: this.audit(
          model,
          n,
          'TRAINED',
          `training job ${jobName} completed: ${formatMetrics(job.metrics)}`,
          'TRAINING',
          'TRAINED',
          at,
        ),
      });
      version = await ctx.registry.getVersion(model, n);
    }

    if (version?.status === 'TRAINED') {
      const gated = await this.gate(version);
      if (gated) return gated;
      version = await ctx.registry.getVersion(model, n);
    }

    // DEPLOYING without `rolloutRequestedAt`: the lock was taken but the endpoint call never
    // returned (throttled, refused, timed out). A redelivered event must send it again, or the
    // model's rollouts wedge behind this version for good.
    if (version?.status === 'APPROVED' || (version?.status === 'DEPLOYING' && !version.rolloutRequestedAt)) {
      return { kind: 'deploying', version: n, deploy: await this.deployer.execute(model, n) };
    }
    // A redelivered event: an earlier delivery moved the version and may not have sent its notice.
    await this.outbox.flush(model);
    return { kind: 'already-processed', version: n, status: version?.status ?? 'unknown' };
  }

  /** Runs gate 2 on a TRAINED version; returns an outcome unless the version was approved. */
  private async gate(version: VersionRecord): Promise<TrainingOutcome | undefined> {
    const { ctx } = this;
    const { model, version: n } = version;
    const modelRecord = await ctx.registry.getModel(model);
    if (!modelRecord?.config) throw new Error(`model ${model} has no stored config; cannot gate v${n}`);
    const gate = resolveGate(modelRecord.config);
    const championVersion =
      modelRecord.champion !== undefined
        ? await ctx.registry.getVersion(model, modelRecord.champion)
        : undefined;
    const result = evaluateGate(
      gate,
      version.metrics ?? {},
      championVersion?.metrics
        ? { version: championVersion.version, metrics: championVersion.metrics }
        : undefined,
    );
    const at = ctx.clock.now().toISOString();
    const failed = result.checks.filter((c) => !c.passed).map((c) => c.detail);
    const reason =
      result.decision === 'REJECTED'
        ? `gate rejected the candidate: ${failed.join('; ')}`
        : result.checks.map((c) => c.detail).join('; ');
    const notification =
      result.decision === 'REJECTED'
        ? {
            kind: 'version-rejected' as const,
            model,
            subject: `${model} v${n}: candidate rejected`,
            message: reason,
          }
        : result.decision === 'PENDING_APPROVAL'
          ? {
              kind: 'approval-needed' as const,
              model,
              subject: `${model} v${n}: waiting for approval`,
              message: `${reason}\nApprove it to roll it out.`,
            }
          : undefined;
    await ctx.registry.transitionVersion({
      model,
      version: n,
      from: ['TRAINED'],
      to: result.decision,
      set: {
        gate: { passed: result.passed, checks: result.checks },
        updatedAt: at,
        ...(result.decision === 'REJECTED' ? { failureReason: reason } : {}),
      },
      audit: {
        ...this.audit(model, n, `GATE_${result.decision}`, reason, 'TRAINED', result.decision, at),
        ...(notification ? { notification } : {}),
      },
    });
    if (!notification) return undefined;
    // Moved here or concurrently: either way, what is pending goes out now.
    await this.outbox.flush(model);
    return result.decision === 'REJECTED'
      ? { kind: 'rejected', version: n, reason }
      : { kind: 'pending-approval', version: n };
  }

  private audit(
    model: string,
    version: number,
    type: string,
    reason: string,
    from: string,
    to: string,
    at: string,
  ) {
    return { model, at, eventId: auditId(type, version), type, actor: ACTOR, version, from, to, reason };
  }
}

function formatMetrics(metrics: Readonly<Record<string, number>>): string {
  const entries = Object.entries(metrics);
  return entries.length
    ? entries.map(([k, v]) => `${k}=${Math.round(v * 1e6) / 1e6}`).join(', ')
    : 'no metrics reported';
}
