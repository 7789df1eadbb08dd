/**
 * Polling for tests of things that happen in the background (the local cloud's event bus,
 * training processes, endpoints). Where this stands: test infrastructure.
 */

/**
 * Calls `probe` every `intervalMs` until it answers something other than `undefined`, and returns
 * that; throws `timed out waiting for <what>` after `timeoutMs`.
 */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  intervalMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
