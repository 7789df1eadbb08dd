/**
 * Port: re-delivering an event that was lost. Where this stands: core port, used by the reconcile
 * use case. Events arrive at least once and at times not at all; every handler reads the current
 * state itself and is idempotent, so a lost event is repaired by sending its handler a "look at
 * this" event again, shaped as AWS would have sent it. In AWS the adapter sends the upload to the
 * ingest queue and invokes the lifecycle functions asynchronously (so the repair runs with the
 * handler's own permissions, retries and dead-letter queue); in the local cloud it publishes on the
 * local event bus.
 */

/** An object under `datasets/` whose "Object Created" event ingest never saw. */
export interface RedeliveredObject {
  readonly bucket: string;
  readonly key: string;
  readonly size: number;
  readonly etag?: string;
  readonly versionId?: string;
  readonly sequencer?: string;
}

/**
 * Sends a handler a lost event again, for `Reconcile` (core/use-cases/reconcile.ts). Implemented
 * by `AwsEventRedelivery` (adapters/aws/aws-event-redelivery.ts) and `BusRedelivery`
 * (local/reconciler.ts). Each call resolves once the event is handed over (queued, or accepted for an
 * asynchronous invocation), not once it is handled; the handler's own retries take it from there. An
 * event that was not lost after all is harmless: its handler finds the work done.
 */
export interface EventRedelivery {
  /** An S3 "Object Created" event for the object, to the ingest handler. */
  objectCreated(object: RedeliveredObject): Promise<void>;
  /** A "SageMaker Training Job State Change" for the job, to the training-events handler. */
  trainingJobStateChange(change: { readonly jobName: string; readonly status: string }): Promise<void>;
  /** A "SageMaker Endpoint State Change" for the endpoint, to the endpoint-events handler. */
  endpointStateChange(change: {
    readonly endpointName: string;
    /** The API's status (`InService`); the adapter writes it as the event does (`IN_SERVICE`). */
    readonly status: string;
    readonly configName?: string;
  }): Promise<void>;
}
