/**
 * A local S3 API server for integration tests: s3rver on 127.0.0.1, a random free port, a fresh
 * temporary directory (removed on stop), one bucket created up front.
 *
 * Known limit: s3rver 3 encrypts ListObjectsV2 continuation tokens with DES, which OpenSSL 3 (Node
 * >= 17) only offers through its legacy provider. Without `NODE_OPTIONS=--openssl-legacy-provider`
 * any listing that needs a second page (more than 1000 keys) fails with `InternalError`; check
 * {@link s3ServerCanPaginate} before relying on it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { canPaginateListings, s3ClientConfig } from '../../local/services/s3-server';

/** The part of s3rver's (CommonJS, untyped) API used here; see node_modules/s3rver/README.md. */
interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
  httpServer?: Server;
}
type S3rverConstructor = new (options: {
  address: string;
  port: number;
  silent: boolean;
  directory: string;
  configureBuckets: { name: string; configs: (string | Buffer)[] }[];
}) => S3rverInstance;

export interface S3TestServer {
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string;
  readonly bucket: string;
  /** A client for the server (path-style, s3rver's fixed credentials). */
  readonly client: S3Client;
  stop(): Promise<void>;
}

export async function startS3Server(options: { bucket?: string } = {}): Promise<S3TestServer> {
  const S3rver = createRequire(import.meta.url)('s3rver') as S3rverConstructor;
  const bucket = options.bucket ?? 'test-bucket';
  const directory = await mkdtemp(join(tmpdir(), 's3rver-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    configureBuckets: [{ name: bucket, configs: [] }],
  });
  let address: AddressInfo;
  try {
    address = await server.run();
  } catch (error) {
    await rm(directory, { recursive: true, force: true });
    throw error;
  }
  const endpoint = `http://127.0.0.1:${address.port}`;
  const client = new S3Client(s3ClientConfig(endpoint));
  return {
    endpoint,
    bucket,
    client,
    async stop() {
      client.destroy();
      // close() waits for open keep-alive sockets; drop them first.
      server.httpServer?.closeAllConnections();
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

/** Whether s3rver can page listings in this process (DES available: see the note at the top). */
export const s3ServerCanPaginate = canPaginateListings;
