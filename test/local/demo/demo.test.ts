/**
 * End to end: `mlops demo` on a real local cloud (DynamoDB Local, s3rver, the event bus, the
 * real handlers, local training, local endpoints, local alarms). The same scenario `npm run demo`
 * prints: upload → validation → training → gate → promotion → traffic → a second candidate →
 * a faulty rollout that the error-rate alarm rolls back.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { demoCommand } from '../../../local/cli/commands/demo';

let dir: string | undefined;
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('mlops demo', () => {
  it('runs every stage and exits 0', { timeout: 300_000 }, async () => {
    dir = await mkdtemp(join(tmpdir(), 'mlops-demo-'));
    const out: string[] = [];
    const code = await demoCommand.run(['--dir', join(dir, 'cloud'), '--time-scale', '60'], {
      out: (text) => out.push(text),
      err: (text) => out.push(text),
    });
    const text = out.join('\n');
    expect(code, text).toBe(0);

    // Each stage passed, in order.
    const stages = [...text.matchAll(/^ {2}([✔✘]) /gmu)].map((m) => m[1]);
    expect(stages).toEqual(['✔', '✔', '✔', '✔', '✔']);
    // The first version went through the whole life cycle, recorded in the audit trail.
    for (const step of ['VERSION_CREATED', 'TRAINED', 'GATE_APPROVED', 'DEPLOYMENT_STARTED', 'PROMOTED']) {
      expect(text).toMatch(new RegExp(`v1 ${step}`));
    }
    expect(text).toMatch(/200 predictions in 20 requests/);
    // The second candidate was compared with the champion, with a verdict.
    expect(text).toMatch(/v2 validation:auc 0\.\d+ against champion v1 0\.\d+: (promoted|rejected)/);
    // The fault: alarm, incident, rollback, and the champion kept serving.
    expect(text).toMatch(/incident OPEN: mlops-churn-error-rate: Threshold Crossed/);
    expect(text).toMatch(/v3 ROLLED_BACK/);
    expect(text).toMatch(/✔ demo passed/);
  });
});
