import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { DatasetProfile } from '../../../core/profiling/api';
import { ProfileInputError } from '../../../core/profiling/profiler';
import { readFile } from 'node:fs/promises';
import {
  formatOfPath,
  profileCsvRecords,
  profileParquet,
  profileStream,
} from '../../../core/profiling/readers';
import { chunks, encoder } from './helpers';

const csv = (text: string | Uint8Array, size?: number, options = {}) =>
  profileStream(chunks(text, size), 'csv', options);

/** The parts of a profile that must not depend on the reader or the chunking. */
function essentials(p: DatasetProfile) {
  return {
    rows: p.rows,
    columns: p.columns.map((c) => ({
      name: c.name,
      type: c.inferredType,
      present: c.present,
      missing: c.missing,
      distinct: c.distinct,
      top: c.topValues,
      mean: c.numeric?.mean,
      min: c.numeric?.min,
      max: c.numeric?.max,
    })),
  };
}

async function rejection(promise: Promise<unknown>): Promise<ProfileInputError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ProfileInputError);
    return error as ProfileInputError;
  }
  throw new Error('expected a ProfileInputError');
}

const ODD =
  '\uFEFFid,name,score\r\n1,"Smith, J",1.5\r\n2,"say ""hi""",2\r\n\r\n3,"two\r\nlines",\r\n4,élan,-1e2\r\n';

describe('CSV', () => {
  it('handles BOM, CRLF, quoted commas, escaped quotes, line breaks in quotes, blank lines', async () => {
    const p = await csv(ODD);
    expect(p.rows).toBe(4);
    expect(p.columns.map((c) => c.name)).toEqual(['id', 'name', 'score']);
    const [id, name, score] = p.columns;
    expect(id!.inferredType).toBe('Integral');
    expect(name!.inferredType).toBe('String');
    expect(name!.topValues.map((v) => v.value).sort()).toEqual(
      ['Smith, J', 'say "hi"', 'two\r\nlines', 'élan'].sort(),
    );
    expect(score).toMatchObject({ inferredType: 'Fractional', present: 3, missing: 1 });
    expect(score!.numeric!.min).toBe(-100);
  });

  it('gives the same profile whatever the chunking, and the same as the record-reader path', async () => {
    const whole = essentials(await csv(ODD));
    for (const size of [1, 2, 3, 7, 64]) expect(essentials(await csv(ODD, size))).toEqual(whole);
    const reference = (await profileCsvRecords(chunks(ODD, 5))).finish();
    expect(essentials(reference)).toEqual(whole);
  });

  it('parses numbers exactly as Number() does', async () => {
    const values = [
      '0.1',
      '123456.789',
      '-0.000123',
      '1e-7',
      '9007199254740993',
      '3.14159265358979323846',
      '2.5E+10',
      '.5',
      '7.',
    ];
    const p = await csv(`x\n${values.join('\n')}\n`);
    const expected = values.map(Number);
    expect(p.columns[0]!.numeric!.sum).toBe(expected.reduce((a, b) => a + b, 0));
    expect(p.columns[0]!.numeric!.min).toBe(Math.min(...expected));
    expect(p.columns[0]!.numeric!.max).toBe(Math.max(...expected));
  });

  it('a ragged row is an error naming its line', async () => {
    const e = await rejection(csv('a,b\n1,2\n3\n4,5\n'));
    expect(e.line).toBe(3);
    expect(e.message).toBe('line 3: 1 field, but the header has 2 columns');
    expect((await rejection(csv('a,b\n1,2,3\n'))).message).toContain('line 2: 3 fields');
  });

  it('an unterminated quote is an error naming the line where the field starts', async () => {
    const e = await rejection(csv('a,b\n1,2\n3,"open\nmore\n'));
    expect(e.message).toBe('line 3: a quoted field is not closed before the end of the file');
  });

  it('text after a closing quote, and a quote inside an unquoted field, are errors', async () => {
    expect((await rejection(csv('a\n"x"y\n'))).message).toContain('line 2: text after a closing quote');
    expect((await rejection(csv('a\nx"y\n'))).message).toContain(
      'line 2: a quote (") inside an unquoted field',
    );
  });

  it('bytes that are not UTF-8 are an error naming the line', async () => {
    const bytes = new Uint8Array([...encoder.encode('a\nok\nok\n'), 0xff, 0xfe, 10]);
    for (const size of [4, 1 << 16]) {
      const e = await rejection(csv(bytes, size));
      expect(e.message).toBe('line 4: the file is not valid UTF-8 text');
    }
  });

  it('duplicate column names are an error at line 1', async () => {
    expect((await rejection(csv('a,b,a\n1,2,3\n'))).message).toBe(
      'line 1: duplicate column name "a" (columns 1 and 3); column names must be unique',
    );
  });

  it('a header with no rows is a profile of 0 rows with Unknown columns; an empty file is an error', async () => {
    const p = await csv('a,b\r\n');
    expect(p.rows).toBe(0);
    expect(p.columns.map((c) => c.inferredType)).toEqual(['Unknown', 'Unknown']);
    expect((await rejection(csv(''))).message).toBe('line 1: the file is empty: no header row');
  });

  it('a single 10 MB field is an error by default (bounded memory), accepted when allowed', async () => {
    const big = 'x'.repeat(10_000_000);
    const text = `a,b\n1,${big}\n2,y\n`;
    const e = await rejection(csv(text, 1 << 16));
    expect(e.message).toBe('line 2: a field is longer than 1048576 characters');
    const quoted = await rejection(csv(`a,b\n1,"${big}"\n`, 1 << 16));
    expect(quoted.line).toBe(2);
    const p = await csv(text, 1 << 16, { maxFieldLength: 20_000_000 });
    expect(p.rows).toBe(2);
    expect(p.columns[1]!.present).toBe(2);
  });

  it('NaN and Infinity values: NaN is missing, Infinity makes the column String', async () => {
    const p = await csv('a,b\n1,NaN\n2,Infinity\n3,nan\n');
    expect(p.columns[1]).toMatchObject({ inferredType: 'String', present: 1, missing: 2 });
    expect(p.columns[0]!.numeric!.mean).toBe(2);
  });
});

describe('JSON lines', () => {
  const jsonl = (text: string) => profileStream(chunks(text, 5), 'jsonl');

  it('takes the union of keys in first-seen order; null is missing; nested values are JSON text', async () => {
    const p = await jsonl('{"a":1,"b":"x"}\n\n{"b":"y","c":{"d":[1,2]}}\r\n{"a":2.5,"c":null}');
    expect(p.rows).toBe(3);
    expect(p.columns.map((c) => [c.name, c.present, c.missing])).toEqual([
      ['a', 2, 1],
      ['b', 2, 1],
      ['c', 1, 2],
    ]);
    expect(p.columns[0]!.inferredType).toBe('Fractional');
    expect(p.columns[2]!.topValues[0]!.value).toBe('{"d":[1,2]}');
  });

  it('a malformed line, or one that is not an object, is an error naming the line', async () => {
    expect((await rejection(jsonl('{"a":1}\n{"a":\n'))).message).toMatch(/^line 2: not valid JSON/);
    expect((await rejection(jsonl('{"a":1}\n\n[1,2]\n'))).message).toBe(
      'line 3: a JSON-lines record must be an object ({"column": value, ...})',
    );
  });
});

describe('Parquet', () => {
  // fixtures/small.parquet: 50 rows in 3 row groups (20/20/10), written with hyparquet-writer
  // (id INT32 1..50, price DOUBLE (i%10)*1.5, city STRING with nulls every 7th row, active BOOLEAN).
  const fixture = join(import.meta.dirname, 'fixtures', 'small.parquet');

  it('reads every row group', async () => {
    const bytes = (await readFile(fixture)).buffer;
    const p = (
      await profileParquet({ byteLength: bytes.byteLength, slice: (start, end) => bytes.slice(start, end) })
    ).finish();
    expect(p.rows).toBe(50);
    const [id, price, city, active] = p.columns;
    expect(id).toMatchObject({ name: 'id', inferredType: 'Integral', present: 50 });
    expect(id!.numeric!.sum).toBe(1275);
    expect(price!.numeric!.max).toBe(13.5);
    expect(city).toMatchObject({ inferredType: 'String', missing: 8, present: 42 });
    expect(active!.inferredType).toBe('Boolean');
  });

  it('reads from a stream too (buffered), and a broken file is a clear error', async () => {
    const bytes = await readFile(fixture);
    expect((await profileStream(chunks(bytes, 100), 'parquet')).rows).toBe(50);
    const e = await rejection(profileStream(chunks('not parquet at all'), 'parquet'));
    expect(e.message).toMatch(/^not a readable Parquet file/);
  });
});

it('formatOfPath reads the extension', () => {
  expect(formatOfPath('a/b.CSV')).toBe('csv');
  expect(formatOfPath('x.ndjson')).toBe('jsonl');
  expect(formatOfPath('x.parquet')).toBe('parquet');
  expect(() => formatOfPath('x.xlsx')).toThrow(ProfileInputError);
});
