/**
 * The hostile suite, ingest's part (issue 16, items 4 to 6): the real ingest handler on DynamoDB
 * Local and an S3 server (SageMaker and SNS faked; test/support/pipeline-harness.ts), fed the
 * inputs that once ended in the dead-letter queue with no record, were trained though the README
 * says they are skipped, or lost their rejection to an id collision. Every upload must come out
 * recorded (accepted, or rejected with its reason) on its first delivery, or skipped on purpose.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3ListingInventory } from '../../adapters/aws/s3-object-inventory';
import type { EventRedelivery } from '../../core/ports/event-redelivery';
import type { MlopsContext } from '../../core/use-cases/context';
import { Reconcile } from '../../core/use-cases/reconcile';
import { createIngestHandler } from '../../lambdas/ingest/handler';
import {
  churnCsv,
  lambdaContext,
  sqsBatch,
  startPipelineHarness,
  type PipelineHarness,
} from '../support/pipeline-harness';
import { stringMatching } from '../support/matchers';

let harness: PipelineHarness;
let ctx: MlopsContext;
let handler: ReturnType<typeof createIngestHandler>;

beforeAll(async () => {
  harness = await startPipelineHarness();
  ctx = harness.context();
  handler = createIngestHandler(() => ctx);
});
afterAll(async () => harness?.stop());

/** Delivers the events once, as one SQS batch, and expects no record to fail (none retried, none dead-lettered). */
async function deliver(...events: unknown[]): Promise<void> {
  const result = await handler(sqsBatch(...events), lambdaContext);
  expect(result.batchItemFailures).toEqual([]);
}

/** A CSV of `columns` columns (the last one the 0/1 `label`) and `rows` rows of numbers. */
function wideCsv(columns: number, rows: number): string {
  const header = [...Array.from({ length: columns - 1 }, (_, i) => `feature_${i}`), 'label'].join(',');
  const lines = [header];
  for (let r = 0; r < rows; r++)
    lines.push(
      [...Array.from({ length: columns - 1 }, (_, i) => ((r * 31 + i * 7) % 97) / 10), r % 2].join(','),
    );
  return `${lines.join('\n')}\n`;
}

describe('permanent faults are recorded, never retried into the dead-letter queue', () => {
  it('10,000 columns x 200 rows: recorded on the first delivery, within the 400 KB item', async () => {
    const event = await harness.upload('datasets/wide/data.csv', wideCsv(10_000, 200));

    await deliver(event);

    const [dataset, ...others] = await ctx.registry.listDatasets('wide');
    expect(others).toEqual([]);
    expect(dataset).toBeDefined();
    if (dataset!.status === 'REJECTED') expect(dataset!.rejection?.reason).toBeTruthy();
    else {
      expect(dataset).toMatchObject({ status: 'ACCEPTED', version: 1 });
      expect(dataset!.profile).toMatchObject({
        rows: 200,
        omittedColumns: {
          total: 10_000,
          statistics: `s3://${harness.s3.bucket}/reports/wide/${dataset!.datasetId}/statistics.json`,
        },
      });
      expect(await ctx.registry.listVersions('wide')).toMatchObject([{ version: 1, status: 'TRAINING' }]);
    }
  });

  it('a multiclass config without num_class: a recorded INVALID_CONFIG rejection', async () => {
    await harness.upload(
      'models/species/config.json',
      JSON.stringify({ problemType: 'multiclass_classification' }),
    );
    const rows = Array.from({ length: 90 }, (_, i) => `${i % 7},${(i * 3) % 11},${i % 3}`);
    const event = await harness.upload('datasets/species/data.csv', `a,b,label\n${rows.join('\n')}\n`);

    await deliver(event, event);

    const datasets = await ctx.registry.listDatasets('species');
    expect(datasets).toMatchObject([
      {
        status: 'REJECTED',
        rejection: {
          code: 'INVALID_CONFIG',
          reason: stringMatching(
            /hyperparameters\.num_class: a multiclass_classification model needs "num_class"/,
          ),
        },
      },
    ]);
    expect(await ctx.registry.listVersions('species')).toEqual([]);
    expect([...harness.aws.jobs.keys()].filter((name) => name.includes('species'))).toEqual([]);
  });
});

describe("names starting with '_' or '.' are skipped", () => {
  it('_tmp.csv and .hidden.csv: no dataset, and the reconciler does not re-deliver them', async () => {
    const csv = churnCsv(80).replace('churned', 'label');
    const skipped = ['datasets/m/_tmp.csv', 'datasets/m/.hidden.csv'];
    const events = [];
    for (const key of skipped) events.push(await harness.upload(key, csv));
    // Never delivered: the control the reconciler must find (its event was lost).
    await harness.upload('datasets/m/lost.csv', csv);

    await deliver(...events);

    expect(await ctx.registry.listDatasets('m')).toEqual([]);
    expect(await ctx.registry.listAudit('m')).toEqual([]);
    const delivered: string[] = [];
    const redelivery: EventRedelivery = {
      objectCreated: (object) => Promise.resolve(void delivered.push(object.key)),
      trainingJobStateChange: () => Promise.resolve(),
      endpointStateChange: () => Promise.resolve(),
    };
    const later = new Date(Date.now() + 60 * 60_000);
    await new Reconcile(
      { ...ctx, clock: { now: () => later } },
      { redelivery, inventory: new S3ListingInventory(harness.s3.client) },
      { maxDatasetRepairsPerRun: 10_000 },
    ).execute();
    const underM = delivered.filter((key) => key.startsWith('datasets/m/'));
    expect(underM).toEqual(['datasets/m/lost.csv']);
  });
});

describe('every refused upload keeps its own record', () => {
  it('600 rejected uploads under one bad model name: 600 distinct rejection records', async () => {
    const events: unknown[] = [];
    for (let i = 0; i < 600; i += 50)
      events.push(
        ...(await Promise.all(
          Array.from({ length: 50 }, (_, j) =>
            harness.upload(`datasets/Bad_Model/upload-${i + j}.csv`, `a,label\n${i + j},0\n`),
          ),
        )),
      );
    // SQS hands the ingest function batches of 10.
    for (let b = 0; b < events.length; b += 10) await deliver(...events.slice(b, b + 10));

    const datasets = await ctx.registry.listDatasets('Bad_Model');
    expect(new Set(datasets.map((d) => d.datasetId)).size).toBe(600);
    expect(new Set(datasets.map((d) => d.sourceUri)).size).toBe(600);
    expect(datasets.every((d) => d.status === 'REJECTED' && d.rejection?.code === 'INVALID_MODEL_NAME')).toBe(
      true,
    );
    const audit = await ctx.registry.listAudit('Bad_Model');
    expect(audit.filter((a) => a.type === 'DATASET_REJECTED')).toHaveLength(600);
  });
});
