/**
 * CSV request bodies are read by the project's one CSV tokenizer (core/domain/csv.ts): quoted
 * fields, with commas, quotes or line breaks inside, are one field each.
 */
import { describe, expect, it } from 'vitest';
import { InvalidPayloadError, parseCsvRows } from '../../../local/inference/payload';

describe('parseCsvRows', () => {
  it('reads quoted numbers', () => {
    expect(parseCsvRows('"1","2.5",3\n4,"",""\n', 3)).toEqual([
      [1, 2.5, 3],
      [4, null, null],
    ]);
  });

  it('keeps a quoted comma inside its field (the field count is right, the value is not a number)', () => {
    // Split on every comma, this row had 4 fields instead of 3.
    expect(() => parseCsvRows('"1,5",2,3', 3)).toThrow(/row 1, column 1: "1,5" is not a number/);
  });

  it('reads a quoted line break as part of its field, numbering rows by the line they start on', () => {
    expect(() => parseCsvRows('1,2,3\n"a\nb",2,3\n', 3)).toThrow(/row 2, column 1: "a\nb" is not a number/);
    expect(() => parseCsvRows('1,2,3\n"1\n",2,3\n1,2\n', 3)).toThrow(/row 4 has 2 fields/);
  });

  it('skips blank lines and lines of spaces only', () => {
    expect(parseCsvRows('\n  \n1,2,3\n\n', 3)).toEqual([[1, 2, 3]]);
  });

  it('answers malformed CSV with an InvalidPayloadError naming the line', () => {
    expect(() => parseCsvRows('1,2,3\n1,2,"3', 3)).toThrow(InvalidPayloadError);
    expect(() => parseCsvRows('1,2,3\n1,2,"3', 3)).toThrow(/line 2: a quoted field is not closed/);
    expect(() => parseCsvRows('1,2"x",3', 3)).toThrow(/line 1: a quote/);
  });
});
