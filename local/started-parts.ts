/**
 * What a start has started so far, so that a step failing half-way stops the rest instead of
 * leaving servers and JVMs behind. Where this stands: local runtime; `LocalCloud.start`
 * (local/cloud.ts) and the steps it calls register each part as it comes up.
 */

/** Anything started that can be stopped. */
export interface StoppablePart {
  stop(): Promise<void> | void;
}

/** The parts started so far, stopped newest first when the start fails. */
export class StartedParts {
  private readonly parts: StoppablePart[] = [];

  /** Registers a part that has started; returns it. */
  add<T extends StoppablePart>(part: T): T {
    this.parts.push(part);
    return part;
  }

  /** Registers a stop function (a restore, a close) as a part. */
  onStop(stop: () => Promise<void> | void): void {
    this.parts.push({ stop });
  }

  /** Stops every part, newest first; a part failing to stop does not keep the others running. */
  async stopAll(): Promise<void> {
    for (const part of this.parts.reverse()) await Promise.resolve(part.stop()).catch(() => undefined);
  }
}
