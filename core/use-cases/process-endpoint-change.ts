/**
 * Use case: an endpoint changed state. Where this stands: core use case, called by the
 * endpoint-events handler ("SageMaker Endpoint State Change") and by the local cloud.
 *
 * As with training, the event only says "look at this endpoint": DescribeEndpoint is the truth.
 * - InService serving the challenger's config: make sure the model's alarms exist, then promote it
 *   (champion moves, the old champion is archived), notify.
 * - InService still serving another config after the rollout was requested: SageMaker rolled the
 *   update back (an alarm fired during baking) or the update failed: ROLLED_BACK, the champion stays.
 * - Failed / UpdateRollbackFailed: DEPLOY_FAILED with SageMaker's reason.
 * - Anything in progress: nothing yet.
 * When a rollout ends, the newest version waiting in APPROVED (if any) is rolled out next.
 * The notification of the end is written with it (the registry's outbox) and delivered before the
 * next rollout starts; a redelivered event, which finds the rollout over, delivers it when the
 * first delivery could not.
 */
import { auditId, type MlopsContext } from './context';
import { DeployVersion, VARIANT_NAME, type DeployOutcome } from './deploy-version';
import { NotificationOutbox } from './notification-outbox';

/**
 * What an endpoint change did: `ignored` (nothing to do, `why` says: e.g. no rollout in flight, or
 * its end already recorded), `in-progress` (nothing to record yet), `promoted`,
 * `rolled-back` or `deploy-failed`; `next` is the rollout of the approved version that was waiting,
 * if the end of this one started it. The handler logs it and counts it by `kind`.
 */
export type EndpointOutcome =
  | { readonly kind: 'ignored'; readonly why: string }
  | { readonly kind: 'in-progress'; readonly status: string }
  | {
      readonly kind: 'promoted';
      readonly version: number;
      readonly archived?: number;
      readonly next?: DeployOutcome;
    }
  | {
      readonly kind: 'rolled-back' | 'deploy-failed';
      readonly version: number;
      readonly reason: string;
      readonly next?: DeployOutcome;
    };

const ACTOR = 'endpoint-events';

/**
 * Records how a model's rollout ended, from the endpoint's current state, and starts the next one.
 * Run by the endpoint-events handler (lambdas/endpoint-events/handler.ts) for each "SageMaker
 * Endpoint State Change", in AWS and in the local cloud, and for the reconciler's re-deliveries.
 * Safe to run twice: every move is a conditional write from DEPLOYING.
 */
export class ProcessEndpointChange {
  private readonly outbox: NotificationOutbox;

  constructor(private readonly ctx: MlopsContext) {
    this.outbox = new NotificationOutbox(ctx);
  }

  async execute(endpointName: string): Promise<EndpointOutcome> {
    const { ctx } = this;
    const model = ctx.names.modelFromEndpoint(endpointName);
    if (!model) return { kind: 'ignored', why: `${endpointName} is not an endpoint of this stack` };
    const modelRecord = await ctx.registry.getModel(model);
    if (modelRecord?.challenger === undefined) {
      // Also a redelivered event whose rollout an earlier delivery ended: send what it could not.
      if (modelRecord) await this.outbox.flush(model);
      return { kind: 'ignored', why: `no rollout in flight for ${model}` };
    }
    const n = modelRecord.challenger;
    const version = await ctx.registry.getVersion(model, n);
    if (version?.status !== 'DEPLOYING' || !version.endpointConfigName)
      return { kind: 'ignored', why: `${model} v${n} is not deploying` };

    // Until the create/update call has returned, the endpoint's state is the previous rollout's.
    if (!version.rolloutRequestedAt) return { kind: 'in-progress', status: 'rollout not yet requested' };
    const endpoint = await ctx.endpoints.describeEndpoint(endpointName);
    if (!endpoint) return { kind: 'ignored', why: `${endpointName} does not exist` };
    const at = ctx.clock.now().toISOString();

    if (endpoint.status === 'InService' && endpoint.configName === version.endpointConfigName) {
      const previous = modelRecord.champion;
      // The alarms first: once promoted, the challenger is cleared and a retried event finds no
      // rollout in flight, so anything left for after the promotion would never be done.
      await this.ensureAlarms(model, endpointName);
      const promoted = await ctx.registry.promote({
        model,
        version: n,
        ...(previous !== undefined ? { previousChampion: previous } : {}),
        at,
        audit: {
          model,
          at,
          eventId: auditId('PROMOTED', n),
          type: 'PROMOTED',
          actor: ACTOR,
          version: n,
          from: 'DEPLOYING',
          to: 'PRODUCTION',
          reason: `${endpointName} serves ${endpoint.configName}${previous !== undefined ? `; v${previous} archived` : ''}`,
          notification: {
            kind: 'version-promoted',
            model,
            subject: `${model} v${n} is in production`,
            message: `${endpointName} now serves v${n} (${endpoint.configName}).${previous !== undefined ? ` v${previous} was archived.` : ''}`,
          },
        },
      });
      // Promoted here or concurrently: either way, what is pending goes out now.
      await this.outbox.flush(model);
      if (!promoted) return { kind: 'ignored', why: `${model} v${n} was already promoted` };
      return {
        kind: 'promoted',
        version: n,
        ...(previous !== undefined ? { archived: previous } : {}),
        ...(await this.next(model)),
      };
    }

    const rolledBack = endpoint.status === 'InService';
    const failed = endpoint.status === 'Failed' || endpoint.status === 'UpdateRollbackFailed';
    if (!rolledBack && !failed) return { kind: 'in-progress', status: endpoint.status };

    const to = rolledBack ? 'ROLLED_BACK' : 'DEPLOY_FAILED';
    const reason = rolledBack
      ? `the rollout of v${n} was rolled back: ${endpointName} still serves ${endpoint.configName}${endpoint.failureReason ? ` (${endpoint.failureReason})` : ' (an alarm fired while the new fleet was baking)'}`
      : `the rollout of v${n} failed: ${endpointName} is ${endpoint.status}${endpoint.failureReason ? ` (${endpoint.failureReason})` : ''}`;
    const ended = await ctx.registry.endFailedDeployment({
      model,
      version: n,
      from: ['DEPLOYING'],
      to,
      set: { failureReason: reason, updatedAt: at },
      audit: {
        model,
        at,
        eventId: auditId(to, n),
        type: to,
        actor: ACTOR,
        version: n,
        from: 'DEPLOYING',
        to,
        reason,
        notification: {
          kind: 'deployment-failed',
          model,
          subject: `${model} v${n}: ${rolledBack ? 'rolled back' : 'deployment failed'}`,
          message: reason,
        },
      },
    });
    if (!ended) {
      await this.outbox.flush(model);
      return { kind: 'ignored', why: `${model} v${n} was already ${to}` };
    }
    if (failed && modelRecord.champion === undefined && endpoint.status === 'Failed') {
      // The endpoint never served: remove it so that the next version can create it afresh.
      await ctx.endpoints.deleteEndpoint(endpointName);
    }
    await this.outbox.flush(model);
    return {
      kind: rolledBack ? 'rolled-back' : 'deploy-failed',
      version: n,
      reason,
      ...(await this.next(model)),
    };
  }

  /**
   * Creates or updates the model's alarms (PutMetricAlarm is an upsert, so this is safe to repeat):
   * the endpoint alarms and the drift alarms on the drift monitor's metrics.
   */
  private async ensureAlarms(model: string, endpointName: string): Promise<void> {
    const { ctx } = this;
    const config = (await ctx.registry.getModel(model))?.config;
    if (!config) return;
    const m = config.monitoring;
    await ctx.alarms.ensureModelAlarms({
      model,
      endpointName,
      variantName: VARIANT_NAME,
      names: ctx.names.alarms(model),
      anomalyBandWidth: m.anomalyBandWidth,
      errorRateThreshold: m.errorRateThreshold,
      featureDriftThreshold: m.featureDriftThreshold,
      predictionDriftThreshold: m.predictionDriftThreshold,
      evaluationPeriods: m.evaluationPeriods,
      datapointsToAlarm: m.datapointsToAlarm,
      tags: { 'mlops:model': model },
    });
    await ctx.registry.markAlarmsCreated(model, ctx.clock.now().toISOString());
  }

  /** Starts the newest version waiting in APPROVED, if any (one rule: {@link DeployVersion.deployNextApproved}). */
  private next(model: string): Promise<{ next?: DeployOutcome }> {
    return new DeployVersion(this.ctx).deployNextApproved(model);
  }
}
