/**
 * The import direction of eslint.config.js (`layerRules`): each rule fires on the import it bans,
 * lets the imports the layer needs through, and the repository as it stands breaks none of them.
 */
import { ESLint, type Linter } from 'eslint';
import tseslint from 'typescript-eslint';
import { describe, expect, it } from 'vitest';
import { layerRules } from '../../eslint.config.js';

const root = new URL('../..', import.meta.url).pathname;

/** ESLint with the TypeScript parser and the layer rules only (no type information: fast). */
function layersOnly(): ESLint {
  return new ESLint({
    cwd: root,
    overrideConfigFile: true,
    overrideConfig: [
      // Only the layer rules run here: the other rules' disable comments are not unused.
      { linterOptions: { reportUnusedDisableDirectives: 'off' } },
      {
        files: ['**/*.ts'],
        languageOptions: { parser: tseslint.parser },
        plugins: { '@typescript-eslint': tseslint.plugin },
      },
      // typescript-eslint's config type and ESLint's differ only in declarations.
      ...(layerRules as Linter.Config[]),
    ],
  });
}

async function messagesFor(filePath: string, code: string): Promise<string[]> {
  const [result] = await layersOnly().lintText(code, { filePath: `${root}${filePath}` });
  return result!.messages.map((m) => m.message);
}

describe('the layer rules', () => {
  it.each([
    ['core/domain/x.ts', "import { readFile } from 'node:fs/promises';", /no files, threads/],
    ['core/domain/x.ts', "import { readFileSync } from 'fs';", /no files, threads/],
    ['core/profiling/x.ts', "import { Worker } from 'node:worker_threads';", /no files, threads/],
    ['core/profiling/x.ts', "import { spawn } from 'node:child_process';", /no files, threads/],
    ['core/profiling/x.ts', "const fs = await import('node:fs');", /loads no files/],
    ['core/profiling/x.ts', "const api = await import('tsx/esm/api');", /loads no files/],
    ['core/profiling/x.ts', "const tsx = import.meta.resolve('tsx');", /resolves no modules/],
    ['core/use-cases/x.ts', "import { S3Client } from '@aws-sdk/client-s3';", /no AWS SDK/],
    ['core/use-cases/x.ts', "import { Stack } from 'aws-cdk-lib';", /no AWS SDK/],
    [
      'core/use-cases/x.ts',
      "import { S3ObjectStore } from '../../adapters/aws/s3-object-store';",
      /only core/,
    ],
    ['core/use-cases/x.ts', "import { LocalCloud } from '../../local/cloud';", /only core/],
    ['core/use-cases/x.ts', "import type { CliIo } from '../../cli/command';", /only core/],
    ['adapters/aws/x.ts', "import { LocalCloud } from '../../local/cloud';", /only core and other adapters/],
    ['adapters/files/x.ts', "import { runCli } from '../../cli/main';", /only core and other adapters/],
    [
      'adapters/aws/x.ts',
      "import { handler } from '../../lambdas/ingest/handler';",
      /only core and other adapters/,
    ],
    ['lambdas/ingest/x.ts', "import { LocalCloud } from '../../local/cloud';", /handlers import only/],
    ['lib/constructs/x.ts', "import { runCli } from '../../cli/main';", /lib imports no local cloud/],
    ['local/x.ts', "import { runCli } from '../cli/main';", /the local cloud imports no CLI/],
    [
      'local/training/x.ts',
      "import { COMMANDS } from '../../cli/commands/index';",
      /the local cloud imports no CLI/,
    ],
  ])('%s: %s is refused', async (file, code, message) => {
    const messages = await messagesFor(file, code);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatch(message);
  });

  it.each([
    [
      'core/domain/x.ts',
      "import { createHash } from 'node:crypto';\nimport { parseCsvLine } from '../domain/csv';",
    ],
    ['core/profiling/x.ts', "const { parquetReadObjects } = await import('hyparquet');"],
    [
      'adapters/files/x.ts',
      "import { createReadStream } from 'node:fs';\nimport { DatasetProfiler } from '../../core/profiling/profiler';",
    ],
    [
      'local/x.ts',
      "import { handler } from '../lambdas/ingest/handler';\nimport { S3ObjectStore } from '../adapters/aws/s3-object-store';",
    ],
    ['cli/commands/x.ts', "import { LocalCloud } from '../../local/cloud';"],
  ])('%s: what the layer needs passes', async (file, code) => {
    expect(await messagesFor(file, code)).toEqual([]);
  });

  it('the repository breaks none of them', async () => {
    const results = await layersOnly().lintFiles([
      'core/**/*.ts',
      'adapters/**/*.ts',
      'lambdas/**/*.ts',
      'lib/**/*.ts',
      'local/**/*.ts',
      'cli/**/*.ts',
    ]);
    const broken = results.flatMap((r) =>
      r.messages.map((m) => `${r.filePath.slice(root.length)}:${m.line} ${m.message}`),
    );
    expect(results.length).toBeGreaterThan(100);
    expect(broken).toEqual([]);
  });
});
