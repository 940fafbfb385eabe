import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChunkDb } from '../../../main/core/vault/chunk-db.js';
import type { ObjectInfo, ObjectStore } from '../../../main/core/vault/storage.js';
import { openStore, type VaultLocation } from '../../../main/core/vault/stores.js';
import { Vault } from '../../../main/core/vault/vault.js';
import { startAzurite, type Emulator } from '../../helpers/emulators.js';
import { makeDisk, sha256File, tempDir } from '../vault/helpers.js';

/**
 * The local cache of index objects, on a real Azure Blob emulator: a second open lists `index/`
 * once and reads only the index objects it has not seen; a damaged cache file is fetched again,
 * a lost cache folder is rebuilt, and an index object the store no longer has leaves the cache.
 */
const CHUNK = 64 * 1024;

/** The emulator's store, recording which index objects are read and how often `index/` is listed. */
class Counting implements ObjectStore {
  indexGets: string[] = [];
  indexLists = 0;
  constructor(private readonly inner: ObjectStore) {}
  get location(): string {
    return this.inner.location;
  }
  get conditionalCreate(): boolean {
    return this.inner.conditionalCreate;
  }
  reset(): void {
    this.indexGets = [];
    this.indexLists = 0;
  }
  put(key: string, data: Uint8Array): Promise<void> {
    return this.inner.put(key, data);
  }
  putIfAbsent(key: string, data: Uint8Array): Promise<boolean> {
    return this.inner.putIfAbsent(key, data);
  }
  get(key: string): Promise<Buffer> {
    if (key.startsWith('index/')) this.indexGets.push(key);
    return this.inner.get(key);
  }
  getRange(key: string, offset: number, length: number): Promise<Buffer> {
    return this.inner.getRange(key, offset, length);
  }
  stat(key: string): Promise<ObjectInfo | null> {
    return this.inner.stat(key);
  }
  list(prefix: string): Promise<ObjectInfo[]> {
    if (prefix === 'index/') this.indexLists++;
    return this.inner.list(prefix);
  }
  delete(key: string): Promise<void> {
    return this.inner.delete(key);
  }
}

let dir: string;
let em: Emulator;
const disks: string[] = [];

beforeAll(async () => {
  dir = tempDir('coffer-index-cache-');
  for (let i = 0; i < 3; i++) {
    const d = path.join(dir, `disk${i}.img`);
    makeDisk(d, 12, 100 + i);
    disks.push(d);
  }
  em = await startAzurite();
});
afterAll(async () => {
  await em.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('index cache on azurite', () => {
  let loc: VaultLocation;
  let cacheDir: string;
  const indexDir = (): string => path.join(cacheDir, 'index');
  const cached = (): string[] => (fs.existsSync(indexDir()) ? fs.readdirSync(indexDir()).sort() : []);
  const store = async (): Promise<Counting> => new Counting(await openStore(loc, { credentials: em.credentials }));
  const listed = async (s: ObjectStore): Promise<string[]> => (await s.list('index/')).map((o) => o.key.slice('index/'.length)).sort();

  /** Opens the vault as this install does (with its cache), reads the index (stats), and says what went to the store. */
  async function openAndCount(): Promise<{ gets: string[]; lists: number; chunks: number }> {
    const s = await store();
    const v = await Vault.open(s, 'pw', { cacheDir });
    try {
      const chunks = (await v.stats()).chunkCount;
      return { gets: s.indexGets.map((k) => k.slice('index/'.length)).sort(), lists: s.indexLists, chunks };
    } finally {
      await v.close();
    }
  }

  /** What another install (no cache of ours) does to the vault. */
  async function elsewhere<T>(f: (v: Vault) => Promise<T>): Promise<T> {
    const v = await Vault.open(await openStore(loc, { credentials: em.credentials }), 'pw');
    try {
      return await f(v);
    } finally {
      await v.close();
    }
  }

  beforeAll(async () => {
    loc = em.location('vaults', 'cache/v1');
    cacheDir = path.join(dir, 'data', 'cache', 'v1');
    const v = await Vault.create(await openStore(loc, { credentials: em.credentials, create: true }), { name: 'c', region: 'local', passphrase: 'pw', chunkSize: CHUNK }, { cacheDir });
    try {
      await v.backup({ vmName: 'a', disks: [{ name: 'disk.img', path: disks[0]! }] });
    } finally {
      await v.close();
    }
  });

  it('writes the index objects of its own backups into the cache, and a second open reads none of them', async () => {
    const s = await store();
    const all = await listed(s);
    expect(all.length).toBeGreaterThan(0);
    expect(cached()).toEqual(all);
    const second = await openAndCount();
    expect(second.gets).toEqual([]);
    expect(second.lists).toBe(1);
    // The same index as an install without a cache reads from the store.
    expect(second.chunks).toBe(await elsewhere(async (v) => (await v.stats()).chunkCount));
  });

  it('reads only the index objects another install added since', async () => {
    const before = cached();
    await elsewhere((v) => v.backup({ vmName: 'b', disks: [{ name: 'disk.img', path: disks[1]! }] }));
    const all = await listed(await store());
    const added = all.filter((p) => !before.includes(p));
    expect(added.length).toBeGreaterThan(0);
    const again = await openAndCount();
    expect(again.gets).toEqual(added);
    expect(again.lists).toBe(1);
    expect(cached()).toEqual(all);
    // And once cached, not again.
    expect((await openAndCount()).gets).toEqual([]);
  });

  it('rebuilding the chunk db, fetches again a cache file that is damaged or has the wrong size, and keeps the store copy', async () => {
    const [first, second] = cached();
    const f1 = path.join(indexDir(), first!);
    const bytes = fs.readFileSync(f1);
    bytes[bytes.length - 1]! ^= 0xff; // the GCM tag no longer matches
    fs.writeFileSync(f1, bytes);
    fs.appendFileSync(path.join(indexDir(), second!), 'x'); // torn or tampered: longer than listed
    // The chunk db knows these packs: without it, the open rebuilds it through the cache files.
    ChunkDb.remove(path.join(cacheDir, 'chunks.db'));
    const open = await openAndCount();
    expect(open.gets).toEqual([first, second].sort());
    const s = await store();
    expect(fs.readFileSync(f1).equals(await s.get(`index/${first}`))).toBe(true);
    expect(fs.readFileSync(path.join(indexDir(), second!)).equals(await s.get(`index/${second}`))).toBe(true);
  });

  it('rebuilds a lost cache folder from the store', async () => {
    fs.rmSync(cacheDir, { recursive: true, force: true });
    const all = await listed(await store());
    const open = await openAndCount();
    expect(open.gets).toEqual(all);
    expect(cached()).toEqual(all);
    expect((await openAndCount()).gets).toEqual([]);
  });

  it('drops the index objects a prune elsewhere removed, and restores from what is left', async () => {
    const points = await elsewhere((v) => v.listPoints());
    const before = cached();
    await elsewhere((v) => v.prune([points.find((p) => p.vmName === 'a')!.id]));
    const all = await listed(await store());
    expect(before.some((p) => !all.includes(p))).toBe(true);
    const open = await openAndCount();
    // Only what the prune wrote (repacked packs) is read; what it removed is gone from the cache.
    expect(open.gets).toEqual(all.filter((p) => !before.includes(p)));
    expect(cached()).toEqual(all);

    const v = await Vault.open(await store(), 'pw', { cacheDir });
    try {
      const left = await v.listPoints();
      expect(left.map((p) => p.vmName)).toEqual(['b']);
      const out = path.join(dir, 'restore-b');
      await v.restore(left[0]!.id, out);
      expect(sha256File(path.join(out, 'disk.img'))).toBe(sha256File(disks[1]!));
      expect((await v.verify()).ok).toBe(true);
    } finally {
      await v.close();
    }
  });
});
