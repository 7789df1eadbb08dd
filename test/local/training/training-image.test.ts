import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create } from 'tar';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TrainingJobSpec } from '../../../core/ports/training-service';
import { jobLayout, type JobLayout } from '../../../local/training/sagemaker-environment';
import { checkEntryPoint, interpreter, trainingProgram } from '../../../local/training/training-image';
import { JobFailure } from '../../../local/training/training-job';
import { MemoryObjectStore } from '../../../adapters/memory/memory-object-store';

const XGBOOST = '683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1';
const CUSTOM = '123456789012.dkr.ecr.us-east-1.amazonaws.com/my-trainer:1';

function spec(over: Partial<TrainingJobSpec> = {}): TrainingJobSpec {
  return {
    jobName: 'demo-v1',
    model: 'demo',
    version: 1,
    image: XGBOOST,
    metricDefinitions: [],
    hyperparameters: { objective: 'binary:logistic' },
    trainUri: 's3://b/prepared/train/',
    validationUri: 's3://b/prepared/validation/',
    outputUri: 's3://b/artifacts/',
    instanceType: 'ml.m5.large',
    instanceCount: 1,
    volumeSizeGb: 10,
    maxRuntimeSeconds: 3600,
    spot: false,
    tags: {},
    ...over,
  };
}

const script = (entryPoint: string, submitDir = 's3://b/code/sourcedir.tar.gz', extra = {}) => ({
  ...extra,
  sagemaker_program: JSON.stringify(entryPoint),
  sagemaker_submit_directory: JSON.stringify(submitDir),
});

let dir: string;
let layout: JobLayout;
let objects: MemoryObjectStore;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'training-image-'));
  layout = jobLayout(dir);
  objects = new MemoryObjectStore();
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function putSourceDir(files: Record<string, string>): Promise<void> {
  const source = join(dir, 'source');
  await mkdir(source);
  for (const [name, text] of Object.entries(files)) await writeFile(join(source, name), text);
  const chunks: Buffer[] = [];
  for await (const chunk of create({ gzip: true, cwd: source, portable: true }, Object.keys(files)))
    chunks.push(Buffer.from(chunk as Uint8Array));
  await objects.put('b', 'code/sourcedir.tar.gz', new Uint8Array(Buffer.concat(chunks)));
}

describe('trainingProgram', () => {
  it('runs the local trainer for the built-in XGBoost image, reading its round lines', async () => {
    const program = trainingProgram(spec(), layout, { objects });
    expect(program.kind).toBe('builtin');
    const command = await program.prepare();
    expect(command.command).toBe(process.execPath);
    expect(command.args).toHaveLength(4);
    expect(command.args[0]).toBe('--import');
    expect(command.args[1]).toMatch(/^file:\/\/.*tsx/);
    expect(command.args[2]).toMatch(/local\/training\/train-builtin\.ts$/);
    expect(command.args[3]).toBe(dir);
    expect(command.cwd).toBe(dir);
    expect(command.env).toMatchObject({ SM_ROOT: dir, TRAINING_JOB_NAME: 'demo-v1' });
    program.metrics.line('[0]#011train-auc:0.5', '[0]\ttrain-auc:0.5');
    expect(program.metrics.end()).toEqual({ 'train:auc': 0.5 });
  });

  it('runs script mode whatever the image, reading the metric definitions', async () => {
    await putSourceDir({ 'train.mjs': 'console.log(1)\n' });
    const program = trainingProgram(
      spec({
        image: XGBOOST,
        hyperparameters: script('train.mjs', undefined, { epochs: '2' }),
        metricDefinitions: [{ name: 'loss', regex: 'loss=([0-9.]+)' }],
      }),
      layout,
      { objects },
    );
    expect(program.kind).toBe('script');
    expect(program.metrics.line('loss=0.5', 'loss=0.5')).toEqual({ loss: 0.5 });
    const command = await program.prepare();
    expect(command).toMatchObject({
      command: process.execPath,
      args: [join(layout.codeDir, 'train.mjs'), '--epochs', '2'],
      cwd: layout.codeDir,
    });
    expect(command.env).toMatchObject({ SM_USER_ENTRY_POINT: 'train.mjs', SM_HP_EPOCHS: '2' });
  });

  it('runs .py entry points with the configured interpreter', async () => {
    await putSourceDir({ 'train.py': 'print(1)\n' });
    const program = trainingProgram(spec({ image: CUSTOM, hyperparameters: script('train.py') }), layout, {
      objects,
      python: '/opt/venv/bin/python',
    });
    expect((await program.prepare()).command).toBe('/opt/venv/bin/python');
  });

  it('fails other images: they need Docker', () => {
    expect(() => trainingProgram(spec({ image: CUSTOM }), layout, { objects })).toThrow(
      `ClientError: local training runs the built-in XGBoost and script mode; image ${CUSTOM} cannot run locally`,
    );
  });

  it('fails script mode without an s3:// source directory, or without the entry point in it', async () => {
    const local = trainingProgram(spec({ hyperparameters: script('train.py', '/home/me/code') }), layout, {
      objects,
    });
    await expect(local.prepare()).rejects.toThrow(
      'ClientError: sagemaker_submit_directory must be an s3:// URI of a sourcedir.tar.gz; got "/home/me/code"',
    );
    await putSourceDir({ 'other.py': '' });
    const missing = trainingProgram(spec({ hyperparameters: script('train.py') }), layout, { objects });
    await expect(missing.prepare()).rejects.toThrow(
      'ClientError: the entry point train.py is not in s3://b/code/sourcedir.tar.gz',
    );
  });

  it('fails an archive that is not one', async () => {
    await objects.put('b', 'code/sourcedir.tar.gz', 'not a tar');
    const program = trainingProgram(spec({ hyperparameters: script('train.py') }), layout, { objects });
    await expect(program.prepare()).rejects.toThrow(
      /^ClientError: cannot extract s3:\/\/b\/code\/sourcedir.tar.gz: /,
    );
  });
});

describe('entry points', () => {
  it.each(['', '../train.py', 'a/../../train.py', '/abs/train.py'])('refuses %j', (entryPoint) => {
    expect(() => checkEntryPoint(entryPoint)).toThrow(JobFailure);
  });

  it.each(['train.py', 'src/train.py', 'train..py'])('accepts %j', (entryPoint) => {
    expect(() => checkEntryPoint(entryPoint)).not.toThrow();
  });

  it('run by their extension', () => {
    expect(interpreter('t.py', '/c/t.py', 'python3')).toEqual(['python3', '/c/t.py']);
    expect(interpreter('t.js', '/c/t.js', 'python3')).toEqual([process.execPath, '/c/t.js']);
    expect(interpreter('t.mjs', '/c/t.mjs', 'python3')).toEqual([process.execPath, '/c/t.mjs']);
    const ts = interpreter('t.ts', '/c/t.ts', 'python3');
    expect([ts[0], ts[1], ts[3]]).toEqual([process.execPath, '--import', '/c/t.ts']);
    expect(interpreter('t.sh', '/c/t.sh', 'python3')).toEqual(['/bin/sh', '/c/t.sh']);
    expect(interpreter('train', '/c/train', 'python3')).toEqual(['/c/train']);
  });
});
