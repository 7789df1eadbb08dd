/**
 * Readers that feed the profiler: CSV (our streaming RFC 4180 reader), JSON lines and Parquet
 * (hyparquet, row group by row group). Where this stands: core profiling (no AWS SDK).
 *
 * Documented results on odd input (tests in test/core/profiling/readers.test.ts):
 * - CSV: the first record is the header; a BOM, CRLF, quoted fields are handled by
 *   `readCsvRecords`; a record with a different number of fields than the header, an unterminated
 *   quote, bytes that are not UTF-8 and a field longer than `maxFieldLength` (default 1 MiB) are
 *   a {@link ProfileInputError} naming the line; duplicate column names are an error at line 1;
 *   an empty file is an error ("no header row"); a header with no rows is a profile of 0 rows
 *   whose columns are Unknown.
 * - JSON lines: one object per line; keys are the columns, in first-seen order (a key first seen
 *   later is missing in the earlier records); `null` is missing; nested objects and arrays are
 *   profiled as their JSON text; blank lines are skipped; a line that is not JSON, or not an
 *   object, is an error naming the line.
 * - Parquet: the whole file is needed (the footer is at its end): from a path it is read row group
 *   by row group (memory: one row group); from a stream it is buffered first.
 */
import { extname } from 'node:path';
import { CsvSyntaxError, readCsvRecords } from '../domain/csv';
import type { DatasetProfile, ProfileFormat } from './api';
import { profileCsvBytes } from './csv-fast';
import { DatasetProfiler, ProfileInputError, type ProfilerOptions } from './profiler';
import { isPlainObject } from '../support/objects';

/** Options of the profile readers: the profiler's, and the CSV field limit. */
export interface ProfileReadOptions extends ProfilerOptions {
  /** Largest accepted CSV field, in characters. @default 1_048_576 */
  readonly maxFieldLength?: number;
  /** Largest accepted JSON line, in characters. @default 16_777_216 */
  readonly maxLineLength?: number;
}

/** Bytes as a stream yields them: a Node stream, a fetch body, an array of chunks. */
export type ByteSource = AsyncIterable<Uint8Array | string>;

/** The format a file name implies: `.csv`, `.jsonl`/`.ndjson`/`.json`, `.parquet`/`.pq`. */
export function formatOfPath(path: string): ProfileFormat {
  const ext = extname(path.endsWith('.gz') ? path.slice(0, -3) : path).toLowerCase();
  if (ext === '.csv' || ext === '.txt') return 'csv';
  if (ext === '.jsonl' || ext === '.ndjson' || ext === '.json') return 'jsonl';
  if (ext === '.parquet' || ext === '.pq') return 'parquet';
  throw new ProfileInputError(
    undefined,
    `cannot tell the format of "${path}" from its extension (use .csv, .jsonl or .parquet)`,
  );
}

/** Profiles a CSV stream through `readCsvRecords` (the reference path; slower, same results). */
export async function profileCsvRecords(
  source: ByteSource,
  options: ProfileReadOptions = {},
): Promise<DatasetProfiler> {
  let profiler: DatasetProfiler | undefined;
  let width = 0;
  try {
    for await (const batch of readCsvRecords(source, { maxFieldLength: options.maxFieldLength })) {
      let i = 0;
      if (!profiler) {
        const header = batch[0]!;
        profiler = new DatasetProfiler(header.fields, options);
        width = header.fields.length;
        i = 1;
      }
      for (; i < batch.length; i++) {
        const record = batch[i]!;
        if (record.fields.length !== width)
          throw new ProfileInputError(
            record.line,
            `${record.fields.length} field${record.fields.length === 1 ? '' : 's'}, but the header has ${width} columns`,
          );
        profiler.add(record.fields);
      }
    }
  } catch (error) {
    if (error instanceof CsvSyntaxError)
      throw new ProfileInputError(error.line, error.message.replace(/^line \d+: /, ''), { cause: error });
    throw error;
  }
  if (!profiler) throw new ProfileInputError(1, 'the file is empty: no header row');
  return profiler;
}

function textOf(value: unknown): string | undefined {
  if (value === null || value === undefined) return undefined;
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
      return Number.isNaN(value) ? undefined : String(value);
    case 'boolean':
    case 'bigint':
      return String(value);
    default:
      if (value instanceof Date) return value.toISOString();
      if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
      return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? String(v) : v));
  }
}

function addObject(profiler: DatasetProfiler, row: Record<string, unknown>): void {
  const fields: (string | undefined)[] = [];
  for (const key of Object.keys(row)) {
    const j = profiler.columnIndex(key) ?? profiler.addColumn(key);
    while (fields.length < j) fields.push(undefined);
    fields[j] = textOf(row[key]);
  }
  profiler.add(fields);
}

/** Profiles a JSON-lines byte stream. */
async function profileJsonLines(
  source: ByteSource,
  options: ProfileReadOptions = {},
): Promise<DatasetProfiler> {
  const profiler = new DatasetProfiler([], options);
  const maxLine = options.maxLineLength ?? 16_777_216;
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let pending = '';
  let line = 0;
  const handle = (text: string) => {
    line++;
    const trimmed = text.trim();
    if (trimmed === '') return;
    let value: unknown;
    try {
      value = JSON.parse(trimmed);
    } catch (error) {
      throw new ProfileInputError(line, `not valid JSON (${(error as Error).message})`, { cause: error });
    }
    if (!isPlainObject(value))
      throw new ProfileInputError(line, 'a JSON-lines record must be an object ({"column": value, ...})');
    addObject(profiler, value);
  };
  const consume = (text: string) => {
    let start = 0;
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
      const part = pending + text.slice(start, nl);
      pending = '';
      handle(part);
      start = nl + 1;
    }
    pending += text.slice(start);
    if (pending.length > maxLine)
      throw new ProfileInputError(line + 1, `a line is longer than ${maxLine} characters`);
  };
  for await (const chunk of source) {
    let text: string;
    try {
      text = typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    } catch (error) {
      throw new ProfileInputError(line + 1, 'the file is not valid UTF-8 text', { cause: error });
    }
    consume(text);
  }
  try {
    consume(decoder.decode());
  } catch (error) {
    if (error instanceof ProfileInputError) throw error;
    throw new ProfileInputError(line + 1, 'the file is not valid UTF-8 text', { cause: error });
  }
  if (pending !== '') handle(pending);
  return profiler;
}

/** A random-access byte source for Parquet (hyparquet's AsyncBuffer). */
export interface AsyncBuffer {
  byteLength: number;
  slice(start: number, end?: number): ArrayBuffer | Promise<ArrayBuffer>;
}

/** Profiles a Parquet file (row group by row group). */
export async function profileParquet(
  file: AsyncBuffer,
  options: ProfileReadOptions = {},
): Promise<DatasetProfiler> {
  const { parquetMetadataAsync, parquetReadObjects, parquetSchema } = await import('hyparquet');
  let metadata;
  try {
    metadata = await parquetMetadataAsync(file);
  } catch (error) {
    throw new ProfileInputError(undefined, `not a readable Parquet file (${(error as Error).message})`, {
      cause: error,
    });
  }
  const names = parquetSchema(metadata).children.map((c) => c.element.name);
  const profiler = new DatasetProfiler(names, options);
  let rowStart = 0;
  for (const group of metadata.row_groups) {
    const rowEnd = rowStart + Number(group.num_rows);
    const rows = await parquetReadObjects({ file, metadata, rowStart, rowEnd });
    for (const row of rows) addObject(profiler, row);
    rowStart = rowEnd;
  }
  return profiler;
}

async function bufferAll(source: ByteSource): Promise<AsyncBuffer> {
  const parts: Buffer[] = [];
  for await (const chunk of source)
    parts.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk));
  const all = Buffer.concat(parts);
  const bytes = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  return { byteLength: bytes.byteLength, slice: (start, end) => bytes.slice(start, end) };
}

/** Profiles a byte stream of the given format into a mergeable profiler. */
export async function profilerOfStream(
  source: ByteSource,
  format: ProfileFormat,
  options: ProfileReadOptions = {},
): Promise<DatasetProfiler> {
  switch (format) {
    case 'csv':
      return profileCsvBytes(source, options);
    case 'jsonl':
      return profileJsonLines(source, options);
    case 'parquet':
      return profileParquet(await bufferAll(source), options);
  }
}

/** Profiles a byte stream of the given format. */
export async function profileStream(
  source: ByteSource,
  format: ProfileFormat,
  options: ProfileReadOptions = {},
): Promise<DatasetProfile> {
  return (await profilerOfStream(source, format, options)).finish();
}
