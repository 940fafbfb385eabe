import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { PACK_ID_RE } from './format.js';
import type { ObjectStore } from './storage.js';

/** Age after which a `.tmp-*` file of the cache belongs to a writer that died. */
const CACHE_TEMP_STALE_MS = 60 * 60 * 1000;

/**
 * A per-vault copy of the vault's index objects in this install's data folder
 * (`<dataDir>/cache/<vaultId>/index/<packId>`), so opening a large vault on object storage lists
 * `index/` once and reads only the index objects it has not seen before.
 *
 * The cache is never trusted over the store:
 * - the store's listing decides which index objects exist: a cached one the listing lacks is
 *   dropped, one whose size differs from the listed size is fetched again;
 * - a file holds the sealed object exactly as the store returned it (AES-GCM, AAD `index:<packId>`,
 *   under the vault's key), so the reader authenticates it like the original; a file that fails
 *   (torn, corrupted, tampered with, from another vault) is discarded and the object fetched again;
 * - a lost cache folder is rebuilt on the next open; no cache problem ever fails an operation.
 * Several processes may share a data folder: files are written to a temp name and renamed, so a
 * reader sees a whole file or none. No fsync: a file lost or torn by a crash just fails its check.
 */
export class IndexCache {
  private readonly dir: string;
  private made: Promise<unknown> | undefined;

  constructor(cacheDir: string) {
    this.dir = path.join(cacheDir, 'index');
  }

  private file(packId: string): string {
    if (!PACK_ID_RE.test(packId)) throw new Error(`invalid pack id: ${packId}`);
    return path.join(this.dir, packId);
  }

  /** True when the cache holds at least one index object (opening then skips the prefetch). */
  async warm(): Promise<boolean> {
    try {
      const d = await fs.opendir(this.dir);
      try {
        for await (const e of d) if (PACK_ID_RE.test(e.name)) return true;
      } finally {
        await d.close().catch(() => undefined);
      }
    } catch {
      // No folder yet: cold.
    }
    return false;
  }

  /** The cached sealed object, or undefined when absent or unreadable. */
  async read(packId: string): Promise<Buffer | undefined> {
    try {
      return await fs.readFile(this.file(packId));
    } catch {
      return undefined;
    }
  }

  /** Stores a sealed index object (temp file + rename). Never throws: a cache that cannot be written is just not used. */
  async save(packId: string, blob: Uint8Array): Promise<void> {
    let tmp: string | undefined;
    try {
      const target = this.file(packId);
      // The folder once per handle (a rebuild saves 470,000 objects at 80M chunks), again after a failure.
      this.made ??= fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
      await this.made;
      tmp = path.join(this.dir, `.tmp-${randomBytes(8).toString('hex')}`);
      await fs.writeFile(tmp, blob, { flag: 'wx', mode: 0o600 });
      await fs.rename(tmp, target);
      tmp = undefined;
    } catch {
      this.made = undefined; // the folder may be gone (removed by hand): made again by the next save
      if (tmp) await fs.rm(tmp, { force: true }).catch(() => undefined);
    }
  }

  /** Removes one cached object (it failed its check). Never throws. */
  async drop(packId: string): Promise<void> {
    await fs.rm(this.file(packId), { force: true }).catch(() => undefined);
  }

  /**
   * Drops cached objects the store no longer lists (a prune here or on another install) and temp
   * files of dead writers. `listedAt` is when the listing started: a file written after it may be
   * an object created since (another process on this data folder cached it), so it stays.
   * Returns how many files were removed. Never throws.
   */
  async retain(listed: { has(packId: string): boolean }, listedAt: number): Promise<number> {
    let dir;
    try {
      dir = await fs.opendir(this.dir, { bufferSize: 256 }); // entry by entry: 470,000 files at 80M chunks
    } catch {
      return 0;
    }
    let removed = 0;
    for await (const { name } of dir) {
      const isTemp = name.startsWith('.tmp-');
      if (!isTemp && (!PACK_ID_RE.test(name) || listed.has(name))) continue;
      const file = path.join(this.dir, name);
      try {
        const st = await fs.stat(file);
        if (st.mtimeMs >= (isTemp ? Date.now() - CACHE_TEMP_STALE_MS : listedAt)) continue;
        await fs.rm(file, { force: true });
        removed++;
      } catch {
        // Gone already (another process) or unreadable: nothing to do.
      }
    }
    return removed;
  }
}

const INDEX_KEY_RE = /^index\/([0-9a-f]{32})$/;

/**
 * The store as the engine sees it when the vault has a cache: every index object it writes
 * (backup, GC repack) also lands in the cache, so the next open does not fetch it back; one it
 * deletes (GC) is reported to `onIndexDeleted` (the chunk db forgets it) before its copy goes.
 * Everything else passes through unchanged, every optional member and option included (a lock's
 * `durable: false`, a local folder's aligned pack buffers).
 */
export function cachingIndexWrites(store: ObjectStore, cache: IndexCache, onIndexDeleted?: (packId: string) => Promise<void>): ObjectStore {
  const put: ObjectStore['put'] = async (key, data, opts) => {
    await store.put(key, data, opts);
    const m = INDEX_KEY_RE.exec(key);
    if (m) await cache.save(m[1]!, data);
  };
  const del: ObjectStore['delete'] = async (key) => {
    const m = INDEX_KEY_RE.exec(key);
    if (m) await onIndexDeleted?.(m[1]!);
    await store.delete(key);
    if (m) await cache.drop(m[1]!);
  };
  // A proxy, not a copy of the members: one the store lacks stays absent (the engine tests for
  // optional ones), and one added to ObjectStore later passes through without a line here.
  return new Proxy(store, {
    get(target, prop) {
      if (prop === 'put') return put;
      if (prop === 'delete') return del;
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}
