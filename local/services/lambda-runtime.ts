/**
 * What the Lambda runtime gives a handler, for handlers running in the local cloud's process: the
 * environment Powertools reads, a Lambda `Context`, an SQS-shaped batch for the ingest queue, and
 * the handlers' output (Powertools logs and EMF metric lines) routed the way CloudWatch Logs would
 * route it: log lines to a readable console, metric lines to the local metric store. Where this
 * stands: local runtime; the handlers do not know they run here.
 *
 * How the output is caught, with Powertools' documented switch only: with `POWERTOOLS_DEV` set,
 * a Logger or Metrics instance writes to the global `console` it finds when it is created (the
 * hook Powertools documents for tests: "Suppress logs", and the Metrics "Testing your code"
 * section). {@link loadHandlerModules} loads the handler modules, which create their instances at
 * import, with that switch on and the runtime's console in the global's place, as Lambda's own
 * runtime installs its console before it loads a function; {@link captureHandlerOutput} then says
 * where that console's output goes.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { format } from 'node:util';
import type { Context, SQSEvent } from 'aws-lambda';
import { parseJsonObject } from '../../core/support/objects';
import { LOCAL_ACCOUNT, LOCAL_REGION, type CloudEvent, type MetricDatum } from '../contracts';
import { parseEmf } from '../metrics/emf';

/** The stack's metrics namespace (lib/constructs/mlops-function.ts `METRICS_NAMESPACE`). */
const LOCAL_METRICS_NAMESPACE = 'ServerlessMlops';

/**
 * Powertools settings the stack gives every function, as defaults (a value already in the
 * environment wins). Must be applied before the handler modules are loaded: Powertools reads them
 * when its Logger and Metrics are created, at import.
 */
export function applyLambdaEnvironment(env: NodeJS.ProcessEnv = process.env, logLevel = 'INFO'): void {
  const defaults: Record<string, string> = {
    POWERTOOLS_SERVICE_NAME: 'mlops-local',
    POWERTOOLS_METRICS_NAMESPACE: LOCAL_METRICS_NAMESPACE,
    POWERTOOLS_LOG_LEVEL: logLevel,
    AWS_REGION: LOCAL_REGION,
    // The SDK's reminder that Node 20 support ends in 2027, printed once per client, is noise here.
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
  for (const [name, value] of Object.entries(defaults)) env[name] ??= value;
}

/**
 * The function being invoked, per asynchronous context. All local functions share one Powertools
 * Logger (a module-level singleton), so the function name it prints is whichever invocation called
 * `addContext` last; this says which invocation a log line really comes from.
 */
const invocations = new AsyncLocalStorage<{ readonly functionName: string }>();

/** Runs one invocation of a local function (its log lines are labelled with its name). */
export function invoke<T>(functionName: string, run: (context: Context) => Promise<T>): Promise<T> {
  return invocations.run({ functionName }, () => run(lambdaContext(functionName)));
}

/** A Lambda context for one invocation of a local function. */
export function lambdaContext(functionName: string, timeoutMs = 15 * 60 * 1000): Context {
  const started = Date.now();
  const requestId = randomUUID();
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:${functionName}`,
    memoryLimitInMB: '1024',
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: `local/[$LATEST]${requestId.replace(/-/g, '')}`,
    getRemainingTimeInMillis: () => Math.max(0, timeoutMs - (Date.now() - started)),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/**
 * The SQS batch the ingest function receives for EventBridge events sent to its queue (the rule's
 * SQS target puts the event, as JSON, in the message body).
 */
export function sqsBatch(
  events: readonly CloudEvent[],
  receiveCount = 1,
  queueName = 'mlops-ingest',
): SQSEvent {
  const now = String(Date.now());
  return {
    Records: events.map((event) => ({
      messageId: randomUUID(),
      receiptHandle: randomUUID(),
      body: JSON.stringify(event),
      attributes: {
        ApproximateReceiveCount: String(receiveCount),
        SentTimestamp: now,
        SenderId: 'AIDAEVENTBRIDGE',
        ApproximateFirstReceiveTimestamp: now,
      },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: `arn:aws:sqs:${LOCAL_REGION}:${LOCAL_ACCOUNT}:${queueName}`,
      awsRegion: LOCAL_REGION,
    })),
  };
}

/** Where handler output goes. */
export interface HandlerOutputOptions {
  /** Receives the data points of every EMF line (the metric store). */
  readonly onMetrics?: (data: MetricDatum[]) => void;
  /** Prints one formatted log line. @default to stdout (stderr for warnings and errors) */
  readonly print?: (line: string, level: string) => void;
  /**
   * Print no log lines. Powertools' own plain-text warnings (Metrics' "No application metrics to
   * publish", …) still print, as they did when they went to the process's stderr. @default false
   */
  readonly silent?: boolean;
}

/** The console methods Powertools writes with (Logger and Metrics). */
export interface PowertoolsConsole {
  log(...args: unknown[]): void;
  info(...args: unknown[]): void;
  debug(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
  trace(...args: unknown[]): void;
}

const POWERTOOLS_METHODS = ['log', 'info', 'debug', 'warn', 'error', 'trace'] as const;

/**
 * A console for Powertools: EMF documents become metric data points, JSON log lines become one
 * readable line each (`12:00:01.123 ingest INFO ingest outcome {...}`), anything else is printed
 * as is.
 */
export function handlerConsole(options: HandlerOutputOptions = {}): PowertoolsConsole {
  const print =
    options.print ??
    ((line: string, level: string) => {
      if (level === 'WARN' || level === 'ERROR' || level === 'CRITICAL') process.stderr.write(`${line}\n`);
      else process.stdout.write(`${line}\n`);
    });
  const write =
    (fallbackLevel: string) =>
    (...args: unknown[]) => {
      const text = args.length === 1 && typeof args[0] === 'string' ? args[0] : format(...args);
      const parsed = parseJsonObject(text);
      if (!parsed) {
        print(text, fallbackLevel);
        return;
      }
      if ('_aws' in parsed) {
        const data = parseEmf(parsed);
        if (data.length > 0) options.onMetrics?.(data);
        return;
      }
      if (options.silent) return;
      const level = typeof parsed.level === 'string' ? parsed.level : fallbackLevel;
      print(formatLogLine(parsed), level);
    };
  return {
    log: write('INFO'),
    info: write('INFO'),
    debug: write('DEBUG'),
    warn: write('WARN'),
    error: write('ERROR'),
    trace: write('TRACE'),
  };
}

/** The consoles capturing the handlers' output, the newest last: it is the one written to. */
const captures: PowertoolsConsole[] = [];

/**
 * Loads the handler modules (`load` imports them) so that the Powertools Logger and Metrics
 * instances they create write to the runtime's console, whose output {@link captureHandlerOutput}
 * routes. While `load` runs, `POWERTOOLS_DEV` is on (and `POWERTOOLS_METRICS_DISABLED` defaults to
 * false, which development mode would turn to true) and the global `console` is the runtime's;
 * both are put back after, so no other code sees them and Powertools' development mode changes
 * nothing else (its errors keep their one-string stack). Powertools reads both when an instance is
 * created: modules loaded before, outside this function, are not captured. Output written while
 * nothing captures goes to the console the runtime's console replaced.
 */
export async function loadHandlerModules<T>(load: () => Promise<T>): Promise<T> {
  const globalConsole = globalThis.console;
  const runtimeConsole = routedConsole(globalConsole);
  const restoreEnvironment = setEnvironmentWhileLoading({
    POWERTOOLS_DEV: 'true',
    POWERTOOLS_METRICS_DISABLED: process.env.POWERTOOLS_METRICS_DISABLED ?? 'false',
  });
  globalThis.console = runtimeConsole;
  try {
    return await load();
  } finally {
    if (globalThis.console === runtimeConsole) globalThis.console = globalConsole;
    restoreEnvironment();
  }
}

/**
 * Sends what the handlers' Powertools instances print to `target`, until the returned function is
 * called; the capture started before it (another local cloud's) then takes over again.
 */
export function captureHandlerOutput(target: PowertoolsConsole): () => void {
  captures.push(target);
  return () => {
    const index = captures.lastIndexOf(target);
    if (index >= 0) captures.splice(index, 1);
  };
}

/**
 * The global console with its printing methods sent to the newest capture, or to `fallback` when
 * nothing captures; everything else (`group`, `table`, …) is `fallback`'s, for code that prints
 * while the handler modules load.
 */
function routedConsole(fallback: Console): Console {
  const routed = Object.create(fallback) as Console;
  for (const method of POWERTOOLS_METHODS) {
    routed[method] = (...args: unknown[]) => (captures.at(-1) ?? fallback)[method](...args);
  }
  return routed;
}

/** Sets environment variables; the returned function puts back what was there. */
function setEnvironmentWhileLoading(values: Readonly<Record<string, string>>): () => void {
  const previous = Object.fromEntries(Object.keys(values).map((name) => [name, process.env[name]]));
  Object.assign(process.env, values);
  return () => {
    for (const [name, value] of Object.entries(previous)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
}

/** Keys of a Powertools log line that the short format shows in front, or leaves out. */
const HIDDEN_KEYS = new Set([
  'level',
  'message',
  'timestamp',
  'service',
  'sampling_rate',
  'xray_trace_id',
  'cold_start',
  'function_arn',
  'function_memory_size',
  'function_name',
  'function_request_id',
]);

/** One readable line for a Powertools JSON log entry. */
function formatLogLine(entry: Readonly<Record<string, unknown>>): string {
  const time =
    typeof entry.timestamp === 'string'
      ? entry.timestamp.slice(11, 23)
      : new Date().toISOString().slice(11, 23);
  const name =
    invocations.getStore()?.functionName ??
    (typeof entry.function_name === 'string' ? entry.function_name : undefined);
  const fn = name ? name.replace(/^[a-z0-9-]+?-local-/, '') : fieldText(entry.service, '');
  const level = fieldText(entry.level, 'INFO');
  const rest: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(entry)) if (!HIDDEN_KEYS.has(key)) rest[key] = value;
  const extra = Object.keys(rest).length > 0 ? ` ${JSON.stringify(rest)}` : '';
  return `${time} ${fn} ${level} ${fieldText(entry.message, '')}${extra}`;
}

/** A field of a parsed log entry as text: a string as is, anything else as its JSON, `absent` when null or absent. */
function fieldText(value: unknown, absent: string): string {
  if (value === undefined || value === null) return absent;
  return typeof value === 'string' ? value : JSON.stringify(value);
}
