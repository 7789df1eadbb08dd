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

/**
 * The JSON object a line of text holds, or undefined when it holds anything else (not JSON, an
 * array, a number...). For log lines that may or may not be structured: EMF documents, Powertools
 * records.
 */
export function parseJsonObject(text: string): Record<string, unknown> | undefined {
  const trimmed = text.trim();
  // Cheap refusal of the many lines that are plain text, before JSON.parse throws on them.
  if (!trimmed.startsWith('{') || !trimmed.endsWith('}')) return undefined;
  try {
    const value: unknown = JSON.parse(trimmed);
    return isPlainObject(value) ? value : undefined;
  } catch {
    return undefined;
  }
}
