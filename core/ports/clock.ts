/** Port: time, injectable so that tests and replays are deterministic. */
export interface Clock {
  /** The current time. The use cases take every timestamp they write from here, never from `Date`. */
  now(): Date;
}

/** The real clock: the one the handlers' context and the local cloud's context use. */
export const systemClock: Clock = { now: () => new Date() };
