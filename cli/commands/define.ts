/**
 * The frame of an operator command (models, show, approve...): parse the shared options, print
 * the help on `--help`, resolve the target (local cloud or `--stack`) and release it after. Where
 * this stands: CLI plumbing for the operator commands.
 */
import type { ParseArgsConfig } from 'node:util';
import type { CliCommand, CliIo } from '../command';
import { parseCommandLine, type ParsedCommandLine } from '../options';
import { resolveTarget, withTarget } from '../target/resolve';
import type { Target, TargetResolver } from '../target/target';

/** What an operator command declares. */
export interface OperatorCommandSpec {
  readonly name: string;
  readonly summary: string;
  readonly help: string;
  /** Options besides the shared ones (`--dir`, `--stack`, `--region`, `--json`, `--help`). */
  readonly options?: NonNullable<ParseArgsConfig['options']>;
  /** Checks the command line before any target is resolved (usage errors come first). */
  readonly validate?: (line: ParsedCommandLine) => void;
  /** The work, on the resolved target; resolves to the exit code. */
  readonly run: (line: ParsedCommandLine, target: Target, io: CliIo) => Promise<number>;
}

/** Builds a {@link CliCommand} from a spec, resolving targets with `resolver` (tests pass fakes). */
export function defineOperatorCommand(
  spec: OperatorCommandSpec,
  resolver: TargetResolver = resolveTarget,
): CliCommand {
  return {
    name: spec.name,
    summary: spec.summary,
    help: spec.help,
    async run(args, io) {
      const line = parseCommandLine(args, spec.options);
      if (line.help) {
        io.out(spec.help);
        return 0;
      }
      spec.validate?.(line);
      return withTarget(resolver, line.target, (target) => spec.run(line, target, io));
    },
  };
}
