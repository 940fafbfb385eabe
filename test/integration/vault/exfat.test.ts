import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isCofferError } from '../../../main/core/errors.js';
import { LocalFolderStore } from '../../../main/core/vault/local-store.js';
import { VaultLock } from '../../../main/core/vault/locks.js';
import { Vault } from '../../../main/core/vault/vault.js';
import { listFiles, makeDisk, sha256File, tempDir } from './helpers.js';

// A real exFAT file system (what most USB backup disks carry): an image made with mkfs.exfat,
// attached to a loop device and mounted through exfat-fuse (this kernel has no exfat module).
// It has no hard links, which the old putIfAbsent needed. Needs root; skipped with the reason otherwise.
let dir: string;
let mnt: string;
let loop: string | undefined;
let mounted = false;
let skipReason = '';

function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

beforeAll(() => {
  dir = tempDir('coffer-exfat-');
  mnt = path.join(dir, 'mnt');
  fs.mkdirSync(mnt);
  const img = path.join(dir, 'usb.img');
  try {
    if (process.getuid?.() !== 0) throw new Error('mounting a loop device needs root');
    fs.closeSync(fs.openSync(img, 'w'));
    fs.truncateSync(img, 128 * 1024 * 1024);
    sh('mkfs.exfat', [img]);
    loop = sh('losetup', ['-f', '--show', img]);
    sh('mount.exfat-fuse', [loop, mnt]);
    mounted = fs.readFileSync('/proc/mounts', 'utf8').includes(` ${mnt} `);
    if (!mounted) throw new Error('mount.exfat-fuse returned but nothing is mounted');
  } catch (e) {
    skipReason = `exFAT test skipped: ${(e as Error).message.split('\n')[0]}`;
  }
});

afterAll(() => {
  if (mounted) {
    try {
      sh('umount', [mnt]);
    } catch {
      sh('fusermount', ['-u', '-z', mnt]);
    }
  }
  if (loop) sh('losetup', ['-d', loop]);
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('a vault on an exFAT USB disk', () => {
  it('takes locks, backs up, prunes with garbage collection and restores', { timeout: 120_000 }, async (ctx) => {
    if (!mounted) {
      console.warn(skipReason);
      ctx.skip();
    }
    const vdir = path.join(mnt, 'vault');
    const store = new LocalFolderStore(vdir);
    // The exclusive lock is a create-only write: no hard link needed.
    const ex = await VaultLock.acquire(store, 'exclusive', 'prune');
    const e = await VaultLock.acquire(store, 'exclusive', 'prune again').catch((x: unknown) => x);
    expect(isCofferError(e, 'VaultBusy')).toBe(true);
    await ex.release();
    expect(await store.putIfAbsent('locks/probe', Buffer.from('1'))).toBe(true);
    expect(await store.putIfAbsent('locks/probe', Buffer.from('2'))).toBe(false);
    expect((await store.get('locks/probe')).toString()).toBe('1');
    await store.delete('locks/probe');

    const vault = await Vault.create(store, { name: 'usb', region: 'local', passphrase: 'pw', chunkSize: 64 * 1024 });
    try {
      vault.workers = 1;
      const a = path.join(dir, 'a.img');
      const b = path.join(dir, 'b.img');
      makeDisk(a, 6, 1);
      makeDisk(b, 6, 2);
      const pa = await vault.backup({ vmName: 'a', disks: [{ name: 'a.img', path: a }] });
      const pb = await vault.backup({ vmName: 'b', disks: [{ name: 'b.img', path: b }] });
      const report = await vault.prune([pa.id]);
      expect(report.packsDeleted).toBeGreaterThan(0);
      expect((await vault.listPoints()).map((p) => p.id)).toEqual([pb.id]);
      expect((await vault.verify({ full: true })).ok).toBe(true);
      const r = await vault.restore(pb.id, path.join(dir, 'restored'));
      expect(sha256File(r.files[0]!.path)).toBe(sha256File(b));
    } finally {
      await vault.close();
    }
    expect(listFiles(vdir).filter((f) => f.startsWith('locks/') || f.includes('.tmp-'))).toEqual([]);
  });
});
