#!/usr/bin/env node
// Launcher of the `mlops` CLI (bin/mlops.ts): runs it with tsx, and with the OpenSSL legacy
// provider, which s3rver (the local S3 API) needs to page listings of more than 1000 keys.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { constants } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const tsx = createRequire(import.meta.url).resolve('tsx');
const child = spawn(
  process.execPath,
  [
    '--openssl-legacy-provider',
    '--import',
    pathToFileURL(tsx).href,
    join(here, 'mlops.ts'),
    ...process.argv.slice(2),
  ],
  {
    stdio: 'inherit',
    // The SDK warns on every run under Node 20 that its releases from 2027 will need Node 22: news
    // for whoever upgrades the SDK (package.json pins it), not for the person running a command.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...process.env },
  },
);
// Ctrl-C reaches the CLI directly (same process group); the launcher only waits for it.
process.on('SIGINT', () => {});
process.on('SIGTERM', () => child.kill('SIGTERM'));
child.on('exit', (code, signal) => process.exit(code ?? 128 + (constants.signals[signal] ?? 0)));
