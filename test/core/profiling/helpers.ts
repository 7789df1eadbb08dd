/** Test helpers for the profiling tests: byte streams and seeded data. */
export const encoder = new TextEncoder();

/** `data` as a byte stream, as the readers take it, in chunks of `size` bytes. */
// The bytes are at hand: nothing to await.
// eslint-disable-next-line @typescript-eslint/require-await
export async function* chunks(data: Uint8Array | string, size = 1 << 16): AsyncGenerator<Uint8Array> {
  const bytes = typeof data === 'string' ? encoder.encode(data) : data;
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

/** Mulberry32. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function gaussian(rnd: () => number): number {
  return Math.sqrt(-2 * Math.log(rnd() || 1e-12)) * Math.cos(2 * Math.PI * rnd());
}

/** Exact normalized rank range [lt, le] of v in sorted data. */
export function exactRank(sorted: Float64Array, v: number): [number, number] {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < v) lo = mid + 1;
    else hi = mid;
  }
  const lt = lo;
  hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! <= v) lo = mid + 1;
    else hi = mid;
  }
  return [lt / sorted.length, lo / sorted.length];
}

export function rankError(sorted: Float64Array, v: number, q: number): number {
  const [lt, le] = exactRank(sorted, v);
  return q >= lt && q <= le ? 0 : Math.min(Math.abs(q - lt), Math.abs(q - le));
}
