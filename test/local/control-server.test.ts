import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Fault } from '../../local/inference/local-endpoint-service';
import { request } from 'node:http';
import {
  CONTROL_TOKEN_HEADER,
  ControlServer,
  controlFetch,
  newControlToken,
  parseFault,
  type OperatorRunner,
} from '../../local/control-server';
import type { LocalAlarmSummary } from '../../local/metrics/local-alarm-service';

const faults = new Map<string, Fault | undefined>();
// Each test starts with no fault injected, whatever ran before it.
beforeEach(() => faults.clear());
const target = {
  endpointUrl: (name: string) => (name === 'mlops-churn' ? 'http://127.0.0.1:1234' : undefined),
  injectFault: (name: string, fault: Fault) => void faults.set(name, fault),
  clearFault: (name: string) => void faults.set(name, undefined),
};
let server: ControlServer;
const TOKEN = newControlToken();
const api = (path: string, init?: RequestInit) =>
  controlFetch({ controlUrl: server.url, controlToken: TOKEN }, path, init);

/** A raw request (fetch sets Host itself): what a DNS-rebound or cross-site page would send. */
function raw(headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${server.url}/endpoints/mlops-churn`, { headers }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += String(chunk)));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  server = await ControlServer.start(target, { token: TOKEN });
});
afterAll(async () => server?.stop());

describe('ControlServer', () => {
  it('listens on 127.0.0.1 only', () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it("answers only this run's token, its own Host, and no other site's page", async () => {
    const port = new URL(server.url).port;
    const own = { host: `127.0.0.1:${port}`, [CONTROL_TOKEN_HEADER]: TOKEN };
    expect((await raw(own)).status).toBe(200);
    expect((await raw({ ...own, host: `localhost:${port}` })).status).toBe(200);
    const missing = await raw({ host: own.host });
    expect(missing.status).toBe(401);
    expect(missing.body).toContain(CONTROL_TOKEN_HEADER);
    expect((await raw({ ...own, [CONTROL_TOKEN_HEADER]: newControlToken() })).status).toBe(401);
    expect((await raw({ ...own, [CONTROL_TOKEN_HEADER]: TOKEN.slice(1) })).status).toBe(401);
    // DNS rebinding: the page's own name resolves to 127.0.0.1; the token does not make it ours.
    const rebound = await raw({ ...own, host: `attacker.example:${port}` });
    expect(rebound.status).toBe(400);
    expect(rebound.body).toContain('attacker.example');
    expect((await raw({ ...own, host: '127.0.0.1:1' })).status).toBe(400);
    // A cross-site page (a fault injection from a browser tab).
    expect((await raw({ ...own, origin: 'https://attacker.example' })).status).toBe(403);
    expect((await raw({ ...own, 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    // Nothing was injected by the refused requests.
    expect(faults.size).toBe(0);
  });

  it('refuses to start with a short token', async () => {
    await expect(ControlServer.start(target, { token: 'short' })).rejects.toThrow('at least 32');
  });

  it('injects and clears a fault on a serving endpoint', async () => {
    const put = await api(`/endpoints/mlops-churn/fault`, {
      method: 'PUT',
      body: JSON.stringify({ errorRate: 1, target: 'new' }),
    });
    expect(put.status).toBe(204);
    expect(faults.get('mlops-churn')).toEqual({ errorRate: 1, target: 'new' });
    const del = await api(`/endpoints/mlops-churn/fault`, { method: 'DELETE' });
    expect(del.status).toBe(204);
    expect(faults.get('mlops-churn')).toBeUndefined();
  });

  it('tells the URL of an endpoint, 404 for one that does not serve', async () => {
    const ok = await api(`/endpoints/mlops-churn`);
    expect(await ok.json()).toEqual({ url: 'http://127.0.0.1:1234' });
    const missing = await api(`/endpoints/mlops-other/fault`, {
      method: 'PUT',
      body: '{"errorRate":1}',
    });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: 'no endpoint mlops-other is serving' });
  });

  it('refuses a bad fault with the field named', async () => {
    const bad = await api(`/endpoints/mlops-churn/fault`, {
      method: 'PUT',
      body: '{"errorRate":2}',
    });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: 'errorRate must be a number from 0 to 1' });
  });
});

describe('parseFault', () => {
  it.each([
    ['not json', 'the body is not JSON'],
    ['[]', 'the body must be a JSON object'],
    ['{}', 'give errorRate, addedLatencyMs or both'],
    ['{"errorRate":0.5,"colour":1}', 'unknown field colour'],
    ['{"addedLatencyMs":-1}', 'addedLatencyMs must be a number from 0 to 60000'],
    ['{"errorRate":1,"target":"blue"}', 'target must be "new" or "all"'],
  ])('%s → %s', (body, message) => {
    expect(parseFault(body)).toBe(message);
  });

  it('accepts latency alone', () => {
    expect(parseFault('{"addedLatencyMs":250,"target":"all"}')).toEqual({
      addedLatencyMs: 250,
      target: 'all',
    });
  });
});

describe('ControlServer: operator commands and alarms', () => {
  let control: ControlServer;
  const commands: Readonly<Record<string, unknown>>[] = [];
  /** A stand-in for the operator function: answers by the command's model. */
  const operator: OperatorRunner = (event) => {
    commands.push(event);
    if (event.model === 'broken') return Promise.reject(new Error('DynamoDB is unreachable'));
    if (event.model === 'nope') {
      return Promise.resolve({ ok: false, error: { code: 'not-found', message: 'no model nope' } });
    }
    if (event.actor === undefined) {
      return Promise.resolve({ ok: false, error: { code: 'malformed', message: 'actor: required' } });
    }
    return Promise.resolve({ ok: true, action: 'approve', model: 'churn', version: 2, message: 'approved' });
  };
  const alarms: LocalAlarmSummary[] = [
    {
      name: 'mlops-churn-error-rate',
      state: 'ALARM',
      reason: 'Threshold Crossed: 3 out of the last 5 datapoints',
      updatedAt: '2025-06-03T11:05:09.415Z',
      threshold: 0.05,
      model: 'churn',
    },
  ];
  const call = (path: string, init?: RequestInit) =>
    controlFetch({ controlUrl: control.url, controlToken: TOKEN }, path, init);
  const post = (body: string) => call('/operator', { method: 'POST', body });
  const approve = { action: 'approve', model: 'churn', version: 2, actor: 'local:ana' };

  beforeAll(async () => {
    control = await ControlServer.start(target, { token: TOKEN, operator, alarms: () => alarms });
  });
  afterAll(async () => control?.stop());
  beforeEach(() => void commands.splice(0));

  it('runs a command through the operator function and answers its result, 200', async () => {
    const answer = await post(JSON.stringify(approve));
    expect(answer.status).toBe(200);
    expect(await answer.json()).toEqual({
      ok: true,
      action: 'approve',
      model: 'churn',
      version: 2,
      message: 'approved',
    });
    expect(commands).toEqual([approve]);
  });

  it('answers a refusal 200 too: the command was understood', async () => {
    const answer = await post(JSON.stringify({ ...approve, model: 'nope' }));
    expect(answer.status).toBe(200);
    expect(await answer.json()).toEqual({
      ok: false,
      error: { code: 'not-found', message: 'no model nope' },
    });
  });

  it('answers 400 for a command the function calls malformed, and for a body that is no object', async () => {
    const refused = await post(JSON.stringify({ action: 'approve', model: 'churn', version: 2 }));
    expect(refused.status).toBe(400);
    expect(await refused.json()).toEqual({
      ok: false,
      error: { code: 'malformed', message: 'actor: required' },
    });
    for (const [body, message] of [
      ['{"action":', 'the body is not JSON'],
      ['["approve"]', 'the body must be a JSON object'],
    ]) {
      const answer = await post(body as string);
      expect(answer.status).toBe(400);
      expect(await answer.json()).toEqual({ ok: false, error: { code: 'malformed', message } });
    }
    expect(commands).toHaveLength(1); // the two bodies never reached the function
  });

  it('answers 500, still an OperatorResult, when the function fails', async () => {
    const answer = await post(JSON.stringify({ ...approve, model: 'broken' }));
    expect(answer.status).toBe(500);
    expect(await answer.json()).toEqual({
      ok: false,
      error: { code: 'failed', message: 'the operator function failed: Error: DynamoDB is unreachable' },
    });
  });

  it('refuses another method, a body over 16 KiB, and a request without the token', async () => {
    expect((await call('/operator')).status).toBe(405);
    const large = await post(JSON.stringify({ ...approve, note: 'x'.repeat(17 * 1024) }));
    expect(large.status).toBe(413);
    const anonymous = await fetch(`${control.url}/operator`, {
      method: 'POST',
      body: JSON.stringify(approve),
    });
    expect(anonymous.status).toBe(401);
    expect((await fetch(`${control.url}/alarms`)).status).toBe(401);
    expect(commands).toEqual([]);
  });

  it('lists the alarms as they are now', async () => {
    const answer = await call('/alarms');
    expect(answer.status).toBe(200);
    expect(await answer.json()).toEqual({ alarms });
    alarms.push({
      name: 'mlops-churn-feature-drift',
      state: 'OK',
      reason: 'fine',
      updatedAt: '2025-06-03T12:00:00.000Z',
    });
    const later = (await (await call('/alarms')).json()) as { alarms: LocalAlarmSummary[] };
    expect(later.alarms.map((alarm) => alarm.name)).toEqual([
      'mlops-churn-error-rate',
      'mlops-churn-feature-drift',
    ]);
    expect((await call('/alarms', { method: 'POST' })).status).toBe(405);
  });

  it('answers 404 where the local cloud gave it no operator or alarms', async () => {
    const operatorless = await api('/operator', { method: 'POST', body: JSON.stringify(approve) });
    expect(operatorless.status).toBe(404);
    expect((await api('/alarms')).status).toBe(404);
  });
});
