/**
 * Every AWS call the handlers make in a test, recorded (service, operation, input), and faults
 * injected at any of them. Where this stands: test infrastructure; the pipeline harness attaches
 * it to the SDK clients it gives the handlers (never to the clients the test itself uses to upload
 * or read), the IAM and request-validity contracts read {@link AwsCallJournal.calls}, the fault
 * table plans one fault per call site with {@link AwsCallJournal.injectFault}.
 *
 * Real clients (DynamoDB Local, the S3 server) are instrumented with a middleware at the
 * `initialize` step, above the SDK's own retry middleware: an injected fault is what the handler
 * sees once the SDK has given up. The document client shares its base client's middleware stack,
 * so registry calls are seen as the low-level operations (`PutItem`, `TransactWriteItems`) that
 * IAM authorises. Clients replaced by aws-sdk-client-mock never run middleware: their `send` is
 * wrapped per instance instead, calling through to the mock at call time.
 *
 * Each record also says how the call ended (`outcome`: `ok` or the error's name), so a test can
 * count the calls that took effect; a journal created with `{ stacks: true }` keeps each call's
 * JavaScript stack (where in the handlers' code it was made). A fault is thrown before the request
 * is sent, or, planned with `applied: true`, after the request took effect, in place of its
 * response (a timeout whose request got through).
 */
import type { MetadataBearer } from '@smithy/types';

/** The services the handlers call (`sqs` and `lambda`: the reconciler's re-delivery). */
export type AwsService = 'dynamodb' | 's3' | 'sagemaker' | 'cloudwatch' | 'sns' | 'sqs' | 'lambda';

/** One call as the handler made it: the operation's API name and its (unserialised) input. */
export interface RecordedCall {
  readonly service: AwsService;
  /** API operation name, e.g. `PutItem`, `CreateTrainingJob`. */
  readonly operation: string;
  readonly input: Readonly<Record<string, unknown>>;
  /**
   * How the call ended, once it has: `ok`, or the error's name (an injected fault's too). Unset
   * while it is in flight. Lets a test count the calls that took effect (a CreateEndpoint applied
   * once) apart from those refused.
   */
  outcome?: string;
  /**
   * Set when the call took effect (`outcome` is `ok`) but the caller was given an error instead of
   * its response (a fault injected with `applied: true`): the error's name.
   */
  responseLost?: string;
  /** The JavaScript stack at the call, when the journal was created with `{ stacks: true }`. */
  readonly stack?: string;
}

/** A fault's condition: the call's input, and the call as recorded (its stack, when captured). */
export type FaultCondition = (input: Readonly<Record<string, unknown>>, call: RecordedCall) => boolean;

/** The kinds of failure every call site must survive. */
export type FaultKind = 'throttle' | 'server' | 'timeout' | 'validation';

/** The fault kinds, in the order the fault table lists them. */
export const FAULT_KINDS: readonly FaultKind[] = ['throttle', 'server', 'timeout', 'validation'];

interface PlannedFault {
  readonly service: AwsService;
  readonly operation: string;
  readonly kind: FaultKind;
  remaining: number;
  readonly when: FaultCondition | undefined;
  readonly applied: boolean;
}

/** The record of calls and the plan of faults of one harness. */
export class AwsCallJournal {
  readonly calls: RecordedCall[] = [];
  /** Faults thrown so far, in order. */
  readonly injected: (RecordedCall & { readonly kind: FaultKind })[] = [];
  private readonly faults: PlannedFault[] = [];
  private readonly lostResponses = new Map<RecordedCall, Error>();
  private readonly stacks: boolean;

  /**
   * @param options.stacks record the JavaScript stack of every call ({@link RecordedCall.stack}):
   *   where in the handlers' code the call was made (the fault table tells call sites apart by it).
   */
  constructor(options: { stacks?: boolean } = {}) {
    this.stacks = options.stacks ?? false;
  }

  /**
   * Makes the next `times` calls of `service`.`operation` (matching `when`, if given) fail with an
   * error of `kind`, shaped as the SDK throws it once its own retries are spent. The call is not
   * sent, unless `applied`: then it is sent and takes effect, and the error replaces its response
   * (a timeout whose request got through: the caller cannot tell whether it did).
   */
  injectFault(
    service: AwsService,
    operation: string,
    kind: FaultKind,
    options: { times?: number; when?: FaultCondition; applied?: boolean } = {},
  ): void {
    this.faults.push({
      service,
      operation,
      kind,
      remaining: options.times ?? 1,
      when: options.when,
      applied: options.applied ?? false,
    });
  }

  /** Faults planned but not yet thrown. */
  pendingFaults(): number {
    return this.faults.reduce((sum, fault) => sum + fault.remaining, 0);
  }

  /** Forgets the recorded calls and the planned faults. */
  clear(): void {
    this.calls.length = 0;
    this.injected.length = 0;
    this.faults.length = 0;
  }

  /** Records a call, then throws the planned fault for it, if any; returns the record. */
  observe(service: AwsService, operation: string, input: Readonly<Record<string, unknown>>): RecordedCall {
    const call: RecordedCall = { service, operation, input, ...(this.stacks ? { stack: stackHere() } : {}) };
    this.calls.push(call);
    const fault = this.faults.find(
      (f) =>
        f.remaining > 0 &&
        f.service === service &&
        f.operation === operation &&
        (!f.when || f.when(input, call)),
    );
    if (!fault) return call;
    fault.remaining--;
    this.injected.push({ ...call, kind: fault.kind });
    const error = faultError(fault.kind, service, operation);
    if (fault.applied) {
      this.lostResponses.set(call, error);
      return call;
    }
    call.outcome = error.name;
    throw error;
  }

  /** The error to give the caller instead of the response of a call that took effect, if planned. */
  takeLostResponse(call: RecordedCall): Error | undefined {
    const error = this.lostResponses.get(call);
    this.lostResponses.delete(call);
    return error;
  }
}

/** The current stack, deep enough to reach the handler through the adapter and the use cases. */
function stackHere(): string {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 60;
  try {
    return new Error('call site').stack ?? '';
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/**
 * An error as the SDK v3 surfaces it after its retries: a service exception with `name`, `$fault`
 * and `$metadata.httpStatusCode`, or a client-side `TimeoutError`.
 */
export function faultError(kind: FaultKind, service: AwsService, operation: string): Error {
  const shapes: Record<
    FaultKind,
    { name: string; fault: 'client' | 'server'; status?: number; message: string }
  > = {
    throttle: {
      name: service === 'dynamodb' ? 'ProvisionedThroughputExceededException' : 'ThrottlingException',
      fault: 'client',
      status: 400,
      message: 'Rate exceeded',
    },
    server: {
      name: 'InternalFailure',
      fault: 'server',
      status: 500,
      message: 'We encountered an internal error.',
    },
    timeout: { name: 'TimeoutError', fault: 'client', message: 'Connection timed out after 3000 ms' },
    validation: {
      name: 'ValidationException',
      fault: 'client',
      status: 400,
      message: `1 validation error detected (injected into ${service}.${operation})`,
    },
  };
  const shape = shapes[kind];
  const error = new Error(`${shape.message} [injected ${kind} fault: ${service}.${operation}]`) as Error & {
    $fault: string;
    $metadata: { httpStatusCode?: number; attempts: number };
    $retryable?: { throttling: boolean };
  };
  error.name = shape.name;
  error.$fault = shape.fault;
  error.$metadata = { ...(shape.status ? { httpStatusCode: shape.status } : {}), attempts: 3 };
  if (kind === 'throttle') error.$retryable = { throttling: true };
  return error;
}

/** Any SDK v3 client: only its middleware stack and `send` are touched. */
interface AnyClient {
  // Method syntax: parameters compare bivariantly, so every client's typed stack fits.
  readonly middlewareStack: { add(middleware: unknown, options: unknown): void };
  send(command: unknown): Promise<unknown>;
}

/** Records (and faults) every call a real SDK client makes, through a middleware. */
export function instrumentSdkClient(client: AnyClient, service: AwsService, journal: AwsCallJournal): void {
  client.middlewareStack.add(
    (
      next: (args: { input: Record<string, unknown> }) => Promise<unknown>,
      context: { commandName?: string },
    ) =>
      async (args: { input: Record<string, unknown> }) => {
        const call = journal.observe(service, operationOf(context.commandName), args.input);
        return settle(call, () => next(args), journal);
      },
    { step: 'initialize', name: 'awsCallJournal', priority: 'high', override: true },
  );
}

/** Records (and faults) every call of a client whose `send` aws-sdk-client-mock has replaced. */
export function instrumentMockedClient(
  client: AnyClient,
  service: AwsService,
  journal: AwsCallJournal,
): void {
  const target = client as unknown as {
    send: (command: { input: unknown }, ...rest: unknown[]) => Promise<MetadataBearer>;
  };
  target.send = async (command, ...rest) => {
    const call = journal.observe(
      service,
      operationOf(command.constructor.name),
      command.input as Record<string, unknown>,
    );
    // Looked up at call time: the mock is installed on (and restored from) the prototype.
    const send = (Object.getPrototypeOf(client) as typeof target).send;
    return settle(call, () => send.call(client, command, ...rest), journal);
  };
}

/** Runs the call and records how it ended on its record; a lost response is thrown after it. */
async function settle<T>(call: RecordedCall, run: () => Promise<T>, journal: AwsCallJournal): Promise<T> {
  let result: T;
  try {
    result = await run();
    call.outcome = 'ok';
  } catch (error) {
    call.outcome = error instanceof Error ? error.name : 'Error';
    journal.takeLostResponse(call);
    throw error;
  }
  const lost = journal.takeLostResponse(call);
  if (lost) {
    call.responseLost = lost.name;
    throw lost;
  }
  return result;
}

function operationOf(commandName: string | undefined): string {
  return (commandName ?? 'Unknown').replace(/Command$/, '');
}
