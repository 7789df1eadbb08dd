/**
 * The benchmark's child process: profiles one file with our streaming profiler and prints, as
 * one JSON line, the time, the peak RSS and the sketch's p1..p99 of every numeric column (for the
 * rank-error check). Run by bench/profile-bench.ts; not part of the product.
 */
import { availableParallelism } from 'node:os';
import { isMainThread } from 'node:worker_threads';
import { profileFile } from '../adapters/files/profile-file';

// The bundle is also the profiler's worker script (adapters/files/parallel-csv-profile.ts): worker threads do nothing here.
if (isMainThread) await main();

async function main(): Promise<void> {
  const file = process.argv[2];
  if (!file) throw new Error('usage: profile-child <file> [workers]');
  const workers = Number(process.argv[3] ?? availableParallelism());
  const started = process.hrtime.bigint();
  const profile = await profileFile(file, { workers });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const quantiles: Record<string, number[]> = {};
  for (const column of profile.columns) {
    if (!column.numeric) continue;
    quantiles[column.name] = Array.from({ length: 99 }, (_, i) =>
      column.numeric!.sketch.quantile((i + 1) / 100),
    );
  }
  process.stdout.write(
    `${JSON.stringify({
      rows: profile.rows,
      seconds,
      maxRssKb: process.resourceUsage().maxRSS,
      rankErrorBound: profile.columns.find((c) => c.numeric)?.numeric?.sketch.rankErrorBound,
      workers,
      quantiles,
    })}\n`,
  );
}
