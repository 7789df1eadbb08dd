/**
 * A representative run of the whole pipeline through the real handlers, on a fresh
 * {@link PipelineHarness}, with every AWS call the handlers made attributed to the handler (and
 * step) that made it. Where this stands: test infrastructure for the contract tests (IAM: which
 * role must allow each call; request validity: is each request one AWS accepts).
 *
 * The run: model configs under `models/<model>/config.json`; a valid CSV upload (the data-quality
 * gate writes `reports/<model>/<dataset>/...`), delivered twice; a rejected upload; an upload for a
 * model without a config (S3 answers 404, which needs ListBucket); a folder dataset, ignored on its
 * parts and started on its `_SUCCESS` marker; training events InProgress, Completed (gate ->
 * CreateModel, CreateEndpointConfig, CreateEndpoint) and Failed; the endpoint going InService
 * (promotion, tagged alarms); a second version checked against the first one's baseline and rolled
 * out blue/green (UpdateEndpoint); alarm events opening and resolving an incident; the drift
 * monitor over captured traffic; a version held for manual approval, then approved
 * (core/use-cases/approve-version.ts: no Lambda runs it, an operator does: handler `approval`).
 *
 * Each step checks its own outcome and throws when the pipeline did not do what the step expects,
 * so a contract built on this run cannot pass on a run that silently did nothing. The test's own
 * uploads and the scenario's registry look-ups between steps are not attributed (they are not the
 * handlers' calls; the look-ups go around the journal). Model names are fixed unless `suffix` is
 * given: without one, run it once per harness. The run tells three stories, each on a model of its
 * own and independent of the others (`main`: churn; `folder`: upsell; `approval`: leads);
 * `stories` runs only some of them.
 *
 * The fault table (test/contracts/fault-table.test.ts) runs it with `redelivery`: each handler
 * invocation that fails is delivered again as AWS would (SQS up to the queue's maxReceiveCount,
 * EventBridge -> Lambda's asynchronous retries, an operator running the command again), and the
 * run keeps going whatever a step did, so that the end state can be judged as a whole: checks that
 * do not hold become `deviations`, an invocation still failing after its last delivery is
 * `deadLettered`, and the environment's moves (a training job finishing, an endpoint settling) on
 * resources that do not exist yet are kept as `jobOutcomes` for whoever drives the run on. It
 * also has the drift monitor invoked by the hourly schedule's event (`monitor: 'scheduled'`),
 * whose window, unlike an on-demand run's, is the same on every delivery.
 */
import { createRegistryStore } from '../../../adapters/dynamodb/dynamodb-registry-store';
import type { MetricBatch } from '../../../core/ports/metrics';
import { ApproveVersion } from '../../../core/use-cases/approve-version';
import { createAlarmEventsHandler } from '../../../lambdas/alarm-events/handler';
import { createEndpointEventsHandler } from '../../../lambdas/endpoint-events/handler';
import { createIngestHandler } from '../../../lambdas/ingest/handler';
import { createMonitorHandler } from '../../../lambdas/monitor/handler';
import { createTrainingEventsHandler } from '../../../lambdas/training-events/handler';
import type { RecordedCall } from '../../support/aws-call-journal';
import {
  alarmEvent,
  churnCsv,
  endpointEvent,
  lambdaContext,
  sqsBatch,
  trainingEvent,
  type PipelineHarness,
} from '../../support/pipeline-harness';

/** Who made a call: a Lambda handler of the stack, or an operator approving a version. */
export type ScenarioHandler =
  'ingest' | 'training-events' | 'endpoint-events' | 'alarm-events' | 'monitor' | 'approval';

/** The Lambda handlers of the stack (every {@link ScenarioHandler} but the operator's `approval`). */
export const LAMBDA_HANDLERS: readonly ScenarioHandler[] = [
  'ingest',
  'training-events',
  'endpoint-events',
  'alarm-events',
  'monitor',
];

/** One recorded AWS call, with the handler and the scenario step that made it. */
export interface ScenarioCall extends RecordedCall {
  readonly handler: ScenarioHandler;
  /** The step's name, e.g. `ingest a valid CSV`. */
  readonly step: string;
}

/** One handler invocation of the run. */
export interface ScenarioStep {
  readonly name: string;
  readonly handler: ScenarioHandler;
  /** What the handler returned (undefined when it threw). */
  readonly outcome: unknown;
  /** How many AWS calls it made. */
  readonly calls: number;
  /** The story (and model) the step belongs to. */
  readonly story: ScenarioStory;
  /** Which delivery of the step's event this was: 1 for the first (with `redelivery` only can it be more). */
  readonly attempt: number;
  /** What the invocation failed with (with `redelivery`: thrown, or the failed batch items). */
  readonly error?: string;
}

/** An object the run put in the bucket, with the identity its "Object Created" event carried. */
export interface ScenarioUpload {
  readonly key: string;
  readonly size: number;
  readonly etag?: string;
  readonly versionId?: string;
  readonly sequencer?: string;
}

/** A training job's end, as the run means it to happen. */
export type ScenarioJobOutcome = { metrics: Record<string, number> } | { failureReason: string };

/** The run: every attributed call in order, and the steps. */
export interface PipelineScenario {
  readonly calls: readonly ScenarioCall[];
  readonly steps: readonly ScenarioStep[];
  /** The run's model names (`SCENARIO_MODELS` with the suffix). */
  readonly models: { readonly main: string; readonly folder: string; readonly approval: string };
  /** Every object the run uploaded (test-side uploads, not the handlers' writes), in order. */
  readonly uploads: readonly ScenarioUpload[];
  /** With `redelivery`: the checks that did not hold, in order (without, the first one throws). */
  readonly deviations: readonly string[];
  /** With `redelivery`: the invocations still failing after their last delivery (to the DLQ). */
  readonly deadLettered: readonly {
    readonly step: string;
    readonly handler: ScenarioHandler;
    readonly error: string;
  }[];
  /**
   * How the run means each training job to end, by job name, whether or not it could apply it (a
   * job that did not exist yet when the run got there is finished by whoever drives the run on).
   */
  readonly jobOutcomes: ReadonlyMap<string, ScenarioJobOutcome>;
  /** What the drift monitor published. */
  readonly published: readonly MetricBatch[];
  /** True when `afterStep` ended the run early. */
  readonly stopped: boolean;
}

/** How a run is driven (all optional: the default is the contracts' single clean run). */
export interface ScenarioOptions {
  /**
   * Appended to every model name (`churn` -> `churn-<suffix>`), so that several runs can share one
   * harness. Must keep the names valid model names (lowercase letters, digits, single hyphens).
   */
  readonly suffix?: string;
  /**
   * AWS's redelivery: how many times at most one event (message, command) of each handler is
   * delivered, the first delivery included. Set, the run goes on whatever a step did (see the file
   * comment). Default: each invocation runs once, and a failure or a check that does not hold throws.
   */
  readonly redelivery?: Readonly<Record<ScenarioHandler, number>>;
  /**
   * How the drift monitor is invoked: `on-demand` (`{ model }`, the hour ending now) or `scheduled`
   * (the hourly schedule's event, whose window is fixed by the event, so a retried delivery
   * monitors the same window). @default 'on-demand'
   */
  readonly monitor?: 'on-demand' | 'scheduled';
  /**
   * The stories to run (each on models of its own, independent of the others): `main` (config,
   * two versions, blue/green, alarms, incident, drift), `folder` (a folder dataset, a failed
   * job), `approval` (manual approval). @default all three, interleaved as listed in the file comment
   */
  readonly stories?: readonly ScenarioStory[];
  /** Called before each delivery of a step's event to its handler. */
  readonly beforeStep?: (name: string, handler: ScenarioHandler, attempt: number) => void;
  /**
   * Called after each step, once all its deliveries are done, with what the run has done so far
   * that is not in the registry or the fakes; return false to end the run there.
   */
  readonly afterStep?: (
    step: ScenarioStep,
    index: number,
    progress: { readonly published: number; readonly deadLettered: number },
  ) => boolean | Promise<boolean>;
}

/** The models the run creates. */
export const SCENARIO_MODELS = {
  /** Config, two versions, blue/green, alarms, incident, drift. */
  main: 'churn',
  /** A folder dataset, no config (defaults), a failed training job. */
  folder: 'upsell',
  /** Manual approval. */
  approval: 'leads',
} as const;

/** The independent stories of the run, each on its own model ({@link SCENARIO_MODELS}). */
export type ScenarioStory = keyof typeof SCENARIO_MODELS;

/** The scenario's model names with a suffix. */
export function scenarioModels(suffix?: string): PipelineScenario['models'] {
  const name = (model: string) => (suffix ? `${model}-${suffix}` : model);
  return {
    main: name(SCENARIO_MODELS.main),
    folder: name(SCENARIO_MODELS.folder),
    approval: name(SCENARIO_MODELS.approval),
  };
}

/** Ends a run early from `afterStep`. */
class ScenarioStopped extends Error {}

/** Drives every handler through a representative run (see the file comment). */
export async function runPipelineScenario(
  harness: PipelineHarness,
  options: ScenarioOptions = {},
): Promise<PipelineScenario> {
  const ctx = harness.context();
  // The run's own look-ups between steps go around the journal: they are not the handlers' calls,
  // and no fault planned for a handler may hit them.
  const lookups = createRegistryStore(harness.dynamo.client, harness.table);
  const redelivery = options.redelivery;
  const models = scenarioModels(options.suffix);
  const calls: ScenarioCall[] = [];
  const steps: ScenarioStep[] = [];
  const published: MetricBatch[] = [];
  const uploads: ScenarioUpload[] = [];
  const deviations: string[] = [];
  const deadLettered: { step: string; handler: ScenarioHandler; error: string }[] = [];
  const jobOutcomes = new Map<string, ScenarioJobOutcome>();
  const ingest = createIngestHandler(() => ctx);
  const training = createTrainingEventsHandler(() => ctx);
  const endpoints = createEndpointEventsHandler(() => ctx);
  const alarms = createAlarmEventsHandler(() => ctx);
  const monitor = createMonitorHandler(() => ctx, {
    publish: (batch) => {
      published.push(batch);
      return Promise.resolve();
    },
  });
  const stories = new Set<ScenarioStory>(options.stories ?? ['main', 'folder', 'approval']);
  let story: ScenarioStory = 'main';
  /** Enters a story's block of steps; false when the story is not run. */
  function enter(next: ScenarioStory): boolean {
    story = next;
    return stories.has(next);
  }
  const mainEndpoint = ctx.names.endpoint(models.main);
  const approvalEndpoint = ctx.names.endpoint(models.approval);

  /** A check of the run: throws, or with `redelivery` is recorded as a deviation. */
  function check(step: string, ok: boolean, detail: unknown): void {
    if (ok) return;
    const message = `scenario step "${step}" did not do what it should: ${JSON.stringify(detail)}`;
    if (!redelivery) throw new Error(message);
    deviations.push(message);
  }

  function expectKind(step: string, outcome: unknown, kind: string): void {
    const actual = (outcome as { kind?: unknown } | undefined)?.kind;
    check(step, actual === kind, { expected: kind, outcome });
  }

  /**
   * Runs one handler invocation and attributes the calls it made (and only those). With
   * `redelivery`, a failed invocation (thrown, or batch items reported failed) is delivered again,
   * up to the handler's number of deliveries, then dead-lettered.
   */
  async function step<T>(
    name: string,
    handler: ScenarioHandler,
    run: () => Promise<T>,
  ): Promise<T | undefined> {
    const deliveries = redelivery?.[handler] ?? 1;
    let outcome: T | undefined;
    let failure: string | undefined;
    for (let attempt = 1; attempt <= deliveries; attempt++) {
      options.beforeStep?.(name, handler, attempt);
      const from = harness.journal.calls.length;
      failure = undefined;
      outcome = undefined;
      try {
        outcome = await run();
        const failed = (outcome as { batchItemFailures?: unknown[] } | undefined)?.batchItemFailures;
        if (failed && failed.length > 0) failure = `batch item failures: ${JSON.stringify(failed)}`;
      } catch (error) {
        if (!redelivery) throw error;
        failure = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      }
      const made = harness.journal.calls.slice(from);
      calls.push(...made.map((call) => ({ ...call, handler, step: name })));
      const record: ScenarioStep = {
        name,
        handler,
        story,
        outcome,
        calls: made.length,
        attempt,
        ...(failure !== undefined ? { error: failure } : {}),
      };
      steps.push(record);
      if (failure === undefined || !redelivery) break;
    }
    if (redelivery && failure !== undefined) deadLettered.push({ step: name, handler, error: failure });
    if (
      options.afterStep &&
      !(await options.afterStep(steps.at(-1)!, steps.length - 1, {
        published: published.length,
        deadLettered: deadLettered.length,
      }))
    )
      throw new ScenarioStopped();
    return outcome;
  }

  async function upload(key: string, body: string, versionId?: string): Promise<unknown> {
    const uploaded = await harness.upload(key, body);
    // The data bucket is versioned: its events carry the version id, and ingest reads that version.
    const event = versionId === undefined ? uploaded : withVersionId(uploaded, versionId);
    const object = (event as { detail: { object: Record<string, unknown> } }).detail.object;
    uploads.push({
      key: object.key as string,
      size: object.size as number,
      ...(object.etag ? { etag: object.etag as string } : {}),
      ...(object['version-id'] ? { versionId: object['version-id'] as string } : {}),
      ...(object.sequencer ? { sequencer: object.sequencer as string } : {}),
    });
    return event;
  }

  async function ingestUpload(
    name: string,
    key: string,
    body: string,
    options: { deliveries?: number; versionId?: string } = {},
  ): Promise<void> {
    const deliveries = options.deliveries ?? 1;
    const event = await upload(key, body, options.versionId);
    for (let i = 0; i < deliveries; i++) {
      const result = await step(i === 0 ? name : `${name} (redelivered)`, 'ingest', () =>
        ingest(sqsBatch(event), lambdaContext),
      );
      check(name, result?.batchItemFailures.length === 0, result);
    }
  }

  async function latestJob(model: string): Promise<{ version: number; jobName: string } | undefined> {
    const latest = (await lookups.listVersions(model)).at(-1);
    if (!latest) {
      check('a version is registered', false, { model, audit: await lookups.listAudit(model) });
      return undefined;
    }
    return { version: latest.version, jobName: latest.trainingJobName };
  }

  /** The training job ends (SageMaker's part); with `redelivery`, only when it exists by then. */
  function finishJob(job: { jobName: string } | undefined, outcome: ScenarioJobOutcome): void {
    if (!job) return;
    jobOutcomes.set(job.jobName, outcome);
    if (redelivery && !harness.aws.jobs.has(job.jobName)) {
      deviations.push(`training job ${job.jobName} did not exist when it was to finish`);
      return;
    }
    harness.aws.finishJob(job.jobName, outcome);
  }

  /** The endpoint's rollout ends in service (SageMaker's part); with `redelivery`, only when it exists. */
  function settleEndpoint(name: string): void {
    if (redelivery && !harness.aws.endpoints.has(name)) {
      deviations.push(`endpoint ${name} did not exist when it was to settle`);
      return;
    }
    harness.aws.settleEndpoint(name, 'in-service');
  }

  /** The alarm changes state (CloudWatch's part); with `redelivery`, only when it exists. */
  function setAlarm(name: string, state: 'OK' | 'ALARM', reason: string): void {
    if (redelivery && !harness.aws.alarms.has(name)) {
      deviations.push(`alarm ${name} did not exist when it was to change state`);
      return;
    }
    harness.aws.setAlarm(name, state, reason);
  }

  try {
    await script();
  } catch (error) {
    if (!(error instanceof ScenarioStopped)) throw error;
    return result(true);
  }
  return result(false);

  function result(stopped: boolean): PipelineScenario {
    return { calls, steps, models, uploads, deviations, deadLettered, jobOutcomes, published, stopped };
  }

  async function script(): Promise<void> {
    const main = models.main;
    const folder = models.folder;
    const held = models.approval;
    let v1: { version: number; jobName: string } | undefined;
    let upsell: { version: number; jobName: string } | undefined;

    // --- churn: config, a valid CSV (delivered twice), a rejected CSV.
    if (enter('main')) {
      await upload(
        `models/${main}/config.json`,
        JSON.stringify({
          gate: { threshold: 0.7, regressionTolerance: 0.01 },
          deployment: { strategy: 'linear', initialInstanceCount: 4, stepPercent: 25, bakeSeconds: 600 },
        }),
      );
      await ingestUpload('ingest a valid CSV', `datasets/${main}/batch-1.csv`, labelled(400, 1), {
        deliveries: 2,
        versionId: 'Xz7n.batch1',
      });
      v1 = await latestJob(main);
      await ingestUpload('ingest a rejected CSV', `datasets/${main}/broken.csv`, 'tenure,label\n1,0\n2\n');
      const rejected = (await lookups.listAudit(main)).filter((a) => a.type === 'DATASET_REJECTED');
      check('ingest a rejected CSV', rejected.length === 1, rejected);
    }

    // --- upsell: a folder dataset without a config; its job fails.
    if (enter('folder')) {
      const rows = labelled(300, 5).trimEnd().split('\n');
      const header = rows[0]!;
      const part = await upload(
        `datasets/${folder}/2026-11-26/part-00000.csv`,
        [header, ...rows.slice(1, 150)].join('\n') + '\n',
      );
      await upload(
        `datasets/${folder}/2026-11-26/part-00001.csv`,
        [header, ...rows.slice(150)].join('\n') + '\n',
      );
      const partResult = await step('ingest a folder part (ignored)', 'ingest', () =>
        ingest(sqsBatch(part), lambdaContext),
      );
      check('ingest a folder part (ignored)', partResult?.batchItemFailures.length === 0, partResult);
      await ingestUpload('ingest a folder dataset on _SUCCESS', `datasets/${folder}/2026-11-26/_SUCCESS`, '');
      upsell = await latestJob(folder);
    }

    // --- Training events.
    if (enter('main') && v1) {
      const job = v1;
      expectKind(
        'training InProgress',
        await step('training InProgress', 'training-events', () =>
          training(trainingEvent(job.jobName, 'InProgress'), lambdaContext),
        ),
        'in-progress',
      );
      finishJob(job, { metrics: { 'validation:auc': 0.91, 'train:auc': 0.95 } });
      expectKind(
        'training Completed: gate, create the endpoint',
        await step('training Completed: gate, create the endpoint', 'training-events', () =>
          training(trainingEvent(job.jobName), lambdaContext),
        ),
        'deploying',
      );
      await step('training Completed (redelivered)', 'training-events', () =>
        training(trainingEvent(job.jobName), lambdaContext),
      );
    }
    if (enter('folder') && upsell) {
      const job = upsell;
      finishJob(job, { failureReason: 'AlgorithmError: out of memory' });
      expectKind(
        'training Failed',
        await step('training Failed', 'training-events', () =>
          training(trainingEvent(job.jobName, 'Failed'), lambdaContext),
        ),
        'failed',
      );
    }

    if (enter('main')) {
      // --- First deployment in service: promotion and the model's alarms (PutMetricAlarm with Tags).
      settleEndpoint(mainEndpoint);
      expectKind(
        'endpoint InService: promote, create alarms',
        await step('endpoint InService: promote, create alarms', 'endpoint-events', () =>
          endpoints(endpointEvent(mainEndpoint), lambdaContext),
        ),
        'promoted',
      );
      check('alarms created', harness.aws.alarms.has(`${mainEndpoint}-error-rate`), [
        ...harness.aws.alarms.keys(),
      ]);

      // --- A better second version: data-quality check against v1's baseline, blue/green update.
      await ingestUpload('ingest a second version', `datasets/${main}/batch-2.csv`, labelled(400, 2), {
        versionId: 'Xz7n.batch2',
      });
      const v2 = await latestJob(main);
      check('ingest a second version', v2 !== undefined && v2.version > (v1?.version ?? 0), v2);
      finishJob(v2, { metrics: { 'validation:auc': 0.93 } });
      if (v2) {
        const updating = await step('training Completed: blue/green UpdateEndpoint', 'training-events', () =>
          training(trainingEvent(v2.jobName), lambdaContext),
        );
        expectKind('training Completed: blue/green UpdateEndpoint', updating, 'deploying');
        check('blue/green UpdateEndpoint', JSON.stringify(updating).includes('"updating"'), updating);
      }
      settleEndpoint(mainEndpoint);
      expectKind(
        'endpoint InService: promote v2, archive v1',
        await step('endpoint InService: promote v2, archive v1', 'endpoint-events', () =>
          endpoints(endpointEvent(mainEndpoint), lambdaContext),
        ),
        'promoted',
      );

      // --- An alarm opens an incident (SNS notification), then resolves it.
      const alarm = `${mainEndpoint}-error-rate`;
      setAlarm(alarm, 'ALARM', 'Threshold Crossed: 3 out of the last 5 datapoints were greater than 0.05');
      expectKind(
        'alarm ALARM: open an incident',
        await step('alarm ALARM: open an incident', 'alarm-events', () =>
          alarms(alarmEvent(alarm, 'ALARM', 'OK'), lambdaContext),
        ),
        'opened',
      );
      setAlarm(alarm, 'OK', 'back to normal');
      expectKind(
        'alarm OK: resolve the incident',
        await step('alarm OK: resolve the incident', 'alarm-events', () =>
          alarms(alarmEvent(alarm, 'OK', 'ALARM'), lambdaContext),
        ),
        'resolved',
      );

      // --- The drift monitor over an hour of captured traffic of the champion.
      if (options.monitor === 'scheduled') {
        // The hourly schedule's event at the top of this hour: the window is the hour before it.
        const hour = Math.floor(Date.now() / 3_600_000) * 3_600_000;
        const captured = new Date(hour - 30 * 60_000);
        await upload(captureKey(main, mainEndpoint, captured), captureLines(150, captured));
        const monitored = await step('monitor drift', 'monitor', () =>
          monitor(scheduledEvent(new Date(hour)), lambdaContext),
        );
        check('monitor drift', JSON.stringify(monitored).includes('"published"'), monitored);
      } else {
        const now = new Date();
        await upload(captureKey(main, mainEndpoint, now), captureLines(150, now));
        const monitored = await step('monitor drift', 'monitor', () =>
          monitor({ model: main }, lambdaContext),
        );
        check('monitor drift', JSON.stringify(monitored).includes('"published"'), monitored);
      }
      check('monitor drift', published.length === 1, published);
    }

    // --- Manual approval: held by the gate, approved by an operator, then promoted.
    if (enter('approval')) {
      await upload(`models/${held}/config.json`, JSON.stringify({ gate: { approval: 'manual' } }));
      await ingestUpload(
        'ingest a dataset of a manually approved model',
        `datasets/${held}/data.csv`,
        labelled(300, 7),
      );
      const l1 = await latestJob(held);
      finishJob(l1, { metrics: { 'validation:auc': 0.8 } });
      if (l1) {
        expectKind(
          'training Completed: held for approval',
          await step('training Completed: held for approval', 'training-events', () =>
            training(trainingEvent(l1.jobName), lambdaContext),
          ),
          'pending-approval',
        );
        const approved = await step('approve the version', 'approval', () =>
          new ApproveVersion(ctx).approve(held, l1.version, 'alice@example.com', 'looks good'),
        );
        check('approve the version', approved?.approved === true, approved);
      }
      settleEndpoint(approvalEndpoint);
      expectKind(
        'endpoint InService: promote the approved version',
        await step('endpoint InService: promote the approved version', 'endpoint-events', () =>
          endpoints(endpointEvent(approvalEndpoint), lambdaContext),
        ),
        'promoted',
      );
    }
  }
}

/**
 * The event of an upload to a versioned bucket (`detail.object.version-id`). The local S3 server
 * keeps no versions and serves the current object for any VersionId.
 */
function withVersionId(event: unknown, versionId: string): unknown {
  const e = event as { detail: { object: Record<string, unknown> } };
  return { ...e, detail: { ...e.detail, object: { ...e.detail.object, 'version-id': versionId } } };
}

/** `churnCsv` with the default label column name. */
function labelled(rows: number, seed: number): string {
  return churnCsv(rows, seed).replace('churned', 'label');
}

/** Where SageMaker data capture writes an hour's records (see core/use-cases/monitor-drift.ts). */
function captureKey(model: string, endpoint: string, at: Date): string {
  const p2 = (n: number) => String(n).padStart(2, '0');
  const hour = `${at.getUTCFullYear()}/${p2(at.getUTCMonth() + 1)}/${p2(at.getUTCDate())}/${p2(at.getUTCHours())}`;
  return `capture/${model}/${endpoint}/AllTraffic/${hour}/capture-0001.jsonl`;
}

/** `count` capture lines (one CSV row and one score each), within the minute before `at`. */
function captureLines(count: number, at: Date): string {
  const rows = churnCsv(count, 11).trimEnd().split('\n').slice(1);
  return rows
    .map((row, i) => {
      const [tenure, charges, calls, label] = row.split(',');
      return JSON.stringify({
        captureData: {
          endpointInput: {
            observedContentType: 'text/csv',
            mode: 'INPUT',
            data: `${tenure},${charges},${calls}`,
            encoding: 'CSV',
          },
          endpointOutput: {
            observedContentType: 'text/csv',
            mode: 'OUTPUT',
            data: label === '1' ? '0.81' : '0.12',
            encoding: 'CSV',
          },
        },
        eventMetadata: {
          eventId: `e-${i}`,
          inferenceTime: new Date(at.getTime() - 60_000 + i * 100).toISOString().replace(/\.\d+Z$/, 'Z'),
        },
        eventVersion: '0',
      });
    })
    .join('\n');
}

/** EventBridge's "Scheduled Event" of the hourly drift schedule, at `time`. */
function scheduledEvent(time: Date) {
  return {
    version: '0',
    id: `schedule-${time.getTime()}`,
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: '123456789012',
    time: time.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region: 'us-east-1',
    resources: ['arn:aws:events:us-east-1:123456789012:rule/mlops-drift-monitor'],
    detail: {},
  };
}
