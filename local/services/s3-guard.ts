/**
 * The guard in front of the local S3 (issue 15): a small streaming HTTP proxy on the public port,
 * s3rver behind it on an internal loopback port. It refuses, before anything reaches s3rver, what S3
 * would refuse and what only a file-backed S3 must refuse; the rest passes through byte for byte
 * (bodies are piped, never buffered). Where this stands: local runtime, started by `startLocalS3`
 * (local/services/s3-server.ts); nothing else knows it is there. s3rver itself refuses any request
 * that does not carry the guard's per-run token ({@link GUARD_TOKEN_HEADER}), so its internal port
 * is no way around the guard.
 *
 * Refused, in this order:
 * 1. a request target that is not a plain `/path?query` → 400 `InvalidURI`;
 * 2. a Host that is not the one the server printed (`127.0.0.1:<port>` or `localhost:<port>`) →
 *    400 `InvalidHostHeader`: the door DNS rebinding uses;
 * 3. a cross-site browser request: an `Origin` other than the server's own, or `Sec-Fetch-Site`
 *    `cross-site`/`same-site` → 403 `AccessForbidden`;
 * 4. a browser form upload (S3's POST Object: `multipart/form-data`, or any POST to a bucket
 *    other than `?delete`) → 403 `AccessDenied`: the local cloud does not offer POST uploads;
 * 5. a request without a signature → 403 `AccessDenied`; a SigV4 signature (header or presigned
 *    URL) is verified here with s3rver's credentials → 403 `SignatureDoesNotMatch`, … (s3rver
 *    checks only that a SigV4 access key exists, never the signature); a legacy SigV2 one
 *    (`Authorization: AWS …`, `?Signature=`) is left to s3rver, which does verify it;
 * 6. a bucket, key or copy source holding, once percent-decoded until stable, a `.` or `..`
 *    segment, a backslash or a NUL → 400 (`InvalidURI` / `InvalidArgument`); an upload ID that is
 *    not one s3rver makes → 404 `NoSuchUpload`; a part number that is not 1–10000 → 400. S3 itself
 *    stores such keys, but s3rver maps keys to file paths (`path.join(dataDir, bucket, ...key)`);
 * 7. a key longer than S3's 1024 bytes, or with a part too long for a file or folder name here
 *    (ENAMETOOLONG: {@link keyTooLongReason}) → 400 `KeyTooLongError`, naming the local limit.
 *
 * Defence in depth, {@link confineStore}: s3rver's own key → file mapping is checked at run time,
 * so a path it computes outside `<dataDir>/<bucket>` (say from a key in a multi-object DELETE's XML
 * body, which the guard does not read) throws instead of touching the file.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { parse as parseQuery, type ParsedUrlQuery } from 'node:querystring';
import { foreignRequest, headerCount } from './loopback-request';

/** A refusal: the HTTP status and the S3 error code and message the XML body carries. */
export interface GuardRefusal {
  readonly status: number;
  readonly code: string;
  readonly message: string;
}

/** How {@link startS3Guard} sits in front of s3rver: its ports, the token and the accepted credentials. */
export interface S3GuardOptions {
  /** The public port (the one the local cloud prints); 0 picks a free one. */
  readonly port: number;
  /** s3rver's internal loopback port. */
  readonly upstreamPort: number;
  /** Sent to s3rver in {@link GUARD_TOKEN_HEADER} with every request let through. */
  readonly upstreamToken: string;
  /** The only credentials whose SigV4 signatures are accepted (s3rver's). */
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
}

/** A running guard. */
export interface S3Guard {
  readonly port: number;
  readonly server: Server;
  /** Closes the public port and every connection through it. */
  close(): Promise<void>;
}

/** The header that tells s3rver a request came through the guard (any client copy is dropped). */
export const GUARD_TOKEN_HEADER = 'x-mlops-local-guard';

/** How far a SigV4 request's date may be from the server's clock (S3's 15 minutes). */
const MAX_SKEW_MS = 15 * 60 * 1000;
/** The longest a presigned URL may live (S3's 7 days). */
const MAX_PRESIGN_SECONDS = 604_800;

// ---------------------------------------------------------------------------------------------
// Keys as file paths

/**
 * Decodes `%XX` escapes byte by byte, leniently (an invalid escape stays as it is), until the text
 * no longer changes. Bytes above 0x7F become Latin-1 characters: enough to look for `.`, `/`, `\`
 * and NUL, which never occur inside a multi-byte UTF-8 character.
 */
export function percentDecodeUntilStable(text: string): string {
  let current = text;
  for (;;) {
    const next = current.replace(/%([0-9A-Fa-f]{2})/g, (_, hex: string) =>
      String.fromCharCode(parseInt(hex, 16)),
    );
    if (next === current) return current;
    current = next;
  }
}

/**
 * Why a path (a bucket and key, or a copy source) could name a file outside its bucket's folder,
 * or undefined when it cannot: after {@link percentDecodeUntilStable}, no `.` or `..` segment, no
 * backslash (a separator on Windows), no NUL.
 */
export function unsafePathReason(path: string): string | undefined {
  const decoded = percentDecodeUntilStable(path);
  if (decoded.includes('\0')) return 'holds a NUL character';
  if (decoded.includes('\\')) return 'holds a backslash';
  const segments = decoded.split('/');
  if (segments.includes('..')) return "holds a '..' segment";
  if (segments.includes('.')) return "holds a '.' segment";
  return undefined;
}

/** S3's longest key, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 1024;
/** The longest file or folder name the file systems the local cloud runs on take (NAME_MAX), in bytes. */
const NAME_MAX_BYTES = 255;
/** What s3rver appends to a key's last part for its longest file (`<name>._S3rver_metadata.json`). */
const LONGEST_SUFFIX = '._S3rver_metadata.json';
/** The longest last part (file name) of a key the local S3 can store, in UTF-8 bytes. */
export const MAX_KEY_NAME_BYTES = NAME_MAX_BYTES - LONGEST_SUFFIX.length;

/**
 * Why the local S3 cannot store `key` (decoded), or undefined when it can: longer than S3's 1024
 * bytes, or a part longer than a file name may be here. S3 takes any key up to 1024 bytes, but
 * s3rver stores each `/`-separated part as a folder or file name (at most 255 bytes, and the last
 * part carries s3rver's suffix): such a key would fail deep in the file system (ENAMETOOLONG).
 */
export function keyTooLongReason(key: string): string | undefined {
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes > MAX_KEY_BYTES) return `the key is ${bytes} bytes long; S3 keys are at most ${MAX_KEY_BYTES}`;
  const parts = key.split('/');
  const name = parts.pop() ?? '';
  const nameBytes = Buffer.byteLength(name, 'utf8');
  if (nameBytes > MAX_KEY_NAME_BYTES) {
    return `its file name is ${nameBytes} bytes long; the local S3 stores keys as files and takes file names of at most ${MAX_KEY_NAME_BYTES} bytes (S3 itself takes keys up to ${MAX_KEY_BYTES} bytes)`;
  }
  const folder = parts.find((part) => Buffer.byteLength(part, 'utf8') > NAME_MAX_BYTES);
  if (folder !== undefined) {
    return `a folder name in it is ${Buffer.byteLength(folder, 'utf8')} bytes long; the local S3 stores keys as files and takes folder names of at most ${NAME_MAX_BYTES} bytes (S3 itself takes keys up to ${MAX_KEY_BYTES} bytes)`;
  }
  return undefined;
}

/** The characters a request path may hold raw (RFC 3986 `pchar`, `/` and `%`); anything else is refused. */
const RAW_PATH = /^\/[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*$/;

/** Upload IDs as s3rver makes them (`crypto.randomBytes(16).toString('hex')`). */
const UPLOAD_ID = /^[0-9a-f]{32}$/;

/** The part of s3rver's FilesystemStore whose paths {@link confineStore} checks. */
export interface S3rverStore {
  getBucketPath(bucket: string): string;
  getResourcePath(bucket: string, key?: string, resource?: string): string;
  initiateUpload(bucket: string, key: string, uploadId: string, ...rest: unknown[]): Promise<unknown>;
  putPart(bucket: string, uploadId: string, partNumber: unknown, ...rest: unknown[]): Promise<unknown>;
  putObjectMultipart(bucket: string, uploadId: string, ...rest: unknown[]): Promise<unknown>;
}

function within(parent: string, child: string): boolean {
  const rel = relative(parent, child);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}

/**
 * Wraps a running s3rver's store so that every path it computes for a bucket stays a direct child
 * of `dataDir`, every path for a key stays inside its bucket's folder and fits the file system
 * ({@link keyTooLongReason}), and upload IDs are s3rver's own; otherwise the call throws
 * `fail(message, code)` (an s3rver error, answered as XML; `InvalidArgument` unless said).
 */
export function confineStore(
  store: S3rverStore,
  dataDir: string,
  fail: (message: string, code?: 'InvalidArgument' | 'KeyTooLongError') => Error,
): void {
  const root = resolve(dataDir);
  const getBucketPath = store.getBucketPath.bind(store);
  const getResourcePath = store.getResourcePath.bind(store);
  const checkUploadId = (uploadId: unknown): void => {
    if (typeof uploadId !== 'string' || !UPLOAD_ID.test(uploadId)) {
      throw fail(`upload ID ${JSON.stringify(uploadId)} is not one this server made`);
    }
  };
  store.getBucketPath = (bucket) => {
    const path = getBucketPath(bucket);
    if (typeof bucket !== 'string' || !within(root, path) || resolve(path, '..') !== root) {
      throw fail(`bucket ${JSON.stringify(bucket)} would be stored outside the data folder`);
    }
    return path;
  };
  store.getResourcePath = (bucket, key, resource) => {
    const bucketPath = store.getBucketPath(bucket);
    // Keys the guard does not see (a multi-object DELETE's body) meet the same limit here.
    const tooLong = typeof key === 'string' ? keyTooLongReason(key) : undefined;
    if (tooLong) throw fail(`Your key is too long: ${tooLong}.`, 'KeyTooLongError');
    const path = getResourcePath(bucket, key, resource);
    if (!within(bucketPath, path)) {
      throw fail(`key ${JSON.stringify(key)} would be stored outside its bucket's folder`);
    }
    return path;
  };
  const initiateUpload = store.initiateUpload.bind(store);
  store.initiateUpload = (bucket, key, uploadId, ...rest) => {
    checkUploadId(uploadId);
    store.getResourcePath(bucket, key, 'object');
    return initiateUpload(bucket, key, uploadId, ...rest);
  };
  const putPart = store.putPart.bind(store);
  store.putPart = (bucket, uploadId, partNumber, ...rest) => {
    checkUploadId(uploadId);
    if (typeof partNumber !== 'string' && typeof partNumber !== 'number') throw fail('invalid part number');
    if (!/^\d+$/.test(String(partNumber)))
      throw fail(`part number ${JSON.stringify(partNumber)} is not a number`);
    return putPart(bucket, uploadId, partNumber, ...rest);
  };
  const putObjectMultipart = store.putObjectMultipart.bind(store);
  store.putObjectMultipart = (bucket, uploadId, ...rest) => {
    checkUploadId(uploadId);
    return putObjectMultipart(bucket, uploadId, ...rest);
  };
}

// ---------------------------------------------------------------------------------------------
// SigV4

/** RFC 3986 percent-encoding, as SigV4 canonicalises names and values. */
function uriEncode(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** The canonical query string: every parameter but `skip`, names and values encoded, sorted. */
function canonicalQuery(rawQuery: string, skip?: string): string {
  const pairs: [string, string][] = [];
  for (const part of rawQuery.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = safeDecode(eq < 0 ? part : part.slice(0, eq));
    if (name === skip) continue;
    pairs.push([uriEncode(name), uriEncode(safeDecode(eq < 0 ? '' : part.slice(eq + 1)))]);
  }
  pairs.sort(([an, av], [bn, bv]) => (an < bn ? -1 : an > bn ? 1 : av < bv ? -1 : av > bv ? 1 : 0));
  return pairs.map(([n, v]) => `${n}=${v}`).join('&');
}

/**
 * The canonical URIs a client may have signed: S3 signs the path as sent (no normalisation, no
 * second encoding); a client whose wire encoding differs from RFC 3986 still signed the RFC 3986
 * form of the same key.
 */
function canonicalUris(rawPath: string): string[] {
  const normalised = rawPath
    .split('/')
    .map((segment) => uriEncode(safeDecode(segment)))
    .join('/');
  return normalised === rawPath ? [rawPath] : [rawPath, normalised];
}

/** Every value of a header, in order, trimmed and with runs of spaces collapsed, joined by commas. */
function canonicalHeaderValue(req: IncomingMessage, name: string): string | undefined {
  const values: string[] = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    if (req.rawHeaders[i]!.toLowerCase() === name)
      values.push(req.rawHeaders[i + 1]!.trim().replace(/\s+/g, ' '));
  }
  return values.length ? values.join(',') : undefined;
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

function sameHex(a: string, b: string): boolean {
  return a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
}

/** `20240101T000000Z` → a Date (undefined when malformed). */
function parseAmzDate(value: string | undefined): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value ?? '');
  if (!m) return undefined;
  const date = new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!));
  return Number.isNaN(date.getTime()) ? undefined : date;
}

const deny = (status: number, code: string, message: string): GuardRefusal => ({ status, code, message });

interface SigV4Claim {
  readonly credential: string;
  readonly signedHeaders: string;
  readonly signature: string;
  readonly amzDate: string;
  readonly payloadHash: string;
  readonly skipQuery?: string;
}

/**
 * Verifies a SigV4 signature with the given credentials: access key, credential scope, date, the
 * headers signed (Host and every `x-amz-*` header present), and the signature over the canonical
 * request. The payload is not hashed (the signature covers `x-amz-content-sha256` as sent, as
 * s3rver did): bodies stream through unread.
 */
function verifySigV4(
  req: IncomingMessage,
  rawPath: string,
  rawQuery: string,
  claim: SigV4Claim,
  credentials: S3GuardOptions['credentials'],
): GuardRefusal | undefined {
  const [accessKeyId, day, region, service, terminator, ...extra] = claim.credential.split('/');
  if (!accessKeyId || !day || !region || !service || !terminator || extra.length) {
    return deny(400, 'AuthorizationHeaderMalformed', `malformed credential '${claim.credential}'`);
  }
  if (accessKeyId !== credentials.accessKeyId) {
    return deny(
      403,
      'InvalidAccessKeyId',
      'The AWS Access Key Id you provided does not exist in our records.',
    );
  }
  if (service !== 's3' || terminator !== 'aws4_request') {
    return deny(400, 'AuthorizationHeaderMalformed', `the credential scope must end in '/s3/aws4_request'`);
  }
  if (parseAmzDate(claim.amzDate) === undefined || claim.amzDate.slice(0, 8) !== day) {
    return deny(
      400,
      'AuthorizationHeaderMalformed',
      `the credential date '${day}' is not the request's date`,
    );
  }
  const signed = claim.signedHeaders.split(';');
  if (!signed.includes('host')) {
    return deny(400, 'AuthorizationHeaderMalformed', 'the Host header must be signed');
  }
  const unsignedAmz = Object.keys(req.headers).filter(
    (name) =>
      name.startsWith('x-amz-') &&
      !signed.includes(name) &&
      !(claim.skipQuery && name === 'x-amz-content-sha256'),
  );
  if (unsignedAmz.length) {
    return deny(
      403,
      'AccessDenied',
      `There were headers present in the request which were not signed: ${unsignedAmz.join(', ')}`,
    );
  }
  let headerBlock = '';
  for (const name of signed) {
    const value = canonicalHeaderValue(req, name);
    if (value === undefined) return deny(403, 'SignatureDoesNotMatch', `signed header '${name}' is missing`);
    headerBlock += `${name}:${value}\n`;
  }
  const scope = `${day}/${region}/${service}/${terminator}`;
  const key = hmac(hmac(hmac(hmac(`AWS4${credentials.secretAccessKey}`, day), region), service), terminator);
  const query = canonicalQuery(rawQuery, claim.skipQuery);
  for (const uri of canonicalUris(rawPath)) {
    const canonicalRequest = [
      req.method,
      uri,
      query,
      headerBlock,
      claim.signedHeaders,
      claim.payloadHash,
    ].join('\n');
    const stringToSign = [
      'AWS4-HMAC-SHA256',
      claim.amzDate,
      scope,
      createHash('sha256').update(canonicalRequest, 'utf8').digest('hex'),
    ].join('\n');
    if (sameHex(hmac(key, stringToSign).toString('hex'), claim.signature)) return undefined;
  }
  return deny(
    403,
    'SignatureDoesNotMatch',
    'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
  );
}

/** The SigV4 `Authorization` header: `AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`. */
function verifyHeaderSignature(
  req: IncomingMessage,
  rawPath: string,
  rawQuery: string,
  authorization: string,
  credentials: S3GuardOptions['credentials'],
  now: number,
): GuardRefusal | undefined {
  const fields = new Map<string, string>();
  for (const part of authorization.slice(authorization.indexOf(' ') + 1).split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const credential = fields.get('Credential');
  const signedHeaders = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (!credential || !signedHeaders || !signature || fields.size !== 3) {
    return deny(
      400,
      'AuthorizationHeaderMalformed',
      'The authorization header is malformed; it requires three components: Credential, SignedHeaders, and Signature.',
    );
  }
  const payloadHash = req.headers['x-amz-content-sha256'];
  if (typeof payloadHash !== 'string') {
    return deny(400, 'InvalidRequest', 'Missing required header for this request: x-amz-content-sha256');
  }
  // x-amz-date, or else Date (SigV4 takes either).
  const xAmzDate = req.headers['x-amz-date'];
  const httpDate = req.headers.date;
  const amzDate =
    typeof xAmzDate === 'string'
      ? xAmzDate
      : typeof httpDate === 'string' && !Number.isNaN(Date.parse(httpDate))
        ? new Date(httpDate).toISOString().replace(/[-:]|\.\d{3}/g, '')
        : '';
  const date = parseAmzDate(amzDate);
  if (!date)
    return deny(403, 'AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header');
  if (Math.abs(now - date.getTime()) > MAX_SKEW_MS) {
    return deny(
      403,
      'RequestTimeTooSkewed',
      'The difference between the request time and the current time is too large.',
    );
  }
  return verifySigV4(
    req,
    rawPath,
    rawQuery,
    { credential, signedHeaders, signature, amzDate, payloadHash },
    credentials,
  );
}

/** A presigned URL: `X-Amz-Algorithm`, `-Credential`, `-Date`, `-Expires`, `-SignedHeaders`, `-Signature`. */
function verifyQuerySignature(
  req: IncomingMessage,
  rawPath: string,
  rawQuery: string,
  query: ParsedUrlQuery,
  credentials: S3GuardOptions['credentials'],
  now: number,
): GuardRefusal | undefined {
  const one = (name: string): string | undefined => {
    const value = query[name];
    return typeof value === 'string' ? value : undefined;
  };
  const [algorithm, credential, amzDate, expires, signedHeaders, signature] = [
    'X-Amz-Algorithm',
    'X-Amz-Credential',
    'X-Amz-Date',
    'X-Amz-Expires',
    'X-Amz-SignedHeaders',
    'X-Amz-Signature',
  ].map(one);
  if (
    algorithm !== 'AWS4-HMAC-SHA256' ||
    !credential ||
    !amzDate ||
    !expires ||
    !signedHeaders ||
    !signature
  ) {
    return deny(
      400,
      'AuthorizationQueryParametersError',
      'Query-string authentication version 4 requires the X-Amz-Algorithm (AWS4-HMAC-SHA256), X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters, once each.',
    );
  }
  const date = parseAmzDate(amzDate);
  const seconds = /^\d+$/.test(expires) ? Number(expires) : NaN;
  if (!date || !(seconds >= 1 && seconds <= MAX_PRESIGN_SECONDS)) {
    return deny(400, 'AuthorizationQueryParametersError', 'X-Amz-Date or X-Amz-Expires is invalid');
  }
  if (now > date.getTime() + seconds * 1000) return deny(403, 'AccessDenied', 'Request has expired');
  if (date.getTime() - now > MAX_SKEW_MS) return deny(403, 'AccessDenied', 'Request is not yet valid');
  return verifySigV4(
    req,
    rawPath,
    rawQuery,
    {
      credential,
      signedHeaders,
      signature,
      amzDate,
      payloadHash: one('X-Amz-Content-Sha256') ?? 'UNSIGNED-PAYLOAD',
      skipQuery: 'X-Amz-Signature',
    },
    credentials,
  );
}

// ---------------------------------------------------------------------------------------------
// The checks

function isFormPost(req: IncomingMessage, rawPath: string, query: ParsedUrlQuery): boolean {
  if (req.method !== 'POST') return false;
  const contentType = String(req.headers['content-type'] ?? '')
    .trim()
    .toLowerCase();
  if (contentType.startsWith('multipart/form-data')) return true;
  // s3rver's POST Object route is `POST /<bucket>` without `?delete`, whatever the content type.
  const bucketOnly = /^\/[^/]+\/?$/.test(rawPath);
  return bucketOnly && !('delete' in query);
}

/**
 * Decides whether a request may reach s3rver: undefined when it may, the refusal otherwise. Reads
 * the request line and headers only.
 */
export function checkRequest(
  req: IncomingMessage,
  options: Pick<S3GuardOptions, 'port' | 'credentials'>,
  now: number = Date.now(),
): GuardRefusal | undefined {
  const target = req.url ?? '';
  const q = target.indexOf('?');
  const rawPath = q < 0 ? target : target.slice(0, q);
  const rawQuery = q < 0 ? '' : target.slice(q + 1);
  if (!RAW_PATH.test(rawPath)) {
    return deny(
      400,
      'InvalidURI',
      "Couldn't parse the specified URI: the path must be '/<bucket>/<key>', percent-encoded.",
    );
  }

  // Host: S3 answers a Host it does not serve with 400 InvalidHostHeader (its code for a Host that
  // does not fit its addressing); a refusal before anything else is what stops DNS rebinding.
  // Cross-site browser requests: S3 refuses a CORS request its bucket's rules do not allow with 403
  // AccessForbidden; the local buckets allow none but the server's own origin.
  const foreign = foreignRequest(req, options.port);
  if (foreign?.reason === 'host') return deny(400, 'InvalidHostHeader', foreign.message);
  if (foreign) return deny(403, 'AccessForbidden', `CORSResponse: ${foreign.message}`);

  const query = parseQuery(rawQuery);
  if (isFormPost(req, rawPath, query)) {
    return deny(
      403,
      'AccessDenied',
      'Browser form uploads (POST Object, multipart/form-data) are not offered by the local cloud: upload with PUT (the SDK, the AWS CLI).',
    );
  }

  // Signature: exactly one mechanism, as S3 requires.
  const keys = Object.keys(query);
  const authorizations = headerCount(req, 'authorization');
  const v4Query = keys.some((k) => /^x-amz-(algorithm|credential|signature|signedheaders)$/i.test(k));
  const v2Query = keys.includes('Signature');
  const mechanisms = (authorizations > 0 ? 1 : 0) + (v4Query ? 1 : 0) + (v2Query ? 1 : 0);
  if (mechanisms === 0) {
    return deny(
      403,
      'AccessDenied',
      'Access Denied: the request is not signed (SigV4 Authorization header or presigned URL required).',
    );
  }
  if (mechanisms > 1 || authorizations > 1) {
    return deny(
      400,
      'InvalidArgument',
      'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified',
    );
  }
  let refused: GuardRefusal | undefined;
  if (authorizations) {
    const authorization = String(req.headers.authorization);
    // Classified as s3rver does (first space-separated word, any case), so that what is not
    // verified here is verified there.
    const scheme = authorization.split(' ')[0]!.toUpperCase();
    if (scheme === 'AWS4-HMAC-SHA256') {
      refused = verifyHeaderSignature(req, rawPath, rawQuery, authorization, options.credentials, now);
    } else if (scheme !== 'AWS') {
      refused = deny(400, 'InvalidArgument', 'Unsupported Authorization Type');
    }
  } else if (v4Query) {
    refused = verifyQuerySignature(req, rawPath, rawQuery, query, options.credentials, now);
  }
  if (refused) return refused;

  // Keys are file paths here.
  const pathReason = unsafePathReason(rawPath);
  if (pathReason) {
    return deny(
      400,
      'InvalidURI',
      `The bucket or key in '${rawPath}' ${pathReason}: the local S3 stores keys as file paths and refuses '.' and '..' segments, backslashes and NUL (even percent-encoded).`,
    );
  }
  const copySources = [
    req.headers['x-amz-copy-source'],
    ...keys.filter((k) => k.toLowerCase() === 'x-amz-copy-source').map((k) => query[k]),
  ].flatMap((v) => (v === undefined ? [] : Array.isArray(v) ? v : [v]));
  for (const source of copySources) {
    const reason = unsafePathReason(source);
    if (reason) {
      return deny(
        400,
        'InvalidArgument',
        `The copy source '${source}' ${reason}: the local S3 stores keys as file paths.`,
      );
    }
  }
  // Keys are file names here: one too long for the file system is refused with S3's own code
  // before s3rver fails on it (ENAMETOOLONG).
  const slash = rawPath.indexOf('/', 1);
  const key = slash < 0 ? '' : safeDecode(rawPath.slice(slash + 1));
  const tooLong = key === '' ? undefined : keyTooLongReason(key);
  if (tooLong) return deny(400, 'KeyTooLongError', `Your key is too long: ${tooLong}.`);
  if ('uploadId' in query && (typeof query['uploadId'] !== 'string' || !UPLOAD_ID.test(query['uploadId']))) {
    return deny(404, 'NoSuchUpload', 'The specified upload does not exist.');
  }
  if ('partNumber' in query) {
    const part = query['partNumber'];
    if (typeof part !== 'string' || !/^[1-9]\d{0,4}$/.test(part) || Number(part) > 10_000) {
      return deny(400, 'InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive');
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// The proxy

/** Escapes text for an XML element, dropping the control characters XML 1.0 cannot hold. */
function escapeXml(text: string): string {
  let out = '';
  for (const c of text) {
    const code = c.codePointAt(0)!;
    if (code < 0x20 && c !== '\t' && c !== '\n' && c !== '\r') continue;
    out += /[<>&'"]/.test(c) ? `&#${code};` : c;
  }
  return out;
}

function respondRefusal(req: IncomingMessage, res: ServerResponse, refusal: GuardRefusal): void {
  const requestId = randomBytes(8).toString('hex').toUpperCase();
  const body =
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<Error><Code>${escapeXml(refusal.code)}</Code><Message>${escapeXml(refusal.message)}</Message>` +
    `<Resource>${escapeXml((req.url ?? '').split('?')[0]!)}</Resource><RequestId>${requestId}</RequestId></Error>`;
  res.writeHead(refusal.status, {
    'content-type': 'application/xml',
    'content-length': Buffer.byteLength(body),
    'x-amz-request-id': requestId,
    // The body of a refused request is never read: do not reuse the connection.
    connection: 'close',
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

/** Hop-by-hop headers (RFC 9110 §7.6.1), never forwarded; `expect` is answered by the guard. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'upgrade',
  'expect',
]);

function forwardable(raw: string[], also: readonly string[] = []): string[] {
  const connection = new Set<string>();
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() === 'connection') {
      for (const token of raw[i + 1]!.split(',')) connection.add(token.trim().toLowerCase());
    }
  }
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (HOP_BY_HOP.has(name) || connection.has(name) || also.includes(name)) continue;
    out.push(raw[i]!, raw[i + 1]!);
  }
  return out;
}

/** Starts the guard on 127.0.0.1:`port`, forwarding what it lets through to 127.0.0.1:`upstreamPort`. */
export async function startS3Guard(options: S3GuardOptions): Promise<S3Guard> {
  // Keep-alive to s3rver, but never reuse a socket idle long enough for s3rver (Node's 5 s
  // keepAliveTimeout) to be closing it: that race would fail a request with ECONNRESET.
  const agent = new Agent({ keepAlive: true, timeout: 2_000 });

  let port = options.port;
  const handle = (req: IncomingMessage, res: ServerResponse, expectsContinue: boolean): void => {
    let refusal: GuardRefusal | undefined;
    try {
      refusal = checkRequest(req, { port, credentials: options.credentials });
    } catch (error) {
      refusal = deny(500, 'InternalError', `The local S3 guard failed: ${(error as Error).message}`);
    }
    if (refusal) {
      respondRefusal(req, res, refusal);
      return;
    }
    if (expectsContinue) res.writeContinue();
    const upstream = httpRequest({
      host: '127.0.0.1',
      port: options.upstreamPort,
      method: req.method,
      path: req.url,
      headers: [
        ...forwardable(req.rawHeaders, [GUARD_TOKEN_HEADER]),
        GUARD_TOKEN_HEADER,
        options.upstreamToken,
      ],
      agent,
    });
    upstream.on('response', (answer) => {
      res.writeHead(
        answer.statusCode ?? 502,
        answer.statusMessage,
        forwardable(answer.rawHeaders, ['transfer-encoding']),
      );
      answer.pipe(res);
      answer.on('error', (error) => res.destroy(error));
    });
    upstream.on('error', (error) => {
      if (res.destroyed || res.writableEnded) return;
      if (!res.headersSent) {
        respondRefusal(req, res, deny(500, 'InternalError', `The local S3 server failed: ${error.message}`));
      } else {
        res.destroy(error);
      }
    });
    // A client that goes away takes its upstream request with it.
    req.on('error', () => upstream.destroy());
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  };

  const server = createServer();
  server.on('request', (req: IncomingMessage, res: ServerResponse) => handle(req, res, false));
  // Answered here, so that a refused upload is refused before its body is sent.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => handle(req, res, true));
  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(options.port, '127.0.0.1', () => {
      server.off('error', fail);
      done();
    });
  });
  port = (server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  return {
    port,
    server,
    close() {
      return (closing ??= new Promise<void>((done) => {
        server.close(() => done());
        server.closeAllConnections();
        agent.destroy();
      }));
    },
  };
}
