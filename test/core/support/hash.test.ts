/**
 * The one hash module: outputs pinned (the profiler's sketches and the train/validation split
 * depend on them), the finalizer against MurmurHash3's reference values.
 */
import { describe, expect, it } from 'vitest';
import { fmix32, fnv1a32, hashNumber, hashString } from '../../../core/support/hash';

describe('fmix32', () => {
  it("gives MurmurHash3's fmix32 values, unsigned", () => {
    expect([0, 1, 2, 0x12345678].map(fmix32)).toEqual([0, 0x514e28b7, 0x30f4c306, 0xe37cd1bc]);
  });

  it('reads its input as 32 bits: a negative int32 and its unsigned twin hash alike', () => {
    expect(fmix32(-1)).toBe(fmix32(0xffffffff));
    expect(fmix32(-1)).toBe(0x81f16f39);
  });
});

describe('hashString and hashNumber', () => {
  it('keep their outputs (the sketches of stored profiles were built with them)', () => {
    expect(['', 'a', 'retail', 'Zoë', '😀'].map(hashString)).toEqual([
      2872998923, 3007810216, 1937858141, 2535021367, 227464963,
    ]);
    expect([0, 1, -1.5, 1e300, NaN].map(hashNumber)).toEqual([
      520206547, 1282882179, 3258356485, 880798278, 1959322843,
    ]);
  });

  it('hashes 0 and -0 alike', () => {
    expect(hashNumber(-0)).toBe(hashNumber(0));
  });
});

describe('fnv1a32', () => {
  it('gives the FNV-1a reference values', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
  });
});
