import { forEachChunkRun, isZeroRun, readRun } from './chunk-lists.js';
import { ChunkScratch, type ScratchPack } from './chunk-scratch.js';
import type { EngineContext, Progress } from './backup.js';
import { ID_LEN, packKey, type Manifest } from './format.js';
import { decodeManifest, listPointIds } from './manifest.js';
import { loadIndexes } from './packs.js';
import { pointKey } from './format.js';

export interface DamagedPoint {
  pointId: string;
  vmName: string;
  /** Disks with at least one missing or corrupt chunk, and how many. */
  disks: Array<{ name: string; missingChunks: number; corruptChunks: number }>;
  manifestUnreadable?: boolean;
}

export interface VerifyReport {
  full: boolean;
  ok: boolean;
  pointsChecked: number;
  chunksChecked: number;
  packsChecked: number;
  missingChunks: number;
  corruptChunks: number;
  unreadableIndexes: string[];
  damaged: DamagedPoint[];
  /** VM names with at least one damaged point. */
  damagedVms: string[];
  seconds: number;
}

export interface VerifyOptions {
  full?: boolean;
  onProgress?: (p: Progress) => void;
  /** Folder for the working tables of a large vault (the install's cache folder for it); default: the system's temporary folder. */
  scratchDir?: string;
  /** Chunks up to which the working tables stay in RAM (default SCRATCH_RAM_CHUNKS; tests force the file with 0). */
  ramChunks?: number;
}

/**
 * Quick: every manifest readable, every referenced chunk indexed in a pack that exists and is long
 * enough. Full: also every indexed chunk read, decrypted, decompressed and its keyed hash checked.
 * Memory does not grow with the vault: the stored copies, their verdicts and the referenced ids
 * are in a ChunkScratch (chunk-scratch.ts); a chunk-list run shared by several points is read once.
 */
export async function runVerify(ctx: EngineContext, opts: VerifyOptions = {}): Promise<VerifyReport> {
  const scratch = ChunkScratch.open(ctx.index.size, opts.scratchDir, opts.ramChunks);
  try {
    return await verifyWith(ctx, scratch, opts);
  } finally {
    scratch.close();
  }
}

/** A disk as verify reports it: its runs (numbers given by verifyWith; a run it could not read counts `unreadable` missing chunks). */
interface DiskRuns {
  name: string;
  runs: Array<{ no: number; unreadable: number }>;
}

async function verifyWith(ctx: EngineContext, scratch: ChunkScratch, opts: VerifyOptions): Promise<VerifyReport> {
  const { store, keys, pool } = ctx;
  const started = Date.now();
  const full = opts.full ?? false;
  let bytesTotal = 0;
  const { bad: unreadableIndexes } = await loadIndexes(
    store,
    keys,
    (d) => {
      scratch.addIndex(d);
      for (let i = 0; i < d.count; i++) bytesTotal += d.lengths[i]!;
    },
    {
      select: async (listing) => {
        scratch.setPacks(listing);
        return undefined; // every listed object is read
      },
    },
  );
  await scratch.setPackSizes(store);

  let bytesDone = 0;
  const emit = (): void => {
    const sec = (Date.now() - started) / 1000;
    opts.onProgress?.({ bytesDone, bytesTotal, bytesPerSecond: sec > 0 ? bytesDone / sec : 0, newBytes: 0 });
  };
  const timer = opts.onProgress ? setInterval(emit, 250) : undefined;
  try {
    if (!full) scratch.markListedChecked();
    else {
      // A chunk is good when at least one stored copy is good (repack may leave two copies for a while).
      const checkPack = async (p: ScratchPack): Promise<void> => {
        let blob: Buffer;
        try {
          blob = await store.get(packKey(p.id));
        } catch {
          return; // its chunks stay "not good"
        }
        const entries = scratch.entries(p);
        const meta = new Uint32Array(entries.length * 4);
        const idBuf = Buffer.alloc(entries.length * ID_LEN);
        entries.forEach((e, i) => {
          meta[i * 4] = e.off;
          meta[i * 4 + 1] = e.len;
          meta[i * 4 + 2] = e.raw;
          meta[i * 4 + 3] = e.flags;
          e.id.copy(idBuf, i * ID_LEN);
        });
        const ab = blob.byteOffset === 0 && blob.byteLength === blob.buffer.byteLength ? (blob.buffer as ArrayBuffer) : new Uint8Array(blob).buffer;
        const ids = new Uint8Array(idBuf).buffer;
        const r = await pool.send<'opened'>(pool.leastBusy(), { type: 'open', blob: ab, items: meta, ids, fd: -1, check: true }, [ab, ids]);
        scratch.markChecked(p, r.bad);
        bytesDone += blob.length;
      };
      // One page of packs at a time, a pack per worker.
      for (let after = 0; ; ) {
        const queue = scratch.packs(after);
        if (queue.length === 0) break;
        after = queue.at(-1)!.no;
        await Promise.all(
          Array.from({ length: Math.max(1, pool.size) }, async () => {
            for (let p = queue.shift(); p; p = queue.shift()) await checkPack(p);
          }),
        );
      }
    }
  } finally {
    if (timer) clearInterval(timer);
  }

  const damaged: DamagedPoint[] = [];
  const points: Array<{ id: string; vmName: string; disks: DiskRuns[] } | { id: string; unreadable: true }> = [];
  /** Runs read so far, by name and length: a run shared by several points (an unchanged stretch) is read and counted once. */
  const runs = new Map<string, { no: number; unreadable: number }>();
  let nextRun = 0;
  const ids = await listPointIds(store);
  for (const id of ids) {
    let m: Manifest;
    try {
      m = decodeManifest(keys, id, await store.get(pointKey(id)));
    } catch {
      points.push({ id, unreadable: true });
      continue;
    }
    const disks: DiskRuns[] = [];
    for (const disk of m.disks) {
      const dr: DiskRuns = { name: disk.name, runs: [] };
      disks.push(dr);
      if (!disk.list) {
        // Version 1: the list is in the manifest, one run of its own.
        const no = nextRun++;
        await forEachChunkRun(store, keys, disk, (list) => scratch.addRunIds(no, list));
        dr.runs.push({ no, unreadable: 0 });
        continue;
      }
      const { count, runChunks, runs: names } = disk.list;
      for (let r = 0; r < names.length; r++) {
        const n = Math.min(runChunks, count - r * runChunks);
        const key = `${names[r]}:${n}`;
        let run = runs.get(key);
        if (!run) {
          run = { no: nextRun++, unreadable: 0 };
          runs.set(key, run);
          try {
            const list = await readRun(store, keys, names[r]!, n);
            if (!isZeroRun(list)) scratch.addRunIds(run.no, list);
          } catch {
            run.unreadable = n; // a run that is missing or damaged makes its chunks missing
          }
        }
        dr.runs.push(run);
      }
    }
    points.push({ id, vmName: m.vm.name, disks });
  }

  const v = scratch.verdicts();
  let missingChunks = v.missing;
  for (const p of points) {
    if ('unreadable' in p) {
      damaged.push({ pointId: p.id, vmName: '?', disks: [], manifestUnreadable: true });
      continue;
    }
    const dd: DamagedPoint['disks'] = [];
    for (const disk of p.disks) {
      let miss = 0;
      let bad = 0;
      for (const r of disk.runs) {
        const d = v.runs.get(r.no);
        miss += r.unreadable + (d?.missing ?? 0);
        bad += d?.corrupt ?? 0;
        missingChunks += r.unreadable;
      }
      if (miss + bad > 0) dd.push({ name: disk.name, missingChunks: miss, corruptChunks: bad });
    }
    if (dd.length > 0) damaged.push({ pointId: p.id, vmName: p.vmName, disks: dd });
  }
  const checked = scratch.checkedCounts();
  emit();
  return {
    full,
    ok: damaged.length === 0 && unreadableIndexes.length === 0 && !v.anyCorrupt,
    pointsChecked: ids.length,
    chunksChecked: checked.chunks,
    packsChecked: checked.packs,
    missingChunks,
    corruptChunks: v.corrupt,
    unreadableIndexes,
    damaged,
    damagedVms: [...new Set(damaged.map((d) => d.vmName))].sort(),
    seconds: (Date.now() - started) / 1000,
  };
}
