/**
 * Use case: roll an APPROVED version out to its model's endpoint. Where this stands: core use case;
 * called after the gate (training events), after a manual approval, and when a rollout ends and
 * another approved version is waiting (endpoint events).
 *
 * One stable endpoint per model. The first version creates it; later ones update it with a
 * blue/green rollout (canary or linear from the config) that SageMaker rolls back by itself when
 * one of the model's alarms fires. One rollout at a time per model: the model's `challenger`
 * is the lock, taken by a conditional write.
 *
 * A rollout does not start into a firing alarm: while one of the model's rollback alarms (error
 * rate, latency: the ones SageMaker watches during the rollout) is in ALARM, a version stays
 * APPROVED and says so (`DEPLOYMENT_WAITING`, once per alarm state change), or SageMaker would roll
 * it back at once and blame it; ProcessAlarmChange rolls it out when the alarm is OK again. A remedy
 * (a rollback, or a version made for an incident) goes ahead: it is what should end the alarm, so
 * the firing alarms are left out of its rollback alarms, and its audit line says so. The drift and
 * traffic alarms never hold a rollout: they are no rollback alarms, and a drift alarm may only
 * clear once a version trained on the new data serves.
 *
 * A call the hosting service refuses for good ({@link EndpointRequestRejected}: an invalid config,
 * a service quota) ends the version DEPLOY_FAILED with the refusal as its reason, releases the
 * lock and rolls out the next approved version; any other error is rethrown with the lock kept,
 * so that the retried event sends the call again. The failure's notification is written with the
 * DEPLOY_FAILED transition (the registry's outbox) and delivered before the next rollout starts.
 */
import { resolveStrategy } from '../domain/model-config';
import { capturePrefix } from '../domain/naming';
import { isRemedy, type VersionRecord } from '../domain/registry';
import { EndpointRequestRejected } from '../ports/endpoint-service';
import { auditId, type MlopsContext } from './context';
import { NotificationOutbox } from './notification-outbox';

/** SageMaker's conventional single-variant name; blue/green updates must keep the variant name. */
export const VARIANT_NAME = 'AllTraffic';

/**
 * What a deploy did. `failed` ended the version DEPLOY_FAILED; `next` is then the rollout of the
 * approved version that was waiting, if any.
 */
export type DeployOutcome =
  | { readonly kind: 'not-approved'; readonly status?: string }
  | { readonly kind: 'queued'; readonly behind: number }
  /** Held in APPROVED while these alarms of the model are in ALARM (not a remedy). */
  | { readonly kind: 'waiting'; readonly alarms: readonly string[] }
  | {
      readonly kind: 'creating' | 'updating' | 'in-flight';
      readonly endpointName: string;
      readonly configName: string;
    }
  | { readonly kind: 'failed'; readonly reason: string; readonly next?: DeployOutcome };

const ACTOR = 'deployer';

/** Rolls approved versions out, one at a time per model. */
export class DeployVersion {
  constructor(private readonly ctx: MlopsContext) {}

  /** Rolls `versionNumber` out (or goes on with its rollout after a retry); idempotent. */
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
    if (version.status === 'APPROVED' && modelRecord.alarmsCreated && !isRemedy(version)) {
      const firing = await this.firingRollbackAlarms(model);
      if (firing.length > 0) return this.wait(version, firing);
    }

    const endpointName = ctx.names.endpoint(model);
    const modelName = ctx.names.sageMakerModel(model, versionNumber, version.datasetId);
    const configName = ctx.names.endpointConfig(model, versionNumber, version.datasetId);
    const tags = { 'mlops:model': model, 'mlops:version': String(versionNumber) };

    if (version.status === 'APPROVED') {
      const d = config.deployment;
      try {
        await ctx.endpoints.ensureModel({
          modelName,
          image: version.image,
          artifactUri: version.artifactUri,
          tags,
        });
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
      } catch (error) {
        // Refused before the lock was taken: the version never starts deploying.
        if (!(error instanceof EndpointRequestRejected)) throw error;
        return this.refused(version, 'APPROVED', error);
      }
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
      try {
        await ctx.endpoints.createEndpoint(endpointName, configName, { 'mlops:model': version.model });
      } catch (error) {
        if (!(error instanceof EndpointRequestRejected)) throw error;
        return this.refused(version, 'DEPLOYING', error);
      }
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
      return this.failed(version, 'DEPLOYING', reason);
    }
    if (endpoint.status !== 'InService') {
      throw new Error(
        `endpoint ${endpointName} is ${endpoint.status}; retrying the rollout of ${configName} later`,
      );
    }
    const d = config.deployment;
    const rollbackAlarms = modelRecord?.alarmsCreated ? this.rollbackAlarmNames(version.model) : [];
    // A remedy rolls out while an alarm fires: with that alarm armed, SageMaker would roll it back at once.
    const firing =
      isRemedy(version) && rollbackAlarms.length > 0 ? await this.firingRollbackAlarms(version.model) : [];
    try {
      await ctx.endpoints.updateEndpoint(endpointName, configName, {
        strategy: resolveStrategy(config),
        stepPercent: d.stepPercent,
        ...(d.type === 'instance' ? { instanceCount: d.initialInstanceCount } : {}),
        bakeSeconds: d.bakeSeconds,
        terminationWaitSeconds: d.terminationWaitSeconds,
        rollbackAlarms: rollbackAlarms.filter((name) => !firing.some((alarm) => alarm.name === name)),
      });
    } catch (error) {
      if (!(error instanceof EndpointRequestRejected)) throw error;
      return this.refused(version, 'DEPLOYING', error);
    }
    ctx.log.info('blue/green update requested', {
      model: version.model,
      version: version.version,
      endpointName,
      configName,
    });
    await this.markRequested(
      version,
      `blue/green ${resolveStrategy(config)} update of ${endpointName} to ${configName}` +
        (firing.length > 0
          ? `; ${firing.map((alarm) => alarm.name).join(', ')} left out of the rollback alarms: in ALARM, and this version is the remedy`
          : ''),
    );
    return { kind: 'updating', endpointName, configName };
  }

  /** The alarms SageMaker watches during a blue/green update of the model's endpoint. */
  private rollbackAlarmNames(model: string): string[] {
    const names = this.ctx.names.alarms(model);
    return [names.errorRate, names.latency];
  }

  /** The model's rollback alarms in ALARM now, with when they went into it. */
  private async firingRollbackAlarms(model: string): Promise<{ name: string; since: string }[]> {
    const firing: { name: string; since: string }[] = [];
    for (const name of this.rollbackAlarmNames(model)) {
      const state = await this.ctx.alarms.describeAlarmState(name);
      if (state?.state === 'ALARM') firing.push({ name, since: state.updatedAt });
    }
    return firing;
  }

  /**
   * Leaves the version APPROVED while alarms fire, with one audit line per alarm state change: its
   * id and time come from the version's approval and the alarm's change, the same on every retry
   * (a line with the same time and id is written once), and the later of the two is when the wait
   * began.
   */
  private async wait(
    version: VersionRecord,
    firing: { name: string; since: string }[],
  ): Promise<DeployOutcome> {
    const names = firing.map((alarm) => alarm.name);
    const since = [version.updatedAt, ...firing.map((alarm) => alarm.since)].sort().at(-1)!;
    await this.ctx.registry.appendAudit({
      model: version.model,
      at: since,
      eventId: auditId(
        'DEPLOYMENT_WAITING',
        version.version,
        ...firing.flatMap((alarm) => [alarm.name, alarm.since]),
      ),
      type: 'DEPLOYMENT_WAITING',
      actor: ACTOR,
      version: version.version,
      reason: `v${version.version} waits in APPROVED: ${names.join(', ')} ${names.length > 1 ? 'are' : 'is'} in ALARM, and a rollout now would be rolled back at once; it starts when the alarm is OK again (a rollback to an earlier version is not held)`,
    });
    this.ctx.log.info('rollout held: the model is in ALARM', {
      model: version.model,
      version: version.version,
      alarms: names,
    });
    return { kind: 'waiting', alarms: names };
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

  /**
   * Starts the version waiting in APPROVED, if any: the rollout that ended (promoted, rolled back,
   * failed or refused) released the model's lock, or the alarm that held it is OK. A remedy (a
   * rollback's older version) goes first, then the newest.
   */
  async deployNextApproved(model: string): Promise<{ next?: DeployOutcome }> {
    const versions = (await this.ctx.registry.listVersions(model)).filter((v) => v.status === 'APPROVED');
    const waiting = versions.filter(isRemedy).at(-1) ?? versions.at(-1);
    if (!waiting) return {};
    return { next: await this.execute(model, waiting.version) };
  }

  /**
   * Starts the version an alarm held back ({@link DeployOutcome} `waiting`), if any, once the alarm
   * is OK: a remedy first, else the newest APPROVED version newer than the champion (an older one
   * is superseded, and rolling it out would replace a newer champion). Nothing while a rollout is
   * in flight: its end starts the next one.
   */
  async deployHeldBack(model: string): Promise<{ next?: DeployOutcome }> {
    const modelRecord = await this.ctx.registry.getModel(model);
    if (!modelRecord || modelRecord.challenger !== undefined) return {};
    const champion = modelRecord.champion;
    const versions = (await this.ctx.registry.listVersions(model)).filter((v) => v.status === 'APPROVED');
    const waiting =
      versions.filter(isRemedy).at(-1) ??
      versions.filter((v) => champion === undefined || v.version > champion).at(-1);
    if (!waiting) return {};
    return { next: await this.execute(model, waiting.version) };
  }

  /** The service refused a call of this rollout for good: retrying cannot help, so it ends here. */
  private async refused(
    version: VersionRecord,
    from: 'APPROVED' | 'DEPLOYING',
    error: EndpointRequestRejected,
  ): Promise<DeployOutcome> {
    this.ctx.log.warn('rollout refused by the hosting service', {
      model: version.model,
      version: version.version,
      error: error.message,
    });
    return this.failed(
      version,
      from,
      `the rollout of v${version.version} cannot go through: ${error.message}`,
    );
  }

  /**
   * Ends the version DEPLOY_FAILED (releasing the lock if it held it) with its notification, sends
   * what is pending, and rolls out the next approved version: nothing else would, since no endpoint
   * event follows a call that never went through. Only the delivery whose write ended the version
   * rolls out the next one, once.
   */
  private async failed(
    version: VersionRecord,
    from: 'APPROVED' | 'DEPLOYING',
    reason: string,
  ): Promise<DeployOutcome> {
    const at = this.ctx.clock.now().toISOString();
    const request = {
      model: version.model,
      version: version.version,
      from: [from],
      to: 'DEPLOY_FAILED' as const,
      set: { failureReason: reason, updatedAt: at },
      audit: {
        model: version.model,
        at,
        eventId: auditId('DEPLOY_FAILED', version.version),
        type: 'DEPLOY_FAILED',
        actor: ACTOR,
        version: version.version,
        from,
        to: 'DEPLOY_FAILED',
        reason,
        notification: {
          kind: 'deployment-failed' as const,
          model: version.model,
          subject: `${version.model} v${version.version}: deployment failed`,
          message: reason,
        },
      },
    };
    // Before the lock was taken there is no challenger to clear: a plain transition.
    const ended =
      from === 'DEPLOYING'
        ? await this.ctx.registry.endFailedDeployment(request)
        : await this.ctx.registry.transitionVersion(request);
    // Ended here or by an earlier delivery: either way, what is pending goes out now.
    await new NotificationOutbox(this.ctx).flush(version.model);
    if (!ended) return { kind: 'failed', reason };
    return { kind: 'failed', reason, ...(await this.deployNextApproved(version.model)) };
  }
}
