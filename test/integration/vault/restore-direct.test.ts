import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalFolderStore } from '../../../main/core/vault/local-store.js';
import { Vault } from '../../../main/core/vault/vault.js';
import { makeDisk, sha256File, tempDir } from './helpers.js';

/**
 * A restore writes the disk's runs with O_DIRECT where the target's filesystem takes it (worker.ts,
 * RunWriter), and reads its packs so where the vault's folder takes it (restore.ts, readThenOpen):
 * the bytes go between the device and the workers' buffers, not through the page cache. Byte for
 * byte all the same, holes kept, the last partial block included; and through the page cache
 * where O_DIRECT is refused or a read fails.
 */
let dir: string;
const mounts: string[] = [];
afterEach(() => {
  for (const m of mounts.splice(0)) spawnSync('umount', [m]);
  fs.rmSync(dir, { recursive: true, force: true });
});

const linux = process.platform === 'linux';
const fincore = linux && spawnSync('fincore', ['--version']).status === 0;
const fsType = (p: string): string => spawnSync('stat', ['-f', '-c', '%T', p], { encoding: 'utf8' }).stdout.trim();
const resident = (file: string): number => Number(spawnSync('fincore', ['--bytes', '--noheadings', '--output', 'RES', file], { encoding: 'utf8' }).stdout.trim());
const isRoot = process.getuid?.() === 0;

const files = (root: string): string[] => fs.readdirSync(root, { recursive: true, encoding: 'utf8' }).map((f) => path.join(root, f)).filter((f) => fs.statSync(f).isFile());

async function backedUp(vaultDir?: (dir: string) => string, store?: (root: string) => LocalFolderStore): Promise<{ vault: Vault; pointId: string; disk: string }> {
  dir = tempDir();
  const disk = path.join(dir, 'disk.raw');
  makeDisk(disk, 24, 7);
  // A size that is not a multiple of 4096: the last block cannot go through O_DIRECT.
  fs.appendFileSync(disk, Buffer.from('a tail shorter than a block'));
  const root = vaultDir ? vaultDir(dir) : path.join(dir, 'vault');
  const vault = await Vault.create(store ? store(root) : new LocalFolderStore(root), { name: 'v', region: 'local', passphrase: 'pw', chunkSize: 64 * 1024 });
  const p = await vault.backup({ vmName: 'web01', disks: [{ name: 'disk.raw', path: disk }] });
  return { vault, pointId: p.id, disk };
}

describe('restore writes', () => {
  it.skipIf(!fincore || fsType(os.tmpdir()) === 'tmpfs')('go past the page cache on a local disk, byte for byte, holes and the odd tail kept (needs fincore, a non-tmpfs temp folder)', async () => {
    const { vault, pointId, disk } = await backedUp();
    try {
      const out = path.join(dir, 'out');
      await vault.restore(pointId, out);
      const file = path.join(out, 'disk.raw');
      // About 16 MiB of data written: only the last partial block went through the page cache.
      // Measured before anything reads the file back.
      expect(resident(file)).toBeLessThan(256 * 1024);
      expect(sha256File(file)).toBe(sha256File(disk));
      const st = fs.statSync(file);
      expect(st.size).toBe(fs.statSync(disk).size);
      expect(st.blocks * 512).toBeLessThan(st.size - 2 * 1024 * 1024); // zero chunks stayed holes
    } finally {
      await vault.close();
    }
  });

  it.skipIf(!linux || !isRoot)('go through the page cache into a folder that refuses O_DIRECT (tmpfs; needs root to mount it)', async () => {
    const { vault, pointId, disk } = await backedUp();
    try {
      const mnt = path.join(dir, 'tmpfs');
      fs.mkdirSync(mnt);
      expect(spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64m', 'tmpfs', mnt]).status).toBe(0);
      mounts.push(mnt);
      expect(fsType(mnt)).toBe('tmpfs');
      const out = path.join(mnt, 'out');
      await vault.restore(pointId, out);
      expect(sha256File(path.join(out, 'disk.raw'))).toBe(sha256File(disk));
    } finally {
      await vault.close();
    }
  });
});

/** A folder whose O_DIRECT handles read nothing (each names /dev/null): every worker read comes up short. */
class ShortDirectReads extends LocalFolderStore {
  opened = 0;
  override async openDirectRead(): Promise<fs.promises.FileHandle> {
    this.opened++;
    return fs.promises.open('/dev/null', 'r');
  }
}

describe('restore reads its packs', () => {
  it.skipIf(!fincore || fsType(os.tmpdir()) === 'tmpfs')('past the page cache from a vault on a local disk (needs fincore, a non-tmpfs temp folder)', async () => {
    const { vault, pointId, disk } = await backedUp();
    try {
      const packs = files(path.join(dir, 'vault', 'packs'));
      const packBytes = packs.reduce((n, f) => n + fs.statSync(f).size, 0);
      expect(packBytes).toBeGreaterThan(4 * 1024 * 1024);
      // Written with O_DIRECT, so not cached now; a buffered read would leave them all cached.
      const cached = (): number => packs.reduce((n, f) => n + resident(f), 0);
      expect(cached()).toBeLessThan(packBytes / 8);
      const out = path.join(dir, 'out');
      await vault.restore(pointId, out);
      expect(cached()).toBeLessThan(packBytes / 8);
      expect(sha256File(path.join(out, 'disk.raw'))).toBe(sha256File(disk));
    } finally {
      await vault.close();
    }
  });

  it.skipIf(!linux || !isRoot)('through the page cache from a vault on a folder that refuses O_DIRECT (tmpfs; needs root to mount it)', async () => {
    const { vault, pointId, disk } = await backedUp((d) => {
      const mnt = path.join(d, 'tmpfs');
      fs.mkdirSync(mnt);
      expect(spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64m', 'tmpfs', mnt]).status).toBe(0);
      mounts.push(mnt);
      return path.join(mnt, 'vault');
    });
    try {
      expect(fsType(path.join(dir, 'tmpfs'))).toBe('tmpfs');
      const out = path.join(dir, 'out');
      await vault.restore(pointId, out);
      expect(sha256File(path.join(out, 'disk.raw'))).toBe(sha256File(disk));
    } finally {
      await vault.close();
    }
  });

  it.skipIf(!linux)('through the store when a worker read fails, byte for byte (a store whose O_DIRECT handles read nothing)', async () => {
    let store: ShortDirectReads | undefined;
    const { vault, pointId, disk } = await backedUp(undefined, (root) => (store = new ShortDirectReads(root)));
    try {
      const out = path.join(dir, 'out');
      await vault.restore(pointId, out);
      expect(sha256File(path.join(out, 'disk.raw'))).toBe(sha256File(disk));
      // The first batch's reads failed; the rest of the disk was read through the store, not tried again.
      expect(store!.opened).toBeGreaterThan(0);
      expect(store!.opened).toBeLessThanOrEqual(8);
    } finally {
      await vault.close();
    }
  });
});
