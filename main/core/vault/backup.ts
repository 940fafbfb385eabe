import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { CofferError } from '../errors.js';
import { ChunkIndex, type ChunkLookup } from './chunk-index.js';
import { chunkCountOf, ChunkListReader, ChunkListWriter } from './chunk-lists.js';
import type { VaultConfig, VaultKeys } from './config.js';
import { CHUNK_LIST_RUN, ID_LEN, newPointId, pointKey, type Consistency, type DiskEntry, type Manifest } from './format.js';
import { encodeManifest } from './manifest.js';
import { crashPoint, mapStoreError, PackWriter } from './packs.js';
import { CHUNK_PARENT, CHUNK_READ, CHUNK_ZERO, chunkRuns, fileZeroRanges, mergeRanges, sameStamp, windowActions, type DiskPlan } from './plan.js';
import type { ObjectStore } from './storage.js';
import type { WorkerPool } from './worker-pool.js';
import type { StepLog } from '../step-log.js';

export interface Progress {
  bytesDone: number;
  bytesTotal: number;
  bytesPerSecond: number;
  /** Raw bytes of chunks that were new to the vault. */
  newBytes: number;
}

/**
 * A backup's progress, honest on slow storage: `bytesDone` counts disk bytes that are read AND
 * safe in the store (zero or already-known chunks, or new chunks whose pack and index objects
 * were written), so the bar and `bytesPerSecond` never run ahead of the upload; `bytesRead` is
 * how far reading got (chunks a plan skips, holes or the parent's, count as passed; the bytes
 * really read are PointSummary.bytesRead); `bytesUploaded` the bytes of the objects the store accepted (sealed and
 * compressed: packs, index objects, and at the end the manifest).
 */
export interface BackupProgress extends Progress {
  bytesRead: number;
  bytesUploaded: number;
}

export interface BackupOptions {
  vmName: string;
  vmId?: string;
  definition?: { fileName: string; content: Buffer };
  /** plan: what to read (see plan.ts); without one every chunk is read, except the file's holes. */
  /**
   * `plan` (seam A, plan.ts): what to read and where the rest of the chunk list comes from; a disk
   * read through `plan.readRange` gives its guest-visible size as `plan.size` (or `size`).
   * `stored` and `checkpoint` (changed-block tracking) go into the entry as given.
   */
  disks: Array<{ name: string; path: string; plan?: DiskPlan; size?: number; stored?: DiskEntry['stored']; checkpoint?: string }>;
  consistency?: Consistency;
  retainUntil?: string | null;
  policy?: string | null;
  signal?: AbortSignal;
  onProgress?: (p: BackupProgress) => void;
  /**
   * Called once every pack and index is durable, right before the manifest (the commit) is
   * written, with the ids of the packs of older backups this one deduplicated against. Vault.backup
   * re-checks its lock and that those packs still exist here; a throw keeps no point.
   */
  beforeCommit?: (reusedPacks: ReadonlySet<string>) => Promise<void>;
  /** Called once every disk byte is read (before the last packs and the commit): a reader may let its source go. */
  onReadsDone?: () => void;
  /** Where the time goes (the job's details): the reads, the last packs, the commit. */
  steps?: StepLog;
}

export interface PointSummary {
  id: string;
  vmName: string;
  vmId?: string;
  created: string;
  consistency: Consistency;
  retainUntil: string | null;
  logicalBytes: number;
  zeroBytes: number;
  newChunks: number;
  newRawBytes: number;
  /** Bytes added to the storage: packs, index objects and the manifest. */
  addedBytes: number;
  seconds: number;
  disks: Array<{ name: string; size: number; sha256: string; checkpoint?: string }>;
  /** Bytes this backup really read from the disks (holes, zero ranges and reused chunks are not read). */
  bytesRead: number;
  /** Per disk: the bytes read, and the parent point its chunk list was built from (null: read whole). */
  reads: Array<{ name: string; bytesRead: number; parent: string | null }>;
}

export const PROGRESS_INTERVAL_MS = 250;
const SEGMENT_BYTES = 4 * 1024 * 1024;
/**
 * Segments of a readRange source (an NBD export) in flight at once, while their bytes stay within
 * what the file reads hold (maxInFlight full segments). An incremental reads runs of one or two
 * chunks: each a round trip to the server, which answers several concurrently (QEMU up to 16 per
 * connection), so small runs need more in flight than the workers' queue.
 */
const RANGE_SEGMENTS_IN_FLIGHT = 32;
/**
 * Windows (chunk-list runs) read ahead of the one the list is waiting for. Each holds its run's ids
 * (1 MiB) until its segments are done; two let the next window start while the last segments of
 * the previous one finish, so the workers never wait for the list.
 */
const WINDOWS_AHEAD = 2;

export interface EngineContext {
  store: ObjectStore;
  keys: VaultKeys;
  config: VaultConfig;
  index: ChunkLookup;
  pool: WorkerPool;
}

/** sha256 of an all-zero chunk of each length, for the disk digest. */
const zeroShaCache = new Map<number, Buffer>();
export function zeroSha(len: number): Buffer {
  let s = zeroShaCache.get(len);
  if (!s) {
    s = createHash('sha256').update(Buffer.alloc(len)).digest();
    zeroShaCache.set(len, s);
  }
  return s;
}

/** The disk digest: sha256 over the sha256 of each chunk in order (see docs/vault-format.md). */
export function diskDigest(shas: Buffer): string {
  return createHash('sha256').update(shas).digest('hex');
}

function cancelled(): CofferError {
  return new CofferError('OperationCancelled', 'The backup was cancelled; no recovery point was kept.');
}

interface FileId {
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
}

async function statDisk(p: string): Promise<FileId> {
  try {
    const st = await fs.stat(p);
    if (!st.isFile()) throw new CofferError('DiskUnreadable', `The disk ${p} is not a regular file.`, { path: p });
    return { size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, ino: st.ino };
  } catch (e) {
    if (e instanceof CofferError) throw e;
    throw new CofferError('DiskUnreadable', `The disk ${p} cannot be read: ${(e as Error).message}`, { path: p });
  }
}

/** A read failure inside a worker becomes DiskUnreadable / DiskChangedDuringBackup; others pass. */
function readError(e: unknown, p: string): unknown {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ESHORTREAD') return new CofferError('DiskChangedDuringBackup', `The disk ${p} shrank while it was read.`, { path: p });
  if (code === 'EIO' || code === 'EISDIR' || code === 'EBADF' || code === 'EINVAL') {
    return new CofferError('DiskUnreadable', `Reading ${p} failed: ${(e as Error).message}`, { path: p });
  }
  return e;
}

/**
 * The disk digest (see diskDigest) fed segment by segment in disk order, whatever order the
 * workers finish them in: only the segments still in flight wait here.
 */
class OrderedDigest {
  private readonly hash = createHash('sha256');
  private readonly waiting = new Map<number, Buffer>();
  private next = 0;

  put(seg: number, shas: Buffer): void {
    this.waiting.set(seg, shas);
    for (let b = this.waiting.get(this.next); b; b = this.waiting.get(this.next)) {
      this.hash.update(b);
      this.waiting.delete(this.next++);
    }
  }

  hex(): string {
    if (this.waiting.size > 0) throw new Error('disk digest: a segment is missing');
    return this.hash.digest('hex');
  }
}

interface DiskState {
  digest: OrderedDigest;
  zeroBytes: number;
  bytesRead: number;
}

/** `fullZeroShas(chunkSize)`: the sha256 of a whole zero chunk, CHUNK_LIST_RUN times (1 MiB, made once per chunk size). */
const fullZeroShasCache = new Map<number, Buffer>();

/**
 * The sha256 of `count` zero chunks from chunk `first` on (at most CHUNK_LIST_RUN), for the disk
 * digest of a hole: a view of one shared buffer unless the run holds the disk's short last chunk.
 * Read only.
 */
export function zeroShas(first: number, count: number, chunkSize: number, size: number): Buffer {
  let full = fullZeroShasCache.get(chunkSize);
  if (!full) {
    full = Buffer.alloc(CHUNK_LIST_RUN * ID_LEN);
    const one = zeroSha(chunkSize);
    for (let k = 0; k < CHUNK_LIST_RUN; k++) one.copy(full, k * ID_LEN);
    fullZeroShasCache.set(chunkSize, full);
  }
  if ((first + count) * chunkSize <= size && count <= CHUNK_LIST_RUN) return full.subarray(0, count * ID_LEN);
  const out = Buffer.alloc(count * ID_LEN);
  for (let k = 0; k < count; k++) zeroSha(Math.min(chunkSize, size - (first + k) * chunkSize)).copy(out, k * ID_LEN);
  return out;
}

/** A call into the on-disk index's optional point records: a cache that fails answers nothing, and the backup goes on. */
function cacheCall<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch {
    return undefined;
  }
}

/** A run of chunks of a segment: `len` bytes at `pos` of the disk, chunk `first` of its window. */
interface Piece {
  pos: number;
  len: number;
  first: number;
}

/** Where a segment's bytes come from: the disk's fd (the worker reads it), or a plan's readRange. */
type SegmentSource = number | ((offset: number, length: number, into: Buffer) => Promise<Buffer>);

export async function runBackup(ctx: EngineContext, opts: BackupOptions): Promise<PointSummary> {
  const { store, keys, config, index, pool } = ctx;
  const chunkSize = config.chunking.chunkSize;
  const chunksPerSeg = Math.max(1, Math.floor(SEGMENT_BYTES / chunkSize));
  const segBytes = chunksPerSeg * chunkSize;
  // Room before the data so the worker can write sealed chunks (28 bytes longer each) in place.
  const slack = Math.ceil((chunksPerSeg * 32) / 4096) * 4096;
  const maxInFlight = pool.size * 2 + 1;
  const started = Date.now();
  const signal = opts.signal;

  const names = new Set<string>();
  for (const d of opts.disks) {
    if (names.has(d.name)) throw new CofferError('InvalidArgument', `Two disks are named "${d.name}".`);
    names.add(d.name);
  }
  // A disk read through its plan's readRange (a guest view over NBD) needs no file: its size comes with it.
  const viewStamp = (d: BackupOptions['disks'][number]): FileId | undefined => {
    const size = d.plan?.size ?? d.size;
    return d.plan?.readRange && size !== undefined ? { size, mtimeMs: 0, ctimeMs: 0, ino: 0 } : undefined;
  };
  const stampOf = async (d: BackupOptions['disks'][number]): Promise<FileId> => {
    const view = viewStamp(d);
    return view ? statDisk(d.path).catch(() => view) : statDisk(d.path);
  };
  const before = await Promise.all(opts.disks.map(stampOf));
  const sizes = opts.disks.map((d, i) => d.plan?.size ?? d.size ?? before[i]!.size);
  const bytesTotal = sizes.reduce((s, n) => s + n, 0);

  const packs = new PackWriter(store, keys, index, store.ioHints?.packBytes, store.ioHints?.packsInFlight);
  /**
   * Chunks this backup queued, each with the claim (a number per segment that queued chunks) it
   * came with; claimPack[claim] is the pack that holds that segment's chunks once it is known.
   */
  const sessionNew = new ChunkIndex();
  const claimPack: number[] = [0];
  /** Packs known before this backup that it deduplicated against (checked before the commit). */
  const reused = new Set<string>();
  /**
   * The on-disk index's record of which packs hold a point's chunks (ChunkDb.pointPacks): `gone`
   * is its count of forgotten packs as of the refresh before this backup (no prune can run while it
   * holds the shared lock). `recordable` turns false when a disk takes chunks this backup cannot
   * name the packs of; otherwise the new point's packs are recorded after the commit.
   */
  const gone = cacheCall(() => index.goneCount?.());
  const packsOfPoint = (pointId: string): string[] | undefined => (gone === undefined ? undefined : cacheCall(() => index.pointPacks?.(pointId, gone)));
  /** Packs holding chunks of the new point taken from its parents without a lookup per chunk. */
  const takenPacks = new Set<string>();
  const parentsTaken = new Set<string>();
  let recordable = gone !== undefined;
  let bytesDone = 0;
  let bytesRead = 0;
  /** Bytes read whose chunks are still on their way to the store: the claims they wait for. */
  let awaiting: Array<{ claims: number[]; len: number }> = [];
  const safe = (claims: readonly number[]): boolean =>
    claims.every((c) => {
      const p = claimPack[c]!;
      return p > 0 && p <= packs.durableThrough;
    });
  let manifestBytes = 0;
  /** Bytes of the chunk-list objects (version 2) this backup wrote. */
  let listBytes = 0;
  let newBytes = 0;
  let newChunks = 0;
  let zeroBytes = 0;
  const emit = (): void => {
    if (awaiting.length > 0) {
      awaiting = awaiting.filter((a) => {
        if (!safe(a.claims)) return true;
        bytesDone += a.len;
        return false;
      });
    }
    const sec = (Date.now() - started) / 1000;
    opts.onProgress?.({
      bytesDone,
      bytesTotal,
      bytesPerSecond: sec > 0 ? bytesDone / sec : 0,
      newBytes,
      bytesRead,
      bytesUploaded: packs.bytesWritten + listBytes + manifestBytes,
    });
  };
  const timer = opts.onProgress ? setInterval(emit, PROGRESS_INTERVAL_MS) : undefined;
  emit(); // at once: the job shows its total before the first segment is read
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  /** Segment buffers come back from the workers and are reused: flat memory, no page faults. */
  const spare: ArrayBuffer[] = [];
  /** A spare buffer for `len` bytes of data after the slack: the smallest that fits, else a new one (a whole segment's, or a range read's own size). */
  const takeBuffer = (len: number, ranged: boolean): ArrayBuffer => {
    let best = -1;
    for (let i = 0; i < spare.length; i++) {
      const b = spare[i]!.byteLength;
      if (b >= slack + len && (best < 0 || b < spare[best]!.byteLength)) best = i;
    }
    if (best >= 0) return spare.splice(best, 1)[0]!;
    return new ArrayBuffer(slack + (ranged ? Math.ceil(len / chunkSize) * chunkSize : segBytes));
  };
  /** Bytes of the segments in flight. */
  let inFlightBytes = 0;

  /**
   * seq: the segment's place in the disk digest (-1: the digest is over the ids, see plan.ts).
   * pieces: the runs of chunks it holds, back to back (several only for a ranged source); len: their bytes.
   */
  const processSegment = async (buf: ArrayBuffer, at: number, src: SegmentSource, pieces: readonly Piece[], len: number, seq: number, ids: Buffer, disk: DiskState): Promise<void> => {
    let fd = -1;
    if (typeof src === 'number') fd = src;
    else {
      // The reader fills the segment's buffer itself (an NBD reply's data lands there), or answers its own.
      let off = at;
      const reads = pieces.map(async (p) => {
        const into = Buffer.from(buf, off, p.len);
        off += p.len;
        const got = await src(p.pos, p.len, into);
        if (got.length !== p.len) {
          const e = new Error(`short read at ${p.pos}: ${got.length} of ${p.len} bytes`) as NodeJS.ErrnoException;
          e.code = 'ESHORTREAD';
          throw e;
        }
        if (got.buffer !== buf || got.byteOffset !== into.byteOffset) got.copy(into);
      });
      await Promise.all(reads);
    }
    // Chunk i of the segment is chunk chunkAt(i) of the window.
    const firstChunk = pieces[0]!.first;
    let chunkAt: Int32Array | undefined;
    if (pieces.length > 1) {
      chunkAt = new Int32Array(Math.ceil(len / chunkSize));
      let k = 0;
      for (const p of pieces) for (let c = 0; c * chunkSize < p.len; c++) chunkAt[k++] = p.first + c;
    }
    const w = pool.leastBusy();
    const job = pool.newJob();
    const h = await pool.send<'hashed'>(w, { type: 'hash', buf, at, len, fd, pos: pieces[0]!.pos, ...(fd < 0 ? { filled: true } : {}) }, [buf], job);
    // Read now: counted before its new bytes, so progress never shows more new bytes than read.
    bytesRead += len;
    disk.bytesRead += len;
    const hids = Buffer.from(h.ids);
    const hshas = Buffer.from(h.shas);
    const n = h.zeroMask.length;
    const want: number[] = [];
    /** This segment's claim (0: it queues nothing), and the claims of the chunks it needs (its own, or earlier segments' for duplicates). */
    let claim = 0;
    const needs = new Set<number>();
    for (let i = 0; i < n; i++) {
      const at = (chunkAt ? chunkAt[i]! : firstChunk + i) * ID_LEN;
      const clen = Math.min(chunkSize, len - i * chunkSize);
      if (h.zeroMask[i]) {
        zeroSha(clen).copy(hshas, i * ID_LEN);
        zeroBytes += clen;
        disk.zeroBytes += clen;
        continue;
      }
      hids.copy(ids, at, i * ID_LEN, (i + 1) * ID_LEN);
      // Known to the vault or already queued by this backup: nothing to compress or store.
      const knownPack = index.packOf(hids, i * ID_LEN);
      if (knownPack !== undefined) {
        reused.add(knownPack);
        continue;
      }
      const queued = sessionNew.find(hids, i * ID_LEN);
      if (queued >= 0) {
        needs.add(sessionNew.at(queued).offset);
        continue;
      }
      if (claim === 0) {
        claim = claimPack.length;
        claimPack.push(0);
        needs.add(claim);
      }
      sessionNew.add(hids, i * ID_LEN, { pack: '', offset: claim, length: 0, rawLength: 0, flags: 0 });
      want.push(i);
      newBytes += clen;
    }
    if (seq >= 0) disk.digest.put(seq, hshas);
    if (h.seg) {
      spare.push(h.seg); // all zero: the worker kept nothing
    } else if (want.length === 0 || failure || signal?.aborted) {
      const r = await pool.send<'ok'>(w, { type: 'drop' }, [], job);
      if (r.seg) spare.push(r.seg);
    } else {
      const wantIds = Buffer.alloc(want.length * ID_LEN);
      want.forEach((i, j) => hids.copy(wantIds, j * ID_LEN, i * ID_LEN, (i + 1) * ID_LEN));
      const s = await pool.send<'sealed'>(w, { type: 'seal', want: Uint32Array.from(want), ids: wantIds.buffer as ArrayBuffer }, [], job);
      newChunks += want.length;
      claimPack[claim] = await packs.add(Buffer.from(s.seg, 0, s.blobLen), wantIds, s.lens, s.rawLens, s.flags);
      spare.push(s.seg); // copied into the pack: free for the next read
    }
    const claims = [...needs];
    if (safe(claims)) bytesDone += len;
    else awaiting.push({ claims, len });
  };

  /** Tracks a segment in flight; the returned promise settles (never rejects) when it is done. */
  const track = (p: Promise<void>, diskPath: string): Promise<void> => {
    const q = p.catch((e: unknown) => {
      failure ??= readError(e, diskPath);
    });
    inFlight.add(q);
    void q.finally(() => inFlight.delete(q));
    return q;
  };

  const diskEntries: DiskEntry[] = [];
  const reads: PointSummary['reads'] = [];
  /** Parents whose chunk list a disk took whole (unchanged files). */
  const unchangedParents = new Set<string>();
  const readsFrom = opts.steps?.now() ?? 0;
  try {
    for (let di = 0; di < opts.disks.length; di++) {
      const disk = opts.disks[di]!;
      const b = before[di]!;
      const plan = disk.plan;
      if (plan?.basis && !sameStamp(plan.basis, b)) {
        throw new CofferError('DiskChangedDuringBackup', `The disk ${disk.path} changed after the backup planned to reuse its previous chunk list.`, {
          path: disk.path,
          planned: plan.basis,
          now: b,
        });
      }
      const size = sizes[di]!;
      // A file unchanged since its parent (same stamp: planned and found again) whose list is in
      // its own objects: the new point names the parent's list as it is. Nothing is read, no id
      // loaded or looked up: the parent's chunks stay in the vault as long as the parent does,
      // and its manifest is checked under the lock before the commit.
      const same = plan?.basis && plan.parent && !plan.changed && !plan.readRange && plan.parent.entry.size === size && plan.parent.entry.list ? plan.parent : undefined;
      if (same && config.version >= 2) {
        const e = same.entry;
        unchangedParents.add(same.pointId);
        const sp = packsOfPoint(same.pointId);
        if (sp) for (const p of sp) takenPacks.add(p);
        else recordable = false;
        parentsTaken.add(same.pointId);
        diskEntries.push({
          ...e,
          name: disk.name,
          source: { path: path.resolve(disk.path), mtimeMs: b.mtimeMs, ino: b.ino, ctimeMs: b.ctimeMs },
          incremental: { parent: same.pointId, depth: (e.incremental?.depth ?? 0) + 1 },
          ...(disk.stored ? { stored: disk.stored } : {}),
        });
        zeroBytes += e.zeroBytes;
        bytesDone += size;
        bytesRead += size;
        reads.push({ name: disk.name, bytesRead: 0, parent: same.pointId });
        continue;
      }
      const nChunks = Math.ceil(size / chunkSize);
      // The per-chunk sha256 are hashed in order as segments complete: no per-disk array of them.
      const state: DiskState = { digest: new OrderedDigest(), zeroBytes: 0, bytesRead: 0 };
      // The parent's list is read one run at a time, beside the window it covers.
      const usableParent = plan?.parent && plan.parent.entry.size === size && chunkCountOf(plan.parent.entry) === nChunks ? plan.parent.entry : undefined;
      const parentList = usableParent ? new ChunkListReader(store, keys, usableParent) : undefined;
      // The parent's packs, when the index vouches for all of them: its chunks need no lookup each.
      // They are checked before the commit like every pack this backup deduplicated against.
      const parentPacks = usableParent ? packsOfPoint(plan!.parent!.pointId) : undefined;
      if (parentPacks) for (const p of parentPacks) reused.add(p);
      if (usableParent) parentsTaken.add(plan!.parent!.pointId);
      const byIds = parentList !== undefined;
      const changed = mergeRanges(byIds ? (plan?.changed ?? []) : []);
      // Holes and unallocated ranges of the file are not read (a guest view brings its own zero ranges).
      const readsAny = !byIds || changed.length > 0;
      const zero = mergeRanges(plan?.zero ?? (!plan?.readRange && readsAny && nChunks > 0 ? await fileZeroRanges(disk.path, signal) : []));
      const src: SegmentSource | undefined = plan?.readRange;
      // The disk goes window by window, one chunk-list run (CHUNK_LIST_RUN ids, 1 MiB) at a time:
      // its ids are written to the list (version 2) as soon as the window's segments are done, so
      // memory is a window's, whatever the disk's size. Version 1 keeps them for the manifest.
      const listWriter = config.version >= 2 ? new ChunkListWriter(store, keys) : undefined;
      const v1Ids: Buffer[] = [];
      const idsHash = createHash('sha256');
      let fh: fs.FileHandle | undefined;
      /** The list runs written so far, in order (never rejects: a failure lands in `failure`). */
      let written: Promise<void> = Promise.resolve();
      /** Windows whose ids are not in the list yet: at most WINDOWS_AHEAD (their ids are a MiB each). */
      const unlisted: Array<Promise<void>> = [];
      try {
        let seq = 0;
        for (let first = 0; first < nChunks; first += CHUNK_LIST_RUN) {
          while (unlisted.length >= WINDOWS_AHEAD) await unlisted.shift();
          if (failure) throw failure;
          const n = Math.min(CHUNK_LIST_RUN, nChunks - first);
          const parentIds = parentList ? await parentList.ids(first, n) : undefined;
          const actions = windowActions(first, n, size, chunkSize, parentIds, changed, zero);
          const ids = Buffer.alloc(n * ID_LEN); // all-zero id = zero chunk
          const segments: Array<Promise<void>> = [];
          /** Sends one segment (its pieces back to back in one buffer) on its way, once there is room. */
          const queueSegment = async (pieces: Piece[]): Promise<void> => {
            if (signal?.aborted) throw cancelled();
            if (failure) throw failure;
            if (!src && !fh) {
              try {
                fh = await fs.open(disk.path, 'r');
              } catch (e) {
                throw new CofferError('DiskUnreadable', `The disk ${disk.path} cannot be opened: ${(e as Error).message}`, { path: disk.path });
              }
            }
            const len = pieces.reduce((t, p) => t + p.len, 0);
            if (src) while (inFlight.size >= RANGE_SEGMENTS_IN_FLIGHT || (inFlight.size > 0 && inFlightBytes + len > maxInFlight * segBytes)) await Promise.race(inFlight);
            else while (inFlight.size >= maxInFlight) await Promise.race(inFlight);
            if (failure) throw failure;
            const ab = takeBuffer(len, !!src);
            inFlightBytes += len;
            // The worker reads the segment itself (see worker.ts), checks for zeros and hashes it.
            const seg = track(processSegment(ab, slack, src ?? fh!.fd, pieces, len, byIds ? -1 : seq++, ids, state), disk.path);
            void seg.then(() => (inFlightBytes -= len));
            segments.push(seg);
          };
          /**
           * Queues the segments of the chunks `acts` marks to read (or zero), as the workers take
           * them. A changed-block read (a ranged source, digest over the ids) gathers its short
           * runs into whole segments: one worker round trip, one pack copy and one set of NBD
           * requests written at once per 4 MiB, not per run of one or two chunks.
           */
          const readRuns = async (acts: Uint8Array): Promise<void> => {
            const gathers = !!src && byIds;
            let gathered: Piece[] = [];
            let gatheredChunks = 0;
            for (const run of chunkRuns(acts, chunksPerSeg)) {
              if (run.action === CHUNK_PARENT) continue;
              const at = first + run.first;
              const pos = at * chunkSize;
              const len = Math.min(run.count * chunkSize, size - pos);
              if (run.action === CHUNK_ZERO) {
                zeroBytes += len;
                state.zeroBytes += len;
                bytesDone += len;
                bytesRead += len;
                if (!byIds) state.digest.put(seq++, zeroShas(at, run.count, chunkSize, size));
                continue;
              }
              const piece = { pos, len, first: run.first };
              if (!gathers) {
                await queueSegment([piece]);
                continue;
              }
              // Only the disk's last chunk may be short, and it is the last piece of its segment.
              if (gatheredChunks + run.count > chunksPerSeg) {
                await queueSegment(gathered);
                gathered = [];
                gatheredChunks = 0;
              }
              gathered.push(piece);
              gatheredChunks += run.count;
            }
            if (gathered.length > 0) await queueSegment(gathered);
          };
          if (!parentIds) await readRuns(actions);
          else {
            // The changed chunks are asked first (over NBD each is a round trip); while they are on
            // their way, the chunks taken from the parent are checked: they must still be in the
            // vault (a prune may have run since the parent was chosen), and one that is not is read
            // again. Taken and zero chunks are done at once (and count as passed by the reading,
            // for the progress; not as bytes read from the disk).
            const checking = (async () => {
              if (parentPacks) {
                for (const run of chunkRuns(actions, n)) {
                  if (run.action !== CHUNK_PARENT) continue;
                  parentIds.copy(ids, run.first * ID_LEN, run.first * ID_LEN, (run.first + run.count) * ID_LEN);
                  const len = Math.min(run.count * chunkSize, size - (first + run.first) * chunkSize);
                  bytesDone += len;
                  bytesRead += len;
                }
                return undefined;
              }
              const again = new Uint8Array(n).fill(CHUNK_PARENT);
              let rereads = false;
              for (let i = 0; i < n; i++) {
                // A slice at a time: the reads' answers (NBD replies, workers) come in between.
                if ((i & 1023) === 1023) await new Promise<void>((resolve) => setImmediate(resolve));
                if (actions[i] !== CHUNK_PARENT) continue;
                const knownPack = index.packOf(parentIds, i * ID_LEN);
                if (knownPack === undefined) {
                  again[i] = CHUNK_READ;
                  rereads = true;
                  continue;
                }
                reused.add(knownPack);
                parentIds.copy(ids, i * ID_LEN, i * ID_LEN, (i + 1) * ID_LEN);
                const clen = Math.min(chunkSize, size - (first + i) * chunkSize);
                bytesDone += clen;
                bytesRead += clen;
              }
              return rereads ? again : undefined;
            })();
            checking.catch(() => undefined); // awaited below; a read that fails first must not leave it unhandled
            await readRuns(actions);
            const again = await checking;
            if (again) await readRuns(again);
          }
          // The window's ids are complete once its own segments are: then they go to the list, in
          // order, while the next window's segments are already read (the pipeline never drains here).
          const before = written;
          written = (async () => {
            await before;
            await Promise.all(segments);
            if (failure) return;
            if (byIds) idsHash.update(ids);
            if (listWriter) await listWriter.add(ids);
            else v1Ids.push(ids);
          })().catch((e: unknown) => {
            failure ??= e;
          });
          unlisted.push(written);
        }
        await written;
        if (failure) throw failure;
      } finally {
        // Workers read through this fd: never close it under them (nor let it be reused).
        while (inFlight.size > 0) await Promise.race(inFlight);
        await written;
        await fh?.close();
      }
      const after = src ? b : await statDisk(disk.path);
      // A guest view (readRange) is the reader's point in time; the file itself may move on.
      if (!src && (after.size !== b.size || after.mtimeMs !== b.mtimeMs || after.ino !== b.ino)) {
        throw new CofferError('DiskChangedDuringBackup', `The disk ${disk.path} changed while it was being read.`, {
          path: disk.path,
          before: b,
          after,
        });
      }
      const parent = byIds ? plan!.parent! : undefined;
      // Version 2 vaults: the chunk list went into its own objects (the last run now), before the manifest.
      const listed = listWriter ? await listWriter.finish() : undefined;
      if (listed) listBytes += listed.bytesWritten;
      diskEntries.push({
        name: disk.name,
        size,
        sha256: byIds ? idsHash.digest('hex') : state.digest.hex(),
        ...(listed ? { list: listed.list } : { chunks: Buffer.concat(v1Ids).toString('base64') }),
        zeroBytes: state.zeroBytes,
        // Read through a guest view, the file's stamp says nothing about the point: no ctime, never "unchanged".
        source: { path: path.resolve(disk.path), mtimeMs: b.mtimeMs, ino: b.ino, ...(src ? {} : { ctimeMs: b.ctimeMs }) },
        ...(parent ? { digestOver: 'ids' as const, incremental: { parent: parent.pointId, depth: (parent.entry.incremental?.depth ?? 0) + 1 } } : {}),
        ...(disk.stored ? { stored: disk.stored } : {}),
        ...(disk.checkpoint ? { checkpoint: disk.checkpoint } : {}),
      });
      reads.push({ name: disk.name, bytesRead: state.bytesRead, parent: parent?.pointId ?? null });
    }
    if (signal?.aborted) throw cancelled();
    opts.steps?.add('vault: disks read, hashed, sealed', readsFrom);
    opts.onReadsDone?.();
    const finishAt = opts.steps?.now() ?? 0;
    await packs.finish();
    opts.steps?.add('vault: last packs and index durable', finishAt);
    for (const p of packs.written) reused.delete(p);
    // A parent whose list was taken whole must still exist: a prune waits for this lock, so it deleted it before.
    for (const p of unchangedParents) {
      if (!(await store.stat(pointKey(p)))) throw new CofferError('VaultChangedDuringBackup', `The point ${p} this backup reused was deleted from the vault while it ran; no recovery point was kept.`, { points: [p] });
    }
    if (opts.beforeCommit) await (opts.steps ? opts.steps.time('vault: lock and packs re-checked', () => opts.beforeCommit!(reused)) : opts.beforeCommit(reused));
  } catch (e) {
    if (timer) clearInterval(timer);
    while (inFlight.size > 0) await Promise.race(inFlight);
    await packs.abandon();
    throw mapStoreError(e);
  }

  const created = new Date();
  const id = newPointId(created);
  const seconds = (Date.now() - started) / 1000;
  const manifest: Manifest = {
    format: 'coffer-point',
    version: config.version >= 2 ? 2 : 1,
    id,
    created: created.toISOString(),
    vm: opts.vmId ? { name: opts.vmName, id: opts.vmId } : { name: opts.vmName },
    consistency: opts.consistency ?? 'offline',
    retainUntil: opts.retainUntil ?? null,
    policy: opts.policy ?? null,
    chunkSize,
    definition: opts.definition ? { fileName: opts.definition.fileName, content: opts.definition.content.toString('base64') } : null,
    disks: diskEntries,
    // Packs and index objects only: counting the manifest in itself would mean encoding it twice,
    // and at 16 GiB a manifest's chunk lists are megabytes copied several times over.
    stats: { logicalBytes: bytesTotal, zeroBytes, newChunks, newRawBytes: newBytes, addedBytes: packs.bytesWritten + listBytes, seconds },
  };
  const blob = encodeManifest(keys, manifest);
  try {
    if (signal?.aborted) throw cancelled();
    // The manifest is the commit point: written last, after every pack and index is durable.
    const putAt = opts.steps?.now() ?? 0;
    const put = store.put(pointKey(id), blob);
    crashPoint('manifest');
    await put;
    opts.steps?.add('vault: manifest written', putAt);
    manifestBytes = blob.length;
  } catch (e) {
    throw mapStoreError(e);
  } finally {
    if (timer) clearInterval(timer);
  }
  if (recordable && gone !== undefined) {
    // Every chunk of the point is in a pack it wrote, one it deduplicated against, or one of the
    // packs its parents' records named (taken whole or without a lookup each).
    const all = new Set([...packs.written, ...reused, ...takenPacks]);
    cacheCall(() => index.recordPointPacks?.(id, all, gone, parentsTaken));
  }
  emit();
  return {
    id,
    vmName: opts.vmName,
    ...(opts.vmId ? { vmId: opts.vmId } : {}),
    created: manifest.created,
    consistency: manifest.consistency,
    retainUntil: manifest.retainUntil,
    logicalBytes: bytesTotal,
    zeroBytes,
    newChunks,
    newRawBytes: newBytes,
    addedBytes: packs.bytesWritten + listBytes + blob.length,
    seconds,
    disks: diskEntries.map((d) => ({ name: d.name, size: d.size, sha256: d.sha256, ...(d.checkpoint ? { checkpoint: d.checkpoint } : {}) })),
    bytesRead: reads.reduce((n, r) => n + r.bytesRead, 0),
    reads,
  };
}

export const ZERO_ID = Buffer.alloc(ID_LEN);
