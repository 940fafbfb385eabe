import { createHash, createHmac } from 'node:crypto';
import zstd from 'zstd-napi';
import { CofferError } from '../errors.js';
import type { VaultKeys } from './config.js';
import { open } from './crypto.js';
import { ChunkIndex } from './chunk-index.js';
import { forEachUnseenRun, sweepChunkLists } from './chunk-lists.js';
import { ChunkScratch, type ScratchPack } from './chunk-scratch.js';
import type { EngineContext } from './backup.js';
import { FLAG_ZSTD, indexKey, packKey, pointKey } from './format.js';
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
  /** Folder for the working tables of a large vault (the install's cache folder for it); default: the system's temporary folder. */
  scratchDir?: string;
  /** Chunks up to which the working tables stay in RAM (default SCRATCH_RAM_CHUNKS; tests force the file with 0). */
  ramChunks?: number;
}

/**
 * Memory does not grow with the vault: what GC needs per chunk (every referenced id, every stored
 * copy, which copy is kept) is in a ChunkScratch (chunk-scratch.ts), on disk for a large vault;
 * RAM holds one index object, one chunk-list run or one pack at a time, and names per run.
 */
export async function runGc(ctx: EngineContext, opts: GcOptions = {}): Promise<GcReport> {
  const scratch = ChunkScratch.open(ctx.index.size, opts.scratchDir, opts.ramChunks);
  try {
    return await gcWith(ctx, scratch, opts);
  } finally {
    scratch.close();
  }
}

async function gcWith(ctx: EngineContext, scratch: ChunkScratch, opts: GcOptions): Promise<GcReport> {
  const { store, keys } = ctx;
  const started = Date.now();
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
      // A chunk list that cannot be read stops GC like an unreadable manifest; a run shared with a point already marked is not read again.
      try {
        await forEachUnseenRun(store, keys, d, referencedRuns, (list) => scratch.addReferenced(list));
      } catch (e) {
        throw new CofferError('VaultCorrupt', `A chunk list of recovery point ${id} cannot be read, so garbage collection stopped without deleting anything.`, {
          pointId: id,
          cause: (e as Error).message,
        });
      }
    }
  }

  const { bad } = await loadIndexes(
    store,
    keys,
    (d) => scratch.addIndex(d),
    {
      select: async (listing) => {
        scratch.setPacks(listing);
        return undefined; // every listed object is read
      },
    },
  );
  if (bad.length > 0) {
    throw new CofferError('VaultCorrupt', `${bad.length} index object(s) cannot be read, so garbage collection stopped without deleting anything.`, { packs: bad });
  }
  // Packs without an index object: left by a crash between pack and index writes, or by a deletion below.
  const orphans = await scratch.setPackSizes(store);
  // Stable order: the copy of a chunk that is kept is the one in the pack that sorts first.
  const plan = scratch.planGc(REPACK_THRESHOLD);
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
  const DELETE = 1;
  const REPACK = 2;

  try {
    const keepDamaged = new Set<string>();
    if (plan.toRepack > 0) {
      const writer = new PackWriter(store, keys, new ChunkIndex());
      /** Another intact copy of chunk `id` (from any other listed pack), or null. */
      const otherCopy = async (id: Buffer, notIn: number): Promise<{ blob: Buffer; rawLength: number; flags: number } | null> => {
        for (const o of scratch.otherCopies(id, notIn)) {
          let blob: Buffer;
          try {
            blob = await store.getRange(packKey(o.packId), o.off, o.len);
          } catch {
            continue;
          }
          if (chunkIntact(keys, id, blob, o.raw, o.flags)) return { blob, rawLength: o.raw, flags: o.flags };
        }
        return null;
      };
      await scratch.forEachPack(REPACK, async (p) => {
        const pack = await store.get(packKey(p.id));
        for (const e of scratch.keptEntries(p)) {
          // Sealed blobs are position independent (nonce inside, AAD = chunk id): copied as they
          // are, once checked, so a repack never spreads a damaged chunk and drops the last good one.
          const blob = Buffer.from(pack.subarray(e.off, e.off + e.len));
          if (blob.length === e.len && chunkIntact(keys, e.id, blob, e.raw, e.flags)) {
            await writer.addRaw(e.id, blob, e.raw, e.flags);
            continue;
          }
          const alt = await otherCopy(e.id, p.no);
          if (alt) await writer.addRaw(e.id, alt.blob, alt.rawLength, alt.flags);
          else {
            report.badChunks++;
            keepDamaged.add(p.id);
          }
        }
      });
      await writer.finish();
      report.packsWritten = writer.packsWritten;
      report.bytesWritten = writer.bytesWritten;
      report.packsRepacked = plan.toRepack - keepDamaged.size;
    }
    report.packsKeptDamaged = [...keepDamaged];
    await opts.beforeDelete?.();
    const deletePack = async (p: ScratchPack): Promise<void> => {
      if (keepDamaged.has(p.id)) return;
      report.bytesFreed += p.size ?? 0;
      const delIndex = store.delete(indexKey(p.id));
      crashPoint('gc', report.packsDeleted * 2 + 1);
      await delIndex;
      const delPack = store.delete(packKey(p.id));
      crashPoint('gc', report.packsDeleted * 2 + 2);
      await delPack;
      report.packsDeleted++;
    };
    await scratch.forEachPack(DELETE, deletePack);
    await scratch.forEachPack(REPACK, deletePack);
    // Chunk lists (version 2) no manifest names: left by a backup that failed, or by deleted points.
    const lists = await sweepChunkLists(store, referencedRuns);
    report.bytesFreed += lists.bytes;
    for (const o of orphans) {
      await store.delete(o.key);
      report.orphanPacksDeleted++;
      report.bytesFreed += o.size;
    }
  } catch (e) {
    throw mapStoreError(e);
  }
  report.seconds = (Date.now() - started) / 1000;
  return report;
}
