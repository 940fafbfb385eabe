import { createHash } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { CofferError, restoreTargetError } from '../errors.js';
import { PROGRESS_INTERVAL_MS, zeroShas, type EngineContext, type Progress } from './backup.js';
import { ID_LEN, packKey, type ChunkLocation, type Manifest } from './format.js';
import { chunkCountOf, forEachChunkRun, isZeroIdAt, isZeroRun, zeroIdsEnd } from './chunk-lists.js';
import { alignedSpan, DIRECT, refusesDirect } from './direct-io.js';
import { readManifest } from './manifest.js';
import { PackBatcher } from './remote-fetch.js';
import { ObjectNotFound } from './storage.js';

export interface RestoreOptions {
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
  /**
   * Restore only these disks (manifest name -> absolute file path, created new), each fsynced
   * before it is reported done; the definition and targetDir are left alone. Replace-disks stages
   * each disk beside its target this way, on the target's own filesystem.
   */
  files?: ReadonlyMap<string, string>;
  /**
   * Also re-hash every restored chunk against its id and check the disk digest recorded at backup
   * (what `verify --full` checks per chunk), for a restore that is itself the check (Test restore).
   * Without it the AES-GCM tag, whose AAD is the chunk id, is the check (docs/vault-format.md).
   */
  checkContent?: boolean;
}

/** Restored data is the VM's: readable by its owner only (replace-disks then applies the original's mode). */
const FILE_MODE = 0o600;
const DIR_MODE = 0o700;

export interface RestoreResult {
  pointId: string;
  targetDir: string;
  files: Array<{ name: string; path: string; size: number; sha256?: string }>;
  bytes: number;
  seconds: number;
}

/** Stored bytes per batch on a local folder (a store's ioHints may ask for bigger ones). */
const SEGMENT_BYTES = 4 * 1024 * 1024;
/** A batch stops at the first chunk that reaches its size: one more stored chunk at most. */
const BATCH_SLACK_BYTES = 256 * 1024;

/** Orders a batch by pack and offset, so that chunks stored side by side are read with one ranged get. */
const byPackOffset = (a: Item, b: Item): number => (a.loc.pack < b.loc.pack ? -1 : a.loc.pack > b.loc.pack ? 1 : a.loc.offset - b.loc.offset);

/** Joins a manifest name to the target and proves the result stays directly inside it. */
export function safeJoin(targetDir: string, name: string): string {
  const p = path.resolve(targetDir, name);
  if (path.dirname(p) !== path.resolve(targetDir) || name.includes('/') || name.includes('\\') || name === '..' || name === '.') {
    throw new CofferError('VaultCorrupt', `The recovery point names a file "${name}" outside the restore folder; refusing it.`, { name });
  }
  return p;
}

async function prepareTarget(targetDir: string): Promise<void> {
  try {
    const entries = await fs.readdir(targetDir);
    if (entries.length > 0) {
      throw new CofferError('RestoreTargetNotEmpty', `The restore folder ${targetDir} is not empty.`, { targetDir, entries: entries.slice(0, 5) });
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      await fs.mkdir(targetDir, { recursive: true, mode: DIR_MODE });
      return;
    }
    if ((e as NodeJS.ErrnoException).code === 'ENOTDIR') {
      throw new CofferError('RestoreTargetNotEmpty', `The restore target ${targetDir} is a file, not a folder.`, { targetDir });
    }
    throw e;
  }
}

function checkNames(m: Manifest, targetDir: string): void {
  const seen = new Set<string>();
  const names = [...m.disks.map((d) => d.name), ...(m.definition ? [m.definition.fileName] : [])];
  for (const n of names) {
    safeJoin(targetDir, n);
    if (seen.has(n)) throw new CofferError('VaultCorrupt', `The recovery point names the file "${n}" twice.`);
    seen.add(n);
  }
}

export async function runRestore(ctx: EngineContext, pointId: string, targetDir: string, opts: RestoreOptions = {}): Promise<RestoreResult> {
  const { store, keys, index, pool } = ctx;
  const started = Date.now();
  const m = await readManifest(store, keys, pointId);
  const target = path.resolve(targetDir);
  const only = opts.files;
  if (only) {
    for (const [name, file] of only) {
      if (!m.disks.some((d) => d.name === name)) throw new CofferError('RecoveryPointNotFound', `The recovery point has no disk ${name}.`, { name });
      if (!path.isAbsolute(file)) throw new CofferError('InvalidArgument', `The restore path ${file} is not absolute.`);
    }
  } else {
    checkNames(m, target);
    await prepareTarget(target);
  }
  const disks = only ? m.disks.filter((d) => only.has(d.name)) : m.disks;
  const created: string[] = [];
  const bytesTotal = disks.reduce((s, d) => s + d.size, 0);
  let bytesDone = 0;
  const emit = (): void => {
    const sec = (Date.now() - started) / 1000;
    opts.onProgress?.({ bytesDone, bytesTotal, bytesPerSecond: sec > 0 ? bytesDone / sec : 0, newBytes: 0 });
  };
  const timer = opts.onProgress ? setInterval(emit, PROGRESS_INTERVAL_MS) : undefined;
  // The total at once, before any byte is written: the job shows its size from the start.
  emit();
  const files: RestoreResult['files'] = [];
  try {
    if (m.definition && !only) {
      const p = safeJoin(target, m.definition.fileName);
      created.push(p);
      await fs.writeFile(p, Buffer.from(m.definition.content, 'base64'), { flag: 'wx', mode: FILE_MODE });
      files.push({ name: m.definition.fileName, path: p, size: Buffer.byteLength(m.definition.content, 'base64') });
    }
    for (const d of disks) {
      const p = only ? only.get(d.name)! : safeJoin(target, d.name);
      created.push(p);
      await restoreDisk(ctx, m, d, p, opts.signal, (n) => {
        bytesDone += n;
      }, only !== undefined, opts.checkContent === true);
      files.push({ name: d.name, path: p, size: d.size, sha256: d.sha256 });
    }
  } catch (e) {
    // Only what this restore created is removed; the folder was empty or absent before.
    for (const p of created) await fs.rm(p, { force: true });
    // The folder of the file being written when it failed (replace-disks stages each beside its target).
    throw restoreTargetError(e, created.length > 0 ? path.dirname(created[created.length - 1]!) : target);
  } finally {
    if (timer) clearInterval(timer);
  }
  emit();
  void index;
  void pool;
  return { pointId, targetDir: target, files, bytes: bytesTotal, seconds: (Date.now() - started) / 1000 };
}

/**
 * The restored file opened a second time with O_DIRECT, for the workers' runs (worker.ts,
 * RunWriter): undefined where there is no O_DIRECT or the filesystem refuses it (tmpfs, some FUSE
 * and network mounts), and the runs then go through the page cache.
 */
async function openDirect(file: string): Promise<fs.FileHandle | undefined> {
  if (DIRECT === undefined) return undefined;
  try {
    return await fs.open(file, fsc.O_WRONLY | DIRECT);
  } catch (e) {
    if (refusesDirect(e)) return undefined;
    throw e;
  }
}

/** A pack the vault's index names but the store has not: the chunks in it are lost. */
const missingPack =
  (pack: string) =>
  (e: unknown): never => {
    if (e instanceof ObjectNotFound) throw new CofferError('ChunkCorrupt', `Pack ${pack} is missing from the vault.`, { pack });
    throw e;
  };

interface Item {
  chunk: number;
  loc: ChunkLocation;
  /** The chunk's id (a view into its run of the list). */
  id: Buffer;
  /** The run of the list it belongs to, and its place there: where its sha256 goes. */
  slot: RunShas;
  at: number;
}

/** The per-chunk sha256 of one run of the list, waiting for its chunks to come back from the workers. */
interface RunShas {
  shas: Buffer;
  left: number;
  walked: boolean;
}

/** Runs of the list whose shas wait: beyond this many the walk lets the batches in flight finish first. */
const RUNS_WAITING = 4;

async function restoreDisk(
  ctx: EngineContext,
  m: Manifest,
  d: Manifest['disks'][number],
  file: string,
  signal: AbortSignal | undefined,
  progress: (n: number) => void,
  durable = false,
  checkContent = false,
): Promise<void> {
  const { store, keys, index, pool } = ctx;
  const chunkSize = m.chunkSize;
  const nChunks = Math.ceil(d.size / chunkSize);
  if (chunkCountOf(d) !== nChunks) throw new CofferError('VaultCorrupt', `The chunk list of disk ${d.name} has the wrong length.`);
  // The list is walked one run at a time (forEachChunkRun); the disk digest is fed run by run in
  // order as each run's chunks come back, so memory is a few runs' whatever the disk's size.
  // The digest over the chunks' sha256 needs their re-hash: kept only when checkContent asks for it.
  const wantShas = d.digestOver !== 'ids' && checkContent;
  const digest = createHash('sha256');
  const waiting = new Map<number, RunShas>();
  let nextRun = 0;
  const advance = (): void => {
    for (let s = waiting.get(nextRun); s && s.walked && s.left === 0; s = waiting.get(nextRun)) {
      if (wantShas) digest.update(s.shas);
      waiting.delete(nextRun++);
    }
  };
  const fh = await fs.open(file, 'wx', FILE_MODE);
  let direct: fs.FileHandle | undefined;
  const batchLimit = store.ioHints?.readBatchBytes ?? SEGMENT_BYTES;
  const maxInFlight = store.ioHints?.readBatchesInFlight ?? pool.size * 2;
  const inFlight = new Set<Promise<void>>();
  const spare: ArrayBuffer[] = [];
  let failure: unknown;
  // Packs are read with O_DIRECT where the store offers it, until a read says otherwise.
  let directReads = store.openDirectRead !== undefined;
  /** The batch's packs opened for O_DIRECT reads, or undefined (none left open) when the store refuses. */
  const openPacksDirect = async (ranges: ReadonlyArray<{ pack: string }>): Promise<Map<string, fs.FileHandle> | undefined> => {
    const handles = new Map<string, fs.FileHandle>();
    const closeAll = (): Promise<unknown> => Promise.all([...handles.values()].map((h) => h.close()));
    try {
      for (const { pack } of ranges) {
        if (handles.has(pack)) continue;
        const h = await store.openDirectRead!(packKey(pack)).catch(missingPack(pack));
        if (!h) {
          await closeAll();
          return undefined;
        }
        handles.set(pack, h);
      }
      return handles;
    } catch (e) {
      await closeAll();
      throw e;
    }
  };
  try {
    // The file starts as one hole; zero chunks are never written, so they stay holes.
    await fh.truncate(d.size);
    direct = await openDirect(file);
    const run = async (batch: Item[]): Promise<void> => {
      // Adjacent chunks of one pack are read with one ranged get. A backup's workers finish
      // segments out of order, so a pack holds runs of disk chunks in any order: sorted, a batch
      // needs about one get per pack it touches instead of one per run.
      const items = batch.length > 1 ? [...batch].sort(byPackOffset) : batch;
      const ranges: Array<{ pack: string; offset: number; length: number }> = [];
      /** Per item: its range. */
      const rangeOf = new Uint32Array(items.length);
      items.forEach((it, k) => {
        const last = ranges[ranges.length - 1];
        if (last && last.pack === it.loc.pack && last.offset + last.length === it.loc.offset) last.length += it.loc.length;
        else ranges.push({ pack: it.loc.pack, offset: it.loc.offset, length: it.loc.length });
        rangeOf[k] = ranges.length - 1;
      });
      // A local folder: the worker reads the ranges with O_DIRECT into a buffer of its own.
      const packs = directReads ? await openPacksDirect(ranges) : undefined;
      if (!packs) directReads = false;
      /** Per range: where its first byte lands in the batch's buffer. */
      const starts: number[] = [];
      let total = 0;
      const reads = packs
        ? ranges.map((r) => {
            const span = alignedSpan(r.offset, r.length);
            const read = { fd: packs.get(r.pack)!.fd, offset: span.start, length: span.end - span.start, at: total, need: r.offset + r.length - span.start };
            starts.push(total + r.offset - span.start);
            total += read.length;
            return read;
          })
        : undefined;
      if (!reads)
        for (const r of ranges) {
          starts.push(total);
          total += r.length;
        }
      try {
        // Every range is read straight into one batch buffer; batch buffers come back from the
        // workers and are reused, so restore memory is maxInFlight buffers for any disk size.
        // (With O_DIRECT reads the worker reads into a buffer of its own: the batch's is empty.)
        const kept = reads ? undefined : spare.pop();
        const ab = reads ? new ArrayBuffer(0) : kept && kept.byteLength >= total ? kept : new ArrayBuffer(Math.max(total, batchLimit + BATCH_SLACK_BYTES));
        const blob = Buffer.from(ab, 0, reads ? 0 : total);
        const readThroughStore = (i: number, into: Buffer): Promise<void> => {
          const r = ranges[i]!;
          const read = store.getRangeInto
            ? store.getRangeInto(packKey(r.pack), r.offset, into)
            : store.getRange(packKey(r.pack), r.offset, r.length).then((b) => {
                if (b.length !== r.length) throw new Error(`short read of pack ${r.pack}`);
                b.copy(into);
              });
          return read.catch(missingPack(r.pack));
        };
        // Object storage: the store signs each ranged GET here and a worker sends it, reading the
        // body straight into the batch buffer it then opens (the receive runs on the workers, not on
        // this thread). A local folder without O_DIRECT is read here, with pread into the buffer.
        const fetch = store.rangeRequest
          ? await Promise.all(ranges.map(async (r, i) => ({ ...(await store.rangeRequest!(packKey(r.pack), r.offset, r.length)), at: starts[i]!, length: r.length })))
          : undefined;
        if (!fetch && !reads) await Promise.all(ranges.map((_, i) => readThroughStore(i, blob.subarray(starts[i]!, starts[i]! + ranges[i]!.length))));
        const meta = new Uint32Array(items.length * 4);
        const positions = new Float64Array(items.length);
        const sendIds = Buffer.alloc(items.length * ID_LEN);
        items.forEach((it, k) => {
          const r = rangeOf[k]!;
          meta[k * 4] = starts[r]! + it.loc.offset - ranges[r]!.offset;
          meta[k * 4 + 1] = it.loc.length;
          meta[k * 4 + 2] = it.loc.rawLength;
          meta[k * 4 + 3] = it.loc.flags;
          positions[k] = it.chunk * chunkSize;
          it.id.copy(sendIds, k * ID_LEN);
        });
        // Decrypt, decompress, check and write happen in the worker, in parallel with reading the next ones.
        const open = { type: 'open' as const, items: meta, ids: sendIds.buffer as ArrayBuffer, fd: fh.fd, ...(direct ? { directFd: direct.fd } : {}), positions, check: checkContent };
        let r = await pool.send<'opened' | 'fetchFailed'>(pool.leastBusy(), { ...open, blob: ab, ...(fetch ? { fetch } : {}), ...(reads ? { reads } : {}) }, [ab]);
        if (r.type === 'fetchFailed' && reads) {
          // An O_DIRECT read failed: this batch, and the rest of the disk, go through the store,
          // which says what is wrong if anything is (a missing or short pack, EIO).
          directReads = false;
          return await run(batch);
        }
        if (r.type === 'fetchFailed') {
          // A worker GET failed (status, reset, timeout): those ranges are read again through the
          // store, whose retries decide between a hiccup and StorageUnreachable / StorageAuthFailed.
          const back = Buffer.from(r.blob, 0, total);
          await Promise.all(r.failed.map((i) => readThroughStore(i, back.subarray(starts[i]!, starts[i]! + ranges[i]!.length))));
          r = await pool.send<'opened'>(pool.leastBusy(), { ...open, blob: r.blob }, [r.blob]);
        }
        if (r.blob.byteLength > 0) spare.push(r.blob);
        if (r.bad.length > 0) {
          const bad = items[r.bad[0]!]!;
          throw new CofferError('ChunkCorrupt', `Chunk ${bad.chunk} of disk ${d.name} failed its integrity check.`, { disk: d.name, chunk: bad.chunk, pack: bad.loc.pack });
        }
        const got = wantShas ? Buffer.from(r.shas) : undefined;
        items.forEach((it, k) => {
          if (got && it.slot.shas.length > 0) got.copy(it.slot.shas, it.at * ID_LEN, k * ID_LEN, (k + 1) * ID_LEN);
          it.slot.left--;
        });
        advance();
        progress(items.reduce((s, it) => s + it.loc.rawLength, 0));
      } finally {
        // The worker has replied: its reads of these descriptors are over.
        if (packs) await Promise.all([...packs.values()].map((h) => h.close()));
      }
    };
    let batch: Item[] = [];
    let batchBytes = 0;
    const dispatch = async (items = batch): Promise<void> => {
      if (items === batch) {
        batch = [];
        batchBytes = 0;
      }
      while (inFlight.size >= maxInFlight) await Promise.race(inFlight);
      if (failure) throw failure;
      const p = run(items).catch((e) => {
        failure ??= e;
      });
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
    };
    const byPack = store.ioHints ? new PackBatcher<Item>(batchLimit) : undefined;
    let runNo = 0;
    await forEachChunkRun(store, keys, d, async (ids, first) => {
      const count = ids.length / ID_LEN;
      if (d.digestOver === 'ids') digest.update(ids);
      if (isZeroRun(ids)) {
        // A run stored as one hole: nothing to write, its digest shas are the shared zero ones.
        waiting.set(runNo++, { shas: wantShas ? zeroShas(first, count, chunkSize, d.size) : Buffer.alloc(0), left: 0, walked: true });
        progress(Math.min(d.size, (first + count) * chunkSize) - first * chunkSize);
        advance();
        return;
      }
      const slot: RunShas = { shas: Buffer.alloc(wantShas ? ids.length : 0), left: 0, walked: false };
      waiting.set(runNo++, slot);
      for (let k = 0; k < count; k++) {
        if (signal?.aborted) throw new CofferError('OperationCancelled', 'The restore was cancelled; its partial files were removed.');
        const c = first + k;
        if (isZeroIdAt(ids, k)) {
          // A stretch of zero chunks (a hole): never written, it stays a hole of the file.
          const end = zeroIdsEnd(ids, k, count);
          if (slot.shas.length > 0) zeroShas(c, end - k, chunkSize, d.size).copy(slot.shas, k * ID_LEN);
          progress(Math.min(d.size, (first + end) * chunkSize) - c * chunkSize);
          k = end - 1;
          continue;
        }
        const loc = index.get(ids, k * ID_LEN);
        if (!loc) throw new CofferError('ChunkCorrupt', `Chunk ${c} of disk ${d.name} is missing from the vault.`, { disk: d.name, chunk: c });
        const it: Item = { chunk: c, loc, id: ids.subarray(k * ID_LEN, (k + 1) * ID_LEN), slot, at: k };
        slot.left++;
        // remote-fetch.ts: on object storage, batches follow packs (fewer, longer ranged GETs).
        if (byPack) {
          for (const b of byPack.add(it)) await dispatch(b);
          continue;
        }
        batch.push(it);
        batchBytes += loc.length;
        if (batchBytes >= batchLimit) await dispatch();
      }
      slot.walked = true;
      advance();
      // Too many runs waiting for their chunks (a long hole after a run still in flight): send
      // what is batched and let it finish, so the waiting shas stay a few runs'.
      if (waiting.size > RUNS_WAITING) {
        if (byPack) for (const b of byPack.flush()) await dispatch(b);
        if (batch.length > 0) await dispatch();
        while (inFlight.size > 0 && waiting.size > RUNS_WAITING) await Promise.race(inFlight);
        if (failure) throw failure;
      }
    });
    if (byPack) for (const b of byPack.flush()) await dispatch(b);
    if (batch.length > 0) await dispatch();
    while (inFlight.size > 0) await Promise.race(inFlight);
    if (failure) throw failure;
    // No fsync for a restore to a folder: like cp, restic and borg, the files are handed to the
    // page cache (an fsync of gigabytes would double the time on slow disks). A staged file that
    // is about to replace a VM's disk is synced first: the rename must never expose a torn disk.
    if (durable) await fh.sync();
  } catch (e) {
    while (inFlight.size > 0) await Promise.race(inFlight);
    throw e;
  } finally {
    await direct?.close();
    await fh.close();
  }
  // A disk built from a parent point records the digest of its chunk ids (see plan.ts): checked
  // always (one sha256 over the list). Each chunk opened under its id (the GCM tag), so the file
  // is the list's chunks end to end. The digest over the chunks' sha256 needs their re-hash:
  // checked when checkContent asked for it.
  if (waiting.size > 0) throw new Error('restore: a run of the chunk list was not completed');
  if ((d.digestOver === 'ids' || wantShas) && digest.digest('hex') !== d.sha256) {
    throw new CofferError('ChunkCorrupt', `The restored disk ${d.name} does not match the digest recorded at backup.`, { disk: d.name });
  }
}
