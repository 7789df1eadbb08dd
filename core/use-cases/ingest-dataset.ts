/**
 * Use case: a dataset landed under `datasets/`. Where this stands: core use case, called by the
 * ingest handler (SQS batch of EventBridge "Object Created" events) and by the local cloud.
 *
 * Flow: skip hidden names (`_`, `.`) -> classify the key -> (duplicate? resume) -> load the model's
 * config (and its training plan) -> one streaming pass
 * that validates, profiles (the registry summary and the data-quality profile) and splits the CSV
 * into the prepared channels -> the data-quality gate against the model's baseline (reports under
 * `reports/<model>/<datasetId>/`; see data-quality-gate.ts) -> register dataset and version
 * atomically -> start the training job under a deterministic name.
 *
 * Idempotent: the dataset id is derived from the object's key and version, so a redelivered event
 * finds its dataset registered and only makes sure its training job exists (CreateTrainingJob is
 * idempotent by name). Bad input is recorded as a rejected dataset with a reason and never thrown,
 * so it is not retried; transient faults are thrown, so they are. A rejection's notification is
 * written with the rejection (the registry's outbox) and delivered right after; a redelivered event
 * delivers what an earlier delivery wrote but could not send.
 */
import { createHash } from 'node:crypto';
import { readCsvRecords, CsvSyntaxError } from '../domain/csv';
import {
  datasetIdOf,
  legacyRejectedKeyIdOf,
  rejectedKeyRecordOf,
  skippedDatasetObject,
  type ObjectCreated,
} from '../domain/dataset-ids';
import { DatasetPreparer } from '../domain/dataset-preparation';
import { DatasetProfiler } from '../profiling/profiler';
import type { DatasetProfile as ColumnProfiles } from '../profiling/api';
import { RejectionError, type RejectionCode } from '../domain/errors';
import type { ModelConfig } from '../domain/model-config';
import {
  decodeEventKey,
  modelConfigKey,
  parseDatasetKey,
  preparedKeys,
  SUCCESS_MARKER,
  type DatasetKey,
} from '../domain/naming';
import {
  boundedDatasetRecord,
  boundedText,
  columnSummaries,
  type DatasetProfile,
  type DatasetRecord,
  type VersionRecord,
} from '../domain/registry';
import { scriptSourceProblem } from '../domain/training-plan';
import { ChunkedLineWriter } from '../support/chunked-line-writer';
import { auditId, type MlopsContext } from './context';
import { DataQualityGate } from './data-quality-gate';
import { NotificationOutbox } from './notification-outbox';
import { loadModelConfig, startTraining, trainingConfigProblem, trainingVersion } from './training-start';

// Ingest's input is the event's object; the ids and the training plan moved to the domain and are
// re-exported for callers (test/local, test/contracts) that still import them from here.
export { datasetIdOf, type ObjectCreated } from '../domain/dataset-ids';
export { trainingPlan } from '../domain/training-plan';

/** What ingest did with an object. */
export type IngestOutcome =
  | { readonly kind: 'ignored'; readonly why: string }
  | {
      readonly kind: 'rejected';
      readonly model: string;
      readonly datasetId: string;
      readonly code: string;
      readonly reason: string;
    }
  | {
      readonly kind: 'duplicate';
      readonly model: string;
      readonly datasetId: string;
      readonly version?: number;
    }
  | {
      readonly kind: 'training';
      readonly model: string;
      readonly datasetId: string;
      readonly version: number;
      readonly jobName: string;
    }
  | {
      readonly kind: 'training-failed';
      readonly model: string;
      readonly datasetId: string;
      readonly version: number;
      readonly reason: string;
    };

const ACTOR = 'ingest';
/** Prepared lines are grouped into chunks of about this many characters before they are uploaded. */
const CHUNK_CHARS = 256 * 1024;

/** What the single pass over a dataset produced. */
interface Prepared {
  /** The registry's summary (rows, split, per-column basics). */
  readonly profile: DatasetProfile;
  /** The streaming column profiles (sketches, histograms, top values) behind the data-quality reports. */
  readonly statistics: ColumnProfiles;
  readonly contentHash: string;
  readonly train: string;
  readonly validation: string;
}

/** Validates, prepares and registers a dataset, then starts its training job. */
export class IngestDataset {
  private readonly outbox: NotificationOutbox;

  constructor(private readonly ctx: MlopsContext) {
    this.outbox = new NotificationOutbox(ctx);
  }

  async execute(object: ObjectCreated): Promise<IngestOutcome> {
    const { ctx } = this;
    const skipped = skippedDatasetObject(object.key);
    if (skipped) {
      // Not data (the README's rule): no dataset, no rejection; said here so the uploader can find why.
      ctx.log.info('object skipped', { key: object.key, why: skipped });
      return { kind: 'ignored', why: skipped };
    }
    let key: DatasetKey;
    try {
      key = parseDatasetKey(object.key);
    } catch (error) {
      if (error instanceof RejectionError) return this.rejectKey(object, error);
      throw error;
    }
    if (key.kind === 'ignored') {
      ctx.log.debug('object ignored', { key: object.key, why: key.why });
      return { kind: 'ignored', why: key.why };
    }
    const model = key.model;
    const datasetId = datasetIdOf(key, object);
    const sourceUri = `s3://${object.bucket}/${key.kind === 'file' ? key.key : key.folder}`;

    const existing = await ctx.registry.getDataset(model, datasetId);
    if (existing) return this.resume(existing);

    const base = {
      model,
      datasetId,
      sourceUri,
      ...(object.versionId ? { sourceVersionId: object.versionId } : {}),
      ...(object.etag ? { sourceEtag: object.etag } : {}),
      createdAt: ctx.clock.now().toISOString(),
    };

    const config = await loadModelConfig(ctx, model);
    // A config the training plan refuses (multiclass without num_class) is as invalid as one the
    // schema refuses: recorded now, before the data is read, never thrown as a transient fault.
    const problems = config.ok
      ? [trainingConfigProblem(ctx, config.config)].filter((p) => p !== undefined)
      : config.problems;
    if (!config.ok || problems.length > 0) {
      const reason = boundedText(`models/${model}/config.json is invalid: ${problems.join('; ')}`);
      await ctx.registry.recordModelRejection(
        model,
        { code: 'INVALID_CONFIG', reason, source: modelConfigKey(model) },
        this.audit(model, datasetId, 'CONFIG_REJECTED', reason),
      );
      return this.reject(base, new RejectionError('INVALID_CONFIG', reason));
    }

    let prepared: Prepared;
    try {
      prepared = await this.prepare(key, object, datasetId, config.config);
    } catch (error) {
      if (error instanceof RejectionError) return this.reject(base, error);
      throw error;
    }
    await ctx.registry.saveModelConfig(model, config.config, base.createdAt);

    const sourceProblem = scriptSourceProblem(config.config, ctx.bucket, model);
    if (sourceProblem)
      return this.reject(
        base,
        new RejectionError('INVALID_CONFIG', `models/${model}/config.json is invalid: ${sourceProblem}`),
      );

    // The data-quality gate, on the profile of the whole dataset. A refusal leaves the prepared
    // files written above in place (harmless: nothing points at them) and starts no training job.
    const quality = await new DataQualityGate(ctx).check({
      model,
      datasetId,
      source: key.kind === 'file' ? key.key : key.folder,
      profile: prepared.statistics,
      settings: config.config.dataQuality,
    });
    if (quality.rejection)
      return this.reject(
        {
          ...base,
          contentHash: prepared.contentHash,
          profile: prepared.profile,
          dataQuality: quality.summary,
        },
        { code: quality.rejection.code, message: quality.rejection.reason },
      );

    // Within DynamoDB's item limit however wide the data (the reports in S3 keep every column).
    const dataset: DatasetRecord = boundedDatasetRecord({
      ...base,
      status: 'ACCEPTED',
      contentHash: prepared.contentHash,
      profile: prepared.profile,
      preparedTrainUri: prepared.train,
      preparedValidationUri: prepared.validation,
      dataQuality: quality.summary,
    });
    const registered = await ctx.registry.registerDatasetAndVersion({
      dataset,
      buildVersion: (version): VersionRecord =>
        trainingVersion(ctx, { model, version, datasetId, config: config.config, at: base.createdAt }),
      audit: this.audit(
        model,
        datasetId,
        'VERSION_CREATED',
        `dataset ${datasetId} accepted (${prepared.profile.rows} rows); data quality ${dataset.dataQuality!.summary}; training starts`,
        undefined,
        'TRAINING',
      ),
      ...(quality.becomesBaseline ? { baselineDatasetId: datasetId } : {}),
    });
    if (!registered.version)
      throw new Error(`registry returned no version for dataset ${model}/${datasetId}`);
    if (!registered.created)
      ctx.log.info('dataset registered concurrently by another delivery', { model, datasetId });
    return this.startTraining(registered.version, dataset, config.config);
  }

  /** A redelivered event: make sure the work it started is there, and do nothing twice. */
  private async resume(dataset: DatasetRecord): Promise<IngestOutcome> {
    const { model, datasetId } = dataset;
    this.ctx.log.info('dataset already registered: duplicate delivery', {
      model,
      datasetId,
      status: dataset.status,
    });
    // An earlier delivery wrote the rejection (or the refused training) but may not have sent it.
    await this.outbox.flush(model);
    if (dataset.status !== 'ACCEPTED' || dataset.version === undefined)
      return { kind: 'duplicate', model, datasetId };
    const version = await this.ctx.registry.getVersion(model, dataset.version);
    if (version?.status === 'TRAINING') {
      const model_ = await this.ctx.registry.getModel(model);
      if (model_?.config) await this.startTraining(version, dataset, model_.config);
    }
    return { kind: 'duplicate', model, datasetId, version: dataset.version };
  }

  /** Starts the version's training job as every version's starts (training-start.ts). */
  private async startTraining(
    version: VersionRecord,
    dataset: DatasetRecord,
    config: ModelConfig,
  ): Promise<IngestOutcome> {
    const { model, datasetId } = dataset;
    const started = await startTraining(this.ctx, version, dataset, config, ACTOR);
    return started.kind === 'training'
      ? { kind: 'training', model, datasetId, version: version.version, jobName: started.jobName }
      : { kind: 'training-failed', model, datasetId, version: version.version, reason: started.reason };
  }

  /** One streaming pass: validate and profile every row, write the two prepared channels. */
  private async prepare(
    key: Exclude<DatasetKey, { kind: 'ignored' }>,
    object: ObjectCreated,
    datasetId: string,
    config: ModelConfig,
  ): Promise<Prepared> {
    const { ctx } = this;
    const files = await this.datasetFiles(key, object);
    const keys = preparedKeys(key.model, datasetId);
    const channels = new ChunkedLineWriter(
      ctx.objects,
      ctx.bucket,
      { train: keys.train, validation: keys.validation },
      { contentType: 'text/csv', chunkChars: CHUNK_CHARS },
    );
    const hash = createHash('sha256');
    let profile: DatasetProfile;
    let statistics: ColumnProfiles;
    try {
      let preparer: DatasetPreparer | undefined;
      // The data-quality profile is built in the same pass, from the raw fields of every data row.
      let profiler: DatasetProfiler | undefined;
      for (const file of files) {
        // S3 URL-encodes keys in event notifications ("a b.csv" arrives as "a+b.csv"): try the key
        // as given, then decoded.
        const opened =
          (await ctx.objects.read(ctx.bucket, file.key, file.versionId)) ??
          (await this.readDecoded(file.key, file.versionId));
        if (!opened) throw new RejectionError('INVALID_DATASET', `${file.key}: the object no longer exists`);
        // Without a version id (a store that keeps no versions: the local S3) the key may hold a
        // later upload by now: the MD5 of the bytes read decides (the ETag the store answers with
        // may be a moment off its bytes), and a mismatch is recorded as superseded.
        const expected = file.expectMd5;
        const md5 = expected ? createHash('md5') : undefined;
        if (opened.info.size === 0)
          throw new RejectionError('EMPTY_DATASET', `${file.key}: the file is empty`);
        let headerSeen = false;
        try {
          for await (const records of readCsvRecords(hashing(opened.body, hash, md5))) {
            for (const record of records) {
              if (!headerSeen) {
                headerSeen = true;
                if (preparer) preparer.startFile(file.key, record.fields);
                else {
                  preparer = new DatasetPreparer(record.fields, config, file.key);
                  // The preparer has checked the header (names present, unique once trimmed).
                  profiler = new DatasetProfiler(record.fields.map((name) => name.trim()));
                }
                continue;
              }
              const line = preparer!.prepare(record.fields, record.line);
              profiler!.add(record.fields);
              const sent = channels.write(line.channel, line.text);
              if (sent) await sent; // only when a chunk is full: no microtask per row
            }
          }
        } catch (error) {
          if (error instanceof CsvSyntaxError)
            throw new RejectionError('INVALID_DATASET', `${file.key}: ${error.message}`, { cause: error });
          throw error;
        }
        if (md5 && expected) {
          const read = md5.digest('hex');
          if (read !== expected) throw superseded(file.key, expected, read);
        }
        if (!headerSeen)
          throw new RejectionError('EMPTY_DATASET', `${file.key}: the file has no header row and no data`);
        await channels.flush();
      }
      statistics = profiler!.finish();
      profile = { ...preparer!.finish(), columns: columnSummaries(statistics) };
    } catch (error) {
      await channels.abort(error);
      throw error;
    }
    await channels.close();
    await ctx.objects.write(
      ctx.bucket,
      keys.schema,
      JSON.stringify(
        {
          label: config.labelColumn,
          features: statistics.columns.map((c) => c.name).filter((n) => n !== config.labelColumn),
        },
        null,
        2,
      ),
      'application/json',
    );
    return {
      profile,
      statistics,
      contentHash: hash.digest('hex'),
      train: `s3://${ctx.bucket}/${keys.train}`,
      validation: `s3://${ctx.bucket}/${keys.validation}`,
    };
  }

  private async readDecoded(key: string, versionId?: string) {
    const decoded = decodeEventKey(key);
    return decoded === key ? undefined : this.ctx.objects.read(this.ctx.bucket, decoded, versionId);
  }

  /** The objects that make up the dataset: one file, or the parts of a folder in key order. */
  private async datasetFiles(
    key: Exclude<DatasetKey, { kind: 'ignored' }>,
    object: ObjectCreated,
  ): Promise<{ key: string; versionId?: string; expectMd5?: string }[]> {
    if (key.kind === 'file') {
      assertCsv(key.key);
      if (object.versionId) return [{ key: key.key, versionId: object.versionId }];
      // A single-part upload's ETag is the MD5 of its bytes (a multipart one's is not: `<hex>-<n>`).
      const etag = object.etag?.toLowerCase();
      return [{ key: key.key, ...(etag && /^[0-9a-f]{32}$/.test(etag) ? { expectMd5: etag } : {}) }];
    }
    const listed = await this.ctx.objects.list(this.ctx.bucket, key.folder);
    // Spark and Hadoop write _SUCCESS, _committed_*, .crc side files: not data (the same rule as
    // for uploads, so a part is read exactly when its own upload would not be skipped).
    const parts = listed.filter(
      (o) =>
        o.key.slice(key.folder.length) !== SUCCESS_MARKER &&
        skippedDatasetObject(o.key) === undefined &&
        !o.key.endsWith('/'),
    );
    if (parts.length === 0)
      throw new RejectionError(
        'EMPTY_DATASET',
        `${key.folder}: the folder has a ${SUCCESS_MARKER} marker but no data files`,
      );
    for (const part of parts) {
      if (/\.[a-z0-9]+$/i.test(part.key)) assertCsv(part.key); // extension-less part files (part-00000) are read as CSV
    }
    return parts.map((p) => ({ key: p.key, ...(p.versionId ? { versionId: p.versionId } : {}) }));
  }

  /** Records a rejected dataset: a {@link RejectionError}, or the data-quality gate's refusal (`DATA_QUALITY`, `DATA_DRIFT`). */
  private async reject(
    base: Omit<DatasetRecord, 'status'>,
    error: { readonly code: RejectionCode; readonly message: string },
  ): Promise<IngestOutcome> {
    const { ctx } = this;
    ctx.log.warn('dataset rejected', {
      model: base.model,
      datasetId: base.datasetId,
      code: error.code,
      reason: error.message,
    });
    // Within DynamoDB's item limit: a reason naming 10,000 columns is cut (the reports keep it all).
    const record = boundedDatasetRecord({
      ...base,
      status: 'REJECTED' as const,
      rejection: { code: error.code, reason: error.message },
    });
    const reason = record.rejection.reason;
    // The notification is written with the rejection: a duplicate delivery writes neither.
    await ctx.registry.recordRejectedDataset(record, {
      ...this.audit(base.model, base.datasetId, 'DATASET_REJECTED', reason),
      notification: {
        kind: 'dataset-rejected',
        model: base.model,
        subject: `${base.model}: dataset ${base.datasetId} rejected`,
        message: `${reason}\n\nThe raw data is kept at ${base.sourceUri}. Fix the file and upload it again.`,
      },
    });
    // Recorded now or by an earlier delivery: either way, what is pending goes out now.
    await this.outbox.flush(base.model);
    return {
      kind: 'rejected',
      model: base.model,
      datasetId: base.datasetId,
      code: error.code,
      reason,
    };
  }

  /** A key that names no valid model: recorded under the name as written, so the uploader finds it. */
  private async rejectKey(object: ObjectCreated, error: RejectionError): Promise<IngestOutcome> {
    const { model, datasetId } = rejectedKeyRecordOf(object);
    const sourceUri = `s3://${object.bucket}/${object.key}`;
    // A redelivery of one refused before the id took the whole hash finds its record there.
    const legacy = await this.legacyRejection(model, object, sourceUri);
    if (legacy) return this.resume(legacy);
    return this.reject(
      {
        model,
        datasetId,
        sourceUri,
        createdAt: this.ctx.clock.now().toISOString(),
      },
      new RejectionError(error.code, `${object.key}: ${error.message}`),
    );
  }

  /**
   * This upload's rejection as recorded under the id refused keys had before they took the whole
   * hash ({@link legacyRejectedKeyIdOf}), when that record is of this very key: a redelivered
   * event of an upload refused before the change finds it and records nothing twice.
   */
  private async legacyRejection(
    model: string,
    object: ObjectCreated,
    sourceUri: string,
  ): Promise<DatasetRecord | undefined> {
    const legacy = await this.ctx.registry.getDataset(model, legacyRejectedKeyIdOf(object));
    return legacy?.sourceUri === sourceUri ? legacy : undefined;
  }

  private audit(
    model: string,
    datasetId: string,
    type: string,
    reason: string,
    version?: number,
    to?: string,
  ) {
    return {
      model,
      at: this.ctx.clock.now().toISOString(),
      eventId: auditId(type, datasetId, version),
      type,
      actor: ACTOR,
      ...(version !== undefined ? { version } : {}),
      ...(to ? { to } : {}),
      reason: boundedText(reason),
    };
  }
}

function assertCsv(key: string): void {
  if (/\.csv$/i.test(key)) return;
  const extension = /\.([^./]+)$/.exec(key)?.[1];
  throw new RejectionError(
    'UNSUPPORTED_FORMAT',
    `${key}: ${extension ? `".${extension}" files are` : 'a file without an extension is'} not supported; upload CSV with a header row (.csv)`,
  );
}

async function* hashing(
  body: AsyncIterable<Uint8Array>,
  hash: ReturnType<typeof createHash>,
  md5?: ReturnType<typeof createHash>,
): AsyncGenerator<Uint8Array> {
  for await (const chunk of body) {
    hash.update(chunk);
    md5?.update(chunk);
    yield chunk;
  }
}

/**
 * The upload an event names was overwritten before it could be read, in a store without versions
 * (on AWS the data bucket is versioned and ingest reads the event's version id). Recorded, never
 * dropped: the registry says which upload it was and why it was not ingested.
 */
function superseded(key: string, expected: string, read: string): RejectionError {
  return new RejectionError(
    'SOURCE_SUPERSEDED',
    `${key}: superseded by a later upload of the same key before it could be read (this upload's ETag ${expected}, the object now holds ${read}); the bucket keeps no versions, so this upload's bytes are gone and the later upload is ingested on its own event`,
  );
}
