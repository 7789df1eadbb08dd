/**
 * The prepared channels' writer: lines in, one streamed object per output, chunked, bounded, and
 * stopped as a whole when one upload fails.
 */
import { describe, expect, it } from 'vitest';
import type { ObjectStore } from '../../../core/ports/object-store';
import { ChunkedLineWriter } from '../../../core/support/chunked-line-writer';

/** An object store that records the chunks each streamed upload receives. */
class RecordingStore implements Pick<ObjectStore, 'writeStream'> {
  readonly chunks = new Map<string, string[]>();
  readonly contentTypes = new Map<string, string>();
  readonly failures = new Map<string, unknown>();
  /** Keys whose upload fails after reading this many chunks. */
  failAfter = new Map<string, number>();
  /** Keys whose upload stops reading (a stalled network) until released. */
  stalled = new Map<string, Promise<void>>();

  async writeStream(
    _bucket: string,
    key: string,
    body: AsyncIterable<string | Uint8Array>,
    contentType: string,
  ): Promise<void> {
    const chunks: string[] = [];
    this.chunks.set(key, chunks);
    this.contentTypes.set(key, contentType);
    try {
      await this.stalled.get(key);
      for await (const chunk of body) {
        if (chunks.length === this.failAfter.get(key)) throw new Error(`upload of ${key} failed`);
        chunks.push(String(chunk));
      }
    } catch (error) {
      this.failures.set(key, error);
      throw error;
    }
  }
}

const open = (store: RecordingStore, options = {}) =>
  new ChunkedLineWriter(
    store as unknown as ObjectStore,
    'bucket',
    { train: 't.csv', validation: 'v.csv' },
    options,
  );

describe('ChunkedLineWriter', () => {
  it('writes each output its lines, each ending with a line break, chunked at about chunkChars', async () => {
    const store = new RecordingStore();
    const writer = open(store, { contentType: 'text/csv', chunkChars: 8 });
    // Only the line that completes a chunk returns a promise (no microtask per line).
    expect(writer.write('train', '1,a')).toBeUndefined();
    expect(writer.write('train', '2,b')).toBeInstanceOf(Promise);
    for (const line of ['3,c', '4,d', '5,e']) await writer.write('train', line);
    await writer.write('validation', '9,z');
    await writer.close();
    // '1,a\n2,b\n' is 8 characters: a chunk; the rest goes at close.
    expect(store.chunks.get('t.csv')).toEqual(['1,a\n2,b\n', '3,c\n4,d\n', '5,e\n']);
    expect(store.chunks.get('v.csv')).toEqual(['9,z\n']);
    expect(store.contentTypes.get('t.csv')).toBe('text/csv');
  });

  it('sends what is pending on flush (the end of an input file), and writes empty objects with no lines', async () => {
    const store = new RecordingStore();
    const writer = open(store);
    await writer.write('train', 'a');
    await writer.flush();
    await writer.write('train', 'b');
    await writer.close();
    expect(store.chunks.get('t.csv')).toEqual(['a\n', 'b\n']);
    expect(store.chunks.get('v.csv')).toEqual([]);
  });

  it('makes the writer wait while an upload is behind (bounded memory)', async () => {
    const store = new RecordingStore();
    let release!: () => void;
    store.stalled.set('t.csv', new Promise<void>((resolve) => (release = resolve)));
    const writer = open(store, { chunkChars: 1, bufferedChunks: 2 });
    await writer.write('train', 'a');
    await writer.write('train', 'b');
    let third = false;
    const writing = writer.write('train', 'c')!.then(() => (third = true));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(third).toBe(false);
    release();
    await writing;
    await writer.close();
    expect(store.chunks.get('t.csv')).toEqual(['a\n', 'b\n', 'c\n']);
  });

  it('stops every output when one upload fails: the next write and close reject with its error', async () => {
    const store = new RecordingStore();
    store.failAfter.set('v.csv', 0);
    const writer = open(store, { chunkChars: 1 });
    await writer.write('validation', 'x')?.catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 0));
    await expect(writer.write('train', 'a')).rejects.toThrow('upload of v.csv failed');
    await writer.abort(new Error('stopped'));
    expect(store.failures.get('t.csv')).toBeInstanceOf(Error);
  });

  it('abort fails every upload with the given error, so none completes', async () => {
    const store = new RecordingStore();
    const writer = open(store);
    await writer.write('train', 'a');
    const why = new Error('the dataset was rejected');
    await writer.abort(why);
    expect(store.failures.get('t.csv')).toBe(why);
    expect(store.failures.get('v.csv')).toBe(why);
  });

  it('refuses a line for an output it does not write', async () => {
    const writer = open(new RecordingStore());
    expect(() => writer.write('test' as 'train', 'a')).toThrow(/no output "test"/);
    await writer.close();
  });
});
