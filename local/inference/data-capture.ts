/**
 * SageMaker data capture for local endpoints. Where this stands: local runtime; each fleet of a
 * local endpoint (blue, green) has one, fed by its inference server.
 *
 * Format and layout as SageMaker writes them ("Capture data from real-time endpoint", SageMaker
 * Developer Guide): JSON Lines, one object per invocation
 * `{"captureData":{"endpointInput":{observedContentType, mode:"INPUT", data, encoding},
 * "endpointOutput":{..., mode:"OUTPUT"}}, "eventMetadata":{eventId, inferenceTime}, "eventVersion":"0"}`,
 * in `s3://<DestinationS3Uri>/<endpoint-name>/<variant-name>/yyyy/mm/dd/hh/<file>.jsonl`, the hour
 * being the invocation's (UTC). File names follow SageMaker's `<mm>-<ss>-<mmm>-<uuid>.jsonl`
 * (minute, second, millisecond of the file's first record). Payloads whose content type is one of
 * the config's CSV or JSON types are stored as text (`CSV` / `JSON`), anything else as `BASE64`
 * (DataCaptureConfig.CaptureContentTypeHeader).
 *
 * Records are sampled (InitialSamplingPercentage), buffered, and written by count, by time, and on
 * close. A write that fails is logged and its records dropped (SageMaker's capture is best-effort too).
 */
import { randomUUID } from 'node:crypto';
import type { ObjectStore } from '../../core/ports/object-store';
import type { Log } from '../../core/use-cases/context';
import type { InvocationRecord } from './inference-server';
import { mediaType } from './payload';

/** How a captured payload is stored: as text (`CSV`, `JSON`) or base64 (any other content type). */
export type CaptureEncoding = 'CSV' | 'JSON' | 'BASE64';

/** One line of a capture file. */
export interface CaptureLine {
  readonly captureData: {
    readonly endpointInput: CapturedPayload<'INPUT'>;
    readonly endpointOutput: CapturedPayload<'OUTPUT'>;
  };
  readonly eventMetadata: { readonly eventId: string; readonly inferenceTime: string };
  readonly eventVersion: '0';
}

/** A request or response body in a capture line (`endpointInput` / `endpointOutput`). */
export interface CapturedPayload<M extends 'INPUT' | 'OUTPUT'> {
  readonly observedContentType: string;
  readonly mode: M;
  readonly data: string;
  readonly encoding: CaptureEncoding;
}

/** A fleet's DataCaptureConfig, and where and how often its capture files are written. */
export interface DataCaptureOptions {
  readonly objects: ObjectStore;
  /** DataCaptureConfig.DestinationS3Uri: `s3://bucket/prefix`. */
  readonly destinationS3Uri: string;
  readonly endpointName: string;
  readonly variantName: string;
  /** InitialSamplingPercentage, 0..100. */
  readonly samplingPercentage: number;
  /** @default ['text/csv'] */
  readonly csvContentTypes?: readonly string[];
  /** @default ['application/json'] */
  readonly jsonContentTypes?: readonly string[];
  /** Records buffered before a write. @default 100 */
  readonly maxBufferedRecords?: number;
  /** Real milliseconds between timed writes. @default 5000 */
  readonly flushIntervalMs?: number;
  /** @default Math.random */
  readonly random?: () => number;
  readonly log?: Log;
}

/** `s3://bucket/prefix` → bucket and prefix (without trailing slash). */
export function parseS3Uri(uri: string): { bucket: string; prefix: string } {
  const match = /^s3:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (!match) throw new Error(`not an s3:// URI: ${uri}`);
  return { bucket: match[1]!, prefix: match[2]!.replace(/\/+$/, '') };
}

/** The key of a capture file: `<prefix>/<endpoint>/<variant>/yyyy/mm/dd/hh/<mm>-<ss>-<mmm>-<uuid>.jsonl`. */
export function captureKey(
  prefix: string,
  endpointName: string,
  variantName: string,
  at: Date,
  id: string = randomUUID(),
): string {
  const p2 = (n: number) => String(n).padStart(2, '0');
  const hourPath = `${at.getUTCFullYear()}/${p2(at.getUTCMonth() + 1)}/${p2(at.getUTCDate())}/${p2(at.getUTCHours())}`;
  const file = `${p2(at.getUTCMinutes())}-${p2(at.getUTCSeconds())}-${String(at.getUTCMilliseconds()).padStart(3, '0')}-${id}.jsonl`;
  return [prefix, endpointName, variantName, hourPath, file].filter((part) => part !== '').join('/');
}

/** The capture line of one invocation. */
export function captureLine(
  record: InvocationRecord,
  types: { csv: readonly string[]; json: readonly string[] },
  eventId: string = randomUUID(),
): CaptureLine {
  const payload = <M extends 'INPUT' | 'OUTPUT'>(
    mode: M,
    contentType: string,
    body: Buffer,
  ): CapturedPayload<M> => {
    const encoding = encodingOf(contentType, types);
    return {
      observedContentType: contentType,
      mode,
      data: encoding === 'BASE64' ? body.toString('base64') : body.toString('utf8'),
      encoding,
    };
  };
  return {
    captureData: {
      endpointInput: payload('INPUT', record.requestContentType, record.requestBody),
      endpointOutput: payload('OUTPUT', record.responseContentType, record.responseBody),
    },
    // SageMaker writes inferenceTime to the second, in UTC ("2022-02-14T17:25:49Z").
    eventMetadata: { eventId, inferenceTime: record.at.toISOString().replace(/\.\d{3}Z$/, 'Z') },
    eventVersion: '0',
  };
}

function encodingOf(
  contentType: string,
  types: { csv: readonly string[]; json: readonly string[] },
): CaptureEncoding {
  const type = mediaType(contentType);
  if (types.csv.some((t) => mediaType(t) === type)) return 'CSV';
  if (types.json.some((t) => mediaType(t) === type)) return 'JSON';
  return 'BASE64';
}

/** The data capture of one fleet of a local endpoint: samples invocations and writes them as SageMaker does. */
export class DataCapture {
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly types: { csv: readonly string[]; json: readonly string[] };
  private buffer: { line: CaptureLine; at: Date }[] = [];
  private writing: Promise<void> = Promise.resolve();
  private readonly timer: NodeJS.Timeout;
  private closed = false;

  constructor(private readonly options: DataCaptureOptions) {
    if (!(options.samplingPercentage >= 0 && options.samplingPercentage <= 100)) {
      throw new Error(`samplingPercentage must be 0..100, got ${options.samplingPercentage}`);
    }
    ({ bucket: this.bucket, prefix: this.prefix } = parseS3Uri(options.destinationS3Uri));
    this.types = {
      csv: options.csvContentTypes ?? ['text/csv'],
      json: options.jsonContentTypes ?? ['application/json'],
    };
    this.timer = setInterval(() => void this.flush(), options.flushIntervalMs ?? 5_000);
    this.timer.unref();
  }

  /** Records buffered and not yet written. */
  get pending(): number {
    return this.buffer.length;
  }

  /** Samples and buffers one invocation. */
  capture(record: InvocationRecord): void {
    if (this.closed) return;
    const random = this.options.random ?? Math.random;
    if (!(random() * 100 < this.options.samplingPercentage)) return;
    this.buffer.push({ line: captureLine(record, this.types), at: record.at });
    if (this.buffer.length >= (this.options.maxBufferedRecords ?? 100)) void this.flush();
  }

  /** Writes what is buffered: one file per hour of inference time. Resolves once written. */
  flush(): Promise<void> {
    const batch = this.buffer;
    this.buffer = [];
    if (batch.length > 0) {
      this.writing = this.writing.then(() => this.write(batch));
    }
    return this.writing;
  }

  /** Stops the timer and writes what is left. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await this.flush();
  }

  private async write(batch: { line: CaptureLine; at: Date }[]): Promise<void> {
    const byHour = new Map<string, { line: CaptureLine; at: Date }[]>();
    for (const item of batch) {
      const hour = item.at.toISOString().slice(0, 13);
      const group = byHour.get(hour);
      if (group) group.push(item);
      else byHour.set(hour, [item]);
    }
    for (const group of byHour.values()) {
      const key = captureKey(this.prefix, this.options.endpointName, this.options.variantName, group[0]!.at);
      const body = group.map((item) => JSON.stringify(item.line)).join('\n') + '\n';
      try {
        await this.options.objects.write(this.bucket, key, body, 'application/jsonl');
      } catch (error) {
        this.options.log?.error('data capture write failed; records dropped', {
          bucket: this.bucket,
          key,
          records: group.length,
          error: String(error),
        });
      }
    }
  }
}
