/**
 * A KLL quantile sketch (Karnin, Lang, Liberty, "Optimal Quantile Approximation in Streams",
 * FOCS 2016, https://arxiv.org/abs/1603.05346), laid out as Deequ's `QuantileNonSample` and
 * SageMaker Model Monitor's `statistics.json` store it: parameters `c` (shrinking factor) and `k`
 * (sketch size), and `data`, one array of retained items per compactor level, level h weighing 2^h.
 * Where this stands: core profiling (no AWS SDK).
 *
 * Level h holds at most `ceil(k * c^(H - h - 1))` items (H = number of levels, at least 2 each),
 * so the top level holds up to k and lower levels geometrically fewer. A full level is sorted and
 * every other item (random offset, from a seeded generator: deterministic for a given input order)
 * is promoted to the level above with twice the weight.
 *
 * Rank-error bound: Apache DataSketches fits the 99th-percentile measured normalized rank error of
 * its KLL sketch as `2.296 / k^0.9723` (single-sided, quantile/rank/CDF queries) and
 * `2.446 / k^0.9433` (double-sided, PMF queries) — `KllHelper.getNormalizedRankError` in
 * apache/datasketches-java. For k = 2048 that is 0.14 % and 0.18 %. We state the double-sided
 * figure, {@link kllRankErrorBound}, as ours (our `c = 0.64` keeps lower levels slightly smaller
 * than DataSketches' 2/3; the tests and the bench measure the real error against exact ranks).
 */
import type { QuantileSketch } from './api';

/** Default sketch size k (Model Monitor's and Deequ's). */
export const KLL_DEFAULT_K = 2048;
/** Default shrinking factor c of the lower levels' capacities (Model Monitor's and Deequ's). */
export const KLL_DEFAULT_C = 0.64;

/** The stated normalized rank error for sketch size k (double-sided DataSketches fit, see above). */
export function kllRankErrorBound(k: number): number {
  return 2.446 / Math.pow(k, 0.9433);
}

/** Fewest level-0 items compacted at once by updates. */
const LEVEL0_BATCH = 4096;

/** Small deterministic PRNG (xorshift32) for the compaction offsets. */
class XorShift32 {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0 || 0x9e3779b9;
  }
  bit(): number {
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x >>> 0;
    return this.state & 1;
  }
}

/** Parameters of a {@link KllSketch}; the defaults are Model Monitor's. */
export interface KllOptions {
  /** Sketch size (capacity of the top level). @default 2048 */
  readonly k?: number;
  /** Shrinking factor of the lower levels' capacities. @default 0.64 */
  readonly c?: number;
  /** Seed of the compaction coin flips. @default 1 */
  readonly seed?: number;
}

/**
 * The profiler's quantile sketch of a numeric column: values added one at a time (`update`), the
 * sketches of parts read in parallel merged, and stored as Model Monitor's `sketch` object
 * (`toJSON`, `fromJSON`). Memory stays O(k) whatever the count; the same calls in the same order,
 * with the same seed, give the same sketch.
 */
export class KllSketch implements QuantileSketch {
  readonly k: number;
  readonly c: number;
  readonly rankErrorBound: number;
  private n = 0;
  /** Level 0 as a typed buffer (the hot path, unsorted), `size0` items used. */
  private level0: Float64Array;
  private size0 = 0;
  /** Levels 1..H-1 (index 0 unused), each kept sorted, `sizes[h]` items used. */
  private levels: Float64Array[] = [new Float64Array(0)];
  private sizes: number[] = [0];
  /** Items retained above level 0. */
  private upper = 0;
  /** Sum of the levels' capacities: compaction starts only when the sketch holds that many (lazy KLL). */
  private totalCapacity = 0;
  private readonly random: XorShift32;
  private sorted: { values: Float64Array; cumulative: Float64Array } | undefined;

  constructor(options: KllOptions = {}) {
    this.k = options.k ?? KLL_DEFAULT_K;
    this.c = options.c ?? KLL_DEFAULT_C;
    if (!(this.k >= 8) || !(this.c > 0.5 && this.c < 1))
      throw new RangeError(`KLL needs k >= 8 and 0.5 < c < 1, got k=${this.k}, c=${this.c}`);
    this.rankErrorBound = kllRankErrorBound(this.k);
    this.random = new XorShift32(options.seed ?? 1);
    this.level0 = new Float64Array(0);
    this.resize();
  }

  get count(): number {
    return this.n;
  }

  /** Number of retained items (memory is O(k), whatever the count). */
  get retained(): number {
    return this.size0 + this.upper;
  }

  private capacity(height: number): number {
    const depth = this.levels.length - height - 1;
    return Math.max(2, Math.ceil(this.k * Math.pow(this.c, depth)));
  }

  /** Recomputes the total capacity and grows the level-0 buffer to hold it. */
  private resize(): void {
    let total = 0;
    for (let h = 0; h < this.levels.length; h++) total += this.capacity(h);
    this.totalCapacity = total;
    if (this.level0.length < total + LEVEL0_BATCH + 1) {
      const grown = new Float64Array(total + LEVEL0_BATCH + 1);
      grown.set(this.level0.subarray(0, this.size0));
      this.level0 = grown;
    }
  }

  /** Adds one value (NaN is ignored: callers count it as missing). */
  update(value: number): void {
    if (value !== value) return;
    this.level0[this.size0++] = value;
    this.n++;
    this.sorted = undefined;
    // Level 0 is compacted in batches of at least LEVEL0_BATCH items (see flush()).
    if (this.size0 >= LEVEL0_BATCH && this.size0 + this.upper >= this.totalCapacity) this.compress();
  }

  /**
   * Brings the sketch within its nominal capacity. Updates compact level 0 only in batches of
   * {@link LEVEL0_BATCH} (one sort and one cascade per batch instead of one per few dozen items:
   * the profiler's hottest path); reads flush first, so what a sketch reports and serializes is
   * the standard lazy KLL state.
   */
  private flush(): void {
    if (this.size0 + this.upper >= this.totalCapacity) this.compress();
  }

  /** Merges the sorted run `run[0..length)` into sorted level h. */
  private mergeInto(h: number, run: Float64Array, start: number, step: number, end: number): void {
    const count = end > start ? Math.ceil((end - start) / step) : 0;
    if (count === 0) return;
    const old = this.levels[h]!;
    const oldSize = this.sizes[h]!;
    const merged = new Float64Array(Math.max(oldSize + count, 16));
    let i = 0;
    let j = start;
    let o = 0;
    while (i < oldSize && j < end) {
      if (old[i]! <= run[j]!) merged[o++] = old[i++]!;
      else {
        merged[o++] = run[j]!;
        j += step;
      }
    }
    while (i < oldSize) merged[o++] = old[i++]!;
    while (j < end) {
      merged[o++] = run[j]!;
      j += step;
    }
    this.levels[h] = merged;
    this.sizes[h] = o;
  }

  private compress(): void {
    while (this.size0 + this.upper >= this.totalCapacity) {
      let h = -1;
      if (this.size0 >= this.capacity(0)) h = 0;
      else {
        for (let i = 1; i < this.levels.length; i++) {
          if (this.sizes[i]! >= this.capacity(i)) {
            h = i;
            break;
          }
        }
      }
      if (h < 0) break;
      if (h + 1 >= this.levels.length) {
        this.levels.push(new Float64Array(0));
        this.sizes.push(0);
        this.resize();
      }
      let items: Float64Array;
      let length: number;
      if (h === 0) {
        items = this.level0;
        sortFloat64(items, this.size0);
        length = this.size0;
      } else {
        items = this.levels[h]!;
        length = this.sizes[h]!;
      }
      let keep: number | undefined;
      if (length % 2 === 1) {
        // Odd: one item stays at this level (the largest).
        length--;
        keep = items[length]!;
      }
      const before = this.sizes[h + 1]!;
      this.mergeInto(h + 1, items, this.random.bit(), 2, length);
      this.upper += this.sizes[h + 1]! - before;
      if (h === 0) {
        this.size0 = 0;
        if (keep !== undefined) this.level0[this.size0++] = keep;
      } else {
        this.upper -= this.sizes[h]!;
        this.levels[h] = new Float64Array(16);
        this.sizes[h] = 0;
        if (keep !== undefined) {
          this.levels[h]![0] = keep;
          this.sizes[h] = 1;
          this.upper++;
        }
      }
    }
  }

  /** Adds another sketch's items (levels are merged, then compacted). */
  merge(other: QuantileSketch): void {
    this.addLevels(other.toJSON().data);
  }

  /** Adds retained items level by level (`data[h]` weighs 2^h). */
  private addLevels(data: readonly (readonly number[])[]): void {
    let n = 0;
    for (let h = 0; h < data.length; h++) n += data[h]!.length * 2 ** h;
    if (n === 0) return;
    while (this.levels.length < data.length) {
      this.levels.push(new Float64Array(0));
      this.sizes.push(0);
    }
    this.resize();
    const zero = data[0] ?? [];
    if (this.size0 + zero.length + 1 > this.level0.length) {
      const grown = new Float64Array(this.size0 + zero.length + this.totalCapacity + 1);
      grown.set(this.level0.subarray(0, this.size0));
      this.level0 = grown;
    }
    for (const v of zero) this.level0[this.size0++] = v;
    for (let h = 1; h < data.length; h++) {
      const run = Float64Array.from(data[h]!).sort();
      const before = this.sizes[h]!;
      this.mergeInto(h, run, 0, 1, run.length);
      this.upper += this.sizes[h]! - before;
    }
    this.n += n;
    this.sorted = undefined;
    this.compress();
  }

  /** Rebuilds a sketch from Model Monitor's `sketch` object (`data[h]` weighs 2^h). */
  static fromJSON(json: { parameters: { c: number; k: number }; data: number[][] }, seed = 1): KllSketch {
    const sketch = new KllSketch({ k: json.parameters.k, c: json.parameters.c, seed });
    sketch.addLevels(json.data);
    return sketch;
  }

  /** The retained items, sorted, with their cumulative weights (cached until the next update). */
  sortedView(): { values: Float64Array; cumulative: Float64Array } {
    if (this.sorted) return this.sorted;
    this.flush();
    const total = this.retained;
    const pairs = new Float64Array(total);
    const weights = new Float64Array(total);
    let i = 0;
    for (let j = 0; j < this.size0; j++) {
      pairs[i] = this.level0[j]!;
      weights[i++] = 1;
    }
    for (let h = 1; h < this.levels.length; h++) {
      const w = 2 ** h;
      const level = this.levels[h]!;
      for (let j = 0; j < this.sizes[h]!; j++) {
        pairs[i] = level[j]!;
        weights[i++] = w;
      }
    }
    const order = new Uint32Array(total);
    for (let j = 0; j < total; j++) order[j] = j;
    order.sort((a, b) => pairs[a]! - pairs[b]!);
    const values = new Float64Array(total);
    const cumulative = new Float64Array(total);
    let sum = 0;
    for (let j = 0; j < total; j++) {
      values[j] = pairs[order[j]!]!;
      sum += weights[order[j]!]!;
      cumulative[j] = sum;
    }
    this.sorted = { values, cumulative };
    return this.sorted;
  }

  /** The retained item values, sorted ascending (for CDF comparisons at the union of items). */
  sortedValues(): Float64Array {
    return this.sortedView().values;
  }

  quantile(q: number): number {
    if (this.n === 0) return Number.NaN;
    const { values, cumulative } = this.sortedView();
    const total = cumulative[cumulative.length - 1]!;
    const target = Math.min(Math.max(q, 0), 1) * total;
    // First item whose cumulative weight reaches the target.
    let lo = 0;
    let hi = values.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cumulative[mid]! >= target) hi = mid;
      else lo = mid + 1;
    }
    return values[lo]!;
  }

  rank(x: number): number {
    if (this.n === 0) return Number.NaN;
    const { values, cumulative } = this.sortedView();
    // Last item <= x.
    let lo = 0;
    let hi = values.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (values[mid]! <= x) lo = mid + 1;
      else hi = mid;
    }
    return lo === 0 ? 0 : cumulative[lo - 1]! / cumulative[cumulative.length - 1]!;
  }

  toJSON(): { parameters: { c: number; k: number }; data: number[][] } {
    this.flush();
    const data: number[][] = [Array.from(this.level0.subarray(0, this.size0))];
    for (let h = 1; h < this.levels.length; h++)
      data.push(Array.from(this.levels[h]!.subarray(0, this.sizes[h])));
    return { parameters: { c: this.c, k: this.k }, data };
  }
}

/** Scratch space of the radix sort (one per thread: sorting is synchronous). */
let scratch = {
  lo: new Uint32Array(0),
  hi: new Uint32Array(0),
  lo2: new Uint32Array(0),
  hi2: new Uint32Array(0),
};
const counts = new Uint32Array(8 * 256);

/**
 * Sorts a[0..n) ascending in place (no NaN): an LSD radix sort on the order-preserving integer
 * image of the float64 bits, 8 bits a pass, skipping passes where every key has the same digit.
 * Several times faster than TypedArray#sort on the level-0 buffer (the profiler's hottest sort).
 */
function sortFloat64(a: Float64Array, n: number): void {
  if (n < 64) {
    a.subarray(0, n).sort();
    return;
  }
  if (scratch.lo.length < n) {
    const size = Math.max(n, 4096);
    scratch = {
      lo: new Uint32Array(size),
      hi: new Uint32Array(size),
      lo2: new Uint32Array(size),
      hi2: new Uint32Array(size),
    };
  }
  let { lo, hi, lo2, hi2 } = scratch;
  const words = new Uint32Array(a.buffer, a.byteOffset, n * 2);
  counts.fill(0);
  for (let i = 0; i < n; i++) {
    let l = words[2 * i]!;
    let h = words[2 * i + 1]!;
    if (h & 0x80000000) {
      h = ~h >>> 0;
      l = ~l >>> 0;
    } else h = (h | 0x80000000) >>> 0;
    lo[i] = l;
    hi[i] = h;
    counts[l & 255]!++;
    counts[256 + ((l >>> 8) & 255)]!++;
    counts[512 + ((l >>> 16) & 255)]!++;
    counts[768 + (l >>> 24)]!++;
    counts[1024 + (h & 255)]!++;
    counts[1280 + ((h >>> 8) & 255)]!++;
    counts[1536 + ((h >>> 16) & 255)]!++;
    counts[1792 + (h >>> 24)]!++;
  }
  for (let d = 0; d < 8; d++) {
    const base = d * 256;
    const shift = (d & 3) * 8;
    const useHi = d >= 4;
    const first = ((useHi ? hi[0]! : lo[0]!) >>> shift) & 255;
    if (counts[base + first] === n) continue;
    let sum = 0;
    for (let b = 0; b < 256; b++) {
      const c = counts[base + b]!;
      counts[base + b] = sum;
      sum += c;
    }
    for (let i = 0; i < n; i++) {
      const digit = ((useHi ? hi[i]! : lo[i]!) >>> shift) & 255;
      const to = counts[base + digit]!++;
      lo2[to] = lo[i]!;
      hi2[to] = hi[i]!;
    }
    [lo, lo2] = [lo2, lo];
    [hi, hi2] = [hi2, hi];
  }
  for (let i = 0; i < n; i++) {
    let l = lo[i]!;
    let h = hi[i]!;
    if (h & 0x80000000) h = (h & 0x7fffffff) >>> 0;
    else {
      h = ~h >>> 0;
      l = ~l >>> 0;
    }
    words[2 * i] = l;
    words[2 * i + 1] = h;
  }
}
