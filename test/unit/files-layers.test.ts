import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as os from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BlockDevice } from '../../main/core/files/device.js';
import { sliceDevice } from '../../main/core/files/device.js';
import { openExt } from '../../main/core/files/ext.js';
import { openFat } from '../../main/core/files/fat.js';
import { openNtfs } from '../../main/core/files/ntfs.js';
import { probeFilesystem, readPartitions } from '../../main/core/files/partitions.js';
import { containerOf, openQcow2 } from '../../main/core/files/qcow2.js';
import { openContainer } from '../../main/core/files/container.js';
import { buildGptDisk, DEEP, NON_ASCII, patternBytes, qcow2Copy, TREE_TIME, type BuiltDisk } from '../helpers/fs-images.js';

/* The filesystem layers of file-level restore on real images built by the system's own tools,
   read through a plain file device (the vault's random reader is tested in the integration test). */

function fileDevice(file: string): BlockDevice & { bytesRead: number } {
  const fd = fs.openSync(file, 'r');
  const size = fs.fstatSync(fd).size;
  const dev = {
    size,
    bytesRead: 0,
    async read(into: Buffer, position: number) {
      const n = fs.readSync(fd, into, 0, Math.min(into.length, Math.max(0, size - position)), position);
      dev.bytesRead += n;
      return n;
    },
  };
  return dev;
}

async function readAll(f: { size: number; read(b: Buffer, p: number): Promise<number>; close(): Promise<void> }): Promise<Buffer> {
  const b = Buffer.alloc(f.size);
  expect(await f.read(b, 0)).toBe(f.size);
  await f.close();
  return b;
}

let built: BuiltDisk;
let dir: string;
beforeAll(() => {
  // One set of images for every test of the file (useTmp removes its folders after each test).
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-test-'));
  built = buildGptDisk(dir, 256);
}, 120_000);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('partition tables', () => {
  it('reads the GPT partitions with their names and what each holds', async () => {
    const dev = fileDevice(built.disk);
    const { scheme, partitions } = await readPartitions(dev);
    expect(scheme).toBe('gpt');
    expect(partitions.map((p) => [p.number, p.start, p.size, p.label])).toEqual([
      [1, built.ext.start, built.ext.size, 'root'],
      [2, built.fat.start, built.fat.size, 'data'],
      [3, built.ntfs.start, built.ntfs.size, 'win'],
    ]);
    const kinds = [];
    for (const p of partitions) kinds.push(await probeFilesystem(sliceDevice(dev, p.start, p.size)));
    expect(kinds).toEqual(['ext', 'fat', 'ntfs']);
  });
});

describe('ext4 through libext2fs', () => {
  it('lists, stats and reads files as the source tree has them, reading a small part of the disk', async () => {
    const dev = fileDevice(built.disk);
    const fsr = await openExt(sliceDevice(dev, built.ext.start, built.ext.size));
    try {
      const root = await fsr.list('/');
      expect(root.map((e) => e.name).sort()).toEqual(['a', 'big.bin', 'etc', 'hello.txt', 'link-to-hello', 'lost+found', NON_ASCII, 'run.sh', 'sparse.img'].sort());
      const hello = root.find((e) => e.name === 'hello.txt')!;
      expect(hello).toMatchObject({ kind: 'file', mode: 0o100640, mtimeMs: TREE_TIME.getTime() });
      expect(root.find((e) => e.name === 'link-to-hello')!.kind).toBe('symlink');
      expect(await fsr.readlink('/link-to-hello')).toBe('hello.txt');
      expect((await readAll(await fsr.open(DEEP))).toString()).toBe('deep down\n');
      expect((await readAll(await fsr.open('/big.bin'))).equals(patternBytes(10 * 1024 * 1024, 'big'))).toBe(true);
      const sparse = await readAll(await fsr.open('/sparse.img'));
      expect(sparse.length).toBe(8 * 1024 * 1024);
      expect(sparse.toString('latin1', 1024 * 1024, 1024 * 1024 + 10)).toBe('island one');
      await expect(fsr.stat('/no/such/file')).rejects.toMatchObject({ code: 'FileNotFoundInPoint' });
    } finally {
      await fsr.close();
    }
  });
});

describe('FAT32 through fatfs', () => {
  it('lists and reads the files mtools copied, long non-ASCII names included', async () => {
    const dev = fileDevice(built.disk);
    const fsr = await openFat(sliceDevice(dev, built.fat.start, built.fat.size), 'FAT32');
    const root = await fsr.list('/');
    expect(root.map((e) => e.name).sort()).toEqual(['docs', 'hello.txt', NON_ASCII].sort());
    expect((await readAll(await fsr.open('/hello.txt'))).toString()).toBe('hello from the recovery point\n');
    expect((await readAll(await fsr.open('/docs/config.ini'))).toString()).toBe('[app]\nkey = value\n');
    // FAT keeps local time in 2-second steps.
    expect(Math.abs(root.find((e) => e.name === 'hello.txt')!.mtimeMs - TREE_TIME.getTime())).toBeLessThanOrEqual(2000);
  });
});

describe('NTFS through ntfs-3g', () => {
  it('lists and reads a file ntfscp put there', async () => {
    const dev = fileDevice(built.disk);
    const fsr = await openNtfs(sliceDevice(dev, built.ntfs.start, built.ntfs.size), 'NTFS');
    try {
      expect((await fsr.list('/')).map((e) => e.name)).toContain('hello.txt');
      expect((await readAll(await fsr.open('/hello.txt'))).toString()).toBe('hello from the recovery point\n');
    } finally {
      await fsr.close();
    }
  });
});

describe('qcow2 through its cluster tables', () => {
  it('reads a compressed qcow2 copy byte for byte like the raw disk, touching only the clusters it needs', async () => {
    const q = qcow2Copy(built.disk, path.join(dir, 'disk.qcow2'));
    const file = fileDevice(q);
    const dev = await openQcow2(file, 'disk.qcow2', async () => undefined);
    const raw = fileDevice(built.disk);
    expect(dev.size).toBe(raw.size);
    for (const at of [0, 512, built.ext.start, built.ext.start + 1024, built.fat.start, built.ntfs.start + 4096]) {
      const a = Buffer.alloc(64 * 1024);
      const b = Buffer.alloc(64 * 1024);
      await dev.read(a, at);
      await raw.read(b, at);
      expect(a.equals(b), `at ${at}`).toBe(true);
    }
    const fsr = await openExt(sliceDevice(dev, built.ext.start, built.ext.size));
    try {
      expect((await readAll(await fsr.open('/big.bin'))).equals(patternBytes(10 * 1024 * 1024, 'big'))).toBe(true);
    } finally {
      await fsr.close();
    }
    expect(file.bytesRead).toBeLessThan(fs.statSync(q).size);
  });

  it('reads unallocated clusters from its backing file, found by name', async () => {
    const overlay = qcow2Copy(built.disk, path.join(dir, 'overlay.qcow2'), { backing: built.disk });
    const dev = await openQcow2(fileDevice(overlay), 'overlay.qcow2', async (name) => (name === path.basename(built.disk) ? fileDevice(built.disk) : undefined));
    const fsr = await openExt(sliceDevice(dev, built.ext.start, built.ext.size));
    try {
      expect((await readAll(await fsr.open('/hello.txt'))).toString()).toBe('hello from the recovery point\n');
    } finally {
      await fsr.close();
    }
    await expect(openQcow2(fileDevice(overlay), 'overlay.qcow2', async () => undefined)).rejects.toMatchObject({ code: 'FilesystemUnsupported' });
  });
});

describe('VMDK, VHDX and VDI through qemu-img', () => {
  it.each([
    ['vmdk', 'VMDK (sparse)'],
    ['vhdx', 'VHDX'],
    ['vdi', 'VDI'],
  ])('browses a %s disk as the guest saw it, and leaves no temporary file', async (format, container) => {
    const file = path.join(dir, `disk.${format}`);
    execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', format, built.disk, file]);
    const head = Buffer.alloc(512);
    await fileDevice(file).read(head, 0);
    expect(containerOf(head)).toBe(container);
    const before = fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith('coffer-container-'));
    const opened = await openContainer(fileDevice(file), container, `disk.${format}`);
    if ('reason' in opened) throw new Error(opened.reason);
    try {
      const fsr = await openExt(sliceDevice(opened.dev, built.ext.start, built.ext.size));
      try {
        expect((await readAll(await fsr.open('/big.bin'))).equals(patternBytes(10 * 1024 * 1024, 'big'))).toBe(true);
      } finally {
        await fsr.close();
      }
    } finally {
      await opened.close();
    }
    expect(fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith('coffer-container-'))).toEqual(before);
  });

  it('lists a container it cannot read with the reason', async () => {
    expect(await openContainer(fileDevice(built.disk), 'Something else', 'disk.bin')).toEqual({ reason: expect.stringContaining('qemu-img convert -O raw') });
  });
});
