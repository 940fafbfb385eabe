import { INDEX_PREFIX, PACK_ID_RE } from './format.js';
import { listPages, type ObjectStore } from './storage.js';

/** Bytes of a pack id (32 hex digits in keys and in the chunk db). */
const PACK_ID_BYTES = 16;

/**
 * One listing of `index/`, compact: the pack ids as one buffer of 16-byte ids in sorted order and
 * their sizes in a Float64Array (24 bytes per index object, about 11 MB at 80 million chunks,
 * against ~1 KB of JavaScript objects per listed object). Read page by page from the store, so the
 * store's listing is never held whole either. Every step of an open or refresh (which packs are
 * new or gone, the index cache's sweep) uses this one listing. Keys under `index/` that are not a
 * pack id (never written by Coffer) are kept apart in `odd`: they can never be a readable index object.
 */
export class IndexListing {
  private constructor(
    private readonly ids: Buffer,
    private readonly sizes: Float64Array,
    /** Names (after `index/`) of listed keys that are not a pack id. */
    readonly odd: readonly string[],
  ) {}

  /** Objects with a pack id as their name. */
  get count(): number {
    return this.sizes.length;
  }

  /** Lists `index/` of the store. */
  static async read(store: ObjectStore): Promise<IndexListing> {
    let ids = Buffer.allocUnsafe(PACK_ID_BYTES * 4096);
    let sizes = new Float64Array(4096);
    let n = 0;
    const odd: string[] = [];
    for await (const page of listPages(store, INDEX_PREFIX)) {
      for (const o of page) {
        const name = o.key.slice(INDEX_PREFIX.length);
        if (!PACK_ID_RE.test(name)) {
          odd.push(name);
          continue;
        }
        if (n === sizes.length) {
          const grownIds = Buffer.allocUnsafe(ids.length * 2);
          ids.copy(grownIds);
          ids = grownIds;
          const grownSizes = new Float64Array(sizes.length * 2);
          grownSizes.set(sizes);
          sizes = grownSizes;
        }
        ids.write(name, n * PACK_ID_BYTES, PACK_ID_BYTES, 'hex');
        sizes[n++] = o.size;
      }
    }
    return IndexListing.sorted(ids.subarray(0, n * PACK_ID_BYTES), sizes.subarray(0, n), odd);
  }

  /** A listing of the given objects (tests, and callers that have a listing at hand). */
  static of(objects: ReadonlyArray<{ packId: string; size: number }>): IndexListing {
    const ids = Buffer.alloc(objects.length * PACK_ID_BYTES);
    const sizes = new Float64Array(objects.length);
    const odd: string[] = [];
    let n = 0;
    for (const o of objects) {
      if (!PACK_ID_RE.test(o.packId)) odd.push(o.packId);
      else {
        ids.write(o.packId, n * PACK_ID_BYTES, PACK_ID_BYTES, 'hex');
        sizes[n++] = o.size;
      }
    }
    return IndexListing.sorted(ids.subarray(0, n * PACK_ID_BYTES), sizes.subarray(0, n), odd);
  }

  /** Sorts by id (byte order, which is the order of the lowercase hex names); a listed id twice is kept once. */
  private static sorted(ids: Buffer, sizes: Float64Array, odd: string[]): IndexListing {
    const n = sizes.length;
    const order = new Uint32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    // ids[a] against ids[b] (Buffer#compare(target, ...targetRange, ...sourceRange) compares the source with the target).
    order.sort((a, b) => ids.compare(ids, b * PACK_ID_BYTES, (b + 1) * PACK_ID_BYTES, a * PACK_ID_BYTES, (a + 1) * PACK_ID_BYTES));
    const outIds = Buffer.allocUnsafe(n * PACK_ID_BYTES);
    const outSizes = new Float64Array(n);
    let m = 0;
    for (let i = 0; i < n; i++) {
      const at = order[i]! * PACK_ID_BYTES;
      if (m > 0 && ids.compare(outIds, (m - 1) * PACK_ID_BYTES, m * PACK_ID_BYTES, at, at + PACK_ID_BYTES) === 0) continue;
      ids.copy(outIds, m * PACK_ID_BYTES, at, at + PACK_ID_BYTES);
      outSizes[m++] = sizes[order[i]!]!;
    }
    return new IndexListing(outIds.subarray(0, m * PACK_ID_BYTES), outSizes.subarray(0, m), odd);
  }

  /** The pack id at position i (0 <= i < count), in sorted order. */
  id(i: number): string {
    return this.ids.toString('hex', i * PACK_ID_BYTES, (i + 1) * PACK_ID_BYTES);
  }

  /** The listed size of the object at position i. */
  size(i: number): number {
    return this.sizes[i]!;
  }

  /** True when the listing holds `index/<packId>` (binary search). */
  has(packId: string): boolean {
    if (!PACK_ID_RE.test(packId)) return this.odd.includes(packId);
    const want = Buffer.from(packId, 'hex');
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const c = this.ids.compare(want, 0, PACK_ID_BYTES, mid * PACK_ID_BYTES, (mid + 1) * PACK_ID_BYTES);
      if (c === 0) return true;
      if (c < 0) lo = mid + 1;
      else hi = mid;
    }
    return false;
  }

  /**
   * Compares the listing with a sequence of pack ids in ascending order (the chunk db's, ORDER BY id)
   * by one merge: `fresh` holds the positions of listed packs the sequence lacks (in order),
   * `gone` the ids of the sequence the listing lacks. Memory: 4 bytes per fresh pack.
   */
  diff(known: Iterable<string>): { fresh: Uint32Array; gone: string[] } {
    const isFresh = new Uint8Array(this.count).fill(1);
    let freshCount = this.count;
    const gone: string[] = [];
    let i = 0;
    let cur = i < this.count ? this.id(i) : undefined;
    for (const k of known) {
      while (cur !== undefined && cur < k) cur = ++i < this.count ? this.id(i) : undefined;
      if (cur === k) {
        isFresh[i] = 0;
        freshCount--;
        cur = ++i < this.count ? this.id(i) : undefined;
      } else gone.push(k);
    }
    const fresh = new Uint32Array(freshCount);
    for (let p = 0, f = 0; p < this.count; p++) if (isFresh[p]) fresh[f++] = p;
    return { fresh, gone };
  }
}
