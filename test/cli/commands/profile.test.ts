import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CliIo } from '../../../cli/command';
import { COMMANDS } from '../../../cli/commands/index';
import { runCli } from '../../../cli/main';

const dir = mkdtempSync(join(tmpdir(), 'mlops-profile-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function io(): CliIo & { stdout: string; stderr: string } {
  const captured = {
    stdout: '',
    stderr: '',
    out: (t: string) => void (captured.stdout += `${t}\n`),
    err: (t: string) => void (captured.stderr += `${t}\n`),
  };
  return captured;
}

function write(name: string, rows: string[]): string {
  const path = join(dir, name);
  writeFileSync(path, `${rows.join('\n')}\n`);
  return path;
}

const base = write('base.csv', [
  'x,city',
  ...Array.from({ length: 500 }, (_, i) => `${i % 100},${['a', 'b'][i % 2]}`),
]);
const drifted = write('drifted.csv', [
  'x,city',
  ...Array.from({ length: 500 }, (_, i) => `${(i % 100) + 60},${['a', 'c'][i % 2]}`),
]);

describe('mlops profile', () => {
  it('is registered', () => {
    expect(COMMANDS.map((c) => c.name)).toContain('profile');
  });

  it('prints a table per column', async () => {
    const out = io();
    expect(await runCli(['profile', base], out)).toBe(0);
    expect(out.stdout).toContain('500 rows, 2 columns');
    expect(out.stdout).toMatch(
      /column\s+type\s+present\s+missing\s+mean\s+std\s+min\s+p50\s+max\s+distinct\s+top values/,
    );
    expect(out.stdout).toMatch(/x\s+Integral\s+500\s+0\s+49\.5\s/);
    expect(out.stdout).toMatch(/city\s+String\s+500\s+0\s.*a \(250\), b \(250\)/);
  });

  it('--json prints statistics.json; --baseline shows drift and violations (exit 1)', async () => {
    const out = io();
    expect(await runCli(['profile', base, '--json'], out)).toBe(0);
    const stats = JSON.parse(out.stdout) as { version: number; features: { name: string }[] };
    expect(stats.version).toBe(0);
    expect(stats.features.map((f) => f.name)).toEqual(['x', 'city']);
    const baseline = join(dir, 'statistics.json');
    writeFileSync(baseline, out.stdout);

    const same = io();
    expect(await runCli(['profile', base, '--baseline', baseline], same)).toBe(0);
    expect(same.stdout).toContain('Constraint violations: none');

    const check = io();
    expect(await runCli(['profile', drifted, '--baseline', baseline], check)).toBe(1);
    expect(check.stdout).toMatch(/x\s+numeric\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+DRIFT/);
    expect(check.stdout).toMatch(/city\s+categorical.*DRIFT/);
    expect(check.stdout).toContain('categorical_values_check  city');
    expect(check.stdout).toContain('baseline_drift_check  x');

    const json = io();
    await runCli(['profile', drifted, '--baseline', baseline, '--json'], json);
    const parsed = JSON.parse(json.stdout) as {
      drift: { drifted: string[] };
      constraint_violations: { violations: unknown[] };
    };
    expect(parsed.drift.drifted).toEqual(['x', 'city']);
    expect(parsed.constraint_violations.violations.length).toBeGreaterThan(0);
  });

  it('reports unreadable input and usage mistakes', async () => {
    const bad = io();
    expect(await runCli(['profile', write('bad.csv', ['a,b', '1'])], bad)).toBe(1);
    expect(bad.stderr).toContain('line 2: 1 field, but the header has 2 columns');
    const missing = io();
    expect(await runCli(['profile', join(dir, 'nope.csv')], missing)).toBe(1);
    const usage = io();
    expect(await runCli(['profile'], usage)).toBe(2);
    expect(usage.stderr).toContain('which file?');
  });
});
