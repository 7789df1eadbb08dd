/**
 * FrontServer: a fleet taken out of the route is drained before it is stopped, so a request
 * already sent to it is answered rather than cut to a 500 (the flake "a local endpoint answering
 * 500" under load was a rollback stopping the green fleet under a request routed to it).
 */
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { FrontServer } from '../../../local/inference/front-server';

const servers: Server[] = [];
const fronts: FrontServer[] = [];
afterEach(async () => {
  await Promise.all(fronts.splice(0).map((f) => f.stop()));
  for (const s of servers.splice(0)) s.closeAllConnections();
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
});

/** A fleet answering `answer` after `delayMs`; `stop()` cuts every connection, as a killed process does. */
async function fleet(answer: string, delayMs: number) {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => setTimeout(() => res.end(answer), delayMs));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    target: { url, variantName: answer },
    stop: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

const invoke = async (front: FrontServer) => {
  const response = await fetch(`${front.url}/invocations`, { method: 'POST', body: '1,2' });
  return { status: response.status, text: await response.text() };
};

describe('FrontServer draining', () => {
  it('drained() waits for the requests already routed to a fleet; stopping it then cuts nothing', async () => {
    const front = await FrontServer.start({ endpointName: 'ep', metrics: { put: () => {} } });
    fronts.push(front);
    const blue = await fleet('blue', 0);
    const green = await fleet('green', 300);
    front.route(blue.target, green.target, 1);

    const routedToGreen = invoke(front);
    await new Promise((resolve) => setTimeout(resolve, 50)); // the request is at the green fleet
    front.route(blue.target); // rollback: all traffic back to blue
    let drained = false;
    const draining = front.drained(green.target).then(() => (drained = true));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(drained).toBe(false); // green still owes an answer
    await draining;
    await green.stop();

    expect(await routedToGreen).toEqual({ status: 200, text: 'green' });
    expect(await invoke(front)).toEqual({ status: 200, text: 'blue' });
    await expect(front.drained(blue.target)).resolves.toBeUndefined(); // nothing in flight
  });

  it('does not wait for a fleet that never answers longer than the timeout', async () => {
    const front = await FrontServer.start({ endpointName: 'ep', metrics: { put: () => {} } });
    fronts.push(front);
    const stuck = await fleet('stuck', 60_000);
    front.route(stuck.target);
    void invoke(front).catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await expect(front.drained(stuck.target, 100)).resolves.toBeUndefined();
  });
});

describe('FrontServer callers', () => {
  /** A raw invocation (fetch sets Host itself). */
  const rawInvoke = (front: FrontServer, headers: Record<string, string>) =>
    new Promise<number>((resolve, reject) => {
      const req = request(`${front.url}/invocations`, { method: 'POST', headers }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end('1,2');
    });

  it('serves any local client, as SageMaker serves any caller, but no DNS-rebound or cross-site page', async () => {
    const front = await FrontServer.start({ endpointName: 'ep', metrics: { put: () => {} } });
    fronts.push(front);
    front.route((await fleet('blue', 0)).target);
    const port = front.port;
    expect(await rawInvoke(front, { host: `127.0.0.1:${port}` })).toBe(200);
    expect(await rawInvoke(front, { host: `localhost:${port}` })).toBe(200);
    expect(await rawInvoke(front, { host: `attacker.example:${port}` })).toBe(400);
    expect(await rawInvoke(front, { host: `127.0.0.1:${port}`, origin: 'https://attacker.example' })).toBe(
      403,
    );
    expect(await rawInvoke(front, { host: `127.0.0.1:${port}`, origin: `http://127.0.0.1:${port}` })).toBe(
      200,
    );
  });
});
