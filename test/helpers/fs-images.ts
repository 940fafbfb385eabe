import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

/* Real disk images for file-level restore: a GPT disk with an ext4 partition filled by
   `mke2fs -d` from a folder of known files, a FAT32 partition filled by mtools, an NTFS partition
   made by mkntfs + ntfscp, and a qcow2 copy with compressed clusters (`qemu-img convert -c`). */

const MiB = 1024 * 1024;
const SECTOR = 512;
const sh = (cmd: string, args: string[], env: Record<string, string> = {}): string =>
  execFileSync(cmd, args, { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C.UTF-8', TZ: 'UTC', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });

/** Deterministic bytes (so a test can recompute them), incompressible. */
export function patternBytes(n: number, seed: string): Buffer {
  const out = Buffer.alloc(n);
  let at = 0;
  for (let i = 0; at < n; i++) {
    const h = createHash('sha256').update(`${seed}:${i}`).digest();
    h.copy(out, at);
    at += h.length;
  }
  return out;
}

export const TREE_TIME = new Date('2025-03-14T09:26:53Z');
export const NON_ASCII = 'Grüße – ünïcødé ✓.txt';
export const DEEP = 'a/b/c/d/e/f/g/h/deep.txt';

/** A folder of known files: modes, times, a symlink, a sparse file, deep paths, a non-ASCII name, a 10 MiB file. */
export function buildTree(root: string): void {
  const file = (rel: string, data: Buffer | string, mode = 0o644) => {
    const p = path.join(root, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, data);
    fs.chmodSync(p, mode);
  };
  file('hello.txt', 'hello from the recovery point\n', 0o640);
  file('run.sh', '#!/bin/sh\necho run\n', 0o755);
  file(NON_ASCII, 'non-ascii name\n');
  file(DEEP, 'deep down\n', 0o600);
  file('etc/app/config.ini', '[app]\nkey = value\n');
  file('big.bin', patternBytes(10 * MiB, 'big'));
  // Sparse: 8 MiB with two written islands.
  const sparse = path.join(root, 'sparse.img');
  const fd = fs.openSync(sparse, 'w');
  fs.ftruncateSync(fd, 8 * MiB);
  fs.writeSync(fd, Buffer.from('island one'), 0, 10, 1 * MiB);
  fs.writeSync(fd, Buffer.from('island two'), 0, 10, 7 * MiB);
  fs.closeSync(fd);
  fs.symlinkSync('hello.txt', path.join(root, 'link-to-hello'));
  fs.symlinkSync('../../hello.txt', path.join(root, 'etc/app/up-link'));
  fs.chmodSync(path.join(root, 'etc/app'), 0o750);
  // Times last, deepest first, so writing children does not move a folder's mtime again.
  const all: string[] = [];
  const walk = (d: string) => {
    for (const n of fs.readdirSync(d)) {
      const p = path.join(d, n);
      if (fs.lstatSync(p).isDirectory()) walk(p);
      all.push(p);
    }
  };
  walk(root);
  for (const p of all) fs.lutimesSync(p, TREE_TIME, TREE_TIME);
  fs.utimesSync(root, TREE_TIME, TREE_TIME);
}

export interface BuiltDisk {
  disk: string;
  tree: string;
  /** Partition byte offsets. */
  ext: { number: 1; start: number; size: number };
  fat: { number: 2; start: number; size: number };
  ntfs: { number: 3; start: number; size: number };
}

/**
 * A GPT disk of `sizeMiB`: 1 ext4 (from the tree), 2 FAT32 (hello.txt, the non-ASCII file, a
 * folder), 3 NTFS (hello.txt).
 */
export function buildGptDisk(dir: string, sizeMiB = 512): BuiltDisk {
  const tree = path.join(dir, 'tree');
  buildTree(tree);
  const disk = path.join(dir, 'disk.img');
  fs.writeFileSync(disk, '');
  fs.truncateSync(disk, sizeMiB * MiB);
  const fatMiB = 64;
  const ntfsMiB = 16;
  // FAT and NTFS first on the disk (mtools cannot reach a FAT beyond 2 GiB), ext4 after them;
  // the table still numbers ext4 1, as an installer that added the others later would leave it.
  const fatStart = 1 * MiB;
  const ntfsStart = fatStart + fatMiB * MiB;
  const extStart = ntfsStart + ntfsMiB * MiB;
  const extSize = (sizeMiB - 2 - fatMiB - ntfsMiB) * MiB;
  const s = (b: number) => b / SECTOR;
  const table = [
    'label: gpt',
    `start=${s(extStart)}, size=${s(extSize)}, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="root"`,
    `start=${s(fatStart)}, size=${s(fatMiB * MiB)}, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7, name="data"`,
    `start=${s(ntfsStart)}, size=${s(ntfsMiB * MiB)}, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7, name="win"`,
    '',
  ].join('\n');
  execFileSync('sfdisk', ['--no-reread', '--no-tell-kernel', '-q', disk], { input: table, stdio: ['pipe', 'pipe', 'pipe'] });
  sh('mke2fs', ['-q', '-F', '-t', 'ext4', '-b', '4096', '-d', tree, '-E', `offset=${extStart}`, disk, `${extSize / 1024}k`]);
  // FAT32 made in its own file and filled by mtools (-m keeps modification times), then placed
  // at its offset (mtools fails on images over 2 GiB).
  const fatFile = path.join(dir, 'fat.part');
  fs.writeFileSync(fatFile, '');
  fs.truncateSync(fatFile, fatMiB * MiB);
  sh('mkfs.vfat', ['-F', '32', '-n', 'DATA', '-h', String(s(fatStart)), fatFile]);
  const img = fatFile;
  const mt = { MTOOLS_SKIP_CHECK: '1', MTOOLS_NO_VFAT: '0' };
  sh('mcopy', ['-m', '-i', img, path.join(tree, 'hello.txt'), path.join(tree, NON_ASCII), '::/'], mt);
  sh('mmd', ['-i', img, '::/docs'], mt);
  sh('mcopy', ['-m', '-i', img, path.join(tree, 'etc/app/config.ini'), '::/docs/'], mt);
  execFileSync('dd', [`if=${fatFile}`, `of=${disk}`, 'bs=1M', `seek=${fatStart / MiB}`, 'conv=notrunc,sparse', 'status=none']);
  fs.rmSync(fatFile);
  // NTFS made in its own file, then placed at its offset (mkntfs writes a device, not an offset).
  const ntfs = path.join(dir, 'ntfs.part');
  fs.writeFileSync(ntfs, '');
  fs.truncateSync(ntfs, ntfsMiB * MiB);
  sh('mkntfs', ['-q', '-F', '-f', '-p', String(s(ntfsStart)), '-L', 'WIN', ntfs]);
  sh('ntfscp', ['-f', ntfs, path.join(tree, 'hello.txt'), 'hello.txt']);
  execFileSync('dd', [`if=${ntfs}`, `of=${disk}`, 'bs=1M', `seek=${ntfsStart / MiB}`, 'conv=notrunc,sparse', 'status=none']);
  fs.rmSync(ntfs);
  return { disk, tree, ext: { number: 1, start: extStart, size: extSize }, fat: { number: 2, start: fatStart, size: fatMiB * MiB }, ntfs: { number: 3, start: ntfsStart, size: ntfsMiB * MiB } };
}

/** A qcow2 copy of a raw disk with compressed clusters. */
export function qcow2Copy(raw: string, out: string, opts: { backing?: string } = {}): string {
  if (opts.backing) sh('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'raw', '-b', opts.backing, out]);
  else sh('qemu-img', ['convert', '-q', '-c', '-O', 'qcow2', raw, out]);
  return out;
}

/** The physical ext4 block of a file's logical block (debugfs), to find where its data lives. */
export function extBlockOf(disk: string, offset: number, file: string, logical = 0): number {
  const out = sh('debugfs', ['-R', `bmap ${file} ${logical}`, `${disk}?offset=${offset}`]);
  return Number(out.trim().split('\n').pop());
}

/** A libvirt domain definition naming the disk files (relative to the definition), as a folder source reads it. */
export function domainXml(name: string, uuid: string, disks: Array<{ file: string; type: 'raw' | 'qcow2' }>): string {
  return `<domain type='kvm'><name>${name}</name><uuid>${uuid}</uuid><memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os><devices>${disks
    .map((d, i) => `<disk type='file' device='disk'><driver name='qemu' type='${d.type}'/><source file='${d.file}'/><target dev='vd${'abcdef'[i]}' bus='virtio'/></disk>`)
    .join('')}</devices></domain>`;
}

/** Root on Linux with mke2fs: what mounting a small filesystem through a loop device needs. */
export const canLoopMount = process.platform === 'linux' && process.getuid?.() === 0 && (() => {
  try {
    sh('mke2fs', ['-V']);
    return true;
  } catch {
    return false;
  }
})();

/**
 * A small ext4 filesystem (it takes O_DIRECT) of `mib` MiB in `<dir>/<name>.ext4`, mounted through
 * a loop device at `<dir>/<name>` (as root): a disk that fills up for real. Returns the mount point
 * and its unmount, which the test must call before removing `dir`.
 */
export function smallExt4(dir: string, mib: number, name = 'small'): { mnt: string; unmount: () => void } {
  const img = path.join(dir, `${name}.ext4`);
  fs.writeFileSync(img, '');
  fs.truncateSync(img, mib * MiB);
  sh('mke2fs', ['-q', '-t', 'ext4', '-m', '0', '-O', '^has_journal', img]);
  const mnt = path.join(dir, name);
  fs.mkdirSync(mnt);
  sh('mount', ['-o', 'loop', img, mnt]);
  return { mnt, unmount: () => void execFileSync('umount', [mnt], { stdio: 'ignore' }) };
}

/** Bytes free for an unprivileged writer on the filesystem holding `p`. */
export function freeBytes(p: string): number {
  const s = fs.statfsSync(p);
  return s.bavail * s.bsize;
}
