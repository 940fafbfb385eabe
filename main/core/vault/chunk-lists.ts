import { createHash, createHmac } from 'node:crypto';
import { CofferError } from '../errors.js';
import type { VaultKeys } from './config.js';
import { open, seal } from './crypto.js';
import { CHUNK_LIST_ID_RE, CHUNK_LIST_PREFIX, CHUNK_LIST_RUN, chunkListKey, ID_LEN, type ChunkListRef, type DiskEntry } from './format.js';
import { ObjectNotFound, type ObjectStore } from './storage.js';

/**
 * Version 2 chunk lists (docs/vault-format.md "Chunk lists"): a disk's chunk ids live in objects
 * of their own, `chunklists/<runId>`, each holding up to CHUNK_LIST_RUN consecutive ids, so a
 * manifest names a few hundred runs instead of carrying 256 MiB of ids per TiB, and a reader holds
 * one run at a time. Runs of zero chunks are one record (a 2 TiB hole is a few bytes), and a run's
 * name is a keyed hash of its content: the same run (an unchanged stretch, a hole) is one object
 * shared by every point that has it. Objects no manifest names are removed by GC only.
 */

const MAGIC = Buffer.from('CFXL');
const KIND_ZERO = 0;
const KIND_IDS = 1;

const aad = (runId: string): Buffer => Buffer.from(`chunklist:${runId}`);

/** A run's name: HMAC-SHA256(macKey, "coffer-chunklist\0" || SHA-256(plaintext)), hex. */
export function runIdOf(keys: VaultKeys, plain: Uint8Array): string {
  const d = createHash('sha256').update(plain).digest();
  return createHmac('sha256', keys.macKey).update('coffer-chunklist\0').update(d).digest('hex');
}

/**
 * Plaintext of one run: "CFXL" | u8 version=1 | u32 count | records, each
 * u8 kind | u32 n | (kind 1: n ids of 32 bytes). Kind 0: n zero chunks (no bytes follow).
 */
export function encodeRun(ids: Uint8Array): Buffer {
  const count = ids.length / ID_LEN;
  const parts: Buffer[] = [];
  const head = Buffer.alloc(9);
  MAGIC.copy(head, 0);
  head[4] = 1;
  head.writeUInt32LE(count, 5);
  parts.push(head);
  const buf = Buffer.from(ids.buffer, ids.byteOffset, ids.byteLength);
  for (let i = 0; i < count; ) {
    const zero = isZeroIdAt(buf, i);
    const j = zero ? zeroIdsEnd(buf, i, count) : dataIdsEnd(buf, i, count);
    const rec = Buffer.alloc(5);
    rec[0] = zero ? KIND_ZERO : KIND_IDS;
    rec.writeUInt32LE(j - i, 1);
    parts.push(rec);
    if (!zero) parts.push(Buffer.from(ids.buffer, ids.byteOffset + i * ID_LEN, (j - i) * ID_LEN));
    i = j;
  }
  return Buffer.concat(parts);
}

const ZERO_BLOCK_IDS = 256;
const ZEROS = Buffer.alloc(ZERO_BLOCK_IDS * ID_LEN);

/** Whether id number `i` of `ids` is all zero (a zero chunk). */
export function isZeroIdAt(ids: Buffer, i: number): boolean {
  return ZEROS.compare(ids, i * ID_LEN, (i + 1) * ID_LEN, 0, ID_LEN) === 0;
}

/** The first id at or after `from` (below `count`) that is not zero, else `count`: holes are skipped 256 ids per compare. */
export function zeroIdsEnd(ids: Buffer, from: number, count: number): number {
  let j = from;
  while (j + ZERO_BLOCK_IDS <= count && ZEROS.compare(ids, j * ID_LEN, (j + ZERO_BLOCK_IDS) * ID_LEN) === 0) j += ZERO_BLOCK_IDS;
  while (j < count && isZeroIdAt(ids, j)) j++;
  return j;
}

/** The first id at or after `from` (below `count`) that is zero, else `count`. */
function dataIdsEnd(ids: Buffer, from: number, count: number): number {
  let j = from;
  while (j < count && !isZeroIdAt(ids, j)) j++;
  return j;
}

/** The ids of a run that is all zero chunks, shared: read only. */
const ZERO_RUN = Buffer.alloc(CHUNK_LIST_RUN * ID_LEN);

/**
 * Whether `ids` (from readRun, forEachChunkRun or ChunkListReader) is a run stored as one hole:
 * every id zero, known without looking at them.
 */
export function isZeroRun(ids: Buffer): boolean {
  return ids.buffer === ZERO_RUN.buffer && ids.length > 0;
}

/** Inverse of encodeRun (a run that is one hole answers a read-only view, see isZeroRun): the run's ids (zero chunks as 32 zero bytes). */
export function decodeRun(plain: Buffer, runId: string): Buffer {
  const bad = (why: string): CofferError => new CofferError('ChunkCorrupt', `Chunk list ${runId} is not readable: ${why}.`, { chunkList: runId });
  if (plain.length < 9 || !plain.subarray(0, 4).equals(MAGIC) || plain[4] !== 1) throw bad('not a Coffer chunk list');
  const count = plain.readUInt32LE(5);
  if (count > 1 << 20) throw bad('too many chunks');
  // A run that is one hole: a view of the shared zero run, not a megabyte of zeros to allocate and scan.
  if (plain.length === 14 && plain[9] === KIND_ZERO && plain.readUInt32LE(10) === count && count > 0 && count <= CHUNK_LIST_RUN) return ZERO_RUN.subarray(0, count * ID_LEN);
  const out = Buffer.alloc(count * ID_LEN);
  let at = 0;
  let o = 9;
  while (o < plain.length) {
    if (o + 5 > plain.length) throw bad('truncated record');
    const kind = plain[o]!;
    const n = plain.readUInt32LE(o + 1);
    o += 5;
    if (n === 0 || at + n > count) throw bad('record outside the run');
    if (kind === KIND_IDS) {
      if (o + n * ID_LEN > plain.length) throw bad('truncated ids');
      plain.copy(out, at * ID_LEN, o, o + n * ID_LEN);
      o += n * ID_LEN;
    } else if (kind !== KIND_ZERO) throw bad('unknown record kind');
    at += n;
  }
  if (at !== count) throw bad('fewer chunks than announced');
  return out;
}

export interface WrittenList {
  list: ChunkListRef;
  /** Bytes of the run objects this call wrote (runs already in the store are not written again). */
  bytesWritten: number;
}

/**
 * Writes a disk's chunk list as version 2 runs while the backup proceeds: `add` takes the next
 * ids in disk order (any number; a run is sealed and stored as soon as it is full), `finish`
 * stores the last run and answers the entry's `list`. At most one run of ids waits here. A run
 * already in the store (same content, same name) is not written again. Every run is durable when
 * `finish` resolves: write the manifest only after it.
 */
export class ChunkListWriter {
  private readonly runs: string[] = [];
  private readonly seen = new Set<string>();
  private readonly pending: Buffer;
  private fill = 0;
  private count = 0;
  /** Bytes of the run objects written (runs already in the store are not written again). */
  bytesWritten = 0;

  constructor(
    private readonly store: ObjectStore,
    private readonly keys: VaultKeys,
    private readonly runChunks = CHUNK_LIST_RUN,
  ) {
    this.pending = Buffer.alloc(runChunks * ID_LEN);
  }

  /** Appends ids (a multiple of 32 bytes, zero chunks as zero ids); copied, the caller may reuse them. */
  async add(ids: Buffer): Promise<void> {
    for (let o = 0; o < ids.length; ) {
      const take = Math.min(ids.length - o, this.pending.length - this.fill);
      ids.copy(this.pending, this.fill, o, o + take);
      this.fill += take;
      o += take;
      if (this.fill === this.pending.length) await this.flush();
    }
  }

  async finish(): Promise<WrittenList> {
    if (this.fill > 0) await this.flush();
    return { list: { count: this.count, runChunks: this.runChunks, runs: [...this.runs] }, bytesWritten: this.bytesWritten };
  }

  private async flush(): Promise<void> {
    const plain = encodeRun(this.pending.subarray(0, this.fill));
    this.count += this.fill / ID_LEN;
    this.fill = 0;
    const runId = runIdOf(this.keys, plain);
    this.runs.push(runId);
    if (this.seen.has(runId)) return;
    this.seen.add(runId);
    const blob = seal(this.keys.encKey, plain, aad(runId));
    const have = await this.store.stat(chunkListKey(runId));
    if (have && have.size === blob.length) return;
    await this.store.put(chunkListKey(runId), blob);
    this.bytesWritten += blob.length;
  }
}

/** Writes a whole list at once (the upgrade of a version 1 point); see ChunkListWriter. */
export async function writeChunkList(store: ObjectStore, keys: VaultKeys, ids: Buffer, runChunks = CHUNK_LIST_RUN): Promise<WrittenList> {
  const w = new ChunkListWriter(store, keys, runChunks);
  await w.add(ids);
  return w.finish();
}

/** Reads and checks one run: its AAD, its content hash (= its name) and its length. */
export async function readRun(store: ObjectStore, keys: VaultKeys, runId: string, expectCount: number): Promise<Buffer> {
  if (!CHUNK_LIST_ID_RE.test(runId)) throw new CofferError('ChunkCorrupt', `Chunk list name ${runId} is not valid.`);
  let blob: Buffer;
  try {
    blob = await store.get(chunkListKey(runId));
  } catch (e) {
    if (e instanceof ObjectNotFound) throw new CofferError('ChunkCorrupt', `Chunk list ${runId} is missing from the vault.`, { chunkList: runId });
    throw e;
  }
  const plain = open(keys.encKey, blob, aad(runId), `chunk list ${runId}`);
  if (runIdOf(keys, plain) !== runId) throw new CofferError('ChunkCorrupt', `Chunk list ${runId} does not hold what its name says.`, { chunkList: runId });
  const ids = decodeRun(plain, runId);
  if (ids.length !== expectCount * ID_LEN) throw new CofferError('ChunkCorrupt', `Chunk list ${runId} has the wrong length.`, { chunkList: runId });
  return ids;
}

/** How many chunks a disk entry lists (both versions), without reading a run. */
export function chunkCountOf(entry: DiskEntry): number {
  if (entry.list) return entry.list.count;
  return Buffer.byteLength(entry.chunks ?? '', 'base64') / ID_LEN;
}

/**
 * Calls `fn` with the entry's chunk ids run by run, in order (`first`: the number of the run's
 * first chunk). Version 1: one call with the whole list from the manifest. Version 2: one run in
 * memory at a time. Each call gets a buffer of its own (version 1: the one list), kept alive only
 * as long as the caller holds it.
 */
export async function forEachChunkRun(
  store: ObjectStore,
  keys: VaultKeys,
  entry: DiskEntry,
  fn: (ids: Buffer, first: number) => void | Promise<void>,
  /** Verify's way to go on past a run that is missing or damaged (its chunks count as missing); without it such a run throws. */
  onBadRun?: (first: number, count: number, error: unknown) => void,
): Promise<void> {
  if (!entry.list) {
    if (entry.chunks === undefined) throw new CofferError('VaultCorrupt', `Disk ${entry.name} of the recovery point has no chunk list.`);
    const ids = Buffer.from(entry.chunks, 'base64');
    if (ids.length % ID_LEN !== 0) throw new CofferError('VaultCorrupt', `The chunk list of disk ${entry.name} has the wrong length.`);
    await fn(ids, 0);
    return;
  }
  const { count, runChunks, runs } = entry.list;
  for (let r = 0; r < runs.length; r++) {
    const first = r * runChunks;
    const n = Math.min(runChunks, count - first);
    let ids: Buffer;
    try {
      ids = await readRun(store, keys, runs[r]!, n);
    } catch (e) {
      if (!onBadRun) throw e;
      onBadRun(first, n, e);
      continue;
    }
    await fn(ids, first);
  }
}

/**
 * Random access to a disk entry's chunk ids, both versions, holding a few runs at a time (version
 * 2; version 1: the manifest's list, already in memory). `ids(first, n)` answers the ids of chunks
 * first..first+n-1 (zero chunks as zero ids); reading forward in disk order reads each run once.
 */
export class ChunkListReader {
  readonly count: number;
  private readonly whole: Buffer | undefined;
  private readonly cache = new Map<number, Buffer>();

  constructor(
    private readonly store: ObjectStore,
    private readonly keys: VaultKeys,
    private readonly entry: DiskEntry,
    private readonly keepRuns = 4,
  ) {
    this.count = chunkCountOf(entry);
    if (!entry.list) {
      if (entry.chunks === undefined) throw new CofferError('VaultCorrupt', `Disk ${entry.name} of the recovery point has no chunk list.`);
      this.whole = Buffer.from(entry.chunks, 'base64');
      if (this.whole.length % ID_LEN !== 0) throw new CofferError('VaultCorrupt', `The chunk list of disk ${entry.name} has the wrong length.`);
    }
  }

  async ids(first: number, n: number): Promise<Buffer> {
    if (first < 0 || n < 0 || first + n > this.count) throw new RangeError(`chunks ${first}..${first + n} outside a list of ${this.count}`);
    if (this.whole) return this.whole.subarray(first * ID_LEN, (first + n) * ID_LEN);
    const { runChunks } = this.entry.list!;
    const r0 = Math.floor(first / runChunks);
    const r1 = n === 0 ? r0 : Math.floor((first + n - 1) / runChunks);
    if (r0 === r1) {
      const run = await this.run(r0);
      const at = first - r0 * runChunks;
      return run.subarray(at * ID_LEN, (at + n) * ID_LEN);
    }
    const out = Buffer.alloc(n * ID_LEN);
    for (let r = r0; r <= r1; r++) {
      const run = await this.run(r);
      const from = Math.max(first, r * runChunks);
      const to = Math.min(first + n, r * runChunks + run.length / ID_LEN);
      run.copy(out, (from - first) * ID_LEN, (from - r * runChunks) * ID_LEN, (to - r * runChunks) * ID_LEN);
    }
    return out;
  }

  private async run(r: number): Promise<Buffer> {
    const hit = this.cache.get(r);
    if (hit) {
      this.cache.delete(r);
      this.cache.set(r, hit);
      return hit;
    }
    const { count, runChunks, runs } = this.entry.list!;
    const ids = await readRun(this.store, this.keys, runs[r]!, Math.min(runChunks, count - r * runChunks));
    this.cache.set(r, ids);
    for (const k of this.cache.keys()) {
      if (this.cache.size <= this.keepRuns) break;
      this.cache.delete(k);
    }
    return ids;
  }
}

/**
 * Seam C (issue 13): every chunk id of a disk entry, in order, zero chunks as 32 zero bytes, for
 * both formats. Use forEachChunkRun where the whole list is not needed at once.
 */
export async function loadChunkIds(store: ObjectStore, keys: VaultKeys, entry: DiskEntry): Promise<Buffer> {
  if (!entry.list) {
    let whole: Buffer | undefined;
    await forEachChunkRun(store, keys, entry, (ids) => {
      whole = ids;
    });
    return whole!;
  }
  const out = Buffer.alloc(entry.list.count * ID_LEN);
  await forEachChunkRun(store, keys, entry, (ids, first) => {
    ids.copy(out, first * ID_LEN);
  });
  return out;
}

/**
 * Like forEachChunkRun for GC's mark: a version 2 run named in `seen` is skipped, and its name is
 * added once read (a run is shared by every point that has the same stretch, so a vault's points
 * are marked in one read of each distinct run); a run that is one hole is not passed on. Throws
 * when a run cannot be read.
 */
export async function forEachUnseenRun(store: ObjectStore, keys: VaultKeys, entry: DiskEntry, seen: Set<string>, fn: (ids: Buffer) => void | Promise<void>): Promise<void> {
  if (!entry.list) return forEachChunkRun(store, keys, entry, fn);
  const { count, runChunks, runs } = entry.list;
  for (let r = 0; r < runs.length; r++) {
    const runId = runs[r]!;
    if (seen.has(runId)) continue;
    const ids = await readRun(store, keys, runId, Math.min(runChunks, count - r * runChunks));
    seen.add(runId);
    if (!isZeroRun(ids)) await fn(ids);
  }
}

/** Run names a disk entry references (version 1: none). */
export function runsOf(entry: DiskEntry): readonly string[] {
  return entry.list?.runs ?? [];
}

/**
 * GC step for chunk lists (under the exclusive lock): deletes every `chunklists/` object that no
 * kept manifest (nor a staged upgrade manifest) names. Returns the count and bytes freed.
 */
export async function sweepChunkLists(store: ObjectStore, referenced: ReadonlySet<string>): Promise<{ deleted: number; bytes: number }> {
  let deleted = 0;
  let bytes = 0;
  for (const o of await store.list(CHUNK_LIST_PREFIX)) {
    const runId = o.key.slice(CHUNK_LIST_PREFIX.length);
    if (!CHUNK_LIST_ID_RE.test(runId) || referenced.has(runId)) continue;
    await store.delete(o.key);
    deleted++;
    bytes += o.size;
  }
  return { deleted, bytes };
}
