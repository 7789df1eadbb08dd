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
import { demoCommand, demoResultJson } from '../../../cli/commands/demo';

let dir: string | undefined;
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('mlops demo', () => {
  it('runs every stage and exits 0', { timeout: 300_000 }, async () => {
    dir = await mkdtemp(join(tmpdir(), 'mlops-demo-'));
    const out: string[] = [];
    const err: string[] = [];
    const code = await demoCommand.run(['--dir', join(dir, 'cloud'), '--time-scale', '60', '--json'], {
      out: (text) => out.push(text),
      err: (text) => err.push(text),
    });
    // With --json the commentary goes to stderr and stdout holds the outcome alone.
    const text = err.join('\n');
    expect(code, text).toBe(0);
    const json = JSON.parse(out.join('\n')) as ReturnType<typeof demoResultJson>;
    expect(json).toMatchObject({ ok: true, model: 'churn' });
    expect(json.stages).toHaveLength(5);
    for (const stage of json.stages)
      expect(Object.keys(stage).sort()).toEqual(['detail', 'name', 'ok', 'seconds']);
    expect(json.stages.every((stage) => stage.ok)).toBe(true);
    expect(json.versions.map((v) => [v.version, v.status])).toContainEqual([3, 'ROLLED_BACK']);
    expect(json.versions.find((v) => v.status === 'PRODUCTION')?.metrics['validation:auc']).toBeGreaterThan(
      0.5,
    );

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
    // The data-quality gate: the first dataset becomes the baseline; the second (a new market) is
    // checked against it, its drift shown per column, and the policy's decision printed.
    expect(text).toMatch(
      /data quality: no baseline yet; this dataset becomes the baseline \(decision: accepted\)/,
    );
    expect(text).toMatch(
      /data quality against [a-z0-9-]+ \((the first accepted dataset|the champion's training data)\)/,
    );
    const drift = [
      ...text.matchAll(/^ +drift (\S+) +(KS|L∞) (\d\.\d{3}) +(?:PSI +(\d+\.\d{3}))? +(DRIFTED|ok)$/gmu),
    ];
    const second = drift.slice(0, 8); // the second dataset's columns (seven features and the label)
    expect(second.map((m) => m[1])).toEqual([
      'tenure_months',
      'monthly_charges',
      'contract_months',
      'support_calls',
      'data_gb',
      'late_payments',
      'age',
      'churned',
    ]);
    const byColumn = new Map(second.map((m) => [m[1], m]));
    for (const column of ['tenure_months', 'monthly_charges']) {
      expect(byColumn.get(column)![5], column).toBe('DRIFTED');
      expect(Number(byColumn.get(column)![3])).toBeGreaterThan(0.1);
    }
    for (const column of ['contract_months', 'support_calls', 'age'])
      expect(byColumn.get(column)![5], column).toBe('ok');
    expect(text).toMatch(
      /data quality decision: accepted-with-drift: .*drift in .*tenure_months.*training goes on \(dataQuality\.blockOnDrift is off\)/,
    );
    // The fault: alarm, incident, rollback, and the champion kept serving.
    expect(text).toMatch(/incident OPEN: mlops-churn-error-rate: Threshold Crossed/);
    expect(text).toMatch(/v3 ROLLED_BACK/);
    expect(text).toMatch(/✔ demo passed/);
  });
});
