import { describe, expect, it } from 'vitest';
import { isPlainObject } from '../../../core/support/objects';

describe('isPlainObject', () => {
  it('accepts objects, refuses null, arrays and primitives', () => {
    expect(isPlainObject({})).toBe(true);
    expect(isPlainObject({ a: 1 })).toBe(true);
    expect(isPlainObject(JSON.parse('{"x":[1]}'))).toBe(true);
    for (const value of [null, undefined, [], [1], 'x', 1, true]) expect(isPlainObject(value)).toBe(false);
  });
});
