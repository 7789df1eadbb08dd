/**
 * The local cloud's control API: what a person, the demo or the `mlops` CLI can ask of a running
 * local cloud: what AWS has no API for (fault injection into a local endpoint), and what in AWS
 * goes through an API the local cloud does not serve (invoking the operator function, reading the
 * alarms). Where this stands: local runtime; listens on 127.0.0.1 only, on a free port written to
 * `env.json` as `controlUrl`.
 *
 * Only the user's own tools may drive it: every request must carry this run's token (`env.json`'s
 * `controlToken`, a file only the user can read) in the {@link CONTROL_TOKEN_HEADER} header, and a
 * Host other than the listener's own or a web page's cross-site request is refused before that
 * (local/services/loopback-request.ts). {@link controlFetch} is the client side.
 *
 *   PUT    /endpoints/<name>/fault   {"errorRate":1,"addedLatencyMs":0,"target":"new"|"all"}
 *   DELETE /endpoints/<name>/fault
 *   GET    /endpoints/<name>         {"url": "..."} or 404
 *   POST   /monitor                  {"model":"<name>","windowMinutes":60} (both optional): runs the
 *                                    drift monitor now, answers its outcome (400 when malformed)
 *   POST   /operator                 an OperatorCommand (core/domain/operator-commands.ts): runs the
 *                                    operator function as `aws lambda invoke` would; answers its
 *                                    OperatorResult, 200 whether ok or not, 400 when malformed
 *   GET    /alarms                   {"alarms":[{name,state,reason,updatedAt,threshold?,model?}]}:
 *                                    every alarm and its state now (DescribeAlarms)
 *   POST   /dead-letters/redrive     see local/dead-letters.ts
 *
 * A body is JSON of at most 16 KiB (413 beyond).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { OperatorResult } from '../core/domain/operator-commands';
import type { Fault } from './inference/local-endpoint-service';
import { DEAD_LETTER_REDRIVE_ROUTE, type DeadLetterRoutes } from './dead-letters';
import { foreignRequest } from './services/loopback-request';
import { parseBodyFields } from './json-body';
import type { LocalAlarmSummary } from './metrics/local-alarm-service';

/** The header carrying the control token. */
export const CONTROL_TOKEN_HEADER = 'x-mlops-control-token';

/** A fresh per-run control token (256 random bits, hex). */
export function newControlToken(): string {
  return randomBytes(32).toString('hex');
}

/** Where a running control API is, and its token (both in `env.json`). */
export interface ControlAccess {
  readonly controlUrl: string;
  readonly controlToken: string;
}

/** A request to a running local cloud's control API, with its token. */
export function controlFetch(access: ControlAccess, path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set(CONTROL_TOKEN_HEADER, access.controlToken);
  return fetch(`${access.controlUrl}${path}`, { ...init, headers });
}

/** What the control API drives. */
export interface ControlTarget {
  endpointUrl(name: string): string | undefined;
  injectFault(name: string, fault: Fault): void;
  clearFault(name: string): void;
}

const ROUTE = /^\/endpoints\/([a-z0-9-]{1,63})(\/fault)?$/;

/** Runs the drift monitor on demand (the local cloud's monitor handler). */
export type MonitorRunner = (request: Readonly<Record<string, unknown>>) => Promise<{ kind: string }>;

/**
 * Runs one operator command: the local cloud's operator function, invoked with the body as its
 * event. The function validates the command (parseOperatorCommand) and answers a malformed one
 * `{ ok: false, error: { code: 'malformed' } }`; it throws only when it failed (a function error).
 */
export type OperatorRunner = (event: Readonly<Record<string, unknown>>) => Promise<OperatorResult>;

const MAX_BODY = 16 * 1024;

/** A body over {@link MAX_BODY}: answered 413. */
class BodyTooLarge extends Error {
  override readonly name = 'BodyTooLarge';
}

/** How the control API is started. */
export interface ControlServerOptions {
  /** This run's token ({@link newControlToken}); requests without it are refused. */
  readonly token: string;
  /** @default '127.0.0.1' */
  readonly host?: string;
  readonly monitor?: MonitorRunner;
  readonly deadLetters?: Pick<DeadLetterRoutes, 'redrive'>;
  /** `POST /operator`: 404 without it. */
  readonly operator?: OperatorRunner;
  /** `GET /alarms`: every alarm now; 404 without it. */
  readonly alarms?: () => readonly LocalAlarmSummary[];
}

/** The control API's HTTP server. */
export class ControlServer {
  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(target: ControlTarget, options: ControlServerOptions): Promise<ControlServer> {
    if (options.token.length < 32) throw new Error('the control token must be at least 32 characters');
    const host = options.host ?? '127.0.0.1';
    const expected = Buffer.from(options.token);
    let port = 0;
    const server = createServer((request, response) => {
      const refusal = refuse(request, port, expected);
      if (refusal) return reply(response, refusal.status, { error: refusal.error });
      handle(target, request, response, options).catch((error: unknown) => {
        if (error instanceof BodyTooLarge) return reply(response, 413, { error: error.message });
        reply(response, 500, { error: String(error) });
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, host, () => resolve());
    });
    ({ port } = server.address() as AddressInfo);
    return new ControlServer(server, `http://${host}:${port}`);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Why a request may not drive the control API, if it may not. */
function refuse(
  request: IncomingMessage,
  port: number,
  expected: Buffer,
): { status: number; error: string } | undefined {
  const foreign = foreignRequest(request, port);
  if (foreign) return { status: foreign.reason === 'host' ? 400 : 403, error: foreign.message };
  const given = Buffer.from(String(request.headers[CONTROL_TOKEN_HEADER] ?? ''));
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return {
      status: 401,
      error: `missing or wrong ${CONTROL_TOKEN_HEADER}: the control API answers the tools of the user who started the local cloud (env.json's controlToken)`,
    };
  }
  return undefined;
}

async function handle(
  target: ControlTarget,
  request: IncomingMessage,
  response: ServerResponse,
  { monitor, deadLetters, operator, alarms }: ControlServerOptions,
): Promise<void> {
  const path = new URL(request.url ?? '/', 'http://localhost').pathname;
  if (path === '/operator') {
    if (!operator) return reply(response, 404, { error: 'no operator function in this local cloud' });
    if (request.method !== 'POST') return reply(response, 405, { error: 'use POST' });
    // Every answer of this route is an OperatorResult, so a client reads one shape.
    const body = parseBodyFields(await readBody(request));
    if (typeof body === 'string') return reply(response, 400, operatorRefusal('malformed', body));
    let result: OperatorResult;
    try {
      result = await operator(body);
    } catch (error) {
      // Lambda's function error: the command may be run again (the commands are idempotent).
      return reply(
        response,
        500,
        operatorRefusal('failed', `the operator function failed: ${String(error)}`),
      );
    }
    return reply(response, !result.ok && result.error.code === 'malformed' ? 400 : 200, result);
  }
  if (path === '/alarms') {
    if (!alarms) return reply(response, 404, { error: 'no alarms in this local cloud' });
    if (request.method !== 'GET') return reply(response, 405, { error: 'use GET' });
    return reply(response, 200, { alarms: alarms() });
  }
  if (path === DEAD_LETTER_REDRIVE_ROUTE) {
    if (!deadLetters) return reply(response, 404, { error: 'no dead-letter redrive in this local cloud' });
    if (request.method !== 'POST') return reply(response, 405, { error: 'use POST' });
    const answer = deadLetters.redrive(await readBody(request));
    return reply(response, answer.status, answer.body);
  }
  if (path === '/monitor') {
    if (!monitor) return reply(response, 404, { error: 'no drift monitor in this local cloud' });
    if (request.method !== 'POST') return reply(response, 405, { error: 'use POST' });
    // The monitor names the fields it refuses itself.
    const body = parseBodyFields(await readBody(request));
    if (typeof body === 'string') return reply(response, 400, { error: body });
    const outcome = await monitor(body);
    return reply(response, outcome.kind === 'malformed' ? 400 : 200, outcome);
  }
  const match = ROUTE.exec(path);
  const name = match?.[1];
  if (!name) return reply(response, 404, { error: 'no such route' });
  if (!target.endpointUrl(name)) return reply(response, 404, { error: `no endpoint ${name} is serving` });
  if (!match[2]) {
    if (request.method !== 'GET') return reply(response, 405, { error: 'use GET' });
    return reply(response, 200, { url: target.endpointUrl(name) });
  }
  if (request.method === 'DELETE') {
    target.clearFault(name);
    return reply(response, 204);
  }
  if (request.method !== 'PUT') return reply(response, 405, { error: 'use PUT or DELETE' });
  const fault = parseFault(await readBody(request));
  if (typeof fault === 'string') return reply(response, 400, { error: fault });
  target.injectFault(name, fault);
  return reply(response, 204);
}

/** Validates a fault; returns a message naming the bad field otherwise. */
export function parseFault(text: string): Fault | string {
  const fields = parseBodyFields(text, ['errorRate', 'addedLatencyMs', 'target']);
  if (typeof fields === 'string') return fields;
  const { errorRate, addedLatencyMs, target } = fields;
  if (errorRate !== undefined && !(typeof errorRate === 'number' && errorRate >= 0 && errorRate <= 1))
    return 'errorRate must be a number from 0 to 1';
  if (
    addedLatencyMs !== undefined &&
    !(typeof addedLatencyMs === 'number' && addedLatencyMs >= 0 && addedLatencyMs <= 60_000)
  ) {
    return 'addedLatencyMs must be a number from 0 to 60000';
  }
  if (target !== undefined && target !== 'new' && target !== 'all') return 'target must be "new" or "all"';
  if (errorRate === undefined && addedLatencyMs === undefined)
    return 'give errorRate, addedLatencyMs or both';
  return {
    ...(errorRate !== undefined ? { errorRate } : {}),
    ...(addedLatencyMs !== undefined ? { addedLatencyMs } : {}),
    ...(target !== undefined ? { target } : {}),
  };
}

/** An OperatorResult the control API answers itself: a body that is no object, a function error. */
function operatorRefusal(code: 'malformed' | 'failed', message: string): OperatorResult {
  return { ok: false, error: { code, message } };
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new BodyTooLarge(`the body is larger than ${MAX_BODY} bytes`);
    chunks.push(chunk);
  }
  // Decoded once: a character split across two chunks stays whole.
  return Buffer.concat(chunks).toString('utf8');
}

function reply(response: ServerResponse, status: number, body?: unknown): void {
  response.writeHead(status, body === undefined ? {} : { 'content-type': 'application/json' });
  response.end(body === undefined ? undefined : JSON.stringify(body));
}
