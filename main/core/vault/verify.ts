import { ChunkIdSet } from './chunk-index.js';
import { forEachChunkRun } from './chunk-lists.js';
import type { EngineContext, Progress } from './backup.js';
import { ZERO_ID } from './backup.js';
import { ID_LEN, PACK_PREFIX, packKey, type DecodedIndex, type Manifest } from './format.js';
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
}

/**
 * Quick: every manifest readable, every referenced chunk indexed in a pack that exists and is long
 * enough. Full: also every indexed chunk read, decrypted, decompressed and its keyed hash checked.
 */
export async function runVerify(ctx: EngineContext, opts: VerifyOptions = {}): Promise<VerifyReport> {
  const { store, keys, pool } = ctx;
  const started = Date.now();
  const full = opts.full ?? false;
  const indexes: DecodedIndex[] = [];
  const { bad: unreadableIndexes } = await loadIndexes(store, keys, (d) => indexes.push(d));
  const packSizes = new Map<string, number>();
  for (const o of await store.list(PACK_PREFIX)) packSizes.set(o.key, o.size);

  // A chunk is good when at least one stored copy is good (repack may leave two copies for a while).
  const good = new ChunkIdSet();
  const corrupt = new ChunkIdSet();
  let chunksChecked = 0;
  let packsChecked = 0;
  const bytesTotal = indexes.reduce((s, d) => s + d.lengths.reduce((a, b) => a + b, 0), 0);
  let bytesDone = 0;
  const emit = (): void => {
    const sec = (Date.now() - started) / 1000;
    opts.onProgress?.({ bytesDone, bytesTotal, bytesPerSecond: sec > 0 ? bytesDone / sec : 0, newBytes: 0 });
  };
  const timer = opts.onProgress ? setInterval(emit, 250) : undefined;
  try {
    const checkPack = async (d: DecodedIndex): Promise<void> => {
      const size = packSizes.get(packKey(d.packId));
      if (size === undefined) return; // missing pack: its chunks stay "not good"
      packsChecked++;
      if (!full) {
        for (let i = 0; i < d.count; i++) {
          if (d.offsets[i]! + d.lengths[i]! <= size) good.add(d.ids, i * ID_LEN);
          else corrupt.add(d.ids, i * ID_LEN);
        }
        chunksChecked += d.count;
        return;
      }
      let blob: Buffer;
      try {
        blob = await store.get(packKey(d.packId));
      } catch {
        return;
      }
      const meta = new Uint32Array(d.count * 4);
      for (let i = 0; i < d.count; i++) {
        meta[i * 4] = d.offsets[i]!;
        meta[i * 4 + 1] = d.lengths[i]!;
        meta[i * 4 + 2] = d.rawLengths[i]!;
        meta[i * 4 + 3] = d.flags[i]!;
      }
      const ab = blob.byteOffset === 0 && blob.byteLength === blob.buffer.byteLength ? (blob.buffer as ArrayBuffer) : new Uint8Array(blob).buffer;
      const ids = new Uint8Array(d.ids).buffer;
      const r = await pool.send<'opened'>(pool.leastBusy(), { type: 'open', blob: ab, items: meta, ids, fd: -1, check: true }, [ab, ids]);
      const bad = new Set(r.bad);
      for (let i = 0; i < d.count; i++) {
        if (bad.has(i)) corrupt.add(d.ids, i * ID_LEN);
        else good.add(d.ids, i * ID_LEN);
      }
      chunksChecked += d.count;
      bytesDone += blob.length;
    };
    const queue = [...indexes];
    await Promise.all(
      Array.from({ length: Math.max(1, pool.size) }, async () => {
        for (let d = queue.shift(); d; d = queue.shift()) await checkPack(d);
      }),
    );
  } finally {
    if (timer) clearInterval(timer);
  }

  const damaged: DamagedPoint[] = [];
  let missingChunks = 0;
  let corruptChunks = 0;
  const countedMissing = new ChunkIdSet();
  const ids = await listPointIds(store);
  for (const id of ids) {
    let m: Manifest;
    try {
      m = decodeManifest(keys, id, await store.get(pointKey(id)));
    } catch {
      damaged.push({ pointId: id, vmName: '?', disks: [], manifestUnreadable: true });
      continue;
    }
    const dd: DamagedPoint['disks'] = [];
    for (const disk of m.disks) {
      let miss = 0;
      let bad = 0;
      // One run of the chunk list at a time (version 2); a run that is missing or damaged makes its chunks missing.
      await forEachChunkRun(
        store,
        keys,
        disk,
        (list) => {
          for (let o = 0; o < list.length; o += ID_LEN) {
            if (list.subarray(o, o + ID_LEN).equals(ZERO_ID) || good.has(list, o)) continue;
            if (corrupt.has(list, o)) bad++;
            else miss++;
            if (countedMissing.add(list, o)) {
              if (corrupt.has(list, o)) corruptChunks++;
              else missingChunks++;
            }
          }
        },
        (_first, n) => {
          miss += n;
          missingChunks += n;
        },
      );
      if (miss + bad > 0) dd.push({ name: disk.name, missingChunks: miss, corruptChunks: bad });
    }
    if (dd.length > 0) damaged.push({ pointId: id, vmName: m.vm.name, disks: dd });
  }
  emit();
  return {
    full,
    ok: damaged.length === 0 && unreadableIndexes.length === 0 && corrupt.size === 0,
    pointsChecked: ids.length,
    chunksChecked,
    packsChecked,
    missingChunks,
    corruptChunks: Math.max(corruptChunks, 0),
    unreadableIndexes,
    damaged,
    damagedVms: [...new Set(damaged.map((d) => d.vmName))].sort(),
    seconds: (Date.now() - started) / 1000,
  };
}
