/**
 * Reading an operator function's answer, and the exit code it means. Where this stands: CLI
 * target; the operator clients of both worlds share it.
 */
import type { OperatorResult } from '../../core/domain/operator-commands';
import { CliError, EXIT, type ExitCode } from '../command';
import { isPlainObject } from '../../core/support/objects';

/** Checks that an answer is an OperatorResult (`ok` true, or `ok` false with an error code and message). */
export function parseOperatorResult(answer: unknown, from: string): OperatorResult {
  if (isPlainObject(answer) && answer.ok === true && typeof answer.message === 'string')
    return answer as unknown as OperatorResult;
  if (
    isPlainObject(answer) &&
    answer.ok === false &&
    isPlainObject(answer.error) &&
    typeof answer.error.code === 'string' &&
    typeof answer.error.message === 'string'
  )
    return answer as unknown as OperatorResult;
  throw new CliError(`${from} answered something that is not an operator result: ${JSON.stringify(answer)}`);
}

/** The exit code of an operator result: 0 done, 2 malformed, 3 not found, 4 refused (state or regression), 1 failed. */
export function exitCodeOf(result: OperatorResult): ExitCode {
  if (result.ok) return EXIT.ok;
  switch (result.error.code) {
    case 'malformed':
      return EXIT.usage;
    case 'not-found':
      return EXIT.notFound;
    case 'conflict':
    case 'regression':
      return EXIT.refused;
    default:
      return EXIT.failure;
  }
}
