/**
 * `npm run demo`: the whole product on one machine, stage by stage. Where this stands: local demo,
 * a client of the local cloud like a person would be: it uploads files to the bucket, reads the
 * registry, calls the endpoint over HTTP, and (for the fault stage) asks the local endpoint to
 * misbehave. It prints each stage with its timing and exits 0 only if every stage did what it should.
 */
import type { RegistryStore } from '../../core/ports/registry-store';
import type { ObjectStore } from '../../core/ports/object-store';
import type { DataQualitySummary, VersionRecord, VersionStatus } from '../../core/domain/registry';
import { formatTable } from '../../core/support/text-table';
import { churnCsv, churnRequests } from './dataset';

/** What the demo needs from a running local cloud. */
export interface DemoCloud {
  readonly registry: RegistryStore;
  readonly objects: ObjectStore;
  readonly bucket: string;
  endpointUrl(endpointName: string): string | undefined;
  /** Asks the endpoint to misbehave; a cloud in another process answers once it has. */
  injectFault(
    endpointName: string,
    fault: { errorRate?: number; addedLatencyMs?: number; target?: 'new' | 'all' },
  ): Promise<void> | void;
  clearFault(endpointName: string): Promise<void> | void;
  /** Simulated seconds per real second (alarm periods and bake times run this much faster). */
  readonly timeScale: number;
}

/** The demo's model name unless told otherwise. */
export const DEMO_MODEL = 'churn';

/** How {@link runDemo} reports and how long it waits. */
export interface DemoOptions {
  readonly print?: (line: string) => void;
  /** Longest wait for one stage, in real seconds. @default 180 */
  readonly stageTimeoutSeconds?: number;
  readonly model?: string;
}

/** One stage of the demo: whether it did what it shows, how long it took, what it found. */
export interface DemoStage {
  readonly name: string;
  readonly ok: boolean;
  readonly seconds: number;
  readonly detail: string;
}

/** The demo's outcome: every stage, and the model's versions at the end. */
export interface DemoResult {
  readonly ok: boolean;
  readonly stages: readonly DemoStage[];
  readonly versions: readonly VersionRecord[];
}

/**
 * The model config the demo uses: a canary rollout and a sensitive error-rate alarm. The bake time
 * must outlast the alarm (3 one-minute periods, in simulated time) and take about 15 real seconds.
 */
function demoModelConfig(timeScale: number): Record<string, unknown> {
  const bakeSeconds = Math.min(3600, Math.max(300, Math.round(15 * timeScale)));
  return {
    labelColumn: 'churned',
    problemType: 'binary_classification',
    hyperparameters: { num_round: 60, max_depth: 4, eta: 0.2 },
    gate: { threshold: 0.75, regressionTolerance: 0.03 },
    // Two instances: a canary is at most half the fleet (model-config.ts, BLUE_GREEN_SIZE_LIMITS).
    deployment: {
      strategy: 'canary',
      stepPercent: 50,
      initialInstanceCount: 2,
      bakeSeconds,
      terminationWaitSeconds: 60,
    },
    monitoring: { errorRateThreshold: 0.05, evaluationPeriods: 3, datapointsToAlarm: 2 },
    // The data-quality gate: drift is recorded and shown, and training goes on (new data is often
    // why one retrains); schema and quality violations would refuse the dataset.
    dataQuality: {
      driftThreshold: 0.1,
      psiThreshold: 0.25,
      blockOnDrift: false,
      completenessTolerance: 0.05,
    },
  };
}

class StageFailed extends Error {}

/** How many stages a complete run has. */
const STAGES = 5;

/** Runs the scenario against a local cloud. */
export async function runDemo(cloud: DemoCloud, options: DemoOptions = {}): Promise<DemoResult> {
  const print = options.print ?? ((line: string) => console.log(line));
  const model = options.model ?? DEMO_MODEL;
  const endpointName = `mlops-${model}`;
  const timeout = (options.stageTimeoutSeconds ?? 180) * 1000;
  const stages: DemoStage[] = [];
  const started = Date.now();
  if (cloud.timeScale < 10) {
    print(
      `Note: this local cloud runs at time scale ${cloud.timeScale}: each rollout bakes for minutes and alarms need three one-minute periods. Start it with --time-scale 60 for a quick demo.`,
    );
  }

  const stage = async (name: string, run: () => Promise<string>): Promise<void> => {
    const t0 = Date.now();
    print(`\n▶ ${name}`);
    try {
      const detail = await run();
      const seconds = (Date.now() - t0) / 1000;
      stages.push({ name, ok: true, seconds, detail });
      print(`  ✔ ${detail}  (${seconds.toFixed(1)} s)`);
    } catch (error) {
      const seconds = (Date.now() - t0) / 1000;
      const detail = error instanceof Error ? error.message : String(error);
      stages.push({ name, ok: false, seconds, detail });
      print(`  ✘ ${detail}  (${seconds.toFixed(1)} s)`);
      throw new StageFailed(detail);
    }
  };

  /**
   * Polls the registry until `version` reaches one of `statuses`, printing the version's audit
   * trail as it grows (each line with its time since the stage began).
   */
  const follow = async (
    version: number,
    statuses: readonly VersionStatus[],
    since = uploadedAt,
  ): Promise<VersionRecord> => {
    const t0 = Date.now();
    const printAudit = async () => {
      for (const line of await cloud.registry.listAudit(model)) {
        const key = `${line.at}#${line.eventId}`;
        if (line.version !== version || printed.has(key)) continue;
        printed.add(key);
        const offset = Math.max(0, (Date.parse(line.at) - since) / 1000);
        print(
          `    +${offset.toFixed(1)} s  v${version} ${line.type.padEnd(18)} ${line.reason.length > 150 ? `${line.reason.slice(0, 150)}…` : line.reason}`,
        );
      }
    };
    for (;;) {
      await printAudit();
      const record = await cloud.registry.getVersion(model, version);
      if (record && statuses.includes(record.status)) {
        // The write that moved it may have landed after the trail was read: print it too.
        await printAudit();
        return record;
      }
      if (
        record &&
        ['FAILED', 'REJECTED', 'DEPLOY_FAILED', 'ROLLED_BACK', 'ARCHIVED'].includes(record.status) &&
        !statuses.includes(record.status)
      ) {
        throw new Error(
          `v${version} ended ${record.status}: ${record.failureReason ?? 'no reason recorded'}`,
        );
      }
      if (Date.now() - t0 > timeout)
        throw new Error(
          `v${version} did not reach ${statuses.join(' or ')} in ${timeout / 1000} s (it is ${record?.status ?? 'not registered'})`,
        );
      await sleep(200);
    }
  };
  const printed = new Set<string>();
  let uploadedAt = Date.now();

  /** Uploads a dataset and waits until the registry has its version. */
  const upload = async (file: string, csv: string): Promise<number> => {
    const before = new Set((await cloud.registry.listVersions(model)).map((v) => v.version));
    uploadedAt = Date.now();
    await cloud.objects.write(cloud.bucket, `datasets/${model}/${file}`, csv, 'text/csv');
    print(`    uploaded s3://${cloud.bucket}/datasets/${model}/${file} (${csv.split('\n').length - 2} rows)`);
    const t0 = Date.now();
    for (;;) {
      const created = (await cloud.registry.listVersions(model)).find((v) => !before.has(v.version));
      if (created) {
        const dataset = await cloud.registry.getDataset(model, created.datasetId);
        const p = dataset?.profile;
        if (p)
          print(
            `    dataset ${created.datasetId} accepted: ${p.rows} rows, ${p.columns.length} columns, split ${p.trainRows}/${p.validationRows}`,
          );
        if (dataset?.dataQuality) for (const line of dataQualityLines(dataset.dataQuality)) print(line);
        return created.version;
      }
      const audit = await cloud.registry.listAudit(model);
      const rejected = audit.find((a) => a.type === 'DATASET_REJECTED' && a.reason.includes(file));
      if (rejected) throw new Error(`dataset rejected: ${rejected.reason}`);
      if (Date.now() - t0 > timeout)
        throw new Error(`no version was registered for ${file} in ${timeout / 1000} s`);
      await sleep(200);
    }
  };

  const metricOf = (v: VersionRecord | undefined) => v?.metrics?.[v.objectiveMetric];

  let v1 = 0;
  let v2 = 0;
  let v3 = 0;
  try {
    await stage('Model config', async () => {
      await cloud.objects.write(
        cloud.bucket,
        `models/${model}/config.json`,
        JSON.stringify(demoModelConfig(cloud.timeScale), null, 2),
        'application/json',
      );
      return `models/${model}/config.json: label "churned", gate AUC ≥ 0.75 and within 0.03 of the champion, canary 50 %`;
    });

    await stage('Dataset 1: validation, training, gate, first deployment', async () => {
      v1 = await upload('customers-2026-10.csv', churnCsv({ rows: 3000, seed: 11 }));
      const trained = await follow(v1, ['PRODUCTION']);
      return `v${v1} in production with validation:auc ${fmt(metricOf(trained))}; endpoint ${endpointName} at ${cloud.endpointUrl(endpointName) ?? '?'}`;
    });

    await stage('Real traffic to the endpoint', async () => {
      const url = cloud.endpointUrl(endpointName);
      if (!url) throw new Error(`no URL for ${endpointName}`);
      const rows = churnRequests(200, 5);
      const latencies: number[] = [];
      const predictions: number[] = [];
      for (let i = 0; i < rows.length; i += 10) {
        const t0 = performance.now();
        const response = await fetch(`${url}/invocations`, {
          method: 'POST',
          headers: { 'content-type': 'text/csv' },
          body: rows.slice(i, i + 10).join('\n'),
        });
        latencies.push(performance.now() - t0);
        if (response.status !== 200)
          throw new Error(`POST /invocations answered ${response.status}: ${await response.text()}`);
        predictions.push(...(await response.text()).trim().split('\n').map(Number));
      }
      if (predictions.length !== rows.length || predictions.some((p) => !(p >= 0 && p <= 1)))
        throw new Error(`unexpected predictions: ${predictions.slice(0, 5).join(', ')}…`);
      latencies.sort((a, b) => a - b);
      const churners = predictions.filter((p) => p >= 0.5).length;
      return `${rows.length} predictions in ${latencies.length} requests (p50 ${latencies[Math.floor(latencies.length / 2)]!.toFixed(1)} ms); ${churners} customers flagged as likely to churn; e.g. [${rows[0]}] → ${predictions[0]!.toFixed(3)}`;
    });

    await stage('Dataset 2: the candidate against the champion', async () => {
      // A new market: customers newer and on pricier plans (tenure and charges drift; the rest does not).
      v2 = await upload('customers-2026-11.csv', churnCsv({ rows: 3000, seed: 23, drift: 0.6 }));
      const ended = await follow(v2, ['PRODUCTION', 'REJECTED']);
      const champion = await cloud.registry.getVersion(model, v1);
      const verdict =
        ended.status === 'PRODUCTION'
          ? `promoted by a blue/green canary rollout; v${v1} ${champion?.status}`
          : `rejected: ${ended.failureReason}`;
      return `v${v2} validation:auc ${fmt(metricOf(ended))} against champion v${v1} ${fmt(metricOf(champion))}: ${verdict}`;
    });

    await stage('Fault: a new fleet that fails, the alarm, the incident, the rollback', async () => {
      const championBefore = (await cloud.registry.getModel(model))?.champion;
      v3 = await upload('customers-2026-12.csv', churnCsv({ rows: 3000, seed: 37 }));
      await follow(v3, ['DEPLOYING']);
      // Wait until the update has reached the endpoint, then break the new fleet.
      await waitFor(
        async () => Boolean((await cloud.registry.getVersion(model, v3))?.rolloutRequestedAt),
        timeout,
        'the rollout to start',
      );
      await cloud.injectFault(endpointName, { errorRate: 1, target: 'new' });
      print(`    injected a fault: every request to v${v3}'s new fleet answers 500`);
      const url = cloud.endpointUrl(endpointName)!;
      const rows = churnRequests(50, 9);
      let stop = false;
      let errors = 0;
      let sent = 0;
      const traffic = (async () => {
        while (!stop) {
          const response = await fetch(`${url}/invocations`, {
            method: 'POST',
            headers: { 'content-type': 'text/csv' },
            body: rows[sent % rows.length]!,
          }).catch(() => undefined);
          sent++;
          if (!response || response.status >= 500) errors++;
          await response?.text().catch(() => '');
          await sleep(20);
        }
      })();
      try {
        const ended = await follow(v3, ['ROLLED_BACK']);
        const incidents = await cloud.registry.listIncidents(model);
        const incident = incidents.find((i) => i.alarmName.endsWith('-error-rate'));
        if (!incident) throw new Error('no incident was opened for the error-rate alarm');
        const after = (await cloud.registry.getModel(model))?.champion;
        if (after !== championBefore)
          throw new Error(`the champion moved from v${championBefore} to v${after}`);
        print(`    traffic: ${sent} requests, ${errors} errors while the fault was on`);
        print(`    incident ${incident.status}: ${incident.alarmName}: ${incident.reason}`);
        return `v${v3} ${ended.status}: ${ended.failureReason}; v${after} still serves`;
      } finally {
        stop = true;
        await traffic;
        await cloud.clearFault(endpointName);
      }
    });
  } catch (error) {
    if (!(error instanceof StageFailed)) throw error;
  }

  const versions = await cloud.registry.listVersions(model);
  print(`\nVersions of ${model}:`);
  print(
    formatTable(
      versions.map((v) => [
        `v${v.version}`,
        v.status,
        v.datasetId,
        fmt(metricOf(v)),
        (v.failureReason ?? v.gate?.checks.map((c) => c.detail).join('; ') ?? '').slice(0, 90),
      ]),
      { header: ['version', 'status', 'dataset', 'validation:auc', 'reason'] },
    ),
  );
  const ok = stages.length === STAGES && stages.every((s) => s.ok);
  print(`\n${ok ? '✔ demo passed' : '✘ demo failed'} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return { ok, stages, versions };
}

/**
 * The data-quality gate's verdict as the registry holds it: the baseline, each column's drift
 * (KS or L-infinity distance, PSI) and the policy's decision.
 */
function dataQualityLines(dq: DataQualitySummary): string[] {
  const lines: string[] = [];
  if (!dq.baselineDatasetId) {
    lines.push(
      `    data quality: no baseline yet; this dataset becomes the baseline (decision: ${dq.decision})`,
    );
    return lines;
  }
  const source =
    dq.baselineSource === 'champion' ? "the champion's training data" : 'the first accepted dataset';
  lines.push(
    `    data quality against ${dq.baselineDatasetId} (${source}); a column drifts past distance ${dq.thresholds.distance} (KS with Deequ's small-sample correction, or L∞) or PSI ${dq.thresholds.psi}`,
  );
  const width = Math.max(...dq.drift.map((d) => d.column.length), 6);
  for (const d of dq.drift) {
    const measure = d.kind === 'numeric' ? 'KS' : 'L∞';
    const psi = d.psi === undefined ? '         ' : `PSI ${d.psi.toFixed(3).padStart(5)}`;
    lines.push(
      `      drift ${d.column.padEnd(width)}  ${measure} ${d.distance.toFixed(3)}  ${psi}  ${d.drifted ? 'DRIFTED' : 'ok'}`,
    );
  }
  for (const v of dq.violations.slice(0, 5))
    lines.push(`      violation ${v.feature_name}: ${v.constraint_check_type}: ${v.description}`);
  // The summary starts with the decision: "accepted-with-drift: drift in …".
  lines.push(`    data quality decision: ${dq.summary}`);
  return lines;
}

function fmt(value: number | undefined): string {
  return value === undefined ? '-' : value.toFixed(4);
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!(await check())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
