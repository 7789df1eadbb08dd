/**
 * Reads the JSON body of a request to the local control API: an object (an empty body is `{}`)
 * with no field beyond the ones the route knows (when it names them). Where this stands: local cloud plumbing, shared by
 * the control server's routes (fault injection, dead-letter redrive).
 */
import { isPlainObject } from '../core/support/objects';

/**
 * The body's fields, or a message naming the problem (not JSON, not an object, the first unknown
 * field), for the route to answer 400 with.
 */
export function parseBodyFields<K extends string>(
  text: string,
  known?: readonly K[],
): Partial<Record<K, unknown>> | string {
  let raw: unknown;
  try {
    raw = JSON.parse(text || '{}');
  } catch {
    return 'the body is not JSON';
  }
  if (!isPlainObject(raw)) return 'the body must be a JSON object';
  if (known === undefined) return raw as Partial<Record<K, unknown>>;
  const unknown = Object.keys(raw).find((field) => !(known as readonly string[]).includes(field));
  if (unknown !== undefined) return `unknown field ${unknown}`;
  return raw as Partial<Record<K, unknown>>;
}
