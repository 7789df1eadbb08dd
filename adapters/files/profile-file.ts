/**
 * Profiles a file on this machine's disk: CSV, JSON lines or Parquet, the format from the
 * extension unless given. Where this stands: an adapter from the file system (and, for a CSV file
 * with `workers > 1`, worker threads) to the core's stream profilers (core/profiling/readers.ts);
 * used by `mlops profile` and the benchmark.
 */
import { createReadStream } from 'node:fs';
import type { DatasetProfile, ProfileFormat } from '../../core/profiling/api';
import type { DatasetProfiler } from '../../core/profiling/profiler';
import {
  formatOfPath,
  profileParquet,
  profilerOfStream,
  type ProfileReadOptions,
} from '../../core/profiling/readers';
import { profileCsvFileParallel } from './parallel-csv-profile';

/** How to profile a file: the stream options, the format, and threads for CSV. */
export interface FileProfileOptions extends ProfileReadOptions {
  /** The file's format. @default from the extension ({@link formatOfPath}) */
  readonly format?: ProfileFormat;
  /** Threads for a CSV file (cut at line breaks, parts merged; see parallel-csv-profile.ts). @default 1 */
  readonly workers?: number;
}

/** Profiles a file into a mergeable profiler (format from the extension unless given). */
export async function profilerOfFile(
  path: string,
  options: FileProfileOptions = {},
): Promise<DatasetProfiler> {
  const format = options.format ?? formatOfPath(path);
  if (format === 'csv' && (options.workers ?? 1) > 1)
    return profileCsvFileParallel(path, options.workers!, options);
  if (format === 'parquet') {
    const { asyncBufferFromFile } = await import('hyparquet');
    return profileParquet(await asyncBufferFromFile(path), options);
  }
  return profilerOfStream(createReadStream(path, { highWaterMark: 1 << 16 }), format, options);
}

/** Profiles a file (format from the extension unless given). */
export async function profileFile(path: string, options: FileProfileOptions = {}): Promise<DatasetProfile> {
  return (await profilerOfFile(path, options)).finish();
}
