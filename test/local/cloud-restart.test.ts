/**
 * Ctrl-C with a backlog (issue 15): 15 uploads at once, then a graceful stop (what SIGINT does in
 * `mlops local up`) while most of them are still queued for ingest (at most 5 run at once) and
 * the first ones' training jobs are running. After a start on the same folder, the backlog saved
 * at the stop is delivered: every upload becomes a dataset, and every version moves on to a
 * status no event is still owed for (uploads queued at the stop reach PRODUCTION; the versions
 * whose training job the stop killed end FAILED, the jobs' "Stopped" events having been saved
 * too). The backlog is queued again as the cloud starts, before the reconciler ever runs, and
 * no event is dead-lettered by the stop. At time scale 240 with no bake, about 20 s on an idle
 * machine.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, describe, expect, it } from 'vitest';
import type { VersionStatus } from '../../core/domain/registry';
import { LocalCloud, type LocalCloudOptions } from '../../local/cloud';
import { BACKLOG_FILE } from '../../local/dead-letters';
import type { BacklogEntry } from '../../local/event-bus';
import { s3ClientConfig } from '../../local/services/s3-server';
import { churnCsv } from '../support/pipeline-harness';
import { until } from '../support/until';

const UPLOADS = 15;
/** Statuses a version leaves by itself, through an event still to come. */
const IN_FLIGHT: readonly VersionStatus[] = ['TRAINING', 'TRAINED', 'APPROVED', 'DEPLOYING'];

const dataset = (rows: number, seed: number) => churnCsv(rows, seed).replace(/^(.*),churned\n/, '$1,label\n');

describe('Ctrl-C with a backlog', () => {
  let dir: string | undefined;
  let cloud: LocalCloud | undefined;

  const start = (folder: string, reconcileSchedule: boolean) =>
    LocalCloud.start({
      dir: folder,
      s3Port: 0,
      dynamodbPort: 0,
      timeScale: 240,
      quiet: true,
      handlerLogLevel: 'SILENT',
      monitorSchedule: false,
      reconcileSchedule,
      // Quick rollouts: what is tested is that every version gets there, not the bake.
      defaultModelConfig: { deployment: { bakeSeconds: 0, terminationWaitSeconds: 0 } },
    } satisfies LocalCloudOptions);

  afterAll(async () => {
    await cloud?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** Dataset records in the registry (`DATASET#<id>` items, accepted or rejected). */
  const datasetCount = async (running: LocalCloud) => {
    const { Items = [] } = await running.dynamodb.client.send(
      new ScanCommand({
        TableName: running.env.registryTable,
        FilterExpression: 'begins_with(SK, :dataset)',
        ExpressionAttributeValues: { ':dataset': { S: 'DATASET#' } },
      }),
    );
    return Items.length;
  };

  const inFlight = async (running: LocalCloud) =>
    (
      await Promise.all(IN_FLIGHT.map((status) => running.context.registry.listVersionsByStatus(status)))
    ).flat();

  it('ends, after the restart, with every upload a dataset and no version in flight', async () => {
    dir = await mkdtemp(join(tmpdir(), 'mlops-restart-'));
    cloud = await start(dir, false);
    const s3 = new S3Client(s3ClientConfig(cloud.env.s3Endpoint));
    try {
      await Promise.all(
        Array.from({ length: UPLOADS }, (_, i) =>
          s3.send(
            new PutObjectCommand({
              Bucket: cloud!.env.bucket,
              Key: `datasets/model-${i + 1}/data.csv`,
              Body: dataset(200, i + 1),
            }),
          ),
        ),
      );
    } finally {
      s3.destroy();
    }
    // Ctrl-C now: most uploads are still waiting for ingest.
    const atStop = cloud.bus.deliveries();
    expect(atStop.byRule['mlops-dataset-created']?.matched).toBe(UPLOADS);
    expect(atStop.queued).toBeGreaterThan(0);
    expect(atStop.byRule['mlops-dataset-created']!.succeeded).toBeLessThan(UPLOADS - 5);
    await cloud.stop();
    cloud = undefined;
    // What the stop could not deliver is on disk, for the rule it was meant for.
    const backlog = (await readFile(join(dir, BACKLOG_FILE), 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as BacklogEntry);
    const ingestBacklog = backlog.filter((entry) => entry.rule === 'mlops-dataset-created').length;
    expect(ingestBacklog).toBeGreaterThan(0);

    // The reconciler runs on its schedule, as in `npm run local`: not for the backlog (queued
    // again as the cloud starts, below), but because a local endpoint can be InService before
    // the rollout's own write is visible to the endpoint-events handler, which then waits for
    // the reconciler (seen on a loaded machine).
    cloud = await start(dir, true);
    const running = cloud;
    expect(running.bus.deliveries().byRule['mlops-dataset-created']?.matched).toBe(ingestBacklog);
    // About 20 s on an idle laptop; the margin is for a loaded machine.
    let seen = '';
    await until(
      `${UPLOADS} datasets and no version in flight`,
      async () => {
        const [datasets, moving] = await Promise.all([datasetCount(running), inFlight(running)]);
        seen = `${datasets} datasets; in flight: ${moving.map((v) => `${v.model} ${v.status}`).join(', ') || 'none'}`;
        return datasets === UPLOADS && moving.length === 0 ? true : undefined;
      },
      100_000,
      500,
    ).catch((error: Error) => {
      throw new Error(`${error.message} (last seen: ${seen})`);
    });
    const versions = (
      await Promise.all(
        Array.from({ length: UPLOADS }, (_, i) => running.context.registry.listVersions(`model-${i + 1}`)),
      )
    ).flat();
    expect(versions).toHaveLength(UPLOADS);
    // Uploads queued at the stop were trained after the start; the jobs the stop killed ended
    // Stopped, and their versions FAILED saying so.
    for (const version of versions) {
      expect(['PRODUCTION', 'FAILED']).toContain(version.status);
      if (version.status === 'FAILED') {
        expect(version.failureReason).toMatch(/was stopped: the local training service was closed/);
      }
    }
    expect(versions.filter((version) => version.status === 'PRODUCTION').length).toBeGreaterThan(0);
    expect(existsSync(join(dir, BACKLOG_FILE))).toBe(false);
    // Nothing was given up on at the stop: the backlog went to the next start, not to the dead letters.
    const deadLetters = existsSync(running.env.files.deadLetters)
      ? await readFile(running.env.files.deadLetters, 'utf8')
      : '';
    expect(deadLetters).toBe('');
  }, 150_000);
});
