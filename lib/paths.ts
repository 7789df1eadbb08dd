/**
 * Where the CDK app finds the code it bundles. Where this stands: infrastructure (lib/); the
 * function constructs resolve handler entries and the lock file from here, so `cdk synth` works
 * from any working directory.
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (the folder holding package.json and package-lock.json). */
export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The lock file NodejsFunction hashes and bundles against. */
export const DEPS_LOCK_FILE = path.join(PROJECT_ROOT, 'package-lock.json');

/** Entry files of the handlers, each exporting `handler`. */
export const HANDLER_ENTRIES = {
  ingest: path.join(PROJECT_ROOT, 'lambdas', 'ingest', 'handler.ts'),
  trainingEvents: path.join(PROJECT_ROOT, 'lambdas', 'training-events', 'handler.ts'),
  endpointEvents: path.join(PROJECT_ROOT, 'lambdas', 'endpoint-events', 'handler.ts'),
  alarmEvents: path.join(PROJECT_ROOT, 'lambdas', 'alarm-events', 'handler.ts'),
  monitor: path.join(PROJECT_ROOT, 'lambdas', 'monitor', 'handler.ts'),
  reconciler: path.join(PROJECT_ROOT, 'lambdas', 'reconciler', 'handler.ts'),
  operator: path.join(PROJECT_ROOT, 'lambdas', 'operator', 'handler.ts'),
} as const;
