import { describe, expect, it } from 'vitest';
import { isPlainObject, parseJsonObject } from '../../../core/support/objects';

describe('isPlainObject', () => {
  it('accepts objects, refuses null, arrays and primitives', () => {
    expect(isPlainObject({})).toBe(true);
    expect(isPlainObject({ a: 1 })).toBe(true);
    expect(isPlainObject(JSON.parse('{"x":[1]}'))).toBe(true);
    for (const value of [null, undefined, [], [1], 'x', 1, true]) expect(isPlainObject(value)).toBe(false);
  });
});

describe('parseJsonObject', () => {
  it('reads a JSON object from a line, surrounding space allowed', () => {
    expect(parseJsonObject('  {"_aws": {"Timestamp": 1}, "n": 2}\n')).toEqual({
      _aws: { Timestamp: 1 },
      n: 2,
    });
  });

  it('is undefined for plain text, arrays, other JSON and broken JSON', () => {
    for (const line of ['START RequestId: 1', '[1,2]', '42', '"{}"', '{"a": 1', '{not json}', ''])
      expect(parseJsonObject(line)).toBeUndefined();
  });
});
