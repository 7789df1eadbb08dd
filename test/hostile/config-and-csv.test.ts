/**
 * The hostile suite, config and CSV part (issue 16, items 2 and 7): the real ingest handler on
 * DynamoDB Local and an S3 server (SageMaker and SNS faked; test/support/pipeline-harness.ts), fed
 * configs and files that once passed the checks: reserved SageMaker hyperparameters, a script
 * bundle reached through `..`, `__proto__` keys, hidden characters in a header, two data rows. Each
 * must come out a recorded rejection naming the problem, on its first delivery, with no training
 * job; a config saved with a BOM must be read and its dataset trained.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MlopsContext } from '../../core/use-cases/context';
import { createIngestHandler } from '../../lambdas/ingest/handler';
import {
  churnCsv,
  lambdaContext,
  sqsBatch,
  startPipelineHarness,
  type PipelineHarness,
} from '../support/pipeline-harness';
import { stringMatching } from '../support/matchers';

const IMAGE = '123456789012.dkr.ecr.us-east-1.amazonaws.com/sklearn:1.2-1';

let harness: PipelineHarness;
let ctx: MlopsContext;
let handler: ReturnType<typeof createIngestHandler>;

beforeAll(async () => {
  harness = await startPipelineHarness();
  ctx = harness.context();
  handler = createIngestHandler(() => ctx);
});
afterAll(async () => harness?.stop());

/** Uploads the model's config (when given) and a dataset, delivers the dataset's event once, and expects no retry. */
async function ingest(model: string, config: string | undefined, csv: string): Promise<void> {
  if (config !== undefined) await harness.upload(`models/${model}/config.json`, config);
  const event = await harness.upload(`datasets/${model}/data.csv`, csv);
  const result = await handler(sqsBatch(event), lambdaContext);
  expect(result.batchItemFailures).toEqual([]);
}

/** Expects the model's one dataset to be a recorded rejection with `code` and a reason matching `reason`, and no training job. */
async function expectRejected(model: string, code: string, reason: RegExp): Promise<void> {
  expect(await ctx.registry.listDatasets(model)).toMatchObject([
    { status: 'REJECTED', rejection: { code, reason: stringMatching(reason) } },
  ]);
  const audit = await ctx.registry.listAudit(model);
  expect(audit.filter((a) => a.type === 'DATASET_REJECTED')).toHaveLength(1);
  expect(await ctx.registry.listVersions(model)).toEqual([]);
  expect([...harness.aws.jobs.keys()].filter((name) => name.includes(model))).toEqual([]);
}

const csv = churnCsv(80).replace('churned', 'label');

describe('user code runs only from models/<model>/code/', () => {
  it.each(['sagemaker_program', 'sagemaker_submit_directory', 'sagemaker_region', 'SAGEMAKER_PROGRAM'])(
    'a hyperparameter named %s is refused, naming it',
    async (name) => {
      const model = `reserved-${name === name.toUpperCase() ? 'upper-' : ''}${name.toLowerCase().replace(/_/g, '-')}`;
      const config = { algorithm: { type: 'image', imageUri: IMAGE }, hyperparameters: { [name]: 'x.py' } };
      await ingest(model, JSON.stringify(config), csv);
      await expectRejected(
        model,
        'INVALID_CONFIG',
        new RegExp(`hyperparameters\\.${name}: "${name}" is reserved by SageMaker's training toolkit`),
      );
    },
  );

  it.each([
    ['dot-dot', 'models/dot-dot/code/../../x/sourcedir.tar.gz'],
    ['encoded-dot-dot', 'models/encoded-dot-dot/code/%2e%2e/%2E%2E/x/sourcedir.tar.gz'],
    ['backslash', 'models/backslash/code/..\\..\\x\\sourcedir.tar.gz'],
  ])('a script sourceUri reaching out of the code folder (%s) is refused', async (model, key) => {
    const sourceUri = `s3://${harness.s3.bucket}/${key}`;
    const config = { algorithm: { type: 'script', imageUri: IMAGE, entryPoint: 'train.py', sourceUri } };
    await ingest(model, JSON.stringify(config), csv);
    await expectRejected(
      model,
      'INVALID_CONFIG',
      new RegExp(
        `algorithm\\.sourceUri: must be under s3://${harness.s3.bucket}/models/${model}/code/ .*resolves to s3://${harness.s3.bucket}/models/x/sourcedir\\.tar\\.gz`,
      ),
    );
  });
});

describe('config files', () => {
  it.each([
    ['proto-root', '{"__proto__": {"labelColumn": "x"}}', /__proto__: the key "__proto__" is not allowed/],
    [
      'proto-nested',
      '{"hyperparameters": {"__proto__": {"max_depth": 3}}}',
      /hyperparameters\.__proto__: the key "__proto__" is not allowed/,
    ],
    [
      'constructor-key',
      '{"hyperparameters": {"constructor": 1}}',
      /hyperparameters\.constructor: the key "constructor" is not allowed/,
    ],
  ])('a forbidden key (%s) is refused with its path', async (model, config, reason) => {
    await ingest(model, config, csv);
    await expectRejected(model, 'INVALID_CONFIG', reason);
  });

  it('a config.json saved with a UTF-8 BOM is read, and its dataset trains', async () => {
    const model = 'bom-config';
    await ingest(model, `\uFEFF${JSON.stringify({ labelColumn: 'churned' })}`, churnCsv(80));

    expect(await ctx.registry.listDatasets(model)).toMatchObject([{ status: 'ACCEPTED', version: 1 }]);
    expect(await ctx.registry.listVersions(model)).toMatchObject([{ version: 1, status: 'TRAINING' }]);
    expect([...harness.aws.jobs.keys()].filter((name) => name.includes(model))).toHaveLength(1);
    expect((await ctx.registry.getModel(model))?.config?.labelColumn).toBe('churned');
  });
});

describe('CSV headers and sizes', () => {
  it.each([
    ['nul-header', 'a\u0000b,label', /column 1 of the header \("a\\u0000b"\) holds a NUL character/],
    ['bom-header', '\uFEFF\uFEFFa,label', /column 1 of the header \("\\uFEFFa"\) holds a byte-order mark/],
    ['bom-label', 'a,\uFEFFlabel', /column 2 of the header \("\\uFEFFlabel"\) holds a byte-order mark/],
  ])(
    'a header name holding a hidden character (%s) is refused, naming the column',
    async (model, header, reason) => {
      const rows = csv.split('\n').slice(1).join('\n');
      await ingest(model, undefined, `${header}\n${rows}`);
      await expectRejected(model, 'INVALID_DATASET', reason);
    },
  );

  it('2 data rows are refused up front, with the minimum row count', async () => {
    const model = 'two-rows';
    await ingest(model, undefined, 'a,b,label\n1,2,0\n3,4,1\n');
    await expectRejected(
      model,
      'INVALID_DATASET',
      /2 data rows are too few: with split\.validationFraction 0\.2 a dataset needs at least 10 data rows/,
    );
  });
});
