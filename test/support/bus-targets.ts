/** Rule targets for the local event bus's tests. */
import type { CloudEvent } from '../../local/contracts';

/**
 * A target that hands each event to `record` and succeeds: a synchronous target returning the
 * settled promise a rule's target must return.
 */
export function recording(record: (event: CloudEvent) => unknown): (event: CloudEvent) => Promise<void> {
  return (event) => {
    record(event);
    return Promise.resolve();
  };
}
