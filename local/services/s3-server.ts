/**
 * The local cloud's S3: s3rver on 127.0.0.1, its objects kept on disk, the data bucket created, and
 * every object it stores turned into the EventBridge "Object Created" event S3 would send (S3 →
 * EventBridge is how the stack's ingest rule hears about datasets). Where this stands: local
 * runtime (infrastructure the local cloud starts); the S3 adapter reaches it through the SDK, as it
 * reaches S3 in AWS.
 *
 * The printed endpoint is a guard (local/services/s3-guard.ts), a streaming proxy that refuses a
 * foreign Host, cross-site browser requests, form POSTs, unsigned or badly signed requests and keys
 * that would map outside the data folder; s3rver listens behind it on an internal loopback port
 * and answers only requests that came through the guard. s3rver's key → file mapping is confined to
 * the data folder as well ({@link confineStore}).
 *
 * Notes:
 * - s3rver accepts only its fixed credentials: access key `S3RVER`, secret `S3RVER`; clients must
 *   use path-style addressing, and (SDK v3 ≥ 3.729, AWS CLI ≥ 1.37/2.23) must not send the new
 *   default CRC32 checksums, which s3rver predates: `requestChecksumCalculation: 'WHEN_REQUIRED'`
 *   (`AWS_REQUEST_CHECKSUM_CALCULATION=when_required` for the CLI).
 * - s3rver 3 encrypts ListObjectsV2 continuation tokens with DES, which OpenSSL 3 only offers
 *   through its legacy provider: listings of more than 1000 keys need the Node process to run
 *   with `--openssl-legacy-provider` (the `mlops` launcher sets it). See {@link canPaginateListings}.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { createCipheriv, createHash, randomBytes, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import {
  cloudEvent,
  LOCAL_ACCOUNT,
  LOCAL_CREDENTIALS,
  LOCAL_REGION,
  type CloudEvent,
  type EventPublisher,
} from '../contracts';
import { choosePort } from './dynamodb-local';
import { GUARD_TOKEN_HEADER, confineStore, startS3Guard, type S3rverStore } from './s3-guard';

/**
 * s3rver's fixed credentials: the only ones the local S3 accepts (the guard verifies SigV4
 * signatures with them; s3rver verifies SigV2 ones). They are public: they prove a request was made
 * by an S3 client, not who made it.
 */
export const S3RVER_CREDENTIALS = LOCAL_CREDENTIALS;

/** The port the local S3 listens on unless told otherwise (s3rver's own default). */
export const DEFAULT_S3_PORT = 4568;

/** The local cloud's data bucket. */
export const DEFAULT_LOCAL_BUCKET = 'mlops-local-data';

/** A record of an S3 event notification (the S3 → SNS/SQS/Lambda format s3rver emits). */
export interface S3NotificationRecord {
  readonly eventName: string;
  readonly eventTime?: string;
  readonly awsRegion?: string;
  readonly requestParameters?: { readonly sourceIPAddress?: string };
  readonly responseElements?: Readonly<Record<string, string>>;
  readonly s3: {
    readonly bucket: { readonly name: string };
    readonly object: {
      readonly key: string;
      readonly size?: number;
      readonly eTag?: string;
      readonly versionId?: string;
      readonly sequencer?: string;
    };
  };
}

/** The `detail` of an EventBridge "Object Created" event (S3 User Guide, "EventBridge event message structure"). */
export interface ObjectCreatedDetail {
  readonly version: '0';
  readonly bucket: { readonly name: string };
  readonly object: {
    readonly key: string;
    readonly size?: number;
    readonly etag?: string;
    readonly 'version-id'?: string;
    readonly sequencer?: string;
  };
  readonly 'request-id': string;
  readonly requester: string;
  readonly 'source-ip-address'?: string;
  readonly reason: 'PutObject' | 'POST Object' | 'CopyObject' | 'CompleteMultipartUpload';
}

/**
 * Decodes a key as S3 event notifications carry it: URL-encoded with `+` for spaces (EventBridge
 * events carry the key as is).
 */
export function decodeNotificationKey(key: string): string {
  return decodeURIComponent(key.replace(/\+/g, ' '));
}

/** Monotonic sequencer: hex, fixed width, increasing within this process (S3's only promise is order per key). */
let lastSequence = 0n;
function nextSequencer(): string {
  const now = BigInt(Date.now()) * 1_000_000n;
  lastSequence = now > lastSequence ? now : lastSequence + 1n;
  return lastSequence.toString(16).toUpperCase().padStart(18, '0');
}

/** What the request that stored an object was, as far as the event's `reason` needs. */
export interface ObjectRequest {
  readonly method: string;
  readonly multipartCompletion: boolean;
  readonly copy: boolean;
}

/**
 * Converts one S3 notification record into the EventBridge "Object Created" event AWS delivers,
 * or undefined for anything but an object creation.
 *
 * @param keyEncoding `'url'` when the record's key is URL-encoded as AWS sends it; `'raw'` when it
 *   is the key itself (s3rver's records carry the decoded key).
 */
export function objectCreatedEvent(
  record: S3NotificationRecord,
  options: { keyEncoding: 'url' | 'raw'; request?: ObjectRequest; sequencer?: string },
): CloudEvent<ObjectCreatedDetail> | undefined {
  if (!record.eventName.startsWith('ObjectCreated:')) return undefined;
  const { bucket, object } = record.s3;
  const key = options.keyEncoding === 'url' ? decodeNotificationKey(object.key) : object.key;
  const reason = createdReason(record.eventName, options.request);
  const requestId =
    record.responseElements?.['x-amz-request-id'] ?? randomBytes(8).toString('hex').toUpperCase();
  return cloudEvent<ObjectCreatedDetail>({
    detailType: 'Object Created',
    source: 'aws.s3',
    time: recordTime(record.eventTime),
    resources: [`arn:aws:s3:::${bucket.name}`],
    detail: {
      version: '0',
      bucket: { name: bucket.name },
      object: {
        key,
        ...(object.size !== undefined ? { size: Number(object.size) } : {}),
        ...(object.eTag ? { etag: object.eTag.replace(/"/g, '') } : {}),
        ...(object.versionId ? { 'version-id': object.versionId } : {}),
        sequencer: options.sequencer ?? object.sequencer ?? nextSequencer(),
      },
      'request-id': requestId,
      requester: LOCAL_ACCOUNT,
      ...(record.requestParameters?.sourceIPAddress
        ? { 'source-ip-address': stripIpv6Prefix(record.requestParameters.sourceIPAddress) }
        : {}),
      reason,
    },
  });
}

function createdReason(eventName: string, request: ObjectRequest | undefined): ObjectCreatedDetail['reason'] {
  switch (eventName) {
    case 'ObjectCreated:Copy':
      return 'CopyObject';
    case 'ObjectCreated:CompleteMultipartUpload':
      return 'CompleteMultipartUpload';
    case 'ObjectCreated:Post':
      // s3rver reports both a browser POST and a multipart completion as Post.
      return request && !request.multipartCompletion ? 'POST Object' : 'CompleteMultipartUpload';
    default:
      return request?.copy ? 'CopyObject' : 'PutObject';
  }
}

/** The record's `eventTime` as a date; undefined (the event is stamped now) when absent or unreadable. */
function recordTime(time: string | undefined): Date | undefined {
  const date = time ? new Date(time) : undefined;
  return date && !Number.isNaN(date.getTime()) ? date : undefined;
}

function stripIpv6Prefix(ip: string): string {
  return ip.startsWith('::ffff:') ? ip.slice('::ffff:'.length) : ip;
}

/** Whether s3rver can page listings in this process (DES available: see the note at the top). */
export function canPaginateListings(): boolean {
  try {
    createCipheriv('des', Buffer.alloc(8), Buffer.alloc(8));
    return true;
  } catch {
    return false;
  }
}

/** Client settings for the local S3: endpoint, s3rver's credentials, path style, no default checksums. */
export function s3ClientConfig(endpoint: string): S3ClientConfig {
  return {
    endpoint,
    region: LOCAL_REGION,
    forcePathStyle: true,
    credentials: { ...S3RVER_CREDENTIALS },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  };
}

/** The part of s3rver's (CommonJS, untyped) API used here; see node_modules/s3rver/README.md. */
interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
  on(event: 'event', listener: (event: { Records: S3NotificationRecord[] }) => void): void;
  httpServer?: Server;
  /** Where s3rver keeps objects (lib/stores/filesystem.js). */
  store: S3rverStore;
  /** Koa's middleware stack (s3rver extends Koa). */
  middleware: ((ctx: KoaContext, next: () => Promise<void>) => Promise<void>)[];
}
interface KoaContext {
  readonly method: string;
  get(header: string): string;
  readonly query: Readonly<Record<string, unknown>>;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}
type S3rverConstructor = new (options: {
  address: string;
  port: number;
  silent: boolean;
  directory: string;
  configureBuckets: { name: string; configs: (string | Buffer)[] }[];
  vhostBuckets: boolean;
}) => S3rverInstance;

/** How {@link startLocalS3} runs the local S3: where objects live, its port, where its events go. */
export interface LocalS3Options {
  /** Where objects are kept (created if missing). */
  readonly dataDir: string;
  /** Port on 127.0.0.1 (the guard's; s3rver gets a free internal one); 0 picks a free one. @default {@link DEFAULT_S3_PORT} */
  readonly port?: number;
  /** Wipe `dataDir` before starting. @default false */
  readonly fresh?: boolean;
  /** Buckets to create if missing. @default [DEFAULT_LOCAL_BUCKET] */
  readonly buckets?: readonly string[];
  /** Where "Object Created" events go (all buckets). */
  readonly events?: EventPublisher;
  /** Log s3rver's requests to the console. @default false */
  readonly verbose?: boolean;
}

/** A running local S3. */
export interface LocalS3 {
  /** `http://127.0.0.1:<port>`: the guard, the only way in. */
  readonly endpoint: string;
  readonly port: number;
  /** s3rver's internal port on 127.0.0.1 (it refuses what did not come through the guard). */
  readonly internalPort: number;
  readonly dataDir: string;
  readonly buckets: readonly string[];
  /** A client for the server (see {@link s3ClientConfig}). */
  readonly client: S3Client;
  /** Stops the server (closing open keep-alive connections). Safe to call more than once. */
  stop(): Promise<void>;
}

/** The part of s3rver's error class (lib/models/error.js) used here: answered as S3's XML error. */
type S3ErrorConstructor = new (code: string, message: string) => Error;

/**
 * Starts s3rver behind the guard, creates the buckets, and publishes an "Object Created" event per
 * stored object.
 */
export async function startLocalS3(options: LocalS3Options): Promise<LocalS3> {
  const require = createRequire(import.meta.url);
  const S3rver = require('s3rver') as S3rverConstructor;
  const S3Error = require('s3rver/lib/models/error') as S3ErrorConstructor;
  const dataDir = resolve(options.dataDir);
  if (options.fresh) await rm(dataDir, { recursive: true, force: true });
  await mkdir(dataDir, { recursive: true });
  const buckets = [...(options.buckets ?? [DEFAULT_LOCAL_BUCKET])];
  const port = await choosePort(options.port ?? DEFAULT_S3_PORT, 'the local S3 server', '--s3-port');
  const server = new S3rver({
    address: '127.0.0.1',
    // Internal: only the guard talks to it.
    port: 0,
    silent: !options.verbose,
    directory: dataDir,
    configureBuckets: buckets.map((name) => ({ name, configs: [] })),
    // Path-style only: bucket names never come from the Host header.
    vhostBuckets: false,
  });
  // Defence in depth: no path s3rver computes for a bucket or key leaves the data folder.
  // Stream and file errors of uploads become S3 errors of their request: s3rver leaves some of
  // them without a listener, and an unhandled stream 'error' ends the whole local cloud.
  atomicPuts(server.store);
  safeParts(server.store, S3Error);
  confineStore(server.store, dataDir, (message, code = 'InvalidArgument') => new S3Error(code, message));

  // s3rver emits its event synchronously inside the request that stored the object: remember
  // that request, so that the event can say how the object was created.
  const requests = new AsyncLocalStorage<ObjectRequest>();
  server.middleware.unshift((ctx, next) =>
    requests.run(
      {
        method: ctx.method,
        multipartCompletion: ctx.method === 'POST' && ctx.query['uploadId'] !== undefined,
        copy: ctx.headers['x-amz-copy-source'] !== undefined,
      },
      next,
    ),
  );
  // First of all: only requests the guard let through (it adds this run's token).
  const token = randomBytes(32).toString('hex');
  server.middleware.unshift(async (ctx, next) => {
    if (ctx.get(GUARD_TOKEN_HEADER) !== token) {
      throw new S3Error('AccessDenied', 'The local S3 answers on its printed endpoint only.');
    }
    await next();
  });
  const events = options.events;
  if (events) {
    server.on('event', (notification) => {
      for (const record of notification.Records) {
        const request = requests.getStore();
        const event = objectCreatedEvent(record, {
          keyEncoding: 'raw',
          sequencer: nextSequencer(),
          ...(request ? { request } : {}),
        });
        if (event) events.publish(event as unknown as CloudEvent);
      }
    });
  }

  const internal = await server.run();
  const closeS3rver = async () => {
    // close() waits for open keep-alive sockets; drop them first.
    server.httpServer?.closeAllConnections();
    await server.close();
  };
  let guard;
  try {
    guard = await startS3Guard({
      port,
      upstreamPort: internal.port,
      upstreamToken: token,
      credentials: S3RVER_CREDENTIALS,
    });
  } catch (error) {
    await closeS3rver();
    throw error;
  }
  const endpoint = `http://127.0.0.1:${guard.port}`;
  const client = new S3Client(s3ClientConfig(endpoint));
  let stopping: Promise<void> | undefined;
  return {
    endpoint,
    port: guard.port,
    internalPort: internal.port,
    dataDir,
    buckets,
    client,
    stop() {
      return (stopping ??= (async () => {
        client.destroy();
        await guard.close();
        await closeS3rver();
      })());
    },
  };
}

/** The part of s3rver's FilesystemStore a PutObject goes through (lib/stores/filesystem.js). */
interface S3rverPutStore {
  getResourcePath(bucket: string, key?: string, resource?: string): string;
  putObject(object: S3rverObject): Promise<{ size: number; md5: string }>;
  putMetadata(bucket: string, key: string, metadata: unknown, md5?: string): Promise<void>;
}
interface S3rverObject {
  readonly bucket: string;
  readonly key: string;
  readonly content: Buffer | NodeJS.ReadableStream;
  readonly metadata: unknown;
}

/**
 * Makes s3rver's PutObject what S3's is: atomic. s3rver writes the bytes into the key's file in
 * place (and answers before they are all on disk), then its MD5 and metadata files, so concurrent
 * PUTs of one key interleave: the stored object can mix two uploads, or carry one upload's ETag
 * and another's bytes, and a reader can see a truncated file. Here each upload is written whole to
 * a file of its own, then committed (renamed over the key's file, MD5 and metadata written) one
 * commit per key at a time: the key holds exactly one upload, the last one committed, whose event
 * is published last; a reader that opened the file keeps the bytes it opened.
 */
function atomicPuts(store: unknown): void {
  const puts = store as S3rverPutStore;
  const commits = new Map<string, Promise<void>>();
  puts.putObject = async (object) => {
    const objectPath = puts.getResourcePath(object.bucket, object.key, 'object');
    await mkdir(dirname(objectPath), { recursive: true });
    // Not listed: s3rver lists files ending in `._S3rver_object` only. A name of its own, not the
    // key's name plus a suffix: a key's file name may use all the length a name may have.
    const upload = join(dirname(objectPath), `.${randomUUID()}.upload`);
    let written: { size: number; md5: string };
    try {
      written = await writeCounted(object.content, upload);
    } catch (error) {
      await rm(upload, { force: true });
      throw error;
    }
    const digest = written.md5;
    const size = written.size;
    const commit = (commits.get(objectPath) ?? Promise.resolve()).then(async () => {
      try {
        await rename(upload, objectPath);
      } catch (error) {
        await rm(upload, { force: true });
        throw error;
      }
      await puts.putMetadata(object.bucket, object.key, object.metadata, digest);
    });
    const settled = commit.catch(() => undefined);
    commits.set(objectPath, settled);
    try {
      await commit;
    } finally {
      if (commits.get(objectPath) === settled) commits.delete(objectPath);
    }
    return { size, md5: digest };
  };
}

/** Writes `content` to `file`, answering its size and MD5; a stream error rejects (never thrown at large). */
async function writeCounted(
  content: Buffer | NodeJS.ReadableStream,
  file: string,
): Promise<{ size: number; md5: string }> {
  const md5 = createHash('md5');
  let size = 0;
  if (Buffer.isBuffer(content)) {
    md5.update(content);
    size = content.length;
    await writeFile(file, content);
  } else {
    const count = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        md5.update(chunk);
        size += chunk.length;
        callback(null, chunk);
      },
    });
    await pipeline(content, count, createWriteStream(file));
  }
  return { size, md5: md5.digest('hex') };
}

/** The part of s3rver's FilesystemStore multipart uploads go through (lib/stores/filesystem.js). */
interface S3rverPartStore {
  getResourcePath(bucket: string, key?: string, resource?: string): string;
  putObject(object: S3rverObject): Promise<{ size: number; md5: string }>;
  putPart(
    bucket: string,
    uploadId: string,
    partNumber: number | string,
    content: NodeJS.ReadableStream,
  ): Promise<{ size: number; md5: string }>;
  putObjectMultipart(
    bucket: string,
    uploadId: string,
    parts: readonly { number: number; etag: string }[],
  ): Promise<{ size: number; md5: string }>;
}

/** s3rver's object model (lib/models/object.js): picks the metadata an object keeps. */
type S3ObjectConstructor = new (
  bucket: string,
  key: string,
  content: NodeJS.ReadableStream,
  metadata: unknown,
) => S3rverObject;

/**
 * Multipart uploads whose failures are the request's, not the process's. s3rver writes a part
 * through a stream without an error listener, and completes an upload by reading each named part
 * file through streams without one: a CompleteMultipartUpload naming a part never uploaded (or a
 * disk error) threw an uncaught ENOENT that ended the local cloud. Here parts are written and read
 * through pipelines, and a completion is checked first as S3 checks it: the upload exists
 * (`NoSuchUpload`), part numbers ascend (`InvalidPartOrder`), each part was uploaded with the ETag
 * given (`InvalidPart`).
 */
function safeParts(store: unknown, S3Error: S3ErrorConstructor): void {
  const require = createRequire(import.meta.url);
  const S3Object = require('s3rver/lib/models/object') as S3ObjectConstructor;
  const parts = store as S3rverPartStore;
  const uploadDir = (bucket: string, uploadId: string) =>
    join(parts.getResourcePath(bucket, undefined, 'uploads'), uploadId);
  parts.putPart = async (bucket, uploadId, partNumber, content) => {
    const partPath = join(uploadDir(bucket, uploadId), String(partNumber));
    await mkdir(dirname(partPath), { recursive: true });
    let written: { size: number; md5: string };
    try {
      written = await writeCounted(content, partPath);
    } catch (error) {
      await rm(partPath, { force: true });
      throw error;
    }
    await writeFile(`${partPath}.md5`, written.md5);
    return written;
  };
  parts.putObjectMultipart = async (bucket, uploadId, list) => {
    const dir = uploadDir(bucket, uploadId);
    let key: string;
    let metadata: unknown;
    try {
      key = await readFile(join(dir, 'key'), 'utf8');
      metadata = JSON.parse(await readFile(join(dir, 'metadata'), 'utf8')) as unknown;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      throw new S3Error(
        'NoSuchUpload',
        'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.',
      );
    }
    for (let i = 0; i < list.length; i++) {
      const part = list[i]!;
      if (!Number.isInteger(part.number) || (i > 0 && part.number <= list[i - 1]!.number)) {
        throw new S3Error(
          'InvalidPartOrder',
          'The list of parts was not in ascending order. The parts list must be specified in order by part number.',
        );
      }
      const md5 = await readFile(join(dir, `${part.number}.md5`), 'utf8').catch(() => undefined);
      if (md5 === undefined || md5 !== part.etag) {
        throw new S3Error(
          'InvalidPart',
          `One or more of the specified parts could not be found: part ${part.number} was not uploaded${md5 === undefined ? '' : " with the ETag given (the part's ETag does not match)"}.`,
        );
      }
    }
    const content = Readable.from(
      (async function* () {
        for (const part of list) yield* createReadStream(join(dir, String(part.number)));
      })(),
    );
    const result = await parts.putObject(new S3Object(bucket, key, content, metadata));
    await rm(dir, { recursive: true, force: true });
    return result;
  };
}
