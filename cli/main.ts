/**
 * The `mlops` CLI's dispatcher: `mlops <command> [args]`, help, exit codes (0 ok, 1 failure,
 * 2 usage, 3 not found, 4 refused: `EXIT` in cli/command.ts). Where this stands: CLI plumbing; commands live in `cli/commands/`.
 */
import { CliError, UsageError, processIo, type CliCommand, type CliIo } from './command';
import { COMMANDS } from './commands/index';
import { formatTable } from '../core/support/text-table';

function mainHelp(commands: readonly CliCommand[] = COMMANDS): string {
  return [
    'Usage: mlops <command> [options]',
    '',
    'Commands:',
    formatTable(
      commands.map((c) => [c.name, c.summary]),
      { indent: '  ' },
    ),
    '',
    'Run `mlops <command> --help` for the options of a command.',
    '',
  ].join('\n');
}

/** Runs the CLI on `args` (without node and the script); resolves to the exit code. */
export async function runCli(
  args: readonly string[],
  io: CliIo = processIo,
  commands: readonly CliCommand[] = COMMANDS,
): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
    io.out(mainHelp(commands));
    return name === undefined ? 2 : 0;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    io.err(`mlops: unknown command "${name}"\n\n${mainHelp(commands)}`);
    return 2;
  }
  try {
    return await command.run(rest, io);
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.err(`mlops ${name}: ${(error as Error).message}\n\n${command.help}`);
      return 2;
    }
    if (error instanceof CliError) {
      io.err(`mlops ${name}: ${error.message}`);
      return error.exitCode;
    }
    throw error;
  }
}
