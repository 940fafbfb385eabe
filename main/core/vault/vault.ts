import { CofferError } from '../errors.js';
import type { StepLog } from '../step-log.js';
import { runBackup, type BackupOptions, type EngineContext, type PointSummary } from './backup.js';
import { ChunkDb, refreshChunkDb } from './chunk-db.js';
import { ChunkIndex, type ChunkLookup } from './chunk-index.js';
import { cachingIndexWrites, IndexCache } from './index-cache.js';
import { checkConfigMac, createVaultConfig, readVaultConfig, unlockVaultConfig, writeVaultConfig, type KdfParams, type VaultConfig, type VaultKeys } from './config.js';
import { DEFAULT_CHUNK_SIZE, ID_LEN, PACK_PREFIX, packKey, MAX_CHUNK_SIZE, MIN_CHUNK_SIZE, SafeFileName, ZSTD_LEVEL, type Manifest } from './format.js';
import { LOCK_STALE_MS, VaultLock, type AcquireOptions } from './locks.js';
import { listPointIds, readManifest } from './manifest.js';
import { decodeCachedIndex, loadIndexes, prefetchIndexes } from './packs.js';
import { deletePointObjects, runGc, type GcReport } from './prune.js';
import { runRestore, type RestoreOptions, type RestoreResult } from './restore.js';
import type { RandomReadContext } from './random-read.js';
import { listPages, type ObjectStore } from './storage.js';
import { runUpgrade, type UpgradeOptions, type UpgradeReport } from './upgrade.js';
import { runVerify, type VerifyOptions, type VerifyReport } from './verify.js';
import { WorkerPool } from './worker-pool.js';

export type { BackupOptions, PointSummary } from './backup.js';
export type { RestoreOptions, RestoreResult } from './restore.js';
export type { VerifyReport, DamagedPoint } from './verify.js';
export type { GcReport } from './prune.js';
export type { UpgradeProgress, UpgradeReport } from './upgrade.js';
export { DEFAULT_CHUNK_SIZE } from './format.js';

/** Age after which a `.tmp-*` file in the store is abandoned for sure. */
export const TEMP_STALE_MS = 60 * 60 * 1000;
/** A local folder checks the packs a backup reused with a stat each, up to this many (more: one listing). */
const STAT_REUSED_PACKS_MAX = 20_000;
/** Stats of reused packs in flight at once. */
const STATS_AT_ONCE = 32;

/** A backup's shared lock and its refreshed index, taken by Vault.holdForBackup. */
export interface HeldBackup {
  readonly lock: VaultLock;
  readonly ctx: EngineContext;
  /** Releases the lock (again: nothing). */
  release(): Promise<void>;
}

export interface PointListing {
  id: string;
  created: string;
  vmName: string;
  vmId?: string;
  consistency: Manifest['consistency'];
  retainUntil: string | null;
  policy: string | null;
  logicalBytes: number;
  addedBytes: number;
  disks: Array<{ name: string; size: number }>;
}

export interface VaultStats {
  /** Bytes of every object in the storage. */
  storedBytes: number;
  /** Sum of the disk sizes of every point. */
  logicalBytes: number;
  pointCount: number;
  /** Distinct chunks stored (a chunk that concurrent backups stored in two packs counts once). */
  chunkCount: number;
  packCount: number;
}

/** How an exclusive job (prune, GC, deleting points) meets a backup that holds the vault. */
export interface ExclusiveJobOptions {
  /** false: fail with VaultBusy at once. Default: wait with backoff up to the stale-lock horizon. */
  wait?: boolean;
  /** Longest wait (default LOCK_STALE_MS). */
  maxWaitMs?: number;
  /** First pause between attempts (default 1 s). */
  minDelayMs?: number;
  signal?: AbortSignal;
  /** The job's message while it waits, e.g. "waiting for backup of web on host nas1 to finish". */
  onWait?: (message: string, holder: { operation: string; host: string }) => void;
}

function waitOptions(o: ExclusiveJobOptions): AcquireOptions {
  if (o.wait === false) return {};
  return {
    wait: {
      ...(o.maxWaitMs !== undefined ? { maxMs: o.maxWaitMs } : {}),
      ...(o.minDelayMs !== undefined ? { minDelayMs: o.minDelayMs } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
      ...(o.onWait ? { onWait: (h: { operation: string; host: string }, message: string) => o.onWait!(message, { operation: h.operation, host: h.host }) } : {}),
    },
  };
}

/** How this install keeps a vault's local state. */
export interface OpenVaultOptions {
  /**
   * A folder of this install's data folder for this vault only (`<dataDir>/cache/<vaultId>`):
   * a copy of its index objects, so an open lists `index/` once and reads only what is new
   * (see index-cache.ts), and the chunk index on disk (`chunks.db`, chunk-db.ts), so RAM does not
   * grow with the vault. Without it every open reads every index object from the store into an
   * in-memory index (ChunkIndex, about 150 bytes of RAM per chunk): fine for tools and tests.
   */
  cacheDir?: string;
}

export interface CreateVaultOptions {
  name: string;
  region: string;
  passphrase: string;
  chunkSize?: number;
  kdf?: KdfParams;
  /** Format of the new vault (default: the newest; tests make version 1 vaults to upgrade). */
  formatVersion?: number;
}

/**
 * An open vault: its config, keys, chunk index (loaded on first use) and a worker pool (started
 * on first use, stopped by close()). Every method works through the ObjectStore interface only.
 */
export class Vault {
  private index: ChunkIndex | undefined;
  /** The on-disk chunk index (with a cache folder); opened on first use. */
  private db: ChunkDb | undefined;
  private indexedPacks = new Set<string>();
  /**
   * The handle's one worker pool, started by the first operation: a promise, so operations that
   * start at once share it (two pools, one of them never closed, kept the process alive).
   */
  private pool: Promise<WorkerPool> | undefined;
  private closed = false;
  /** Pool size override (tests, bench); default is one worker per core. */
  workers: number | undefined;
  /** Override of SCRATCH_RAM_CHUNKS for GC and verify (tests force the on-disk tables with 0). */
  scratchRamChunks: number | undefined;
  /** Started by open() while scrypt runs: worker threads and the raw index objects. */
  private warm: { pool: WorkerPool; indexes: Promise<Map<string, Buffer>> | undefined } | undefined;

  /** Background sweep of abandoned temp files, started when the vault is opened. */
  private sweep: Promise<unknown> | undefined;

  /** The local copy of the index objects, when the install gave a cache folder. */
  private readonly cache: IndexCache | undefined;
  private readonly cacheDir: string | undefined;
  /** The store the engine writes through: with a cache, index objects written also land in it. */
  private readonly engineStore: ObjectStore;

  /** The config in force: it changes once, when an upgrade switches the format. */
  get config(): VaultConfig {
    return this.cfg;
  }

  private constructor(
    readonly store: ObjectStore,
    private cfg: VaultConfig,
    private readonly keys: VaultKeys,
    opts: OpenVaultOptions = {},
  ) {
    this.cache = opts.cacheDir ? new IndexCache(opts.cacheDir) : undefined;
    this.cacheDir = opts.cacheDir;
    // An index object this process deletes (GC) leaves the db first, found by its cached ids.
    this.engineStore = this.cache ? cachingIndexWrites(store, this.cache, (packId) => this.forgetPack(packId)) : store;
    // Temp files of writers that died: only those older than an hour (and than the stale-lock
    // horizon), so a backup running in another process never loses the file it is writing.
    this.sweep = store.sweepTemp?.(Math.max(TEMP_STALE_MS, LOCK_STALE_MS)).catch(() => 0);
  }

  static async create(store: ObjectStore, opts: CreateVaultOptions, open: OpenVaultOptions = {}): Promise<Vault> {
    const chunkSize = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
    if (!Number.isInteger(chunkSize) || chunkSize < MIN_CHUNK_SIZE || chunkSize > MAX_CHUNK_SIZE || chunkSize % 4096 !== 0) {
      throw new CofferError('InvalidArgument', `The chunk size must be a multiple of 4 KiB between ${MIN_CHUNK_SIZE} and ${MAX_CHUNK_SIZE} bytes.`);
    }
    if (await store.stat('config')) throw new CofferError('VaultFolderNotEmpty', `A vault already exists at ${store.location}.`);
    const { config, keys } = await createVaultConfig({
      name: opts.name,
      region: opts.region,
      passphrase: opts.passphrase,
      chunkSize,
      ...(opts.kdf ? { kdf: opts.kdf } : {}),
      ...(opts.formatVersion !== undefined ? { version: opts.formatVersion } : {}),
    });
    await writeVaultConfig(store, config);
    return new Vault(store, config, keys, open);
  }

  static async open(store: ObjectStore, passphrase: string, opts: OpenVaultOptions = {}): Promise<Vault> {
    const config = await readVaultConfig(store);
    const cache = opts.cacheDir ? new IndexCache(opts.cacheDir) : undefined;
    // scrypt takes about 0.4 s on one thread-pool thread: meanwhile the index objects are read.
    // The worker threads start only once it is done: scrypt holds 128 MiB (N=2^17, r=8) while it
    // runs, and threads loading beside it added 22 MiB to the peak RSS of every operation
    // (208 MiB opening an empty vault, against 186 MiB without them); they cost ~50 ms later.
    // With a warm cache the refresh after scrypt reads only new objects: nothing to prefetch.
    const indexes = (async () => (cache && (await cache.warm()) ? new Map<string, Buffer>() : prefetchIndexes(store)))();
    let keys: VaultKeys;
    try {
      keys = await unlockVaultConfig(config, passphrase);
    } catch (e) {
      await indexes;
      throw e;
    }
    const warm = { pool: WorkerPool.spawn(), indexes };
    const v = new Vault(store, config, keys, opts);
    v.warm = warm;
    return v;
  }

  static async openWithKeys(store: ObjectStore, keys: VaultKeys, opts: OpenVaultOptions = {}): Promise<Vault> {
    const config = await readVaultConfig(store);
    checkConfigMac(config, keys, store.location);
    return new Vault(store, config, keys, opts);
  }

  private async ctx(): Promise<EngineContext> {
    if (this.closed) throw new CofferError('VaultLocked', 'This vault handle was closed.');
    const warm = this.warm;
    this.warm = undefined;
    // No await between the check and the assignment: the first operation starts the pool, the others share it.
    let pool = this.pool;
    if (!pool) {
      const started = this.startPool(warm);
      pool = this.pool = started;
      // A pool that failed to start is not kept: the next operation tries again.
      started.catch(() => {
        if (this.pool === started) this.pool = undefined;
      });
    } else await warm?.pool.close();
    // The workers load their module and take the keys on their own threads while this thread
    // brings the index up to date: the two waits of a process's start overlap.
    const [index, started] = await Promise.allSettled([(async () => this.refreshIndex(await warm?.indexes))(), pool]);
    if (this.closed) throw new CofferError('VaultLocked', 'This vault handle was closed.'); // close() stopped the pool
    if (index.status === 'rejected') throw index.reason;
    if (started.status === 'rejected') throw started.reason;
    return { store: this.engineStore, keys: this.keys, config: this.config, index: index.value, pool: started.value };
  }

  /** The pool open() spawned (given the keys now), or a new one; once per handle (ctx keeps the promise, close() stops it). */
  private async startPool(warm: Vault['warm']): Promise<WorkerPool> {
    const { chunkSize } = this.config.chunking;
    if (warm && (this.workers === undefined || this.workers === warm.pool.size)) {
      try {
        await warm.pool.init(this.keys, chunkSize, ZSTD_LEVEL);
      } catch (err) {
        await warm.pool.close();
        throw err;
      }
      return warm.pool;
    }
    await warm?.pool.close();
    return WorkerPool.start(this.keys, chunkSize, ZSTD_LEVEL, this.workers);
  }

  /**
   * Brings the in-memory index up to date with the storage: packs that other processes or
   * consoles added are loaded; if any pack we know vanished (a prune elsewhere), it is rebuilt.
   */
  private async refreshIndex(prefetched?: Map<string, Buffer>): Promise<ChunkLookup> {
    const db = await this.refreshDb(prefetched);
    return db ?? this.refreshMemoryIndex(prefetched);
  }

  /**
   * With a cache folder: the on-disk index brought up to date. A db that fails (corrupt file, disk
   * error) is rebuilt once; one that still fails, or that another process keeps locked, leaves this
   * handle on the in-memory index (undefined): a cache problem never fails the operation.
   */
  private async refreshDb(prefetched?: Map<string, Buffer>): Promise<ChunkDb | undefined> {
    if (!this.cacheDir || this.dbFailed) return undefined;
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        this.db ??= ChunkDb.open(this.cacheDir, this.cfg.id);
        await refreshChunkDb(this.db, this.store, this.keys, this.cache, prefetched);
        return this.db;
      } catch (e) {
        const file = this.db?.file;
        try {
          this.db?.close();
        } catch {
          // closing a broken db: nothing more to do
        }
        this.db = undefined;
        if (/^SQLITE_(BUSY|LOCKED)/.test((e as { code?: string }).code ?? '') || !file) break;
        ChunkDb.remove(file);
      }
    }
    this.dbFailed = true;
    return undefined;
  }

  private dbFailed = false;

  /** Removes a pack this process deletes from the db (before its cached index object goes). Never throws. */
  private async forgetPack(packId: string): Promise<void> {
    if (!this.db || !this.cache) return;
    const d = await decodeCachedIndex(this.cache, this.keys, packId);
    try {
      this.db.removePacks([packId], () => d?.ids);
    } catch {
      // The next refresh sees the pack gone from the listing.
    }
  }

  private async refreshMemoryIndex(prefetched?: Map<string, Buffer>): Promise<ChunkIndex> {
    const idx = this.index ?? new ChunkIndex();
    const known = this.indexedPacks;
    const loaded = new Set<string>();
    const { listing } = await loadIndexes(
      this.store,
      this.keys,
      (d) => {
        loaded.add(d.packId);
        for (let i = 0; i < d.count; i++) {
          idx.add(d.ids, i * ID_LEN, { pack: d.packId, offset: d.offsets[i]!, length: d.lengths[i]!, rawLength: d.rawLengths[i]!, flags: d.flags[i]! });
        }
      },
      {
        ...(prefetched ? { prefetched } : {}),
        ...(this.cache ? { cache: this.cache } : {}),
        select: async (l) => l.diff([...known].sort()).fresh,
      },
    );
    if ([...known].some((p) => !listing.has(p))) {
      this.index = undefined;
      this.indexedPacks = new Set();
      return this.refreshMemoryIndex();
    }
    for (const p of loaded) known.add(p);
    this.index = idx;
    return idx;
  }

  /** After a prune or GC: the in-memory index is read again whole; the db is refreshed (the listing shows what went). */
  private async reloadIndex(): Promise<void> {
    this.index = undefined;
    this.indexedPacks = new Set();
    await this.refreshIndex();
  }

  /**
   * A backup's shared lock and refreshed index taken ahead, so that they overlap with the
   * hypervisor's own preparation (a changed-block read's `backup-begin`); `backup(opts, held)`
   * uses and releases them. Whoever holds one and does not back up releases it.
   */
  async holdForBackup(vmName: string, steps?: StepLog): Promise<HeldBackup> {
    const lockAt = steps?.now() ?? 0;
    const lock = await VaultLock.acquire(this.store, 'shared', `backup of ${vmName}`);
    steps?.add('vault: shared lock', lockAt);
    try {
      const ctxAt = steps?.now() ?? 0;
      const ctx = await this.ctx();
      steps?.add('vault: index refreshed', ctxAt);
      return { lock, ctx, release: () => lock.release() };
    } catch (e) {
      await lock.release();
      throw e;
    }
  }

  /** Backs up one VM under a shared lock; the point exists only once its manifest is written. */
  async backup(opts: BackupOptions, held?: HeldBackup): Promise<PointSummary> {
    for (const n of [...opts.disks.map((d) => d.name), ...(opts.definition ? [opts.definition.fileName] : [])]) {
      if (!SafeFileName.safeParse(n).success) throw new CofferError('InvalidArgument', `"${n}" is not a plain file name.`);
    }
    // The lock first, the index after: a prune that ends before the lock is taken has already
    // deleted what it deletes, and the refresh (ctx) sees that; none can start until release.
    const steps = opts.steps;
    const { lock, ctx } = held ?? (await this.holdForBackup(opts.vmName, steps));
    try {
      return await runBackup(ctx, {
        ...opts,
        beforeCommit: async (reused) => {
          await lock.check();
          await this.checkPacksExist(reused);
        },
      });
    } finally {
      const releaseAt = steps?.now() ?? 0;
      await lock.release();
      steps?.add('vault: lock released', releaseAt);
    }
  }

  /** Every pack a backup deduplicated against must still be in the storage before its manifest names it. */
  private async checkPacksExist(packIds: ReadonlySet<string>): Promise<void> {
    if (packIds.size === 0) return;
    let missing: string[];
    if (!this.store.ioHints && packIds.size <= STAT_REUSED_PACKS_MAX) {
      // A local folder: a stat is a system call, and listing packs/ opens each of its 256 folders
      // (about 0.2 s for an incremental that reused 170 packs).
      missing = [];
      const ids = [...packIds];
      for (let i = 0; i < ids.length; i += STATS_AT_ONCE) {
        const got = await Promise.all(ids.slice(i, i + STATS_AT_ONCE).map(async (p) => ((await this.store.stat(packKey(p))) ? undefined : p)));
        for (const p of got) if (p !== undefined) missing.push(p);
      }
    } else {
      // One listing instead of a stat per pack: object stores charge and wait per request. Read
      // page by page, holding only the reused packs not seen yet (not the vault's 470,000 at 80M chunks).
      const unseen = new Set([...packIds].map((p) => packKey(p)));
      for await (const page of listPages(this.store, PACK_PREFIX)) for (const o of page) unseen.delete(o.key);
      missing = [...packIds].filter((p) => unseen.has(packKey(p)));
    }
    if (missing.length > 0) {
      this.index = undefined;
      this.indexedPacks = new Set();
      throw new CofferError('VaultChangedDuringBackup', `${missing.length} pack(s) this backup reused were removed from the vault while it ran; no recovery point was kept.`, {
        packs: missing.slice(0, 20),
      });
    }
  }

  async listPoints(): Promise<PointListing[]> {
    const out: PointListing[] = [];
    for (const id of await listPointIds(this.store)) {
      const m = await readManifest(this.store, this.keys, id);
      out.push({
        id,
        created: m.created,
        vmName: m.vm.name,
        ...(m.vm.id ? { vmId: m.vm.id } : {}),
        consistency: m.consistency,
        retainUntil: m.retainUntil,
        policy: m.policy,
        logicalBytes: m.stats.logicalBytes,
        addedBytes: m.stats.addedBytes,
        disks: m.disks.map((d) => ({ name: d.name, size: d.size })),
      });
    }
    return out;
  }

  readManifest(id: string): Promise<Manifest> {
    return readManifest(this.store, this.keys, id);
  }

  async restore(pointId: string, targetDir: string, opts: RestoreOptions = {}): Promise<RestoreResult> {
    const lock = await VaultLock.acquire(this.store, 'shared', `restore of ${pointId}`);
    try {
      const ctx = await this.ctx();
      return await runRestore(ctx, pointId, targetDir, opts);
    } finally {
      await lock.release();
    }
  }

  /** Random reads of points (file-level restore, random-read.ts) under a shared lock: the store, keys and chunk index. */
  async withReadAccess<T>(operation: string, fn: (ctx: RandomReadContext) => Promise<T>): Promise<T> {
    const lock = await VaultLock.acquire(this.store, 'shared', operation);
    try {
      const ctx = await this.ctx();
      return await fn({ store: ctx.store, keys: ctx.keys, index: ctx.index, vaultId: this.config.id });
    } finally {
      await lock.release();
    }
  }

  async verify(opts: VerifyOptions = {}): Promise<VerifyReport> {
    const lock = await VaultLock.acquire(this.store, 'shared', opts.full ? 'full verify' : 'quick verify');
    try {
      const ctx = await this.ctx();
      return await runVerify(ctx, { ...this.scratch(), ...opts });
    } finally {
      await lock.release();
    }
  }

  /** Where GC and verify of a large vault keep their working tables (chunk-scratch.ts): the cache folder, when there is one. */
  private scratch(): { scratchDir?: string; ramChunks?: number } {
    return { ...(this.cacheDir ? { scratchDir: this.cacheDir } : {}), ...(this.scratchRamChunks !== undefined ? { ramChunks: this.scratchRamChunks } : {}) };
  }

  /** Removes recovery points (their manifests); run collectGarbage() to reclaim space. */
  async deletePoints(ids: string[], opts: ExclusiveJobOptions = {}): Promise<void> {
    const lock = await VaultLock.acquire(this.store, 'exclusive', 'delete recovery points', waitOptions(opts));
    try {
      const ctx = await this.ctx();
      await lock.check();
      await deletePointObjects(ctx, ids);
    } finally {
      await lock.release();
    }
  }

  async collectGarbage(opts: ExclusiveJobOptions = {}): Promise<GcReport> {
    const lock = await VaultLock.acquire(this.store, 'exclusive', 'prune', waitOptions(opts));
    try {
      const ctx = await this.ctx();
      return await runGc(ctx, { beforeDelete: () => lock.check(), ...this.scratch() });
    } finally {
      await this.reloadIndex();
      await lock.release();
    }
  }

  /**
   * deletePoints + collectGarbage under one exclusive lock. A backup holding the vault is waited
   * for (with backoff, up to the stale-lock horizon; `onWait` tells the job), not a failure.
   */
  async prune(ids: string[], opts: ExclusiveJobOptions = {}): Promise<GcReport> {
    const lock = await VaultLock.acquire(this.store, 'exclusive', 'prune', waitOptions(opts));
    try {
      const ctx = await this.ctx();
      await lock.check();
      await deletePointObjects(ctx, ids);
      return await runGc(ctx, { beforeDelete: () => lock.check(), ...this.scratch() });
    } finally {
      await this.reloadIndex();
      await lock.release();
    }
  }

  /**
   * Upgrades the vault to the newest format (or finishes an upgrade that was stopped) under the
   * exclusive lock: see upgrade.ts for the order that keeps every point restorable throughout.
   */
  async upgrade(opts: ExclusiveJobOptions & Omit<UpgradeOptions, 'beforeCommit' | 'signal'> = {}): Promise<UpgradeReport> {
    const lock = await VaultLock.acquire(this.store, 'exclusive', 'vault upgrade', waitOptions(opts));
    try {
      if (this.closed) throw new CofferError('VaultLocked', 'This vault handle was closed.');
      await lock.check();
      const { config, report } = await runUpgrade(this.store, this.keys, this.cfg, {
        ...(opts.signal ? { signal: opts.signal } : {}),
        ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
        beforeCommit: () => lock.check(),
      });
      this.cfg = config;
      return report;
    } catch (e) {
      // The switch may have happened before the failure: follow what the store holds.
      const now = await readVaultConfig(this.store).catch(() => undefined);
      if (now && now.id === this.cfg.id && now.version > this.cfg.version) {
        checkConfigMac(now, this.keys, this.store.location);
        this.cfg = now;
      }
      throw e;
    } finally {
      await lock.release();
    }
  }

  async stats(): Promise<VaultStats> {
    // Folded page by page: a listing of the whole vault is two objects per pack.
    let storedBytes = 0;
    let packCount = 0;
    for await (const page of listPages(this.store, '')) {
      for (const o of page) {
        storedBytes += o.size;
        if (o.key.startsWith(PACK_PREFIX)) packCount++;
      }
    }
    const points = await this.listPoints();
    // The objects prefetched during open serve this refresh (the worker pool stays for later).
    const prefetched = this.warm?.indexes;
    if (this.warm) this.warm.indexes = undefined;
    const index = await this.refreshIndex(await prefetched);
    return {
      storedBytes,
      logicalBytes: points.reduce((s, p) => s + p.logicalBytes, 0),
      pointCount: points.length,
      // The db counts a chunk stored in two packs twice; the in-memory index keeps one copy.
      chunkCount: index instanceof ChunkDb ? index.distinctChunks() : index.size,
      packCount,
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.warm?.pool.close();
    this.warm = undefined;
    await this.sweep;
    const pool = this.pool;
    this.pool = undefined;
    await (await pool?.catch(() => undefined))?.close();
    this.db?.close();
    this.db = undefined;
  }
}
