/**
 * The ids ingest gives uploads: a dataset's id, and the record of an upload whose key is refused.
 * Where this stands: core domain; ingest derives them from the event, and the reconciler derives
 * the same ids from a listed object to find out whether ingest saw it. Both also skip the same
 * objects ({@link skippedDatasetObject}).
 */
import { createHash } from 'node:crypto';
import { BUCKET_PREFIXES, SUCCESS_MARKER, type DatasetKey } from './naming';

/**
 * Why ingest skips an object under `datasets/`, or undefined when it does not: a file or folder
 * whose name starts with `_` or `.` (Spark and Hadoop's `_temporary/`, `_committed_*`, `.crc`
 * side files, an editor's `.~lock`, macOS's `.DS_Store`, a user's `_tmp.csv`) is not data, at any
 * depth (the model folder included), except a folder dataset's `_SUCCESS` marker, which starts its
 * work. The README's rule ("Dropping data"); ingest and the reconciler (which re-delivers uploads
 * it believes lost) both apply this one predicate, so neither turns a skipped object into a dataset.
 */
export function skippedDatasetObject(key: string): string | undefined {
  if (!key.startsWith(BUCKET_PREFIXES.datasets)) return undefined;
  const segments = key.slice(BUCKET_PREFIXES.datasets.length).split('/');
  const hidden = segments.find(
    (segment, i) =>
      (segment.startsWith('_') || segment.startsWith('.')) &&
      !(segment === SUCCESS_MARKER && i === segments.length - 1),
  );
  return hidden === undefined
    ? undefined
    : `"${hidden.slice(0, 100)}" starts with "${hidden[0]}": files and folders whose name starts with "_" or "." are skipped`;
}

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
 * names, with one id per upload: the whole SHA-256 of its key and version identity, so distinct
 * object versions never share one (a 4-hex-digit id dropped ~3 of 600 refused uploads under one
 * bad model name as "already recorded"; 10 digits still collide somewhere in a long-lived bucket),
 * and a redelivered event of the same version gets the same one. The reconciler looks the
 * rejection up with the same function.
 */
export function rejectedKeyRecordOf(upload: UploadIdentity): { model: string; datasetId: string } {
  const identity = JSON.stringify([upload.key, ...versionIdentity(upload)]);
  return {
    model: rejectedKeyModel(upload.key),
    datasetId: `key-${createHash('sha256').update(identity).digest('hex')}`,
  };
}

/**
 * The id {@link rejectedKeyRecordOf} gave before it took the whole hash (10 hex digits): an upload
 * refused before that change is recorded under it. Ingest and the reconciler look there too (and
 * check that the record is this key's), so an old refused upload is not recorded, and notified,
 * a second time.
 */
export function legacyRejectedKeyIdOf(upload: UploadIdentity): string {
  return `key-${identityHash(upload)}`;
}

/** The model folder a refused key names, as written (the registry's partition for its rejection). */
function rejectedKeyModel(key: string): string {
  return (key.split('/')[1] ?? '').slice(0, 200) || '(none)';
}

/**
 * What tells one version of an object from another: its version id (a versioned bucket, in the
 * event and the version listing alike), else the event's sequencer, else the ETag; tagged, so a
 * version id can never equal another upload's sequencer.
 */
function versionIdentity(upload: UploadIdentity): [string, string] {
  if (upload.versionId !== undefined) return ['version', upload.versionId];
  if (upload.sequencer !== undefined) return ['sequencer', upload.sequencer];
  return ['etag', upload.etag ?? ''];
}

/** Ten hex digits of SHA-256 over the upload's key and identity (the dataset id's suffix). */
function identityHash(upload: UploadIdentity): string {
  const identity = `${upload.key}@${upload.versionId ?? upload.sequencer ?? upload.etag ?? ''}`;
  return createHash('sha256').update(identity).digest('hex').slice(0, 10);
}
