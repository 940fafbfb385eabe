import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isCofferError } from '../../../main/core/errors.js';
import { LocalFolderStore } from '../../../main/core/vault/local-store.js';
import { Vault } from '../../../main/core/vault/vault.js';
import { makeDisk, sha256File, tempDir } from './helpers.js';

/**
 * A restore into a folder whose filesystem fills up: the O_DIRECT writes in flight and the
 * page-cache ones both meet ENOSPC. The admin sees RestoreTargetFull (the target, not the vault),
 * the half-written disk is removed so the space comes back, and the vault still restores in full.
 */
let dir: string;
const mounts: string[] = [];
afterEach(() => {
  for (const m of mounts.splice(0)) spawnSync('umount', [m]);
  fs.rmSync(dir, { recursive: true, force: true });
});

const isRoot = process.platform === 'linux' && process.getuid?.() === 0;
const hasMke2fs = spawnSync('mke2fs', ['-V']).status === 0;

/** A small ext4 filesystem (O_DIRECT works there) mounted through a loop device. */
function smallExt4(mib: number): string {
  const img = path.join(dir, 'small.ext4');
  fs.writeFileSync(img, '');
  fs.truncateSync(img, mib * 1024 * 1024);
  expect(spawnSync('mke2fs', ['-q', '-t', 'ext4', '-m', '0', '-O', '^has_journal', img]).status).toBe(0);
  const mnt = path.join(dir, 'mnt');
  fs.mkdirSync(mnt);
  const r = spawnSync('mount', ['-o', 'loop', img, mnt], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  mounts.push(mnt);
  return mnt;
}

const freeBytes = (p: string): number => {
  const s = fs.statfsSync(p);
  return s.bavail * s.bsize;
};

describe('restore into a filesystem that fills up', () => {
  it.skipIf(!isRoot || !hasMke2fs)('fails with RestoreTargetFull, removes the partial disk and loses nothing (needs root for the loop mount)', async () => {
    dir = tempDir();
    const disk = path.join(dir, 'disk.raw');
    makeDisk(disk, 48, 11);
    const vault = await Vault.create(new LocalFolderStore(path.join(dir, 'vault')), { name: 'v', region: 'local', passphrase: 'pw', chunkSize: 64 * 1024 });
    try {
      const p = await vault.backup({ vmName: 'web01', disks: [{ name: 'disk.raw', path: disk }] });
      const mnt = smallExt4(16);
      const before = freeBytes(mnt);
      const out = path.join(mnt, 'out');
      let err: unknown;
      await vault.restore(p.id, out).catch((e: unknown) => {
        err = e;
      });
      expect(err, 'the restore should have failed').toBeDefined();
      expect(isCofferError(err, 'RestoreTargetFull'), String(err)).toBe(true);
      expect((err as Error).message).toContain(out);
      // The half-written disk is gone and its space is back.
      expect(fs.readdirSync(out)).toEqual([]);
      expect(freeBytes(mnt)).toBeGreaterThanOrEqual(before - 64 * 1024);
      // Nothing lost: the same point restores whole where there is room.
      const elsewhere = path.join(dir, 'elsewhere');
      await vault.restore(p.id, elsewhere);
      expect(sha256File(path.join(elsewhere, 'disk.raw'))).toBe(sha256File(disk));
    } finally {
      await vault.close();
    }
  });
});
