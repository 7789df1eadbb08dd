/**
 * vitest's asymmetric matchers, typed as the values they stand for. `expect.stringMatching` and
 * the like return `any` (a matcher may stand where a value of any type would); these return the
 * type of the value it stands for, so an expected object that holds one stays typed.
 */
import { expect } from 'vitest';

/** A string that matches `pattern` (`expect.stringMatching`). */
export function stringMatching(pattern: string | RegExp): string {
  return expect.stringMatching(pattern) as string;
}

/** A string that contains `text` (`expect.stringContaining`). */
export function stringContaining(text: string): string {
  return expect.stringContaining(text) as string;
}

/** Any string (`expect.any(String)`). */
export function anyString(): string {
  return expect.any(String) as string;
}

/** An object with at least these properties, equal to them (`expect.objectContaining`). */
export function objectContaining<T extends object>(properties: T): T {
  return expect.objectContaining<unknown>(properties) as T;
}

/** Anything but null or undefined (`expect.anything`). */
export function anything(): unknown {
  return expect.anything() as unknown;
}

/** Any number (`expect.any(Number)`). */
export function anyNumber(): number {
  return expect.any(Number) as number;
}

/** A number within 10^-digits / 2 of `expected` (`expect.closeTo`). */
export function closeTo(expected: number, digits: number): number {
  return expect.closeTo(expected, digits) as number;
}
