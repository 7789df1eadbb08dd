import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Fault } from '../../adapters/local/local-endpoint-service';
import { ControlServer, parseFault } from '../../local/control-server';

const faults = new Map<string, Fault | undefined>();
const target = {
  endpointUrl: (name: string) => (name === 'mlops-churn' ? 'http://127.0.0.1:1234' : undefined),
  injectFault: (name: string, fault: Fault) => void faults.set(name, fault),
  clearFault: (name: string) => void faults.set(name, undefined),
};
let server: ControlServer;

beforeAll(async () => {
  server = await ControlServer.start(target);
});
afterAll(async () => server?.stop());

describe('ControlServer', () => {
  it('listens on 127.0.0.1 only', () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('injects and clears a fault on a serving endpoint', async () => {
    const put = await fetch(`${server.url}/endpoints/mlops-churn/fault`, {
      method: 'PUT',
      body: JSON.stringify({ errorRate: 1, target: 'new' }),
    });
    expect(put.status).toBe(204);
    expect(faults.get('mlops-churn')).toEqual({ errorRate: 1, target: 'new' });
    const del = await fetch(`${server.url}/endpoints/mlops-churn/fault`, { method: 'DELETE' });
    expect(del.status).toBe(204);
    expect(faults.get('mlops-churn')).toBeUndefined();
  });

  it('tells the URL of an endpoint, 404 for one that does not serve', async () => {
    const ok = await fetch(`${server.url}/endpoints/mlops-churn`);
    expect(await ok.json()).toEqual({ url: 'http://127.0.0.1:1234' });
    const missing = await fetch(`${server.url}/endpoints/mlops-other/fault`, {
      method: 'PUT',
      body: '{"errorRate":1}',
    });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: 'no endpoint mlops-other is serving' });
  });

  it('refuses a bad fault with the field named', async () => {
    const bad = await fetch(`${server.url}/endpoints/mlops-churn/fault`, {
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
