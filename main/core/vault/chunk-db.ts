import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import type { ChunkLookup, PackEntry } from './chunk-index.js';
import type { VaultKeys } from './config.js';
import { ID_LEN, PACK_ID_RE, type ChunkLocation, type DecodedIndex } from './format.js';
import type { IndexCache } from './index-cache.js';
import { decodeCachedIndex, loadIndexes } from './packs.js';
import type { ObjectStore } from './storage.js';

/** Bumped when the tables change: a db of another schema is rebuilt from the index objects. */
export const CHUNK_DB_SCHEMA = 1;
const DB_FILE = 'chunks.db';
/** A refresh that reads more new packs than this stages their chunks and inserts them sorted (random inserts cost ~5x more). */
const BULK_PACKS = 1000;
/** Chunks staged per INSERT statement in a bulk refresh (6 values each: 384 of SQLite's 32,766 variables). */
const STAGE_ROWS = 64;
/** SQLite page cache of the connection (KiB): the db's RAM, whatever the vault's size. */
const CACHE_KIB = 16 * 1024;
/** How long a write waits for another process's (a rebuild's last step can hold the lock for minutes at 80M chunks). */
const BUSY_TIMEOUT_MS = 10 * 60 * 1000;

const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS packs(no INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, count INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS chunks(id BLOB NOT NULL, pack INTEGER NOT NULL, off INTEGER NOT NULL, len INTEGER NOT NULL,
  raw INTEGER NOT NULL, flags INTEGER NOT NULL, PRIMARY KEY(id, pack)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS point_packs(point TEXT PRIMARY KEY, gone INTEGER NOT NULL, packs TEXT NOT NULL) WITHOUT ROWID;
`;
/** A pack id's length (hex): point_packs.packs is their concatenation. */
const PACK_ID_CHARS = 32;

const key = (id: Uint8Array, off: number): Buffer =>
  Buffer.isBuffer(id) ? id.subarray(off, off + ID_LEN) : Buffer.from(id.buffer, id.byteOffset + off, ID_LEN);

/** True for errors that mean "another process holds the db", not "the db is bad". */
const isBusy = (e: unknown): boolean => /^SQLITE_(BUSY|LOCKED)/.test((e as { code?: string } | undefined)?.code ?? '');

/**
 * The vault's chunk index on disk, in this install's cache folder for the vault
 * (`<dataDir>/cache/<vaultId>/chunks.db`, SQLite through better-sqlite3): RAM is SQLite's page
 * cache (CACHE_KIB), whatever the vault's size.
 *
 * A cache, never trusted over the store (see refreshChunkDb): the store's listing of `index/`
 * decides which packs exist. Tables: `packs` (number, pack id, entry count) and `chunks`
 * (`WITHOUT ROWID`, keyed by chunk id and pack number, so a chunk stored in two packs has two rows
 * and removing one pack never loses the other copy). A chunk counts only once its pack's row is
 * there: a pack's row is written after its chunks and deleted before them, so another process
 * reading mid-update sees a pack whole or not at all. Several processes share the file: WAL mode
 * and a busy timeout. A file that is missing, unreadable, of another schema or another vault id is
 * replaced by an empty one, which the refresh fills from the index objects.
 */
export class ChunkDb implements ChunkLookup {
  private count = 0;
  private readonly qPackOf: Database.Statement<[Buffer], string>;
  private readonly qGet: Database.Statement<[Buffer], { pack: string; off: number; len: number; raw: number; flags: number }>;
  private readonly qInsert: Database.Statement<[Buffer, number, number, number, number, number]>;
  private readonly qHasPack: Database.Statement<[string], number>;
  private readonly qAddPack: Database.Statement<[number, string, number]>;

  private constructor(
    private readonly db: Database.Database,
    readonly file: string,
  ) {
    this.qPackOf = db.prepare<[Buffer], string>('SELECT p.id FROM chunks c JOIN packs p ON p.no = c.pack WHERE c.id = ? LIMIT 1').pluck();
    this.qGet = db.prepare('SELECT p.id AS pack, c.off, c.len, c.raw, c.flags FROM chunks c JOIN packs p ON p.no = c.pack WHERE c.id = ? LIMIT 1');
    this.qInsert = db.prepare('INSERT OR IGNORE INTO chunks VALUES (?, ?, ?, ?, ?, ?)');
    this.qHasPack = db.prepare<[string], number>('SELECT no FROM packs WHERE id = ?').pluck();
    this.qAddPack = db.prepare('INSERT INTO packs VALUES (?, ?, ?)');
    this.recount();
  }

  /** Opens (or replaces, see the class comment) the db of vault `vaultId` in its cache folder. Throws only when no db can be made there. */
  static open(cacheDir: string, vaultId: string): ChunkDb {
    const file = path.join(cacheDir, DB_FILE);
    try {
      return ChunkDb.openFile(file, vaultId);
    } catch (e) {
      if (isBusy(e)) throw e;
      ChunkDb.remove(file);
      return ChunkDb.openFile(file, vaultId);
    }
  }

  private static openFile(file: string, vaultId: string): ChunkDb {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    const db = new Database(file, { timeout: BUSY_TIMEOUT_MS });
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma(`cache_size = -${CACHE_KIB}`);
      db.pragma('temp_store = FILE');
      const stamp = db.transaction(() => {
        db.exec(SCHEMA_SQL);
        const meta = new Map(db.prepare<[], { k: string; v: string }>('SELECT k, v FROM meta').all().map((r) => [r.k, r.v]));
        if (meta.size === 0) {
          const set = db.prepare('INSERT INTO meta VALUES (?, ?)');
          set.run('schema', String(CHUNK_DB_SCHEMA));
          set.run('vault', vaultId);
          set.run('next_pack', '1');
        } else if (meta.get('schema') !== String(CHUNK_DB_SCHEMA) || meta.get('vault') !== vaultId || !meta.has('next_pack')) {
          throw new Error('chunk db of another schema or vault');
        }
      });
      stamp.immediate();
      return new ChunkDb(db, file);
    } catch (e) {
      db.close();
      throw e;
    }
  }

  /** Deletes a db file with its WAL and shared-memory files. Never throws. */
  static remove(file: string): void {
    for (const s of ['', '-wal', '-shm']) fs.rmSync(file + s, { force: true });
  }

  get size(): number {
    return this.count;
  }

  /**
   * Distinct chunk ids in the packs the db knows: a chunk stored in two packs (two installs that
   * backed up the same data at once) counts once. A scan of the table (about 0.3 µs per row), for
   * Vault.stats, not for a hot path.
   */
  distinctChunks(): number {
    return this.db.prepare<[], number>('SELECT count(DISTINCT id) FROM chunks WHERE pack IN (SELECT no FROM packs)').pluck().get() ?? 0;
  }

  private recount(): void {
    this.count = this.db.prepare<[], number>('SELECT total(count) FROM packs').pluck().get() ?? 0;
  }

  packOf(id: Uint8Array, off = 0): string | undefined {
    return this.qPackOf.get(key(id, off));
  }

  /** How many times packs were forgotten (removePacks, in any process on this db): see pointPacks. */
  goneCount(): number {
    return Number(this.db.prepare<[], string>("SELECT v FROM meta WHERE k = 'gone'").pluck().get() ?? 0);
  }

  /**
   * The packs that hold every chunk of `pointId`, as recorded when this install wrote it, if no
   * pack was forgotten since (goneCount still `gone`): then all of them are still in the store's
   * listing as of the last refresh, and a backup taking the point's chunks needs no lookup per
   * chunk (an incremental of a 500 GiB disk would otherwise look up four million ids).
   */
  pointPacks(pointId: string, gone: number): string[] | undefined {
    const r = this.db.prepare<[string], { gone: number; packs: string }>('SELECT gone, packs FROM point_packs WHERE point = ?').get(pointId);
    if (!r || r.gone !== gone || gone !== this.goneCount()) return undefined;
    const out: string[] = [];
    for (let o = 0; o < r.packs.length; o += PACK_ID_CHARS) out.push(r.packs.slice(o, o + PACK_ID_CHARS));
    return out;
  }

  /**
   * Records the packs of a point just committed (taken when goneCount was `gone`; not recorded if a
   * pack was forgotten since), and forgets the rows of the points it supersedes (its parents: the
   * next incremental starts from it), so the table holds about one row per disk chain.
   */
  recordPointPacks(pointId: string, packs: Iterable<string>, gone: number, supersedes: Iterable<string>): void {
    const list = [...packs];
    if (!list.every((p) => PACK_ID_RE.test(p))) return;
    try {
      this.db
        .transaction(() => {
          const del = this.db.prepare('DELETE FROM point_packs WHERE point = ?');
          for (const p of supersedes) del.run(p);
          if (this.goneCount() !== gone) return;
          this.db.prepare('INSERT OR REPLACE INTO point_packs VALUES (?, ?, ?)').run(pointId, gone, list.join(''));
        })
        .immediate();
    } catch (e) {
      if (!isBusy(e)) throw e;
    }
  }

  has(id: Uint8Array, off = 0): boolean {
    return this.qPackOf.get(key(id, off)) !== undefined;
  }

  get(id: Uint8Array, off = 0): ChunkLocation | undefined {
    const r = this.qGet.get(key(id, off));
    return r && { pack: r.pack, offset: r.off, length: r.len, rawLength: r.raw, flags: r.flags };
  }

  /** Pack ids the db knows, in ascending order, read row by row (the UNIQUE index on id: no sort, nothing held). */
  packIds(): IterableIterator<string> {
    return this.db.prepare<[], string>('SELECT id FROM packs ORDER BY id').pluck().iterate();
  }

  /** Reserves n pack numbers (in its own transaction: other processes number their packs too). */
  private reserve(n: number): number {
    const get = this.db.prepare<[], string>("SELECT v FROM meta WHERE k = 'next_pack'").pluck();
    const set = this.db.prepare("UPDATE meta SET v = ? WHERE k = 'next_pack'");
    return this.db
      .transaction(() => {
        const first = Number(get.get());
        set.run(String(first + n));
        return first;
      })
      .immediate();
  }

  private insertPack(packId: string, n: number, at: (i: number) => [Buffer, number, number, number, number]): void {
    this.db
      .transaction(() => {
        if (this.qHasPack.get(packId) !== undefined) return; // another process added it
        const no = this.reserve(1);
        for (let i = 0; i < n; i++) {
          const [id, off, len, raw, flags] = at(i);
          this.qInsert.run(id, no, off, len, raw, flags);
        }
        this.qAddPack.run(no, packId, n);
        this.count += n;
      })
      .immediate();
  }

  /** A pack written by this process. A db that cannot take it now (another process writing for too long) leaves it to the next refresh. */
  addPack(packId: string, entries: readonly PackEntry[]): void {
    try {
      this.insertPack(packId, entries.length, (i) => {
        const e = entries[i]!;
        return [key(e.id, 0), e.offset, e.length, e.rawLength, e.flags];
      });
    } catch (e) {
      if (!isBusy(e)) throw e;
    }
  }

  /** Adds one decoded index object (unless the db has it already). */
  addIndex(d: DecodedIndex): void {
    this.insertPack(d.packId, d.count, (i) => [d.ids.subarray(i * ID_LEN, (i + 1) * ID_LEN), d.offsets[i]!, d.lengths[i]!, d.rawLengths[i]!, d.flags[i]!]);
  }

  /**
   * Adds many index objects at once: their chunks are staged in a temporary table and inserted
   * in key order (SQLite sorts with bounded memory, spilling to temporary files), which costs
   * about a fifth of inserting them one by one in random order. Call add() per object, then end().
   */
  bulk(expected: number): { add: (d: DecodedIndex) => void; end: () => void } {
    const db = this.db;
    db.exec('DROP TABLE IF EXISTS temp.stage; CREATE TEMP TABLE stage(id BLOB, pack INTEGER, off INTEGER, len INTEGER, raw INTEGER, flags INTEGER)');
    const stage = db.prepare('INSERT INTO temp.stage VALUES (?, ?, ?, ?, ?, ?)');
    // STAGE_ROWS rows per statement: one step instead of 64 (about a third less CPU per staged row).
    const stageMany = db.prepare(`INSERT INTO temp.stage VALUES ${Array<string>(STAGE_ROWS).fill('(?, ?, ?, ?, ?, ?)').join(', ')}`);
    const args = new Array<Buffer | number>(STAGE_ROWS * 6);
    let next = this.reserve(expected);
    let left = expected;
    const staged: Array<[number, string, number]> = [];
    let pending: DecodedIndex[] = [];
    const flush = db.transaction((list: DecodedIndex[]) => {
      for (const d of list) {
        if (left === 0) {
          next = this.reserve(1000);
          left = 1000;
        }
        const no = next++;
        left--;
        let i = 0;
        for (; i + STAGE_ROWS <= d.count; i += STAGE_ROWS) {
          for (let j = 0, r = i; j < args.length; j += 6, r++) {
            args[j] = d.ids.subarray(r * ID_LEN, (r + 1) * ID_LEN);
            args[j + 1] = no;
            args[j + 2] = d.offsets[r]!;
            args[j + 3] = d.lengths[r]!;
            args[j + 4] = d.rawLengths[r]!;
            args[j + 5] = d.flags[r]!;
          }
          stageMany.run(args);
        }
        for (; i < d.count; i++) stage.run(d.ids.subarray(i * ID_LEN, (i + 1) * ID_LEN), no, d.offsets[i]!, d.lengths[i]!, d.rawLengths[i]!, d.flags[i]!);
        staged.push([no, d.packId, d.count]);
      }
    });
    return {
      add: (d) => {
        pending.push(d);
        if (pending.length >= 200) {
          flush(pending);
          pending = [];
        }
      },
      end: () => {
        flush(pending);
        pending = [];
        db.transaction(() => {
          db.exec('INSERT OR IGNORE INTO chunks SELECT * FROM temp.stage ORDER BY id, pack');
          // A pack another process added meanwhile keeps its own number; ours are dropped below.
          const dup: number[] = [];
          for (const [no, id, n] of staged) {
            if (this.qHasPack.get(id) !== undefined) dup.push(no);
            else this.qAddPack.run(no, id, n);
          }
          if (dup.length > 0) this.deleteChunksOfNumbers(dup);
        }).immediate();
        db.exec('DROP TABLE temp.stage');
        this.recount();
      },
    };
  }

  /** Chunk rows of pack numbers (a scan of the table: used when the ids of a pack are not at hand). */
  private deleteChunksOfNumbers(nos: number[]): void {
    const del = this.db.prepare('DELETE FROM chunks WHERE pack IN (SELECT value FROM json_each(?))');
    del.run(JSON.stringify(nos));
  }

  /**
   * Forgets packs that left the store: their rows first (so no lookup names them from now on),
   * then their chunks, found by the ids of their cached index object when `idsOf` has it, else by a
   * scan of the table.
   */
  removePacks(packIds: Iterable<string>, idsOf: (packId: string) => Buffer | undefined): void {
    const delChunk = this.db.prepare('DELETE FROM chunks WHERE id = ? AND pack = ?');
    const delPack = this.db.prepare('DELETE FROM packs WHERE no = ?');
    const scan: number[] = [];
    const bumpGone = this.db.prepare("INSERT INTO meta VALUES ('gone', '1') ON CONFLICT(k) DO UPDATE SET v = CAST(CAST(v AS INTEGER) + 1 AS TEXT)");
    for (const packId of packIds) {
      this.db
        .transaction(() => {
          const no = this.qHasPack.get(packId);
          if (no === undefined) return;
          // Before the pack's row goes: a point recorded with this pack is no longer vouched for.
          bumpGone.run();
          delPack.run(no);
          const ids = idsOf(packId);
          if (ids) for (let o = 0; o < ids.length; o += ID_LEN) delChunk.run(ids.subarray(o, o + ID_LEN), no);
          else scan.push(no);
        })
        .immediate();
    }
    if (scan.length > 0) this.db.transaction(() => this.deleteChunksOfNumbers(scan)).immediate();
    this.recount();
  }

  close(): void {
    this.db.close();
  }
}

/**
 * Brings the db up to date with the store: the listing of `index/` decides. Packs the db knows
 * that the listing lacks (a prune here or in another install) are removed; listed packs it lacks
 * are read (through the IndexCache when there is one) and added, many at once in bulk.
 * Returns the index objects that could not be read.
 */
export async function refreshChunkDb(db: ChunkDb, store: ObjectStore, keys: VaultKeys, cache?: IndexCache, prefetched?: Map<string, Buffer>): Promise<string[]> {
  let adder: { add: (d: DecodedIndex) => void; end: () => void } | undefined;
  const { bad } = await loadIndexes(store, keys, (d) => (adder ? adder.add(d) : db.addIndex(d)), {
    ...(prefetched ? { prefetched } : {}),
    ...(cache ? { cache } : {}),
    select: async (listing) => {
      // One merge of two sorted sequences: the listing and the db's pack ids.
      const { fresh, gone } = listing.diff(db.packIds());
      if (gone.length > 0) {
        const ids = new Map<string, Buffer>();
        for (const p of gone) {
          const d = cache ? await decodeCachedIndex(cache, keys, p) : undefined;
          if (d) ids.set(p, d.ids);
        }
        db.removePacks(gone, (p) => ids.get(p));
      }
      if (fresh.length > BULK_PACKS) adder = db.bulk(fresh.length);
      return fresh;
    },
  });
  adder?.end();
  return bad;
}
