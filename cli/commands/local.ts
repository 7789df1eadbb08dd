/**
 * `mlops local up`: runs the local cloud until Ctrl-C (or SIGTERM), then stops everything
 * cleanly. Where this stands: CLI command; all the work is in {@link LocalCloud}.
 */
import { parseArgs } from 'node:util';
import type { LocalCloud } from '../../local/cloud';
import { UsageError, type CliCommand, type CliIo } from '../command';

const HELP = `Usage: mlops local <command> [options]

Commands:
  up      start the local cloud (DynamoDB Local, S3 API, event bus, handlers, local training,
          endpoints and alarms) and keep it running until Ctrl-C
  env     print how to reach the local cloud running in --dir (from its env.json); with --json,
          env.json itself: { "dir", "pid", "region", "s3Endpoint", "dynamodbEndpoint",
          "accessKeyId", "secretAccessKey", "dynamodbCredentials", "dynamodbExposure"?, "bucket",
          "registryTable", "resourcePrefix", "timeScale", "endpoints": { "host", "urls" },
          "controlUrl", "controlToken", "files", "startedAt" } (the control token is yours: the
          file is readable by you only)

Options of \`up\`:
  --dir <path>            where data is kept (default .mlops-local)
  --fresh                 wipe the data first (registry, objects, training runs, endpoints)
  --time-scale <n>        simulated seconds per real second for bake times, alarm periods
                          and schedules (default 1; retries keep real time)
  --s3-port <port>        S3 API port on 127.0.0.1 (default 4568; 0 = any free port)
  --dynamodb-port <port>  DynamoDB Local port (default 8000; 0 = any free port)
  --quiet                 print only warnings and errors
  -h, --help              show this help

Options of \`env\`:
  --dir <path>            the local cloud's folder (default .mlops-local)
  --json                  print env.json

Exit codes: 0 ok, 1 failure (no local cloud running in --dir for \`env\`), 2 usage.

Examples:
  npm run local -- --fresh --time-scale 60
  mlops local env --json | jq -r .s3Endpoint
`;

function parsePort(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsageError(`${flag} must be a port number (0-65535), got "${value}"`);
  return port;
}

function parseUp(args: readonly string[]) {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: {
      dir: { type: 'string' },
      fresh: { type: 'boolean', default: false },
      'time-scale': { type: 'string' },
      's3-port': { type: 'string' },
      'dynamodb-port': { type: 'string' },
      quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  let timeScale: number | undefined;
  if (values['time-scale'] !== undefined) {
    timeScale = Number(values['time-scale']);
    if (!(timeScale > 0) || !Number.isFinite(timeScale)) {
      throw new UsageError(`--time-scale must be a number > 0, got "${values['time-scale']}"`);
    }
  }
  return {
    help: values.help,
    options: {
      ...(values.dir !== undefined ? { dir: values.dir } : {}),
      fresh: values.fresh,
      quiet: values.quiet,
      ...(timeScale !== undefined ? { timeScale } : {}),
      ...(values['s3-port'] !== undefined ? { s3Port: parsePort(values['s3-port'], '--s3-port') } : {}),
      ...(values['dynamodb-port'] !== undefined
        ? { dynamodbPort: parsePort(values['dynamodb-port'], '--dynamodb-port') }
        : {}),
    },
  };
}

/** Resolves on the first SIGINT/SIGTERM; a second Ctrl-C a second later forces the exit. */
function untilSignal(io: CliIo): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    let first: number | undefined;
    const onSignal = (signal: NodeJS.Signals) => {
      if (first === undefined) {
        first = Date.now();
        io.err(`\n${signal}: stopping the local cloud (Ctrl-C again to force)...`);
        resolve(signal);
      } else if (signal === 'SIGINT' && Date.now() - first > 1000) {
        io.err('forced exit');
        process.exit(130);
      }
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

async function up(args: readonly string[], io: CliIo): Promise<number> {
  const parsed = parseUp(args);
  if (parsed.help) {
    io.out(HELP);
    return 0;
  }
  const signal = untilSignal(io);
  // Loaded here, not at the top: `--help` and usage errors need none of the local cloud.
  const [{ LocalCloud }, { JavaMissingError }] = await Promise.all([
    import('../../local/cloud'),
    import('../../local/services/dynamodb-local'),
  ]);
  let cloud: LocalCloud;
  try {
    cloud = await LocalCloud.start(parsed.options);
  } catch (error) {
    if (error instanceof JavaMissingError) {
      io.err(error.message);
      return 1;
    }
    io.err(`the local cloud could not start: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
  await signal;
  await cloud.stop();
  io.err('local cloud stopped');
  return 0;
}

async function env(args: readonly string[], io: CliIo): Promise<number> {
  const { readLocalCloudEnv, describeLocalCloud } = await import('../../local/cloud');
  const { values } = parseArgs({
    args: [...args],
    options: { dir: { type: 'string' }, json: { type: 'boolean' } },
    strict: true,
  });
  const found = readLocalCloudEnv(values.dir ?? '.mlops-local');
  if (!found) {
    io.err(`no local cloud is running in ${values.dir ?? '.mlops-local'} (start one with \`npm run local\`)`);
    return 1;
  }
  io.out(values.json ? JSON.stringify(found, null, 2) : describeLocalCloud(found));
  return 0;
}

/** The `mlops local` command. */
export const localCommand: CliCommand = {
  name: 'local',
  summary: 'run the local cloud (`mlops local up`), or show how to reach it (`mlops local env`)',
  help: HELP,
  async run(args, io) {
    const [sub, ...rest] = args;
    switch (sub) {
      case 'up':
        return up(rest, io);
      case 'env':
        return env(rest, io);
      case undefined:
      case '-h':
      case '--help':
        io.out(HELP);
        return sub === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command "local ${sub}"`);
    }
  },
};
