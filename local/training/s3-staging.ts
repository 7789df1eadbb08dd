/**
 * S3 staging of a training job: the channels' objects copied into `input/data/<channel>/` before
 * the program runs (File mode), `model/` packed and uploaded as `model.tar.gz` after. Where this
 * stands: local runtime; the local training service stages each job with it, through the same
 * {@link ObjectStore} port the handlers use (the local S3 server).
 */
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ObjectStore } from '../../core/ports/object-store';
import { packModelDir } from './model-artifact';
import { JobFailure } from './training-job';

/** `s3://bucket/key` split; a job failure (ClientError) for anything else. */
export function parseS3Uri(uri: string): { bucket: string; key: string } {
  const match = /^s3:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (!match) throw new JobFailure(`ClientError: "${uri}" is not an s3:// URI`);
  return { bucket: match[1]!, key: match[2]! };
}

/**
 * Where an object listed under `prefix` lands in `dir`: its key below the prefix (its file name
 * when the prefix names the object itself). A key that would land outside `dir` fails the job.
 */
export function stagedPath(dir: string, prefix: string, key: string): string {
  const relativeKey =
    key === prefix ? key.slice(key.lastIndexOf('/') + 1) : key.slice(prefix.length).replace(/^\/+/, '');
  const target = resolve(dir, relativeKey);
  // `..` in a key: S3 allows it, a file system must not follow it.
  if (!target.startsWith(resolve(dir) + sep))
    throw new JobFailure(`ClientError: S3 key ${key} escapes its channel directory`);
  return target;
}

/** Copies every object under an `s3://bucket/prefix` into `dir`, keeping the key paths below the prefix. */
export async function downloadPrefix(objects: ObjectStore, uri: string, dir: string): Promise<void> {
  const { bucket, key: prefix } = parseS3Uri(uri);
  // Keys ending in `/` are the folder markers consoles create, not data.
  const listed = (await objects.list(bucket, prefix)).filter((o) => !o.key.endsWith('/'));
  if (listed.length === 0) {
    throw new JobFailure(
      `ClientError: No S3 objects found under S3 URL "${uri}" given in input data source.`,
    );
  }
  await mkdir(dir, { recursive: true });
  for (const object of listed)
    await downloadObject(objects, `s3://${bucket}/${object.key}`, stagedPath(dir, prefix, object.key));
}

/** Copies one object to the file `target`. */
export async function downloadObject(objects: ObjectStore, uri: string, target: string): Promise<void> {
  const { bucket, key } = parseS3Uri(uri);
  const object = await objects.read(bucket, key);
  if (!object) throw new JobFailure(`ClientError: ${uri} does not exist`);
  await mkdir(dirname(target), { recursive: true });
  await pipeline(Readable.from(object.body), createWriteStream(target));
}

/** Where SageMaker puts a job's model: `<outputUri>/<job>/output/model.tar.gz`. */
export function modelArtifactLocation(outputUri: string, jobName: string): { bucket: string; key: string } {
  const { bucket, key } = parseS3Uri(outputUri);
  const prefix = key === '' || key.endsWith('/') ? key : `${key}/`;
  return { bucket, key: `${prefix}${jobName}/output/model.tar.gz` };
}

/** Packs `modelDir` and uploads it as the job's `model.tar.gz`; returns its `s3://` URI. */
export async function uploadModel(
  objects: ObjectStore,
  outputUri: string,
  jobName: string,
  modelDir: string,
): Promise<string> {
  const { bucket, key } = modelArtifactLocation(outputUri, jobName);
  const archive = await packModelDir(modelDir);
  await objects.write(bucket, key, archive, 'application/x-gzip');
  return `s3://${bucket}/${key}`;
}
