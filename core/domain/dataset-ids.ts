/**
 * The ids ingest gives uploads: a dataset's id, and the record of an upload whose key is refused.
 * Where this stands: core domain; ingest derives them from the event, and the reconciler derives
 * the same ids from a listed object to find out whether ingest saw it.
 */
import { createHash } from 'node:crypto';
import type { DatasetKey } from './naming';

/**
 * The object that was created, as the event describes it. One upload is identified by its key and
 * the first of its version id, event sequencer and ETag.
 */
export interface ObjectCreated {
  readonly bucket: string;
  readonly key: string;
  readonly size?: number;
  readonly etag?: string;
  readonly versionId?: string;
  readonly sequencer?: string;
}

/**
 * What {@link datasetIdOf} and {@link rejectedKeyRecordOf} read of an upload: its key and the first
 * of version id, event sequencer and ETag. The rest of the event's object (bucket, size) may come
 * along; it is not part of the identity.
 */
export type UploadIdentity = Pick<ObjectCreated, 'key'> & Partial<ObjectCreated>;

/**
 * The dataset id: readable (file or folder name) and unique per uploaded object version, so that
 * redeliveries of one upload share it and a new upload of the same name gets a new one.
 */
export function datasetIdOf(key: Exclude<DatasetKey, { kind: 'ignored' }>, upload: UploadIdentity): string {
  const name = key.kind === 'file' ? key.fileName.replace(/\.[^.]*$/, '') : key.folderName;
  const readable =
    name
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 40) || 'dataset';
  return `${readable}-${identityHash(upload)}`;
}

/**
 * Where the rejection of an upload whose key is refused is recorded: under the model its folder
 * names, with one id per upload (its version or event identity), as wide as {@link datasetIdOf}'s.
 * A 4-hex-digit id made ~3 of 600 refused uploads collide, and a colliding rejection was dropped as
 * "already recorded". The reconciler looks the rejection up with the same function.
 */
export function rejectedKeyRecordOf(upload: UploadIdentity): { model: string; datasetId: string } {
  const model = (upload.key.split('/')[1] ?? '').slice(0, 200) || '(none)';
  return { model, datasetId: `key-${identityHash(upload)}` };
}

/** Ten hex digits of SHA-256 over the upload's key and identity. */
function identityHash(upload: UploadIdentity): string {
  const identity = `${upload.key}@${upload.versionId ?? upload.sequencer ?? upload.etag ?? ''}`;
  return createHash('sha256').update(identity).digest('hex').slice(0, 10);
}
