import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  downloadObject,
  downloadPrefix,
  modelArtifactLocation,
  parseS3Uri,
  stagedPath,
  uploadModel,
} from '../../../local/training/s3-staging';
import { JobFailure } from '../../../local/training/training-job';
import { MemoryObjectStore } from '../../../adapters/memory/memory-object-store';

describe('S3 locations', () => {
  it('splits s3:// URIs and refuses others as a ClientError', () => {
    expect(parseS3Uri('s3://bucket/a/b/')).toEqual({ bucket: 'bucket', key: 'a/b/' });
    expect(parseS3Uri('s3://bucket')).toEqual({ bucket: 'bucket', key: '' });
    expect(() => parseS3Uri('/tmp/x')).toThrow(JobFailure);
    expect(() => parseS3Uri('/tmp/x')).toThrow('ClientError: "/tmp/x" is not an s3:// URI');
  });

  it('puts the model where SageMaker does: <output>/<job>/output/model.tar.gz', () => {
    expect(modelArtifactLocation('s3://b/artifacts/demo/', 'job-1')).toEqual({
      bucket: 'b',
      key: 'artifacts/demo/job-1/output/model.tar.gz',
    });
    expect(modelArtifactLocation('s3://b/artifacts/demo', 'job-1').key).toBe(
      'artifacts/demo/job-1/output/model.tar.gz',
    );
    expect(modelArtifactLocation('s3://b', 'job-1').key).toBe('job-1/output/model.tar.gz');
  });

  it('stages a key below its prefix, an object named by the prefix under its file name', () => {
    expect(stagedPath('/data/train', 'prepared/train/', 'prepared/train/part-1.csv')).toBe(
      '/data/train/part-1.csv',
    );
    expect(stagedPath('/data/train', 'prepared/train', 'prepared/train/sub/part-2.csv')).toBe(
      '/data/train/sub/part-2.csv',
    );
    expect(stagedPath('/data/train', 'prepared/train.csv', 'prepared/train.csv')).toBe(
      '/data/train/train.csv',
    );
  });

  it('refuses a key that would escape the channel directory', () => {
    expect(() => stagedPath('/data/train', 'p/', 'p/../../etc/passwd')).toThrow(
      'ClientError: S3 key p/../../etc/passwd escapes its channel directory',
    );
    expect(() => stagedPath('/data/train', 'p/', 'p/../train-other/x')).toThrow(JobFailure);
  });
});

describe('staging', () => {
  let dir: string;
  let objects: MemoryObjectStore;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 's3-staging-'));
    objects = new MemoryObjectStore();
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('downloads every object under the prefix, skipping folder markers', async () => {
    await objects.put('b', 'prepared/train/', '');
    await objects.put('b', 'prepared/train/a.csv', '1,2\n');
    await objects.put('b', 'prepared/train/nested/b.csv', '0,3\n');
    await objects.put('b', 'prepared/validation/c.csv', 'not mine');
    const channel = join(dir, 'train');
    await downloadPrefix(objects, 's3://b/prepared/train/', channel);
    expect((await readdir(channel, { recursive: true })).sort()).toEqual(['a.csv', 'nested', 'nested/b.csv']);
    expect(await readFile(join(channel, 'nested', 'b.csv'), 'utf8')).toBe('0,3\n');
  });

  it("fails a channel with no objects with SageMaker's message", async () => {
    await objects.put('b', 'prepared/train/', '');
    await expect(downloadPrefix(objects, 's3://b/prepared/train/', join(dir, 'train'))).rejects.toThrow(
      'ClientError: No S3 objects found under S3 URL "s3://b/prepared/train/" given in input data source.',
    );
  });

  it('copies one object whole, and fails on a missing one', async () => {
    const text = 'x'.repeat(1001);
    await objects.put('b', 'code/sourcedir.tar.gz', text);
    const target = join(dir, 'deep', 'sourcedir.tar.gz');
    await downloadObject(objects, 's3://b/code/sourcedir.tar.gz', target);
    expect(await readFile(target, 'utf8')).toBe(text);
    await expect(downloadObject(objects, 's3://b/code/none.tar.gz', target)).rejects.toThrow(
      'ClientError: s3://b/code/none.tar.gz does not exist',
    );
  });

  it('uploads model/ as a gzipped tar and returns its URI', async () => {
    const modelDir = join(dir, 'model');
    await mkdir(modelDir);
    await writeFile(join(modelDir, 'model.json'), '{"trees":[]}');
    const uri = await uploadModel(objects, 's3://b/artifacts/demo/', 'job-1', modelDir);
    expect(uri).toBe('s3://b/artifacts/demo/job-1/output/model.tar.gz');
    expect(objects.keys('b')).toEqual(['artifacts/demo/job-1/output/model.tar.gz']);
    const stored = objects.peek('b', 'artifacts/demo/job-1/output/model.tar.gz')!;
    expect(stored.contentType).toBe('application/x-gzip');
    const tar = gunzipSync(stored.bytes);
    expect(tar.subarray(0, 100).toString('utf8').replace(/\0+$/, '')).toBe('model.json');
    expect(tar.toString('utf8')).toContain('{"trees":[]}');
  });
});
