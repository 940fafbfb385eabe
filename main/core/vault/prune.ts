import { createHash, createHmac } from 'node:crypto';
import zstd from 'zstd-napi';
import { CofferError } from '../errors.js';
import type { VaultKeys } from './config.js';
import { open } from './crypto.js';
import { ChunkIdSet, ChunkIndex } from './chunk-index.js';
import { forEachChunkRun, runsOf, sweepChunkLists } from './chunk-lists.js';
import type { EngineContext } from './backup.js';
import { ZERO_ID } from './backup.js';
import { FLAG_ZSTD, ID_LEN, indexKey, PACK_PREFIX, packKey, pointKey, type DecodedIndex } from './format.js';
import { decodeManifest, listPointIds } from './manifest.js';
import { crashPoint, loadIndexes, mapStoreError, PackWriter } from './packs.js';

/** Packs whose live bytes fall under this share are rewritten with only their live chunks. */
export const REPACK_THRESHOLD = 0.5;

export interface GcReport {
  pointsKept: number;
  packsDeleted: number;
  packsRepacked: number;
  packsWritten: number;
  orphanPacksDeleted: number;
  bytesFreed: number;
  bytesWritten: number;
  seconds: number;
  /**
   * Live chunks whose copy failed its check while repacking and that no other pack held intact:
   * their old packs were left in place (not deleted), and a full verify names the damaged points.
   */
  badChunks: number;
  /** Packs kept because they hold such a chunk. */
  packsKeptDamaged: string[];
}

/** Decrypts, decompresses and hashes one sealed chunk: true only if it is the chunk `id` names. */
export function chunkIntact(keys: VaultKeys, id: Buffer, blob: Buffer, rawLength: number, flags: number): boolean {
  try {
    const body = open(keys.encKey, blob, id, 'chunk');
    const plain = flags & FLAG_ZSTD ? zstd.decompress(body) : body;
    if (plain.length !== rawLength) return false;
    const digest = createHash('sha256').update(plain).digest();
    return createHmac('sha256', keys.macKey).update(digest).digest().equals(id);
  } catch {
    return false;
  }
}

/** Deletes manifests only; space comes back with collectGarbage. Needs the exclusive lock. */
export async function deletePointObjects(ctx: EngineContext, ids: string[]): Promise<void> {
  const known = new Set(await listPointIds(ctx.store));
  for (const id of ids) if (!known.has(id)) throw new CofferError('RecoveryPointNotFound', `No recovery point "${id}" in this vault.`);
  for (const id of ids) await ctx.store.delete(pointKey(id));
}

/**
 * Order of every step keeps each remaining point restorable at any crash:
 * 1. new packs with live chunks copied out of sparse packs are written with their index;
 * 2. only then are old index objects deleted, then old packs.
 * A pack left without index (crash between 2's steps) is an orphan: nothing can reference it,
 * and the next run deletes it. The exclusive lock guarantees no backup is writing a pack meanwhile.
 */
export interface GcOptions {
  /** Called before the first deletion (after new packs are written): Vault re-checks its lock here. */
  beforeDelete?: () => Promise<void>;
}

export async function runGc(ctx: EngineContext, opts: GcOptions = {}): Promise<GcReport> {
  const { store, keys } = ctx;
  const started = Date.now();
  const referenced = new ChunkIdSet();
  const referencedRuns = new Set<string>();
  const points = await listPointIds(store);
  for (const id of points) {
    let m;
    try {
      m = decodeManifest(keys, id, await store.get(pointKey(id)));
    } catch (e) {
      // Collecting without knowing what a point references could delete its data.
      throw new CofferError('VaultCorrupt', `Recovery point ${id} cannot be read, so garbage collection stopped without deleting anything.`, {
        pointId: id,
        cause: (e as Error).message,
      });
    }
    for (const d of m.disks) {
      for (const r of runsOf(d)) referencedRuns.add(r);
      // A chunk list that cannot be read stops GC like an unreadable manifest (forEachChunkRun throws).
      try {
        await forEachChunkRun(store, keys, d, (list) => {
          for (let o = 0; o < list.length; o += ID_LEN) if (!list.subarray(o, o + ID_LEN).equals(ZERO_ID)) referenced.add(list, o);
        });
      } catch (e) {
        throw new CofferError('VaultCorrupt', `A chunk list of recovery point ${id} cannot be read, so garbage collection stopped without deleting anything.`, {
          pointId: id,
          cause: (e as Error).message,
        });
      }
    }
  }

  const indexes: DecodedIndex[] = [];
  const { bad } = await loadIndexes(store, keys, (d) => indexes.push(d));
  if (bad.length > 0) {
    throw new CofferError('VaultCorrupt', `${bad.length} index object(s) cannot be read, so garbage collection stopped without deleting anything.`, { packs: bad });
  }
  const packObjs = new Map((await store.list(PACK_PREFIX)).map((o) => [o.key, o.size]));
  // Stable order: the copy of a chunk that is kept is the one in the pack that sorts first.
  indexes.sort((a, b) => (a.packId < b.packId ? -1 : 1));
  const kept = new ChunkIdSet();
  const report: GcReport = {
    pointsKept: points.length,
    packsDeleted: 0,
    packsRepacked: 0,
    packsWritten: 0,
    orphanPacksDeleted: 0,
    bytesFreed: 0,
    bytesWritten: 0,
    seconds: 0,
    badChunks: 0,
    packsKeptDamaged: [],
  };
  const toDelete: DecodedIndex[] = [];
  const toRepack: Array<{ d: DecodedIndex; live: number[] }> = [];
  for (const d of indexes) {
    const size = packObjs.get(packKey(d.packId));
    const live: number[] = [];
    let liveBytes = 0;
    let total = 0;
    for (let i = 0; i < d.count; i++) {
      total += d.lengths[i]!;
      if (size !== undefined && referenced.has(d.ids, i * ID_LEN) && kept.add(d.ids, i * ID_LEN)) {
        live.push(i);
        liveBytes += d.lengths[i]!;
      }
    }
    if (live.length === 0) toDelete.push(d);
    else if (liveBytes < total * REPACK_THRESHOLD) toRepack.push({ d, live });
  }

  try {
    const keepDamaged = new Set<string>();
    if (toRepack.length > 0) {
      const scratch = new ChunkIndex();
      const writer = new PackWriter(store, keys, scratch);
      /** Another intact copy of chunk `id` (from any other pack), or null. */
      const otherCopy = async (id: Buffer, notIn: string): Promise<{ blob: Buffer; rawLength: number; flags: number } | null> => {
        for (const o of indexes) {
          if (o.packId === notIn || !packObjs.has(packKey(o.packId))) continue;
          for (let j = 0; j < o.count; j++) {
            if (!o.ids.subarray(j * ID_LEN, (j + 1) * ID_LEN).equals(id)) continue;
            let blob: Buffer;
            try {
              blob = await store.getRange(packKey(o.packId), o.offsets[j]!, o.lengths[j]!);
            } catch {
              continue;
            }
            if (chunkIntact(keys, id, blob, o.rawLengths[j]!, o.flags[j]!)) return { blob, rawLength: o.rawLengths[j]!, flags: o.flags[j]! };
          }
        }
        return null;
      };
      for (const { d, live } of toRepack) {
        const pack = await store.get(packKey(d.packId));
        for (const i of live) {
          const off = d.offsets[i]!;
          const id = Buffer.from(d.ids.subarray(i * ID_LEN, (i + 1) * ID_LEN));
          // Sealed blobs are position independent (nonce inside, AAD = chunk id): copied as they
          // are, once checked, so a repack never spreads a damaged chunk and drops the last good one.
          const blob = Buffer.from(pack.subarray(off, off + d.lengths[i]!));
          if (blob.length === d.lengths[i] && chunkIntact(keys, id, blob, d.rawLengths[i]!, d.flags[i]!)) {
            await writer.addRaw(id, blob, d.rawLengths[i]!, d.flags[i]!);
            continue;
          }
          const alt = await otherCopy(id, d.packId);
          if (alt) await writer.addRaw(id, alt.blob, alt.rawLength, alt.flags);
          else {
            report.badChunks++;
            keepDamaged.add(d.packId);
          }
        }
      }
      await writer.finish();
      report.packsWritten = writer.packsWritten;
      report.bytesWritten = writer.bytesWritten;
      report.packsRepacked = toRepack.length - keepDamaged.size;
    }
    report.packsKeptDamaged = [...keepDamaged];
    await opts.beforeDelete?.();
    for (const d of [...toDelete, ...toRepack.map((r) => r.d).filter((x) => !keepDamaged.has(x.packId))]) {
      const key = packKey(d.packId);
      report.bytesFreed += packObjs.get(key) ?? 0;
      const delIndex = store.delete(indexKey(d.packId));
      crashPoint('gc', report.packsDeleted * 2 + 1);
      await delIndex;
      const delPack = store.delete(key);
      crashPoint('gc', report.packsDeleted * 2 + 2);
      await delPack;
      packObjs.delete(key);
      report.packsDeleted++;
    }
    // Chunk lists (version 2) no manifest names: left by a backup that failed, or by deleted points.
    const lists = await sweepChunkLists(store, referencedRuns);
    report.bytesFreed += lists.bytes;
    // Packs without an index: left by a crash between pack and index writes, or by step 2 above.
    const indexed = new Set(indexes.map((d) => packKey(d.packId)));
    for (const [key, size] of packObjs) {
      if (indexed.has(key)) continue;
      await store.delete(key);
      report.orphanPacksDeleted++;
      report.bytesFreed += size;
    }
  } catch (e) {
    throw mapStoreError(e);
  }
  report.seconds = (Date.now() - started) / 1000;
  return report;
}
