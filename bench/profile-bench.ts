/**
 * `npm run bench [-- --size 1GB|256MB] [--file <csv>] [--json <out.json>] [--keep]`: generates a
 * CSV (numeric and categorical columns, seeded), profiles it with our streaming profiler (in a
 * child process, bundled with esbuild as a Lambda would run it) and with pandas (Debian's
 * python3-pandas: found, or installed with apt when running as root), and prints throughput,
 * peak RSS and our sketch's quantile rank error side by side with the issue's targets.
 */
import { spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gaussian, seeded } from '../test/core/profiling/helpers';

const here = dirname(fileURLToPath(import.meta.url));

function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?$/i.exec(text.trim());
  if (!m) throw new Error(`--size: expected e.g. 256MB or 1GB, got "${text}"`);
  const unit = { b: 1, kb: 1e3, mb: 1e6, gb: 1e9 }[(m[2] ?? 'mb').toLowerCase() as 'b'];
  return Math.round(Number(m[1]) * unit);
}

async function generate(path: string, bytes: number): Promise<void> {
  const rnd = seeded(42);
  const segments = ['retail', 'enterprise', 'smb', 'public', 'education', 'other'];
  const out = createWriteStream(path);
  out.write('id,age,income,score,tenure_days,ratio,segment,churned\n');
  let written = 0;
  let id = 0;
  while (written < bytes) {
    const lines: string[] = [];
    for (let i = 0; i < 20000; i++) {
      id++;
      const gauss = gaussian(rnd);
      lines.push(
        `${id},${18 + Math.floor(rnd() * 73)},${(52000 + 15000 * gauss).toFixed(2)},${rnd().toFixed(6)},${Math.floor(rnd() * 3650)},${(-Math.log(rnd() || 1e-12)).toFixed(4)},${segments[Math.floor(rnd() * rnd() * segments.length)]},${rnd() < 0.2 ? 1 : 0}\n`,
      );
    }
    const chunk = lines.join('');
    written += chunk.length;
    if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  }
  await new Promise<void>((resolve, reject) =>
    out.end((error?: Error | null) => (error ? reject(error) : resolve())),
  );
}

function findPandasPython(log: (s: string) => void): string | undefined {
  const candidates = ['/usr/bin/python3', 'python3'];
  const works = (py: string) => spawnSync(py, ['-c', 'import pandas'], { stdio: 'ignore' }).status === 0;
  for (const py of candidates) if (works(py)) return py;
  if (process.getuid?.() === 0 && existsSync('/usr/bin/apt-get')) {
    log('pandas not found: installing Debian python3-pandas with apt-get (root)...');
    const update = spawnSync('apt-get', ['update'], { stdio: 'ignore' });
    const install = spawnSync('apt-get', ['install', '-y', 'python3-pandas'], { stdio: 'ignore' });
    if (update.status === 0 && install.status === 0 && works('/usr/bin/python3')) return '/usr/bin/python3';
  }
  log(
    'pandas is not available (no python3 with pandas, and apt-get install python3-pandas was not possible): comparing nothing against it.',
  );
  return undefined;
}

interface Ours {
  rows: number;
  seconds: number;
  maxRssKb: number;
  rankErrorBound: number;
  workers: number;
  quantiles: Record<string, number[]>;
}
interface Pandas {
  rows: number;
  seconds: number;
  maxRssKb: number;
  pandas: string;
  rankErrors: Record<string, number>;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      size: { type: 'string', default: '1GB' },
      file: { type: 'string' },
      json: { type: 'string' },
      keep: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const log = (s: string) => process.stderr.write(`${s}\n`);
  const work = mkdtempSync(join(tmpdir(), 'mlops-bench-'));
  try {
    let file = values.file;
    if (!file) {
      file = join(values.keep ? '.' : work, `bench-${values.size}.csv`);
      log(`generating ${values.size} of CSV in ${file}...`);
      await generate(file, parseSize(values.size));
    }
    const bytes = statSync(file).size;
    const mb = bytes / 1e6;

    log('bundling our profiler (esbuild)...');
    const bundle = join(work, 'profile-child.mjs');
    const { build } = await import('esbuild');
    await build({
      entryPoints: [join(here, 'profile-child.ts')],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      external: ['hyparquet'],
      outfile: bundle,
      logLevel: 'error',
    });
    const cores = availableParallelism();
    const runOurs = (workers: number): Ours => {
      log(`profiling ${mb.toFixed(0)} MB with ours (${workers} thread${workers === 1 ? '' : 's'})...`);
      const child = spawnSync(process.execPath, [bundle, file, String(workers)], {
        encoding: 'utf8',
        maxBuffer: 64 << 20,
      });
      if (child.status !== 0) throw new Error(`our profiler failed: ${child.stderr}`);
      return JSON.parse(child.stdout) as Ours;
    };
    const single = runOurs(1);
    const multi = cores > 1 ? runOurs(cores) : undefined;
    const ours = multi && multi.seconds < single.seconds ? multi : single;
    const quantilesFile = join(work, 'quantiles.json');
    writeFileSync(quantilesFile, JSON.stringify(single.quantiles));

    const python = findPandasPython(log);
    let pandas: Pandas | undefined;
    if (python) {
      log(`profiling with pandas (${python})...`);
      const run = spawnSync(python, [join(here, 'pandas-profile.py'), file, quantilesFile], {
        encoding: 'utf8',
        maxBuffer: 64 << 20,
      });
      if (run.status !== 0) log(`pandas failed: ${run.stderr}`);
      else pandas = JSON.parse(run.stdout) as Pandas;
    }

    const oursMbps = mb / ours.seconds;
    const pandasMbps = pandas ? mb / pandas.seconds : undefined;
    const maxRankError = pandas ? Math.max(...Object.values(pandas.rankErrors)) : undefined;
    const figures = {
      file,
      bytes,
      rows: ours.rows,
      cores,
      ours: {
        threads: ours.workers,
        seconds: ours.seconds,
        mbPerSecond: oursMbps,
        peakRssMb: ours.maxRssKb / 1024,
      },
      oursSingleThread: {
        seconds: single.seconds,
        mbPerSecond: mb / single.seconds,
        peakRssMb: single.maxRssKb / 1024,
      },
      oursMultiThread: multi
        ? {
            threads: multi.workers,
            seconds: multi.seconds,
            mbPerSecond: mb / multi.seconds,
            peakRssMb: multi.maxRssKb / 1024,
          }
        : null,
      loadAverage: loadavg(),
      pandas: pandas
        ? {
            version: pandas.pandas,
            seconds: pandas.seconds,
            mbPerSecond: pandasMbps,
            peakRssMb: pandas.maxRssKb / 1024,
          }
        : null,
      ratios: pandas
        ? { throughput: oursMbps / pandasMbps!, peakRss: ours.maxRssKb / pandas.maxRssKb }
        : null,
      rankError: pandas
        ? { max: maxRankError, perColumn: pandas.rankErrors, statedBound: ours.rankErrorBound }
        : null,
      targets: {
        throughputAtLeast3xPandas: pandas ? oursMbps / pandasMbps! >= 3 : null,
        peakRssUnder200MbFor1GB: ours.maxRssKb / 1024 < 200,
        rankErrorUnder1Percent: maxRankError === undefined ? null : maxRankError < 0.01,
      },
    };
    const row = (name: string, o: string, p: string, r: string) =>
      `${name.padEnd(22)}${o.padStart(14)}${p.padStart(14)}${r.padStart(12)}`;
    const lines = [
      `${mb.toFixed(0)} MB, ${ours.rows} rows, ${cores} cores (load average ${loadavg()[0]!.toFixed(1)})${pandas ? `, pandas ${pandas.pandas}` : ''}`,
      `ours: 1 thread ${(mb / single.seconds).toFixed(1)} MB/s${multi ? `, ${multi.workers} threads ${(mb / multi.seconds).toFixed(1)} MB/s` : ''} (the best is compared below)`,
      row('', `ours (${ours.workers} thr)`, 'pandas', 'ratio'),
      row(
        'time (s)',
        ours.seconds.toFixed(2),
        pandas ? pandas.seconds.toFixed(2) : 'n/a',
        pandas ? (pandas.seconds / ours.seconds).toFixed(2) + 'x' : '',
      ),
      row(
        'throughput (MB/s)',
        oursMbps.toFixed(1),
        pandasMbps ? pandasMbps.toFixed(1) : 'n/a',
        pandasMbps ? (oursMbps / pandasMbps).toFixed(2) + 'x' : '',
      ),
      row(
        'peak RSS (MB)',
        (ours.maxRssKb / 1024).toFixed(0),
        pandas ? (pandas.maxRssKb / 1024).toFixed(0) : 'n/a',
        pandas ? (ours.maxRssKb / pandas.maxRssKb).toFixed(2) + 'x' : '',
      ),
      `max rank error p1..p99: ${maxRankError === undefined ? 'n/a (needs pandas for the exact quantiles)' : `${(maxRankError * 100).toFixed(3)}%`} (stated bound ${(ours.rankErrorBound * 100).toFixed(3)}%)`,
      `targets: >=3x pandas ${fmtTarget(figures.targets.throughputAtLeast3xPandas)}, peak RSS < 200 MB ${fmtTarget(figures.targets.peakRssUnder200MbFor1GB)}, rank error < 1% ${fmtTarget(figures.targets.rankErrorUnder1Percent)}`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    if (values.json) {
      writeFileSync(values.json, `${JSON.stringify(figures, null, 2)}\n`);
      log(`figures written to ${values.json}`);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function fmtTarget(x: boolean | null): string {
  return x === null ? 'n/a' : x ? 'met' : 'NOT met';
}

await main();
