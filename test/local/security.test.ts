/**
 * The local cloud is safe to run on a laptop (issue 15): each case a probe of `npm run local` found
 * is replayed against the local S3 API and must be refused, and nothing outside the data folder may
 * change. Malicious requests go out through raw `http.request` (fetch would normalise `..` and set
 * the Host itself); where a case needs a valid signature, it is made by the SDK's own SigV4 signer
 * (`@smithy/signature-v4`), so that the refusal is the guard's, not a bad signature's.
 */
import { execFile } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { isAbsolute, join, relative, sep } from 'node:path';
import { promisify } from 'node:util';
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { LOCAL_REGION, type CloudEvent } from '../../local/contracts';
import { confineStore, unsafePathReason, type S3rverStore } from '../../local/services/s3-guard';
import {
  S3RVER_CREDENTIALS,
  s3ClientConfig,
  startLocalS3,
  type LocalS3,
} from '../../local/services/s3-server';

const BUCKET = 'mlops-local-data';
const SECRET = 'TOP SECRET: planted outside the data folder';

/** SHA-256 (and its HMAC) for the SDK signer, from node:crypto. */
type SourceData = string | ArrayBuffer | ArrayBufferView;
function bytes(data: SourceData): string | Buffer {
  if (typeof data === 'string') return data;
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}
class Sha256 {
  private readonly hash;
  constructor(secret?: SourceData) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: SourceData): void {
    this.hash.update(bytes(data));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.hash.digest()));
  }
}

function signer(secretAccessKey: string = S3RVER_CREDENTIALS.secretAccessKey): SignatureV4 {
  return new SignatureV4({
    service: 's3',
    region: LOCAL_REGION,
    credentials: { accessKeyId: S3RVER_CREDENTIALS.accessKeyId, secretAccessKey },
    sha256: Sha256,
    // S3: the path is signed as sent, never normalised (so a raw `..` stays in the request).
    uriEscapePath: false,
    applyChecksum: true,
  });
}

/** RFC 3986 encoding, as S3 clients encode query strings. */
function rfc3986(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

interface RawRequest {
  readonly method: string;
  /** Sent exactly as given (no normalisation). */
  readonly path: string;
  readonly query?: Record<string, string>;
  readonly headers?: Record<string, string>;
  readonly body?: string | Buffer;
  /** `'v4'` (default): signed with SigV4 by the SDK's signer; `'presign'`: a presigned URL; false: unsigned. */
  readonly sign?: 'v4' | 'presign' | false;
  /** Secret to sign with. @default s3rver's */
  readonly secret?: string;
  /** Headers set after signing (so not covered by the signature's intent, e.g. a foreign Origin). */
  readonly after?: Record<string, string>;
}

interface RawResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** The `<Code>` of an S3 XML error body. */
function errorCode(response: RawResponse): string | undefined {
  return /<Code>([^<]*)<\/Code>/.exec(response.body)?.[1];
}

describe('local S3 guard (issue 15)', () => {
  let root: string;
  let dataDir: string;
  let outside: string;
  let s3: LocalS3;
  let port: number;
  const events: CloudEvent[] = [];

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'mlops-s3-security-'));
    dataDir = join(root, 's3');
    outside = join(root, 'outside');
    s3 = await startLocalS3({
      dataDir,
      port: 0,
      buckets: [BUCKET],
      events: { publish: (e) => events.push(e) },
    });
    port = Number(new URL(s3.endpoint).port);
  });
  afterAll(async () => {
    await s3?.stop();
    await rm(root, { recursive: true, force: true });
  });

  /** The files planted beside the data folder: `<root>/outside/secret` as s3rver would name an object. */
  async function plant(): Promise<void> {
    await rm(outside, { recursive: true, force: true });
    await mkdir(outside, { recursive: true });
    await writeFile(join(outside, 'secret._S3rver_object'), SECRET);
    await writeFile(join(outside, 'secret._S3rver_metadata.json'), '{"content-type":"text/plain"}');
    await writeFile(
      join(outside, 'secret._S3rver_object.md5'),
      createHash('md5').update(SECRET).digest('hex'),
    );
    await writeFile(join(root, 'secret._S3rver_object'), SECRET);
  }

  /** Every file and folder under the test's root but outside the data folder, with its content. */
  async function outsideSnapshot(): Promise<Record<string, string>> {
    const found: Record<string, string> = {};
    async function walk(dir: string): Promise<void> {
      for (const entry of await readdir(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (path === dataDir) continue;
        if (entry.isDirectory()) {
          found[`${relative(root, path)}/`] = '';
          await walk(path);
        } else {
          found[relative(root, path)] = await readFile(path, 'utf8');
        }
      }
    }
    await walk(root);
    return found;
  }

  let before: Record<string, string>;
  beforeEach(async () => {
    events.length = 0;
    await plant();
    before = await outsideSnapshot();
  });
  afterEach(async () => {
    // Whatever a case did, nothing outside the data folder changed, appeared or disappeared.
    expect(await outsideSnapshot()).toEqual(before);
    expect(existsSync(join(outside, 'secret._S3rver_object'))).toBe(true);
  });

  async function send(spec: RawRequest, timeoutMs = 10_000): Promise<RawResponse> {
    const host = spec.headers?.['host'] ?? `127.0.0.1:${port}`;
    let headers: Record<string, string> = { ...spec.headers, host };
    let query: Record<string, string> = { ...spec.query };
    const sign = spec.sign ?? 'v4';
    if (sign) {
      const unsigned = {
        method: spec.method,
        protocol: 'http:',
        hostname: '127.0.0.1',
        port,
        path: spec.path,
        query,
        headers,
        ...(spec.body !== undefined ? { body: spec.body } : {}),
      };
      const signed =
        sign === 'presign'
          ? // As @aws-sdk/s3-request-presigner does: the payload is UNSIGNED-PAYLOAD.
            await signer(spec.secret).presign(
              { ...unsigned, headers: { ...headers, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } },
              { expiresIn: 300 },
            )
          : await signer(spec.secret).sign(unsigned);
      headers = { ...(signed.headers as Record<string, string>) };
      query = { ...(signed.query as Record<string, string>) };
    }
    headers = { ...headers, ...spec.after };
    if (spec.body !== undefined && headers['content-length'] === undefined) {
      headers['content-length'] = String(Buffer.byteLength(spec.body));
    }
    const search = Object.entries(query)
      .map(([k, v]) => `${rfc3986(k)}=${rfc3986(v)}`)
      .join('&');
    return new Promise<RawResponse>((resolve, reject) => {
      const req = httpRequest({
        host: '127.0.0.1',
        port,
        method: spec.method,
        path: search ? `${spec.path}?${search}` : spec.path,
        headers,
        agent: false,
        timeout: timeoutMs,
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('error', reject);
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode!,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      });
      req.end(spec.body);
    });
  }

  async function exists(key: string): Promise<boolean> {
    try {
      await s3.client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
      return true;
    } catch (error) {
      if ((error as { name?: string }).name === 'NotFound') return false;
      throw error;
    }
  }

  function expectRefused(response: RawResponse, status: number, code: string): void {
    expect({ status: response.status, code: errorCode(response) }).toEqual({ status, code });
    expect(response.headers['content-type']).toMatch(/xml/);
    expect(response.body).not.toContain(SECRET);
  }

  describe('keys that would map outside the data folder (signed requests)', () => {
    const traversals: [string, string][] = [
      ['raw ..', '../../outside/secret'],
      ['%2E%2E', '%2E%2E/%2E%2E/outside/secret'],
      ['%2e%2e lower case', '%2e%2e/%2e%2e/outside/secret'],
      ['double-encoded %252E%252E', '%252E%252E/%252E%252E/outside/secret'],
      ['triple-encoded %25252E', '%25252E%25252E/%25252E%25252E/outside/secret'],
      ['encoded slashes ..%2F', '..%2F..%2Foutside%2Fsecret'],
      ['mixed .%2E', '.%2E/%2E./outside/secret'],
      ['one level up, into the data folder', '../secret'],
      ['a . segment', 'datasets/./x.csv'],
    ];

    it.each(traversals)('refuses a PUT with %s', async (_, key) => {
      const response = await send({ method: 'PUT', path: `/${BUCKET}/${key}`, body: 'a,label\n1,0\n' });
      expectRefused(response, 400, 'InvalidURI');
      expect(events).toEqual([]);
    });

    it.each(traversals)('refuses a GET with %s', async (_, key) => {
      const response = await send({ method: 'GET', path: `/${BUCKET}/${key}` });
      expectRefused(response, 400, 'InvalidURI');
    });

    it.each(traversals)('refuses a HEAD with %s', async (_, key) => {
      const response = await send({ method: 'HEAD', path: `/${BUCKET}/${key}` });
      expect(response.status).toBe(400);
    });

    it.each(traversals)('refuses a DELETE with %s', async (_, key) => {
      const response = await send({ method: 'DELETE', path: `/${BUCKET}/${key}` });
      expectRefused(response, 400, 'InvalidURI');
    });

    it('refuses a backslash or a NUL in a key (raw or encoded)', async () => {
      for (const key of [
        'datasets\\x.csv',
        'datasets/%5C..%5Cx.csv',
        'datasets/x%00.csv',
        'datasets/x%2500.csv',
      ]) {
        const response = await send({ method: 'PUT', path: `/${BUCKET}/${key}`, body: 'a\n' });
        expectRefused(response, 400, 'InvalidURI');
      }
    });

    it('refuses a bucket name that walks out of the data folder (a DELETE would remove a folder)', async () => {
      for (const [method, path] of [
        ['DELETE', '/..%2Foutside'],
        ['DELETE', '/%2E%2E%2Foutside'],
        ['PUT', '/%2E%2E%2Fnew-bucket'],
        ['GET', '/..%2Foutside'],
        ['PUT', '/..'],
      ] as const) {
        const response = await send({ method, path });
        expectRefused(response, 400, 'InvalidURI');
      }
    });

    it('refuses a copy source outside the data folder (it would copy a planted file into the bucket)', async () => {
      for (const source of [
        `/${BUCKET}/../../outside/secret`,
        `${BUCKET}/%2E%2E/%2E%2E/outside/secret`,
        `/${BUCKET}/datasets/x.csv?versionId=../../../outside/secret`,
      ]) {
        const response = await send({
          method: 'PUT',
          path: `/${BUCKET}/datasets/stolen.csv`,
          headers: { 'x-amz-copy-source': source },
        });
        expectRefused(response, 400, 'InvalidArgument');
        expect(await exists('datasets/stolen.csv')).toBe(false);
      }
    });

    it('refuses an upload ID or part number that is a path', async () => {
      const response = await send({
        method: 'PUT',
        path: `/${BUCKET}/datasets/parts.csv`,
        query: { partNumber: '1', uploadId: '../../../outside/upload' },
        body: 'part',
      });
      expectRefused(response, 404, 'NoSuchUpload');
      const part = await send({
        method: 'PUT',
        path: `/${BUCKET}/datasets/parts.csv`,
        query: { partNumber: '../../../../outside/part', uploadId: '0123456789abcdef0123456789abcdef' },
        body: 'part',
      });
      expectRefused(part, 400, 'InvalidArgument');
    });

    it('refuses a multi-object DELETE naming a key outside the data folder (keys in the XML body)', async () => {
      for (const key of ['../../outside/secret', '&#46;&#46;/&#46;&#46;/outside/secret']) {
        const body = `<?xml version="1.0" encoding="UTF-8"?><Delete><Object><Key>${key}</Key></Object></Delete>`;
        const response = await send({
          method: 'POST',
          path: `/${BUCKET}`,
          query: { delete: '' },
          headers: {
            'content-type': 'application/xml',
            'content-md5': createHash('md5').update(body).digest('base64'),
          },
          body,
        });
        expectRefused(response, 400, 'InvalidArgument');
      }
      // The SDK's own request, for good measure.
      await expect(
        s3.client.send(
          new DeleteObjectsCommand({
            Bucket: BUCKET,
            Delete: { Objects: [{ Key: '../../outside/secret' }] },
          }),
        ),
      ).rejects.toMatchObject({ $metadata: { httpStatusCode: 400 } });
    });
  });

  describe('unsigned requests', () => {
    it('refuses an unsigned PUT: nothing is stored, no event', async () => {
      const response = await send({
        method: 'PUT',
        path: `/${BUCKET}/datasets/unsigned/data.csv`,
        body: 'a,label\n1,0\n',
        sign: false,
      });
      expectRefused(response, 403, 'AccessDenied');
      expect(await exists('datasets/unsigned/data.csv')).toBe(false);
      expect(events).toEqual([]);
    });

    it('refuses an unsigned PUT that overwrites a model config', async () => {
      await s3.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'models/m/config.json', Body: '{}' }));
      const response = await send({
        method: 'PUT',
        path: `/${BUCKET}/models/m/config.json`,
        body: '{"evil":true}',
        sign: false,
      });
      expectRefused(response, 403, 'AccessDenied');
      const got = await s3.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'models/m/config.json' }));
      expect(await got.Body!.transformToString()).toBe('{}');
    });

    it('refuses an unsigned DELETE: the object is still there', async () => {
      await s3.client.send(
        new PutObjectCommand({ Bucket: BUCKET, Key: 'datasets/raw/keep.csv', Body: 'a,label\n1,0\n' }),
      );
      const response = await send({
        method: 'DELETE',
        path: `/${BUCKET}/datasets/raw/keep.csv`,
        sign: false,
      });
      expectRefused(response, 403, 'AccessDenied');
      expect(await exists('datasets/raw/keep.csv')).toBe(true);
    });

    it('refuses unsigned reads and listings too', async () => {
      expectRefused(
        await send({ method: 'GET', path: `/${BUCKET}/models/m/config.json`, sign: false }),
        403,
        'AccessDenied',
      );
      expectRefused(await send({ method: 'GET', path: `/${BUCKET}`, sign: false }), 403, 'AccessDenied');
      expectRefused(await send({ method: 'GET', path: '/', sign: false }), 403, 'AccessDenied');
    });

    it('answers an unsigned 100 MB upload before its body is sent (Expect: 100-continue, nothing buffered)', async () => {
      const started = Date.now();
      const response = await new Promise<number>((resolve, reject) => {
        const req = httpRequest({
          host: '127.0.0.1',
          port,
          method: 'PUT',
          path: `/${BUCKET}/datasets/big/unsigned.csv`,
          headers: { 'content-length': String(100 * 1024 * 1024), expect: '100-continue' },
          agent: false,
          timeout: 5_000,
        });
        req.on('timeout', () => req.destroy(new Error('no answer within 5 s')));
        req.on('continue', () => reject(new Error('the server asked for the body of an unsigned request')));
        req.on('response', (res) => {
          res.resume();
          resolve(res.statusCode!);
        });
        req.on('error', reject);
        req.flushHeaders();
      });
      expect(response).toBe(403);
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(await exists('datasets/big/unsigned.csv')).toBe(false);
    });
  });

  describe('signatures', () => {
    it('refuses a PUT signed with a wrong secret (SDK)', async () => {
      const wrong = new S3Client({
        ...s3ClientConfig(s3.endpoint),
        credentials: { accessKeyId: S3RVER_CREDENTIALS.accessKeyId, secretAccessKey: 'not-the-secret' },
      });
      try {
        await expect(
          wrong.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'datasets/wrong/data.csv', Body: 'a\n' })),
        ).rejects.toMatchObject({ name: 'SignatureDoesNotMatch', $metadata: { httpStatusCode: 403 } });
        await expect(
          wrong.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'models/m/config.json' })),
        ).rejects.toMatchObject({
          name: 'SignatureDoesNotMatch',
        });
      } finally {
        wrong.destroy();
      }
      expect(await exists('datasets/wrong/data.csv')).toBe(false);
      expect(events).toEqual([]);
    });

    it('refuses an unknown access key', async () => {
      const stranger = new S3Client({
        ...s3ClientConfig(s3.endpoint),
        credentials: { accessKeyId: 'AKIDSTRANGER', secretAccessKey: S3RVER_CREDENTIALS.secretAccessKey },
      });
      try {
        await expect(
          stranger.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'datasets/stranger.csv', Body: 'a\n' })),
        ).rejects.toMatchObject({ name: 'InvalidAccessKeyId', $metadata: { httpStatusCode: 403 } });
      } finally {
        stranger.destroy();
      }
    });

    it('refuses a request whose signature was made for another key, method or header', async () => {
      const signed = await signer().sign({
        method: 'PUT',
        protocol: 'http:',
        hostname: '127.0.0.1',
        port,
        path: `/${BUCKET}/datasets/a.csv`,
        query: {},
        headers: { host: `127.0.0.1:${port}`, 'x-amz-meta-origin': 'test' },
        body: 'a\n',
      });
      const replay = (path: string, method: string, extra: Record<string, string> = {}) =>
        send({
          method,
          path,
          sign: false,
          headers: { ...(signed.headers as Record<string, string>), ...extra },
          body: 'a\n',
        });
      expectRefused(await replay(`/${BUCKET}/datasets/b.csv`, 'PUT'), 403, 'SignatureDoesNotMatch');
      expectRefused(await replay(`/${BUCKET}/datasets/a.csv`, 'POST'), 403, 'SignatureDoesNotMatch');
      expectRefused(
        await replay(`/${BUCKET}/datasets/a.csv`, 'PUT', { 'x-amz-meta-origin': 'tampered' }),
        403,
        'SignatureDoesNotMatch',
      );
      expect(await exists('datasets/b.csv')).toBe(false);
      // The untouched request passes.
      expect((await replay(`/${BUCKET}/datasets/a.csv`, 'PUT')).status).toBe(200);
    });

    it('accepts a presigned GET and refuses it signed with a wrong secret, sent for another key, or expired', async () => {
      await s3.client.send(
        new PutObjectCommand({ Bucket: BUCKET, Key: 'datasets/p/x.csv', Body: 'p,label\n' }),
      );
      const ok = await send({ method: 'GET', path: `/${BUCKET}/datasets/p/x.csv`, sign: 'presign' });
      expect({ status: ok.status, body: ok.body }).toEqual({ status: 200, body: 'p,label\n' });
      const wrong = await send({
        method: 'GET',
        path: `/${BUCKET}/datasets/p/x.csv`,
        sign: 'presign',
        secret: 'not-the-secret',
      });
      expectRefused(wrong, 403, 'SignatureDoesNotMatch');
      // A presigned URL for one key, sent for another.
      const signed = await signer().presign(
        {
          method: 'GET',
          protocol: 'http:',
          hostname: '127.0.0.1',
          port,
          path: `/${BUCKET}/datasets/p/x.csv`,
          query: {},
          headers: { host: `127.0.0.1:${port}`, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
        },
        { expiresIn: 300 },
      );
      const query = signed.query as Record<string, string>;
      expectRefused(
        await send({ method: 'GET', path: `/${BUCKET}/models/m/config.json`, sign: false, query }),
        403,
        'SignatureDoesNotMatch',
      );
      // Expired.
      const old = await signer().presign(
        {
          method: 'GET',
          protocol: 'http:',
          hostname: '127.0.0.1',
          port,
          path: `/${BUCKET}/datasets/p/x.csv`,
          query: {},
          headers: { host: `127.0.0.1:${port}`, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
        },
        { expiresIn: 60, signingDate: new Date(Date.now() - 3_600_000) },
      );
      expectRefused(
        await send({
          method: 'GET',
          path: `/${BUCKET}/datasets/p/x.csv`,
          sign: false,
          query: old.query as Record<string, string>,
        }),
        403,
        'AccessDenied',
      );
    });

    it('refuses a half signature s3rver would have taken for none, or a SigV4 header it would not check', async () => {
      // X-Amz-Signature without X-Amz-Algorithm: s3rver sees no auth mechanism at all.
      const half = await send({
        method: 'PUT',
        path: `/${BUCKET}/datasets/half/data.csv`,
        sign: false,
        query: { 'X-Amz-Signature': 'a'.repeat(64) },
        body: 'a\n',
      });
      expectRefused(half, 400, 'AuthorizationQueryParametersError');
      // A made-up SigV4 header (s3rver only looks the access key up).
      const fake = await send({
        method: 'PUT',
        path: `/${BUCKET}/datasets/half/data.csv`,
        sign: false,
        headers: {
          authorization: `aws4-hmac-sha256 Credential=S3RVER/20240101/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=${'0'.repeat(64)}`,
          'x-amz-date': new Date().toISOString().replace(/[-:]|\.\d{3}/g, ''),
          'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
        },
        body: 'a\n',
      });
      expect(fake.status).toBeGreaterThanOrEqual(400);
      expect(fake.status).toBeLessThan(500);
      // Two mechanisms at once.
      const both = await send({
        method: 'GET',
        path: `/${BUCKET}/datasets/p/x.csv`,
        query: { Signature: 'x', AWSAccessKeyId: 'S3RVER', Expires: '9999999999' },
      });
      expectRefused(both, 400, 'InvalidArgument');
      expect(await exists('datasets/half/data.csv')).toBe(false);
    });

    it('leaves legacy SigV2 (`Authorization: AWS …`) to s3rver, which verifies it', async () => {
      await s3.client.send(
        new PutObjectCommand({ Bucket: BUCKET, Key: 'datasets/v2/x.csv', Body: 'v2,label\n' }),
      );
      const v2 = (secret: string) => {
        const date = new Date().toUTCString();
        // s3rver's SigV2 string to sign leaves the Date line empty (a genuine SigV2 client signs
        // the date, and s3rver refuses it): what matters here is that the secret is checked.
        const stringToSign = ['GET', '', '', '', `/${BUCKET}/datasets/v2/x.csv`].join('\n');
        const signature = createHmac('sha1', secret).update(stringToSign).digest('base64');
        return send({
          method: 'GET',
          path: `/${BUCKET}/datasets/v2/x.csv`,
          sign: false,
          headers: { date, authorization: `AWS ${S3RVER_CREDENTIALS.accessKeyId}:${signature}` },
        });
      };
      const good = await v2(S3RVER_CREDENTIALS.secretAccessKey);
      expect({ status: good.status, body: good.body }).toEqual({ status: 200, body: 'v2,label\n' });
      expectRefused(await v2('not-the-secret'), 403, 'SignatureDoesNotMatch');
    });
  });

  describe('browser requests', () => {
    it('refuses an HTML form POST (POST Object): nothing is stored', async () => {
      const boundary = '----formboundary7MA4YWxkTrZu0gW';
      const body = [
        `--${boundary}`,
        'Content-Disposition: form-data; name="key"',
        '',
        'datasets/form/data.csv',
        `--${boundary}`,
        'Content-Disposition: form-data; name="file"; filename="data.csv"',
        'Content-Type: text/csv',
        '',
        'a,label\n1,0\n',
        `--${boundary}--`,
        '',
      ].join('\r\n');
      for (const origin of [undefined, 'http://attacker.example', 'null']) {
        const response = await send({
          method: 'POST',
          path: `/${BUCKET}`,
          sign: false,
          headers: {
            'content-type': `multipart/form-data; boundary=${boundary}`,
            ...(origin ? { origin } : {}),
          },
          body,
        });
        expect(response.status).toBe(403);
        expect(errorCode(response)).toMatch(/^Access(Denied|Forbidden)$/);
      }
      // Even signed, a form POST is not offered.
      const signed = await send({
        method: 'POST',
        path: `/${BUCKET}`,
        headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
        body,
      });
      expectRefused(signed, 403, 'AccessDenied');
      expect(signed.body).toMatch(/form/i);
      expect(await exists('datasets/form/data.csv')).toBe(false);
      expect(events).toEqual([]);
    });

    it('refuses a foreign Host (the DNS-rebinding door), even on a signed request', async () => {
      await s3.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'datasets/h/x.csv', Body: 'h\n' }));
      for (const host of [
        'attacker.example',
        `attacker.example:${port}`,
        `127.0.0.1:${port + 1}`,
        `127.0.0.2:${port}`,
      ]) {
        const response = await send({
          method: 'GET',
          path: `/${BUCKET}/datasets/h/x.csv`,
          headers: { host },
        });
        expectRefused(response, 400, 'InvalidHostHeader');
        expect(response.body).toContain(host);
        const put = await send({
          method: 'PUT',
          path: `/${BUCKET}/datasets/h/evil.csv`,
          headers: { host },
          body: 'e\n',
        });
        expectRefused(put, 400, 'InvalidHostHeader');
      }
      expect(await exists('datasets/h/evil.csv')).toBe(false);
    });

    it('serves the Host it printed: 127.0.0.1:<port> and localhost:<port>', async () => {
      for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LOCALHOST:${port}`]) {
        const response = await send({
          method: 'GET',
          path: `/${BUCKET}/datasets/h/x.csv`,
          headers: { host },
        });
        expect({ host, status: response.status }).toEqual({ host, status: 200 });
      }
    });

    it('refuses a cross-origin request (a web page fetch), even signed', async () => {
      for (const origin of [
        'http://attacker.example',
        'null',
        `http://127.0.0.1:${port + 1}`,
        `https://127.0.0.1:${port}`,
      ]) {
        const put = await send({
          method: 'PUT',
          path: `/${BUCKET}/datasets/cors/data.csv`,
          body: 'a,label\n1,0\n',
          after: { origin },
        });
        expectRefused(put, 403, 'AccessForbidden');
        const post = await send({
          method: 'POST',
          path: `/${BUCKET}/datasets/cors/data.csv`,
          query: { uploads: '' },
          after: { origin },
        });
        expectRefused(post, 403, 'AccessForbidden');
        const preflight = await send({
          method: 'OPTIONS',
          path: `/${BUCKET}/datasets/cors/data.csv`,
          sign: false,
          headers: { origin, 'access-control-request-method': 'PUT' },
        });
        expect(preflight.status).toBe(403);
        expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
      }
      expect(await exists('datasets/cors/data.csv')).toBe(false);
    });

    it("accepts the server's own origin", async () => {
      const response = await send({
        method: 'PUT',
        path: `/${BUCKET}/datasets/cors/own.csv`,
        body: 'a,label\n1,0\n',
        after: { origin: `http://127.0.0.1:${port}` },
      });
      expect(response.status).toBe(200);
      expect(await exists('datasets/cors/own.csv')).toBe(true);
    });
  });

  describe('s3rver behind the guard', () => {
    it("refuses a request sent straight to s3rver's internal port, even with a forged guard header", async () => {
      for (const headers of [{}, { 'x-mlops-local-guard': 'guess' }]) {
        const response = await new Promise<RawResponse>((resolve, reject) => {
          const req = httpRequest({
            host: '127.0.0.1',
            port: s3.internalPort,
            method: 'PUT',
            path: `/${BUCKET}/datasets/direct/data.csv`,
            headers: { ...headers, 'content-length': '4' },
            agent: false,
          });
          req.on('error', reject);
          req.on('response', (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () =>
              resolve({
                status: res.statusCode!,
                headers: res.headers,
                body: Buffer.concat(chunks).toString(),
              }),
            );
          });
          req.end('a\nb\n');
        });
        expectRefused(response, 403, 'AccessDenied');
      }
      expect(await exists('datasets/direct/data.csv')).toBe(false);
    });

    it("keeps s3rver's key → file mapping inside the bucket's folder for every key the guard lets through", () => {
      // s3rver's own store, confined as the running server's is.
      const FilesystemStore = createRequire(import.meta.url)('s3rver/lib/stores/filesystem') as new (
        root: string,
      ) => S3rverStore;
      const store = new FilesystemStore(dataDir);
      const refusals: string[] = [];
      confineStore(store, dataDir, (message) => {
        refusals.push(message);
        return new Error(message);
      });
      const bucketDir = join(dataDir, BUCKET);
      const inside = (path: string) => {
        const rel = relative(bucketDir, path);
        return rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
      };
      // Normal keys.
      for (const key of [
        'datasets/churn/data.csv',
        'models/m/config.json',
        'a',
        'datasets/..x',
        'x../y',
        'é/ü.csv',
      ]) {
        expect(inside(store.getResourcePath(BUCKET, key, 'object'))).toBe(true);
      }
      // Keys built from the dangerous pieces: whatever the guard lets through maps inside, decoded
      // as @koa/router decodes it for s3rver (decodeURIComponent once, the raw text when that fails).
      const alphabet = ['.', '.', '/', '%2E', '%2e', '%2F', '%25', '2E', '%5C', '\\', 'a', '%00', '%'];
      let state = 42;
      const random = () => {
        state = (state * 1103515245 + 12345) % 2 ** 31;
        return state / 2 ** 31;
      };
      let passed = 0;
      for (let i = 0; i < 20_000; i++) {
        const length = 1 + Math.floor(random() * 8);
        const rawKey = Array.from({ length }, () => alphabet[Math.floor(random() * alphabet.length)]).join(
          '',
        );
        if (unsafePathReason(`/${BUCKET}/${rawKey}`) !== undefined) continue;
        passed++;
        let key: string;
        try {
          key = decodeURIComponent(rawKey);
        } catch {
          key = rawKey;
        }
        const path = store.getResourcePath(BUCKET, key, 'object');
        expect({ rawKey, inside: inside(path) }).toEqual({ rawKey, inside: true });
      }
      expect(passed).toBeGreaterThan(100);
      expect(refusals).toEqual([]);
      // And the confinement itself refuses what the guard would.
      expect(() => store.getResourcePath(BUCKET, '../../outside/secret', 'object')).toThrow(
        /outside its bucket/,
      );
      expect(() => store.getResourcePath(BUCKET, '../other-bucket/x', 'object')).toThrow(
        /outside its bucket/,
      );
      expect(() => store.getBucketPath('../outside')).toThrow(/outside the data folder/);
      expect(() => store.getBucketPath('a/b')).toThrow(/outside the data folder/);
    });
  });

  describe('what must keep working', () => {
    it('SDK put, get, list and delete, with keys that are awkward but not paths out', async () => {
      const keys = [
        'datasets/ok/data.csv',
        'datasets/ok/my data+v2 %41 é (1)!.csv',
        'datasets/ok/..hidden..csv',
        'datasets/ok/a..b/c.csv',
      ];
      for (const key of keys) {
        await s3.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: `${key}\n` }));
        const got = await s3.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
        expect(await got.Body!.transformToString()).toBe(`${key}\n`);
      }
      const listed = await s3.client.send(
        new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'datasets/ok/' }),
      );
      expect(listed.Contents!.map((o) => o.Key).sort()).toEqual([...keys].sort());
      expect(events.map((e) => (e.detail as { object: { key: string } }).object.key)).toEqual(keys);
      for (const key of keys) await s3.client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key }));
      const after = await s3.client.send(
        new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'datasets/ok/' }),
      );
      expect(after.KeyCount).toBe(0);
      await s3.client.send(
        new DeleteObjectsCommand({ Bucket: BUCKET, Delete: { Objects: [{ Key: 'datasets/raw/keep.csv' }] } }),
      );
      expect(await exists('datasets/raw/keep.csv')).toBe(false);
    });

    it('survives a client that drops an upload half way, and serves the next request', async () => {
      const signed = await signer().sign({
        method: 'PUT',
        protocol: 'http:',
        hostname: '127.0.0.1',
        port,
        path: `/${BUCKET}/datasets/dropped/data.csv`,
        query: {},
        headers: {
          host: `127.0.0.1:${port}`,
          'content-length': String(10 * 1024 * 1024),
          'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
        },
      });
      await new Promise<void>((resolve) => {
        const req = httpRequest({
          host: '127.0.0.1',
          port,
          method: 'PUT',
          path: `/${BUCKET}/datasets/dropped/data.csv`,
          headers: signed.headers as Record<string, string>,
          agent: false,
        });
        req.on('error', () => resolve());
        req.write(Buffer.alloc(1024 * 1024), () => setTimeout(() => req.destroy(), 50));
        req.on('close', () => resolve());
      });
      await s3.client.send(
        new PutObjectCommand({ Bucket: BUCKET, Key: 'datasets/dropped/next.csv', Body: 'n\n' }),
      );
      expect(await exists('datasets/dropped/next.csv')).toBe(true);
    });

    it('SDK multipart upload (lib-storage, Expect: 100-continue) streams through', async () => {
      const size = 11 * 1024 * 1024;
      const body = Buffer.alloc(size, 7);
      await new Upload({
        client: s3.client,
        params: { Bucket: BUCKET, Key: 'datasets/multi/big.csv', Body: body },
        partSize: 5 * 1024 * 1024,
      }).done();
      const head = await s3.client.send(
        new HeadObjectCommand({ Bucket: BUCKET, Key: 'datasets/multi/big.csv' }),
      );
      expect(head.ContentLength).toBe(size);
      expect(events.map((e) => (e.detail as { reason: string }).reason)).toEqual(['CompleteMultipartUpload']);
    });

    it('the AWS CLI works through the printed endpoint (skipped without `aws`)', async (context) => {
      const aws = await promisify(execFile)('aws', ['--version']).catch(() => undefined);
      if (!aws) context.skip();
      const env = {
        ...process.env,
        AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
        AWS_DEFAULT_REGION: LOCAL_REGION,
        AWS_REQUEST_CHECKSUM_CALCULATION: 'when_required',
        AWS_RESPONSE_CHECKSUM_VALIDATION: 'when_required',
        AWS_CONFIG_FILE: '/dev/null',
        AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
      };
      const file = join(root, 'cli data (1)+x.csv');
      await writeFile(file, 'a,label\n1,0\n');
      const cli = (...args: string[]) =>
        promisify(execFile)('aws', ['--endpoint-url', s3.endpoint, 's3', ...args], { env });
      try {
        await cli('cp', file, `s3://${BUCKET}/datasets/cli/cli data (1)+x.csv`);
        expect(await exists('datasets/cli/cli data (1)+x.csv')).toBe(true);
        const { stdout } = await cli('ls', `s3://${BUCKET}/datasets/cli/`);
        expect(stdout).toContain('cli data (1)+x.csv');
        await cli('rm', `s3://${BUCKET}/datasets/cli/cli data (1)+x.csv`);
        expect(await exists('datasets/cli/cli data (1)+x.csv')).toBe(false);
      } finally {
        await rm(file, { force: true });
      }
    });
  });
});
