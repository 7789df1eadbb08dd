/**
 * `mlops profile <file> [--baseline <statistics.json>] [--constraints <constraints.json>] [--json]`:
 * profiles a CSV, JSON-lines or Parquet file before it is uploaded, and checks it against a
 * baseline. Where this stands: CLI command over core/profiling.
 */
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import type { ColumnProfile, DatasetProfile, ProfileFormat } from '../../core/profiling/api';
import { compareProfiles } from '../../core/profiling/drift';
import {
  checkConstraints,
  fromStatisticsJson,
  suggestConstraints,
  toStatisticsJson,
  type ConstraintsJson,
} from '../../core/profiling/model-monitor';
import { ProfileInputError } from '../../core/profiling/profiler';
import { formatTable } from '../../core/support/text-table';
import { profileFile } from '../../adapters/files/profile-file';
import { UsageError, type CliCommand } from '../command';

const HELP = `Usage: mlops profile <file> [options]

Profiles a dataset in one streaming pass (CSV with a header row, JSON lines, or Parquet; the
format comes from the extension): per column the type, present and missing counts, mean,
standard deviation, min, median, max, distinct values and the most frequent values.

Options:
  --baseline <statistics.json>    compare with a baseline (Model Monitor's statistics.json, e.g.
                                  from \`mlops profile --json\` or reports/<model>/<dataset>/):
                                  drift per column (KS + PSI, or L-infinity for categories) and the
                                  constraint violations
  --constraints <constraints.json>  the baseline's constraints (default: suggested from the baseline)
  --format <csv|jsonl|parquet>    the file's format, when its extension does not tell
  --distance <x>                  drift threshold for the distances (default 0.1)
  --psi <x>                       drift threshold for PSI (default 0.25)
  --threads <n>                   threads for a large CSV file (cut at line breaks, parts merged;
                                  default: the number of cores)
  --json                          print statistics.json (with --baseline: an object with
                                  statistics, drift and constraint_violations)
  -h, --help                      show this help

Exit code: 0, or 1 when the file cannot be read or (with --baseline) a column drifted or a
constraint is violated.
`;

function fmt(x: number | undefined): string {
  if (x === undefined || Number.isNaN(x)) return '';
  if (Number.isInteger(x) && Math.abs(x) < 1e15) return String(x);
  const a = Math.abs(x);
  return a !== 0 && (a >= 1e7 || a < 1e-3) ? x.toExponential(3) : x.toFixed(4).replace(/\.?0+$/, '');
}

function top(column: ColumnProfile): string {
  const shown = column.topValues
    .slice(0, 3)
    .map((v) => `${v.value.length > 20 ? `${v.value.slice(0, 19)}…` : v.value} (${v.count})`);
  return shown.join(', ');
}

function profileTable(profile: DatasetProfile): string {
  const rows = profile.columns.map((c) => [
    c.name,
    c.inferredType,
    String(c.present),
    String(c.missing),
    fmt(c.numeric?.mean),
    fmt(c.numeric?.stdDev),
    fmt(c.numeric?.min),
    fmt(c.numeric ? c.numeric.sketch.quantile(0.5) : undefined),
    fmt(c.numeric?.max),
    String(c.distinct),
    top(c),
  ]);
  return formatTable(rows, {
    header: [
      'column',
      'type',
      'present',
      'missing',
      'mean',
      'std',
      'min',
      'p50',
      'max',
      'distinct',
      'top values',
    ],
  });
}

function number(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const x = Number(value);
  if (!(x >= 0) || !Number.isFinite(x))
    throw new UsageError(`--${name} must be a number >= 0, got "${value}"`);
  return x;
}

/** The `mlops profile` command. */
export const profileCommand: CliCommand = {
  name: 'profile',
  summary: 'profile a CSV, JSON-lines or Parquet file, and check it against a baseline statistics.json',
  help: HELP,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args: [...args],
      options: {
        baseline: { type: 'string' },
        constraints: { type: 'string' },
        format: { type: 'string' },
        distance: { type: 'string' },
        psi: { type: 'string' },
        threads: { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      allowPositionals: true,
      strict: true,
    });
    if (values.help) {
      io.out(HELP);
      return 0;
    }
    if (positionals.length !== 1)
      throw new UsageError(
        positionals.length === 0 ? 'which file?' : `one file at a time, got ${positionals.length}`,
      );
    const format = values.format as ProfileFormat | undefined;
    if (format !== undefined && !['csv', 'jsonl', 'parquet'].includes(format))
      throw new UsageError(`--format must be csv, jsonl or parquet, got "${format}"`);
    if (values.constraints !== undefined && values.baseline === undefined)
      throw new UsageError('--constraints needs --baseline');
    const distance = number(values.distance, 'distance');
    const psi = number(values.psi, 'psi');
    const file = positionals[0]!;
    const threads =
      values.threads === undefined ? availableParallelism() : number(values.threads, 'threads')!;
    if (!Number.isInteger(threads) || threads < 1)
      throw new UsageError(`--threads must be a whole number >= 1, got "${values.threads}"`);

    let profile: DatasetProfile;
    try {
      profile = await profileFile(file, { workers: threads, ...(format ? { format } : {}) });
    } catch (error) {
      if (error instanceof ProfileInputError || (error as NodeJS.ErrnoException).code === 'ENOENT') {
        io.err(`mlops profile: ${file}: ${(error as Error).message}`);
        return 1;
      }
      throw error;
    }
    if (values.baseline === undefined) {
      if (values.json) io.out(JSON.stringify(toStatisticsJson(profile), null, 2));
      else
        io.out(
          `${file}: ${profile.rows} rows, ${profile.columns.length} columns\n\n${profileTable(profile)}\n`,
        );
      return 0;
    }

    let baseline: DatasetProfile;
    let constraints: ConstraintsJson;
    try {
      baseline = fromStatisticsJson(JSON.parse(await readFile(values.baseline, 'utf8')));
      constraints =
        values.constraints === undefined
          ? suggestConstraints(baseline)
          : (JSON.parse(await readFile(values.constraints, 'utf8')) as ConstraintsJson);
    } catch (error) {
      io.err(`mlops profile: cannot read the baseline: ${(error as Error).message}`);
      return 1;
    }
    const drift = compareProfiles(profile, baseline, {
      ...(distance !== undefined ? { distance } : {}),
      ...(psi !== undefined ? { psi } : {}),
    });
    const violations = checkConstraints(profile, constraints, {
      baseline,
      drift,
      ...(psi !== undefined ? { thresholds: { psi } } : {}),
    });
    const failed = drift.drifted.length > 0 || violations.violations.length > 0;
    if (values.json) {
      const statistics = toStatisticsJson(profile);
      io.out(JSON.stringify({ statistics, drift, constraint_violations: violations }, null, 2));
      return failed ? 1 : 0;
    }
    const driftRows = drift.columns.map((c) => [
      c.column,
      c.kind,
      c.distance.toFixed(4),
      c.simpleDistance.toFixed(4),
      c.psi === undefined ? '' : c.psi.toFixed(4),
      c.drifted ? 'DRIFT' : 'ok',
    ]);
    const out = [
      `${file}: ${profile.rows} rows, ${profile.columns.length} columns (baseline: ${baseline.rows} rows)`,
      '',
      profileTable(profile),
      '',
      `Drift (${drift.method}; thresholds: distance ${drift.thresholds.distance}, PSI ${drift.thresholds.psi})`,
      formatTable(driftRows, { header: ['column', 'kind', 'distance', 'raw L-inf', 'PSI', ''] }),
      '',
      violations.violations.length === 0
        ? 'Constraint violations: none'
        : `Constraint violations (${violations.violations.length}):\n${violations.violations
            .map((v) => `  ${v.constraint_check_type}  ${v.feature_name}: ${v.description}`)
            .join('\n')}`,
      '',
    ];
    io.out(out.join('\n'));
    return failed ? 1 : 0;
  },
};
