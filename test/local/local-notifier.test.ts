import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { LocalNotifier } from '../../local/local-notifier';
import type { Notification } from '../../core/ports/monitoring';

const dir = mkdtempSync(join(tmpdir(), 'notifier-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const opened: Notification = {
  kind: 'incident-opened',
  model: 'churn',
  subject: 'churn: mlops-churn-error-rate in ALARM',
  message: 'Incident opened for churn (v3 in production).\nThreshold Crossed: ...',
};
const resolved: Notification = {
  kind: 'incident-resolved',
  model: 'churn',
  subject: 'churn: OK again',
  message: 'Incident resolved.',
};

describe('LocalNotifier', () => {
  it('appends one JSON line per notification, with the time, in order', async () => {
    const file = join(dir, 'outbox', 'notifications.jsonl');
    const times = ['2025-06-03T11:05:10.000Z', '2025-06-03T11:09:00.000Z'];
    const notifier = new LocalNotifier({ file, now: () => new Date(times.shift() as string) });
    await Promise.all([notifier.notify(opened), notifier.notify(resolved)]);

    const lines = readFileSync(file, 'utf8')
      .trimEnd()
      .split('\n')
      .map((line): unknown => JSON.parse(line));
    expect(lines).toEqual([
      { time: '2025-06-03T11:05:10.000Z', ...opened },
      { time: '2025-06-03T11:09:00.000Z', ...resolved },
    ]);
    expect(notifier.messages()).toEqual(lines);
  });

  it('prints each line when asked, and works without a file', async () => {
    const printed: string[] = [];
    const notifier = new LocalNotifier({ print: (line) => printed.push(line) });
    await notifier.notify(opened);
    expect(printed).toHaveLength(1);
    expect(JSON.parse(printed[0] as string)).toMatchObject(opened);
    expect(notifier.messages()).toHaveLength(1);

    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    await new LocalNotifier({ print: true }).notify(resolved);
    expect(log).toHaveBeenCalledWith(expect.stringContaining('"kind":"incident-resolved"'));
    log.mockRestore();
  });

  it('fails the call whose write fails, not the next ones', async () => {
    const blocker = join(dir, 'a-file');
    await new LocalNotifier({ file: blocker }).notify(opened);
    const broken = new LocalNotifier({ file: join(blocker, 'cannot', 'be', 'a', 'folder.jsonl') });
    await expect(broken.notify(opened)).rejects.toThrow();
    expect(broken.messages()).toHaveLength(1); // kept in memory all the same
  });
});
