/**
 * The on-call operator's script, end to end on a running local cloud, through the `mlops` CLI only
 * (as a person or a script in another terminal would drive it, `--json` on every call): a manual
 * approval reaches PRODUCTION; `rollback --to 1` serves v1 again through a blue/green update;
 * `retrain` makes a new version from an old dataset; a `rollback`-policy model whose error-rate
 * alarm fires after its promotion is rolled back automatically and the incident records it; a
 * `retrain`-policy model under drift gets a new version from the alarm-events handler.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../cli/main';
import { LocalCloud } from '../../local/cloud';
import { churnCsv, churnRequests } from '../../local/demo/dataset';
import { s3ClientConfig } from '../../local/services/s3-server';
import { until } from '../support/until';
import { captureIo } from './support/cli-fakes';

// 360 simulated seconds per real second: a one-minute alarm period lasts a sixth of a second, the
// drift alarms' one-hour period 10 seconds.
const TIME_SCALE = 360;

/** The JSON a `--json` command printed, with its exit code. */
interface JsonRun {
  readonly code: number;
  readonly json: Record<string, unknown>;
  readonly stderr: string;
}

interface VersionRow {
  readonly version: number;
  readonly status: string;
  readonly datasetId: string;
  /** The origin's kind (`upload`, `retrain`, `rollback`); `show` has the whole record. */
  readonly origin?: string | null;
}

interface IncidentRow {
  readonly incidentId: string;
  readonly model: string;
  readonly alarmName: string;
  readonly status: string;
  readonly version?: number;
  readonly policy: string;
  readonly action?: { kind: string; status: string; version?: number; detail: string } | null;
}

describe('the operator script on the local cloud (mlops CLI only)', () => {
  let dir: string;
  let files: string;
  let cloud: LocalCloud | undefined;

  /** Runs `mlops <args> --dir <dir> --json` and parses what it printed. */
  async function mlops(...args: string[]): Promise<JsonRun> {
    const io = captureIo();
    const code = await runCli([...args, '--dir', dir, '--json'], io);
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(io.stdout) as Record<string, unknown>;
    } catch {
      throw new Error(`mlops ${args.join(' ')} printed no JSON (exit ${code}):\n${io.stdout}\n${io.stderr}`);
    }
    return { code, json, stderr: io.stderr };
  }

  /** `mlops versions <model> --json`'s rows. */
  async function versions(model: string): Promise<VersionRow[]> {
    const { code, json } = await mlops('versions', model);
    expect(code).toBe(0);
    return json.versions as VersionRow[];
  }

  /** Waits until `mlops versions` shows `version` in `status` (failing fast on a terminal failure). */
  async function versionReaches(model: string, version: number, status: string, timeoutMs = 90_000) {
    return until(
      `${model} v${version} in ${status}`,
      async () => {
        await cloud!.bus.drain();
        const row = (await versions(model)).find((v) => v.version === version);
        if (row && row.status !== status && ['FAILED', 'REJECTED', 'DEPLOY_FAILED'].includes(row.status))
          throw new Error(`${model} v${version} ended ${row.status}: ${JSON.stringify(row)}`);
        return row?.status === status ? row : undefined;
      },
      timeoutMs,
      250,
    );
  }

  /** Writes a model's config.json into the bucket, as a data scientist would. */
  async function putConfig(model: string, config: Record<string, unknown>): Promise<void> {
    const s3 = new S3Client(s3ClientConfig(cloud!.env.s3Endpoint));
    try {
      await s3.send(
        new PutObjectCommand({
          Bucket: cloud!.env.bucket,
          Key: `models/${model}/config.json`,
          Body: JSON.stringify(config),
        }),
      );
    } finally {
      s3.destroy();
    }
  }

  /** `mlops upload <file> --model <model> --wait`: the file goes in and is followed to its end. */
  async function upload(model: string, name: string, csv: string): Promise<JsonRun> {
    const file = join(files, name);
    await writeFile(file, csv);
    return mlops('upload', file, '--model', model, '--wait', '--timeout', '180');
  }

  /** Sends `count` rows to the model's endpoint, 10 per request; answers the HTTP statuses seen. */
  async function traffic(model: string, count: number, seed: number, drift = 0): Promise<number[]> {
    const url = cloud!.endpoints.endpointUrl(cloud!.context.names.endpoint(model));
    if (!url) throw new Error(`${model} has no endpoint serving`);
    const rows = churnRequests(count, seed, drift);
    const statuses: number[] = [];
    for (let i = 0; i < rows.length; i += 10) {
      const response = await fetch(`${url}/invocations`, {
        method: 'POST',
        headers: { 'content-type': 'text/csv', accept: 'text/csv' },
        body: rows.slice(i, i + 10).join('\n'),
      });
      statuses.push(response.status);
      await response.text();
    }
    return statuses;
  }

  beforeAll(async () => {
    // vitest.config.ts turns Powertools metrics off for every test; the drift monitor publishes
    // its figures through them (loaded by LocalCloud.start, after this).
    process.env.POWERTOOLS_METRICS_DISABLED = 'false';
    dir = await mkdtemp(join(tmpdir(), 'mlops-operator-'));
    files = await mkdtemp(join(tmpdir(), 'mlops-operator-files-'));
    cloud = await LocalCloud.start({
      dir,
      s3Port: 0,
      dynamodbPort: 0,
      timeScale: TIME_SCALE,
      quiet: true,
      handlerLogLevel: 'SILENT',
      monitorSchedule: false,
    });
  });
  afterAll(async () => {
    await cloud?.stop();
    await rm(dir, { recursive: true, force: true });
    await rm(files, { recursive: true, force: true });
  });

  it('approves by hand, rolls back to v1 through a blue/green update, and retrains from an old dataset', async () => {
    const model = 'approvals';
    await putConfig(model, {
      labelColumn: 'churned',
      hyperparameters: { num_round: 30, max_depth: 3 },
      // The approval re-checks against the champion of the moment; two samples of the same
      // population may differ by a little.
      gate: { approval: 'manual', threshold: 0.6, regressionTolerance: 0.2 },
    });

    // v1: the upload waits for a person.
    const first = await upload(model, 'day-1.csv', churnCsv({ rows: 800, seed: 11 }));
    expect(first.code).toBe(0);
    expect(first.json).toMatchObject({ outcome: 'pending-approval' });
    expect((await versions(model))[0]).toMatchObject({ version: 1, status: 'PENDING_APPROVAL' });
    const models = await mlops('models');
    expect(models.code).toBe(0);
    const fleetRow = (models.json.models as { model: string; pendingApprovals: number[] }[]).find(
      (m) => m.model === model,
    );
    expect(fleetRow?.pendingApprovals).toEqual([1]);

    const approved = await mlops('approve', model, '1', '--note', 'checked the lift chart');
    expect(approved.code).toBe(0);
    expect(approved.json).toMatchObject({ result: { ok: true, action: 'approve', version: 1 } });
    await versionReaches(model, 1, 'PRODUCTION');

    // v2, approved too: v1 is archived.
    const second = await upload(model, 'day-2.csv', churnCsv({ rows: 800, seed: 12 }));
    expect(second.code).toBe(0);
    await versionReaches(model, 2, 'PENDING_APPROVAL');
    expect((await mlops('approve', model, '2')).code).toBe(0);
    await versionReaches(model, 2, 'PRODUCTION');
    expect((await versions(model)).find((v) => v.version === 1)?.status).toBe('ARCHIVED');
    // Approving again changes nothing and says so (exit 4: refused).
    expect((await mlops('approve', model, '2')).code).toBe(4);

    // rollback --to 1: v1 serves again, through a blue/green update of the same endpoint.
    const rolledBack = await mlops('rollback', model, '--to', '1', '--reason', 'v2 looks off');
    expect(rolledBack.code).toBe(0);
    expect(rolledBack.json).toMatchObject({ result: { ok: true, action: 'rollback', version: 1 } });
    await versionReaches(model, 1, 'PRODUCTION');
    expect((await versions(model)).find((v) => v.version === 2)?.status).toBe('ARCHIVED');
    const shown = await mlops('show', model, '1');
    expect(shown.code).toBe(0);
    const timeline = shown.json.timeline as { type: string; actor: string; reason: string }[];
    expect(timeline.map((t) => t.type)).toEqual(
      expect.arrayContaining(['APPROVED', 'ROLLBACK_REQUESTED', 'PROMOTED']) as unknown,
    );
    expect(timeline.find((t) => t.type === 'APPROVED')?.actor).toMatch(/^local:/);
    const rollout = timeline.filter((t) => t.type === 'ROLLOUT_REQUESTED').at(-1);
    expect(rollout?.reason).toMatch(/blue\/green/);
    const endpoint = await cloud!.endpoints.describeEndpoint(cloud!.context.names.endpoint(model));
    expect(endpoint?.configName).toBe((shown.json.lineage as { endpointConfig: string }).endpointConfig);

    // retrain from the first dataset: a new version, no upload.
    const v1 = (await versions(model)).find((v) => v.version === 1)!;
    const retrained = await mlops('retrain', model, '--dataset', v1.datasetId);
    expect(retrained.code).toBe(0);
    expect(retrained.json).toMatchObject({ result: { ok: true, action: 'retrain', version: 3 } });
    const v3 = await versionReaches(model, 3, 'PENDING_APPROVAL');
    expect(v3).toMatchObject({ datasetId: v1.datasetId, origin: 'retrain' });
    expect(cloud!.bus.deadLetters()).toEqual([]);
  }, 420_000);

  it('rolls a rollback-policy model back by itself when its error-rate alarm fires after a promotion', async () => {
    const model = 'guarded';
    await putConfig(model, {
      labelColumn: 'churned',
      hyperparameters: { num_round: 30, max_depth: 3 },
      gate: { threshold: 0.6, regressionTolerance: 0.5 },
      alarmPolicy: 'rollback',
      monitoring: { errorRateThreshold: 0.05, evaluationPeriods: 3, datapointsToAlarm: 2 },
    });
    expect((await upload(model, 'guarded-1.csv', churnCsv({ rows: 800, seed: 21 }))).code).toBe(0);
    await versionReaches(model, 1, 'PRODUCTION');
    expect((await upload(model, 'guarded-2.csv', churnCsv({ rows: 800, seed: 22 }))).code).toBe(0);
    await versionReaches(model, 2, 'PRODUCTION');

    // v2 starts failing after its promotion: every request answers an error.
    const endpointName = cloud!.context.names.endpoint(model);
    cloud!.endpoints.injectFault(endpointName, { errorRate: 1, target: 'all' });
    const incident = await until(
      'the error-rate incident with its automatic rollback',
      async () => {
        await traffic(model, 50, 23);
        cloud!.alarms.evaluateNow();
        await cloud!.bus.drain();
        const { json } = await mlops('incidents', '--model', model);
        return (json.incidents as IncidentRow[]).find((i) => i.action?.kind === 'rollback');
      },
      90_000,
      100,
    );
    expect(incident).toMatchObject({
      model,
      version: 2,
      policy: 'rollback',
      action: { kind: 'rollback', status: 'started', version: 1 },
    });
    expect(incident.alarmName).toBe(cloud!.context.names.alarms(model).errorRate);
    // The remedy is rolling out; the broken fleet is on its way out.
    cloud!.endpoints.clearFault(endpointName);
    await versionReaches(model, 1, 'PRODUCTION');
    expect((await versions(model)).find((v) => v.version === 2)?.status).toBe('ARCHIVED');

    const detail = await mlops('incident', incident.incidentId, '--model', model);
    expect(detail.code).toBe(0);
    expect(detail.json).toMatchObject({
      incident: {
        incidentId: incident.incidentId,
        policy: 'rollback',
        version: 2,
        action: { kind: 'rollback', status: 'started', version: 1 },
        evidence: { threshold: 0.05 },
      },
    });
    const evidence = (detail.json.incident as { evidence: { datapoints?: { value: number }[] } }).evidence;
    expect(evidence.datapoints?.some((d) => d.value > 0.05)).toBe(true);
    const audit = (await mlops('show', model, '1')).json.timeline as { type: string; actor: string }[];
    expect(audit.find((t) => t.type === 'ROLLBACK_REQUESTED')?.actor).toBe('alarm-policy');
    expect(cloud!.bus.deadLetters()).toEqual([]);
  }, 420_000);

  it('retrains a retrain-policy model under drift', async () => {
    const model = 'drifting';
    await putConfig(model, {
      labelColumn: 'churned',
      hyperparameters: { num_round: 30, max_depth: 3 },
      gate: { threshold: 0.6, regressionTolerance: 0.5 },
      alarmPolicy: 'retrain',
    });
    expect((await upload(model, 'drifting-1.csv', churnCsv({ rows: 1500, seed: 31 }))).code).toBe(0);
    await versionReaches(model, 1, 'PRODUCTION');

    // Newer, more expensive customers: the features drift.
    expect(new Set(await traffic(model, 600, 32, 1))).toEqual(new Set([200]));
    await until(
      'the captured traffic in S3',
      async () => {
        const objects = await cloud!.context.objects.list(cloud!.env.bucket, `capture/${model}/`);
        let lines = 0;
        for (const object of objects) {
          const text = await cloud!.context.objects.readText(cloud!.env.bucket, object.key);
          lines += (text ?? '').split('\n').filter(Boolean).length;
        }
        return lines >= 60 ? lines : undefined; // one line per request of 10 rows
      },
      20_000,
    );
    const monitored = await cloud!.monitor({ model, windowMinutes: 10 });
    expect(monitored).toMatchObject({ kind: 'monitored', models: [{ kind: 'published', model }] });

    const incident = await until(
      'the drift incident with its automatic retrain',
      async () => {
        cloud!.alarms.evaluateNow();
        await cloud!.bus.drain();
        const { json } = await mlops('incidents', '--model', model, '--open');
        return (json.incidents as IncidentRow[]).find((i) => i.action?.kind === 'retrain');
      },
      30_000,
    );
    expect(incident).toMatchObject({
      policy: 'retrain',
      version: 1,
      action: { status: 'started', version: 2 },
    });
    const detail = await mlops('incident', incident.incidentId, '--model', model);
    const drifted = (detail.json.incident as { evidence: { driftedFeatures?: { feature: string }[] } })
      .evidence.driftedFeatures;
    expect(drifted?.map((f) => f.feature)).toEqual(
      expect.arrayContaining(['tenure_months', 'monthly_charges']) as unknown,
    );

    // The new version, trained by the drift loop, is the remedy: it rolls out while the drift alarm fires.
    await versionReaches(model, 2, 'PRODUCTION');
    const v2 = (await mlops('show', model, '2')).json.version as { origin?: Record<string, unknown> };
    expect(v2.origin).toMatchObject({ kind: 'retrain', by: 'alarm-policy', incidentId: incident.incidentId });
    expect(cloud!.bus.deadLetters()).toEqual([]);
  }, 420_000);
});
