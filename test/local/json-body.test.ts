import { describe, expect, it } from 'vitest';
import { parseBodyFields } from '../../local/json-body';

describe('parseBodyFields', () => {
  it('reads an object with known fields; an empty body is an empty object', () => {
    expect(parseBodyFields('{"rule": "ingest"}', ['rule', 'id'])).toEqual({ rule: 'ingest' });
    expect(parseBodyFields('', ['rule'])).toEqual({});
  });

  it('names the first unknown field, unless the route takes any', () => {
    expect(parseBodyFields('{"rule": "x", "bogus": 1}', ['rule'])).toBe('unknown field bogus');
    expect(parseBodyFields('{"model": "churn", "any": 1}')).toEqual({ model: 'churn', any: 1 });
  });

  it('refuses what is not a JSON object', () => {
    expect(parseBodyFields('{nope', ['rule'])).toBe('the body is not JSON');
    for (const text of ['[]', '1', 'null', '"x"'])
      expect(parseBodyFields(text, ['rule'])).toBe('the body must be a JSON object');
  });
});
