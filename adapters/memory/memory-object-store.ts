/**
 * The object store in memory: the {@link ObjectStore} port with S3's behaviour as the S3 adapter
 * (adapters/aws/s3-object-store.ts) exposes it, for unit tests of the use cases that run in
 * milliseconds, without an S3 server. Where this stands: adapter, for tests and tools only.
 *
 * What it keeps of S3:
 * - a read of a missing key (or of a version that does not exist, or of a key whose latest version
 *   is a delete marker) is `undefined`, as the adapter maps `NoSuchKey` / `NoSuchVersion`;
 * - every write makes a new object version: an ETag (the MD5 of the bytes in hex, as S3 gives for
 *   a single-part PUT; for a {@link MemoryObjectStore.writeStream} larger than one part, the
 *   multipart form `<md5 of the parts' MD5s>-<parts>`) and, in a versioned bucket, a version id;
 *   ETags are given without S3's double quotes, as the adapter unquotes them (and as S3's event
 *   notifications carry them);
 * - `read(bucket, key, versionId)` returns that version, even after later writes or a delete;
 * - `list` returns the latest versions under a prefix in ascending UTF-8 byte order (as
 *   ListObjectsV2 does), with key, size and ETag but no version id (the adapter's listing has none);
 * - strings are stored as UTF-8; bodies are copied in and out, so no caller shares a buffer with the
 *   store; a read's body comes in chunks, as a network stream does;
 * - a bucket the store was not given (when it was given any) fails like S3's `NoSuchBucket`.
 *
 * Each call completes after one microtask at least (no call completes synchronously, as no network
 * call does). {@link MemoryObjectStore.failNext} makes a call fail; the methods that are not part
 * of the port ({@link MemoryObjectStore.put}, {@link MemoryObjectStore.delete},
 * {@link MemoryObjectStore.peek}, {@link MemoryObjectStore.keys},
 * {@link MemoryObjectStore.versions}) are for tests to set up and inspect the bucket.
 */
import { createHash } from 'node:crypto';
import type { ObjectInfo, ObjectStore } from '../../core/ports/object-store';

/** A method of the port, as named by {@link MemoryObjectStore.failNext}. */
export type ObjectStoreMethod = keyof ObjectStore;

/** A failure a test asks {@link MemoryObjectStore.failNext} to inject. */
export interface InjectedObjectStoreFailure {
  /** What the call throws. Default: an `Error` named `InternalError`, as S3's 500 reaches the adapter. */
  readonly error?: Error;
  /**
   * `'before'` (default): the call throws and writes nothing. `'after'`: a write is applied, then the
   * call throws (a response lost after S3 stored the object); for a read or a list it is the same
   * as `'before'`.
   */
  readonly when?: 'before' | 'after';
}

/** Options of a {@link MemoryObjectStore}. */
export interface MemoryObjectStoreOptions {
  /**
   * Buckets that exist; any other bucket fails with an error named `NoSuchBucket`. Default: every
   * bucket exists (and is empty until written).
   */
  readonly buckets?: readonly string[];
  /**
   * Whether writes get version ids (a versioned bucket, as the stack's data bucket on AWS is).
   * Without versioning (the local S3), a write replaces the object, reads carry no version id, and
   * a read with a version id other than `"null"` fails like S3's `InvalidArgument`.
   * @default true
   */
  readonly versioning?: boolean;
  /**
   * Above this many bytes, {@link MemoryObjectStore.writeStream} stores the object as the S3
   * adapter's multipart upload would (a `-<parts>` ETag). Matches the adapter's default.
   * @default 8 MiB
   */
  readonly partSizeBytes?: number;
  /** Size of the chunks a read's body is cut into. @default 64 KiB */
  readonly readChunkBytes?: number;
}

/** One stored version of an object, as {@link MemoryObjectStore.peek} shows it. */
export interface StoredObject {
  readonly info: ObjectInfo & { readonly etag: string };
  readonly contentType: string;
  /** A copy of the bytes. */
  readonly bytes: Uint8Array;
  /** The bytes decoded as UTF-8. */
  readonly text: string;
}

interface Version {
  readonly versionId?: string;
  /** Absent for a delete marker. */
  readonly bytes?: Uint8Array;
  readonly etag?: string;
  readonly contentType?: string;
}

const DEFAULT_PART_SIZE_BYTES = 8 * 1024 * 1024;
const DEFAULT_READ_CHUNK_BYTES = 64 * 1024;
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8');

/** The ObjectStore port in memory, with S3's observable behaviour (see the file's comment). */
export class MemoryObjectStore implements ObjectStore {
  /** bucket -> key -> versions, oldest first. */
  private readonly buckets = new Map<string, Map<string, Version[]>>();
  private readonly closed: boolean;
  private readonly versioning: boolean;
  private readonly partSize: number;
  private readonly readChunk: number;
  private readonly failures = new Map<ObjectStoreMethod, InjectedObjectStoreFailure[]>();
  private versionCounter = 0;

  constructor(options: MemoryObjectStoreOptions = {}) {
    this.closed = options.buckets !== undefined;
    for (const bucket of options.buckets ?? []) this.buckets.set(bucket, new Map());
    this.versioning = options.versioning ?? true;
    this.partSize = options.partSizeBytes ?? DEFAULT_PART_SIZE_BYTES;
    this.readChunk = options.readChunkBytes ?? DEFAULT_READ_CHUNK_BYTES;
    if (!Number.isInteger(this.partSize) || this.partSize < 1)
      throw new Error(`partSizeBytes must be a positive integer; got ${this.partSize}`);
    if (!Number.isInteger(this.readChunk) || this.readChunk < 1)
      throw new Error(`readChunkBytes must be a positive integer; got ${this.readChunk}`);
  }

  /**
   * Test hook: the next call of `method` fails (see {@link InjectedObjectStoreFailure}); calling it
   * again queues more failures for the calls after it. Not part of the port.
   */
  failNext(method: ObjectStoreMethod, failure: InjectedObjectStoreFailure = {}): void {
    const queue = this.failures.get(method) ?? [];
    queue.push(failure);
    this.failures.set(method, queue);
  }

  // ---------------------------------------------------------------- the port

  async read(
    bucket: string,
    key: string,
    versionId?: string,
  ): Promise<{ info: ObjectInfo; body: AsyncIterable<Uint8Array> } | undefined> {
    await this.enter('read');
    const version = this.find(bucket, key, versionId);
    if (!version?.bytes) return undefined;
    const bytes = version.bytes.slice();
    return { info: infoOf(key, version), body: chunks(bytes, this.readChunk) };
  }

  async readText(bucket: string, key: string): Promise<string | undefined> {
    await this.enter('readText');
    const version = this.find(bucket, key);
    return version?.bytes ? decoder.decode(version.bytes) : undefined;
  }

  async write(bucket: string, key: string, body: string | Uint8Array, contentType: string): Promise<void> {
    const failure = await this.enter('write');
    this.store(bucket, key, toBytes(body), contentType, 1);
    if (failure) throw failure;
  }

  async writeStream(
    bucket: string,
    key: string,
    body: AsyncIterable<string | Uint8Array>,
    contentType: string,
  ): Promise<void> {
    const failure = await this.enter('writeStream');
    this.bucket(bucket);
    // Collected whole, then stored at once: a stream that fails stores nothing (the adapter's
    // upload is aborted, and S3 shows no object until CompleteMultipartUpload).
    const parts: Uint8Array[] = [];
    for await (const chunk of body) parts.push(toBytes(chunk));
    const bytes = Buffer.concat(parts);
    this.store(
      bucket,
      key,
      new Uint8Array(bytes),
      contentType,
      Math.max(1, Math.ceil(bytes.length / this.partSize)),
    );
    if (failure) throw failure;
  }

  async list(bucket: string, prefix: string): Promise<ObjectInfo[]> {
    await this.enter('list');
    const objects: ObjectInfo[] = [];
    for (const key of this.currentKeys(bucket, prefix)) {
      const latest = this.find(bucket, key)!;
      objects.push({ key, size: latest.bytes!.length, etag: latest.etag! });
    }
    return objects;
  }

  // ---------------------------------------------------------------- test helpers (not the port)

  /**
   * Writes an object like {@link write} and returns what S3's PutObject answers (ETag, version id)
   * with the size: what an "Object Created" event of the upload carries.
   */
  async put(
    bucket: string,
    key: string,
    body: string | Uint8Array,
    contentType = 'application/octet-stream',
  ): Promise<ObjectInfo & { readonly etag: string }> {
    await Promise.resolve();
    return infoOf(key, this.store(bucket, key, toBytes(body), contentType, 1));
  }

  /**
   * Deletes an object as S3's DeleteObject without a version id does: in a versioned bucket a
   * delete marker hides it (its versions stay readable by id); otherwise it is gone. No-op when missing.
   */
  async delete(bucket: string, key: string): Promise<void> {
    await Promise.resolve();
    const objects = this.bucket(bucket);
    if (!this.versioning) {
      objects.delete(key);
      return;
    }
    const versions = objects.get(key);
    if (!versions || versions[versions.length - 1]?.bytes === undefined) return;
    versions.push({ versionId: this.nextVersionId() });
  }

  /** The object's latest version (or the given one), synchronously, for assertions; undefined when missing. */
  peek(bucket: string, key: string, versionId?: string): StoredObject | undefined {
    const version = this.find(bucket, key, versionId);
    if (!version?.bytes) return undefined;
    return {
      info: infoOf(key, version),
      contentType: version.contentType!,
      bytes: version.bytes.slice(),
      text: decoder.decode(version.bytes),
    };
  }

  /** The keys that exist now under a prefix, in UTF-8 byte order, synchronously. */
  keys(bucket: string, prefix = ''): string[] {
    return this.currentKeys(bucket, prefix);
  }

  /** Every version of a key, oldest first (delete markers included, without `etag`). */
  versions(
    bucket: string,
    key: string,
  ): { readonly versionId?: string; readonly deleteMarker: boolean; readonly etag?: string }[] {
    return (this.bucket(bucket).get(key) ?? []).map((v) => ({
      ...(v.versionId !== undefined ? { versionId: v.versionId } : {}),
      deleteMarker: v.bytes === undefined,
      ...(v.etag !== undefined ? { etag: v.etag } : {}),
    }));
  }

  // ---------------------------------------------------------------- internals

  /** One microtask, then the injected failure if any: thrown now (`before`) or returned (`after`). */
  private async enter(method: ObjectStoreMethod): Promise<Error | undefined> {
    await Promise.resolve();
    const failure = this.failures.get(method)?.shift();
    if (!failure) return undefined;
    const error = failure.error ?? s3Error('InternalError', `injected failure of ${method}`);
    const writes = method === 'write' || method === 'writeStream';
    if (failure.when === 'after' && writes) return error;
    throw error;
  }

  private bucket(bucket: string): Map<string, Version[]> {
    let objects = this.buckets.get(bucket);
    if (!objects) {
      if (this.closed) throw s3Error('NoSuchBucket', `The specified bucket does not exist: ${bucket}`);
      objects = new Map();
      this.buckets.set(bucket, objects);
    }
    return objects;
  }

  private find(bucket: string, key: string, versionId?: string): Version | undefined {
    const versions = this.bucket(bucket).get(key);
    if (versionId === undefined) return versions?.[versions.length - 1];
    if (!this.versioning) {
      // An unversioned bucket's objects have the version id "null"; any other id is malformed.
      if (versionId !== 'null') throw s3Error('InvalidArgument', 'Invalid version id specified');
      return versions?.[versions.length - 1];
    }
    return versions?.find((v) => v.versionId === versionId);
  }

  private store(bucket: string, key: string, bytes: Uint8Array, contentType: string, parts: number): Version {
    const objects = this.bucket(bucket);
    const version: Version = {
      ...(this.versioning ? { versionId: this.nextVersionId() } : {}),
      bytes,
      etag: parts === 1 ? md5(bytes) : multipartEtag(bytes, this.partSize),
      contentType,
    };
    if (this.versioning) objects.set(key, [...(objects.get(key) ?? []), version]);
    else objects.set(key, [version]);
    return version;
  }

  private currentKeys(bucket: string, prefix: string): string[] {
    return [...this.bucket(bucket).entries()]
      .filter(
        ([key, versions]) => key.startsWith(prefix) && versions[versions.length - 1]?.bytes !== undefined,
      )
      .map(([key]) => key)
      .sort(compareUtf8);
  }

  /** Opaque, unique and increasing, 32 characters like S3's. */
  private nextVersionId(): string {
    return `mem${String(++this.versionCounter).padStart(29, '0')}`;
  }
}

/** Compares strings by their UTF-8 bytes, as S3 orders keys (not by UTF-16 code units). */
export function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function infoOf(key: string, version: Version): ObjectInfo & { readonly etag: string } {
  return {
    key,
    size: version.bytes!.length,
    etag: version.etag!,
    ...(version.versionId !== undefined ? { versionId: version.versionId } : {}),
  };
}

function toBytes(body: string | Uint8Array): Uint8Array {
  return typeof body === 'string' ? encoder.encode(body) : body.slice();
}

function md5(bytes: Uint8Array): string {
  return createHash('md5').update(bytes).digest('hex');
}

/** S3's ETag of a multipart upload: the MD5 of the concatenated binary MD5s of its parts, `-<parts>`. */
function multipartEtag(bytes: Uint8Array, partSize: number): string {
  const digests: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += partSize)
    digests.push(
      createHash('md5')
        .update(bytes.subarray(at, at + partSize))
        .digest(),
    );
  return `${createHash('md5').update(Buffer.concat(digests)).digest('hex')}-${digests.length}`;
}

// The port's body is an AsyncIterable; the bytes are at hand, so there is nothing to await.
// eslint-disable-next-line @typescript-eslint/require-await
async function* chunks(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.slice(at, at + size);
}

/** An error as the SDK throws S3's: its name is S3's error code. */
function s3Error(name: string, message: string): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}
