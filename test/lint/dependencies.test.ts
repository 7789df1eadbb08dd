/**
 * What runs from a clone runs on `dependencies`: every package the source folders import, require
 * or resolve at run time (not `import type`) is in package.json's `dependencies`, so the `mlops`
 * CLI, the local cloud and `cdk synth` work without the test tooling. `esbuild` is named too: the
 * CDK bundles the handlers with it at synth time (aws-lambda-nodejs), without importing it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { describe, expect, it } from 'vitest';

const root = new URL('../..', import.meta.url).pathname;
const RUNTIME_FOLDERS = ['bin', 'lib', 'lambdas', 'core', 'adapters', 'local', 'cli'];
/** Needed at run time without an import: the CDK's NodejsFunction bundles with it. */
const USED_WITHOUT_IMPORT = ['esbuild'];

const manifest = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

/** The package a module specifier names (`@scope/name/x` → `@scope/name`), or undefined for files and builtins. */
function packageOf(specifier: string): string | undefined {
  if (specifier.startsWith('.') || specifier.startsWith('node:') || builtinModules.includes(specifier))
    return undefined;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/** The packages a module loads at run time: value imports, re-exports, dynamic imports, require and resolve. */
function runtimePackages(text: string): string[] {
  const specifiers = [
    ...text.matchAll(/^\s*(?:import|export)\s+(?!type\s)[^;]*?\sfrom\s+'([^']+)'/gms),
    ...text.matchAll(/^\s*import\s+'([^']+)'/gm),
    ...text.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g),
    ...text.matchAll(/\brequire\(\s*'([^']+)'\s*\)/g),
    ...text.matchAll(/\)\(\s*'([^']+)'\s*\)/g), // createRequire(import.meta.url)('x')
    ...text.matchAll(/\.resolve\(\s*'([^']+)'\s*\)/g),
  ].map((m) => m[1]!);
  return specifiers.map(packageOf).filter((p): p is string => p !== undefined);
}

describe('runtime dependencies', () => {
  it('reads value imports, dynamic imports and requires, not type imports', () => {
    const text = [
      "import type { Context } from 'aws-lambda';",
      "import { z } from 'zod';",
      "import { S3Client } from '@aws-sdk/client-s3';",
      "const api = await import('tsx/esm/api');",
      "const gbm = createRequire(import.meta.url)('ml-cart');",
      "const path = require.resolve('s3rver/lib/models/error');",
      "import { readFile } from 'node:fs/promises';",
      "import { join } from 'path';",
      "import { x } from './x';",
    ].join('\n');
    expect(runtimePackages(text).sort()).toEqual(['@aws-sdk/client-s3', 'ml-cart', 's3rver', 'tsx', 'zod']);
  });

  it('every package the source folders load is a dependency, not a devDependency', () => {
    const files = RUNTIME_FOLDERS.flatMap((folder) =>
      readdirSync(`${root}${folder}`, { recursive: true, encoding: 'utf8' })
        .filter((file) => /\.(ts|mjs|js)$/.test(file))
        .map((file) => `${folder}/${file}`),
    );
    const used = new Set([
      ...USED_WITHOUT_IMPORT,
      ...files.flatMap((file) => runtimePackages(readFileSync(`${root}${file}`, 'utf8'))),
    ]);
    expect(used.size).toBeGreaterThan(10);
    const missing = [...used].filter((name) => manifest.dependencies[name] === undefined).sort();
    expect(missing).toEqual([]);
  });
});
