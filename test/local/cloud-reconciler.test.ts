/**
 * The reconciler as one step of the local cloud: events the bus loses (an injected fault,
 * `bus.loseNext`) are found and re-published by `cloud.reconcile()`, and the pipeline goes on to
 * production as if nothing had been lost. At time scale 240, the reconciler's 15 minutes of
 * staleness are 3.75 real seconds and its 10 minutes of settling 2.5 seconds (the local S3 server
 * keeps LastModified to the second, so settling must be well over one second here). The test runs
 * the reconciler until it repairs (each run before that must not), rather than sleeping past the
 * thresholds.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReconcileOutcome } from '../../core/use-cases/reconcile';
import { LocalCloud } from '../../local/cloud';
import { s3ClientConfig } from '../../local/services/s3-server';
import { churnCsv } from '../support/pipeline-harness';
import { until } from '../support/until';

const TIME_SCALE = 240;
/** Long after the reconciler's thresholds at this scale (3.75 s), for a loaded machine. */
const REPAIRED_WITHIN_MS = 30_000;

const dataset = (rows: number) => churnCsv(rows).replace(/^(.*),churned\n/, '$1,label\n');

describe('the local cloud repairs lost events with its reconciler', () => {
  let dir: string;
  let cloud: LocalCloud;
  let s3: S3Client;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mlops-reconcile-'));
    cloud = await LocalCloud.start({
      dir,
      s3Port: 0,
      dynamodbPort: 0,
      timeScale: TIME_SCALE,
      quiet: true,
      handlerLogLevel: 'SILENT',
      monitorSchedule: false,
      // On demand only, so that the test says when it runs.
      reconcileSchedule: false,
    });
    s3 = new S3Client(s3ClientConfig(cloud.env.s3Endpoint));
  });
  afterAll(async () => {
    s3?.destroy();
    await cloud?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const upload = (key: string, rows: number) =>
    s3.send(new PutObjectCommand({ Bucket: cloud.env.bucket, Key: key, Body: dataset(rows) }));

  const statusOf = async (model: string, version: number) =>
    (await cloud.context.registry.getVersion(model, version))?.status;

  const reconciled = async (): Promise<ReconcileOutcome> => {
    const outcome = await cloud.reconcile();
    if (outcome.kind === 'malformed') throw new Error('the reconciler refused its own event');
    return outcome;
  };

  /** Runs the reconciler until a run repairs something (`repaired`), and returns that run's outcome. */
  const reconciledUntil = (what: string, repaired: (outcome: ReconcileOutcome) => boolean) =>
    until(
      what,
      async () => {
        const outcome = await reconciled();
        return repaired(outcome) ? outcome : undefined;
      },
      REPAIRED_WITHIN_MS,
      250,
    );

  it('a lost upload event: nothing happens until the reconciler re-delivers it; then the dataset trains to production', async () => {
    cloud.bus.loseNext('mlops-dataset-created', 1);
    await upload('datasets/churn/customers.csv', 300);
    await cloud.bus.drain();
    expect(cloud.bus.deliveries().byRule['mlops-dataset-created']).toMatchObject({ lost: 1, attempts: 0 });
    expect(await cloud.context.registry.listVersions('churn')).toEqual([]);

    // Too young: the upload might still be in flight.
    const early = await reconciled();
    expect(early.datasets?.redelivered ?? []).toEqual([]);

    const repair = await reconciledUntil(
      'the reconciler to re-deliver the upload',
      (outcome) => (outcome.datasets?.redelivered ?? []).length > 0,
    );
    expect(repair.datasets?.redelivered).toHaveLength(1);
    await until(
      'v1 in production',
      async () => ((await statusOf('churn', 1)) === 'PRODUCTION' ? true : undefined),
      40_000,
    );
    await cloud.bus.drain();
    // Repaired once: another run finds nothing to do, and there is one version, not two.
    const again = await reconciled();
    expect(again.datasets?.redelivered ?? []).toEqual([]);
    expect(again.versions).toEqual([]);
    expect(await cloud.context.registry.listVersions('churn')).toHaveLength(1);
  }, 60_000);

  it('a lost training job event: the version stays TRAINING until the reconciler re-reads the job; then it is deployed', async () => {
    // Every training event is lost while the job runs (InProgress and Completed).
    cloud.bus.loseNext('mlops-training-events', 1000);
    await upload('datasets/fraud/transactions.csv', 300);
    const version = await until(
      'a version with its training job',
      async () => {
        await cloud.bus.drain();
        const [first] = await cloud.context.registry.listVersions('fraud');
        return first?.trainingJobName ? first : undefined;
      },
      20_000,
    );
    const job = await cloud.training.waitForJob(version.trainingJobName, 30_000);
    expect(job.status).toBe('Completed');
    await cloud.bus.drain();
    cloud.bus.loseNext('mlops-training-events', 0);
    expect(cloud.bus.deliveries().byRule['mlops-training-events']?.lost).toBeGreaterThan(0);
    expect(await statusOf('fraud', 1)).toBe('TRAINING');

    const repair = await reconciledUntil(
      'the reconciler to re-read the training job',
      (outcome) => outcome.versions.length > 0,
    );
    expect(repair.versions).toEqual([
      expect.objectContaining({ kind: 'training-event', model: 'fraud', version: 1, jobStatus: 'Completed' }),
    ]);
    await until(
      'fraud v1 in production',
      async () => ((await statusOf('fraud', 1)) === 'PRODUCTION' ? true : undefined),
      40_000,
    );
    expect(cloud.bus.deadLetters()).toEqual([]);
    // The ledger the local inventory reads: one line per dataset upload's event, kept on disk.
    const ledger = await readFile(cloud.env.files.objectEvents, 'utf8');
    expect(ledger).toContain('datasets/fraud/transactions.csv');
  }, 90_000);
});
