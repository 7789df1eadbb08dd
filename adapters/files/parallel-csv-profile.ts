/**
 * Profiles a local CSV file in parallel: the file is cut at line breaks into one part per worker
 * thread (the calling thread takes the first), each part is profiled by the byte-level profiler
 * and the parts' states are merged — the same mergeability that lets large datasets be profiled
 * in pieces elsewhere. Where this stands: an adapter (node:fs, node:worker_threads) around the core profiler.
 *
 * A cut is only safe if no quoted field spans it: when any part holds a quote character (or a
 * part fails), the file is profiled again in one sequential pass, so results and error line
 * numbers are always those of the sequential profiler. The worker runs this very module: under
 * tsx, or inside a bundle whose entry leaves worker threads alone (see bench/profile-child.ts).
 */
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { profileCsvBytes, type FastCsvOptions } from '../../core/profiling/csv-fast';
import { DatasetProfiler, type ProfilerState } from '../../core/profiling/profiler';

const PART_KIND = 'mlops-profile-csv-part';
/** Smallest part worth a thread. */
export const MIN_PART_BYTES = 8 << 20;

interface PartRequest {
  kind: typeof PART_KIND;
  path: string;
  start: number;
  end: number;
  header: Uint8Array;
  options: FastCsvOptions;
}

type PartResult = { ok: true; state: ProfilerState; sawQuote: boolean } | { ok: false; message: string };

async function* partBytes(
  path: string,
  start: number,
  end: number,
  header: Uint8Array | undefined,
  seen: { quote: boolean },
): AsyncGenerator<Uint8Array> {
  if (header) yield header;
  if (end <= start) return;
  for await (const chunk of createReadStream(path, { start, end: end - 1, highWaterMark: 1 << 16 })) {
    const bytes = chunk as Buffer;
    if (!seen.quote && bytes.indexOf(34) >= 0) seen.quote = true;
    yield bytes;
  }
}

async function profilePart(request: Omit<PartRequest, 'kind'>, withHeader: boolean) {
  const seen = { quote: false };
  const profiler = await profileCsvBytes(
    partBytes(request.path, request.start, request.end, withHeader ? request.header : undefined, seen),
    request.options,
  );
  return { profiler, sawQuote: seen.quote };
}

/**
 * A worker thread running this module. From TypeScript sources (tsx, in a clone) the thread has
 * no TypeScript loader of its own: it registers tsx's first, then imports the module.
 */
function startWorker(request: PartRequest): Worker {
  const self = import.meta.url;
  if (!self.endsWith('.ts')) return new Worker(new URL(self), { workerData: request });
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(self)}); });`;
  return new Worker(boot, { eval: true, workerData: request });
}

/** The offset just past the first line break at or after `offset` (or the file size). */
async function nextLineStart(path: string, offset: number, size: number): Promise<number> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(1 << 16);
    for (let position = offset; position < size; position += buffer.length) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
      const i = buffer.subarray(0, bytesRead).indexOf(10);
      if (i >= 0) return position + i + 1;
      if (bytesRead === 0) break;
    }
    return size;
  } finally {
    await handle.close();
  }
}

/**
 * Profiles a CSV file with up to `workers` threads (1: sequential). Same result as
 * `profileCsvBytes` over the whole file, up to the sketches' randomness.
 */
export async function profileCsvFileParallel(
  path: string,
  workers: number,
  options: FastCsvOptions = {},
): Promise<DatasetProfiler> {
  const sequential = () => profileCsvBytes(createReadStream(path, { highWaterMark: 1 << 16 }), options);
  const { size } = await stat(path);
  const parts = Math.min(Math.max(1, Math.floor(workers)), Math.floor(size / MIN_PART_BYTES));
  if (parts <= 1) return sequential();

  // The header line (parts after the first are given a copy of it).
  const handle = await open(path, 'r');
  let head: Buffer;
  try {
    head = Buffer.alloc(Math.min(size, 1 << 20));
    await handle.read(head, 0, head.length, 0);
  } finally {
    await handle.close();
  }
  const headerEnd = head.indexOf(10) + 1;
  if (headerEnd === 0 || head.subarray(0, headerEnd).indexOf(34) >= 0) return sequential();
  const bom = head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf ? 3 : 0;
  const header = new Uint8Array(head.subarray(bom, headerEnd));

  const cuts = [0];
  for (let i = 1; i < parts; i++)
    cuts.push(Math.max(cuts[i - 1]!, await nextLineStart(path, Math.floor((i * size) / parts), size)));
  cuts.push(size);

  const others = cuts.slice(1, -1).map(
    (start, i) =>
      new Promise<PartResult>((resolve) => {
        const request: PartRequest = { kind: PART_KIND, path, start, end: cuts[i + 2]!, header, options };
        const worker = startWorker(request);
        worker.once('message', (result: PartResult) => resolve(result));
        worker.once('error', (error) => resolve({ ok: false, message: error.message }));
        worker.once('exit', (code) => resolve({ ok: false, message: `worker exited with code ${code}` }));
      }),
  );
  let first: Awaited<ReturnType<typeof profilePart>> | undefined;
  try {
    first = await profilePart({ path, start: 0, end: cuts[1]!, header, options }, false);
  } catch {
    first = undefined;
  }
  const results = await Promise.all(others);
  if (!first || first.sawQuote || results.some((r) => !r.ok || r.sawQuote)) return sequential();
  for (const r of results) if (r.ok) first.profiler.merge(DatasetProfiler.fromState(r.state, options));
  return first.profiler;
}

// In a worker thread started above: profile the part and send its state back.
if (!isMainThread && (workerData as PartRequest | undefined)?.kind === PART_KIND) {
  const request = workerData as PartRequest;
  profilePart(request, true).then(
    ({ profiler, sawQuote }) =>
      parentPort!.postMessage({ ok: true, state: profiler.toState(), sawQuote } satisfies PartResult),
    (error: unknown) =>
      parentPort!.postMessage({ ok: false, message: (error as Error).message } satisfies PartResult),
  );
}
