/**
 * The local built-in model's artifact: `model.json` (LOCAL_MODEL_FILE) holding a
 * {@link LocalModelDocument}, packed as `model.tar.gz` like SageMaker packs `/opt/ml/model`.
 * Where this stands: local runtime; the local trainer writes it, the local endpoint loads it with
 * {@link loadModelArtifact}.
 */
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Parser, create } from 'tar';
import { LOCAL_MODEL_FILE, type LoadedModel } from '../contracts';
import { GbmModel, OBJECTIVES, type CompactTree, type GbmModelJson, type Objective } from './gbm';

/** Format tag of {@link LocalModelDocument}; a reader refuses any other. */
const LOCAL_MODEL_FORMAT = 'serverless-mlops/gbm@1';

/** The content of `model.json`. */
export interface LocalModelDocument extends GbmModelJson {
  readonly format: typeof LOCAL_MODEL_FORMAT;
  /** The hyperparameters it was trained with (informational). */
  readonly hyperparameters?: Readonly<Record<string, string>>;
}

/** A loaded local model: the {@link LoadedModel} contract plus the raw XGBoost-style outputs. */
export interface LocalLoadedModel extends LoadedModel {
  readonly objective: Objective;
  readonly numClass: number;
  /**
   * One number per row: the probability of class 1 (binary:logistic), the value
   * (reg:squarederror), or the most probable class index (multi:softprob).
   */
  predict(rows: readonly (readonly (number | null)[])[]): number[];
  /** What XGBoost's predict returns: per-class probability vectors for multi:softprob, else as {@link predict}. */
  predictRaw(rows: readonly (readonly (number | null)[])[]): number[] | number[][];
}

/** The document of a trained model. */
export function modelDocument(
  model: GbmModel,
  hyperparameters?: Readonly<Record<string, string>>,
): LocalModelDocument {
  return { format: LOCAL_MODEL_FORMAT, ...model.toJSON(), ...(hyperparameters ? { hyperparameters } : {}) };
}

/** Writes `<dir>/model.json`; returns its path. */
export async function writeModel(dir: string, doc: LocalModelDocument): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, LOCAL_MODEL_FILE);
  await writeFile(path, JSON.stringify(doc));
  return path;
}

/**
 * A directory's content as a gzipped tar, entries relative to the directory (as SageMaker packs
 * `/opt/ml/model` into `model.tar.gz`). An empty directory gives an empty archive.
 */
export async function packModelDir(dir: string): Promise<Uint8Array> {
  const entries = (await readdir(dir)).sort();
  // Two 512-byte zero blocks: the end-of-archive marker, i.e. an empty tar.
  if (entries.length === 0) return new Uint8Array(gzipSync(Buffer.alloc(1024)));
  const chunks: Buffer[] = [];
  const stream = create({ gzip: true, cwd: dir, portable: true }, entries);
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
  return new Uint8Array(Buffer.concat(chunks));
}

/** Reads one file of a (gzipped) tar held in memory; undefined when the archive has no such file. */
async function readTarFile(
  tarGz: Uint8Array,
  name: string,
  maxBytes = 512 * 1024 * 1024,
): Promise<Buffer | undefined> {
  const wanted = name.replace(/^\.\//, '');
  return new Promise<Buffer | undefined>((resolve, reject) => {
    let found: Buffer | undefined;
    let failed = false;
    const parser = new Parser({
      onReadEntry: (entry) => {
        if (entry.type !== 'File' || entry.path.replace(/^\.\//, '') !== wanted) {
          entry.resume();
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        entry.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) {
            failed = true;
            reject(new Error(`${name} in the archive is larger than ${maxBytes} bytes`));
          } else chunks.push(chunk);
        });
        entry.on('end', () => {
          found = Buffer.concat(chunks);
        });
      },
    });
    parser.on('error', (error: Error) => {
      if (!failed) reject(new Error(`not a valid tar.gz archive: ${error.message}`, { cause: error }));
      failed = true;
    });
    parser.on('end', () => {
      if (!failed) resolve(found);
    });
    parser.end(Buffer.from(tarGz));
  });
}

/** Validates a parsed `model.json`; throws with the first problem. */
function parseModelDocument(value: unknown): LocalModelDocument {
  const doc = value as Partial<LocalModelDocument> | null;
  if (typeof doc !== 'object' || doc === null) throw new Error('model.json is not a JSON object');
  if (doc.format !== LOCAL_MODEL_FORMAT) {
    throw new Error(`model.json has format ${JSON.stringify(doc.format)}; expected "${LOCAL_MODEL_FORMAT}"`);
  }
  if (!OBJECTIVES.includes(doc.objective as Objective))
    throw new Error(`model.json: unknown objective ${JSON.stringify(doc.objective)}`);
  if (!Number.isInteger(doc.featureCount) || doc.featureCount! < 1)
    throw new Error('model.json: featureCount must be an integer >= 1');
  if (!Number.isInteger(doc.numClass) || doc.numClass! < 1)
    throw new Error('model.json: numClass must be an integer >= 1');
  if (!isNumbers(doc.imputation) || doc.imputation.length !== doc.featureCount) {
    throw new Error('model.json: imputation must hold one number per feature');
  }
  if (!isNumbers(doc.baseMargin) || doc.baseMargin.length !== doc.numClass)
    throw new Error('model.json: baseMargin must hold numClass numbers');
  if (!Array.isArray(doc.trees) || doc.trees.length % doc.numClass !== 0)
    throw new Error('model.json: trees must be a multiple of numClass');
  doc.trees.forEach((tree, i) => checkTree(tree, i, doc.featureCount!));
  return doc as LocalModelDocument;
}

/** A model from its document. */
function loadModelDocument(doc: LocalModelDocument): LocalLoadedModel {
  const model = new GbmModel(doc);
  return {
    featureCount: doc.featureCount,
    objective: doc.objective,
    numClass: doc.numClass,
    predict: (rows) => {
      checkRows(rows, doc.featureCount);
      return model.predict(rows);
    },
    predictRaw: (rows) => {
      checkRows(rows, doc.featureCount);
      return model.predictRaw(rows);
    },
  };
}

/**
 * Loads a `model.tar.gz` written by the local built-in trainer: reads `model.json` from the
 * archive, validates it, and returns a model that predicts (see {@link LocalLoadedModel.predict}:
 * a probability for binary, a value for regression, a class index for multiclass). Throws when the
 * archive holds no `model.json` or a document of another format.
 */
export async function loadModelArtifact(tarGz: Uint8Array): Promise<LoadedModel> {
  const bytes = await readTarFile(tarGz, LOCAL_MODEL_FILE);
  if (!bytes) {
    throw new Error(
      `the model archive has no ${LOCAL_MODEL_FILE}: local endpoints serve models of the local built-in trainer only`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw new Error(`${LOCAL_MODEL_FILE} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  return loadModelDocument(parseModelDocument(parsed));
}

function checkRows(rows: readonly (readonly (number | null)[])[], featureCount: number): void {
  rows.forEach((row, i) => {
    if (row.length !== featureCount)
      throw new Error(`row ${i + 1} has ${row.length} features; the model expects ${featureCount}`);
  });
}

function isNumbers(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'number' && Number.isFinite(v));
}

function checkTree(tree: CompactTree, index: number, featureCount: number): void {
  const bad = (why: string) => new Error(`model.json: tree ${index} ${why}`);
  if (typeof tree !== 'object' || tree === null) throw bad('is not an object');
  const { feature, threshold, left, right, value } = tree;
  if (![feature, threshold, left, right, value].every(isNumbers)) throw bad('must hold number arrays');
  const n = feature.length;
  if (n === 0 || ![threshold, left, right, value].every((a) => a.length === n))
    throw bad('has arrays of different lengths');
  for (let i = 0; i < n; i++) {
    const f = feature[i]!;
    if (f < 0) continue;
    // Children come after their parent, so every walk ends.
    if (f >= featureCount || !Number.isInteger(f)) throw bad(`node ${i} splits on feature ${f}`);
    if (!(left[i]! > i && left[i]! < n && right[i]! > i && right[i]! < n))
      throw bad(`node ${i} has invalid children`);
  }
}
