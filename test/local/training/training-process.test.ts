import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  isProcessAlive,
  startTrainingProcess,
  terminateProcess,
  type Command,
} from '../../../local/training/training-process';

/** A log that keeps what is written. */
function memoryLog(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return { stream, text: () => chunks.join('') };
}

const node = (code: string): Command => ({
  command: process.execPath,
  args: ['-e', code],
  cwd: process.cwd(),
  env: { PATH: process.env.PATH ?? '' },
});

describe('startTrainingProcess', () => {
  it('logs every line with tabs as #011, passes lines on and keeps the stderr tail', async () => {
    const log = memoryLog();
    const lines: [string, string][] = [];
    const run = startTrainingProcess(
      node(
        "process.stdout.write('[0]\\ttrain-auc:0.5\\r\\nlast without newline');" +
          "for (let i = 1; i <= 12; i++) console.error('err ' + i); process.exitCode = 3;",
      ),
      log.stream,
      (shown, raw) => lines.push([shown, raw]),
    );
    expect(run.child?.pid).toBeGreaterThan(0);
    const exit = await run.exit;
    expect(exit.code).toBe(3);
    expect(exit.signal).toBeNull();
    // The last ten non-empty stderr lines.
    expect(exit.stderrTail).toBe(Array.from({ length: 10 }, (_, i) => `err ${i + 3}`).join(' | '));
    expect(lines).toContainEqual(['[0]#011train-auc:0.5', '[0]\ttrain-auc:0.5']);
    expect(lines).toContainEqual(['last without newline', 'last without newline']);
    expect(log.text()).toContain('[0]#011train-auc:0.5\n');
    expect(log.text()).toContain('err 1\n');
    expect(log.text().split('\n')).toHaveLength(15); // 2 stdout + 12 stderr lines, each ended by \n
  });

  it('cuts the stderr tail to its last 800 characters', async () => {
    const exit = await startTrainingProcess(
      node("console.error('x'.repeat(2000)); process.exit(1)"),
      memoryLog().stream,
    ).exit;
    expect(exit.stderrTail).toBe('x'.repeat(800));
  });

  it('reports a command that cannot start as exit 127', async () => {
    const exit = await startTrainingProcess(
      { command: '/no/such/interpreter', args: [], cwd: process.cwd(), env: {} },
      memoryLog().stream,
    ).exit;
    expect(exit.code).toBe(127);
    expect(exit.stderrTail).toMatch(/^cannot start \/no\/such\/interpreter: .*ENOENT/);
  });
});

describe('terminateProcess', () => {
  it('stops the whole process group with SIGTERM', { timeout: 10_000 }, async () => {
    // The grandchild shares the child's stdout: the run only ends once it is gone too (else after 60 s).
    const grandchild = "setTimeout(() => {}, 60000); console.log('grandchild ready')";
    const run = startTrainingProcess(
      node(
        `require('node:child_process').spawn(process.execPath, ['-e', ${JSON.stringify(grandchild)}], { stdio: 'inherit' });` +
          'setTimeout(() => {}, 60000);',
      ),
      memoryLog().stream,
      (line) => {
        if (line === 'grandchild ready') terminateProcess(run.child, 5_000);
      },
    );
    const started = Date.now();
    const exit = await run.exit;
    expect(exit.signal).toBe('SIGTERM');
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('kills a process that ignores SIGTERM once the grace is over', async () => {
    const run = startTrainingProcess(
      node(
        "process.on('SIGTERM', () => console.log('ignored')); console.log('ready'); setTimeout(() => {}, 60000);",
      ),
      memoryLog().stream,
      (line) => {
        if (line === 'ready') terminateProcess(run.child, 200);
      },
    );
    const exit = await run.exit;
    expect(exit.signal).toBe('SIGKILL');
  });

  it('does nothing to a process that has ended', async () => {
    const run = startTrainingProcess(node(''), memoryLog().stream);
    await run.exit;
    expect(() => terminateProcess(run.child, 10)).not.toThrow();
    expect(() => terminateProcess(undefined, 10)).not.toThrow();
  });
});

describe('isProcessAlive', () => {
  it('knows this process, and not one that has exited', async () => {
    expect(isProcessAlive(process.pid)).toBe(true);
    const run = startTrainingProcess(node(''), memoryLog().stream);
    const pid = run.child!.pid!;
    await run.exit;
    expect(isProcessAlive(pid)).toBe(false);
  });
});
