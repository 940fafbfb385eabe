// Vault format 2 (issue 13 §5): chunk lists in their own objects, the config authenticated under
// the master key, version 1 vaults still opened, restored and backed up as version 1 until
// upgraded, and a version newer than this Coffer refused untouched.
import * as fs from 'node:fs';
import * as path from 'node:path';
import zstd from 'zstd-napi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isCofferError } from '../../../main/core/errors.js';
import { loadChunkIds } from '../../../main/core/vault/chunk-lists.js';
import { open } from '../../../main/core/vault/crypto.js';
import { LocalFolderStore } from '../../../main/core/vault/local-store.js';
import { Vault } from '../../../main/core/vault/vault.js';
import { listFiles, makeDisk, sha256File, tempDir } from './helpers.js';

const KDF = { N: 1024, r: 8, p: 1 };
const CHUNK = 64 * 1024;
let dir: string;
let diskA: string;
let diskB: string;
let sparse: string;

beforeAll(() => {
  dir = tempDir();
  diskA = path.join(dir, 'a.img');
  diskB = path.join(dir, 'b.img');
  sparse = path.join(dir, 'sparse.img');
  makeDisk(diskA, 6, 3);
  makeDisk(diskB, 5, 4);
  // 256 MiB with 64 KiB of data in the middle: 4096 chunks, nearly all zero.
  const fd = fs.openSync(sparse, 'w');
  fs.ftruncateSync(fd, 256 << 20);
  fs.writeSync(fd, Buffer.alloc(65536, 0xab), 0, 65536, 128 * 1024 * 1024);
  fs.closeSync(fd);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Every object of a vault folder with its bytes: what "nothing written" compares. */
function snapshot(vaultDir: string): Map<string, string> {
  return new Map(listFiles(vaultDir).map((f) => [f, fs.readFileSync(path.join(vaultDir, f)).toString('base64')]));
}

/** The plaintext JSON of a point's manifest, read from the folder like another reader would. */
function manifestJson(vaultDir: string, v: Vault, id: string): { version: number; disks: Array<Record<string, unknown>> } {
  const keys = (v as unknown as { keys: { encKey: Buffer } }).keys;
  const plain = open(keys.encKey, fs.readFileSync(path.join(vaultDir, 'points', id)), Buffer.from(`point:${id}`));
  return JSON.parse(zstd.decompress(plain).toString('utf8'));
}

async function restoredSha(v: Vault, pointId: string, name: string): Promise<string> {
  const target = fs.mkdtempSync(path.join(dir, 'restore-'));
  fs.rmSync(target, { recursive: true });
  await v.restore(pointId, target);
  const sha = sha256File(path.join(target, name));
  fs.rmSync(target, { recursive: true, force: true });
  return sha;
}

describe('vault format 2', () => {
  it('new vaults are version 2: manifests name chunk-list objects, a sparse disk stays small, and restore is byte-identical', async () => {
    const vaultDir = path.join(dir, 'v2');
    const v = await Vault.create(new LocalFolderStore(vaultDir), { name: 'v', region: 'r', passphrase: 'pw', chunkSize: CHUNK, kdf: KDF });
    try {
      const cfg = JSON.parse(fs.readFileSync(path.join(vaultDir, 'config'), 'utf8'));
      expect(cfg.version).toBe(2);
      expect(Buffer.from(cfg.mac, 'base64')).toHaveLength(32);
      const p = await v.backup({ vmName: 'web', disks: [{ name: 'a.img', path: diskA }, { name: 'sparse.img', path: sparse }] });
      const m = manifestJson(vaultDir, v, p.id);
      expect(m.version).toBe(2);
      for (const d of m.disks) {
        expect(d.chunks).toBeUndefined();
        expect(d.list).toMatchObject({ count: Math.ceil((d.size as number) / CHUNK) });
      }
      // The manifest of a 256 MiB disk does not carry its 4096 ids (128 KiB): it names one run object.
      const lists = listFiles(vaultDir).filter((f) => f.startsWith('chunklists/'));
      expect(lists.length).toBeGreaterThan(0);
      expect(fs.statSync(path.join(vaultDir, 'points', p.id)).size).toBeLessThan(4096);
      const sparseEntry = m.disks.find((d) => d.name === 'sparse.img') as { list: { runs: string[] } };
      expect(sparseEntry.list.runs).toHaveLength(1);
      // Runs of zero chunks are one record: the sparse disk's list is a few dozen bytes, not 128 KiB.
      expect(fs.statSync(path.join(vaultDir, 'chunklists', sparseEntry.list.runs[0]!)).size).toBeLessThan(200);

      expect(await restoredSha(v, p.id, 'a.img')).toBe(sha256File(diskA));
      expect(await restoredSha(v, p.id, 'sparse.img')).toBe(sha256File(sparse));
      expect((await v.verify({ full: true })).ok).toBe(true);

      // loadChunkIds gives the ids in disk order, zero chunks as zero ids.
      const full = await v.readManifest(p.id);
      const ids = await loadChunkIds(v.store, (v as unknown as { keys: never }).keys, full.disks[1]!);
      expect(ids.length).toBe(4096 * 32);
      const nonZero = [...Array(4096).keys()].filter((i) => !ids.subarray(i * 32, i * 32 + 32).equals(Buffer.alloc(32)));
      expect(nonZero).toEqual([2048]);

      // A second backup of the same disks shares every run object (same content, same name).
      const before = listFiles(vaultDir).filter((f) => f.startsWith('chunklists/')).length;
      const p2 = await v.backup({ vmName: 'web', disks: [{ name: 'a.img', path: diskA }, { name: 'sparse.img', path: sparse }] });
      expect(listFiles(vaultDir).filter((f) => f.startsWith('chunklists/')).length).toBe(before);

      // GC keeps the runs a point names and removes those no point names any more.
      await v.deletePoints([p.id]);
      await v.collectGarbage();
      expect(await restoredSha(v, p2.id, 'sparse.img')).toBe(sha256File(sparse));
      await v.backup({ vmName: 'web', disks: [{ name: 'b.img', path: diskB }] });
      await v.prune([p2.id]);
      const left = listFiles(vaultDir).filter((f) => f.startsWith('chunklists/'));
      expect(left).toHaveLength(1);
      expect((await v.verify({ full: true })).ok).toBe(true);
    } finally {
      await v.close();
    }
  });

  it('a missing chunk list makes verify name the point and GC stop without deleting', async () => {
    const vaultDir = path.join(dir, 'v2-missing');
    const v = await Vault.create(new LocalFolderStore(vaultDir), { name: 'v', region: 'r', passphrase: 'pw', chunkSize: CHUNK, kdf: KDF });
    try {
      const p = await v.backup({ vmName: 'web', disks: [{ name: 'a.img', path: diskA }] });
      for (const f of listFiles(vaultDir).filter((x) => x.startsWith('chunklists/'))) fs.rmSync(path.join(vaultDir, f));
      const report = await v.verify();
      expect(report.ok).toBe(false);
      expect(report.damaged).toEqual([expect.objectContaining({ pointId: p.id, disks: [expect.objectContaining({ name: 'a.img' })] })]);
      const packs = listFiles(vaultDir).filter((f) => f.startsWith('packs/'));
      const e = await v.collectGarbage().catch((x: unknown) => x);
      expect(isCofferError(e, 'VaultCorrupt')).toBe(true);
      expect(listFiles(vaultDir).filter((f) => f.startsWith('packs/'))).toEqual(packs);
      await expect(v.restore(p.id, path.join(dir, 'never'))).rejects.toMatchObject({ code: 'ChunkCorrupt' });
      expect(fs.existsSync(path.join(dir, 'never', 'a.img'))).toBe(false);
    } finally {
      await v.close();
    }
  });

  it('a config whose parameters were changed is refused with VaultConfigTampered, nothing written', async () => {
    const vaultDir = path.join(dir, 'v2-tamper');
    const v = await Vault.create(new LocalFolderStore(vaultDir), { name: 'v', region: 'r', passphrase: 'pw', chunkSize: CHUNK, kdf: KDF });
    await v.backup({ vmName: 'web', disks: [{ name: 'a.img', path: diskA }] });
    await v.close();
    const cfgFile = path.join(vaultDir, 'config');
    const good = JSON.parse(fs.readFileSync(cfgFile, 'utf8'));
    for (const tamper of [
      (c: Record<string, Record<string, unknown>>) => (c.chunking!.chunkSize = 128 * 1024),
      (c: Record<string, Record<string, unknown>>) => ((c as Record<string, unknown>).region = 'elsewhere'),
      (c: Record<string, Record<string, unknown>>) => ((c as Record<string, unknown>).mac = Buffer.alloc(32, 1).toString('base64')),
    ]) {
      const cfg = structuredClone(good);
      tamper(cfg);
      fs.writeFileSync(cfgFile, JSON.stringify(cfg));
      const before = snapshot(vaultDir);
      const e = await Vault.open(new LocalFolderStore(vaultDir), 'pw').catch((x: unknown) => x);
      expect(isCofferError(e, 'VaultConfigTampered')).toBe(true);
      expect(snapshot(vaultDir)).toEqual(before);
    }
    // Without its MAC a version 2 config is not a valid one.
    const { mac: _mac, ...noMac } = good;
    void _mac;
    fs.writeFileSync(cfgFile, JSON.stringify(noMac));
    const e = await Vault.open(new LocalFolderStore(vaultDir), 'pw').catch((x: unknown) => x);
    expect(isCofferError(e, 'VaultConfigInvalid')).toBe(true);
    fs.writeFileSync(cfgFile, JSON.stringify(good));
    const ok = await Vault.open(new LocalFolderStore(vaultDir), 'pw');
    await ok.close();
  });

  it('a vault claiming version 3 is refused with VaultFormatTooNew and no object is written', async () => {
    const vaultDir = path.join(dir, 'v3');
    const v = await Vault.create(new LocalFolderStore(vaultDir), { name: 'v', region: 'r', passphrase: 'pw', chunkSize: CHUNK, kdf: KDF });
    await v.backup({ vmName: 'web', disks: [{ name: 'a.img', path: diskA }] });
    await v.close();
    const cfgFile = path.join(vaultDir, 'config');
    fs.writeFileSync(cfgFile, JSON.stringify({ ...JSON.parse(fs.readFileSync(cfgFile, 'utf8')), version: 3 }));
    const before = snapshot(vaultDir);
    const e = await Vault.open(new LocalFolderStore(vaultDir), 'pw').catch((x: unknown) => x);
    expect(isCofferError(e, 'VaultFormatTooNew')).toBe(true);
    expect((e as { details?: { version?: number; supported?: number } }).details).toEqual({ version: 3, supported: 2 });
    expect(snapshot(vaultDir)).toEqual(before);
  });
});

describe('a version 1 vault', () => {
  it('opens, restores and gets version 1 points until upgraded; then every point is version 2 and restores byte-identical', async () => {
    const vaultDir = path.join(dir, 'v1');
    const created = await Vault.create(new LocalFolderStore(vaultDir), { name: 'old', region: 'r', passphrase: 'pw', chunkSize: CHUNK, kdf: KDF, formatVersion: 1 });
    await created.close();
    const cfg1 = JSON.parse(fs.readFileSync(path.join(vaultDir, 'config'), 'utf8'));
    expect(cfg1.version).toBe(1);
    expect(cfg1.mac).toBeUndefined();

    const v = await Vault.open(new LocalFolderStore(vaultDir), 'pw');
    try {
      const p1 = await v.backup({ vmName: 'web', disks: [{ name: 'a.img', path: diskA }] });
      const p2 = await v.backup({ vmName: 'db', disks: [{ name: 'b.img', path: diskB }, { name: 'sparse.img', path: sparse }] });
      for (const id of [p1.id, p2.id]) {
        const m = manifestJson(vaultDir, v, id);
        expect(m.version).toBe(1);
        expect(typeof m.disks[0]!.chunks).toBe('string');
      }
      expect(listFiles(vaultDir).filter((f) => f.startsWith('chunklists/'))).toEqual([]);
      expect(await restoredSha(v, p1.id, 'a.img')).toBe(sha256File(diskA));

      const progress: number[] = [];
      const report = await v.upgrade({ onProgress: (p) => progress.push(p.pointsDone) });
      expect(report).toMatchObject({ fromVersion: 1, toVersion: 2, pointsConverted: 2, points: 2 });
      expect(progress.at(-1)).toBe(2);
      expect(v.config.version).toBe(2);
      expect(JSON.parse(fs.readFileSync(path.join(vaultDir, 'config'), 'utf8'))).toMatchObject({ version: 2, id: cfg1.id, kdf: cfg1.kdf, masterKey: cfg1.masterKey });
      for (const id of [p1.id, p2.id]) expect(manifestJson(vaultDir, v, id).version).toBe(2);
      expect(await restoredSha(v, p1.id, 'a.img')).toBe(sha256File(diskA));
      expect(await restoredSha(v, p2.id, 'b.img')).toBe(sha256File(diskB));
      expect(await restoredSha(v, p2.id, 'sparse.img')).toBe(sha256File(sparse));
      expect((await v.verify({ full: true })).ok).toBe(true);

      // The next backup is version 2; a second upgrade has nothing left to do.
      const p3 = await v.backup({ vmName: 'web', disks: [{ name: 'a.img', path: diskA }] });
      expect(manifestJson(vaultDir, v, p3.id).version).toBe(2);
      expect(await v.upgrade()).toMatchObject({ fromVersion: 2, toVersion: 2, pointsConverted: 0, points: 3 });
    } finally {
      await v.close();
    }
    const again = await Vault.open(new LocalFolderStore(vaultDir), 'pw');
    expect(again.config.version).toBe(2);
    await again.close();
  });
});
