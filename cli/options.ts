/**
 * The options every operator command shares (`--dir`, `--stack`, `--region`, `--json`, `--help`)
 * and their parsing. Where this stands: CLI plumbing for cli/commands/.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { MODEL_NAME_PATTERN } from '../core/domain/naming';
import { UsageError } from './command';
import type { TargetOptions } from './target/target';

/** Help lines of the shared options, for each command's help. */
export const TARGET_HELP = `Where:
  --stack <name>    a deployed stack (its CloudFormation outputs, your AWS credentials)
  --region <r>      the stack's Region (default: AWS_REGION / your profile's)
  --dir <path>      the local cloud's folder when there is no --stack (default .mlops-local)`;

const SHARED = {
  dir: { type: 'string' },
  stack: { type: 'string' },
  region: { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const satisfies NonNullable<ParseArgsConfig['options']>;

type Options = NonNullable<ParseArgsConfig['options']>;

/** Option values as parseArgs gives them (strings, booleans; arrays for `multiple`). */
export type OptionValues = Readonly<
  Record<string, string | boolean | readonly (string | boolean)[] | undefined>
>;

/** A parsed command line: the shared options, the command's own, and the positionals. */
export interface ParsedCommandLine {
  readonly help: boolean;
  readonly json: boolean;
  readonly target: TargetOptions;
  readonly values: OptionValues;
  readonly positionals: readonly string[];
}

/** Parses the shared options plus `own` (strict: an unknown option is a usage error). */
export function parseCommandLine(args: readonly string[], own: Options = {}): ParsedCommandLine {
  const parsed = parseArgs({
    args: [...args],
    options: { ...SHARED, ...own },
    allowPositionals: true,
    strict: true,
  });
  const values = parsed.values as OptionValues;
  const stack = stringOption(values, 'stack');
  const region = stringOption(values, 'region');
  if (region !== undefined && stack === undefined)
    throw new UsageError('--region goes with --stack (the local cloud has no Region to choose)');
  if (stack !== undefined && values.dir !== undefined)
    throw new UsageError('give --stack (a deployed stack) or --dir (a local cloud), not both');
  return {
    help: values.help === true,
    json: values.json === true,
    target: {
      dir: stringOption(values, 'dir') ?? '.mlops-local',
      ...(stack !== undefined ? { stack } : {}),
      ...(region !== undefined ? { region } : {}),
    },
    values,
    positionals: parsed.positionals,
  };
}

/** The value of a string option, if given. */
export function stringOption(values: OptionValues, name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

/** The positionals `names` (all required), or a usage error naming the first one missing. */
export function positionals(given: readonly string[], names: readonly string[], optional = 0): string[] {
  const required = names.length - optional;
  if (given.length < required) throw new UsageError(`missing <${names[given.length]}>`);
  if (given.length > names.length) throw new UsageError(`unexpected argument "${given[names.length]}"`);
  return [...given];
}

/** A model name as the product accepts it, or a usage error. */
export function modelArgument(value: string): string {
  if (!MODEL_NAME_PATTERN.test(value))
    throw new UsageError(
      `"${value}" is not a model name (lowercase letters, digits and single hyphens, starting with a letter, at most 40)`,
    );
  return value;
}

/** A version number (`3` or `v3`), or a usage error. */
export function versionArgument(value: string, what = '<version>'): number {
  const n = Number(value.replace(/^v/i, ''));
  if (!Number.isSafeInteger(n) || n < 1)
    throw new UsageError(`${what} must be a version number like 3 or v3, got "${value}"`);
  return n;
}

/** A duration: `90` or `90s`, `30m`, `2h`; in milliseconds. */
export function durationArgument(value: string, flag: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim());
  if (!match) throw new UsageError(`${flag} must be a duration like 90s, 30m or 2h, got "${value}"`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] ?? 's'] ?? 1000;
  const ms = Number(match[1]) * unit;
  if (!(ms > 0)) throw new UsageError(`${flag} must be more than 0, got "${value}"`);
  return ms;
}
