/**
 * Synth-time validation of the stack's props, with exact messages. Where this stands:
 * infrastructure helper; ServerlessMlopsStack calls it before it creates anything, so a bad
 * prop fails `cdk synth` with one clear sentence instead of a CloudFormation error at deploy time.
 */
import { parseModelConfig } from '../../core/domain/model-config';
import { RESOURCE_PREFIX_PATTERN } from '../../core/domain/naming';
import { isPlainObject } from '../../core/support/objects';

/** Lambda caps all environment variables of a function at 4 KB together; leave room for the rest. */
export const MAX_DEFAULT_MODEL_CONFIG_LENGTH = 3000;

/** Throws unless `prefix` matches RESOURCE_PREFIX_PATTERN. */
export function validateResourcePrefix(prefix: unknown): string {
  if (typeof prefix !== 'string' || !RESOURCE_PREFIX_PATTERN.test(prefix)) {
    throw new Error(
      `resourcePrefix ${JSON.stringify(prefix)} is invalid: it must match ${String(RESOURCE_PREFIX_PATTERN)} (1-8 lowercase letters, digits or single hyphens, starting with a letter)`,
    );
  }
  return prefix;
}

/** Throws unless `value` is an integer in [min, max]. */
export function validateInteger(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new Error(
      `${name} must be an integer between ${min} and ${max}, got ${typeof value === 'number' ? String(value) : JSON.stringify(value)}`,
    );
  }
  return value;
}

/**
 * Validates the stack's default model config (a JSON object, given as text or as an object) with
 * the model config schema, and returns it as compact JSON for the DEFAULT_MODEL_CONFIG variable.
 */
export function validateDefaultModelConfig(value: string | Readonly<Record<string, unknown>>): string {
  let raw: unknown;
  if (typeof value === 'string') {
    try {
      raw = JSON.parse(value);
    } catch (error) {
      throw new Error(`defaultModelConfig is not valid JSON: ${(error as Error).message}`, { cause: error });
    }
  } else {
    raw = value;
  }
  if (!isPlainObject(raw)) {
    throw new Error('defaultModelConfig must be a JSON object');
  }
  const text = JSON.stringify(raw);
  const parsed = parseModelConfig(text);
  if (!parsed.ok) {
    throw new Error(`defaultModelConfig is not a valid model config: ${parsed.problems.join('; ')}`);
  }
  if (text.length > MAX_DEFAULT_MODEL_CONFIG_LENGTH) {
    throw new Error(
      `defaultModelConfig is ${text.length} characters of JSON; at most ${MAX_DEFAULT_MODEL_CONFIG_LENGTH} fit in the Lambda environment`,
    );
  }
  return text;
}
