import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { isZeroIdAt } from './chunk-lists.js';
import { ID_LEN, PACK_PREFIX, packKey, type DecodedIndex } from './format.js';
import { listPages, type ObjectInfo, type ObjectStore } from './storage.js';
import type { IndexListing } from './index-listing.js';

/**
 * The one rule for where GC and verify keep their working tables: a vault whose chunk index
 * holds at most this many chunks (about 30 GiB stored at 128 KiB chunks) keeps them in RAM (an
 * in-memory SQLite db, a few tens of MiB at most); a larger one in a temporary file (see ChunkScratch).
 */
export const SCRATCH_RAM_CHUNKS = 250_000;
/** SQLite page cache of a scratch file (KiB): its RAM (and its sorter's), whatever the vault's size. */
const CACHE_KIB = 16 * 1024;
const FILE_PREFIX = 'scratch-';
const PAGE = 1000;

/** One stored copy of a chunk, as its index object names it. */
export interface ScratchEntry {
  id: Buffer;
  off: number;
  len: number;
  raw: number;
  flags: number;
}

/** A pack the scratch knows: its number (rank of its id), its rows (`first`..`first + count - 1`). */
export interface ScratchPack {
  no: number;
  id: string;
  first: number;
  count: number;
  size: number | null;
}

const SCHEMA = `
CREATE TABLE packs(no INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, first INTEGER, count INTEGER NOT NULL DEFAULT 0,
  total INTEGER NOT NULL DEFAULT 0, size INTEGER, checked INTEGER NOT NULL DEFAULT 0, action INTEGER NOT NULL DEFAULT 0);
CREATE TABLE entry(id BLOB NOT NULL, pack INTEGER NOT NULL, off INTEGER NOT NULL, len INTEGER NOT NULL, raw INTEGER NOT NULL,
  flags INTEGER NOT NULL, bad INTEGER NOT NULL DEFAULT 0);
CREATE TABLE refstage(id BLOB NOT NULL);
CREATE TABLE runref(id BLOB NOT NULL, run INTEGER NOT NULL);
`;

/** Whether a process with this id runs (a scratch file of a dead one is left over from a crash). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The working tables of one GC or verify run, in SQLite (better-sqlite3), so that what they hold
 * per chunk of the vault (every stored copy, every referenced id, the verdicts) is on disk and not
 * in RAM: `entry` (one row per chunk of every index object, rows of one pack contiguous), `packs`
 * (numbered in the order of their ids, with the listed pack size), `refstage`/`ref` (ids the
 * recovery points reference, GC) and `runref` (referenced ids by chunk-list run, verify). The
 * questions are asked in SQL, which sorts with bounded memory (spilling to temporary files).
 *
 * Small vaults (SCRATCH_RAM_CHUNKS) use an in-memory db; larger ones a file in `dir` (the
 * install's cache folder for the vault) or the system's temporary folder, deleted by close(). A
 * file left by a process that died is deleted by the next open in that folder. Never shared:
 * one connection, one transaction for the whole run (nothing to roll back: it is thrown away).
 */
export class ChunkScratch {
  private readonly qPackNo: Database.Statement<[string], number>;
  private readonly qEntry: Database.Statement<[Buffer, number, number, number, number, number]>;
  private readonly qSetPack: Database.Statement<[number, number, number, number]>;
  private readonly qRef: Database.Statement<[Buffer]>;
  private readonly qRunRef: Database.Statement<[Buffer, number]>;
  private otherCopiesQ: Database.Statement<[Buffer, number], ScratchEntry & { packId: string }> | undefined;

  private constructor(
    private readonly db: Database.Database,
    /** The db file, or undefined in RAM. */
    readonly file: string | undefined,
  ) {
    db.exec(SCHEMA);
    db.exec('BEGIN');
    this.qPackNo = db.prepare<[string], number>('SELECT no FROM packs WHERE id = ?').pluck();
    this.qEntry = db.prepare('INSERT INTO entry(id, pack, off, len, raw, flags) VALUES (?, ?, ?, ?, ?, ?)');
    this.qSetPack = db.prepare('UPDATE packs SET first = ?, count = ?, total = ? WHERE no = ?');
    this.qRef = db.prepare('INSERT INTO refstage VALUES (?)');
    this.qRunRef = db.prepare('INSERT INTO runref VALUES (?, ?)');
  }

  /** A scratch for a vault whose chunk index holds `chunks` chunks (`ramChunks`: tests force the file). */
  static open(chunks: number, dir?: string, ramChunks = SCRATCH_RAM_CHUNKS): ChunkScratch {
    if (chunks <= ramChunks) {
      const db = new Database(':memory:');
      db.pragma('temp_store = MEMORY');
      return new ChunkScratch(db, undefined);
    }
    const folder = dir ? path.join(dir, 'scratch') : tmpdir();
    fs.mkdirSync(folder, { recursive: true, mode: 0o700 });
    ChunkScratch.sweep(folder);
    const file = path.join(folder, `${FILE_PREFIX}${process.pid}-${randomBytes(6).toString('hex')}.db`);
    const db = new Database(file);
    try {
      db.pragma('journal_mode = OFF');
      db.pragma('synchronous = OFF');
      db.pragma('locking_mode = EXCLUSIVE');
      db.pragma(`cache_size = -${CACHE_KIB}`);
      db.pragma('temp_store = FILE');
      return new ChunkScratch(db, file);
    } catch (e) {
      db.close();
      fs.rmSync(file, { force: true });
      throw e;
    }
  }

  /** Deletes scratch files of processes that are gone. Never throws. */
  private static sweep(folder: string): void {
    let names: string[];
    try {
      names = fs.readdirSync(folder);
    } catch {
      return;
    }
    for (const n of names) {
      const m = new RegExp(`^${FILE_PREFIX}(\\d+)-[0-9a-f]+\\.db`).exec(n);
      if (m && Number(m[1]) !== process.pid && !alive(Number(m[1]))) fs.rmSync(path.join(folder, n), { force: true });
    }
  }

  close(): void {
    try {
      this.db.close();
    } finally {
      if (this.file) for (const s of ['', '-journal', '-wal', '-shm']) fs.rmSync(this.file + s, { force: true });
    }
  }

  /** Every listed index object's pack, numbered in the order of their ids (the copy of a chunk that GC keeps is the first in that order). */
  setPacks(listing: IndexListing): void {
    const ins = this.db.prepare('INSERT OR IGNORE INTO packs(no, id) VALUES (?, ?)');
    // The listing is sorted by id: pack numbers follow the ids' order.
    for (let i = 0; i < listing.count; i++) ins.run(i + 1, listing.id(i));
  }

  /** One decoded index object of a pack given to setPacks. */
  addIndex(d: DecodedIndex): void {
    const no = this.qPackNo.get(d.packId);
    if (no === undefined) return;
    let first = 0;
    let total = 0;
    for (let i = 0; i < d.count; i++) {
      const r = this.qEntry.run(d.ids.subarray(i * ID_LEN, (i + 1) * ID_LEN), no, d.offsets[i]!, d.lengths[i]!, d.rawLengths[i]!, d.flags[i]!);
      if (i === 0) first = Number(r.lastInsertRowid);
      total += d.lengths[i]!;
    }
    this.qSetPack.run(d.count > 0 ? first : 0, d.count, total, no);
  }

  /**
   * Lists `packs/` of the store, page by page (the listing is never held whole: ~1 KB per object
   * as JavaScript objects), and puts each object's size on its pack's row. Answers the objects no
   * index object names (a key that is not `packKey(id)` of a known pack included): orphans.
   */
  async setPackSizes(store: ObjectStore): Promise<ObjectInfo[]> {
    const set = this.db.prepare<[number, string]>('UPDATE packs SET size = ? WHERE id = ?');
    const orphans: ObjectInfo[] = [];
    for await (const page of listPages(store, PACK_PREFIX)) {
      for (const o of page) {
        const id = o.key.slice(o.key.lastIndexOf('/') + 1);
        if (packKey(id) !== o.key || set.run(o.size, id).changes === 0) orphans.push(o);
      }
    }
    return orphans;
  }

  /** Ids (32 bytes each) a recovery point references; zero ids (all-zero chunks) are skipped. GC. */
  addReferenced(ids: Buffer): void {
    for (let i = 0, n = ids.length / ID_LEN; i < n; i++) if (!isZeroIdAt(ids, i)) this.qRef.run(ids.subarray(i * ID_LEN, (i + 1) * ID_LEN));
  }

  /** Ids of chunk-list run number `run` (any number the caller gives a run); zero ids skipped. Verify. */
  addRunIds(run: number, ids: Buffer): void {
    for (let i = 0, n = ids.length / ID_LEN; i < n; i++) if (!isZeroIdAt(ids, i)) this.qRunRef.run(ids.subarray(i * ID_LEN, (i + 1) * ID_LEN), run);
  }

  /**
   * GC's plan. Keeps, for every referenced id, its copy in the first pack (in id order) whose
   * object is listed (the copies sorted by chunk id are walked beside the sorted referenced ids:
   * a random probe per chunk cost five times more); then marks each pack 1 (nothing kept: delete) or 2 (kept bytes under
   * `repackBelow` of its bytes: repack). Answers how many of each.
   */
  planGc(repackBelow: number): { toDelete: number; toRepack: number } {
    this.db.exec(`
      CREATE TABLE ref(id BLOB PRIMARY KEY) WITHOUT ROWID;
      INSERT OR IGNORE INTO ref SELECT id FROM refstage ORDER BY id;
      DROP TABLE refstage;
      CREATE TABLE byid(id BLOB NOT NULL, key INTEGER NOT NULL, rid INTEGER NOT NULL, PRIMARY KEY(id, key)) WITHOUT ROWID;
      INSERT INTO byid SELECT e.id, e.pack * 4294967296 + e.rowid, e.rowid FROM entry e JOIN packs p ON p.no = e.pack WHERE p.size IS NOT NULL ORDER BY 1, 2;
      CREATE TABLE keep(rid INTEGER PRIMARY KEY);
      INSERT INTO keep SELECT rid FROM (SELECT rid, min(key) FROM byid WHERE id IN (SELECT id FROM ref) GROUP BY id) ORDER BY rid;
      CREATE TABLE live(pack INTEGER PRIMARY KEY, bytes INTEGER NOT NULL);
      INSERT INTO live SELECT e.pack, sum(e.len) FROM keep k JOIN entry e ON e.rowid = k.rid GROUP BY e.pack ORDER BY e.pack;`);
    this.db
      .prepare(
        `UPDATE packs SET action = CASE
           WHEN NOT EXISTS (SELECT 1 FROM live WHERE live.pack = packs.no) THEN 1
           WHEN (SELECT bytes FROM live WHERE live.pack = packs.no) < total * ? THEN 2 ELSE 0 END`,
      )
      .run(repackBelow);
    const n = (a: number): number => this.db.prepare<[number], number>('SELECT count(*) FROM packs WHERE action = ?').pluck().get(a) ?? 0;
    return { toDelete: n(1), toRepack: n(2) };
  }

  /** Packs after number `after`, in order, `PAGE` at a time: those marked `action` (GC) or, without it, those whose object is listed (verify). */
  packs(after: number, action?: number): ScratchPack[] {
    const where = action === undefined ? 'size IS NOT NULL AND first IS NOT NULL' : 'action = ?';
    const q = this.db.prepare<unknown[], ScratchPack>(`SELECT no, id, coalesce(first, 0) AS first, count, size FROM packs WHERE no > ? AND ${where} ORDER BY no LIMIT ${PAGE}`);
    return action === undefined ? q.all(after) : q.all(after, action);
  }

  /** Every pack of `action` (see packs()), page by page. */
  async forEachPack(action: number | undefined, fn: (p: ScratchPack) => Promise<void>): Promise<void> {
    for (let after = 0; ; ) {
      const page = this.packs(after, action);
      if (page.length === 0) return;
      for (const p of page) await fn(p);
      after = page.at(-1)!.no;
    }
  }

  /** The entries GC keeps of a pack, in pack order. */
  keptEntries(p: ScratchPack): ScratchEntry[] {
    return this.db
      .prepare<[number, number], ScratchEntry>('SELECT e.id, e.off, e.len, e.raw, e.flags FROM keep k JOIN entry e ON e.rowid = k.rid WHERE k.rid BETWEEN ? AND ? ORDER BY k.rid')
      .all(p.first, p.first + p.count - 1);
  }

  /** Every entry of a pack, in pack order. */
  entries(p: ScratchPack): ScratchEntry[] {
    return this.db.prepare<[number, number], ScratchEntry>('SELECT id, off, len, raw, flags FROM entry WHERE rowid BETWEEN ? AND ? ORDER BY rowid').all(p.first, p.first + p.count - 1);
  }

  /** GC: copies of chunk `id` in listed packs other than number `notIn`, in pack order (after planGc). */
  otherCopies(id: Buffer, notIn: number): Array<ScratchEntry & { packId: string }> {
    this.otherCopiesQ ??= this.db.prepare(
      'SELECT p.id AS packId, e.id, e.off, e.len, e.raw, e.flags FROM byid b JOIN entry e ON e.rowid = b.rid JOIN packs p ON p.no = e.pack WHERE b.id = ? AND e.pack <> ? ORDER BY b.key',
    );
    return this.otherCopiesQ.all(id, notIn);
  }

  /** Verify: a pack was read and checked; `bad` are the positions of its entries that failed. */
  markChecked(p: ScratchPack, bad: Iterable<number>): void {
    const setBad = this.db.prepare<[number]>('UPDATE entry SET bad = 1 WHERE rowid = ?');
    for (const i of bad) setBad.run(p.first + i);
    this.db.prepare<[number]>('UPDATE packs SET checked = 1 WHERE no = ?').run(p.no);
  }

  /** Verify (quick): every pack whose object is listed counts as checked; an entry past its pack's end is corrupt. */
  markListedChecked(): void {
    this.db.exec('UPDATE packs SET checked = 1 WHERE size IS NOT NULL');
  }

  /** Packs whose object is listed, and chunks of the packs checked. */
  checkedCounts(): { packs: number; chunks: number } {
    const packs = this.db.prepare<[], number>('SELECT count(*) FROM packs WHERE size IS NOT NULL AND first IS NOT NULL').pluck().get() ?? 0;
    const chunks = this.db.prepare<[], number>('SELECT total(count) FROM packs WHERE checked = 1').pluck().get() ?? 0;
    return { packs, chunks };
  }

  /**
   * Verify's verdicts on what the points reference (runref), by chunk state: good when at least
   * one copy is good (in a checked pack, within its end, not failed), corrupt when a copy is there
   * but none good, missing otherwise. Answers, per run with damage, its missing and corrupt
   * references; the distinct missing and corrupt ids; and whether any stored copy is corrupt.
   */
  verdicts(): { runs: Map<number, { missing: number; corrupt: number }>; missing: number; corrupt: number; anyCorrupt: boolean } {
    const state = 'CASE WHEN p.checked = 0 THEN 0 WHEN e.bad <> 0 OR e.off + e.len > p.size THEN 1 ELSE 2 END';
    this.db.exec(`
      CREATE TABLE have(id BLOB PRIMARY KEY, st INTEGER NOT NULL) WITHOUT ROWID;
      INSERT INTO have SELECT e.id, max(${state}) FROM entry e JOIN packs p ON p.no = e.pack GROUP BY e.id ORDER BY e.id;
      CREATE TABLE damage(id BLOB NOT NULL, run INTEGER NOT NULL, st INTEGER NOT NULL);
      INSERT INTO damage SELECT r.id, r.run, coalesce(h.st, 0) FROM runref r LEFT JOIN have h ON h.id = r.id WHERE coalesce(h.st, 0) < 2;`);
    const runs = new Map<number, { missing: number; corrupt: number }>();
    for (const r of this.db.prepare<[], { run: number; st: number; n: number }>('SELECT run, st, count(*) AS n FROM damage GROUP BY run, st').all()) {
      const v = runs.get(r.run) ?? { missing: 0, corrupt: 0 };
      if (r.st === 1) v.corrupt += r.n;
      else v.missing += r.n;
      runs.set(r.run, v);
    }
    const distinct = (st: number): number => this.db.prepare<[number], number>('SELECT count(DISTINCT id) FROM damage WHERE st = ?').pluck().get(st) ?? 0;
    const anyCorrupt = this.db.prepare<[], number>(`SELECT EXISTS (SELECT 1 FROM entry e JOIN packs p ON p.no = e.pack WHERE ${state} = 1)`).pluck().get() === 1;
    return { runs, missing: distinct(0), corrupt: distinct(1), anyCorrupt };
  }
}
