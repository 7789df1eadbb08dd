/**
 * The compiled form of `java/LoopbackDynamoDbLocal.java`, the launcher that keeps DynamoDB Local on
 * 127.0.0.1 and checks the access key. Where this stands: local runtime, used by
 * local/services/dynamodb-local.ts.
 *
 * The launcher ships as source. It is compiled once per machine, Java version and DynamoDB Local
 * release, into a cache folder under the OS temporary directory, by the compiler module of the
 * `java` that will run it (`java -m jdk.compiler/...`, so no `javac` on the PATH is needed).
 * Compiling costs about 1.5 s of CPU, and DynamoDB Local starts many times in a test run. A Java
 * runtime without the compiler module (a JRE only, e.g. Debian's openjdk-17-jre-headless) cannot
 * compile it: the caller then starts DynamoDB Local as it comes, on every interface, and says so.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The launcher's main class (the file's public class). */
export const LOOPBACK_LAUNCHER_CLASS = 'LoopbackDynamoDbLocal';

/** The launcher's source. */
export const LOOPBACK_LAUNCHER_SOURCE = fileURLToPath(
  new URL(`./java/${LOOPBACK_LAUNCHER_CLASS}.java`, import.meta.url),
);

/** The launcher compiled, or why it could not be. */
export type CompiledLauncher =
  | { readonly kind: 'compiled'; readonly classDir: string }
  | { readonly kind: 'unavailable'; readonly why: string };

/** One compilation per process and cache folder, even when several starts ask at once. */
const compiling = new Map<string, Promise<CompiledLauncher>>();

/**
 * The folder holding the compiled launcher for `jar` and the Java whose `java -version` printed
 * `javaVersion`: compiled now if the cache does not have it.
 * @param cacheRoot where compiled launchers are kept (tests give their own)
 */
export function compiledLoopbackLauncher(
  jar: string,
  javaVersion: string,
  cacheRoot: string = join(tmpdir(), `mlops-dynamodb-launcher-${userInfo().uid}`),
): Promise<CompiledLauncher> {
  const source = readFileSync(LOOPBACK_LAUNCHER_SOURCE);
  const key = createHash('sha256').update(source).update(javaVersion).update(jar).digest('hex').slice(0, 16);
  const classDir = join(cacheRoot, key);
  let pending = compiling.get(classDir);
  if (!pending) {
    pending = compile(jar, classDir);
    compiling.set(classDir, pending);
    // A failure is not cached: the next start tries again (a JDK may have been installed since).
    void pending.then((result) => result.kind === 'unavailable' && compiling.delete(classDir));
  }
  return pending;
}

async function compile(jar: string, classDir: string): Promise<CompiledLauncher> {
  if (existsSync(join(classDir, `${LOOPBACK_LAUNCHER_CLASS}.class`))) return { kind: 'compiled', classDir };
  // Compiled beside, then renamed: a concurrent start (another process) never runs half a folder.
  const staging = `${classDir}.${process.pid}.${Date.now()}.tmp`;
  await mkdir(staging, { recursive: true });
  try {
    const output = await run('java', [
      '-m',
      'jdk.compiler/com.sun.tools.javac.Main',
      '-nowarn',
      '-d',
      staging,
      '-cp',
      jar,
      LOOPBACK_LAUNCHER_SOURCE,
    ]);
    if (output.code !== 0) {
      return {
        kind: 'unavailable',
        why: /jdk\.compiler/.test(output.text)
          ? 'this Java has no compiler module (a JRE only)'
          : `compiling the launcher failed: ${output.text.trim().split('\n').slice(0, 3).join(' ')}`,
      };
    }
    try {
      await rename(staging, classDir);
    } catch (error) {
      // Another process renamed its copy first: the same source, the same classes.
      if (!existsSync(join(classDir, `${LOOPBACK_LAUNCHER_CLASS}.class`))) throw error;
    }
    return { kind: 'compiled', classDir };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

function run(command: string, args: readonly string[]): Promise<{ code: number; text: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
    child.once('error', (error) => resolve({ code: 1, text: error.message }));
    child.once('close', (code) => resolve({ code: code ?? 1, text }));
  });
}
