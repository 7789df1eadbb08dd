/**
 * What an operator asks of the stack (approve, reject, roll back, retrain) and what it answers.
 * Where this stands: core domain; the operator function (lambdas/operator) and the local cloud's
 * control API parse a command with {@link parseOperatorCommand}, core/use-cases/operate-model.ts
 * runs it, and the `mlops` CLI sends it and reads the {@link OperatorResult}.
 */
import { isPlainObject } from '../support/objects';
import { modelNameProblem } from './naming';

/** One operator command; `actor` is who asks (an IAM ARN in AWS, `local:<user>` locally). */
export type OperatorCommand =
  | { action: 'approve'; model: string; version: number; actor: string; note?: string }
  | { action: 'reject'; model: string; version: number; actor: string; reason: string }
  | { action: 'rollback'; model: string; to?: number; actor: string; reason?: string }
  | {
      action: 'retrain';
      model: string;
      datasetId?: string;
      actor: string;
      /** Makes a retried request return the version the first one made (≤ 64 of `[A-Za-z0-9-_]`). */
      requestId: string;
      reason?: string;
    };

/**
 * Why a command was not carried out: `malformed` (the input), `not-found` (model, version or
 * dataset), `conflict` (the registry's state refuses it: wrong status, a rollout in flight...),
 * `regression` (an approval the current champion outperforms), `failed` (the action started and the
 * service refused it).
 */
export type OperatorErrorCode = 'malformed' | 'not-found' | 'conflict' | 'regression' | 'failed';

/** What a command did: `ok` with the version it concerns, or the refusal with its code. */
export type OperatorResult =
  | {
      ok: true;
      action: OperatorCommand['action'];
      model: string;
      version?: number;
      message: string;
      /** The rollout the command started (DeployVersion's outcome), when it started one. */
      deploy?: unknown;
    }
  | { ok: false; action?: string; model?: string; error: { code: OperatorErrorCode; message: string } };

/** The actions an operator command can name. */
export const OPERATOR_ACTIONS = ['approve', 'reject', 'rollback', 'retrain'] as const;

/** The rule for retrain request ids: safe in a registry key and a log line. */
export const REQUEST_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** Longest free text (actor, note, reason, dataset id) a command may carry. */
const MAX_TEXT = 1024;

/**
 * Validates an operator command (the operator function's event, the control API's body). Never
 * throws: a bad input is answered with a sentence naming the field that is wrong.
 * @returns the command, or what is wrong with it
 */
export function parseOperatorCommand(input: unknown): OperatorCommand | string {
  if (!isPlainObject(input)) return 'the command must be a JSON object';
  const action = input['action'];
  if (typeof action !== 'string' || !(OPERATOR_ACTIONS as readonly string[]).includes(action))
    return `action: must be one of ${OPERATOR_ACTIONS.join(', ')}`;
  const model = input['model'];
  if (typeof model !== 'string') return 'model: must be a string';
  const modelProblem = modelNameProblem(model);
  if (modelProblem) return `model: ${modelProblem}`;
  const actor = requiredText(input, 'actor');
  if (typeof actor !== 'string') return actor.problem;

  switch (action) {
    case 'approve': {
      const version = requiredInteger(input, 'version');
      if (typeof version !== 'number') return version.problem;
      const note = text(input, 'note');
      if (typeof note === 'object') return note.problem;
      return { action, model, version, actor, ...(note !== undefined ? { note } : {}) };
    }
    case 'reject': {
      const version = requiredInteger(input, 'version');
      if (typeof version !== 'number') return version.problem;
      const reason = requiredText(input, 'reason');
      if (typeof reason !== 'string') return reason.problem;
      return { action, model, version, actor, reason };
    }
    case 'rollback': {
      const to = positiveInteger(input, 'to');
      if (typeof to === 'object') return to.problem;
      const reason = text(input, 'reason');
      if (typeof reason === 'object') return reason.problem;
      return {
        action,
        model,
        actor,
        ...(to !== undefined ? { to } : {}),
        ...(reason !== undefined ? { reason } : {}),
      };
    }
    default: {
      const requestId = input['requestId'];
      if (typeof requestId !== 'string' || !REQUEST_ID_PATTERN.test(requestId))
        return 'requestId: required, 1 to 64 characters from A-Z, a-z, 0-9, "-" and "_"';
      const datasetId = text(input, 'datasetId');
      if (typeof datasetId === 'object') return datasetId.problem;
      const reason = text(input, 'reason');
      if (typeof reason === 'object') return reason.problem;
      return {
        action: 'retrain',
        model,
        actor,
        requestId,
        ...(datasetId !== undefined ? { datasetId } : {}),
        ...(reason !== undefined ? { reason } : {}),
      };
    }
  }
}

/** A required non-empty string field, or the problem with it. */
function requiredText(input: Record<string, unknown>, field: string): string | { problem: string } {
  return text(input, field) ?? { problem: `${field}: required` };
}

/** A required positive integer field, or the problem with it. */
function requiredInteger(input: Record<string, unknown>, field: string): number | { problem: string } {
  return positiveInteger(input, field) ?? { problem: `${field}: required` };
}

/** A non-empty string field (undefined when absent), or the problem with it. */
function text(input: Record<string, unknown>, field: string): string | undefined | { problem: string } {
  const value = input[field];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.trim().length === 0)
    return { problem: `${field}: must be a non-empty string` };
  if (value.length > MAX_TEXT) return { problem: `${field}: at most ${MAX_TEXT} characters` };
  return value;
}

/** A positive integer field (undefined when absent), or the problem with it. */
function positiveInteger(
  input: Record<string, unknown>,
  field: string,
): number | undefined | { problem: string } {
  const value = input[field];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1)
    return { problem: `${field}: must be a positive integer (a version number)` };
  return value;
}
