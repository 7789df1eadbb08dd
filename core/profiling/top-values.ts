/**
 * Most frequent values: the Misra–Gries summary (Misra & Gries, "Finding repeated elements",
 * 1982) with `capacity` counters, mergeable as in Agarwal et al., "Mergeable summaries" (PODS
 * 2012): add the counters, then subtract the (capacity+1)-th largest and drop the non-positive.
 * Each reported count underestimates the true count by at most {@link TopValues.maxError}
 * (≤ n / (capacity + 1)); while no counter was ever decremented, the counts are exact and complete.
 * Counters live in an open-addressing table of typed arrays keyed by the value's 32-bit hash (the
 * one the distinct counter computes); numbers are kept unboxed, so the hot path allocates nothing.
 * Where this stands: core profiling (no AWS SDK).
 */
import { hashNumber, hashString } from '../support/hash';

const TOP_VALUES_CAPACITY = 100;

type Entry = [key: string | number, hash: number, count: number];

/** A column's most frequent values in bounded memory (Misra–Gries counters), exact while few. */
export class TopValues {
  private readonly mask: number;
  private readonly hashes: Uint32Array;
  private readonly counts: Float64Array;
  private readonly numbers: Float64Array;
  private readonly isNumber: Uint8Array;
  private readonly strings: (string | undefined)[];
  private size = 0;
  /** Total amount subtracted from every counter so far (the error bound on each count). */
  private decremented = 0;

  constructor(readonly capacity: number = TOP_VALUES_CAPACITY) {
    let slots = 8;
    while (slots < capacity * 2) slots *= 2;
    this.mask = slots - 1;
    this.hashes = new Uint32Array(slots);
    this.counts = new Float64Array(slots);
    this.numbers = new Float64Array(slots);
    this.isNumber = new Uint8Array(slots);
    this.strings = new Array<string | undefined>(slots).fill(undefined);
  }

  /** Adds a value (numbers are keyed by value, reported as `String(value)`); true when it was already counted. */
  add(
    value: string | number,
    hash = typeof value === 'number' ? hashNumber(value) : hashString(value),
  ): boolean {
    return this.insert(value, hash, 1);
  }

  /** Counts `amount` of a key (a number is kept unboxed in `numbers`, a string in `strings`). */
  private insert(value: string | number, hash: number, amount: number): boolean {
    const isNumber = typeof value === 'number' ? 1 : 0;
    const mask = this.mask;
    let i = hash & mask;
    while (this.counts[i] !== 0) {
      if (
        this.hashes[i] === hash &&
        this.isNumber[i] === isNumber &&
        (isNumber === 1 ? this.numbers[i] : this.strings[i]) === value
      ) {
        this.counts[i] = this.counts[i]! + amount;
        return true;
      }
      i = (i + 1) & mask;
    }
    if (this.size < this.capacity) {
      this.hashes[i] = hash;
      this.counts[i] = amount;
      if (isNumber === 1) this.numbers[i] = value as number;
      else this.strings[i] = value as string;
      this.isNumber[i] = isNumber;
      this.size++;
      return false;
    }
    const left = this.decrement(amount);
    if (left > 0) this.insert(value, hash, left);
    return false;
  }

  /** Full table and a new value: subtract the smallest count from every counter and the new value's; returns what is left of the latter. */
  private decrement(amount: number): number {
    let min = amount;
    // Counters are >= 1: with amount 1 (every add) the minimum is 1 without a scan.
    if (amount > 1) {
      for (let j = 0; j <= this.mask; j++) {
        const c = this.counts[j]!;
        if (c > 0 && c < min) min = c;
      }
    }
    this.decremented += min;
    let survive = 0;
    for (let j = 0; j <= this.mask; j++) if (this.counts[j]! > min) survive++;
    if (survive === 0) {
      // The common case on high-cardinality columns: every counter reaches zero.
      this.counts.fill(0);
      if (this.strings.length > 0) this.strings.fill(undefined);
      this.size = 0;
      return amount - min;
    }
    const survivors: Entry[] = [];
    for (let j = 0; j <= this.mask; j++) {
      const c = this.counts[j]!;
      if (c > min) survivors.push([this.keyAt(j), this.hashes[j]!, c - min]);
    }
    this.rebuild(survivors);
    return amount - min;
  }

  private keyAt(j: number): string | number {
    return this.isNumber[j] === 1 ? this.numbers[j]! : this.strings[j]!;
  }

  private rebuild(entries: readonly Entry[]): void {
    this.counts.fill(0);
    this.strings.fill(undefined);
    this.size = 0;
    for (const [key, hash, count] of entries) this.insert(key, hash, count);
  }

  private entries(): Entry[] {
    const out: Entry[] = [];
    for (let j = 0; j <= this.mask; j++)
      if (this.counts[j]! > 0) out.push([this.keyAt(j), this.hashes[j]!, this.counts[j]!]);
    return out;
  }

  /** Plain data (structured-clone friendly) to ship or store the summary. */
  toState(): { capacity: number; entries: Entry[]; decremented: number } {
    return { capacity: this.capacity, entries: this.entries(), decremented: this.decremented };
  }

  static fromState(state: { capacity: number; entries: Entry[]; decremented: number }): TopValues {
    const top = new TopValues(state.capacity);
    top.rebuild(state.entries);
    top.decremented = state.decremented;
    return top;
  }

  merge(other: TopValues): void {
    const sums = new Map<string | number, Entry>();
    for (const entry of [...this.entries(), ...other.entries()]) {
      const existing = sums.get(entry[0]);
      if (existing) existing[2] += entry[2];
      else sums.set(entry[0], [...entry]);
    }
    this.decremented += other.decremented;
    let all = [...sums.values()];
    if (all.length > this.capacity) {
      all.sort((a, b) => b[2] - a[2]);
      const cut = all[this.capacity]![2];
      this.decremented += cut;
      all = all.filter((e) => e[2] > cut).map(([key, hash, count]): Entry => [key, hash, count - cut]);
    }
    this.rebuild(all);
  }

  /** True when no counter was ever decremented: every count is exact and every value is listed. */
  get exact(): boolean {
    return this.decremented === 0;
  }

  /** Upper bound on how much any reported count underestimates the true count. */
  get maxError(): number {
    return this.decremented;
  }

  /** The `limit` most frequent values, most frequent first (ties by value, for stable output). */
  top(limit = this.capacity): { value: string; count: number }[] {
    return this.entries()
      .sort((a, b) => b[2] - a[2] || compareKeys(a[0], b[0]))
      .slice(0, limit)
      .map(([value, , count]) => ({ value: String(value), count }));
  }
}

function compareKeys(a: string | number, b: string | number): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const x = String(a);
  const y = String(b);
  return x < y ? -1 : x > y ? 1 : 0;
}
