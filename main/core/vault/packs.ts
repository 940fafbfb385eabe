import { CofferError, isOutOfSpace } from '../errors.js';
import type { ChunkLookup } from './chunk-index.js';
import type { VaultKeys } from './config.js';
import { open, seal } from './crypto.js';
import { decodeIndex, encodeIndex, INDEX_PREFIX, indexKey, newPackId, PACK_ID_RE, PACK_TARGET_SIZE, packKey, type DecodedIndex } from './format.js';
import type { IndexCache } from './index-cache.js';
import { IndexListing } from './index-listing.js';
import { listPages, type ObjectInfo, type ObjectStore } from './storage.js';

/** Every pack starts with this 8-byte header ("CFXP", version 1, 3 reserved bytes); blobs follow. */
export const PACK_HEADER = Buffer.from([0x43, 0x46, 0x58, 0x50, 1, 0, 0, 0]);

export const indexAad = (packId: string): Buffer => Buffer.from(`index:${packId}`);

/** Storage errors with a stable meaning become Coffer errors (ENOSPC -> StorageFull). */
export function mapStoreError(e: unknown): unknown {
  if (isOutOfSpace(e)) return new CofferError('StorageFull', undefined, { cause: String(e.message) });
  return e;
}

/** Test-only crash hook (COFFER_TEST_CRASH_AT=pack|index|manifest|gc): dies while that write or delete is in flight. */
export function crashPoint(stage: 'pack' | 'index' | 'manifest' | 'gc', count = 1): void {
  if (process.env.COFFER_TEST_CRASH_AT !== stage) return;
  const after = Number(process.env.COFFER_TEST_CRASH_AFTER ?? '1');
  if (count >= after) process.kill(process.pid, 'SIGKILL');
}

interface Entry {
  id: Buffer;
  offset: number;
  length: number;
  rawLength: number;
  flags: number;
}

/**
 * Appends sealed chunks into pack files of about PACK_TARGET_SIZE. A pack is written (atomic put),
 * then its index object; only then are its chunks added to the vault index, so anything that
 * the index names is durable, and a manifest written after finish() references durable data only.
 */
export class PackWriter {
  private buf: Buffer;
  private used = PACK_HEADER.length;
  private entries: Entry[] = [];
  /** Packs being stored (one flush slot each). */
  private readonly flushing = new Set<Promise<void>>();
  /** Packs whose pack or index object is still being written. */
  private readonly writing = new Set<Promise<void>>();
  private failure: unknown;
  packsWritten = 0;
  /** Ids of the packs this writer made. */
  readonly written = new Set<string>();
  /** Bytes of the packs and index objects in the store (their puts resolved): what went out. */
  bytesWritten = 0;
  /** Number of the pack being filled (packs are numbered from 1 in the order they are closed). */
  private filling = 1;
  /** Every pack up to this number is durable (its pack and index objects written). */
  durableThrough = 0;
  private durableAbove = new Set<number>();

  constructor(
    private readonly store: ObjectStore,
    private readonly keys: VaultKeys,
    private readonly index: ChunkLookup,
    private readonly target = PACK_TARGET_SIZE,
    private readonly maxFlushing = 2,
  ) {
    this.buf = this.fresh(0);
  }

  /** Pack buffers are reused once written: fresh 32 MiB allocations pile up faster than GC frees them. */
  private readonly free: Buffer[] = [];

  private fresh(extra: number): Buffer {
    const reuse = extra === 0 ? this.free.pop() : undefined;
    const size = this.target + extra + PACK_HEADER.length;
    const b = reuse ?? this.store.allocPutBuffer?.(size) ?? Buffer.allocUnsafe(size);
    PACK_HEADER.copy(b, 0);
    return b;
  }

  private tail: Promise<void> = Promise.resolve();

  /**
   * Adds one blob holding several sealed chunks back to back; calls are serialised. Resolves with
   * the number of the pack that holds them: they are durable once `durableThrough` reaches it.
   */
  add(blob: Buffer, ids: Buffer, lens: Uint32Array, rawLens: Uint32Array, flags: Uint8Array): Promise<number> {
    const p = this.tail.then(() => this.addNow(blob, ids, lens, rawLens, flags));
    this.tail = p.then(
      () => undefined,
      () => undefined,
    );
    return p;
  }

  private async addNow(blob: Buffer, ids: Buffer, lens: Uint32Array, rawLens: Uint32Array, flags: Uint8Array): Promise<number> {
    if (this.failure) throw this.failure;
    if (this.used + blob.length > this.buf.length) {
      if (this.entries.length > 0) await this.flush();
      if (this.used + blob.length > this.buf.length) this.buf = this.fresh(blob.length);
    }
    blob.copy(this.buf, this.used);
    let off = this.used;
    for (let j = 0; j < lens.length; j++) {
      this.entries.push({ id: Buffer.from(ids.subarray(j * 32, j * 32 + 32)), offset: off, length: lens[j]!, rawLength: rawLens[j]!, flags: flags[j]! });
      off += lens[j]!;
    }
    this.used = off;
    const packNo = this.filling;
    if (this.used >= this.target) await this.flush();
    return packNo;
  }

  /** Adds one already sealed chunk (repack copies blobs without decrypting them). */
  async addRaw(id: Buffer, blob: Buffer, rawLength: number, flags: number): Promise<void> {
    await this.add(blob, id, Uint32Array.of(blob.length), Uint32Array.of(rawLength), Uint8Array.of(flags));
  }

  /**
   * Starts writing the filled pack. A flush slot (maxFlushing of them) and the pack buffer are
   * held until the pack object is stored; its index object follows outside the slot, so the next
   * pack's upload does not wait for that extra round trip (on azurite each put also waits for an
   * fdatasync). The order that makes a crash harmless stays: pack, then index, then the chunks
   * in the vault index and durableThrough.
   */
  private async flush(): Promise<void> {
    while (this.flushing.size >= this.maxFlushing || this.writing.size >= 2 * this.maxFlushing) await Promise.race([...this.flushing, ...this.writing]);
    if (this.failure) throw this.failure;
    const whole = this.buf;
    const data = whole.subarray(0, this.used);
    const entries = this.entries;
    this.buf = this.fresh(0);
    this.used = PACK_HEADER.length;
    this.entries = [];
    const packNo = this.filling++;
    const packId = newPackId();
    const putPack = this.store.put(packKey(packId), data);
    if (process.env.COFFER_TEST_CRASH_AT === 'pack') {
      // Test hook: dies while pack number COFFER_TEST_CRASH_AFTER (packNo counts from 1) is on its
      // way, once the packs before it are durable. Counting durable packs alone let a slow store
      // start every pack of a backup before the first index was written, and never crash.
      while (this.packsWritten < packNo - 1 && this.writing.size > 0) await Promise.race(this.writing);
      crashPoint('pack', packNo);
    }
    const stored = putPack.then(() => {
      if (whole.length === this.target + PACK_HEADER.length) this.free.push(whole);
    });
    const done = stored.then(() => this.writeIndex(packId, data.length, entries)).then(
      () => {
        this.durableAbove.add(packNo);
        while (this.durableAbove.delete(this.durableThrough + 1)) this.durableThrough++;
      },
      (e) => {
        this.failure ??= mapStoreError(e);
      },
    );
    const slot = stored.catch(() => undefined);
    this.flushing.add(slot);
    void slot.finally(() => this.flushing.delete(slot));
    this.writing.add(done);
    void done.finally(() => this.writing.delete(done));
  }

  private async writeIndex(packId: string, packBytes: number, entries: Entry[]): Promise<void> {
    const idx = seal(this.keys.encKey, encodeIndex(packId, entries), indexAad(packId));
    const putIndex = this.store.put(indexKey(packId), idx);
    crashPoint('index', this.packsWritten + 1);
    await putIndex;
    this.packsWritten++;
    this.written.add(packId);
    this.bytesWritten += packBytes + idx.length;
    this.index.addPack(packId, entries);
  }

  /** Writes what is left and waits until every pack and index is durable. */
  async finish(): Promise<void> {
    await this.tail;
    if (this.entries.length > 0 && !this.failure) await this.flush();
    await Promise.all(this.writing);
    if (this.failure) throw this.failure;
  }

  /** Waits for writes in flight without writing the rest (used when a backup fails or is cancelled). */
  async abandon(): Promise<void> {
    await this.tail;
    this.entries = [];
    await Promise.all(this.writing);
  }
}

/** How loadIndexes reads (every option is optional: prune and verify read everything from the store). */
export interface LoadIndexOptions {
  /**
   * Which listed objects to read, given the listing (positions in it, ascending); every one when
   * absent or when it resolves undefined. Runs once, after the listing and before any read: the
   * chunk db compares the listing with what it holds here.
   */
  select?: (listing: IndexListing) => Promise<Uint32Array | undefined>;
  /** Called once with the listing, before any read (prune, GC and verify number the packs from it). */
  onListing?: (listing: IndexListing) => void;
  /** Sealed objects already read (prefetchIndexes), by key; each is used once and dropped. */
  prefetched?: Map<string, Buffer>;
  cache?: IndexCache;
}

/**
 * Reads and decrypts the index objects of one listing of `index/` (IndexListing: compact, read
 * page by page); unreadable ones are reported, not fatal. With a cache (index-cache.ts), an object
 * the cache holds with the listed size and that authenticates is not read from the store; one
 * fetched from the store is cached; cached objects the listing lacks are dropped.
 */
export async function loadIndexes(
  store: ObjectStore,
  keys: VaultKeys,
  onIndex: (d: DecodedIndex) => void,
  opts: LoadIndexOptions = {},
): Promise<{ loaded: number; bad: string[]; listing: IndexListing }> {
  const { prefetched, cache } = opts;
  const listedAt = Date.now();
  const listing = await IndexListing.read(store);
  // A key under index/ that is no pack id was never written by Coffer: unreadable as an index object.
  const bad: string[] = [...listing.odd];
  let loaded = 0;
  opts.onListing?.(listing);
  const picked = await opts.select?.(listing);
  const total = picked ? picked.length : listing.count;
  let next = 0;
  const decode = (packId: string, blob: Buffer): DecodedIndex => decodeSealedIndex(keys, packId, blob);
  const readOne = async (): Promise<void> => {
    for (let n = next++; n < total; n = next++) {
      const at = picked ? picked[n]! : n;
      const packId = listing.id(at);
      const key = indexKey(packId);
      let d: DecodedIndex | undefined;
      const cached = cache ? await cache.read(packId) : undefined;
      if (cached) {
        try {
          if (cached.length !== listing.size(at)) throw new Error('size differs from the listing');
          d = decode(packId, cached);
        } catch {
          await cache!.drop(packId); // stale or damaged: the store's copy decides
        }
      }
      if (!d) {
        try {
          const early = prefetched?.get(key);
          prefetched?.delete(key); // held once: the load frees what it used
          const blob = early ?? (await store.get(key));
          d = decode(packId, blob);
          if (cache) await cache.save(packId, blob);
        } catch {
          bad.push(packId);
          continue;
        }
      }
      onIndex(d);
      loaded++;
    }
  };
  await Promise.all(Array.from({ length: 8 }, readOne));
  await cache?.retain(listing, listedAt);
  return { loaded, bad, listing };
}

/** Opens and decodes a sealed index object; throws when it does not authenticate or names another pack. */
export function decodeSealedIndex(keys: VaultKeys, packId: string, blob: Buffer): DecodedIndex {
  const d = decodeIndex(open(keys.encKey, blob, indexAad(packId), 'index'));
  if (d.packId !== packId) throw new Error('index names another pack');
  return d;
}

/** The cached index object of packId, decoded, or undefined when the cache lacks it or it fails its check. Never throws. */
export async function decodeCachedIndex(cache: IndexCache, keys: VaultKeys, packId: string): Promise<DecodedIndex | undefined> {
  const blob = PACK_ID_RE.test(packId) ? await cache.read(packId) : undefined;
  try {
    return blob && decodeSealedIndex(keys, packId, blob);
  } catch {
    return undefined;
  }
}

/** Bytes of index objects a prefetch holds at most: RAM that must not grow with the vault (80M chunks are 3.6 GB of them). */
export const PREFETCH_BYTES = 32 * 1024 * 1024;

/**
 * Reads index objects without decrypting them (Vault.open overlaps this with scrypt), up to
 * PREFETCH_BYTES of them: the rest are read by the load itself. Only the first pages of the
 * listing are read (the load lists again, after the lock). Never throws.
 */
export async function prefetchIndexes(store: ObjectStore, budget = PREFETCH_BYTES): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  try {
    const queue: ObjectInfo[] = [];
    let bytes = 0;
    pages: for await (const page of listPages(store, INDEX_PREFIX)) {
      for (const o of page) {
        if (bytes + o.size > budget) break pages;
        bytes += o.size;
        queue.push(o);
      }
    }
    const readOne = async (): Promise<void> => {
      for (let o = queue.shift(); o; o = queue.shift()) {
        const b = await store.get(o.key).catch(() => undefined);
        if (b) out.set(o.key, b);
      }
    };
    await Promise.all(Array.from({ length: 8 }, readOne));
  } catch {
    // The real load reports problems; a prefetch only saves time.
  }
  return out;
}
