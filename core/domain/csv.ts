/**
 * A streaming RFC 4180 CSV reader. Where this stands: core domain; ingest reads datasets with it in
 * one pass, in bounded memory, whatever the file size.
 *
 * Handles a UTF-8 byte-order mark, CRLF and LF line ends, quoted fields with embedded commas,
 * quotes (`""`) and line breaks. Malformed input is an error naming the line: a quote inside an
 * unquoted field, text after a closing quote, an unterminated quote at end of file, bytes that are
 * not UTF-8, or a single field larger than the limit.
 */

/** A parsed record with the 1-based line number it starts on. */
export interface CsvRecord {
  readonly line: number;
  readonly fields: string[];
}

/** Malformed CSV, with the line where the problem is. */
export class CsvSyntaxError extends Error {
  override readonly name = 'CsvSyntaxError';
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`line ${line}: ${message}`);
  }
}

export interface CsvReadOptions {
  /** Largest accepted field, in characters (protects memory from a file with no line breaks). @default 1_048_576 */
  readonly maxFieldLength?: number;
}

/**
 * Reads CSV records from a stream of bytes. Blank lines are skipped. Yields records in arrays to
 * keep per-record overhead low on large files.
 */
export async function* readCsvRecords(
  source: AsyncIterable<Uint8Array | string>,
  options: CsvReadOptions = {},
): AsyncGenerator<CsvRecord[]> {
  const maxField = options.maxFieldLength ?? 1_048_576;
  const decoder = new TextDecoder('utf-8', { fatal: true });
  // Parser state, kept across chunks so that any chunk boundary is fine.
  const enum State {
    FieldStart,
    Unquoted,
    Quoted,
    QuoteInQuoted, // saw `"` inside a quoted field: `""` (escaped) or the closing quote
  }
  let state = State.FieldStart;
  let line = 1;
  let recordLine = 1;
  let skipLf = false; // the previous character was CR: an LF right after it ends nothing
  let quotedCr = false; // the previous character, inside quotes, was CR
  let fields: string[] = [];
  let field = '';
  let batch: CsvRecord[] = [];

  const endRecord = () => {
    fields.push(field);
    field = '';
    // A blank line is a single empty field: skip it.
    if (!(fields.length === 1 && fields[0] === '')) batch.push({ line: recordLine, fields });
    fields = [];
    state = State.FieldStart;
  };

  const consume = (text: string) => {
    let runStart = -1; // start of a plain run not yet appended to `field`
    const flushRun = (end: number) => {
      if (runStart >= 0) {
        field += text.slice(runStart, end);
        runStart = -1;
        if (field.length > maxField)
          throw new CsvSyntaxError(recordLine, `a field is longer than ${maxField} characters`);
      }
    };
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (skipLf) {
        skipLf = false;
        if (c === 10) continue;
      }
      switch (state) {
        case State.Quoted:
          if (c === 34) {
            flushRun(i);
            quotedCr = false;
            state = State.QuoteInQuoted;
          } else {
            // A line break inside quotes is data, but still counts as a line for error messages.
            if (c === 13 || (c === 10 && !quotedCr)) line++;
            quotedCr = c === 13;
            if (runStart < 0) runStart = i;
          }
          continue;
        case State.QuoteInQuoted:
          if (c === 34) {
            field += '"';
            if (field.length > maxField)
              throw new CsvSyntaxError(recordLine, `a field is longer than ${maxField} characters`);
            state = State.Quoted;
            continue;
          }
          if (c !== 44 && c !== 10 && c !== 13) {
            throw new CsvSyntaxError(
              line,
              'text after a closing quote; a quoted field must end at a comma or line end',
            );
          }
          break; // a delimiter: handled below as in an unquoted field
        case State.FieldStart:
          if (c === 34) {
            state = State.Quoted;
            continue;
          }
          break;
        case State.Unquoted:
          if (c === 34) {
            throw new CsvSyntaxError(
              line,
              'a quote (") inside an unquoted field; quote the whole field and double the quotes inside it',
            );
          }
          break;
      }
      // Unquoted context (FieldStart, Unquoted, or right after a closing quote).
      if (c === 44) {
        flushRun(i);
        fields.push(field);
        field = '';
        state = State.FieldStart;
      } else if (c === 10 || c === 13) {
        flushRun(i);
        endRecord();
        if (c === 13) skipLf = true;
        line++;
        recordLine = line;
      } else {
        if (runStart < 0) runStart = i;
        state = State.Unquoted;
      }
    }
    flushRun(text.length);
  };

  for await (const chunk of source) {
    let text: string;
    try {
      text = typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    } catch {
      throw new CsvSyntaxError(
        line + linesBeforeInvalidByte(chunk as Uint8Array),
        'the file is not valid UTF-8 text',
      );
    }
    consume(text);
    if (batch.length > 0) {
      yield batch;
      batch = [];
    }
  }
  let tail: string;
  try {
    tail = decoder.decode();
  } catch {
    throw new CsvSyntaxError(line, 'the file is not valid UTF-8 text');
  }
  consume(tail);
  if ((state as State) === State.Quoted)
    throw new CsvSyntaxError(recordLine, 'a quoted field is not closed before the end of the file');
  if ((state as State) !== State.FieldStart || fields.length > 0) endRecord();
  if (batch.length > 0) yield batch;
}

/** Line breaks in a chunk before its first byte that is not UTF-8 (to name the line of the error). */
export function linesBeforeInvalidByte(chunk: Uint8Array): number {
  const text = new TextDecoder('utf-8', { fatal: false }).decode(chunk);
  const bad = text.indexOf('\uFFFD');
  const head = bad < 0 ? text : text.slice(0, bad);
  let lines = 0;
  for (let i = 0; i < head.length; i++) if (head.charCodeAt(i) === 10) lines++;
  return lines;
}

/** Formats one field for CSV output, quoting only when needed. */
export function formatCsvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}
