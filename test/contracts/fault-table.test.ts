/**
 * Contract: a fault at every call. For each AWS call site of the handlers, one injected throttle,
 * 5xx, timeout and validation error, each shaped as the SDK throws it once its own retries are
 * spent (test/support/aws-call-journal.ts) and thrown once. Throttles, 5xx and validation errors
 * are refusals: the request had no effect. A timeout leaves the caller not knowing, and the
 * table's timeout is the harder case: the request got through and took effect, only its response
 * was lost. The pipeline either converges (redelivered, then done as if nothing had happened) or
 * ends in a recorded failure state with every lock released; no version is stuck, nothing is
 * lost, nothing is doubled. Counted in one table.
 *
 * A call site is a place in the handlers' code that calls AWS: the handler, the use-case method
 * and line that made the call, the port method it went through and the API operation, e.g.
 * `training-events | DeployVersion.applyToEndpoint:148 | endpoints.createEndpoint |
 * sagemaker.CreateEndpoint`. The notification outbox (core/use-cases/notification-outbox.ts) is
 * plumbing: its calls are sited at the use-case line that flushed it. The sites are read from the
 * JavaScript stacks of a clean run of the
 * pipeline scenario (support/pipeline-scenario.ts, the run the IAM and request-validity contracts
 * use), so the same operation called from two places (a version read before and after a
 * transition, a deploy started by the training handler and by an approval) is two sites; each site
 * is faulted at its first call in the scenario (a later pass through the same line, in another
 * state, is not faulted again), and a line the scenario never reaches is not in the table.
 * lib-storage's Upload sends its PutObject off the await chain: those calls are one site,
 * `(off the await chain) | objects.writeStream`. The operator's approval
 * (core/use-cases/approve-version.ts) counts as a handler.
 *
 * Each row plans its fault and runs the scenario as AWS runs the stack (support/fault-table.ts):
 * a failed invocation is delivered again (SQS up to the ingest queue's maxReceiveCount, then its
 * dead-letter queue; EventBridge -> Lambda's two asynchronous retries, then the function's
 * dead-letter queue; an operator runs a failed approval once more). An event AWS gave up on is
 * never retried by AWS: repairing it is the reconciler's job, which the stack runs every 15
 * minutes. So once the scenario is over, SageMaker finishes what is still in flight (its events
 * delivered) and the reconciler (core/use-cases/reconcile.ts) runs, its clock 20 minutes further
 * each round, until nothing moves. Then each row is one of:
 * - converged: the run's state came back to the clean run's (the same registry items, SageMaker,
 *   CloudWatch and S3 effects and notifications, normalized for names and times), or its end is
 *   the clean run's end;
 * - recorded-failure: it ended otherwise, but only where a version is FAILED / DEPLOY_FAILED /
 *   ROLLED_BACK / REJECTED or a dataset REJECTED, each with its reason, and no invariant broke;
 * - VIOLATION, when any of these does not hold at the end: no version TRAINING / TRAINED /
 *   DEPLOYING (stuck) or APPROVED and never rolled out; no rollout lock held (the model's
 *   challenger unset); every upload has one dataset record (accepted with its version, or
 *   rejected with a reason); one version per dataset, one training job per version, one
 *   CreateEndpoint / UpdateEndpoint applied per rollout; one notification per transition the
 *   audit trail records (dataset rejected, training failed, gate rejected or held, promoted,
 *   deployment failed or rolled back, incident opened or resolved), where a second copy with the
 *   same notification id after a Publish that took effect but answered with an error (the timeout)
 *   counts once: notifications are delivered at least once from the registry's outbox, each with
 *   its id, and such a row converges noted `converged (notification re-sent after an ambiguous
 *   Publish)` (any other second copy is doubled); a model in production has its
 *   alarms; one incident per alarm episode, resolved when its alarm is OK; the drift window
 *   summarized. Or the fault was never thrown, or the run threw.
 *
 * Runtime: all rows share one harness (DynamoDB Local, the S3 server, the SageMaker / CloudWatch /
 * SNS fakes), each run under model names of its own, three at once; a run plays only the story of
 * the scenario its site is in, and a row whose state comes back to the clean run's hands the same
 * run on to a row whose site comes later in the story (support/fault-table.ts, runTable).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAULT_KINDS } from '../support/aws-call-journal';
import { startPipelineHarness, type PipelineHarness } from '../support/pipeline-harness';
import {
  RESENT_NOTE,
  runClean,
  runTable,
  type CleanRun,
  type RowResult,
  type RowVerdict,
} from './support/fault-table';
import { LAMBDA_HANDLERS } from './support/pipeline-scenario';

/** Runs at once: the servers are shared, and the machine has two cores. */
const CONCURRENCY = Number(process.env.FAULT_TABLE_CONCURRENCY ?? 3);

let harness: PipelineHarness;
let clean: CleanRun;

beforeAll(async () => {
  harness = await startPipelineHarness();
  clean = await runClean(harness);
});
afterAll(async () => harness?.stop());

describe('the clean run', () => {
  it('needs no redelivery, no repair, and breaks no invariant', () => {
    expect(clean.problems).toEqual([]);
  });

  it('reaches a call site of every handler and every operation each handler uses', () => {
    const operations = (handler: string) =>
      new Set(clean.sites.filter((s) => s.handler === handler).map((s) => `${s.service}.${s.operation}`));
    for (const handler of [...LAMBDA_HANDLERS, 'approval'])
      expect(operations(handler).size).toBeGreaterThan(0);
    // The operations a use case cannot do without (each is a site of its own).
    for (const op of [
      'sagemaker.CreateTrainingJob',
      'sagemaker.CreateEndpoint',
      'sagemaker.UpdateEndpoint',
      'cloudwatch.PutMetricAlarm',
      'sns.Publish',
      'dynamodb.TransactWriteItems',
      's3.PutObject',
    ])
      expect(clean.sites.map((s) => `${s.service}.${s.operation}`)).toContain(op);
  });
});

describe('a fault at every call site', () => {
  it('converges or ends in a recorded failure; nothing stuck, lost or doubled', async () => {
    const started = Date.now();
    const rows = clean.sites.flatMap((site) => FAULT_KINDS.map((kind) => ({ site, kind })));
    const { results, runs, steps } = await runTable(harness, clean, rows, CONCURRENCY);
    expect(results).toHaveLength(rows.length);
    console.log(formatTable(results, Date.now() - started, { runs, steps }));
    const order = (r: RowResult) =>
      clean.sites.indexOf(r.site) * FAULT_KINDS.length + FAULT_KINDS.indexOf(r.kind);
    const violations = [...results]
      .sort((a, b) => order(a) - order(b))
      .filter((r) => r.verdict === 'VIOLATION')
      .map((r) => `${r.kind} at ${r.site.id}: ${r.detail.join('; ')}`);
    expect(violations, `${violations.length} of ${rows.length} rows broke the contract`).toEqual([]);
  }, 600_000);
});

/** The table: one line per site, one column per fault kind; then the details of what was not clean. */
function formatTable(
  results: readonly RowResult[],
  ms: number,
  work: { runs: number; steps: number },
): string {
  const short: Record<RowVerdict, string> = {
    converged: 'converged',
    'recorded-failure': 'failed',
    VIOLATION: 'VIOLATION',
  };
  const counts = new Map<RowVerdict, number>();
  for (const r of results) counts.set(r.verdict, (counts.get(r.verdict) ?? 0) + 1);
  const width = Math.max(...clean.sites.map((s) => s.id.length));
  const lines = [
    `Fault table: ${clean.sites.length} call sites x ${FAULT_KINDS.length} faults = ${results.length} rows; ` +
      [...counts].map(([v, n]) => `${v} ${n}`).join(', ') +
      ` (${(ms / 1000).toFixed(1)} s in ${work.runs} runs of ${work.steps} steps; clean run ${(clean.ms / 1000).toFixed(1)} s)`,
    `${'call site (handler | caller | port | operation)'.padEnd(width)}  ${FAULT_KINDS.map((k) => k.padEnd(10)).join(' ')}`,
  ];
  const resent = (r: RowResult) => r.verdict === 'converged' && r.detail[0] === RESENT_NOTE;
  for (const site of clean.sites) {
    const cells = FAULT_KINDS.map((kind) => {
      const r = results.find((x) => x.site.id === site.id && x.kind === kind);
      return (r ? `${short[r.verdict]}${resent(r) ? '*' : ''}` : '-').padEnd(10);
    });
    lines.push(`${site.id.padEnd(width)}  ${cells.join(' ')}`);
  }
  const order = (r: RowResult) =>
    clean.sites.indexOf(r.site) * FAULT_KINDS.length + FAULT_KINDS.indexOf(r.kind);
  const again = results.filter(resent).sort((a, b) => order(a) - order(b));
  if (again.length > 0) lines.push('', `converged*: ${RESENT_NOTE} (at least once, same id):`);
  for (const r of again)
    lines.push(`  ${r.kind} at ${r.site.id}`, ...r.detail.slice(1).map((d) => `      ${d}`));
  const notable = results.filter((r) => r.verdict !== 'converged').sort((a, b) => order(a) - order(b));
  if (notable.length > 0) lines.push('', 'Rows that did not converge:');
  for (const r of notable)
    lines.push(`  ${r.verdict} ${r.kind} at ${r.site.id}`, ...r.detail.map((d) => `      ${d}`));
  return lines.join('\n');
}
