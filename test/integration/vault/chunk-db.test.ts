import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { LocalFolderStore } from '../../../main/core/vault/local-store.js';
import { Vault } from '../../../main/core/vault/vault.js';
import { makeDisk, sha256File, tempDir } from './helpers.js';
import { bundleChild } from '../../helpers/bundle.js';

/**
 * The on-disk chunk index (chunk-db.ts) as an install uses it: `<dataDir>/cache/<vaultId>/chunks.db`
 * next to the index-object cache, shared by the processes of one data folder, never trusted over
 * the store. Real SQLite files in a temp folder; the store is a local folder.
 */
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
// Inside the repo so the child finds <repo>/dist/vault-worker.mjs, outside git's view.
const CHILD = path.join(root, 'node_modules', '.cache', 'coffer-test', 'chunk-db-child.mjs');
const PW = 'pw';
const CHUNK = 64 * 1024;

let dir: string;
let vdir: string;
let cacheDir: string;
let disk: string;

beforeAll(async () => {
  await bundleChild(path.join(root, 'test', 'helpers', 'chunk-db-child.ts'), CHILD);
});
beforeEach(async () => {
  dir = tempDir('coffer-chunk-db-');
  vdir = path.join(dir, 'vault');
  disk = path.join(dir, 'disk.img');
  makeDisk(disk, 8, 7);
  const v = await Vault.create(new LocalFolderStore(vdir), { name: 'v', region: 'local', passphrase: PW, chunkSize: CHUNK });
  cacheDir = path.join(dir, 'data', 'cache', v.config.id);
  await v.close();
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const dbFile = (): string => path.join(cacheDir, 'chunks.db');
const listedPacks = (): string[] => fs.readdirSync(path.join(vdir, 'index')).filter((n) => /^[0-9a-f]{32}$/.test(n)).sort();
/** What the db file says, read by a separate SQLite connection. */
function dbView(): { packs: string[]; vault: string; chunks: number } {
  const db = new Database(dbFile(), { readonly: true });
  try {
    return {
      packs: db.prepare<[], string>('SELECT id FROM packs ORDER BY id').pluck().all(),
      vault: db.prepare<[], string>("SELECT v FROM meta WHERE k = 'vault'").pluck().get()!,
      chunks: db.prepare<[], number>('SELECT count(*) FROM chunks c JOIN packs p ON p.no = c.pack').pluck().get()!,
    };
  } finally {
    db.close();
  }
}
async function withVault<T>(f: (v: Vault) => Promise<T>, opts: { cacheDir?: string } = { cacheDir: undefined }): Promise<T> {
  const v = await Vault.open(new LocalFolderStore(vdir), PW, 'cacheDir' in opts ? opts : {});
  try {
    return await f(v);
  } finally {
    await v.close();
  }
}
const here = <T>(f: (v: Vault) => Promise<T>): Promise<T> => withVault(f, { cacheDir });
function childBackup(vm: string, file = disk): { newChunks: number; id: string } {
  const r = spawnSync(process.execPath, [CHILD, vdir, cacheDir, PW, vm, file], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`child failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim()) as { newChunks: number; id: string };
}

describe('chunk db', () => {
  it('is written by one process and deduplicates the backup of another on the same data folder; restore and verify read through it', async () => {
    const first = childBackup('alpha');
    expect(first.newChunks).toBeGreaterThan(0);
    expect(dbView().packs).toEqual(listedPacks());
    // Another VM (no parent point to take chunks from): every chunk is found through the db.
    const second = await here((v) => v.backup({ vmName: 'beta', disks: [{ name: 'disk.img', path: disk }] }));
    expect(second.newChunks).toBe(0);
    const out = path.join(dir, 'restored');
    await here(async (v) => {
      await v.restore(first.id, out);
      expect((await v.verify({ full: true })).ok).toBe(true);
      expect((await v.stats()).chunkCount).toBe(dbView().chunks);
    });
    expect(sha256File(path.join(out, 'disk.img'))).toBe(sha256File(disk));
  });

  it('forgets the packs another install pruned, and backs the data up again', async () => {
    const p = await here((v) => v.backup({ vmName: 'alpha', disks: [{ name: 'disk.img', path: disk }] }));
    const before = dbView().packs;
    expect(before.length).toBeGreaterThan(0);
    // Another install (its own data folder: none here) prunes the only point.
    await withVault((v) => v.prune([p.id]));
    expect(listedPacks()).toEqual([]);
    const again = await here((v) => v.backup({ vmName: 'alpha', disks: [{ name: 'disk.img', path: disk }] }));
    expect(again.newChunks).toBe(p.newChunks);
    const view = dbView();
    expect(view.packs).toEqual(listedPacks());
    expect(view.packs.some((x) => before.includes(x))).toBe(false);
    const out = path.join(dir, 'restored');
    await here((v) => v.restore(again.id, out));
    expect(sha256File(path.join(out, 'disk.img'))).toBe(sha256File(disk));
  });

  it("takes an incremental's unchanged chunks by its parent's recorded packs, and looks each up again (re-reading what is gone) once a pack left the store", async () => {
    /** Reads through a readRange as a changed-block backup does, counting the bytes asked. */
    const incremental = (parent: string, changed: Array<{ offset: number; length: number }>) =>
      here(async (v) => {
        const entry = (await v.readManifest(parent)).disks[0]!;
        const fd = fs.openSync(disk, 'r');
        try {
          const readRange = async (offset: number, length: number, into: Buffer): Promise<Buffer> => {
            fs.readSync(fd, into, 0, length, offset);
            return into.subarray(0, length);
          };
          return await v.backup({ vmName: 'alpha', disks: [{ name: 'disk.img', path: disk, plan: { parent: { pointId: parent, entry }, changed, readRange } }] });
        } finally {
          fs.closeSync(fd);
        }
      });
    const recorded = (): Array<{ point: string; packs: string }> => {
      const db = new Database(dbFile(), { readonly: true });
      try {
        return db.prepare<[], { point: string; packs: string }>('SELECT point, packs FROM point_packs ORDER BY point').all();
      } finally {
        db.close();
      }
    };
    const write = (offset: number, fill: number): { offset: number; length: number } => {
      const fd = fs.openSync(disk, 'r+');
      fs.writeSync(fd, Buffer.alloc(100, fill), 0, 100, offset);
      fs.closeSync(fd);
      return { offset, length: 100 };
    };
    const a = await here((v) => v.backup({ vmName: 'alpha', disks: [{ name: 'disk.img', path: disk }] }));
    // The full backup's packs are every pack of the vault.
    expect(recorded()).toEqual([{ point: a.id, packs: listedPacks().join('') }]);
    const b = await incremental(a.id, [write(3 * CHUNK + 10, 1)]);
    expect(b.bytesRead).toBe(CHUNK);
    // The incremental supersedes its parent's record: one row per chain.
    expect(recorded().map((r) => r.point)).toEqual([b.id]);

    // Another install's GC took one of the chain's packs (and its index object) out of the store.
    const lost = listedPacks()[0]!;
    fs.rmSync(path.join(vdir, 'index', lost));
    fs.rmSync(path.join(vdir, 'packs', lost.slice(0, 2), lost));
    const c = await incremental(b.id, [write(5 * CHUNK + 10, 2)]);
    // The chunks that were in the lost pack are read again (besides the changed one), so the point is whole.
    expect(c.bytesRead).toBeGreaterThan(CHUNK);
    expect(dbView().packs).toEqual(listedPacks());
    const out = path.join(dir, 'restored');
    await here((v) => v.restore(c.id, out));
    expect(sha256File(path.join(out, 'disk.img'))).toBe(sha256File(disk));
  });

  it('a GC by this install removes the packs it deletes from the db', async () => {
    const p = await here((v) => v.backup({ vmName: 'alpha', disks: [{ name: 'disk.img', path: disk }] }));
    await here((v) => v.prune([p.id]));
    expect(dbView()).toMatchObject({ packs: [], chunks: 0 });
  });

  it.each([
    ['deleted', (): void => fs.rmSync(dbFile())],
    ['corrupted', (): void => fs.writeFileSync(dbFile(), Buffer.alloc(64 * 1024, 0x5a))],
  ])('a %s db is rebuilt from the index objects and the backup still deduplicates', async (_what, damage) => {
    await here((v) => v.backup({ vmName: 'alpha', disks: [{ name: 'disk.img', path: disk }] }));
    for (const s of ['-wal', '-shm']) fs.rmSync(dbFile() + s, { force: true });
    damage();
    const again = await here((v) => v.backup({ vmName: 'beta', disks: [{ name: 'disk.img', path: disk }] }));
    expect(again.newChunks).toBe(0);
    expect(dbView().packs).toEqual(listedPacks());
  });

  it('counts a chunk that two installs stored at once (one copy in each of two packs) once', async () => {
    // Install B plans its backup (its chunk index has no packs yet), then waits at its first read
    // while install A backs up the same disk: B cannot know A's chunks and stores them again.
    const cacheB = path.join(dir, 'data-b', 'cache', 'v');
    let reading!: () => void;
    const bReading = new Promise<void>((resolve) => (reading = resolve));
    let aDone!: () => void;
    const aFinished = new Promise<void>((resolve) => (aDone = resolve));
    const fd = fs.openSync(disk, 'r');
    const size = fs.fstatSync(fd).size;
    const readRange = async (offset: number, length: number): Promise<Buffer> => {
      reading();
      await aFinished;
      const b = Buffer.alloc(length);
      fs.readSync(fd, b, 0, length, offset);
      return b;
    };
    const b = withVault((v) => v.backup({ vmName: 'beta', disks: [{ name: 'disk.img', path: disk, plan: { readRange, size } }] }), { cacheDir: cacheB });
    await bReading;
    const a = await here((v) => v.backup({ vmName: 'alpha', disks: [{ name: 'disk.img', path: disk }] }));
    aDone();
    const second = await b.finally(() => fs.closeSync(fd));
    expect(second.newChunks).toBe(a.newChunks);
    // This install's db now has both packs' rows: every stored chunk twice.
    const stats = await here((v) => v.stats());
    expect(dbView().chunks).toBe(2 * a.newChunks);
    expect(stats.chunkCount).toBe(a.newChunks);
    // The in-memory index of a handle without a cache folder says the same.
    expect((await withVault((v) => v.stats())).chunkCount).toBe(a.newChunks);
  });

  it('a db from another vault is not used', async () => {
    await here((v) => v.backup({ vmName: 'alpha', disks: [{ name: 'disk.img', path: disk }] }));
    // A second vault whose cache folder holds a copy of the first vault's db.
    const vdir2 = path.join(dir, 'vault2');
    const v2 = await Vault.create(new LocalFolderStore(vdir2), { name: 'w', region: 'local', passphrase: PW, chunkSize: CHUNK });
    const cache2 = path.join(dir, 'data', 'cache', v2.config.id);
    await v2.close();
    fs.mkdirSync(cache2, { recursive: true });
    fs.copyFileSync(dbFile(), path.join(cache2, 'chunks.db'));
    const v = await Vault.open(new LocalFolderStore(vdir2), PW, { cacheDir: cache2 });
    try {
      expect((await v.stats()).chunkCount).toBe(0);
      // Nothing of the first vault deduplicates here: the backup stores every chunk.
      const p = await v.backup({ vmName: 'alpha', disks: [{ name: 'disk.img', path: disk }] });
      expect(p.newChunks).toBeGreaterThan(0);
      const out = path.join(dir, 'restored');
      await v.restore(p.id, out);
      expect(sha256File(path.join(out, 'disk.img'))).toBe(sha256File(disk));
    } finally {
      await v.close();
    }
  });
});
