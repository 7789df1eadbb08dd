/**
 * Request and response bodies of a local inference server, in the formats SageMaker's built-in
 * algorithms use ("Common Data Formats for Inference"): CSV rows of features without a header, or
 * JSON (`{"instances": [[...], ...]}`, `{"instances": [{"features": [...]}]}` or an array of
 * arrays). Where this stands: local runtime (the local cloud's SageMaker hosting).
 */
import { CsvSyntaxError, parseCsv, type CsvRecord } from '../../core/domain/csv';
import { isPlainObject } from '../../core/support/objects';

/** A row of features; null = missing value. */
export type FeatureRow = (number | null)[];

/** A request the model cannot read: answered with HTTP 400 and this message. */
export class InvalidPayloadError extends Error {
  override readonly name = 'InvalidPayloadError';
}

/** The media type of a Content-Type/Accept value, lower-cased, without its parameters. */
export function mediaType(header: string | undefined): string {
  return (header ?? '').split(';')[0]!.trim().toLowerCase();
}

/**
 * Rows from a CSV body: one row per record, no header, read by the project's one CSV tokenizer
 * (core/domain/csv.ts: quoted fields may hold commas, quotes and line breaks); blank lines are
 * skipped. Empty fields (and `nan`) are missing values. Rows are numbered by the line they start on.
 */
export function parseCsvRows(text: string, featureCount: number): FeatureRow[] {
  const rows: FeatureRow[] = [];
  let records: CsvRecord[];
  try {
    records = parseCsv(text);
  } catch (error) {
    if (error instanceof CsvSyntaxError)
      throw new InvalidPayloadError(`the CSV body is malformed: ${error.message}`);
    throw error;
  }
  for (const { line: rowNumber, fields } of records) {
    if (fields.length === 1 && fields[0]!.trim() === '') continue; // a line of spaces only
    if (fields.length !== featureCount) {
      throw new InvalidPayloadError(
        `row ${rowNumber} has ${fields.length} field${fields.length === 1 ? '' : 's'}; the model expects ${featureCount} features (no label, no header)`,
      );
    }
    rows.push(fields.map((field, column) => parseNumber(field, rowNumber, column + 1)));
  }
  if (rows.length === 0) throw new InvalidPayloadError('the request has no rows');
  return rows;
}

/** Rows from a JSON body (see the formats above). */
export function parseJsonRows(text: string, featureCount: number): FeatureRow[] {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new InvalidPayloadError(`the body is not valid JSON: ${(error as Error).message}`);
  }
  let instances: unknown;
  if (Array.isArray(document)) {
    // A single flat row ([1, 2, 3]) or rows ([[1, 2, 3], ...]).
    instances = document.length > 0 && !document.some(Array.isArray) ? [document] : document;
  } else if (isPlainObject(document) && 'instances' in document) {
    instances = document.instances;
  } else {
    throw new InvalidPayloadError('expected {"instances": [[...], ...]} or an array of rows');
  }
  if (!Array.isArray(instances)) throw new InvalidPayloadError('"instances" must be an array of rows');
  if (instances.length === 0) throw new InvalidPayloadError('the request has no rows');
  return instances.map((instance: unknown, index) => {
    const rowNumber = index + 1;
    const values = isPlainObject(instance) && 'features' in instance ? instance.features : instance;
    if (!Array.isArray(values)) throw new InvalidPayloadError(`row ${rowNumber} is not an array of features`);
    if (values.length !== featureCount) {
      throw new InvalidPayloadError(
        `row ${rowNumber} has ${values.length} value${values.length === 1 ? '' : 's'}; the model expects ${featureCount} features`,
      );
    }
    return values.map((value: unknown, column) => {
      if (value === null) return null;
      if (typeof value === 'number' && Number.isFinite(value)) return value;
      if (typeof value === 'string') return parseNumber(value, rowNumber, column + 1);
      throw new InvalidPayloadError(
        `row ${rowNumber}, column ${column + 1}: ${JSON.stringify(value)} is not a number`,
      );
    });
  });
}

function parseNumber(field: string, rowNumber: number, column: number): number | null {
  // CSV quotes are gone by now (the tokenizer removed them): what is left must read as a number.
  const text = field.trim();
  if (text === '' || text.toLowerCase() === 'nan') return null;
  const value = Number(text);
  if (!Number.isFinite(value)) {
    throw new InvalidPayloadError(`row ${rowNumber}, column ${column}: "${text}" is not a number`);
  }
  return value;
}

/** Predictions as CSV: one per line. */
export function formatCsv(predictions: readonly number[]): string {
  return predictions.map((p) => String(p)).join('\n');
}

/** Predictions as JSON: `{"predictions": [...]}`. */
export function formatJson(predictions: readonly number[]): string {
  return JSON.stringify({ predictions });
}
