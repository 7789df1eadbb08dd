/**
 * Uploads a dataset file into the data bucket with lib-storage's `Upload` (multipart above 8 MiB,
 * parts sent in parallel), reporting progress. Where this stands: CLI target; the same for the
 * local S3 API and the stack's bucket.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { DatasetUploader, UploadProgress, UploadedObject } from './target';

/** Part size of multipart uploads: S3's minimum is 5 MiB; 8 MiB keeps the part count low. */
export const UPLOAD_PART_SIZE = 8 * 1024 * 1024;

/** A {@link DatasetUploader} on one S3 client and bucket. */
export class S3DatasetUploader implements DatasetUploader {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {}

  async upload(
    file: string,
    key: string,
    onProgress: (progress: UploadProgress) => void,
  ): Promise<UploadedObject> {
    const { size } = await stat(file);
    const upload = new Upload({
      client: this.s3,
      params: { Bucket: this.bucket, Key: key, Body: createReadStream(file) },
      partSize: UPLOAD_PART_SIZE,
      queueSize: 4,
      // A failed upload leaves no parts behind to be billed.
      leavePartsOnError: false,
    });
    upload.on('httpUploadProgress', (p) => onProgress({ loaded: p.loaded ?? 0, total: p.total ?? size }));
    const answer = await upload.done();
    onProgress({ loaded: size, total: size });
    const etag = 'ETag' in answer ? answer.ETag : undefined;
    const versionId = 'VersionId' in answer ? answer.VersionId : undefined;
    return {
      bucket: this.bucket,
      key,
      bytes: size,
      ...(etag ? { etag: etag.replace(/"/g, '') } : {}),
      ...(versionId ? { versionId } : {}),
    };
  }
}
