/**
 * parseOperatorCommand: what the operator function and the control API accept, and for anything
 * else a sentence naming the field that is wrong (never an exception).
 */
import { describe, expect, it } from 'vitest';
import { parseOperatorCommand } from '../../../core/domain/operator-commands';

describe('parseOperatorCommand', () => {
  it('accepts each action with its fields, and drops nothing it knows', () => {
    expect(
      parseOperatorCommand({ action: 'approve', model: 'churn', version: 3, actor: 'a', note: 'ok' }),
    ).toEqual({
      action: 'approve',
      model: 'churn',
      version: 3,
      actor: 'a',
      note: 'ok',
    });
    expect(
      parseOperatorCommand({ action: 'reject', model: 'churn', version: 1, actor: 'a', reason: 'slow' }),
    ).toEqual({
      action: 'reject',
      model: 'churn',
      version: 1,
      actor: 'a',
      reason: 'slow',
    });
    expect(parseOperatorCommand({ action: 'rollback', model: 'churn', actor: 'a' })).toEqual({
      action: 'rollback',
      model: 'churn',
      actor: 'a',
    });
    expect(parseOperatorCommand({ action: 'rollback', model: 'churn', actor: 'a', to: 1 })).toMatchObject({
      to: 1,
    });
    expect(
      parseOperatorCommand({
        action: 'retrain',
        model: 'churn',
        actor: 'a',
        requestId: 'A-z_09',
        datasetId: 'd1',
      }),
    ).toEqual({ action: 'retrain', model: 'churn', actor: 'a', requestId: 'A-z_09', datasetId: 'd1' });
  });

  it('names the bad field', () => {
    const base = { action: 'approve', model: 'churn', version: 1, actor: 'a' };
    for (const [input, problem] of [
      [null, 'the command must be a JSON object'],
      [[base], 'the command must be a JSON object'],
      [{ ...base, action: 'delete' }, /^action: must be one of approve, reject, rollback, retrain$/],
      [{ ...base, model: 'Churn!' }, /^model: the model name "Churn!" must use only lowercase/],
      [{ ...base, model: 'x'.repeat(41) }, /^model: .*at most 40/],
      [{ ...base, model: 3 }, 'model: must be a string'],
      [{ ...base, actor: undefined }, 'actor: required'],
      [{ ...base, actor: ' ' }, 'actor: must be a non-empty string'],
      [{ ...base, version: undefined }, 'version: required'],
      [{ ...base, version: 0 }, /^version: must be a positive integer/],
      [{ ...base, version: 1.5 }, /^version: must be a positive integer/],
      [{ ...base, version: '2' }, /^version: must be a positive integer/],
      [{ ...base, action: 'reject' }, 'reason: required'],
      [{ action: 'rollback', model: 'churn', actor: 'a', to: -1 }, /^to: must be a positive integer/],
      [{ action: 'retrain', model: 'churn', actor: 'a' }, /^requestId: required/],
      [
        { action: 'retrain', model: 'churn', actor: 'a', requestId: 'x'.repeat(65) },
        /^requestId: required, 1 to 64/,
      ],
      [{ action: 'retrain', model: 'churn', actor: 'a', requestId: 'a b' }, /^requestId:/],
      [
        { action: 'retrain', model: 'churn', actor: 'a', requestId: 'r', datasetId: 7 },
        /^datasetId: must be/,
      ],
      [{ ...base, note: 'x'.repeat(1025) }, 'note: at most 1024 characters'],
    ] as const) {
      const answer = parseOperatorCommand(input);
      expect(typeof answer, JSON.stringify(input)).toBe('string');
      if (typeof problem === 'string') expect(answer).toBe(problem);
      else expect(answer).toMatch(problem);
    }
    // 64 characters is allowed.
    expect(
      parseOperatorCommand({ action: 'retrain', model: 'churn', actor: 'a', requestId: 'x'.repeat(64) }),
    ).toMatchObject({
      action: 'retrain',
    });
  });
});
