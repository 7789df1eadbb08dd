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

/** Limits of {@link readCsvRecords} and {@link parseCsv}. */
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
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const tokenizer = new CsvTokenizer(options);
  for await (const chunk of source) {
    let text: string;
    try {
      text = typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    } catch {
      throw new CsvSyntaxError(
        tokenizer.line + linesBeforeInvalidByte(chunk as Uint8Array),
        'the file is not valid UTF-8 text',
      );
    }
    tokenizer.push(text);
    const batch = tokenizer.take();
    if (batch.length > 0) yield batch;
  }
  let tail: string;
  try {
    tail = decoder.decode();
  } catch {
    throw new CsvSyntaxError(tokenizer.line, 'the file is not valid UTF-8 text');
  }
  tokenizer.push(tail);
  tokenizer.end();
  const batch = tokenizer.take();
  if (batch.length > 0) yield batch;
}

/**
 * Parses CSV text held whole in memory (a request body, a captured payload, a small file) with the
 * same rules and errors as {@link readCsvRecords}. @throws CsvSyntaxError naming the line.
 */
export function parseCsv(text: string, options: CsvReadOptions = {}): CsvRecord[] {
  const tokenizer = new CsvTokenizer(options);
  tokenizer.push(text);
  tokenizer.end();
  return tokenizer.take();
}

// Parser states, kept across pushes so that any chunk boundary is fine.
const enum State {
  FieldStart,
  Unquoted,
  Quoted,
  QuoteInQuoted, // saw `"` inside a quoted field: `""` (escaped) or the closing quote
}

/**
 * The one RFC 4180 tokenizer: text in (in pieces cut anywhere), records out. Both
 * {@link readCsvRecords} and {@link parseCsv} run on it, so every CSV reader of the project splits
 * fields the same way.
 */
class CsvTokenizer {
  /** The line the parser has reached (1-based), for error messages. */
  line = 1;
  private readonly maxField: number;
  private state = State.FieldStart;
  private recordLine = 1;
  private skipLf = false; // the previous character was CR: an LF right after it ends nothing
  private quotedCr = false; // the previous character, inside quotes, was CR
  private fields: string[] = [];
  private field = '';
  private batch: CsvRecord[] = [];

  constructor(options: CsvReadOptions) {
    this.maxField = options.maxFieldLength ?? 1_048_576;
  }

  /** Records completed so far (and not taken yet). */
  take(): CsvRecord[] {
    const batch = this.batch;
    this.batch = [];
    return batch;
  }

  /** No more text: ends the last record (which may lack its line break), or throws on an open quote. */
  end(): void {
    if (this.state === State.Quoted)
      throw new CsvSyntaxError(this.recordLine, 'a quoted field is not closed before the end of the file');
    if (this.state !== State.FieldStart || this.fields.length > 0) this.endRecord();
  }

  private endRecord(): void {
    this.fields.push(this.field);
    this.field = '';
    // A blank line is a single empty field: skip it.
    if (!(this.fields.length === 1 && this.fields[0] === ''))
      this.batch.push({ line: this.recordLine, fields: this.fields });
    this.fields = [];
    this.state = State.FieldStart;
  }

  private tooLong(): CsvSyntaxError {
    return new CsvSyntaxError(this.recordLine, `a field is longer than ${this.maxField} characters`);
  }

  /** Parses a piece of text. The hot loop keeps its state in locals and stores it back at the end. */
  push(text: string): void {
    const { maxField } = this;
    let { state, line, skipLf, quotedCr, field } = this;
    let runStart = -1; // start of a plain run not yet appended to `field`
    const flushRun = (end: number) => {
      if (runStart >= 0) {
        field += text.slice(runStart, end);
        runStart = -1;
        if (field.length > maxField) throw this.tooLong();
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
            if (field.length > maxField) throw this.tooLong();
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
        this.fields.push(field);
        field = '';
        state = State.FieldStart;
      } else if (c === 10 || c === 13) {
        flushRun(i);
        this.field = field;
        this.endRecord();
        field = '';
        state = State.FieldStart;
        if (c === 13) skipLf = true;
        line++;
        this.recordLine = line;
      } else {
        if (runStart < 0) runStart = i;
        state = State.Unquoted;
      }
    }
    flushRun(text.length);
    this.state = state;
    this.line = line;
    this.skipLf = skipLf;
    this.quotedCr = quotedCr;
    this.field = field;
  }
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
