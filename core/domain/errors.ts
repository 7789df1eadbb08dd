/**
 * Domain errors. Where this stands: core, shared by every use case.
 *
 * Two families matter to the handlers:
 * - {@link RejectionError}: the input itself is wrong (bad model name, bad config, a dataset without
 *   its label column). Retrying cannot help, so it is recorded against the model and the event is
 *   acknowledged.
 * - everything else (a throttled AWS call, a network fault) is transient: the handler lets it throw,
 *   the event source retries, and after the last retry the event lands in the dead-letter queue.
 */

/** The reason codes a person sees in the registry when something is rejected. */
export type RejectionCode =
  | 'INVALID_MODEL_NAME'
  | 'INVALID_KEY'
  | 'INVALID_CONFIG'
  | 'EMPTY_DATASET'
  | 'MISSING_LABEL_COLUMN'
  | 'INVALID_DATASET'
  | 'UNSUPPORTED_FORMAT'
  /** The data-quality gate: schema or quality violations against the model's baseline. */
  | 'DATA_QUALITY'
  /** The data-quality gate: drift against the baseline, with `dataQuality.blockOnDrift` on. */
  | 'DATA_DRIFT'
  /**
   * The object was overwritten by a later upload of the same key before ingest could read it, and
   * the store keeps no versions (the local S3): the bytes this upload's event names are gone. The
   * later upload is ingested on its own event.
   */
  | 'SOURCE_SUPERSEDED';

/** Input that can never succeed, however often it is retried. */
export class RejectionError extends Error {
  override readonly name = 'RejectionError';
  constructor(
    readonly code: RejectionCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
