/**
 * Reading AWS SDK v3 errors. Where this stands: adapter helper. SDK v3 errors are `Error`s whose
 * `name` is the service's error code (`ValidationException`, `ResourceInUse`, `NoSuchKey`...),
 * modelled or not; the message is the service's message.
 */

/** The error code of an SDK error, or undefined for something that is not an Error. */
export function errorName(error: unknown): string | undefined {
  return error instanceof Error ? error.name : undefined;
}

/** The error's message ('' when there is none). */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** True when `error` has code `name` and its message contains `fragment` (case-insensitive). */
export function isErrorWith(error: unknown, name: string, fragment: string): boolean {
  return errorName(error) === name && errorMessage(error).toLowerCase().includes(fragment.toLowerCase());
}
