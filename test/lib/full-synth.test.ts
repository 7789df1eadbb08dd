/**
 * The one full synth: asset bundling (local esbuild) and aws-cdk-lib's built-in CloudFormation
 * validation both on, with the cdk-nag plugin registered exactly as bin/app.ts does. Slow (tens of
 * seconds), so it is the only one.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { afterAll, describe, expect, it } from 'vitest';
import { createApp, STACK_NAME } from '../../lib/app';
import { cdkJsonContext, cleanupOutdirs, tempOutdir } from './helpers';

afterAll(cleanupOutdirs);

describe('full synth', () => {
  it(
    'bundles the seven handlers as ESM and passes CloudFormation validation and cdk-nag',
    { timeout: 240_000 },
    () => {
      const outdir = tempOutdir();
      const { app, stack } = createApp({ outdir, context: cdkJsonContext() });
      const assembly = app.synth();

      const report = JSON.parse(fs.readFileSync(path.join(outdir, 'validation-report.json'), 'utf8')) as {
        pluginReports: { violations?: unknown[] }[];
      };
      expect(report.pluginReports.flatMap((r) => r.violations ?? [])).toEqual([]);
      expect(Annotations.fromStack(stack).findWarning('*', Match.anyValue())).toEqual([]);
      expect(Annotations.fromStack(stack).findError('*', Match.anyValue())).toEqual([]);

      const artifact = assembly.getStackByName(STACK_NAME);
      const functions = Object.values(
        (
          artifact.template as {
            Resources: Record<string, { Type: string; Properties: { Code: { S3Key: string } } }>;
          }
        ).Resources,
      ).filter((r) => r.Type === 'AWS::Lambda::Function');
      expect(functions).toHaveLength(7);
      for (const fn of functions) {
        // The code's S3 key is `<asset hash>.zip`; the bundle is staged in `asset.<hash>/`.
        const assetDir = path.join(outdir, `asset.${fn.Properties.Code.S3Key.replace(/\.zip$/, '')}`);
        const bundle = fs.readFileSync(path.join(assetDir, 'index.mjs'), 'utf8');
        expect(
          bundle.startsWith(
            "import { createRequire as __mlopsCreateRequire } from 'node:module'; const require = __mlopsCreateRequire(import.meta.url);",
          ),
        ).toBe(true);
        expect(fs.existsSync(path.join(assetDir, 'index.mjs.map'))).toBe(true);
      }
    },
  );
});
