/**
 * A real HTTP inference server with SageMaker's inference container contract ("Use Your Own
 * Inference Code with Hosting Services"): `GET /ping` answers 200 once the model is loaded,
 * `POST /invocations` answers predictions. `/ping` makes the deeper check the guide allows: the model
 * must predict a row of missing values. Where this stands: local runtime; the local endpoint
 * service runs one per fleet (blue, green) behind each endpoint's stable front server.
 *
 * Formats: `text/csv` rows of features without header (one prediction per line back) or
 * `application/json` (`{"instances": [[...]]}` or an array of rows; `{"predictions": [...]}` back).
 * The response type follows `Accept` (`text/csv` or `application/json`), else the request's type.
 * A row the model cannot read is a 400 naming the row; a body above SageMaker's payload limit a
 * 413; anything unexpected a 500.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Log } from '../../core/use-cases/context';
import type { LoadedModel } from '../contracts';
import {
  formatCsv,
  formatJson,
  InvalidPayloadError,
  mediaType,
  parseCsvRows,
  parseJsonRows,
  type FeatureRow,
} from './payload';

/** SageMaker real-time inference's maximum request payload: 6 MB. */
export const SAGEMAKER_MAX_PAYLOAD_BYTES = 6 * 1024 * 1024;

/** The CSV media type: the request type assumed when a request names none. */
export const CSV = 'text/csv';
const JSON_TYPE = 'application/json';

/** One answered invocation, as data capture records it. */
export interface InvocationRecord {
  readonly requestContentType: string;
  readonly requestBody: Buffer;
  readonly responseContentType: string;
  readonly responseBody: Buffer;
  readonly at: Date;
}

/** How {@link InferenceServer.start} serves a model. */
export interface InferenceServerOptions {
  /** The model, loaded already; `/ping` answers 200 only while it can predict a row of missing values. */
  readonly model: LoadedModel;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** @default 0 (an ephemeral port) */
  readonly port?: number;
  /** @default SAGEMAKER_MAX_PAYLOAD_BYTES */
  readonly maxPayloadBytes?: number;
  /** Called for every successful (200) invocation, after the response is sent. */
  readonly onInvocation?: (record: InvocationRecord) => void;
  readonly log?: Log;
}

/** A body above the payload limit. */
export class PayloadTooLargeError extends Error {
  override readonly name = 'PayloadTooLargeError';
}

/**
 * Reads a request body whole, refusing more than `limit` bytes (by Content-Length up front, or as
 * it streams). The rest of a refused body is drained so that the answer can still be sent.
 */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    throw new PayloadTooLargeError(tooLargeMessage(declared, limit));
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= limit) chunks.push(chunk);
  }
  if (size > limit) throw new PayloadTooLargeError(tooLargeMessage(size, limit));
  return Buffer.concat(chunks);
}

function tooLargeMessage(size: number, limit: number): string {
  return `the request body is ${size} bytes; the maximum payload is ${limit} bytes`;
}

/**
 * One fleet's inference server: the local endpoint service starts one per fleet (blue, green), and
 * invocations reach it through the endpoint's front server. Listens on 127.0.0.1 unless told otherwise.
 */
export class InferenceServer {
  private constructor(
    private readonly server: Server,
    readonly host: string,
    readonly port: number,
  ) {}

  /** Starts a server for a loaded model; resolves once it listens. */
  static async start(options: InferenceServerOptions): Promise<InferenceServer> {
    const host = options.host ?? '127.0.0.1';
    const server = createServer((req, res) => {
      handle(options, req, res).catch((error: unknown) => {
        options.log?.error('inference request failed', { error: String(error) });
        if (!res.headersSent) sendText(res, 500, 'internal error');
        else res.destroy();
      });
    });
    server.keepAliveTimeout = 5_000;
    const port = await listen(server, host, options.port ?? 0);
    return new InferenceServer(server, host, port);
  }

  get url(): string {
    return `http://${this.host}:${this.port}`;
  }

  /** Stops listening; idle keep-alive connections close at once, requests in flight may finish (1 s). */
  async stop(): Promise<void> {
    await closeServer(this.server);
  }
}

async function handle(
  options: InferenceServerOptions,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (path === '/ping') {
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendText(res, 405, 'use GET /ping');
    const problem = healthProblem(options.model);
    if (problem) return sendText(res, 500, problem);
    res.writeHead(200, { 'content-length': '0' }).end();
    return;
  }
  if (path !== '/invocations') return sendText(res, 404, `no route for ${req.method} ${path}`);
  if (req.method !== 'POST') return sendText(res, 405, 'use POST /invocations');

  let body: Buffer;
  try {
    body = await readBody(req, options.maxPayloadBytes ?? SAGEMAKER_MAX_PAYLOAD_BYTES);
  } catch (error) {
    if (error instanceof PayloadTooLargeError) return sendText(res, 413, error.message, true);
    throw error;
  }
  const requestHeader = req.headers['content-type'];
  const requestType = mediaType(requestHeader) || CSV;
  if (requestType !== CSV && requestType !== JSON_TYPE) {
    return sendText(res, 415, `unsupported content type "${requestType}"; use ${CSV} or ${JSON_TYPE}`);
  }
  const responseType = negotiate(req.headers.accept, requestType);
  if (!responseType) {
    return sendText(res, 406, `cannot answer in "${req.headers.accept}"; accepts ${CSV} or ${JSON_TYPE}`);
  }

  const { model } = options;
  let rows: FeatureRow[];
  try {
    const text = body.toString('utf8');
    rows =
      requestType === CSV ? parseCsvRows(text, model.featureCount) : parseJsonRows(text, model.featureCount);
  } catch (error) {
    if (error instanceof InvalidPayloadError) return sendText(res, 400, error.message);
    throw error;
  }
  const predictions = model.predict(rows);
  if (!Array.isArray(predictions) || predictions.length !== rows.length) {
    throw new Error(
      `the model returned ${Array.isArray(predictions) ? predictions.length : 'no'} predictions for ${rows.length} rows`,
    );
  }
  const out = Buffer.from(responseType === CSV ? formatCsv(predictions) : formatJson(predictions), 'utf8');
  res.writeHead(200, { 'content-type': responseType, 'content-length': String(out.length) }).end(out);
  options.onInvocation?.({
    requestContentType: requestHeader ?? CSV,
    requestBody: body,
    responseContentType: responseType,
    responseBody: out,
    at: new Date(),
  });
}

/**
 * The deeper health check SageMaker allows behind `/ping`: the model must predict one row of
 * missing values. Returns what is wrong, or undefined when healthy.
 */
function healthProblem(model: LoadedModel): string | undefined {
  if (!Number.isInteger(model.featureCount) || model.featureCount < 1) {
    return `the model declares ${model.featureCount} features`;
  }
  try {
    const predictions = model.predict([new Array<number | null>(model.featureCount).fill(null)]);
    if (!Array.isArray(predictions) || predictions.length !== 1)
      return 'the model did not answer one prediction for one row';
    return undefined;
  } catch (error) {
    return `the model cannot predict: ${error instanceof Error ? error.message : String(error)}`;
  }
}

/** The response type: what Accept asks for among CSV and JSON, else the request's own type. */
function negotiate(accept: string | undefined, requestType: string): string | undefined {
  if (accept === undefined || accept.trim() === '') return requestType;
  const wanted = accept.split(',').map((part) => mediaType(part));
  for (const type of wanted) {
    if (type === CSV || type === JSON_TYPE) return type;
  }
  if (wanted.some((type) => type === '*/*' || type === 'text/*' || type === 'application/*'))
    return requestType;
  return undefined;
}

/** A plain-text response; `close` asks the client to drop the connection (after an unread body). */
export function sendText(res: ServerResponse, status: number, message: string, close = false): void {
  const body = Buffer.from(message, 'utf8');
  res
    .writeHead(status, {
      'content-type': 'text/plain; charset=utf-8',
      'content-length': String(body.length),
      ...(close ? { connection: 'close' } : {}),
    })
    .end(body);
}

/** Listens on host:port; resolves the bound port. */
export function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/**
 * Stops a server: no new connections, idle keep-alive ones closed at once, requests in flight
 * allowed `graceMs` to finish before their connections are dropped too.
 */
export function closeServer(server: Server, graceMs = 1_000): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    const force = setTimeout(() => server.closeAllConnections(), graceMs);
    force.unref();
    server.close(() => {
      clearTimeout(force);
      resolve();
    });
    server.closeIdleConnections();
  });
}
