/**
 * The in-memory object store behaves as the S3 adapter does against S3: missing keys, ETags and
 * versions, listing order, streams, copies.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MemoryObjectStore } from '../../../adapters/memory/memory-object-store';

const B = 'bucket';

async function bytesOf(body: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const chunk of body) parts.push(chunk);
  return Buffer.concat(parts);
}

const md5 = (text: string) => createHash('md5').update(text).digest('hex');

describe('MemoryObjectStore', () => {
  it('answers undefined for a missing key, as the adapter maps NoSuchKey', async () => {
    const store = new MemoryObjectStore();
    await expect(store.read(B, 'nope')).resolves.toBeUndefined();
    await expect(store.readText(B, 'nope')).resolves.toBeUndefined();
    await expect(store.list(B, '')).resolves.toEqual([]);
  });

  it('gives each write the MD5 ETag of a single-part PUT and a new version id; a version stays readable', async () => {
    const store = new MemoryObjectStore();
    await store.write(B, 'k.csv', 'first', 'text/csv');
    const first = await store.read(B, 'k.csv');
    expect(first!.info).toMatchObject({ key: 'k.csv', size: 5, etag: md5('first') });
    await store.write(B, 'k.csv', 'second!', 'text/csv');
    const second = await store.read(B, 'k.csv');
    expect(second!.info).toMatchObject({ size: 7, etag: md5('second!') });
    expect(second!.info.versionId).toEqual(expect.any(String));
    expect(second!.info.versionId).not.toBe(first!.info.versionId);

    const pinned = await store.read(B, 'k.csv', first!.info.versionId);
    expect((await bytesOf(pinned!.body)).toString()).toBe('first');
    await expect(store.readText(B, 'k.csv')).resolves.toBe('second!');
    await expect(store.read(B, 'k.csv', 'no-such-version')).resolves.toBeUndefined();
  });

  it('hides a deleted object behind a delete marker; its versions stay readable', async () => {
    const store = new MemoryObjectStore();
    const put = await store.put(B, 'k', 'body');
    await store.delete(B, 'k');
    await expect(store.read(B, 'k')).resolves.toBeUndefined();
    await expect(store.list(B, '')).resolves.toEqual([]);
    const old = await store.read(B, 'k', put.versionId);
    expect((await bytesOf(old!.body)).toString()).toBe('body');
    expect(store.versions(B, 'k').map((v) => v.deleteMarker)).toEqual([false, true]);
  });

  it('without versioning: no version ids, an overwrite replaces, a version id is refused', async () => {
    const store = new MemoryObjectStore({ versioning: false });
    await store.write(B, 'k', 'one', 'text/plain');
    await store.write(B, 'k', 'two', 'text/plain');
    const read = await store.read(B, 'k');
    expect(read!.info).toEqual({ key: 'k', size: 3, etag: md5('two') });
    expect(store.versions(B, 'k')).toHaveLength(1);
    await expect(store.read(B, 'k', 'abc')).rejects.toMatchObject({ name: 'InvalidArgument' });
    await store.delete(B, 'k');
    expect(store.peek(B, 'k')).toBeUndefined();
  });

  it('lists the latest objects under a prefix in UTF-8 byte order, without version ids', async () => {
    const store = new MemoryObjectStore();
    // UTF-16 order would put U+FF5E before U+1F600 (a surrogate pair, 0xD83D...); UTF-8 puts it after.
    for (const key of ['p/b', 'p/\u{1F600}', 'p/a', 'p/\uFF5E', 'p/B', 'q/a', 'p/a/x'])
      await store.write(B, key, key, 'text/plain');
    await store.write(B, 'p/a', 'longer body', 'text/plain');
    const listed = await store.list(B, 'p/');
    expect(listed.map((o) => o.key)).toEqual(['p/B', 'p/a', 'p/a/x', 'p/b', 'p/\uFF5E', 'p/\u{1F600}']);
    expect(listed[1]).toEqual({ key: 'p/a', size: 11, etag: md5('longer body') });
  });

  it('collects a stream of string and byte chunks; a large one gets a multipart ETag', async () => {
    const store = new MemoryObjectStore({ partSizeBytes: 4 });
    // A stream, as writeStream takes it, of chunks at hand: nothing to await.
    // eslint-disable-next-line @typescript-eslint/require-await
    async function* body() {
      yield 'ab';
      yield new Uint8Array([0x63, 0x64, 0x65]);
      yield 'é';
    }
    await store.writeStream(B, 's', body(), 'text/csv');
    const stored = store.peek(B, 's')!;
    expect(stored.text).toBe('abcdeé');
    expect(stored.contentType).toBe('text/csv');
    const parts = [Buffer.from('abcd'), Buffer.from('eé')].map((p) => createHash('md5').update(p).digest());
    expect(stored.info.etag).toBe(`${createHash('md5').update(Buffer.concat(parts)).digest('hex')}-2`);

    const small = new MemoryObjectStore();
    await small.writeStream(B, 's', body(), 'text/csv');
    expect(small.peek(B, 's')!.info.etag).toBe(md5('abcdeé'));
  });

  it('stores nothing when the stream fails', async () => {
    const store = new MemoryObjectStore();
    // A stream, as writeStream takes it, that fails after its first chunk: nothing to await.
    // eslint-disable-next-line @typescript-eslint/require-await
    async function* body() {
      yield 'partial';
      throw new Error('source broke');
    }
    await expect(store.writeStream(B, 's', body(), 'text/csv')).rejects.toThrow('source broke');
    expect(store.peek(B, 's')).toBeUndefined();
  });

  it('copies bodies in and out', async () => {
    const store = new MemoryObjectStore({ readChunkBytes: 2 });
    const input = new TextEncoder().encode('hello');
    await store.write(B, 'k', input, 'text/plain');
    input[0] = 0x4a; // 'J'
    const read = await store.read(B, 'k');
    const chunks: Uint8Array[] = [];
    for await (const chunk of read!.body) chunks.push(chunk);
    expect(chunks.map((c) => c.length)).toEqual([2, 2, 1]);
    chunks[0]![0] = 0x4a;
    await expect(store.readText(B, 'k')).resolves.toBe('hello');
  });

  it('refuses a bucket it was not given, as S3 answers NoSuchBucket', async () => {
    const store = new MemoryObjectStore({ buckets: ['data'] });
    await store.write('data', 'k', 'x', 'text/plain');
    await expect(store.readText('other', 'k')).rejects.toMatchObject({ name: 'NoSuchBucket' });
    await expect(store.write('other', 'k', 'x', 'text/plain')).rejects.toMatchObject({
      name: 'NoSuchBucket',
    });
  });

  it('fails the next call on request, before or after its write', async () => {
    const store = new MemoryObjectStore();
    store.failNext('write');
    await expect(store.write(B, 'a', 'x', 'text/plain')).rejects.toMatchObject({ name: 'InternalError' });
    expect(store.peek(B, 'a')).toBeUndefined();
    store.failNext('write', { when: 'after', error: new Error('lost response') });
    await expect(store.write(B, 'a', 'x', 'text/plain')).rejects.toThrow('lost response');
    expect(store.peek(B, 'a')?.text).toBe('x');
    await expect(store.write(B, 'b', 'y', 'text/plain')).resolves.toBeUndefined();
    store.failNext('read');
    await expect(store.read(B, 'a')).rejects.toMatchObject({ name: 'InternalError' });
    await expect(store.readText(B, 'a')).resolves.toBe('x');
  });

  it('completes no call synchronously', async () => {
    const store = new MemoryObjectStore();
    let done = false;
    const pending = store.write(B, 'k', 'x', 'text/plain').then(() => (done = true));
    expect(done).toBe(false);
    expect(store.peek(B, 'k')).toBeUndefined();
    await pending;
    expect(done).toBe(true);
  });
});
