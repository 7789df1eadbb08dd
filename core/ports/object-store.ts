/**
 * Port: the object store holding datasets, configs, prepared data and artifacts. Where this
 * stands: core port; the S3 adapter implements it against AWS or a local S3 API server.
 */

/** What is known about a stored object. */
export interface ObjectInfo {
  readonly key: string;
  readonly size: number;
  readonly etag?: string;
  readonly versionId?: string;
}

/**
 * Reads and writes the data bucket's objects: datasets, configs, prepared channels, reports,
 * captured traffic. Implemented by `S3ObjectStore` (adapters/aws/s3-object-store.ts, against AWS or
 * the local S3 server) and `MemoryObjectStore` (adapters/memory/, for the use cases' unit tests).
 * Writes overwrite, unconditionally: what must happen once is guarded by the registry, not here.
 */
export interface ObjectStore {
  /** The object's bytes as a stream, or undefined when it does not exist. `versionId` pins a version. */
  read(
    bucket: string,
    key: string,
    versionId?: string,
  ): Promise<{ info: ObjectInfo; body: AsyncIterable<Uint8Array> } | undefined>;

  /** The object's text, or undefined when it does not exist. */
  readText(bucket: string, key: string): Promise<string | undefined>;

  /** Writes an object (overwriting). */
  write(bucket: string, key: string, body: string | Uint8Array, contentType: string): Promise<void>;

  /**
   * Writes an object from a stream of chunks of unknown total size (multipart where the adapter
   * needs it), so that a prepared channel never has to be held in memory whole.
   */
  writeStream(
    bucket: string,
    key: string,
    body: AsyncIterable<string | Uint8Array>,
    contentType: string,
  ): Promise<void>;

  /** Objects under a prefix, in key order. */
  list(bucket: string, prefix: string): Promise<ObjectInfo[]>;
}
