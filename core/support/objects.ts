/**
 * Type guards for values read from JSON, events and files. Where this stands: core support; the
 * core, the local cloud and the Lambda handlers share it.
 */

/**
 * Whether a value is a plain JSON-like object (not null, not an array), so that its members can
 * be read by name. Used wherever untyped input (parsed JSON, an event, a config file) is checked.
 */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
