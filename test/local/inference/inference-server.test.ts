import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoadedModel } from '../../../local/contracts';
import {
  InferenceServer,
  SAGEMAKER_MAX_PAYLOAD_BYTES,
  type InvocationRecord,
} from '../../../local/inference/inference-server';
import { InvalidPayloadError, parseCsvRows, parseJsonRows } from '../../../local/inference/payload';

const model: LoadedModel = {
  featureCount: 3,
  predict: (rows) => rows.map((r) => ((r[0] ?? 0) > 0.5 ? 1 : 0)),
};

describe('payload parsing', () => {
  it('reads CSV rows, blank lines skipped, empty fields and nan missing', () => {
    expect(parseCsvRows('1,2,3\n\n0.5,,nan\r\n', 3)).toEqual([
      [1, 2, 3],
      [0.5, null, null],
    ]);
  });

  it('names the row with the wrong field count or a non-numeric value', () => {
    expect(() => parseCsvRows('1,2,3\n1,2', 3)).toThrow(/row 2 has 2 fields; the model expects 3/);
    expect(() => parseCsvRows('1,2,3\n1,2,3\n1,x,3', 3)).toThrow(/row 3, column 2: "x" is not a number/);
    expect(() => parseCsvRows('\n', 3)).toThrow(InvalidPayloadError);
  });

  it('reads the JSON shapes: instances, instances of features, array of rows, one flat row', () => {
    expect(parseJsonRows('{"instances":[[1,2,3],[4,null,"6"]]}', 3)).toEqual([
      [1, 2, 3],
      [4, null, 6],
    ]);
    expect(parseJsonRows('{"instances":[{"features":[1,2,3]}]}', 3)).toEqual([[1, 2, 3]]);
    expect(parseJsonRows('[[1,2,3]]', 3)).toEqual([[1, 2, 3]]);
    expect(parseJsonRows('[1,2,3]', 3)).toEqual([[1, 2, 3]]);
    expect(() => parseJsonRows('{"instances":[[1,2,3],[1,true,3]]}', 3)).toThrow(/row 2, column 2/);
    expect(() => parseJsonRows('{"instances":[[1,2]]}', 3)).toThrow(/row 1 has 2 values/);
    expect(() => parseJsonRows('{oops', 3)).toThrow(/not valid JSON/);
  });
});

describe('InferenceServer (SageMaker container contract)', () => {
  let server: InferenceServer;
  const captured: InvocationRecord[] = [];

  beforeAll(async () => {
    server = await InferenceServer.start({ model, onInvocation: (r) => captured.push(r) });
  });
  afterAll(async () => {
    await server.stop();
  });

  const invoke = (body: string | Buffer, contentType = 'text/csv', accept?: string) =>
    fetch(`${server.url}/invocations`, {
      method: 'POST',
      headers: { 'content-type': contentType, ...(accept ? { accept } : {}) },
      body,
    });

  it('listens on 127.0.0.1 on an ephemeral port and answers GET /ping with 200', async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const res = await fetch(`${server.url}/ping`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('');
  });

  it('answers CSV rows with one prediction per line', async () => {
    const res = await invoke('0.9,1,2\n0.1,1,2\n,1,2\n');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/csv');
    expect(await res.text()).toBe('1\n0\n0');
  });

  it('answers JSON when Accept asks for it', async () => {
    const res = await invoke('0.9,1,2', 'text/csv', 'application/json');
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(await res.json()).toEqual({ predictions: [1] });
  });

  it('reads JSON instances and answers JSON by default', async () => {
    const res = await invoke(
      JSON.stringify({
        instances: [
          [0.9, 1, 2],
          [0.2, null, 2],
        ],
      }),
      'application/json',
    );
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ predictions: [1, 0] });
    const csv = await invoke('[[0.9,1,2]]', 'application/json; charset=utf-8', 'text/csv');
    expect(await csv.text()).toBe('1');
  });

  it('answers 400 naming the bad row', async () => {
    const res = await invoke('0.9,1,2\n0.1,1');
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/row 2 has 2 fields/);
    const nonNumeric = await invoke('0.9,1,2\n0.9,1,2\n0.1,abc,3');
    expect(nonNumeric.status).toBe(400);
    expect(await nonNumeric.text()).toMatch(/row 3, column 2: "abc" is not a number/);
  });

  it('answers 413 above 6 MB, 415 for other content types, 404/405 elsewhere', async () => {
    const big = Buffer.alloc(SAGEMAKER_MAX_PAYLOAD_BYTES + 1, 0x31);
    const tooLarge = await invoke(big);
    expect(tooLarge.status).toBe(413);
    expect((await invoke('x', 'application/x-protobuf')).status).toBe(415);
    expect((await fetch(`${server.url}/nope`)).status).toBe(404);
    expect((await fetch(`${server.url}/invocations`)).status).toBe(405);
  });

  it('reports each successful invocation (for data capture)', async () => {
    captured.length = 0;
    await invoke('0.9,1,2');
    await invoke('bad');
    expect(captured).toHaveLength(1);
    expect(captured[0]!.requestBody.toString()).toBe('0.9,1,2');
    expect(captured[0]!.responseBody.toString()).toBe('1');
    expect(captured[0]!.requestContentType).toBe('text/csv');
  });

  it('answers 500 when the model fails, and /ping fails for a model that cannot predict', async () => {
    const broken = await InferenceServer.start({
      model: {
        featureCount: 1,
        predict: () => {
          throw new Error('boom');
        },
      },
    });
    try {
      const res = await fetch(`${broken.url}/invocations`, {
        method: 'POST',
        headers: { 'content-type': 'text/csv' },
        body: '1',
      });
      expect(res.status).toBe(500);
      const ping = await fetch(`${broken.url}/ping`);
      expect(ping.status).toBe(500);
      expect(await ping.text()).toMatch(/boom/);
    } finally {
      await broken.stop();
    }
  });

  it('stops cleanly with keep-alive connections open', async () => {
    const other = await InferenceServer.start({ model });
    await fetch(`${other.url}/ping`, { keepalive: true });
    const started = Date.now();
    await other.stop();
    expect(Date.now() - started).toBeLessThan(1000);
    await expect(fetch(`${other.url}/ping`)).rejects.toThrow();
  });
});
