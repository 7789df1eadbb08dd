/**
 * On-demand drift monitoring against a running local cloud: the control API's `POST /monitor` and
 * the `mlops monitor` command that calls it.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MonitorOutcome } from '../../../core/use-cases/monitor-drift';
import { monitorCommand, describeMonitorOutcome } from '../../../cli/commands/monitor';
import { ControlServer, controlFetch, newControlToken } from '../../../local/control-server';

const outcome: MonitorOutcome = {
  kind: 'monitored',
  window: { start: '2025-06-03T11:10:00.000Z', end: '2025-06-03T12:10:00.000Z', id: 'w' },
  models: [
    {
      kind: 'published',
      model: 'churn',
      version: 2,
      figures: {
        featureDriftMax: 0.61,
        predictionDrift: 0.35,
        meanPredictionShift: 0.2,
        capturedRecords: 600,
      },
      drifted: ['tenure_months'],
      malformed: 0,
    },
    {
      kind: 'skipped',
      model: 'fraud',
      version: 1,
      why: '3 captured record(s) in the window; at least 100 are needed',
    },
  ],
};

const requests: Record<string, unknown>[] = [];
const TOKEN = newControlToken();
const api = (control: ControlServer, path: string, init?: RequestInit) =>
  controlFetch({ controlUrl: control.url, controlToken: TOKEN }, path, init);
const target = { endpointUrl: () => undefined, injectFault() {}, clearFault() {} };
let server: ControlServer;
let bare: ControlServer;
let dir: string;

beforeAll(async () => {
  server = await ControlServer.start(target, {
    token: TOKEN,
    monitor: (request) => {
      requests.push(request);
      return Promise.resolve(request.model === 'Bad' ? { kind: 'malformed' } : outcome);
    },
  });
  bare = await ControlServer.start(target, { token: TOKEN });
  dir = await mkdtemp(join(tmpdir(), 'mlops-monitor-cli-'));
  await writeFile(
    join(dir, 'env.json'),
    JSON.stringify({
      pid: process.pid,
      controlUrl: server.url,
      controlToken: TOKEN,
      startedAt: new Date().toISOString(),
    }),
  );
});
afterAll(async () => {
  await server?.stop();
  await bare?.stop();
  await rm(dir, { recursive: true, force: true });
});

function io() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (t: string) => void out.push(t), err: (t: string) => void err.push(t) } };
}

describe('POST /monitor', () => {
  it('runs the monitor with the request and answers its outcome', async () => {
    const response = await api(server, `/monitor`, { method: 'POST', body: '{"model":"churn"}' });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual(outcome);
    expect(requests.at(-1)).toEqual({ model: 'churn' });
  });

  it('answers 400 for a malformed request or body, 405 for another method, 404 without a monitor', async () => {
    expect((await api(server, `/monitor`, { method: 'POST', body: '{"model":"Bad"}' })).status).toBe(400);
    expect((await api(server, `/monitor`, { method: 'POST', body: 'nope' })).status).toBe(400);
    expect((await api(server, `/monitor`, { method: 'POST', body: '[1]' })).status).toBe(400);
    expect((await api(server, `/monitor`)).status).toBe(405);
    expect((await api(bare, `/monitor`, { method: 'POST' })).status).toBe(404);
  });
});

describe('mlops monitor', () => {
  it('prints each model’s drift from the running local cloud', async () => {
    const { out, io: cli } = io();
    expect(await monitorCommand.run(['--dir', dir, '--model', 'churn', '--window-minutes', '30'], cli)).toBe(
      0,
    );
    expect(requests.at(-1)).toEqual({ model: 'churn', windowMinutes: 30 });
    expect(out.join('\n')).toBe(describeMonitorOutcome(outcome));
    expect(describeMonitorOutcome(outcome)).toBe(
      [
        'window 2025-06-03T11:10:00.000Z .. 2025-06-03T12:10:00.000Z',
        '  churn v2: FeatureDriftMax 0.610  PredictionDrift 0.350  MeanPredictionShift 0.200  records 600  drifted: tenure_months',
        '  fraud v1: skipped, 3 captured record(s) in the window; at least 100 are needed',
      ].join('\n'),
    );
  });

  it('prints JSON with --json', async () => {
    const { out, io: cli } = io();
    expect(await monitorCommand.run(['--dir', dir, '--json'], cli)).toBe(0);
    expect(JSON.parse(out.join(''))).toEqual(outcome);
  });

  it('says so when no local cloud is running, and refuses bad options', async () => {
    const { err, io: cli } = io();
    expect(await monitorCommand.run(['--dir', join(dir, 'none')], cli)).toBe(1);
    expect(err.join('')).toMatch(/no local cloud is running/);
    await expect(monitorCommand.run(['--window-minutes', '0'], cli)).rejects.toThrow(/--window-minutes/);
    await expect(monitorCommand.run(['extra'], cli)).rejects.toThrow(/unexpected argument/);
  });

  it('passes the monitor’s refusal on with exit code 2', async () => {
    const { err, io: cli } = io();
    expect(await monitorCommand.run(['--dir', dir, '--model', 'Bad'], cli)).toBe(2);
    expect(err.join('')).toMatch(/HTTP 400/);
  });
});
