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
 */
import type { Client, Command, MetadataBearer } from '@smithy/types';

/** The services the handlers call. */
export type AwsService = 'dynamodb' | 's3' | 'sagemaker' | 'cloudwatch' | 'sns';

/** One call as the handler made it: the operation's API name and its (unserialised) input. */
export interface RecordedCall {
  readonly service: AwsService;
  /** API operation name, e.g. `PutItem`, `CreateTrainingJob`. */
  readonly operation: string;
  readonly input: Readonly<Record<string, unknown>>;
}

/** The kinds of failure every call site must survive. */
export type FaultKind = 'throttle' | 'server' | 'timeout' | 'validation';

/** The fault kinds, in the order the fault table lists them. */
export const FAULT_KINDS: readonly FaultKind[] = ['throttle', 'server', 'timeout', 'validation'];

interface PlannedFault {
  readonly service: AwsService;
  readonly operation: string;
  readonly kind: FaultKind;
  remaining: number;
  readonly when: ((input: Readonly<Record<string, unknown>>) => boolean) | undefined;
}

/** The record of calls and the plan of faults of one harness. */
export class AwsCallJournal {
  readonly calls: RecordedCall[] = [];
  /** Faults thrown so far, in order. */
  readonly injected: (RecordedCall & { readonly kind: FaultKind })[] = [];
  private readonly faults: PlannedFault[] = [];

  /**
   * Makes the next `times` calls of `service`.`operation` (matching `when`, if given) fail with an
   * error of `kind`, shaped as the SDK throws it once its own retries are spent.
   */
  injectFault(
    service: AwsService,
    operation: string,
    kind: FaultKind,
    options: { times?: number; when?: (input: Readonly<Record<string, unknown>>) => boolean } = {},
  ): void {
    this.faults.push({ service, operation, kind, remaining: options.times ?? 1, when: options.when });
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

  /** Records a call, then throws the planned fault for it, if any. */
  observe(service: AwsService, operation: string, input: Readonly<Record<string, unknown>>): void {
    const call: RecordedCall = { service, operation, input };
    this.calls.push(call);
    const fault = this.faults.find(
      (f) =>
        f.remaining > 0 && f.service === service && f.operation === operation && (!f.when || f.when(input)),
    );
    if (!fault) return;
    fault.remaining--;
    this.injected.push({ ...call, kind: fault.kind });
    throw faultError(fault.kind, service, operation);
  }
}

/**
 * An error as the SDK v3 surfaces it after its retries: a service exception with `name`, `$fault`
 * and `$metadata.httpStatusCode`, or a client-side `TimeoutError`.
 */
export function faultError(kind: FaultKind, service: AwsService, operation: string): Error {
  const shapes: Record<FaultKind, { name: string; fault: 'client' | 'server'; status?: number; message: string }> =
    {
      throttle: {
        name: service === 'dynamodb' ? 'ProvisionedThroughputExceededException' : 'ThrottlingException',
        fault: 'client',
        status: 400,
        message: 'Rate exceeded',
      },
      server: { name: 'InternalFailure', fault: 'server', status: 500, message: 'We encountered an internal error.' },
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

type AnyClient = Client<any, any, any> & { middlewareStack: { add: (...args: any[]) => void } };

/** Records (and faults) every call a real SDK client makes, through a middleware. */
export function instrumentSdkClient(client: AnyClient, service: AwsService, journal: AwsCallJournal): void {
  client.middlewareStack.add(
    (next: (args: { input: Record<string, unknown> }) => Promise<unknown>, context: { commandName?: string }) =>
      async (args: { input: Record<string, unknown> }) => {
        journal.observe(service, operationOf(context.commandName), args.input);
        return next(args);
      },
    { step: 'initialize', name: 'awsCallJournal', priority: 'high', override: true },
  );
}

/** Records (and faults) every call of a client whose `send` aws-sdk-client-mock has replaced. */
export function instrumentMockedClient(client: AnyClient, service: AwsService, journal: AwsCallJournal): void {
  const target = client as unknown as {
    send: (command: Command<any, any, any, any, any>, ...rest: unknown[]) => Promise<MetadataBearer>;
  };
  target.send = async (command, ...rest) => {
    journal.observe(service, operationOf(command.constructor.name), command.input as Record<string, unknown>);
    // Looked up at call time: the mock is installed on (and restored from) the prototype.
    const send = (Object.getPrototypeOf(client) as typeof target).send;
    return send.call(client, command, ...rest);
  };
}

function operationOf(commandName: string | undefined): string {
  return (commandName ?? 'Unknown').replace(/Command$/, '');
}
