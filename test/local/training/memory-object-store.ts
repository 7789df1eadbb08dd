/** An in-memory {@link ObjectStore} for the staging tests: objects by bucket and key, listed in key order. */
import type { ObjectInfo, ObjectStore } from '../../../core/ports/object-store';

/** Objects held in a map; `writes` records what was written, with its content type. */
export class MemoryObjectStore implements ObjectStore {
  readonly objects = new Map<string, Uint8Array>();
  readonly writes: { bucket: string; key: string; contentType: string }[] = [];

  put(bucket: string, key: string, body: string | Uint8Array): void {
    this.objects.set(`${bucket}/${key}`, typeof body === 'string' ? new TextEncoder().encode(body) : body);
  }

  async read(bucket: string, key: string) {
    const body = this.objects.get(`${bucket}/${key}`);
    if (!body) return undefined;
    return {
      info: { key, size: body.length },
      body: (async function* () {
        // Two chunks, so a reader that keeps only one chunk loses data.
        yield body.subarray(0, Math.floor(body.length / 2));
        yield body.subarray(Math.floor(body.length / 2));
      })(),
    };
  }

  async readText(bucket: string, key: string) {
    const body = this.objects.get(`${bucket}/${key}`);
    return body && new TextDecoder().decode(body);
  }

  async write(bucket: string, key: string, body: string | Uint8Array, contentType: string) {
    this.put(bucket, key, body);
    this.writes.push({ bucket, key, contentType });
  }

  async writeStream(): Promise<void> {
    throw new Error('not used');
  }

  async list(bucket: string, prefix: string): Promise<ObjectInfo[]> {
    return [...this.objects.entries()]
      .filter(([name]) => name.startsWith(`${bucket}/${prefix}`))
      .map(([name, body]) => ({ key: name.slice(bucket.length + 1), size: body.length }))
      .sort((a, b) => (a.key < b.key ? -1 : 1));
  }
}
