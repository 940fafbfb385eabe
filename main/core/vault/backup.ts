import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { CofferError } from '../errors.js';
import { ChunkIndex } from './chunk-index.js';
import type { VaultConfig, VaultKeys } from './config.js';
import { ID_LEN, newPointId, pointKey, type Consistency, type DiskEntry, type Manifest } from './format.js';
import { encodeManifest } from './manifest.js';
import { crashPoint, mapStoreError, PackWriter } from './packs.js';
import { idsDigest, parentChunkIds, touchedChunks, type DiskPlan } from './plan.js';
import type { ObjectStore } from './storage.js';
import type { WorkerPool } from './worker-pool.js';

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
 * how far reading got; `bytesUploaded` the bytes of the objects the store accepted (sealed and
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
  /**
   * `plan` (seam A): what to read and where the rest of the chunk list comes from. A disk with
   * `plan.readRange` is read through it (not from `path`, which is then only recorded) and needs
   * `size` (the guest-visible size of that view). `stored` and `checkpoint` go into the entry as given.
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
  /** Disk bytes actually read (less than logicalBytes when a plan reused the parent's chunks). */
  readBytes?: number;
}

export const PROGRESS_INTERVAL_MS = 250;
const SEGMENT_BYTES = 4 * 1024 * 1024;

export interface EngineContext {
  store: ObjectStore;
  keys: VaultKeys;
  config: VaultConfig;
  index: ChunkIndex;
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
  ino: number;
}

async function statDisk(p: string): Promise<FileId> {
  try {
    const st = await fs.stat(p);
    if (!st.isFile()) throw new CofferError('DiskUnreadable', `The disk ${p} is not a regular file.`, { path: p });
    return { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino };
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
}

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
  const before = await Promise.all(
    opts.disks.map((d) => {
      if (!d.plan?.readRange) return statDisk(d.path);
      if (d.size === undefined) throw new CofferError('InvalidArgument', `Disk "${d.name}" is read through its plan and needs its size.`);
      return Promise.resolve({ size: d.size, mtimeMs: 0, ino: 0 });
    }),
  );
  const bytesTotal = before.reduce((s, b) => s + b.size, 0);

  const packs = new PackWriter(store, keys, index, store.ioHints?.packBytes, store.ioHints?.packsInFlight);
  /**
   * Chunks this backup queued, each with the claim (a number per segment that queued chunks) it
   * came with; claimPack[claim] is the pack that holds that segment's chunks once it is known.
   */
  const sessionNew = new ChunkIndex();
  const claimPack: number[] = [0];
  /** Packs known before this backup that it deduplicated against (checked before the commit). */
  const reused = new Set<string>();
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
      bytesUploaded: packs.bytesWritten + manifestBytes,
    });
  };
  const timer = opts.onProgress ? setInterval(emit, PROGRESS_INTERVAL_MS) : undefined;
  emit(); // at once: the job shows its total before the first segment is read
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  /** Segment buffers come back from the workers and are reused: flat memory, no page faults. */
  const spare: ArrayBuffer[] = [];

  /**
   * fd < 0: `buf` already holds the data. `map` (plans): the segment holds these chunks of the
   * disk, one after another, instead of the chunks of segment `seg`; their digest is not fed.
   */
  const processSegment = async (buf: ArrayBuffer, at: number, fd: number, pos: number, len: number, seg: number, ids: Buffer, disk: DiskState, map?: readonly number[]): Promise<void> => {
    const firstChunk = seg * chunksPerSeg;
    const w = pool.leastBusy();
    const job = pool.newJob();
    const h = await pool.send<'hashed'>(w, { type: 'hash', buf, at, len, fd, pos }, [buf], job);
    const hids = Buffer.from(h.ids);
    const hshas = Buffer.from(h.shas);
    const n = h.zeroMask.length;
    const want: number[] = [];
    /** This segment's claim (0: it queues nothing), and the claims of the chunks it needs (its own, or earlier segments' for duplicates). */
    let claim = 0;
    const needs = new Set<number>();
    for (let i = 0; i < n; i++) {
      const at = (map ? map[i]! : firstChunk + i) * ID_LEN;
      const clen = Math.min(chunkSize, len - i * chunkSize);
      if (h.zeroMask[i]) {
        zeroSha(clen).copy(hshas, i * ID_LEN);
        zeroBytes += clen;
        disk.zeroBytes += clen;
        continue;
      }
      hids.copy(ids, at, i * ID_LEN, (i + 1) * ID_LEN);
      // Known to the vault or already queued by this backup: nothing to compress or store.
      const known = index.find(hids, i * ID_LEN);
      if (known >= 0) {
        reused.add(index.packOf(known));
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
    if (!map) disk.digest.put(seg, hshas);
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
    bytesRead += len;
    const claims = [...needs];
    if (safe(claims)) bytesDone += len;
    else awaiting.push({ claims, len });
  };

  const track = (p: Promise<void>, diskPath: string): void => {
    const q = p.catch((e: unknown) => {
      failure ??= readError(e, diskPath);
    });
    inFlight.add(q);
    void q.finally(() => inFlight.delete(q));
  };

  /**
   * A disk with a plan (seam A): with a parent of the same size, only the chunks the changed ranges
   * touch are read (through readRange, or the file) and the others keep the parent's ids; without
   * one, every segment is read through readRange. Either way the chunks go through the same workers.
   */
  const plannedDisk = async (disk: BackupOptions['disks'][number], plan: DiskPlan, b: FileId, ids: Buffer, state: DiskState): Promise<DiskEntry> => {
    const parentIds = plan.parent && plan.parent.entry.size === b.size ? parentChunkIds(plan.parent.entry) : undefined;
    if (parentIds && parentIds.length !== ids.length) throw new CofferError('VaultCorrupt', `The chunk list of disk ${plan.parent!.entry.name} in point ${plan.parent!.pointId} has the wrong length.`);
    let fh: fs.FileHandle | undefined;
    const readAt =
      plan.readRange ??
      (async (offset: number, length: number): Promise<Buffer> => {
        fh ??= await fs.open(disk.path, 'r');
        const out = Buffer.alloc(length);
        const r = await fh.read(out, 0, length, offset);
        if (r.bytesRead !== length) throw Object.assign(new Error(`short read at ${offset}`), { code: 'ESHORTREAD' });
        return out;
      });
    const readInto = async (view: Buffer, at: number, offset: number, length: number): Promise<void> => {
      const data = await readAt(offset, length);
      if (data.length !== length) throw Object.assign(new Error(`short read at ${offset}`), { code: 'ESHORTREAD' });
      data.copy(view, at);
    };
    const nChunks = ids.length / ID_LEN;
    try {
      if (parentIds) {
        parentIds.copy(ids);
        const touched = plan.changed ? touchedChunks(plan.changed, chunkSize, b.size) : [];
        const isTouched = new Uint8Array(nChunks);
        for (const c of touched) isTouched[c] = 1;
        let reused = 0;
        for (let c = 0; c < nChunks; c++) {
          if (isTouched[c]) continue;
          const clen = Math.min(chunkSize, b.size - c * chunkSize);
          reused += clen;
          if (ids.subarray(c * ID_LEN, (c + 1) * ID_LEN).equals(ZERO_ID)) {
            zeroBytes += clen;
            state.zeroBytes += clen;
          }
        }
        // The parent's chunks are in the vault already (beforeCommit checks their packs).
        bytesDone += reused;
        for (let k = 0; k < touched.length; k += chunksPerSeg) {
          if (signal?.aborted) throw cancelled();
          if (failure) throw failure;
          while (inFlight.size >= maxInFlight) await Promise.race(inFlight);
          if (failure) throw failure;
          const group = touched.slice(k, k + chunksPerSeg);
          const ab = spare.pop() ?? new ArrayBuffer(slack + segBytes);
          const view = Buffer.from(ab, slack, segBytes);
          // Runs of adjacent touched chunks are one read each, all of the group's reads at once.
          const reads: Promise<void>[] = [];
          let len = 0;
          for (let i = 0; i < group.length; ) {
            let j = i;
            while (j + 1 < group.length && group[j + 1] === group[j]! + 1) j++;
            const offset = group[i]! * chunkSize;
            const length = Math.min(b.size, (group[j]! + 1) * chunkSize) - offset;
            reads.push(readInto(view, len, offset, length));
            len += length;
            i = j + 1;
          }
          for (const c of group) ids.fill(0, c * ID_LEN, (c + 1) * ID_LEN); // a zero chunk keeps the zero id
          // Reading and hashing of several groups overlap (up to maxInFlight at once).
          track(
            Promise.all(reads).then(() => processSegment(ab, slack, -1, 0, len, 0, ids, state, group)),
            disk.path,
          );
        }
      } else {
        for (let pos = 0, seg = 0; pos < b.size; pos += segBytes, seg++) {
          if (signal?.aborted) throw cancelled();
          if (failure) throw failure;
          while (inFlight.size >= maxInFlight) await Promise.race(inFlight);
          if (failure) throw failure;
          const len = Math.min(segBytes, b.size - pos);
          const ab = spare.pop() ?? new ArrayBuffer(slack + segBytes);
          track(
            readInto(Buffer.from(ab, slack, segBytes), 0, pos, len).then(() => processSegment(ab, slack, -1, 0, len, seg, ids, state)),
            disk.path,
          );
        }
      }
      while (inFlight.size > 0) await Promise.race(inFlight);
      if (failure) throw failure;
    } finally {
      while (inFlight.size > 0) await Promise.race(inFlight);
      await fh?.close();
    }
    const file = await fs.stat(disk.path).catch(() => undefined);
    return {
      name: disk.name,
      size: b.size,
      sha256: parentIds ? idsDigest(ids) : state.digest.hex(),
      chunks: ids.toString('base64'),
      zeroBytes: state.zeroBytes,
      ...(file ? { source: { path: path.resolve(disk.path), mtimeMs: file.mtimeMs, ino: file.ino } } : {}),
      ...(parentIds ? { digestOver: 'ids' as const } : {}),
      ...(disk.stored ? { stored: disk.stored } : {}),
      ...(disk.checkpoint ? { checkpoint: disk.checkpoint } : {}),
    };
  };

  const diskEntries: DiskEntry[] = [];
  try {
    for (let di = 0; di < opts.disks.length; di++) {
      const disk = opts.disks[di]!;
      const b = before[di]!;
      const nChunks = Math.ceil(b.size / chunkSize);
      const ids = Buffer.alloc(nChunks * ID_LEN); // all-zero id = zero chunk
      // The per-chunk sha256 are hashed in order as segments complete: no per-disk array of them.
      const state: DiskState = { digest: new OrderedDigest(), zeroBytes: 0 };
      if (disk.plan && (disk.plan.readRange || disk.plan.parent)) {
        diskEntries.push(await plannedDisk(disk, disk.plan, b, ids, state));
        continue;
      }
      let fh: fs.FileHandle;
      try {
        fh = await fs.open(disk.path, 'r');
      } catch (e) {
        throw new CofferError('DiskUnreadable', `The disk ${disk.path} cannot be opened: ${(e as Error).message}`, { path: disk.path });
      }
      try {
        for (let pos = 0, seg = 0; pos < b.size; pos += segBytes, seg++) {
          if (signal?.aborted) throw cancelled();
          if (failure) throw failure;
          while (inFlight.size >= maxInFlight) await Promise.race(inFlight);
          if (failure) throw failure;
          const len = Math.min(segBytes, b.size - pos);
          const ab = spare.pop() ?? new ArrayBuffer(slack + segBytes);
          // The worker reads the segment itself (see worker.ts), checks for zeros and hashes it.
          track(processSegment(ab, slack, fh.fd, pos, len, seg, ids, state), disk.path);
        }
        while (inFlight.size > 0) await Promise.race(inFlight);
        if (failure) throw failure;
      } finally {
        // Workers read through this fd: never close it under them (nor let it be reused).
        while (inFlight.size > 0) await Promise.race(inFlight);
        await fh.close();
      }
      const after = await statDisk(disk.path);
      if (after.size !== b.size || after.mtimeMs !== b.mtimeMs || after.ino !== b.ino) {
        throw new CofferError('DiskChangedDuringBackup', `The disk ${disk.path} changed while it was being read.`, {
          path: disk.path,
          before: b,
          after,
        });
      }
      diskEntries.push({
        name: disk.name,
        size: b.size,
        sha256: state.digest.hex(),
        chunks: ids.toString('base64'),
        zeroBytes: state.zeroBytes,
        source: { path: path.resolve(disk.path), mtimeMs: b.mtimeMs, ino: b.ino },
        ...(disk.stored ? { stored: disk.stored } : {}),
        ...(disk.checkpoint ? { checkpoint: disk.checkpoint } : {}),
      });
    }
    if (signal?.aborted) throw cancelled();
    await packs.finish();
    for (const p of packs.written) reused.delete(p);
    await opts.beforeCommit?.(reused);
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
    version: 1,
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
    stats: { logicalBytes: bytesTotal, zeroBytes, newChunks, newRawBytes: newBytes, addedBytes: packs.bytesWritten, seconds },
  };
  const blob = encodeManifest(keys, manifest);
  try {
    if (signal?.aborted) throw cancelled();
    // The manifest is the commit point: written last, after every pack and index is durable.
    const put = store.put(pointKey(id), blob);
    crashPoint('manifest');
    await put;
    manifestBytes = blob.length;
  } catch (e) {
    throw mapStoreError(e);
  } finally {
    if (timer) clearInterval(timer);
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
    addedBytes: packs.bytesWritten + blob.length,
    seconds,
    disks: diskEntries.map((d) => ({ name: d.name, size: d.size, sha256: d.sha256, ...(d.checkpoint ? { checkpoint: d.checkpoint } : {}) })),
    readBytes: bytesRead,
  };
}

export const ZERO_ID = Buffer.alloc(ID_LEN);
