import { ID_LEN, type ChunkLocation } from './format.js';

/** One chunk of a pack as a writer records it (PackWriter, repack). */
export interface PackEntry {
  id: Uint8Array;
  offset: number;
  length: number;
  rawLength: number;
  flags: number;
}

/**
 * What the engine asks of a vault's chunk index: the in-memory ChunkIndex below (sessions,
 * scratch indexes, vaults opened without a cache folder) or the on-disk ChunkDb (chunk-db.ts).
 * Ids are read at byte offset `off` of `id`.
 */
export interface ChunkLookup {
  /** Chunks indexed (for ChunkDb: entries of the packs it knows, a copy in two packs counted twice). */
  readonly size: number;
  get(id: Uint8Array, off?: number): ChunkLocation | undefined;
  has(id: Uint8Array, off?: number): boolean;
  /** The pack that holds id, or undefined (the hot path of dedup: no ChunkLocation built). */
  packOf(id: Uint8Array, off?: number): string | undefined;
  /** Records a pack just written (its pack and index objects are durable). */
  addPack(packId: string, entries: readonly PackEntry[]): void;
  /** Optional (the on-disk index): see ChunkDb.goneCount, pointPacks and recordPointPacks. */
  goneCount?(): number;
  pointPacks?(pointId: string, gone: number): string[] | undefined;
  recordPointPacks?(pointId: string, packs: Iterable<string>, gone: number, supersedes: Iterable<string>): void;
}

/**
 * In-memory map chunk id -> location, kept compact for large vaults: ids live in one growable
 * byte array, locations in typed arrays, and an open-addressing table of Int32 slots points into
 * them (about 56 bytes per chunk instead of several hundred for a Map of strings).
 * Chunk ids are HMAC outputs, so their first bytes are already a uniform hash.
 */
export class ChunkIndex implements ChunkLookup {
  private ids = new Uint8Array(0);
  private packNo: Uint32Array<ArrayBuffer> = new Uint32Array(0);
  private offsets = new Uint32Array(0);
  private lengths = new Uint32Array(0);
  private rawLengths = new Uint32Array(0);
  private flagsArr = new Uint8Array(0);
  private slots = new Int32Array(1024);
  private mask = 1023;
  private n = 0;
  private packs: string[] = [];
  private packNumbers = new Map<string, number>();

  get size(): number {
    return this.n;
  }

  private slotOf(id: Uint8Array, off: number): number {
    return (id[off]! | (id[off + 1]! << 8) | (id[off + 2]! << 16) | (id[off + 3]! << 24)) & this.mask;
  }

  private equalsAt(entry: number, id: Uint8Array, off: number): boolean {
    const base = entry * ID_LEN;
    const ids = this.ids;
    for (let i = 0; i < ID_LEN; i++) if (ids[base + i] !== id[off + i]) return false;
    return true;
  }

  /** Entry number of id (at byte offset off of id), or -1. */
  find(id: Uint8Array, off = 0): number {
    let s = this.slotOf(id, off);
    for (;;) {
      const v = this.slots[s]!;
      if (v === 0) return -1;
      if (this.equalsAt(v - 1, id, off)) return v - 1;
      s = (s + 1) & this.mask;
    }
  }

  has(id: Uint8Array, off = 0): boolean {
    return this.find(id, off) >= 0;
  }

  get(id: Uint8Array, off = 0): ChunkLocation | undefined {
    const e = this.find(id, off);
    return e < 0 ? undefined : this.at(e);
  }

  /** The pack id of entry e (without building a ChunkLocation). */
  packAt(e: number): string {
    return this.packs[this.packNo[e]!]!;
  }

  packOf(id: Uint8Array, off = 0): string | undefined {
    const e = this.find(id, off);
    return e < 0 ? undefined : this.packAt(e);
  }

  addPack(packId: string, entries: readonly PackEntry[]): void {
    for (const e of entries) this.add(e.id, 0, { pack: packId, offset: e.offset, length: e.length, rawLength: e.rawLength, flags: e.flags });
  }

  at(e: number): ChunkLocation {
    return {
      pack: this.packs[this.packNo[e]!]!,
      offset: this.offsets[e]!,
      length: this.lengths[e]!,
      rawLength: this.rawLengths[e]!,
      flags: this.flagsArr[e]!,
    };
  }

  private grow(): void {
    const cap = Math.max(1024, this.packNo.length * 2);
    const ids = new Uint8Array(cap * ID_LEN);
    ids.set(this.ids);
    this.ids = ids;
    const re32 = (a: Uint32Array): Uint32Array<ArrayBuffer> => {
      const b = new Uint32Array(cap);
      b.set(a);
      return b;
    };
    this.packNo = re32(this.packNo);
    this.offsets = re32(this.offsets);
    this.lengths = re32(this.lengths);
    this.rawLengths = re32(this.rawLengths);
    const f = new Uint8Array(cap);
    f.set(this.flagsArr);
    this.flagsArr = f;
  }

  private rehash(): void {
    const size = this.slots.length * 2;
    this.slots = new Int32Array(size);
    this.mask = size - 1;
    for (let e = 0; e < this.n; e++) {
      let s = this.slotOf(this.ids, e * ID_LEN);
      while (this.slots[s] !== 0) s = (s + 1) & this.mask;
      this.slots[s] = e + 1;
    }
  }

  /** Adds id unless present (the first stored copy wins). Returns true when added. */
  add(id: Uint8Array, off: number, loc: ChunkLocation): boolean {
    if (this.find(id, off) >= 0) return false;
    if (this.n === this.packNo.length) this.grow();
    if ((this.n + 1) * 2 > this.slots.length) this.rehash();
    let p = this.packNumbers.get(loc.pack);
    if (p === undefined) {
      p = this.packs.length;
      this.packs.push(loc.pack);
      this.packNumbers.set(loc.pack, p);
    }
    const e = this.n++;
    this.ids.set(id.subarray(off, off + ID_LEN), e * ID_LEN);
    this.packNo[e] = p;
    this.offsets[e] = loc.offset;
    this.lengths[e] = loc.length;
    this.rawLengths[e] = loc.rawLength;
    this.flagsArr[e] = loc.flags;
    let s = this.slotOf(id, off);
    while (this.slots[s] !== 0) s = (s + 1) & this.mask;
    this.slots[s] = e + 1;
    return true;
  }
}
