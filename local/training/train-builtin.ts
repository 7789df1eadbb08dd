/**
 * The local built-in "XGBoost" algorithm as a program that follows SageMaker's training container
 * contract. Where this stands: local runtime; the local training service runs it as a child
 * process (`node --import tsx train-builtin.ts <root>`), `<root>` standing in for `/opt/ml`
 * (argv[2], else the SM_ROOT environment variable).
 *
 * Contract (SageMaker "How Amazon SageMaker Runs Your Training Image"): hyperparameters from
 * `<root>/input/config/hyperparameters.json` (string values), channels under
 * `<root>/input/data/<channel>/` (here `train`, optional `validation`: every file, CSV, label first,
 * no header, as ingest prepares them), the model in `<root>/model/`, and on failure a one-line
 * reason in `<root>/output/failure` and a non-zero exit code.
 *
 * Logs: one line per round in XGBoost's evaluation format, `[<round>]\ttrain-<metric>:<v>\t
 * validation-<metric>:<v>` (5 decimals, as XGBoost's EvaluationMonitor prints; CloudWatch shows the
 * tabs as `#011`). `eval_metric` (comma-separated list allowed) picks the metrics; the default is
 * XGBoost's for the objective: logloss (binary:logistic), rmse (reg:squarederror), mlogloss
 * (multi:softprob).
 */
import { createReadStream } from 'node:fs';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CsvSyntaxError, readCsvRecords, type CsvRecord } from '../../core/domain/csv';
import { isPlainObject } from '../../core/support/objects';
import { LOCAL_MODEL_FILE } from '../contracts';
import { GbmParamError, parseGbmParams, trainGbm, type GbmDataset } from './gbm';
import { evaluateMetric, isKnownMetric, metricsFor } from './metrics';
import { modelDocument, writeModel } from './model-artifact';

/** An error in the job's inputs (SageMaker's built-in algorithms report these as `ClientError`). */
export class ClientError extends Error {
  override readonly name = 'ClientError';
}

const DEFAULT_METRIC: Record<string, string> = {
  'binary:logistic': 'logloss',
  'reg:squarederror': 'rmse',
  'multi:softprob': 'mlogloss',
};

/**
 * The program's work, callable in-process (tests): trains from `<root>` and writes
 * `<root>/model/model.json`, logging through `out`. Throws on any error; {@link main} reports it as
 * SageMaker does (`output/failure`, exit code 1).
 */
export async function runBuiltinTraining(
  root: string,
  out: (line: string) => void = (l) => console.log(l),
): Promise<void> {
  const configDir = join(root, 'input', 'config');
  let hyperparameters: Record<string, string>;
  try {
    const raw = JSON.parse(await readFile(join(configDir, 'hyperparameters.json'), 'utf8')) as unknown;
    if (!isPlainObject(raw)) throw new Error('not a JSON object');
    hyperparameters = Object.fromEntries(
      Object.entries(raw).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]),
    );
  } catch (error) {
    throw new ClientError(`cannot read input/config/hyperparameters.json: ${(error as Error).message}`);
  }
  let params;
  try {
    params = parseGbmParams(hyperparameters);
  } catch (error) {
    if (error instanceof GbmParamError) throw new ClientError(error.message);
    throw error;
  }
  const metrics = (hyperparameters.eval_metric ?? DEFAULT_METRIC[params.objective]!)
    .split(',')
    .map((m) => m.trim())
    .filter(Boolean);
  for (const metric of metrics) {
    const allowed = metricsFor(params.objective);
    const base = metric.startsWith('error@') ? 'error' : metric;
    if (!isKnownMetric(metric) || !allowed.includes(base)) {
      throw new ClientError(
        `eval_metric "${metric}" is not supported for objective ${params.objective}; supported: ${allowed.join(', ')}`,
      );
    }
  }

  const dataDir = join(root, 'input', 'data');
  const train = await readChannel(join(dataDir, 'train'), 'train', true);
  const validation = await readChannel(join(dataDir, 'validation'), 'validation', false);
  if (!train) throw new ClientError('the train channel has no data');
  const featureCount = train.features[0]!.length;
  if (validation && validation.features[0]!.length !== featureCount) {
    throw new ClientError(
      `the validation channel has ${validation.features[0]!.length} feature columns but the train channel has ${featureCount}`,
    );
  }
  out(
    `[local-xgboost] objective=${params.objective} num_round=${params.numRound} eta=${params.eta} max_depth=${params.maxDepth} ` +
      `train rows=${train.labels.length} validation rows=${validation?.labels.length ?? 0} features=${featureCount}`,
  );
  const evals = [
    { name: 'train', data: train },
    ...(validation ? [{ name: 'validation', data: validation }] : []),
  ];
  let model;
  try {
    model = trainGbm(train, params, {
      evals,
      metrics,
      evaluate: evaluateMetric,
      onRound: (round, scores) =>
        out(`[${round}]` + scores.map((s) => `\t${s.set}-${s.metric}:${formatScore(s.value)}`).join('')),
    });
  } catch (error) {
    if (error instanceof GbmParamError) throw new ClientError(error.message);
    throw error;
  }
  await writeModel(join(root, 'model'), modelDocument(model, hyperparameters));
  out(`[local-xgboost] model written to model/${LOCAL_MODEL_FILE}`);
}

/** XGBoost prints scores with 5 decimals; NaN (e.g. AUC of a one-class set) as `nan`. */
function formatScore(value: number): string {
  return Number.isFinite(value) ? value.toFixed(5) : 'nan';
}

/** Every file of a channel directory (recursively, in name order) as one data set; undefined when absent or empty. */
async function readChannel(dir: string, channel: string, required: boolean): Promise<GbmDataset | undefined> {
  let files: string[];
  try {
    files = (await readdir(dir, { recursive: true, withFileTypes: true }))
      .filter((e) => e.isFile() && !e.name.startsWith('.') && e.name !== '_SUCCESS')
      .map((e) => join(e.parentPath, e.name))
      .sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      if (required) throw new ClientError(`the ${channel} channel is missing (input/data/${channel}/)`);
      return undefined;
    }
    throw error;
  }
  const features: number[][] = [];
  const labels: number[] = [];
  let width: number | undefined;
  for (const file of files) {
    const name = `${channel}/${relative(dir, file)}`;
    for await (const records of csvRecordsOf(createReadStream(file), name)) {
      for (const { line, fields } of records) {
        if (fields.length === 1 && fields[0]!.trim() === '') continue; // a line of spaces only
        if (width === undefined) width = fields.length;
        if (fields.length < 2)
          throw new ClientError(`${name} line ${line}: a row needs a label and at least one feature`);
        if (fields.length !== width) {
          throw new ClientError(
            `${name} line ${line}: ${fields.length} columns, but earlier rows have ${width}`,
          );
        }
        const label = fields[0]!.trim();
        const y = Number(label);
        if (label === '' || !Number.isFinite(y))
          throw new ClientError(`${name} line ${line}: the label "${truncate(label)}" is not a number`);
        const row = new Array<number>(fields.length - 1);
        for (let f = 1; f < fields.length; f++) {
          const text = fields[f]!.trim();
          if (text === '') row[f - 1] = NaN;
          else {
            const v = Number(text);
            if (!Number.isFinite(v))
              throw new ClientError(
                `${name} line ${line}: column ${f + 1} "${truncate(text)}" is not a number`,
              );
            row[f - 1] = v;
          }
        }
        features.push(row);
        labels.push(y);
      }
    }
  }
  if (labels.length === 0) {
    if (required) throw new ClientError(`the ${channel} channel has no rows`);
    return undefined;
  }
  return { features, labels };
}

/**
 * A channel file's records, by the project's one CSV reader (core/domain/csv.ts: quoted fields may
 * hold commas, quotes and line breaks), streamed so that a large channel is never one string.
 */
async function* csvRecordsOf(source: AsyncIterable<Uint8Array>, name: string): AsyncGenerator<CsvRecord[]> {
  try {
    yield* readCsvRecords(source);
  } catch (error) {
    if (error instanceof CsvSyntaxError) throw new ClientError(`${name} ${error.message}`);
    throw error;
  }
}

function truncate(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}...` : text;
}

/** Runs as a program: trains, or writes `output/failure` and exits 1. */
async function main(): Promise<void> {
  const root = process.argv[2] ?? process.env.SM_ROOT;
  if (!root) {
    console.error(
      'usage: train-builtin.ts <root> (or SM_ROOT=<root>): the directory standing in for /opt/ml',
    );
    process.exit(2);
  }
  try {
    await runBuiltinTraining(root);
  } catch (error) {
    const kind = error instanceof ClientError ? 'ClientError' : 'AlgorithmError';
    const reason = `${kind}: ${(error as Error).message}`.replace(/\s+/g, ' ').trim();
    console.error(reason);
    if (!(error instanceof ClientError)) console.error((error as Error).stack);
    try {
      await mkdir(join(root, 'output'), { recursive: true });
      await writeFile(join(root, 'output', 'failure'), reason + '\n');
    } catch (writeError) {
      console.error(`cannot write output/failure: ${(writeError as Error).message}`);
    }
    process.exitCode = 1;
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) void main();
