/**
 * Operator handler: an operator's command (approve, reject, rollback, retrain), invoked by the
 * `mlops` CLI with lambda:InvokeFunction (synchronously: the CLI prints the answer). Thin: parse
 * the command, run OperateModel, log the command and its outcome.
 *
 * A command that is not valid is answered `{ ok: false, error: { code: 'malformed' } }`, never
 * thrown: the caller sent it and reads why. A command refused by the registry's state (not found,
 * a conflict, a regression) is OperateModel's answer, returned as it is. Anything else (the
 * registry or SageMaker unreachable, throttled) is thrown, so that Lambda reports a function error
 * (and the stack's operator errors alarm counts it); the commands are idempotent, so the operator
 * runs the same command again.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import {
  parseOperatorCommand,
  type OperatorCommand,
  type OperatorResult,
} from '../../core/domain/operator-commands';
import { isPlainObject } from '../../core/support/objects';
import type { MlopsContext } from '../../core/use-cases/context';
import { OperateModel } from '../../core/use-cases/operate-model';
import { createAwsContext } from '../shared/aws-context';
import { lazy } from '../shared/lazy';
import { logger, metrics, traceInvocation } from '../shared/observability';

/**
 * Builds the handler around a context factory: the entry point below gives it the AWS context, the
 * local cloud its own. It returns OperateModel's result, or `malformed` for an input that is not a
 * command.
 */
export function createOperatorHandler(getContext: () => MlopsContext) {
  return async (event: unknown, context?: Context): Promise<OperatorResult> => {
    if (context) logger.addContext(context);
    try {
      const command = parseOperatorCommand(event);
      if (typeof command === 'string') {
        // The raw input is not logged (it can be anything); what is wrong with it, and its fields.
        logger.warn('malformed operator command', {
          problem: command,
          fields: isPlainObject(event) ? Object.keys(event).slice(0, 20) : typeof event,
        });
        metrics.addMetric('Operator:malformed', MetricUnit.Count, 1);
        return malformed(event, command);
      }
      // A command holds no secret: who asks (an IAM ARN), what, and why.
      logger.info('operator command', { command });
      const result = await new OperateModel(getContext()).execute(command);
      logger.info('operator outcome', { command: summary(command), result });
      metrics.addMetric(
        `Operator:${command.action}:${result.ok ? 'ok' : result.error.code}`,
        MetricUnit.Count,
        1,
      );
      return result;
    } catch (error) {
      logger.error('operator command failed; the function reports the error', { error });
      throw error;
    } finally {
      metrics.publishStoredMetrics();
    }
  };
}

/** The refusal of an input that is not a command, with its action and model when it named them. */
function malformed(event: unknown, problem: string): OperatorResult {
  const action = isPlainObject(event) && typeof event['action'] === 'string' ? event['action'] : undefined;
  const model = isPlainObject(event) && typeof event['model'] === 'string' ? event['model'] : undefined;
  return {
    ok: false,
    ...(action !== undefined ? { action: action.slice(0, 64) } : {}),
    ...(model !== undefined ? { model: model.slice(0, 64) } : {}),
    error: { code: 'malformed', message: problem },
  };
}

/** The command's identity, for the outcome's log line. */
function summary(command: OperatorCommand): string {
  const target =
    command.action === 'approve' || command.action === 'reject'
      ? ` v${command.version}`
      : command.action === 'rollback' && command.to !== undefined
        ? ` to v${command.to}`
        : '';
  return `${command.action} ${command.model}${target} by ${command.actor}`;
}

/** The Lambda entry point, one X-Ray subsegment per invocation. */
export const handler = traceInvocation(createOperatorHandler(lazy(() => createAwsContext(logger))));
