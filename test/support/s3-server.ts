/**
 * A local S3 API server for integration tests: the local cloud's s3rver ({@link startLocalS3}) on
 * 127.0.0.1, a free port, a fresh temporary directory (removed on stop), one bucket created up front.
 *
 * Known limit: s3rver 3 encrypts ListObjectsV2 continuation tokens with DES, which OpenSSL 3 (Node
 * >= 17) only offers through its legacy provider. Without `NODE_OPTIONS=--openssl-legacy-provider`
 * any listing that needs a second page (more than 1000 keys) fails with `InternalError`; check
 * {@link s3ServerCanPaginate} before relying on it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { canPaginateListings, startLocalS3 } from '../../local/services/s3-server';

export interface S3TestServer {
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string;
  readonly bucket: string;
  /** A client for the server (path-style, s3rver's fixed credentials). */
  readonly client: S3Client;
  stop(): Promise<void>;
}

export async function startS3Server(options: { bucket?: string } = {}): Promise<S3TestServer> {
  const bucket = options.bucket ?? 'test-bucket';
  const directory = await mkdtemp(join(tmpdir(), 's3rver-'));
  let server;
  try {
    server = await startLocalS3({ dataDir: directory, port: 0, buckets: [bucket] });
  } catch (error) {
    await rm(directory, { recursive: true, force: true });
    throw error;
  }
  const { endpoint, client } = server;
  return {
    endpoint,
    bucket,
    client,
    async stop() {
      await server.stop();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

/** Whether s3rver can page listings in this process (DES available: see the note at the top). */
export const s3ServerCanPaginate = canPaginateListings;
