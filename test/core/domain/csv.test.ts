import { describe, expect, it } from 'vitest';
import {
  CsvSyntaxError,
  formatCsvField,
  parseCsv,
  readCsvRecords,
  type CsvReadOptions,
  type CsvRecord,
} from '../../../core/domain/csv';

const encoder = new TextEncoder();
const bytes = (text: string): Uint8Array => encoder.encode(text);

// A stream, as readCsvRecords takes it, of chunks at hand: nothing to await.
// eslint-disable-next-line @typescript-eslint/require-await
async function* fromChunks(chunks: Iterable<Uint8Array | string>): AsyncGenerator<Uint8Array | string> {
  for (const chunk of chunks) yield chunk;
}

/** Splits bytes into chunks of `size` bytes (the last one shorter). */
function chunksOf(data: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < data.length; i += size) out.push(data.subarray(i, i + size));
  return out;
}

async function readAll(
  source: AsyncIterable<Uint8Array | string>,
  options?: CsvReadOptions,
): Promise<CsvRecord[]> {
  const records: CsvRecord[] = [];
  for await (const batch of readCsvRecords(source, options)) records.push(...batch);
  return records;
}

/** Reads one whole text (as bytes, in one chunk). */
const parse = (text: string, options?: CsvReadOptions) => readAll(fromChunks([bytes(text)]), options);
const fields = async (text: string) => (await parse(text)).map((record) => record.fields);

async function readError(
  source: AsyncIterable<Uint8Array | string>,
  options?: CsvReadOptions,
): Promise<CsvSyntaxError> {
  try {
    await readAll(source, options);
  } catch (error) {
    expect(error).toBeInstanceOf(CsvSyntaxError);
    return error as CsvSyntaxError;
  }
  throw new Error('expected a CsvSyntaxError, but the input parsed');
}
const parseError = (text: string, options?: CsvReadOptions) => readError(fromChunks([bytes(text)]), options);

describe('readCsvRecords: records and fields', () => {
  it('reads simple records with their line numbers', async () => {
    expect(await parse('a,b,c\n1,2,3\n4,5,6\n')).toEqual([
      { line: 1, fields: ['a', 'b', 'c'] },
      { line: 2, fields: ['1', '2', '3'] },
      { line: 3, fields: ['4', '5', '6'] },
    ]);
  });

  it('reads the last record whether or not the file ends with a line break', async () => {
    expect(await fields('a,b\n1,2')).toEqual([
      ['a', 'b'],
      ['1', '2'],
    ]);
    expect(await fields('a,b\n1,2\n')).toEqual([
      ['a', 'b'],
      ['1', '2'],
    ]);
    expect(await fields('a,b\r\n1,2\r\n')).toEqual([
      ['a', 'b'],
      ['1', '2'],
    ]);
  });

  it('reads CRLF, LF and mixed line ends alike', async () => {
    const expected = [
      ['a', 'b'],
      ['1', '2'],
      ['3', '4'],
    ];
    expect(await fields('a,b\r\n1,2\r\n3,4\r\n')).toEqual(expected);
    expect(await fields('a,b\n1,2\n3,4\n')).toEqual(expected);
    expect(await fields('a,b\r\n1,2\n3,4')).toEqual(expected);
    expect((await parse('a,b\r\n1,2\r\n3,4')).map((r) => r.line)).toEqual([1, 2, 3]);
  });

  it('keeps empty fields, including a trailing one', async () => {
    expect(await fields('a,b,\n,,\n,x,\n')).toEqual([
      ['a', 'b', ''],
      ['', '', ''],
      ['', 'x', ''],
    ]);
    expect(await fields('a,b,')).toEqual([['a', 'b', '']]);
    expect(await fields('a,b,\r\n')).toEqual([['a', 'b', '']]);
    expect(await fields(',')).toEqual([['', '']]);
  });

  it('reads quoted fields with commas, doubled quotes and line breaks', async () => {
    const records = await parse(
      'id,text,n\n1,"a, b",2\n2,"say ""hi""",3\n3,"two\nlines",4\n4,"crlf\r\ninside",5\n5,"",6\n6,"""",7\n',
    );
    expect(records.map((r) => r.fields)).toEqual([
      ['id', 'text', 'n'],
      ['1', 'a, b', '2'],
      ['2', 'say "hi"', '3'],
      ['3', 'two\nlines', '4'],
      ['4', 'crlf\r\ninside', '5'],
      ['5', '', '6'],
      ['6', '"', '7'],
    ]);
  });

  it('reads a quoted field at the end of a line and of the file', async () => {
    expect(await fields('"a","b"\r\n"c","d"')).toEqual([
      ['a', 'b'],
      ['c', 'd'],
    ]);
    expect(await fields('x,"y"\n')).toEqual([['x', 'y']]);
  });

  it('keeps spaces around unquoted fields as data', async () => {
    expect(await fields(' a , b \n')).toEqual([[' a ', ' b ']]);
  });

  it('numbers the records after multi-line quoted fields by the line they start on', async () => {
    const records = await parse('h1,h2\n"one\ntwo\nthree",x\nnext,y\n"a\r\nb",z\r\nlast,w\n');
    expect(records.map((r) => [r.line, r.fields[1]])).toEqual([
      [1, 'h2'],
      [2, 'x'],
      [5, 'y'],
      [6, 'z'],
      [8, 'w'],
    ]);
  });

  it('skips blank lines, keeping the line numbers of the file', async () => {
    const records = await parse('\na,b\n\n\r\n1,2\n\n3,4\n\n');
    expect(records).toEqual([
      { line: 2, fields: ['a', 'b'] },
      { line: 5, fields: ['1', '2'] },
      { line: 7, fields: ['3', '4'] },
    ]);
  });

  it('reads nothing from an empty file or a file of blank lines', async () => {
    expect(await parse('')).toEqual([]);
    expect(await parse('\n\r\n\n')).toEqual([]);
    expect(await readAll(fromChunks([]))).toEqual([]);
  });

  it('strips a UTF-8 byte-order mark from the first field', async () => {
    expect(await fields('\uFEFFlabel,x\n1,2\n')).toEqual([
      ['label', 'x'],
      ['1', '2'],
    ]);
    const raw = new Uint8Array([0xef, 0xbb, 0xbf, ...bytes('"label",x\n')]);
    expect((await readAll(fromChunks([raw]))).map((r) => r.fields)).toEqual([['label', 'x']]);
  });

  it('decodes multi-byte UTF-8 text', async () => {
    expect(await fields('name,city\nJosé,Zürich €\n😀,"東京, 日本"\n')).toEqual([
      ['name', 'city'],
      ['José', 'Zürich €'],
      ['😀', '東京, 日本'],
    ]);
  });

  it('accepts string chunks as well as bytes', async () => {
    expect((await readAll(fromChunks(['a,"b', '""c",d\n1', ',2,3']))).map((r) => r.fields)).toEqual([
      ['a', 'b"c', 'd'],
      ['1', '2', '3'],
    ]);
  });
});

describe('readCsvRecords: chunk boundaries', () => {
  // Every tricky construct: a BOM, multi-byte characters (2, 3 and 4 bytes), CRLF line ends,
  // quoted commas, doubled quotes, embedded LF and CRLF, blank lines, a trailing empty field.
  const input =
    '\uFEFFid,name,note\r\n1,"Zoë, the ""best""",ok\r\n\r\n2,"multi\r\nline\nfield",€\r\n3,😀,\r\n4,"",""""\r\n5,東京,"a,b"\r\n6,x,y';
  const expected: CsvRecord[] = [
    { line: 1, fields: ['id', 'name', 'note'] },
    { line: 2, fields: ['1', 'Zoë, the "best"', 'ok'] },
    { line: 4, fields: ['2', 'multi\r\nline\nfield', '€'] },
    { line: 7, fields: ['3', '😀', ''] },
    { line: 8, fields: ['4', '', '"'] },
    { line: 9, fields: ['5', '東京', 'a,b'] },
    { line: 10, fields: ['6', 'x', 'y'] },
  ];
  const data = bytes(input);

  it('parses the input read in one chunk', async () => {
    expect(await readAll(fromChunks([data]))).toEqual(expected);
  });

  it('gives identical records for chunks of every size from 1 byte to the whole input', async () => {
    for (let size = 1; size <= data.length; size++) {
      const records = await readAll(fromChunks(chunksOf(data, size)));
      expect(records, `chunks of ${size} bytes`).toEqual(expected);
    }
  });

  it('gives identical records when split in two at every byte position', async () => {
    for (let at = 0; at <= data.length; at++) {
      const records = await readAll(fromChunks([data.subarray(0, at), data.subarray(at)]));
      expect(records, `split at byte ${at}`).toEqual(expected);
    }
  });

  it('gives identical records when split in three at every pair of positions in a tricky region', async () => {
    // The region holding `""` pairs, CRLFs and a 4-byte character.
    const start = data.indexOf(0x22); // first quote
    const end = Math.min(data.length, start + 40);
    for (let a = start; a <= end; a++) {
      for (let b = a; b <= end; b++) {
        const records = await readAll(
          fromChunks([data.subarray(0, a), data.subarray(a, b), data.subarray(b)]),
        );
        expect(records, `split at ${a} and ${b}`).toEqual(expected);
      }
    }
  });

  it('gives identical records for string chunks of every size', async () => {
    const text = input.slice(1); // a decoded string carries no BOM
    for (let size = 1; size <= text.length; size++) {
      const parts: string[] = [];
      for (let i = 0; i < text.length; i += size) parts.push(text.slice(i, i + size));
      expect(await readAll(fromChunks(parts)), `string chunks of ${size}`).toEqual(expected);
    }
  });

  it('handles specific splits: inside a multi-byte character, between CR and LF, between two quotes', async () => {
    const euro = bytes('a,€\n'); // € is e2 82 ac
    expect(
      (await readAll(fromChunks([euro.subarray(0, 3), euro.subarray(3, 4), euro.subarray(4)]))).map(
        (r) => r.fields,
      ),
    ).toEqual([['a', '€']]);

    const crlf = bytes('a,b\r\nc,d\r\n');
    const records = await readAll(fromChunks([crlf.subarray(0, 4), crlf.subarray(4)]));
    expect(records).toEqual([
      { line: 1, fields: ['a', 'b'] },
      { line: 2, fields: ['c', 'd'] },
    ]);

    const quotes = bytes('"x""y"\n');
    expect(
      (await readAll(fromChunks([quotes.subarray(0, 3), quotes.subarray(3)]))).map((r) => r.fields),
    ).toEqual([['x"y']]);

    const quotedCrlf = bytes('"p\r\nq",r\ns,t\n');
    const split = await readAll(fromChunks([quotedCrlf.subarray(0, 3), quotedCrlf.subarray(3)]));
    expect(split).toEqual([
      { line: 1, fields: ['p\r\nq', 'r'] },
      { line: 3, fields: ['s', 't'] },
    ]);
  });

  it('handles a BOM split across chunks', async () => {
    const data = new Uint8Array([0xef, 0xbb, 0xbf, ...bytes('a,b\n')]);
    const records = await readAll(
      fromChunks([data.subarray(0, 1), data.subarray(1, 2), data.subarray(2, 4), data.subarray(4)]),
    );
    expect(records).toEqual([{ line: 1, fields: ['a', 'b'] }]);
  });

  it('ignores empty chunks', async () => {
    const records = await readAll(
      fromChunks([new Uint8Array(0), bytes('a,'), '', new Uint8Array(0), bytes('b\n')]),
    );
    expect(records).toEqual([{ line: 1, fields: ['a', 'b'] }]);
  });
});

describe('parseCsv: the same tokenizer on text held in memory', () => {
  it('gives the records the stream reader gives, on every tricky construct', async () => {
    const input =
      '\uFEFFid,name,note\r\n1,"Zoë, the ""best""",ok\r\n\r\n2,"multi\r\nline\nfield",€\r\n3,😀,\r\n4,"",""""\r\n5,東京,"a,b"\r\n6,x,y';
    // A string keeps its byte-order mark (only the byte decoder strips it): compare without it.
    expect(parseCsv(input.slice(1))).toEqual(await readAll(fromChunks([bytes(input)])));
  });

  it('splits a quoted comma as one field', () => {
    expect(parseCsv('1,"a,b",3\n')).toEqual([{ line: 1, fields: ['1', 'a,b', '3'] }]);
  });

  it('throws the same errors, naming the line', () => {
    expect(() => parseCsv('a\nb"c\n')).toThrow(CsvSyntaxError);
    expect(() => parseCsv('a\nb"c\n')).toThrow(/^line 2: a quote/);
    expect(() => parseCsv('a\n"open')).toThrow(/^line 2: a quoted field is not closed/);
    expect(() => parseCsv('abcdef', { maxFieldLength: 5 })).toThrow(/longer than 5 characters/);
  });
});

describe('readCsvRecords: malformed input', () => {
  it('refuses a quote inside an unquoted field, naming the line', async () => {
    const error = await parseError('a,b\n1,x"y,3\n');
    expect(error.line).toBe(2);
    expect(error.message).toMatch(/^line 2: /);
    expect(error.message).toContain('quote');
    expect(error.name).toBe('CsvSyntaxError');
  });

  it('refuses text after a closing quote, naming the line', async () => {
    const error = await parseError('a,b\nc,d\n"x"y,1\n');
    expect(error.line).toBe(3);
    expect(error.message).toMatch(/^line 3: .*closing quote/);
  });

  it('names the line of the problem after a multi-line quoted field', async () => {
    const error = await parseError('a,b\n"one\ntwo"z,1\n');
    expect(error.line).toBe(3);
  });

  it('refuses a quote that is not closed before the end of the file, naming the line it opens on', async () => {
    const error = await parseError('a,b\n1,2\n3,"unclosed\nmore\n');
    expect(error.line).toBe(3);
    expect(error.message).toMatch(/^line 3: .*not closed/);
  });

  it('refuses bytes that are not UTF-8', async () => {
    const data = new Uint8Array([...bytes('a,b\n'), 0xff, ...bytes(',1\n')]);
    const error = await readError(fromChunks(chunksOf(data, 4)));
    expect(error.line).toBe(2);
    expect(error.message).toMatch(/^line 2: .*UTF-8/);
  });

  it('names the line of the invalid byte when the whole file is one chunk', async () => {
    const data = new Uint8Array([...bytes('a,b\n1,2\n'), 0xff, ...bytes(',1\n')]);
    const error = await readError(fromChunks([data]));
    expect(error.line).toBe(3);
  });

  it('refuses a multi-byte character cut off at the end of the file', async () => {
    const data = bytes('a,b\n1,€');
    const error = await readError(fromChunks([data.subarray(0, data.length - 1)]));
    expect(error).toBeInstanceOf(CsvSyntaxError);
    expect(error.message).toContain('UTF-8');
  });

  it('accepts a field of exactly maxFieldLength and refuses a longer one', async () => {
    expect(await parse('abcde,x\n', { maxFieldLength: 5 })).toEqual([{ line: 1, fields: ['abcde', 'x'] }]);
    expect(await parse('"ab,de",x\n', { maxFieldLength: 5 })).toEqual([{ line: 1, fields: ['ab,de', 'x'] }]);
    const error = await parseError('ok\nabcdef,x\n', { maxFieldLength: 5 });
    expect(error.line).toBe(2);
    expect(error.message).toMatch(/^line 2: .*longer than 5/);
    const quoted = await parseError('ok\n"ab\ncdef"\n', { maxFieldLength: 5 });
    expect(quoted.line).toBe(2);
  });

  it('checks the limit on a field built across many chunks', async () => {
    const error = await readError(fromChunks(chunksOf(bytes('a,' + 'x'.repeat(100) + '\n'), 7)), {
      maxFieldLength: 50,
    });
    expect(error.line).toBe(1);
  });

  it('counts escaped quotes towards the field limit', async () => {
    // 10 characters of data (ten `"`), limit 5.
    const error = await parseError(`"${'""'.repeat(10)}"\n`, { maxFieldLength: 5 });
    expect(error.line).toBe(1);
  });

  it('refuses a 10 MB field with the default limit of 1 MiB, naming the line', async () => {
    const error = await parseError('a,b\n1,' + 'x'.repeat(10 * 1024 * 1024) + '\n');
    expect(error.line).toBe(2);
    expect(error.message).toContain('1048576');
  });

  it('stops early on an endless stream with no line break instead of buffering it', async () => {
    let pulled = 0;
    const chunk = bytes('y'.repeat(64 * 1024));
    // Chunks made on demand, counted as the reader pulls them: nothing to await.
    // eslint-disable-next-line @typescript-eslint/require-await
    async function* endless(): AsyncGenerator<Uint8Array> {
      for (;;) {
        pulled++;
        yield chunk;
      }
    }
    const error = await readError(endless());
    expect(error.line).toBe(1);
    // 1 MiB in 64 KiB chunks: the reader gives up after about 17 chunks.
    expect(pulled).toBeLessThanOrEqual(20);
  });

  it('reads a 10 MB field when the limit is raised', async () => {
    const big = 'z'.repeat(10 * 1024 * 1024);
    const data = bytes(`h1,h2,h3\n1,${big},2\n3,"${big}",4\n`);
    const records = await readAll(fromChunks(chunksOf(data, 64 * 1024)), {
      maxFieldLength: 16 * 1024 * 1024,
    });
    expect(records).toHaveLength(3);
    expect(records[1]!.fields[1]!.length).toBe(big.length);
    expect(records[1]!.fields[2]).toBe('2');
    expect(records[2]).toMatchObject({ line: 3 });
    expect(records[2]!.fields[1] === big).toBe(true);
  });
});

describe('readCsvRecords: large input', () => {
  it('reads 200 000 rows with the right count and line numbers', async () => {
    const rows = 200_000;
    // Rows made on demand, so the input is never whole in memory: nothing to await.
    // eslint-disable-next-line @typescript-eslint/require-await
    async function* source(): AsyncGenerator<Uint8Array> {
      yield bytes('label,f1,f2\n');
      let text = '';
      for (let i = 0; i < rows; i++) {
        text += `${i % 2},${i},"v ${i}"\n`;
        if (text.length > 60_000) {
          yield bytes(text);
          text = '';
        }
      }
      if (text) yield bytes(text);
    }
    let count = 0;
    let batches = 0;
    let last: CsvRecord | undefined;
    for await (const batch of readCsvRecords(source())) {
      batches++;
      count += batch.length;
      last = batch[batch.length - 1];
    }
    expect(count).toBe(rows + 1);
    expect(batches).toBeGreaterThan(1);
    expect(last).toEqual({
      line: rows + 1,
      fields: [String((rows - 1) % 2), String(rows - 1), `v ${rows - 1}`],
    });
  });
});

describe('formatCsvField', () => {
  it('leaves plain fields as they are', () => {
    expect(formatCsvField('abc')).toBe('abc');
    expect(formatCsvField('')).toBe('');
    expect(formatCsvField(' 1.5 ')).toBe(' 1.5 ');
  });

  it('quotes fields with commas, quotes or line breaks, doubling the quotes', () => {
    expect(formatCsvField('a,b')).toBe('"a,b"');
    expect(formatCsvField('say "hi"')).toBe('"say ""hi"""');
    expect(formatCsvField('a\nb')).toBe('"a\nb"');
    expect(formatCsvField('a\r\nb')).toBe('"a\r\nb"');
  });

  it('round-trips through the reader', async () => {
    const values = ['plain', 'a,b', '"', 'x""y', 'line\nbreak', 'cr\r\nlf', '', 'é€😀'];
    const text = values.map(formatCsvField).join(',') + '\n';
    expect(await fields(text)).toEqual([values]);
  });
});
