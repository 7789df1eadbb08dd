/**
 * SageMaker data capture, read back: the JSON lines an endpoint's data capture writes, turned into
 * input feature rows and output predictions. Where this stands: core domain; the drift monitor
 * (core/use-cases/monitor-drift.ts) feeds what it parses here to the profiler.
 *
 * Format ("Capture data from real-time endpoint", SageMaker Developer Guide; written locally by
 * local/inference/data-capture.ts): one JSON object per line and per invocation,
 * `{"captureData":{"endpointInput":{observedContentType, mode:"INPUT", data, encoding},
 * "endpointOutput":{observedContentType, mode:"OUTPUT", data, encoding}},
 * "eventMetadata":{eventId, inferenceTime}, "eventVersion":"0"}`, where `encoding` is `CSV` or
 * `JSON` (the payload as text) or `BASE64` (any other content type, or when the endpoint's config
 * names no CSV/JSON types). A BASE64 payload is decoded and read by its observed content type.
 *
 * Payloads read ("Common Data Formats for Inference"):
 * - inputs: CSV rows without a header (several rows per request), JSON `{"instances":[[...], ...]}`,
 *   `{"instances":[{"features":[...]}]}`, `{"instances":[{"<feature>": v, ...}]}` (by feature name),
 *   an array of rows or one flat row;
 * - outputs: CSV (one prediction per line; a line with several values is a class-probability
 *   vector and yields its argmax), JSON `{"predictions":[...]}` or an array, whose items are numbers,
 *   arrays (argmax), or objects with `score`, `predicted_label` or `prediction`.
 * A line that cannot be read (not JSON, no captureData, an unreadable payload) is counted as
 * malformed and skipped; parsing never throws.
 */
import { isPlainObject } from '../support/objects';
import { CsvSyntaxError, parseCsv } from './csv';

/** One input row: the feature values as text, in the model's feature order (null = missing). */
export type CapturedRow = (string | null)[];

/** What one capture line holds. */
export interface CaptureEvent {
  readonly eventId?: string;
  /** `eventMetadata.inferenceTime` (SageMaker writes it to the second, UTC). */
  readonly inferenceTime?: Date;
  readonly inputs: readonly CapturedRow[];
  readonly predictions: readonly number[];
}

/** A capture line that cannot be read. */
export class CaptureFormatError extends Error {
  override readonly name = 'CaptureFormatError';
}

/** How {@link parseCaptureLine} and {@link parseCapture} read payloads. */
export interface CaptureParseOptions {
  /** Feature names, to read JSON instances given as objects keyed by feature name. */
  readonly featureNames?: readonly string[];
}

/** Parses one capture line. @throws CaptureFormatError when it cannot be read. */
export function parseCaptureLine(line: string, options: CaptureParseOptions = {}): CaptureEvent {
  let document: unknown;
  try {
    document = JSON.parse(line);
  } catch (error) {
    throw new CaptureFormatError(`not JSON: ${(error as Error).message}`);
  }
  if (!isPlainObject(document) || !isPlainObject(document.captureData))
    throw new CaptureFormatError('no captureData object');
  const { endpointInput, endpointOutput } = document.captureData;
  if (endpointInput === undefined && endpointOutput === undefined)
    throw new CaptureFormatError('captureData has neither endpointInput nor endpointOutput');
  const metadata = isPlainObject(document.eventMetadata) ? document.eventMetadata : {};
  let inferenceTime: Date | undefined;
  if (typeof metadata.inferenceTime === 'string') {
    const at = new Date(metadata.inferenceTime);
    if (Number.isNaN(at.getTime()))
      throw new CaptureFormatError(`eventMetadata.inferenceTime "${metadata.inferenceTime}" is not a time`);
    inferenceTime = at;
  }
  const inputs =
    endpointInput === undefined ? [] : readInputs(payloadOf(endpointInput, 'endpointInput'), options);
  const predictions =
    endpointOutput === undefined ? [] : readPredictions(payloadOf(endpointOutput, 'endpointOutput'));
  return {
    ...(typeof metadata.eventId === 'string' ? { eventId: metadata.eventId } : {}),
    ...(inferenceTime ? { inferenceTime } : {}),
    inputs,
    predictions,
  };
}

/** What {@link parseCapture} read from a capture file. */
export interface ParsedCapture {
  readonly events: CaptureEvent[];
  /** Lines skipped because they could not be read. */
  readonly malformed: number;
  /** The first few reasons, `line <n>: <why>`. */
  readonly problems: string[];
}

/** Parses a capture file (JSON lines); blank lines are ignored, unreadable ones counted and skipped. */
export function parseCapture(
  text: string,
  options: CaptureParseOptions & { maxProblems?: number } = {},
): ParsedCapture {
  const events: CaptureEvent[] = [];
  const problems: string[] = [];
  let malformed = 0;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    try {
      events.push(parseCaptureLine(line, options));
    } catch (error) {
      malformed++;
      if (problems.length < (options.maxProblems ?? 5))
        problems.push(`line ${i + 1}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return { events, malformed, problems };
}

interface Payload {
  readonly contentType: string;
  readonly text: string;
  readonly kind: 'csv' | 'json';
}

function payloadOf(value: unknown, where: string): Payload {
  if (!isPlainObject(value)) throw new CaptureFormatError(`${where} is not an object`);
  const { data, encoding, observedContentType } = value;
  if (typeof data !== 'string') throw new CaptureFormatError(`${where}.data is not a string`);
  const contentType = typeof observedContentType === 'string' ? observedContentType : '';
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  switch (encoding) {
    case 'CSV':
      return { contentType, text: data, kind: 'csv' };
    case 'JSON':
      return { contentType, text: data, kind: 'json' };
    case 'BASE64': {
      if (!/^[A-Za-z0-9+/\s]*={0,2}\s*$/.test(data))
        throw new CaptureFormatError(`${where}.data is not base64`);
      const text = decodeBase64(data);
      if (type.includes('csv')) return { contentType, text, kind: 'csv' };
      if (type.includes('json')) return { contentType, text, kind: 'json' };
      // Unknown content type: JSON if it reads as JSON, else CSV.
      const head = text.trimStart()[0];
      return { contentType, text, kind: head === '{' || head === '[' ? 'json' : 'csv' };
    }
    default:
      throw new CaptureFormatError(
        `${where}.encoding ${JSON.stringify(encoding)} is not CSV, JSON or BASE64`,
      );
  }
}

/** Base64 to UTF-8 text without Node's Buffer (core imports no runtime-specific modules). */
function decodeBase64(data: string): string {
  const binary = atob(data.replace(/\s+/g, ''));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new CaptureFormatError('the base64 payload is not UTF-8 text');
  }
}

function readInputs(payload: Payload, options: CaptureParseOptions): CapturedRow[] {
  if (payload.kind === 'csv')
    return csvRows(payload.text, 'endpointInput').map((fields) => fields.map(missingToNull));
  const document = parseJson(payload.text, 'endpointInput');
  let instances: unknown;
  if (Array.isArray(document)) {
    instances =
      document.length > 0 && !document.some((item) => Array.isArray(item) || isPlainObject(item))
        ? [document]
        : document;
  } else if (isPlainObject(document) && 'instances' in document) {
    instances = document.instances;
  } else if (isPlainObject(document) && 'features' in document) {
    instances = [document];
  } else {
    throw new CaptureFormatError('endpointInput: expected {"instances": [...]} or an array of rows');
  }
  if (!Array.isArray(instances)) throw new CaptureFormatError('endpointInput: "instances" is not an array');
  return instances.map((instance: unknown, index) => {
    if (Array.isArray(instance)) return instance.map(jsonField);
    if (isPlainObject(instance)) {
      if (Array.isArray(instance.features)) return instance.features.map(jsonField);
      if (options.featureNames) return options.featureNames.map((name) => jsonField(instance[name]));
    }
    throw new CaptureFormatError(`endpointInput: instance ${index + 1} is not a row of features`);
  });
}

function readPredictions(payload: Payload): number[] {
  if (payload.kind === 'csv') {
    return csvRows(payload.text, 'endpointOutput').map((fields, index) => {
      const values = fields.map((field) => Number(field.trim()));
      if (values.length === 0 || values.some((v) => !Number.isFinite(v)))
        throw new CaptureFormatError(`endpointOutput: line ${index + 1} is not numeric`);
      return values.length === 1 ? values[0]! : argmax(values);
    });
  }
  const document = parseJson(payload.text, 'endpointOutput');
  const items: unknown =
    isPlainObject(document) && 'predictions' in document
      ? document.predictions
      : Array.isArray(document)
        ? document
        : [document];
  if (!Array.isArray(items)) throw new CaptureFormatError('endpointOutput: "predictions" is not an array');
  return items.map((item: unknown, index) => {
    const value = predictionValue(item);
    if (value === undefined)
      throw new CaptureFormatError(`endpointOutput: prediction ${index + 1} is not a number`);
    return value;
  });
}

function predictionValue(item: unknown): number | undefined {
  if (typeof item === 'number') return Number.isFinite(item) ? item : undefined;
  if (typeof item === 'string' && item.trim() !== '') {
    const value = Number(item);
    return Number.isFinite(value) ? value : undefined;
  }
  if (Array.isArray(item)) {
    const values = item.map(Number);
    return values.length > 0 && values.every(Number.isFinite)
      ? values.length === 1
        ? values[0]
        : argmax(values)
      : undefined;
  }
  if (isPlainObject(item)) {
    for (const key of ['score', 'predicted_label', 'prediction']) {
      if (key in item) return predictionValue(item[key]);
    }
  }
  return undefined;
}

function argmax(values: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

/**
 * Rows of a header-less CSV payload, read by the project's one CSV tokenizer (quoted fields may
 * hold commas, quotes and line breaks): one per record, fields trimmed; blank lines are skipped.
 */
function csvRows(text: string, where: string): string[][] {
  let records;
  try {
    records = parseCsv(text);
  } catch (error) {
    if (error instanceof CsvSyntaxError) throw new CaptureFormatError(`${where}: ${error.message}`);
    throw error;
  }
  return records
    .map((record) => record.fields.map((field) => field.trim()))
    .filter((fields) => !(fields.length === 1 && fields[0] === '')); // a line of spaces only
}

function missingToNull(field: string): string | null {
  return field === '' || field.toLowerCase() === 'nan' ? null : field;
}

function jsonField(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : null;
  if (typeof value === 'string') return missingToNull(value.trim());
  if (typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new CaptureFormatError(`${where}: not valid JSON (${(error as Error).message})`);
  }
}
