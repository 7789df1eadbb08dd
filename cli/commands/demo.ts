/**
 * `mlops demo` (`npm run demo`): starts a local cloud of its own, runs the whole scenario against
 * it (see local/demo/demo.ts) and exits 0 only if every stage did what it should. Where this
 * stands: CLI command.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LocalCloud } from '../../local/cloud';
import { DEMO_MODEL, runDemo, type DemoCloud, type DemoResult } from '../../local/demo/demo';
import { findRunningCloud, remoteDemoCloud } from '../../local/demo/remote-cloud';
import { UsageError, type CliCommand } from '../command';

const HELP = `Usage: mlops demo [options]

Uses the local cloud running in .mlops-local (\`npm run local\`) if there is one, with a model
name of its own; otherwise starts a local cloud (DynamoDB Local, an S3 API, the event bus, the
handlers, local training, endpoints and alarms) in its own folder on free ports. Then: uploads a
generated dataset and
follows it through validation, training, the registry, the gate and promotion; sends real
traffic to the endpoint; uploads a second dataset and compares the candidate with the champion;
injects a fault into a third rollout and shows the alarm, the incident and the rollback.

Options:
  --own               start a local cloud of its own even when one is running
  --dir <path>        where the demo's own cloud keeps its data (default .mlops-local/demo; wiped first)
  --time-scale <n>    simulated seconds per real second for bake times and alarm periods, for its
                      own cloud (default 60)
  --keep              leave its own cloud's data folder in place afterwards (removed by default)
  --json              print the outcome as JSON on stdout (the stages as they run go to stderr):
                      { "ok", "model", "stages": [{ "name", "ok", "seconds", "detail" }],
                        "versions": [{ "version", "status", "datasetId", "metrics", "failureReason"? }] }
  -h, --help          show this help

Exit codes: 0 every stage did what it shows, 1 otherwise, 2 usage.
`;

/** \`mlops demo --json\`'s shape: the stages and the model's versions at the end. */
export function demoResultJson(result: DemoResult, model: string) {
  return {
    ok: result.ok,
    model,
    stages: result.stages.map(({ name, ok, seconds, detail }) => ({ name, ok, seconds, detail })),
    versions: result.versions.map((v) => ({
      version: v.version,
      status: v.status,
      datasetId: v.datasetId,
      metrics: v.metrics ?? {},
      ...(v.failureReason !== undefined ? { failureReason: v.failureReason } : {}),
    })),
  };
}

/** Adapts a LocalCloud to what the demo needs. */
function demoCloudOf(cloud: LocalCloud): DemoCloud {
  return {
    registry: cloud.context.registry,
    objects: cloud.context.objects,
    bucket: cloud.context.bucket,
    timeScale: cloud.time.scale,
    endpointUrl: (name) => cloud.endpoints.endpointUrl(name),
    injectFault: (name, fault) => cloud.endpoints.injectFault(name, fault),
    clearFault: (name) => cloud.endpoints.clearFault(name),
  };
}

/** The `mlops demo` command. */
export const demoCommand: CliCommand = {
  name: 'demo',
  summary:
    'run the whole pipeline on a local cloud: data, training, gate, promotion, traffic, a fault and its rollback',
  help: HELP,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args: [...args],
      options: {
        dir: { type: 'string' },
        'time-scale': { type: 'string' },
        keep: { type: 'boolean', default: false },
        own: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      allowPositionals: true,
      strict: true,
    });
    if (values.help) {
      io.out(HELP);
      return 0;
    }
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const timeScale = values['time-scale'] === undefined ? 60 : Number(values['time-scale']);
    if (!(timeScale > 0) || !Number.isFinite(timeScale))
      throw new UsageError(`--time-scale must be a number > 0, got "${values['time-scale']}"`);
    const dir = values.dir ?? join('.mlops-local', 'demo');
    // With --json, stdout carries the JSON alone: the running commentary goes to stderr.
    const say = values.json ? io.err : io.out;
    const finish = (result: DemoResult, model: string): number => {
      if (values.json) io.out(JSON.stringify(demoResultJson(result, model), null, 2));
      return result.ok ? 0 : 1;
    };

    const running =
      values.own || values.dir !== undefined ? undefined : await findRunningCloud('.mlops-local');
    if (running) {
      // A model of its own, so that the demo leaves the running cloud's other models alone.
      const model = `churn-demo-${Date.now().toString(36)}`;
      say(
        `Using the local cloud running in ${running.dir} (pid ${running.pid}); the demo's model is ${model}.`,
      );
      const remote = remoteDemoCloud(running);
      try {
        return finish(await runDemo(remote, { print: (line) => say(line), model }), model);
      } finally {
        remote.close();
      }
    }

    say(
      `Starting a local cloud in ${dir} (time runs ${timeScale}× faster for bake times and alarm periods)…`,
    );
    const t0 = Date.now();
    const cloud = await LocalCloud.start({
      dir,
      fresh: true,
      s3Port: 0,
      dynamodbPort: 0,
      timeScale,
      quiet: true,
      handlerLogLevel: 'SILENT',
    });
    say(
      `Local cloud up in ${((Date.now() - t0) / 1000).toFixed(1)} s: S3 ${cloud.env.s3Endpoint}, DynamoDB ${cloud.env.dynamodbEndpoint}, bucket ${cloud.env.bucket}, table ${cloud.env.registryTable}`,
    );
    try {
      return finish(await runDemo(demoCloudOf(cloud), { print: (line) => say(line) }), DEMO_MODEL);
    } finally {
      await cloud.stop();
      if (!values.keep) await rm(dir, { recursive: true, force: true });
    }
  },
};
