/**
 * Use case: run one operator command (approve, reject, rollback, retrain) and answer what it did.
 * Where this stands: core use case; the operator function (lambdas/operator/handler.ts) and the
 * local cloud's control API (`POST /operator`) call it with a parsed {@link OperatorCommand}, and
 * the `mlops` CLI prints the {@link OperatorResult} and maps its error code to an exit code.
 *
 * Mutations run through the same use cases and conditional writes as the pipeline: ApproveVersion
 * (re-checked against the current champion), RollbackModel, RetrainModel, each rolling out through
 * DeployVersion. A refusal (no such model or version, a state that does not allow it, a regression,
 * a request the service refused) is an answer with its code, never an exception; only an
 * infrastructure error (the registry, the object store, a service that did not answer) is thrown,
 * so the caller can retry it.
 */
import type { OperatorCommand, OperatorErrorCode, OperatorResult } from '../domain/operator-commands';
import { ApproveVersion } from './approve-version';
import type { MlopsContext } from './context';
import type { DeployOutcome } from './deploy-version';
import { RetrainModel } from './retrain-model';
import { RollbackModel } from './rollback-model';

/** Dispatches operator commands to the use cases. */
export class OperateModel {
  constructor(private readonly ctx: MlopsContext) {}

  async execute(command: OperatorCommand): Promise<OperatorResult> {
    switch (command.action) {
      case 'approve':
        return this.approve(command);
      case 'reject':
        return this.reject(command);
      case 'rollback':
        return this.rollback(command);
      case 'retrain':
        return this.retrain(command);
    }
  }

  private async approve(command: Extract<OperatorCommand, { action: 'approve' }>): Promise<OperatorResult> {
    const { model, version } = command;
    const waiting = await this.waitingVersion(command);
    if (waiting) return waiting;
    const outcome = await new ApproveVersion(this.ctx).approve(model, version, command.actor, command.note);
    if (outcome.refused) {
      const regression = outcome.refused.checks.some((check) => check.name === 'no-regression');
      return failure(
        command,
        regression ? 'regression' : 'conflict',
        `${outcome.refused.reason}; v${version} stays PENDING_APPROVAL`,
      );
    }
    if (!outcome.approved) return this.movedOn(command);
    return deployed(command, version, `${model} v${version} approved by ${command.actor}`, outcome.deploy!);
  }

  private async reject(command: Extract<OperatorCommand, { action: 'reject' }>): Promise<OperatorResult> {
    const { model, version } = command;
    const waiting = await this.waitingVersion(command);
    if (waiting) return waiting;
    if (!(await new ApproveVersion(this.ctx).reject(model, version, command.actor, command.reason)))
      return this.movedOn(command);
    return {
      ok: true,
      action: 'reject',
      model,
      version,
      message: `${model} v${version} rejected by ${command.actor}: ${command.reason}`,
    };
  }

  private async rollback(command: Extract<OperatorCommand, { action: 'rollback' }>): Promise<OperatorResult> {
    const outcome = await new RollbackModel(this.ctx).execute({
      model: command.model,
      actor: command.actor,
      ...(command.to !== undefined ? { to: command.to } : {}),
      ...(command.reason !== undefined ? { reason: command.reason } : {}),
    });
    if (outcome.kind === 'refused') return failure(command, outcome.code, outcome.reason);
    return deployed(
      command,
      outcome.version,
      `${command.model}: v${outcome.version} goes back in place of v${outcome.from}${outcome.resumed ? ' (already requested; going on with it)' : ''}`,
      outcome.deploy,
    );
  }

  private async retrain(command: Extract<OperatorCommand, { action: 'retrain' }>): Promise<OperatorResult> {
    const outcome = await new RetrainModel(this.ctx).execute({
      model: command.model,
      actor: command.actor,
      requestId: command.requestId,
      ...(command.datasetId !== undefined ? { datasetId: command.datasetId } : {}),
      ...(command.reason !== undefined ? { reason: command.reason } : {}),
    });
    switch (outcome.kind) {
      case 'refused':
        return failure(command, outcome.code, outcome.reason);
      case 'training-failed':
        return failure(command, 'failed', `${command.model} v${outcome.version}: ${outcome.reason}`);
      case 'training':
        return {
          ok: true,
          action: 'retrain',
          model: command.model,
          version: outcome.version,
          message: outcome.created
            ? `${command.model} v${outcome.version} is training from dataset ${outcome.datasetId} (job ${outcome.jobName})`
            : `request ${command.requestId} already made ${command.model} v${outcome.version} from dataset ${outcome.datasetId} (${outcome.status})`,
        };
    }
  }

  /** Undefined when the version waits for a decision; else the refusal saying why it cannot take one. */
  private async waitingVersion(command: { action: 'approve' | 'reject'; model: string; version: number }) {
    const { model, version } = command;
    if (!(await this.ctx.registry.getModel(model)))
      return failure(command, 'not-found', `model "${model}" is not registered`);
    const record = await this.ctx.registry.getVersion(model, version);
    if (!record) return failure(command, 'not-found', `${model} has no version ${version}`);
    if (record.status !== 'PENDING_APPROVAL')
      return failure(
        command,
        'conflict',
        `${model} v${version} is ${record.status}, not waiting for approval (PENDING_APPROVAL)`,
      );
    return undefined;
  }

  /** The decision's conditional write was refused: another decision got there first. */
  private async movedOn(command: { action: 'approve' | 'reject'; model: string; version: number }) {
    const status = (await this.ctx.registry.getVersion(command.model, command.version))?.status;
    return failure(
      command,
      'conflict',
      `${command.model} v${command.version} moved on meanwhile (it is ${status ?? 'gone'}); nothing changed`,
    );
  }
}

function failure(
  command: { action: string; model: string },
  code: OperatorErrorCode,
  message: string,
): OperatorResult {
  return { ok: false, action: command.action, model: command.model, error: { code, message } };
}

/** The answer to a command that started (or queued) a rollout: `failed` when the service refused it. */
function deployed(
  command: OperatorCommand,
  version: number,
  done: string,
  deploy: DeployOutcome,
): OperatorResult {
  if (deploy.kind === 'failed')
    return failure(command, 'failed', `${done}, but its rollout failed: ${deploy.reason}`);
  return {
    ok: true,
    action: command.action,
    model: command.model,
    version,
    message: `${done}; ${describeDeploy(deploy)}`,
    deploy,
  };
}

/** A sentence for a rollout outcome, for people. */
export function describeDeploy(deploy: DeployOutcome): string {
  switch (deploy.kind) {
    case 'creating':
      return `creating ${deploy.endpointName} with ${deploy.configName}`;
    case 'updating':
      return `blue/green update of ${deploy.endpointName} to ${deploy.configName} started`;
    case 'in-flight':
      return `${deploy.endpointName} is already moving to ${deploy.configName}`;
    case 'queued':
      return `its rollout waits behind the rollout of v${deploy.behind}`;
    case 'waiting':
      return `its rollout waits: ${deploy.alarms.join(', ')} in ALARM; it starts when the alarm is OK again`;
    case 'not-approved':
      return `nothing rolled out (the version is ${deploy.status ?? 'gone'})`;
    case 'failed':
      return `the rollout failed: ${deploy.reason}`;
  }
}
