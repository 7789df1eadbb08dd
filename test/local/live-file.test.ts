import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LiveFile, writeFileAtomically } from '../../local/live-file';
import { until } from '../support/until';

const dir = mkdtempSync(join(tmpdir(), 'live-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const fresh = () => join(dir, `file-${++n}.json`);

/** A LiveFile over a counter, counting how often it was rendered (one render per write). */
function counter(file: string, delayMs = 30) {
  let value = 0;
  let renders = 0;
  const errors: unknown[] = [];
  const live = new LiveFile(
    file,
    () => {
      renders++;
      return JSON.stringify({ value });
    },
    { delayMs, onError: (error) => errors.push(error) },
  );
  return {
    live,
    errors,
    set: (next: number) => {
      value = next;
      live.changed();
    },
    renders: () => renders,
    onDisk: () => (JSON.parse(readFileSync(file, 'utf8')) as { value: number }).value,
  };
}

describe('LiveFile', () => {
  it('writes a burst of changes once, without a flush, within its delay', async () => {
    const file = fresh();
    const c = counter(file);
    for (let i = 1; i <= 1000; i++) c.set(i);
    expect(existsSync(file)).toBe(false); // not yet: the burst is coalesced
    await until('the file', () => Promise.resolve(existsSync(file) ? true : undefined), 2000, 5);
    expect(c.onDisk()).toBe(1000);
    expect(c.renders()).toBe(1);
    await c.live.close();
    expect(c.renders()).toBe(1); // nothing was pending
  });

  it('writes changes made during a write in the write after it', async () => {
    const file = fresh();
    let value = 0;
    let renders = 0;
    const live = new LiveFile(
      file,
      () => {
        renders++;
        // A change while this write is under way (after render, before the rename).
        if (renders === 1) {
          queueMicrotask(() => {
            value = 2;
            live.changed();
          });
        }
        return JSON.stringify({ value });
      },
      { delayMs: 10 },
    );
    value = 1;
    live.changed();
    await until('the second write', () => Promise.resolve(renders === 2 ? true : undefined), 2000, 5);
    await live.close();
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ value: 2 });
    expect(renders).toBe(2);
  });

  it('flush writes what is pending now; close takes no more changes', async () => {
    const file = fresh();
    const c = counter(file, 60_000);
    c.set(7);
    await c.live.flush();
    expect(c.onDisk()).toBe(7);
    c.set(8);
    // Two flushes at once write once, never two writes on the one temporary file.
    await Promise.all([c.live.flush(), c.live.flush()]);
    expect(c.onDisk()).toBe(8);
    expect(c.renders()).toBe(2);
    await c.live.close();
    c.set(9);
    await c.live.flush();
    expect(c.onDisk()).toBe(8);
    expect(c.renders()).toBe(2);
  });

  it('reports a write that fails and writes it at the next flush', async () => {
    const blocked = join(dir, 'not-a-folder');
    writeFileSync(blocked, 'a file where the folder should be');
    const file = join(blocked, 'x.json');
    const c = counter(file, 60_000);
    c.set(1);
    await c.live.flush();
    expect(c.errors).toHaveLength(1);
    rmSync(blocked);
    await c.live.flush();
    expect(c.onDisk()).toBe(1);
    await c.live.close();
  });
});

describe('writeFileAtomically', () => {
  it('replaces the file whole and leaves no temporary file', async () => {
    const sub = join(dir, 'atomic');
    const file = join(sub, 'state.json');
    await writeFileAtomically(file, 'one');
    await writeFileAtomically(file, 'two');
    expect(readFileSync(file, 'utf8')).toBe('two');
    expect(readdirSync(sub)).toEqual(['state.json']);
  });
});
