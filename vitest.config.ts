import { availableParallelism } from 'node:os';
import { relative } from 'node:path';
import { configDefaults, defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * Files that touch nothing outside their own module graph (no server, no process, no SDK client
 * mocked on a shared prototype, no process.env): their worker keeps its modules from one file to
 * the next (`isolate: false`), so aws-cdk-lib and the domain load once per worker, not per file.
 */
const SHARED_MODULES = [
  'test/core/!(use-cases)/**/*.test.ts',
  'test/core/use-cases/!(reconcile).test.ts',
  'test/lib/**/*.test.ts',
  'test/bin/**/*.test.ts',
  'test/lint/**/*.test.ts',
  'test/cli/commands/!(reads).test.ts',
  'test/adapters/files/**/*.test.ts',
  'test/adapters/memory/**/*.test.ts',
  'test/local/metrics/**/*.test.ts',
  'test/local/{control-server,dead-letters,event-bus,event-bus-backlog}.test.ts',
  'test/local/inference/{inference-server,payload}.test.ts',
  'test/local/training/{gbm,log-metrics,metrics,s3-staging,sagemaker-environment,training-image,training-job}.test.ts',
  'test/contracts/sample-events.test.ts',
  'test/contracts/support/event-pattern.test.ts',
];

/**
 * JVM options for the DynamoDB Locals of a test run (each LocalCloud's, the ones that test the
 * service itself, and the run's shared one: test/setup/dynamodb-local.global.ts passes them on).
 * The C1 compiler only and a serial collector: a JVM that lives seconds to minutes on a 2-core
 * machine spends much of its CPU in C2 compiler and parallel GC threads, competing with the tests;
 * measured here, a start plus 1200 requests took 6 s of CPU instead of 10 s, and less wall time.
 * A value set by the caller wins.
 */
const TEST_JAVA_TOOL_OPTIONS = process.env.JAVA_TOOL_OPTIONS ?? '-XX:TieredStopAtLevel=1 -XX:+UseSerialGC';

/** Seconds each slow file takes on an idle 2-core machine (files under a second are left out). */
const EXPECTED_SECONDS: Readonly<Record<string, number>> = {
  'test/local/demo/demo.test.ts': 43,
  'test/cli/operator-script.test.ts': 30,
  'test/hostile/ingest.test.ts': 21,
  'test/hostile/local-cloud.test.ts': 15,
  'test/hostile/rollout-lock.test.ts': 11,
  'test/hostile/config-and-csv.test.ts': 8,
  'test/contracts/fault-table.test.ts': 37,
  'test/local/cloud-collisions.test.ts': 23,
  'test/local/cloud-restart.test.ts': 16,
  'test/contracts/request-validity.test.ts': 13,
  'test/local/cloud-reconciler.test.ts': 12,
  'test/lib/full-synth.test.ts': 10,
  'test/local/services/dynamodb-local.test.ts': 9,
  'test/local/cloud-drift.test.ts': 8,
  'test/local/security.test.ts': 6,
  'test/contracts/iam-contract.test.ts': 5,
  'test/core/profiling/parallel.test.ts': 4.5,
  'test/local/cloud.test.ts': 4,
  'test/lambdas/ingest/data-quality.test.ts': 3.5,
  'test/adapters/dynamodb/dynamodb-registry-store.contract.test.ts': 4,
  'test/adapters/files/parallel-csv-profile.test.ts': 4,
  'test/lint/layers.test.ts': 4,
  'test/lambdas/ingest/handler.test.ts': 3,
  'test/adapters/dynamodb/dynamodb-registry-store.test.ts': 3,
  'test/local/services/s3-server.test.ts': 2.7,
  'test/local/training/local-training-service.test.ts': 2.5,
  'test/lambdas/rollout-refused.test.ts': 2.5,
  'test/lambdas/pipeline.test.ts': 4,
  'test/core/use-cases/reconcile.test.ts': 2.3,
  'test/local/inference/local-endpoint-service.test.ts': 2.2,
  'test/local/training/gbm.test.ts': 2.1,
  'test/local/inference/front-server.test.ts': 1.5,
  'test/lambdas/reconciler/repairs.test.ts': 2.8,
};

/**
 * The order test files start in: longest first, so that the workers finish together (a long file
 * started last would run alone at the end). Vitest's own sequencer does this only from the
 * durations it cached in an earlier run on the same machine (none in CI after `npm ci`), and it
 * groups files by project name first; this one puts every file of the isolated projects first,
 * longest first, then the files of the shared-module project (`isolate: false`, which must stay
 * together for a worker to reuse its process), longest first too.
 *
 * A file's length is {@link EXPECTED_SECONDS} (measured on an idle 2-core machine), else its
 * duration in vitest's cache, else 0 (short files keep vitest's order among themselves). With
 * `--sequence.shuffle` the files are shuffled instead (seeded by `--sequence.seed`), as vitest's
 * own random sequencer does, to show that no file depends on another having run first.
 */
class LongestFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    // Vitest's order (failed first, then cached durations or size) breaks the ties.
    const base = await super.sort(files);
    const { shuffle, seed } = this.ctx.config.sequence;
    if (shuffle) return shuffled(base, seed);
    const rank = new Map(base.map((spec, i) => [spec, i]));
    const seconds = (spec: TestSpecification): number => {
      const path = relative(this.ctx.config.root, spec.moduleId);
      const expected = EXPECTED_SECONDS[path];
      if (expected !== undefined) return expected;
      return (this.ctx.cache.getFileTestResults(`${spec.project.name}:${path}`)?.duration ?? 0) / 1000;
    };
    return [...base].sort((a, b) => {
      const shared = Number(a.project.config.isolate === false) - Number(b.project.config.isolate === false);
      if (shared !== 0) return shared;
      return seconds(b) - seconds(a) || rank.get(a)! - rank.get(b)!;
    });
  }
}

/** A seeded Fisher-Yates shuffle (mulberry32). */
function shuffled<T>(items: readonly T[], seed: number): T[] {
  let state = seed >>> 0;
  const random = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

export default defineConfig({
  test: {
    // No include here: a project's include adds to the root's (each project has its own).
    setupFiles: ['test/setup/vitest-setup.ts'],
    // One DynamoDB Local for the run, started when a file first needs it (test/support/dynamodb-local.ts).
    globalSetup: ['test/setup/dynamodb-local.global.ts'],
    // Integration tests start DynamoDB Local (a JVM) and an S3 server: give them room.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Vitest's default is one worker fewer than the cores (one on a 2-core machine); many files
    // mostly wait (on a JVM, a training process, a bake time), so use every core.
    maxWorkers: Math.max(2, availableParallelism()),
    // Longest files first, so that the workers end together (LongestFirstSequencer, below).
    sequence: { sequencer: LongestFirstSequencer },
    projects: [
      {
        extends: true,
        test: {
          name: 'shared-modules',
          include: SHARED_MODULES,
          isolate: false,
        },
      },
      {
        extends: true,
        test: {
          name: 'isolated',
          include: ['test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, ...SHARED_MODULES],
        },
      },
    ],
    env: {
      // Handlers log through Powertools: keep test output readable.
      POWERTOOLS_LOG_LEVEL: 'SILENT',
      POWERTOOLS_METRICS_DISABLED: 'true',
      POWERTOOLS_SERVICE_NAME: 'test',
      POWERTOOLS_METRICS_NAMESPACE: 'ServerlessMlopsTest',
      // The JVMs the tests start (DynamoDB Local) live seconds to minutes.
      JAVA_TOOL_OPTIONS: TEST_JAVA_TOOL_OPTIONS,
    },
  },
});
