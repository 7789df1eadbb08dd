/**
 * `mlops monitor [--model <name>]`: runs the drift monitor now in the local cloud running in
 * `--dir` (through its control API, `POST /monitor`) and prints each model's drift. Where this
 * stands: CLI command; the work is the monitor handler's (lambdas/monitor/handler.ts).
 */
import { parseArgs } from 'node:util';
import type { ModelDriftOutcome, MonitorOutcome } from '../../core/use-cases/monitor-drift';
import { UsageError, type CliCommand, type CliIo } from '../command';

const HELP = `Usage: mlops monitor [options]

Runs the drift monitor now in the local cloud running in --dir (\`npm run local\`): for each model
in production (or only --model), the captured traffic of the window ending now is compared with
the training baseline, the drift metrics go to the local metric store (where the model's
feature-drift and prediction-drift alarms watch them) and the window's reports are written under
reports/<model>/monitoring/<window>/.

Options:
  --model <name>          only this model
  --window-minutes <n>    length of the window in real minutes (default: one hour of the cloud's
                          scaled time, e.g. 1 minute at --time-scale 60)
  --dir <path>            the local cloud's folder (default .mlops-local)
  --json                  print the outcome as JSON
  -h, --help              show this help

Captured traffic reaches S3 a few seconds after the requests (the capture buffer is written every
5 seconds), as SageMaker's data capture does minutes later.
`;

function parse(args: readonly string[]) {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: {
      model: { type: 'string' },
      'window-minutes': { type: 'string' },
      dir: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  let windowMinutes: number | undefined;
  if (values['window-minutes'] !== undefined) {
    windowMinutes = Number(values['window-minutes']);
    if (!Number.isInteger(windowMinutes) || windowMinutes < 1 || windowMinutes > 1440)
      throw new UsageError(
        `--window-minutes must be a whole number from 1 to 1440, got "${values['window-minutes']}"`,
      );
  }
  return {
    help: values.help,
    json: values.json,
    dir: values.dir ?? '.mlops-local',
    request: {
      ...(values.model !== undefined ? { model: values.model } : {}),
      ...(windowMinutes !== undefined ? { windowMinutes } : {}),
    },
  };
}

const fmt = (value: number | undefined) => (value === undefined ? '-' : value.toFixed(3));

/** One line per model. */
export function describeMonitorOutcome(outcome: MonitorOutcome): string {
  const lines = [`window ${outcome.window.start} .. ${outcome.window.end}`];
  if (outcome.models.length === 0) lines.push('  no model in production');
  for (const m of outcome.models) lines.push(`  ${describeModel(m)}`);
  return lines.join('\n');
}

function describeModel(m: ModelDriftOutcome): string {
  switch (m.kind) {
    case 'published':
      return `${m.model} v${m.version}: FeatureDriftMax ${fmt(m.figures.featureDriftMax)}  PredictionDrift ${fmt(m.figures.predictionDrift)}  MeanPredictionShift ${fmt(m.figures.meanPredictionShift)}  records ${m.figures.capturedRecords}${m.drifted.length ? `  drifted: ${m.drifted.join(', ')}` : ''}${m.malformed ? `  (${m.malformed} malformed capture lines skipped)` : ''}`;
    case 'already-done':
      return `${m.model} v${m.version}: this window was already monitored`;
    case 'skipped':
      return `${m.model} v${m.version}: skipped, ${m.why}`;
    case 'failed':
      return `${m.model} v${m.version}: FAILED, ${m.error}`;
  }
}

/** The `mlops monitor` command. */
export const monitorCommand: CliCommand = {
  name: 'monitor',
  summary: 'run the drift monitor now in the running local cloud and print each model’s drift',
  help: HELP,
  async run(args: readonly string[], io: CliIo): Promise<number> {
    const options = parse(args);
    if (options.help) {
      io.out(HELP);
      return 0;
    }
    const { findRunningCloud } = await import('../../local/demo/remote-cloud');
    const { controlFetch } = await import('../../local/control-server');
    const env = await findRunningCloud(options.dir);
    if (!env) {
      io.err(
        `no local cloud is running in ${options.dir}; start one with \`npm run local\` (mlops local up)`,
      );
      return 1;
    }
    const response = await controlFetch(env, '/monitor', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(options.request),
    });
    const body = (await response.json()) as MonitorOutcome | { kind: string; error?: string };
    if (!response.ok || body.kind !== 'monitored') {
      io.err(`the monitor refused the request (HTTP ${response.status}): ${JSON.stringify(body)}`);
      return response.status === 400 ? 2 : 1;
    }
    const outcome = body as MonitorOutcome;
    io.out(options.json ? JSON.stringify(outcome, null, 2) : describeMonitorOutcome(outcome));
    return outcome.models.some((m) => m.kind === 'failed') ? 1 : 0;
  },
};
