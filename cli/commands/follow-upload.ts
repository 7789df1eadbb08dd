/**
 * `mlops upload --wait`: follows an uploaded file through the pipeline, stage by stage, from the
 * registry: its dataset recorded (accepted or rejected), then its version's transitions as the
 * audit trail tells them (TRAINING, TRAINED, the gate, PENDING_APPROVAL or APPROVED, DEPLOYING,
 * PRODUCTION, or where it stopped), until an end or the timeout. Where this stands: CLI command
 * support; polling reads only.
 */
import type { DatasetRecord, VersionRecord } from '../../core/domain/registry';
import type { RegistryReader, UploadedObject } from '../target/target';

/** How a followed upload ended; `mlops upload --json`'s `outcome`. */
export type UploadOutcome = 'production' | 'pending-approval' | 'rejected' | 'failed' | 'timeout';

/** One stage seen, as printed. */
export interface UploadStage {
  readonly at: string;
  readonly stage: string;
  readonly detail: string;
}

/** What following found. */
export interface FollowResult {
  readonly outcome: UploadOutcome;
  readonly reason: string;
  readonly dataset: DatasetRecord | null;
  readonly version: VersionRecord | null;
  readonly stages: readonly UploadStage[];
}

/** Timing of the follow (injectable for tests). */
export interface FollowOptions {
  readonly timeoutMs: number;
  readonly pollMs: number;
  /** Not before this time: an older dataset of the same key and content is another upload. */
  readonly uploadedAt: string;
  readonly onStage: (stage: UploadStage) => void;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
}

const END: Readonly<Partial<Record<VersionRecord['status'], UploadOutcome>>> = {
  PRODUCTION: 'production',
  ARCHIVED: 'production',
  PENDING_APPROVAL: 'pending-approval',
  REJECTED: 'rejected',
  FAILED: 'failed',
  DEPLOY_FAILED: 'failed',
  ROLLED_BACK: 'failed',
};

/** The dataset ingest recorded for this upload: same object, and the same version id (or ETag). */
export function matchesUpload(dataset: DatasetRecord, uploaded: UploadedObject, notBefore: string): boolean {
  if (dataset.sourceUri !== `s3://${uploaded.bucket}/${uploaded.key}`) return false;
  if (uploaded.versionId !== undefined && dataset.sourceVersionId !== undefined)
    return dataset.sourceVersionId === uploaded.versionId;
  // Unversioned (the local S3): the ETag, and not older than the upload (the same bytes uploaded before).
  const etag = dataset.sourceEtag?.replace(/"/g, '');
  return etag === uploaded.etag && dataset.createdAt >= notBefore;
}

/** Polls the registry until the upload's version ends, is rejected, waits for approval, or time runs out. */
export async function followUpload(
  registry: RegistryReader,
  model: string,
  uploaded: UploadedObject,
  options: FollowOptions,
): Promise<FollowResult> {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const now = options.now ?? Date.now;
  const deadline = now() + options.timeoutMs;
  const stages: UploadStage[] = [];
  const seen = new Set<string>();
  const stage = (s: UploadStage) => {
    stages.push(s);
    options.onStage(s);
  };
  let dataset: DatasetRecord | undefined;
  let version: VersionRecord | undefined;
  for (;;) {
    if (!dataset) {
      dataset = (await registry.listDatasets(model)).find((d) =>
        matchesUpload(d, uploaded, options.uploadedAt),
      );
      if (dataset) {
        stage({
          at: dataset.createdAt,
          stage: `dataset ${dataset.status}`,
          detail:
            dataset.status === 'REJECTED'
              ? (dataset.rejection?.reason ?? 'rejected')
              : `${dataset.datasetId}: ${dataset.profile?.rows ?? '?'} rows${dataset.dataQuality ? `, data quality ${dataset.dataQuality.decision}` : ''}`,
        });
        if (dataset.status === 'REJECTED')
          return done('rejected', dataset.rejection?.reason ?? 'the dataset was rejected');
      }
    }
    if (dataset?.version !== undefined) {
      version = await registry.getVersion(model, dataset.version);
      for (const line of await registry.listAudit(model)) {
        const key = `${line.at}#${line.eventId}`;
        if (line.version !== dataset.version || seen.has(key)) continue;
        seen.add(key);
        stage({
          at: line.at,
          stage: line.to ?? line.type,
          detail: `${line.type} by ${line.actor}: ${line.reason}`,
        });
      }
      const end = version ? END[version.status] : undefined;
      if (version && end) return done(end, reasonOf(version, end));
    }
    if (now() >= deadline)
      return done(
        'timeout',
        version
          ? `still ${version.status} after the timeout`
          : dataset
            ? 'the dataset is recorded but no version yet'
            : 'ingest has not recorded the dataset yet (is the stack receiving the bucket events?)',
      );
    await sleep(options.pollMs);
  }

  function done(outcome: UploadOutcome, reason: string): FollowResult {
    return { outcome, reason, dataset: dataset ?? null, version: version ?? null, stages };
  }
}

function reasonOf(version: VersionRecord, outcome: UploadOutcome): string {
  if (outcome === 'production') return `v${version.version} serves in production`;
  if (outcome === 'pending-approval')
    return `v${version.version} waits for approval: mlops approve ${version.model} ${version.version} (or reject)`;
  const failed = version.gate?.checks.filter((c) => !c.passed).map((c) => `${c.name}: ${c.detail}`) ?? [];
  return (
    version.failureReason ??
    (failed.length > 0 ? failed.join('; ') : `v${version.version} ended ${version.status}`)
  );
}
