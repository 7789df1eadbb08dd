/**
 * The `mlops` CLI entry (`npm run mlops -- <command>`, `npm run local`). Where this stands: the
 * outermost layer; commands live in cli/. Start it through bin/mlops.mjs, which runs it with
 * tsx and the OpenSSL legacy provider the local S3 server needs for long listings.
 */
import { runCli } from '../cli/main';

runCli(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(1);
  },
);
