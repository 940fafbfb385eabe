import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isCofferError } from '../../../main/core/errors.js';
import { LocalFolderStore } from '../../../main/core/vault/local-store.js';
import { selfIdentity, VaultLock } from '../../../main/core/vault/locks.js';
import { Vault } from '../../../main/core/vault/vault.js';
import { listFiles, makeDisk, sha256File, tempDir } from './helpers.js';

let dir: string;
let vdir: string;
beforeEach(() => {
  dir = tempDir();
  vdir = path.join(dir, 'vault');
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** The only fake: a folder store whose disk is "full" after a number of pack writes. */
class FullDiskStore extends LocalFolderStore {
  packsLeft = 1;
  override async put(key: string, data: Uint8Array): Promise<void> {
    if (key.startsWith('packs/') && this.packsLeft-- <= 0) {
      const e = new Error('ENOSPC: no space left on device, write') as NodeJS.ErrnoException;
      e.code = 'ENOSPC';
      throw e;
    }
    return super.put(key, data);
  }
}

describe('storage full', () => {
  it('fails the backup with StorageFull and leaves a vault that verifies clean', async () => {
    const store = new FullDiskStore(vdir);
    store.packsLeft = Infinity;
    const vault = await Vault.create(store, { name: 'v', region: 'local', passphrase: 'pw', chunkSize: 64 * 1024 });
    try {
      const d = path.join(dir, 'd.img');
      makeDisk(d, 8, 1);
      const ok = await vault.backup({ vmName: 'small', disks: [{ name: 'd.img', path: d }] });
      const big = path.join(dir, 'big.img');
      makeDisk(big, 80, 2);
      store.packsLeft = 1;
      const e = await vault.backup({ vmName: 'big', disks: [{ name: 'big.img', path: big }] }).catch((x: unknown) => x);
      expect(isCofferError(e, 'StorageFull')).toBe(true);
      expect((await vault.listPoints()).map((p) => p.id)).toEqual([ok.id]);
      expect(listFiles(vdir).filter((f) => f.includes('.tmp-') || f.startsWith('locks/'))).toEqual([]);
      const report = await vault.verify({ full: true });
      expect(report.ok).toBe(true);
      // Space is back: the retry completes and reuses the pack that made it.
      store.packsLeft = Infinity;
      const retry = await vault.backup({ vmName: 'big', disks: [{ name: 'big.img', path: big }] });
      await vault.restore(retry.id, path.join(dir, 'r'));
      expect(sha256File(path.join(dir, 'r', 'big.img'))).toBe(sha256File(big));
    } finally {
      await vault.close();
    }
  });
});

describe('locks', () => {
  it('lets backups share the vault but keeps prune exclusive', async () => {
    const store = new LocalFolderStore(vdir);
    const s1 = await VaultLock.acquire(store, 'shared', 'backup a');
    const s2 = await VaultLock.acquire(store, 'shared', 'backup b');
    const e1 = await VaultLock.acquire(store, 'exclusive', 'prune').catch((x: unknown) => x);
    expect(isCofferError(e1, 'VaultBusy')).toBe(true);
    await s1.release();
    await s2.release();
    const ex = await VaultLock.acquire(store, 'exclusive', 'prune');
    const e2 = await VaultLock.acquire(store, 'shared', 'backup c').catch((x: unknown) => x);
    expect(isCofferError(e2, 'VaultBusy')).toBe(true);
    const e3 = await VaultLock.acquire(store, 'exclusive', 'prune again').catch((x: unknown) => x);
    expect(isCofferError(e3, 'VaultBusy')).toBe(true);
    await ex.release();
    expect(listFiles(vdir)).toEqual([]);
  });

  it('breaks a stale lock left by a dead process', async () => {
    const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
    const pid = Number(dead.stdout.trim());
    const now = new Date().toISOString();
    fs.mkdirSync(path.join(vdir, 'locks'), { recursive: true });
    // The lock of a dead process of this machine and boot (same boot id): stale at once.
    const lock = { kind: 'exclusive', owner: 'b'.repeat(32), ...selfIdentity(), pid, operation: 'prune', created: now, refreshed: now };
    fs.writeFileSync(path.join(vdir, 'locks', 'exclusive'), JSON.stringify(lock));
    const store = new LocalFolderStore(vdir);
    const s = await VaultLock.acquire(store, 'shared', 'backup');
    await s.release();
    fs.writeFileSync(path.join(vdir, 'locks', 'exclusive'), JSON.stringify(lock));
    const x = await VaultLock.acquire(store, 'exclusive', 'prune');
    await x.release();
    // A live holder (this very process) is not broken.
    fs.writeFileSync(path.join(vdir, 'locks', 'exclusive'), JSON.stringify({ ...lock, pid: process.pid, pidStart: selfIdentity().pidStart }));
    const e = await VaultLock.acquire(store, 'shared', 'backup').catch((err: unknown) => err);
    expect(isCofferError(e, 'VaultBusy')).toBe(true);
  });

  it('refuses a prune that must not wait (VaultBusy) while a backup runs, and lets it run afterwards', async () => {
    const store = new LocalFolderStore(vdir);
    const vault = await Vault.create(store, { name: 'v', region: 'local', passphrase: 'pw' });
    try {
      const held = await VaultLock.acquire(store, 'shared', 'backup elsewhere');
      const e = await vault.collectGarbage({ wait: false }).catch((x: unknown) => x);
      expect(isCofferError(e, 'VaultBusy')).toBe(true);
      await held.release();
      expect((await vault.collectGarbage()).packsDeleted).toBe(0);
    } finally {
      await vault.close();
    }
  });
});

describe('object store', () => {
  it('writes atomically: readers see the old or the new object, never a part, and no temp file stays', async () => {
    const store = new LocalFolderStore(vdir);
    const a = Buffer.alloc(8 * 1024 * 1024, 1);
    const b = Buffer.alloc(8 * 1024 * 1024, 2);
    await store.put('packs/aa/x', a);
    const reads: Array<Promise<Buffer>> = [];
    const writes: Array<Promise<void>> = [];
    for (let i = 0; i < 10; i++) {
      writes.push(store.put('packs/aa/x', i % 2 ? a : b));
      reads.push(store.get('packs/aa/x'));
    }
    await Promise.all(writes);
    for (const r of await Promise.all(reads)) expect(r.equals(a) || r.equals(b)).toBe(true);
    expect(listFiles(vdir)).toEqual(['packs/aa/x']);
    expect(await store.putIfAbsent('locks/x', Buffer.from('1'))).toBe(true);
    expect(await store.putIfAbsent('locks/x', Buffer.from('2'))).toBe(false);
    await expect(store.get('../escape')).rejects.toThrow(/invalid object key/);
  });
});

describe('abandoned temp files', () => {
  it('are swept when the vault is opened, but only those older than an hour', async () => {
    const created = await Vault.create(new LocalFolderStore(vdir), { name: 'v', region: 'local', passphrase: 'pw', chunkSize: 64 * 1024 });
    await created.close();
    fs.mkdirSync(path.join(vdir, 'packs', 'ab'), { recursive: true });
    const old = path.join(vdir, 'packs', 'ab', '.tmp-0123456789abcdef');
    const oldTop = path.join(vdir, '.tmp-fedcba9876543210');
    const fresh = path.join(vdir, 'packs', 'ab', '.tmp-aaaaaaaaaaaaaaaa');
    for (const f of [old, oldTop, fresh]) fs.writeFileSync(f, 'half a pack');
    const twoHoursAgo = new Date(Date.now() - 2 * 60 * 60 * 1000);
    fs.utimesSync(old, twoHoursAgo, twoHoursAgo);
    fs.utimesSync(oldTop, twoHoursAgo, twoHoursAgo);
    // A writer of another process (40 minutes: past the stale-lock horizon, not an hour) keeps its file.
    const fortyMinutesAgo = new Date(Date.now() - 40 * 60 * 1000);
    fs.utimesSync(fresh, fortyMinutesAgo, fortyMinutesAgo);

    const vault = await Vault.open(new LocalFolderStore(vdir), 'pw');
    await vault.close(); // close() waits for the sweep
    expect(fs.existsSync(old)).toBe(false);
    expect(fs.existsSync(oldTop)).toBe(false);
    expect(fs.existsSync(fresh)).toBe(true);
    expect(fs.existsSync(path.join(vdir, 'config'))).toBe(true);
  });
});
