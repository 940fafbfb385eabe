import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isCofferError } from '../../../main/core/errors.js';
import { LocalFolderStore } from '../../../main/core/vault/local-store.js';
import { Vault } from '../../../main/core/vault/vault.js';
import { canLoopMount, freeBytes, smallExt4 } from '../../helpers/fs-images.js';
import { listFiles, makeDisk, sha256File, tempDir } from './helpers.js';

/**
 * Disks that fill up for real (small ext4 filesystems on loop devices, as root): the vault's own,
 * where packs go with O_DIRECT, and a restore's target, where the O_DIRECT writes in flight and the
 * page-cache ones both meet ENOSPC. Each failure names the disk that is full, loses nothing, and
 * leaves no half-written file behind.
 */
let dir: string;
const unmounts: Array<() => void> = [];
afterEach(() => {
  for (const u of unmounts.splice(0)) u();
  fs.rmSync(dir, { recursive: true, force: true });
});

function mounted(mib: number): string {
  const { mnt, unmount } = smallExt4(dir, mib);
  unmounts.push(unmount);
  return mnt;
}

describe.skipIf(!canLoopMount)('a disk that fills up (needs root and mke2fs for the loop mounts)', () => {
  it('restore target: RestoreTargetFull naming it, the partial disk removed, and the point restores whole elsewhere', async () => {
    dir = tempDir();
    const disk = path.join(dir, 'disk.raw');
    makeDisk(disk, 48, 11);
    const vault = await Vault.create(new LocalFolderStore(path.join(dir, 'vault')), { name: 'v', region: 'local', passphrase: 'pw', chunkSize: 64 * 1024 });
    try {
      const p = await vault.backup({ vmName: 'web01', disks: [{ name: 'disk.raw', path: disk }] });
      const mnt = mounted(16);
      const before = freeBytes(mnt);
      const out = path.join(mnt, 'out');
      await expect(vault.restore(p.id, out)).rejects.toSatisfy((e) => isCofferError(e, 'RestoreTargetFull') && e.message.includes(out));
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

  it("vault's disk: StorageFull, no point and no temp file left, the vault verifies clean, and a backup that fits then completes", async () => {
    dir = tempDir();
    const small = path.join(dir, 'small.raw');
    const big = path.join(dir, 'big.raw');
    makeDisk(small, 8, 3);
    fs.writeFileSync(big, randomBytes(48 * 1024 * 1024)); // incompressible: 48 MiB to store, on 24
    const vdir = path.join(mounted(24), 'vault');
    const vault = await Vault.create(new LocalFolderStore(vdir), { name: 'v', region: 'local', passphrase: 'pw', chunkSize: 64 * 1024 });
    try {
      const first = await vault.backup({ vmName: 'a', disks: [{ name: 'a.raw', path: small }] });
      await expect(vault.backup({ vmName: 'b', disks: [{ name: 'b.raw', path: big }] })).rejects.toSatisfy((e) => isCofferError(e, 'StorageFull'));
      expect((await vault.listPoints()).map((p) => p.id)).toEqual([first.id]);
      expect(listFiles(vdir).filter((f) => f.includes('.tmp-') || f.startsWith('locks/'))).toEqual([]);
      const report = await vault.verify({ full: true });
      expect(report.ok, JSON.stringify(report)).toBe(true);
      const out = path.join(dir, 'out');
      await vault.restore(first.id, out);
      expect(sha256File(path.join(out, 'a.raw'))).toBe(sha256File(small));
      // What still fits backs up.
      const again = await vault.backup({ vmName: 'a', disks: [{ name: 'a.raw', path: small }] });
      expect((await vault.listPoints()).map((p) => p.id).sort()).toEqual([first.id, again.id].sort());
    } finally {
      await vault.close();
    }
  });
});
