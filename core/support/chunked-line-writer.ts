/**
 * Writes lines of text into several objects at once, streamed through the ObjectStore port in
 * chunks, in bounded memory. Where this stands: core support; ingest writes the prepared train and
 * validation channels of a dataset with it while it reads the dataset, in one pass.
 */
import type { ObjectStore } from '../ports/object-store';
import { AsyncChannel } from './async-channel';

/** How a {@link ChunkedLineWriter} writes. */
export interface ChunkedLineWriterOptions {
  /** The objects' content type. @default 'text/plain' */
  readonly contentType?: string;
  /** Lines are grouped into chunks of about this many characters before they go to the store. @default 262_144 */
  readonly chunkChars?: number;
  /** Chunks buffered per object before {@link ChunkedLineWriter.write} waits for the upload. @default 16 */
  readonly bufferedChunks?: number;
}

/**
 * Streams lines into one object per output (e.g. `train`, `validation`), each through
 * `ObjectStore.writeStream`. Lines are joined into chunks of about `chunkChars` characters, each
 * line ending with `\n`; a slow upload makes {@link write} wait (back-pressure), so memory stays
 * bounded whatever the number of lines. A failed upload fails every output, so the producer stops
 * at its next write instead of waiting on a full buffer forever.
 *
 * Use: {@link write} lines, {@link flush} at the end of each input file if wanted, then {@link close}
 * (waits for the uploads); on any error, {@link abort}.
 */
export class ChunkedLineWriter<Output extends string> {
  private readonly channels = new Map<Output, AsyncChannel<string>>();
  private readonly pending = new Map<Output, { lines: string[]; chars: number }>();
  private readonly uploads: Promise<void>[] = [];
  private readonly chunkChars: number;

  /**
   * Starts one upload per output.
   * @param keys the object key of each output, in the order {@link flush} sends them
   */
  constructor(
    objects: ObjectStore,
    bucket: string,
    keys: Readonly<Record<Output, string>>,
    options: ChunkedLineWriterOptions = {},
  ) {
    this.chunkChars = options.chunkChars ?? 256 * 1024;
    for (const [output, key] of Object.entries(keys) as [Output, string][]) {
      const channel = new AsyncChannel<string>(options.bufferedChunks);
      this.channels.set(output, channel);
      this.pending.set(output, { lines: [], chars: 0 });
      const upload = objects.writeStream(bucket, key, channel, options.contentType ?? 'text/plain');
      // A failed upload must stop the producer, or it would wait on a full channel forever.
      upload.catch((error: unknown) => this.failAll(error));
      this.uploads.push(upload);
    }
  }

  /**
   * Adds one line (without its line break) to an output. Returns a promise only when the line
   * completed a chunk: await it (it waits while that upload is behind). Most lines return nothing,
   * so a caller that checks (`const sent = w.write(...); if (sent) await sent;`) spends no
   * microtask per line on a file of millions of lines.
   */
  write(output: Output, line: string): Promise<void> | undefined {
    const pending = this.pending.get(output);
    if (!pending) throw new Error(`ChunkedLineWriter: no output "${output}"`);
    pending.lines.push(line);
    pending.chars += line.length + 1;
    return pending.chars >= this.chunkChars ? this.send(output, pending) : undefined;
  }

  /** Sends every output's pending lines now, in the order of the keys (e.g. at the end of an input file). */
  async flush(): Promise<void> {
    for (const [output, pending] of this.pending) if (pending.lines.length) await this.send(output, pending);
  }

  /** Sends what is pending, ends every object and waits for the uploads. Rejects when one failed. */
  async close(): Promise<void> {
    await this.flush();
    for (const channel of this.channels.values()) channel.close();
    await Promise.all(this.uploads);
  }

  /** Abandons the objects: every upload fails with `error` (none completes); waits for them to settle. */
  async abort(error: unknown): Promise<void> {
    this.failAll(error);
    await Promise.allSettled(this.uploads);
  }

  private async send(output: Output, pending: { lines: string[]; chars: number }): Promise<void> {
    const chunk = pending.lines.join('\n') + '\n';
    pending.lines = [];
    pending.chars = 0;
    await this.channels.get(output)!.push(chunk);
  }

  private failAll(error: unknown): void {
    for (const channel of this.channels.values()) channel.fail(error);
  }
}
