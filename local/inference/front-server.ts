/**
 * The stable front of a local endpoint: one HTTP server per endpoint whose URL never changes across
 * updates. It plays SageMaker's runtime: routes each invocation to the blue or the green fleet by
 * the current traffic weights, injects faults on demand (for demos), and records SageMaker's
 * per-request endpoint metrics. Where this stands: local runtime, driven by the local endpoint service.
 *
 * Routes: `POST /invocations` and `POST /endpoints/<name>/invocations` (InvokeEndpoint's path),
 * `GET /ping` (200 while a fleet serves). Responses carry `x-Amzn-Invoked-Production-Variant`.
 *
 * Metrics (namespace `AWS/SageMaker`, dimensions EndpointName + VariantName, one datum each per
 * request, as SageMaker sends them): Invocations 1; Invocation4XXErrors and Invocation5XXErrors 1
 * or 0; ModelLatency and OverheadLatency in microseconds.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  Agent,
  createServer,
  request,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { Log } from '../../core/use-cases/context';
import type { MetricDatum, MetricSink } from '../contracts';
import { foreignRequest, LOOPBACK_HOST_NAMES } from '../services/loopback-request';
import {
  closeServer,
  listen,
  PayloadTooLargeError,
  readBody,
  SAGEMAKER_MAX_PAYLOAD_BYTES,
  sendText,
} from './inference-server';

const SAGEMAKER_NAMESPACE = 'AWS/SageMaker';
/** SageMaker's limit on one real-time invocation (Developer Guide, "InvokeEndpoint": 60 seconds). */
const SAGEMAKER_INVOCATION_TIMEOUT_MS = 60_000;

/** A fleet the front can send traffic to. */
export interface FleetTarget {
  /** Base URL of the fleet's inference server. */
  readonly url: string;
  readonly variantName: string;
}

/** A fault injected into an endpoint (demo only). */
export interface Fault {
  /** Share of requests answered 500 without reaching the model, 0..1. */
  readonly errorRate?: number;
  /** Real milliseconds added before each request reaches the model (counted in ModelLatency). */
  readonly addedLatencyMs?: number;
  /** `new`: only requests routed to the green fleet of an update in progress; `all`: every request. @default 'all' */
  readonly target?: 'new' | 'all';
}

/** How {@link FrontServer.start} sets up an endpoint's front. */
export interface FrontServerOptions {
  readonly endpointName: string;
  /** Where each request's SageMaker metrics go (the local metric store). */
  readonly metrics: MetricSink;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** @default 0 */
  readonly port?: number;
  /** @default SAGEMAKER_MAX_PAYLOAD_BYTES */
  readonly maxPayloadBytes?: number;
  /** @default Math.random (used by fault injection only; routing is deterministic) */
  readonly random?: () => number;
  readonly log?: Log;
}

/**
 * One endpoint's front, started by the local endpoint service ({@link FrontServer.start}) and kept
 * across updates: the service points it at the fleets with {@link FrontServer.route}, and waits
 * with {@link FrontServer.drained} before it stops a fleet taken out. With no fleet, it answers 503.
 */
export class FrontServer {
  private blue: FleetTarget | undefined;
  private green: FleetTarget | undefined;
  private greenWeight = 0;
  /** Weighted routing without randomness: green gets exactly its share of every run of requests. */
  private credit = 0;
  private fault: Fault | undefined;
  /** Requests picked for each fleet (by URL) and not answered yet: what {@link drained} waits for. */
  private readonly inFlight = new Map<string, number>();
  private readonly drainWaiters = new Map<string, (() => void)[]>();

  private constructor(
    private readonly options: FrontServerOptions,
    private readonly server: Server,
    private readonly agent: Agent,
    readonly host: string,
    readonly port: number,
  ) {}

  static async start(options: FrontServerOptions): Promise<FrontServer> {
    const host = options.host ?? '127.0.0.1';
    const agent = new Agent({ keepAlive: true });
    // The handler needs the instance, which needs the listening server: a holder breaks the cycle.
    const holder: { front?: FrontServer } = {};
    const server = createServer((req, res) => {
      holder.front!.handle(req, res).catch((error: unknown) => {
        options.log?.error('front request failed', { endpoint: options.endpointName, error: String(error) });
        if (!res.headersSent) sendText(res, 500, 'internal error');
        else res.destroy();
      });
    });
    server.keepAliveTimeout = 5_000;
    let port: number;
    try {
      port = await listen(server, host, options.port ?? 0);
    } catch (error) {
      agent.destroy();
      throw error;
    }
    holder.front = new FrontServer(options, server, agent, host, port);
    return holder.front;
  }

  /** The names requests may use in `Host`: the loopback names, or any for an endpoint on every interface. */
  private hostNames(): readonly string[] | 'any' {
    if (this.host === '0.0.0.0' || this.host === '::') return 'any';
    return [...new Set<string>([...LOOPBACK_HOST_NAMES, this.host.toLowerCase()])];
  }

  get url(): string {
    return `http://${this.host}:${this.port}`;
  }

  /** Sets the fleets and the share of traffic (0..1) the green one gets. */
  route(blue: FleetTarget | undefined, green?: FleetTarget, greenWeight = 0): void {
    this.blue = blue;
    this.green = green;
    this.greenWeight = green ? Math.min(1, Math.max(0, greenWeight)) : 0;
    this.credit = 0;
  }

  /**
   * Resolves once no request routed to `fleet` is still waiting for it: call after {@link route}
   * took the fleet out, before stopping it. SageMaker drains a fleet's connections before it
   * terminates it; a request already sent to a retiring fleet is answered, not cut to a 500.
   */
  drained(fleet: FleetTarget, timeoutMs = SAGEMAKER_INVOCATION_TIMEOUT_MS): Promise<void> {
    if (!this.inFlight.get(fleet.url)) return Promise.resolve();
    return new Promise((resolve) => {
      // A fleet that never answers does not hold the rollout forever: SageMaker gives up on an
      // invocation after 60 seconds too.
      const timer = setTimeout(resolve, timeoutMs);
      timer.unref();
      const waiters = this.drainWaiters.get(fleet.url) ?? [];
      waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
      this.drainWaiters.set(fleet.url, waiters);
    });
  }

  injectFault(fault: Fault | undefined): void {
    this.fault = fault;
  }

  async stop(): Promise<void> {
    await closeServer(this.server);
    this.agent.destroy();
  }

  private pick(): { target: FleetTarget; isGreen: boolean } | undefined {
    if (this.green && this.greenWeight > 0) {
      this.credit += this.greenWeight;
      if (this.credit >= 1 - 1e-9 || !this.blue) {
        this.credit = Math.max(0, this.credit - 1);
        return { target: this.green, isGreen: true };
      }
    }
    if (this.blue) return { target: this.blue, isGreen: false };
    return undefined;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = process.hrtime.bigint();
    // Callable as a SageMaker endpoint is, by any client of this machine; not by a web page through
    // DNS rebinding or a cross-site request (local/services/loopback-request.ts).
    const foreign = foreignRequest(req, this.port, this.hostNames());
    if (foreign) return sendText(res, foreign.reason === 'host' ? 400 : 403, foreign.message);
    const path = (req.url ?? '/').split('?')[0]!;
    if (path === '/ping' && (req.method === 'GET' || req.method === 'HEAD')) {
      if (this.blue || this.green) res.writeHead(200, { 'content-length': '0' }).end();
      else sendText(res, 503, `endpoint ${this.options.endpointName} has no fleet in service`);
      return;
    }
    const isInvocation =
      path === '/invocations' ||
      path === `/endpoints/${encodeURIComponent(this.options.endpointName)}/invocations`;
    if (!isInvocation) return sendText(res, 404, `no route for ${req.method} ${path}`);
    if (req.method !== 'POST') return sendText(res, 405, 'use POST');

    let body: Buffer;
    try {
      body = await readBody(req, this.options.maxPayloadBytes ?? SAGEMAKER_MAX_PAYLOAD_BYTES);
    } catch (error) {
      // Refused by the runtime before any model sees it: like SageMaker, no invocation metrics.
      if (error instanceof PayloadTooLargeError) return sendText(res, 413, error.message, true);
      throw error;
    }
    const chosen = this.pick();
    if (!chosen) return sendText(res, 503, `endpoint ${this.options.endpointName} has no fleet in service`);
    const { target, isGreen } = chosen;
    this.inFlight.set(target.url, (this.inFlight.get(target.url) ?? 0) + 1);
    try {
      await this.invoke(req, res, started, target, isGreen, body);
    } finally {
      const left = (this.inFlight.get(target.url) ?? 1) - 1;
      if (left > 0) this.inFlight.set(target.url, left);
      else {
        this.inFlight.delete(target.url);
        for (const resolve of this.drainWaiters.get(target.url) ?? []) resolve();
        this.drainWaiters.delete(target.url);
      }
    }
  }

  /** Sends one invocation to the fleet picked for it (or fails it, under a fault) and records its metrics. */
  private async invoke(
    req: IncomingMessage,
    res: ServerResponse,
    started: bigint,
    target: FleetTarget,
    isGreen: boolean,
    body: Buffer,
  ): Promise<void> {
    const fault = this.fault && ((this.fault.target ?? 'all') === 'all' || isGreen) ? this.fault : undefined;
    const modelStarted = process.hrtime.bigint();
    let status: number;
    let headers: Record<string, string>;
    let out: Buffer;
    if (fault?.addedLatencyMs) await sleep(fault.addedLatencyMs);
    if (fault?.errorRate && (this.options.random ?? Math.random)() < fault.errorRate) {
      status = 500;
      out = Buffer.from('injected fault: the model failed', 'utf8');
      headers = { 'content-type': 'text/plain; charset=utf-8' };
    } else {
      try {
        ({ status, headers, body: out } = await this.forward(target, req, body));
      } catch (error) {
        this.options.log?.warn('fleet unreachable', {
          endpoint: this.options.endpointName,
          url: target.url,
          error: String(error),
        });
        status = 500;
        out = Buffer.from(`the model container is unreachable: ${String(error)}`, 'utf8');
        headers = { 'content-type': 'text/plain; charset=utf-8' };
      }
    }
    const modelEnded = process.hrtime.bigint();
    res
      .writeHead(status, {
        ...headers,
        'content-length': String(out.length),
        'x-amzn-invoked-production-variant': target.variantName,
      })
      .end(out);
    const total = Number((process.hrtime.bigint() - started) / 1000n);
    const model = Number((modelEnded - modelStarted) / 1000n);
    this.record(target.variantName, status, model, Math.max(0, total - model));
  }

  private forward(
    target: FleetTarget,
    req: IncomingMessage,
    body: Buffer,
  ): Promise<{ status: number; headers: Record<string, string>; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = { 'content-length': String(body.length) };
      if (req.headers['content-type']) headers['content-type'] = req.headers['content-type'];
      if (req.headers.accept) headers.accept = req.headers.accept;
      const upstream = request(
        `${target.url}/invocations`,
        { method: 'POST', headers, agent: this.agent },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('error', reject);
          response.on('end', () => {
            const type = response.headers['content-type'];
            resolve({
              status: response.statusCode ?? 500,
              headers: type ? { 'content-type': type } : {},
              body: Buffer.concat(chunks),
            });
          });
        },
      );
      upstream.on('error', reject);
      upstream.end(body);
    });
  }

  private record(variantName: string, status: number, modelMicros: number, overheadMicros: number): void {
    const dimensions = { EndpointName: this.options.endpointName, VariantName: variantName };
    const timestamp = new Date();
    const put = (name: string, value: number, unit: MetricDatum['unit']) => {
      try {
        this.options.metrics.put({
          namespace: SAGEMAKER_NAMESPACE,
          name,
          dimensions,
          value,
          unit,
          timestamp,
        });
      } catch (error) {
        this.options.log?.warn('metric not recorded', { name, error: String(error) });
      }
    };
    put('Invocations', 1, 'Count');
    put('Invocation4XXErrors', status >= 400 && status < 500 ? 1 : 0, 'Count');
    put('Invocation5XXErrors', status >= 500 ? 1 : 0, 'Count');
    put('ModelLatency', modelMicros, 'Microseconds');
    put('OverheadLatency', overheadMicros, 'Microseconds');
  }
}
