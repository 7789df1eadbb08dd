import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create } from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalTrainingService } from '../../../local/training/local-training-service';
import { S3ObjectStore } from '../../../adapters/aws/s3-object-store';
import { xgboostImageUri } from '../../../core/domain/algorithm-images';
import type { TrainingJobSpec } from '../../../core/ports/training-service';
import { localTime, type CloudEvent } from '../../../local/contracts';
import { seededRandom } from '../../../local/training/gbm';
import { loadModelArtifact } from '../../../local/training/model-artifact';
import { startS3Server, type S3TestServer } from '../../support/s3-server';
import fixture from '../../fixtures/events/sagemaker-training-job-state-change.json';

let s3: S3TestServer;
let objects: S3ObjectStore;
let root: string;
let work: string;
const events: CloudEvent[] = [];
let service: LocalTrainingService;

/** Prepared CSV as ingest writes it: label first, no header; 4 features, one sometimes empty. */
function csv(rows: number, seed: number): string {
  const random = seededRandom(seed);
  const lines: string[] = [];
  for (let i = 0; i < rows; i++) {
    const x = Array.from({ length: 4 }, () => random() * 2 - 1);
    const label = x[0]! + 0.5 * x[1]! > 0 ? 1 : 0;
    lines.push([label, ...x.map((v, f) => (f === 3 && i % 10 === 0 ? '' : v.toFixed(4)))].join(','));
  }
  return lines.join('\n') + '\n';
}

async function dataset(
  name: string,
  train: string,
  validation: string,
): Promise<{ trainUri: string; validationUri: string }> {
  const base = `prepared/demo/${name}`;
  await objects.write(s3.bucket, `${base}/train/train.csv`, train, 'text/csv');
  await objects.write(s3.bucket, `${base}/validation/validation.csv`, validation, 'text/csv');
  return {
    trainUri: `s3://${s3.bucket}/${base}/train/`,
    validationUri: `s3://${s3.bucket}/${base}/validation/`,
  };
}

function spec(
  jobName: string,
  uris: { trainUri: string; validationUri: string },
  over: Partial<TrainingJobSpec> = {},
): TrainingJobSpec {
  return {
    jobName,
    model: 'demo',
    version: 1,
    image: xgboostImageUri('us-east-1', '1.7-1'),
    metricDefinitions: [],
    hyperparameters: { objective: 'binary:logistic', eval_metric: 'auc', num_round: '15', max_depth: '3' },
    ...uris,
    outputUri: `s3://${s3.bucket}/artifacts/demo/`,
    instanceType: 'ml.m5.large',
    instanceCount: 1,
    volumeSizeGb: 10,
    maxRuntimeSeconds: 3600,
    spot: false,
    tags: { 'mlops:model': 'demo' },
    ...over,
  };
}

/** Uploads a sourcedir.tar.gz holding `files`; returns its s3:// URI. */
async function sourceDir(name: string, files: Record<string, string>): Promise<string> {
  const dir = join(work, name);
  await mkdir(dir, { recursive: true });
  for (const [file, text] of Object.entries(files)) await writeFile(join(dir, file), text);
  const chunks: Buffer[] = [];
  for await (const chunk of create({ gzip: true, cwd: dir, portable: true }, Object.keys(files)))
    chunks.push(Buffer.from(chunk as Uint8Array));
  const key = `code/${name}/sourcedir.tar.gz`;
  await objects.write(s3.bucket, key, new Uint8Array(Buffer.concat(chunks)), 'application/gzip');
  return `s3://${s3.bucket}/${key}`;
}

function scriptHyperparameters(
  entryPoint: string,
  submitDir: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    ...extra,
    sagemaker_program: JSON.stringify(entryPoint),
    sagemaker_submit_directory: JSON.stringify(submitDir),
  };
}

async function readObject(uri: string): Promise<Uint8Array> {
  const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(uri)!;
  const object = await objects.read(match[1]!, match[2]!);
  if (!object) throw new Error(`${uri} does not exist`);
  const chunks: Uint8Array[] = [];
  for await (const chunk of object.body) chunks.push(chunk);
  return new Uint8Array(Buffer.concat(chunks));
}

const eventsOf = (job: string) => events.filter((e) => e.detail.TrainingJobName === job);

beforeAll(async () => {
  s3 = await startS3Server();
  objects = new S3ObjectStore(s3.client);
  work = await mkdtemp(join(tmpdir(), 'local-training-'));
  root = join(work, 'training');
  service = new LocalTrainingService({
    root,
    objects,
    events: { publish: (e) => events.push(e) },
    time: localTime(1),
  });
});

afterAll(async () => {
  await service?.close();
  await s3?.stop();
  await rm(work, { recursive: true, force: true });
});

describe('LocalTrainingService', () => {
  it('runs the built-in algorithm: metrics, model.tar.gz in S3, EventBridge-shaped events', async () => {
    const uris = await dataset('ok', csv(400, 1), csv(150, 2));
    const jobSpec = spec('demo-v1-ok', uris);
    expect(await service.startTrainingJob(jobSpec)).toBe('started');
    expect(await service.startTrainingJob(jobSpec)).toBe('already-exists');
    expect((await service.describeTrainingJob('demo-v1-ok'))?.status).toBe('InProgress');

    const job = await service.waitForJob('demo-v1-ok');
    expect(job, job.failureReason).toMatchObject({ status: 'Completed', secondaryStatus: 'Completed' });
    expect(job.metrics['validation:auc']).toBeGreaterThan(0.85);
    expect(job.metrics['validation:auc']).toBeLessThanOrEqual(1);
    expect(job.metrics['train:auc']).toBeGreaterThan(0.85);
    expect(job.artifactUri).toBe(`s3://${s3.bucket}/artifacts/demo/demo-v1-ok/output/model.tar.gz`);
    expect(job.billableSeconds).toBeGreaterThanOrEqual(1);

    const model = await loadModelArtifact(await readObject(job.artifactUri!));
    expect(model.featureCount).toBe(4);
    const [high, low] = model.predict([
      [0.9, 0.9, 0, null],
      [-0.9, -0.9, 0, 0],
    ]);
    expect(high).toBeGreaterThan(0.5);
    expect(low).toBeLessThan(0.5);

    const logs = await readFile(join(root, 'demo-v1-ok', 'logs.txt'), 'utf8');
    expect(logs).toMatch(/^\[14\]#011train-auc:[\d.]+#011validation-auc:[\d.]+$/m);

    const published = eventsOf('demo-v1-ok');
    expect(published.map((e) => e.detail.TrainingJobStatus)).toEqual(['InProgress', 'Completed']);
    const completed = published[1]!;
    expect(Object.keys(completed).sort()).toEqual(Object.keys(fixture).sort());
    expect(completed).toMatchObject({
      source: 'aws.sagemaker',
      'detail-type': 'SageMaker Training Job State Change',
      account: '000000000000',
      region: 'us-east-1',
    });
    expect(completed.resources).toEqual(['arn:aws:sagemaker:us-east-1:000000000000:training-job/demo-v1-ok']);
    for (const key of Object.keys(fixture.detail)) expect(completed.detail, key).toHaveProperty(key);
    expect(completed.detail).toMatchObject({
      TrainingJobStatus: 'Completed',
      SecondaryStatus: 'Completed',
      ModelArtifacts: { S3ModelArtifacts: job.artifactUri },
      HyperParameters: jobSpec.hyperparameters,
      AlgorithmSpecification: { TrainingImage: jobSpec.image, TrainingInputMode: 'File' },
    });
    expect(typeof completed.detail.TrainingEndTime).toBe('number');

    // State survives a restart: a new service on the same root knows the job.
    const restarted = new LocalTrainingService({
      root,
      objects,
      events: { publish: () => {} },
      time: localTime(1),
    });
    expect((await restarted.describeTrainingJob('demo-v1-ok'))?.status).toBe('Completed');
    expect(await restarted.startTrainingJob(jobSpec)).toBe('already-exists');
    expect(await restarted.describeTrainingJob('no-such-job')).toBeUndefined();
  });

  it('fails a job whose data has a bad row, with the reason', async () => {
    const uris = await dataset('bad', csv(50, 3) + '1,0.5,abc,0.1,0.2\n', csv(20, 4));
    await service.startTrainingJob(spec('demo-v2-bad', uris));
    const job = await service.waitForJob('demo-v2-bad');
    expect(job.status).toBe('Failed');
    expect(job.failureReason).toMatch(
      /^ClientError: train\/train\.csv line 51: column 3 "abc" is not a number$/,
    );
    expect(eventsOf('demo-v2-bad').map((e) => [e.detail.TrainingJobStatus, e.detail.FailureReason])).toEqual([
      ['InProgress', undefined],
      ['Failed', job.failureReason],
    ]);
  });

  it('runs a script-mode entry point with the SageMaker toolkit environment', async () => {
    const uris = await dataset('script', csv(30, 5), csv(10, 6));
    const script = `
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
const dir = process.env.SM_CHANNEL_TRAIN;
const rows = readdirSync(dir).flatMap((f) => readFileSync(join(dir, f), 'utf8').trim().split('\\n'));
writeFileSync(join(process.env.SM_MODEL_DIR, 'model.json'), JSON.stringify({ rows: rows.length, hps: JSON.parse(process.env.SM_HPS) }));
console.log('env', JSON.stringify({
  channels: process.env.SM_CHANNELS, epochs: process.env.SM_HP_EPOCHS, lr: process.env['SM_HP_LEARNING-RATE'],
  hosts: process.env.SM_HOSTS, gpus: process.env.SM_NUM_GPUS, entry: process.env.SM_USER_ENTRY_POINT,
  module: process.env.SM_MODULE_DIR, args: process.argv.slice(2), env: JSON.parse(process.env.SM_TRAINING_ENV).job_name,
}));
console.log('rows=' + rows.length + ';\\tscore=0.5');
console.log('rows=' + rows.length + ';\\tscore=0.75');
`;
    const submitDir = await sourceDir('script-ok', { 'train.mjs': script });
    const jobSpec = spec('demo-v3-script', uris, {
      image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/my-trainer:1',
      hyperparameters: scriptHyperparameters('train.mjs', submitDir, {
        epochs: '3',
        'learning-rate': '0.01',
      }),
      metricDefinitions: [
        { name: 'validation:score', regex: 'score=([0-9.]+)' },
        { name: 'train:rows', regex: 'rows=(\\d+);' },
      ],
    });
    await service.startTrainingJob(jobSpec);
    const job = await service.waitForJob('demo-v3-script');
    expect(job, job.failureReason).toMatchObject({
      status: 'Completed',
      metrics: { 'validation:score': 0.75, 'train:rows': 30 },
    });
    const logs = await readFile(join(root, 'demo-v3-script', 'logs.txt'), 'utf8');
    const env = JSON.parse(/^env (.*)$/m.exec(logs)![1]!) as Record<string, unknown>;
    expect(env).toEqual({
      channels: '["train","validation"]',
      epochs: '3',
      lr: '0.01',
      hosts: '["algo-1"]',
      gpus: '0',
      entry: 'train.mjs',
      module: submitDir,
      args: ['--epochs', '3', '--learning-rate', '0.01'],
      env: 'demo-v3-script',
    });
    expect(logs).toContain('rows=30;#011score=0.75');
    expect(job.artifactUri).toBeDefined();
    const archive = await readObject(job.artifactUri!);
    expect(archive.length).toBeGreaterThan(0);
  });

  it('fails a script that exits 1, with its stderr', async () => {
    const uris = await dataset('script-fail', csv(10, 7), csv(5, 8));
    const submitDir = await sourceDir('script-fail', {
      'train.js': "console.error('Traceback: boom, the data is wrong');\nprocess.exit(1);\n",
    });
    await service.startTrainingJob(
      spec('demo-v4-fail', uris, { hyperparameters: scriptHyperparameters('train.js', submitDir) }),
    );
    const job = await service.waitForJob('demo-v4-fail');
    expect(job.status).toBe('Failed');
    expect(job.failureReason).toMatch(/ExitCode 1/);
    expect(job.failureReason).toContain('boom, the data is wrong');
  });

  it('stops a job that exceeds its max runtime', async () => {
    const uris = await dataset('slow', csv(10, 9), csv(5, 10));
    const submitDir = await sourceDir('script-slow', {
      'train.js': "console.log('working');\nsetTimeout(() => {}, 60000);\n",
    });
    // 60 simulated seconds at 60x: one real second.
    const fast = new LocalTrainingService({
      root,
      objects,
      events: { publish: (e) => events.push(e) },
      time: localTime(60),
    });
    await fast.startTrainingJob(
      spec('demo-v5-slow', uris, {
        maxRuntimeSeconds: 60,
        hyperparameters: scriptHyperparameters('train.js', submitDir),
      }),
    );
    const job = await fast.waitForJob('demo-v5-slow');
    expect(job).toMatchObject({ status: 'Stopped', secondaryStatus: 'MaxRuntimeExceeded' });
    expect(job.failureReason).toMatch(/MaxRuntimeInSeconds \(60 s\)/);
    expect(eventsOf('demo-v5-slow').map((e) => e.detail.SecondaryStatus)).toEqual([
      'Starting',
      'MaxRuntimeExceeded',
    ]);
  });

  it('fails images it cannot run, and stops running jobs on close', async () => {
    const uris = await dataset('other', csv(10, 11), csv(5, 12));
    await service.startTrainingJob(
      spec('demo-v6-image', uris, { image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/custom:1' }),
    );
    const job = await service.waitForJob('demo-v6-image');
    expect(job.status).toBe('Failed');
    expect(job.failureReason).toContain(
      'image 123456789012.dkr.ecr.us-east-1.amazonaws.com/custom:1 cannot run locally',
    );

    const submitDir = await sourceDir('script-forever', { 'train.js': 'setTimeout(() => {}, 60000);\n' });
    const closing = new LocalTrainingService({
      root,
      objects,
      events: { publish: () => {} },
      time: localTime(1),
    });
    await closing.startTrainingJob(
      spec('demo-v7-close', uris, { hyperparameters: scriptHyperparameters('train.js', submitDir) }),
    );
    await new Promise((r) => setTimeout(r, 300));
    await closing.close();
    expect((await closing.describeTrainingJob('demo-v7-close'))?.status).toBe('Stopped');
    await expect(closing.startTrainingJob(spec('demo-v8-late', uris))).rejects.toThrow(/closed/);
  });
});
