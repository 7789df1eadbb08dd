/**
 * S3 adapter of the {@link ObjectStore} port. Where this stands: adapter; the same class runs
 * against AWS S3 and against the local S3 API server (the client decides which).
 */
import { Readable } from 'node:stream';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { ObjectInfo, ObjectStore } from '../../core/ports/object-store';

/** Multipart tuning for {@link S3ObjectStore.writeStream}. */
export interface S3ObjectStoreOptions {
  /**
   * Size of each uploaded part, in bytes. S3's minimum part size is 5 MiB (except the last part).
   * @default 8 MiB
   */
  readonly partSizeBytes?: number;
  /**
   * Parts uploaded in parallel. The upload holds at most `queueSize * partSizeBytes` in memory.
   * @default 4
   */
  readonly queueSize?: number;
}

/** Part size of {@link S3ObjectStore.writeStream}'s multipart uploads unless told otherwise, in bytes. */
export const DEFAULT_PART_SIZE_BYTES = 8 * 1024 * 1024;
/** Parts {@link S3ObjectStore.writeStream} uploads in parallel unless told otherwise. */
export const DEFAULT_QUEUE_SIZE = 4;
/** S3's minimum multipart part size (all parts but the last). */
const MIN_PART_SIZE_BYTES = 5 * 1024 * 1024;

/** Error names S3 uses for "no such object" (GetObject: NoSuchKey / NoSuchVersion; HEAD-style: NotFound). */
const MISSING_OBJECT_ERRORS = new Set(['NoSuchKey', 'NoSuchVersion', 'NotFound']);

/**
 * The {@link ObjectStore} port on S3: the handlers' context, the local cloud's (on its S3 server)
 * and the demo's. A missing key or version reads as undefined; `writeStream` aborts a failed
 * multipart upload, leaving no parts behind; `list` gives no version ids. The constructor throws on
 * a part size below S3's 5 MiB minimum.
 */
export class S3ObjectStore implements ObjectStore {
  private readonly partSize: number;
  private readonly queueSize: number;

  constructor(
    private readonly client: S3Client,
    options: S3ObjectStoreOptions = {},
  ) {
    this.partSize = options.partSizeBytes ?? DEFAULT_PART_SIZE_BYTES;
    this.queueSize = options.queueSize ?? DEFAULT_QUEUE_SIZE;
    if (!Number.isInteger(this.partSize) || this.partSize < MIN_PART_SIZE_BYTES) {
      throw new Error(
        `partSizeBytes must be an integer >= ${MIN_PART_SIZE_BYTES} (S3's minimum part size); got ${this.partSize}`,
      );
    }
    if (!Number.isInteger(this.queueSize) || this.queueSize < 1) {
      throw new Error(`queueSize must be an integer >= 1; got ${this.queueSize}`);
    }
  }

  async read(
    bucket: string,
    key: string,
    versionId?: string,
  ): Promise<{ info: ObjectInfo; body: AsyncIterable<Uint8Array> } | undefined> {
    let response;
    try {
      response = await this.client.send(
        new GetObjectCommand({
          Bucket: bucket,
          Key: key,
          ...(versionId !== undefined ? { VersionId: versionId } : {}),
        }),
      );
    } catch (error) {
      if (isMissingObject(error)) return undefined;
      throw error;
    }
    const info: ObjectInfo = {
      key,
      size: response.ContentLength ?? 0,
      ...(response.ETag !== undefined ? { etag: unquote(response.ETag) } : {}),
      ...(response.VersionId !== undefined ? { versionId: response.VersionId } : {}),
    };
    return { info, body: toAsyncIterable(response.Body) };
  }

  async readText(bucket: string, key: string): Promise<string | undefined> {
    try {
      const response = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      if (response.Body === undefined) return '';
      return await response.Body.transformToString('utf-8');
    } catch (error) {
      if (isMissingObject(error)) return undefined;
      throw error;
    }
  }

  async write(bucket: string, key: string, body: string | Uint8Array, contentType: string): Promise<void> {
    await this.client.send(
      new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: contentType }),
    );
  }

  async writeStream(
    bucket: string,
    key: string,
    body: AsyncIterable<string | Uint8Array>,
    contentType: string,
  ): Promise<void> {
    // lib-storage's Upload turns a stream of unknown length into a multipart upload (one PutObject
    // when it fits in a single part), buffering at most queueSize * partSize bytes. By default a
    // failed upload is aborted, so no orphaned parts are left behind (leavePartsOnError: false).
    const upload = new Upload({
      client: this.client,
      params: { Bucket: bucket, Key: key, Body: Readable.from(body), ContentType: contentType },
      partSize: this.partSize,
      queueSize: this.queueSize,
      leavePartsOnError: false,
    });
    await upload.done();
  }

  async list(bucket: string, prefix: string): Promise<ObjectInfo[]> {
    const objects: ObjectInfo[] = [];
    let continuationToken: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({
          Bucket: bucket,
          Prefix: prefix,
          ...(continuationToken !== undefined ? { ContinuationToken: continuationToken } : {}),
        }),
      );
      for (const item of page.Contents ?? []) {
        if (item.Key === undefined) continue;
        objects.push({
          key: item.Key,
          size: item.Size ?? 0,
          ...(item.ETag !== undefined ? { etag: unquote(item.ETag) } : {}),
        });
      }
      // ListObjectsV2 returns keys in ascending UTF-8 binary order, page after page.
      continuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (continuationToken !== undefined);
    return objects;
  }
}

function isMissingObject(error: unknown): boolean {
  return error instanceof Error && MISSING_OBJECT_ERRORS.has(error.name);
}

/** S3 returns ETags in double quotes (`"9b2cf535f27731c974343645a3985328"`). */
function unquote(etag: string): string {
  return etag.replace(/^"(.*)"$/, '$1');
}

/**
 * The GetObject body as an async iterable. In Node the SDK returns an `IncomingMessage` (a
 * Readable, hence async-iterable); other runtimes return a web stream or Blob, read whole here.
 */
function toAsyncIterable(body: unknown): AsyncIterable<Uint8Array> {
  if (body === undefined || body === null) return emptyIterable();
  if (typeof body === 'object' && Symbol.asyncIterator in body) return body as AsyncIterable<Uint8Array>;
  if (
    typeof body === 'object' &&
    'transformToByteArray' in body &&
    typeof body.transformToByteArray === 'function'
  ) {
    const bytes = body.transformToByteArray as () => Promise<Uint8Array>;
    return (async function* () {
      yield await bytes.call(body);
    })();
  }
  throw new Error('unsupported GetObject body type');
}

async function* emptyIterable(): AsyncIterable<Uint8Array> {
  // nothing to yield
}
