/**
 * Fast non-cryptographic 32-bit hashes. Where this stands: core support; the profiler's sketches
 * (distinct counts, top values) hash values with it and dataset preparation splits rows with it.
 * The outputs are pinned by tests (split assignments, sketch results): changing one changes which
 * rows go to validation and what the sketches estimate.
 */

/**
 * MurmurHash3's 32-bit finalizer (fmix32): spreads the bits of a 32-bit integer over the whole
 * word, so consecutive inputs give unrelated outputs. Returns an unsigned 32-bit integer.
 */
export function fmix32(x: number): number {
  let h = x;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** 32-bit hash of a string (MurmurHash3's mixing over UTF-16 code units, then {@link fmix32}). */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  const length = s.length;
  for (let i = 0; i < length; i++) {
    let k = s.charCodeAt(i);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  return fmix32(h ^ length);
}

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);

/** 32-bit hash of a number's float64 bits (0 and -0 alike), for sketches keyed by value. */
export function hashNumber(x: number): number {
  f64[0] = x === 0 ? 0 : x;
  // Both halves of the float are folded in with MurmurHash3's constants before a last mix.
  let h = Math.imul(u32[0]! ^ 0x9e3779b9, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h ^ u32[1]!, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h >>> 0;
}

/** 32-bit FNV-1a over a string's UTF-16 code units: short, stable ids and seeds from text. */
export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
