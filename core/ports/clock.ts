/** Port: time, injectable so that tests and replays are deterministic. */
export interface Clock {
  now(): Date;
}

/** The real clock. */
export const systemClock: Clock = { now: () => new Date() };
