/**
 * Use case: roll an APPROVED version out to its model's endpoint. Where this stands: core use case;
 * called after the gate (training events), after a manual approval, and when a rollout ends and
 * another approved version is waiting (endpoint events).
 *
 * One stable endpoint per model. The first version creates it; later ones update it with a
 * blue/green rollout (canary or linear from the config) that SageMaker rolls back by itself when
 * one of the model's alarms fires. One rollout at a time per model: the model's `challenger`
 * is the lock, taken by a conditional write.
 */
import { resolveStrategy } from '../domain/model-config';
import { capturePrefix } from '../domain/naming';
import type { VersionRecord } from '../domain/registry';
import { auditId, type MlopsContext } from './context';

/** SageMaker's conventional single-variant name; blue/green updates must keep the variant name. */
export const VARIANT_NAME = 'AllTraffic';

export type DeployOutcome =
  | { readonly kind: 'not-approved'; readonly status?: string }
  | { readonly kind: 'queued'; readonly behind: number }
  | {
      readonly kind: 'creating' | 'updating' | 'in-flight';
      readonly endpointName: string;
      readonly configName: string;
    }
  | { readonly kind: 'failed'; readonly reason: string };

const ACTOR = 'deployer';

export class DeployVersion {
  constructor(private readonly ctx: MlopsContext) {}

  async execute(model: string, versionNumber: number): Promise<DeployOutcome> {
    const { ctx } = this;
    let version = await ctx.registry.getVersion(model, versionNumber);
    if (!version || (version.status !== 'APPROVED' && version.status !== 'DEPLOYING')) {
      return { kind: 'not-approved', ...(version ? { status: version.status } : {}) };
    }
    const modelRecord = await ctx.registry.getModel(model);
    const config = modelRecord?.config;
    if (!modelRecord || !config)
      throw new Error(`model ${model} has no stored config; cannot deploy v${versionNumber}`);
    if (modelRecord.challenger !== undefined && modelRecord.challenger !== versionNumber) {
      ctx.log.info('another rollout is in flight; this version waits', {
        model,
        version: versionNumber,
        challenger: modelRecord.challenger,
      });
      return { kind: 'queued', behind: modelRecord.challenger };
    }
    if (!version.artifactUri) throw new Error(`${model} v${versionNumber} has no model artifact`);

    const endpointName = ctx.names.endpoint(model);
    const modelName = ctx.names.sageMakerModel(model, versionNumber, version.datasetId);
    const configName = ctx.names.endpointConfig(model, versionNumber, version.datasetId);
    const tags = { 'mlops:model': model, 'mlops:version': String(versionNumber) };

    if (version.status === 'APPROVED') {
      await ctx.endpoints.ensureModel({
        modelName,
        image: version.image,
        artifactUri: version.artifactUri,
        tags,
      });
      const d = config.deployment;
      await ctx.endpoints.ensureEndpointConfig({
        configName,
        modelName,
        variantName: VARIANT_NAME,
        hosting:
          d.type === 'serverless'
            ? {
                type: 'serverless',
                memorySizeMb: d.serverless.memorySizeMb,
                maxConcurrency: d.serverless.maxConcurrency,
              }
            : {
                type: 'instance',
                instanceType: d.instanceType,
                initialInstanceCount: d.initialInstanceCount,
              },
        captureUri: `s3://${ctx.bucket}/${capturePrefix(model)}`,
        capturePercent: d.dataCapturePercent,
        tags,
      });
      const at = ctx.clock.now().toISOString();
      const started = await ctx.registry.startDeployment({
        model,
        version: versionNumber,
        from: ['APPROVED'],
        to: 'DEPLOYING',
        set: { sageMakerModelName: modelName, endpointConfigName: configName, endpointName, updatedAt: at },
        audit: {
          model,
          at,
          eventId: auditId('DEPLOYMENT_STARTED', versionNumber),
          type: 'DEPLOYMENT_STARTED',
          actor: ACTOR,
          version: versionNumber,
          from: 'APPROVED',
          to: 'DEPLOYING',
          reason: `rolling out ${configName} to ${endpointName}`,
        },
      });
      version = await ctx.registry.getVersion(model, versionNumber);
      if (!started && version?.status !== 'DEPLOYING') {
        // Another rollout took the lock between our read and our write.
        const latest = await ctx.registry.getModel(model);
        if (latest?.challenger !== undefined && latest.challenger !== versionNumber)
          return { kind: 'queued', behind: latest.challenger };
        return { kind: 'not-approved', ...(version ? { status: version.status } : {}) };
      }
    }
    return this.applyToEndpoint(version!, endpointName, configName);
  }

  /** The version is DEPLOYING: make the endpoint serve its config, whatever was done before a retry. */
  private async applyToEndpoint(
    version: VersionRecord,
    endpointName: string,
    configName: string,
  ): Promise<DeployOutcome> {
    const { ctx } = this;
    const endpoint = await ctx.endpoints.describeEndpoint(endpointName);
    const modelRecord = await ctx.registry.getModel(version.model);
    const config = modelRecord!.config!;
    if (!endpoint) {
      await ctx.endpoints.createEndpoint(endpointName, configName, { 'mlops:model': version.model });
      ctx.log.info('endpoint creation requested', {
        model: version.model,
        version: version.version,
        endpointName,
        configName,
      });
      await this.markRequested(version, `creating ${endpointName} with ${configName}`);
      return { kind: 'creating', endpointName, configName };
    }
    if (endpoint.configName === configName || endpoint.pendingConfigName === configName) {
      // Already requested by an earlier delivery: the endpoint's state-change event comes next.
      await this.markRequested(version, `${endpointName} moving to ${configName}`);
      return { kind: 'in-flight', endpointName, configName };
    }
    if (
      endpoint.status === 'Creating' ||
      endpoint.status === 'Updating' ||
      endpoint.status === 'SystemUpdating' ||
      endpoint.status === 'RollingBack'
    ) {
      // SageMaker is busy with another change: a transient condition, so the event is retried.
      throw new Error(
        `endpoint ${endpointName} is ${endpoint.status}; retrying the rollout of ${configName} later`,
      );
    }
    if (endpoint.status === 'Failed') {
      if (modelRecord?.champion === undefined) {
        // A first rollout that failed left an endpoint that never served: remove it so the next try can create it.
        await ctx.endpoints.deleteEndpoint(endpointName);
      }
      const reason = `endpoint ${endpointName} is Failed${endpoint.failureReason ? ` (${endpoint.failureReason})` : ''}; it cannot be updated`;
      await this.fail(version, reason);
      return { kind: 'failed', reason };
    }
    if (endpoint.status !== 'InService') {
      throw new Error(
        `endpoint ${endpointName} is ${endpoint.status}; retrying the rollout of ${configName} later`,
      );
    }
    const d = config.deployment;
    const alarmNames = ctx.names.alarms(version.model);
    await ctx.endpoints.updateEndpoint(endpointName, configName, {
      strategy: resolveStrategy(config),
      stepPercent: d.stepPercent,
      bakeSeconds: d.bakeSeconds,
      terminationWaitSeconds: d.terminationWaitSeconds,
      rollbackAlarms: modelRecord?.alarmsCreated ? [alarmNames.errorRate, alarmNames.latency] : [],
    });
    ctx.log.info('blue/green update requested', {
      model: version.model,
      version: version.version,
      endpointName,
      configName,
    });
    await this.markRequested(
      version,
      `blue/green ${resolveStrategy(config)} update of ${endpointName} to ${configName}`,
    );
    return { kind: 'updating', endpointName, configName };
  }

  /** Records that the endpoint call returned: from now on the endpoint's state is this rollout's. */
  private async markRequested(version: VersionRecord, reason: string): Promise<void> {
    if (version.rolloutRequestedAt) return;
    const at = this.ctx.clock.now().toISOString();
    await this.ctx.registry.transitionVersion({
      model: version.model,
      version: version.version,
      from: ['DEPLOYING'],
      to: 'DEPLOYING',
      set: { rolloutRequestedAt: at, updatedAt: at },
      audit: {
        model: version.model,
        at,
        eventId: auditId('ROLLOUT_REQUESTED', version.version),
        type: 'ROLLOUT_REQUESTED',
        actor: ACTOR,
        version: version.version,
        reason,
      },
    });
  }

  private async fail(version: VersionRecord, reason: string): Promise<void> {
    const at = this.ctx.clock.now().toISOString();
    const ended = await this.ctx.registry.endFailedDeployment({
      model: version.model,
      version: version.version,
      from: ['DEPLOYING'],
      to: 'DEPLOY_FAILED',
      set: { failureReason: reason, updatedAt: at },
      audit: {
        model: version.model,
        at,
        eventId: auditId('DEPLOY_FAILED', version.version),
        type: 'DEPLOY_FAILED',
        actor: ACTOR,
        version: version.version,
        from: 'DEPLOYING',
        to: 'DEPLOY_FAILED',
        reason,
      },
    });
    if (ended) {
      await this.ctx.notifier.notify({
        kind: 'deployment-failed',
        model: version.model,
        subject: `${version.model} v${version.version}: deployment failed`,
        message: reason,
      });
    }
  }
}
