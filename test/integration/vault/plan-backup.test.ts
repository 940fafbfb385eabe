import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isCofferError } from '../../../main/core/errors.js';
import { LocalFolderStore } from '../../../main/core/vault/local-store.js';
import { fileStamp } from '../../../main/core/vault/plan.js';
import { Vault } from '../../../main/core/vault/vault.js';
import { sameRawContent, whyNoQemuImg } from '../../helpers/qemu-img.js';
import { makeDisk, sha256File, tempDir } from './helpers.js';

let dir: string;
let vault: Vault;
const CHUNK = 64 * 1024;
const MiB = 1024 * 1024;

beforeEach(async () => {
  dir = tempDir();
  vault = await Vault.create(new LocalFolderStore(path.join(dir, 'vault')), { name: 'v', region: 'local', passphrase: 'correct horse', chunkSize: CHUNK });
});
afterEach(async () => {
  await vault.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Overwrites `count` scattered 64 KiB ranges (not chunk-aligned) and returns them. */
function scatterWrites(file: string, count: number, seed: number): Array<{ offset: number; length: number }> {
  const size = fs.statSync(file).size;
  const fd = fs.openSync(file, 'r+');
  const out: Array<{ offset: number; length: number }> = [];
  for (let k = 0; k < count; k++) {
    const offset = Math.floor(((k * 7919 + seed * 104729) % 1000) / 1000 * (size - 64 * 1024)) + 1000;
    const length = 64 * 1024;
    fs.writeSync(fd, Buffer.alloc(length, (k + seed) % 255 + 1), 0, length, offset);
    out.push({ offset, length });
  }
  fs.closeSync(fd);
  return out;
}

describe('backups that follow a disk plan', () => {
  it('reads only the chunks the changed ranges touch, reuses the rest, and restores byte-identical', async () => {
    const disk = path.join(dir, 'disk.raw');
    makeDisk(disk, 32, 3);
    const first = await vault.backup({ vmName: 'web', disks: [{ name: 'disk.raw', path: disk }] });
    const parent = (await vault.readManifest(first.id)).disks[0]!;
    expect(parent.digestOver).toBeUndefined();

    const changed = scatterWrites(disk, 6, 1);
    const second = await vault.backup({ vmName: 'web', disks: [{ name: 'disk.raw', path: disk, plan: { parent: { pointId: first.id, entry: parent }, changed } }] });
    // A 64 KiB range that does not start on a chunk boundary touches two 64 KiB chunks.
    expect(second.bytesRead).toBeLessThanOrEqual(changed.length * 2 * CHUNK);
    expect(second.bytesRead).toBeGreaterThanOrEqual(changed.length * CHUNK);
    expect(second.reads).toEqual([{ name: 'disk.raw', bytesRead: second.bytesRead, parent: first.id }]);
    const entry = (await vault.readManifest(second.id)).disks[0]!;
    expect(entry.digestOver).toBe('ids');
    expect(entry.incremental).toEqual({ parent: first.id, depth: 1 });
    expect(entry.source?.ctimeMs).toBe(fs.statSync(disk).ctimeMs);

    const out = path.join(dir, 'out');
    await vault.restore(second.id, out);
    expect(sha256File(path.join(out, 'disk.raw'))).toBe(sha256File(disk));

    // A third point on top of the second: the chain grows, and still restores.
    const more = scatterWrites(disk, 3, 2);
    const third = await vault.backup({ vmName: 'web', disks: [{ name: 'disk.raw', path: disk, plan: { parent: { pointId: second.id, entry }, changed: more } }] });
    expect((await vault.readManifest(third.id)).disks[0]!.incremental).toEqual({ parent: second.id, depth: 2 });
    const out3 = path.join(dir, 'out3');
    await vault.restore(third.id, out3);
    expect(sha256File(path.join(out3, 'disk.raw'))).toBe(sha256File(disk));
  });

  it('reads nothing with a parent and no changed ranges, and refuses a file that moved on since the plan', async () => {
    const disk = path.join(dir, 'disk.raw');
    makeDisk(disk, 8, 4);
    const first = await vault.backup({ vmName: 'web', disks: [{ name: 'disk.raw', path: disk }] });
    const parent = (await vault.readManifest(first.id)).disks[0]!;
    const basis = await fileStamp(disk);
    const again = await vault.backup({ vmName: 'web', disks: [{ name: 'disk.raw', path: disk, plan: { parent: { pointId: first.id, entry: parent }, basis } }] });
    expect(again.bytesRead).toBe(0);
    expect(again.newChunks).toBe(0);
    expect((await vault.readManifest(again.id)).disks[0]!.chunks).toBe(parent.chunks);
    const out = path.join(dir, 'out');
    await vault.restore(again.id, out);
    expect(sha256File(path.join(out, 'disk.raw'))).toBe(sha256File(disk));

    fs.appendFileSync(disk, Buffer.alloc(10, 1));
    const e = await vault.backup({ vmName: 'web', disks: [{ name: 'disk.raw', path: disk, plan: { parent: { pointId: first.id, entry: parent }, basis } }] }).catch((x: unknown) => x);
    expect(isCofferError(e) && e.code).toBe('DiskChangedDuringBackup');
  });

  it('reads the touched chunks through readRange when given, and a different size is a full read', async () => {
    const disk = path.join(dir, 'disk.raw');
    makeDisk(disk, 8, 5);
    const first = await vault.backup({ vmName: 'web', disks: [{ name: 'disk.raw', path: disk }] });
    const parent = (await vault.readManifest(first.id)).disks[0]!;
    const changed = scatterWrites(disk, 2, 3);
    const asked: Array<[number, number]> = [];
    const fd = fs.openSync(disk, 'r');
    const readRange = async (offset: number, length: number): Promise<Buffer> => {
      asked.push([offset, length]);
      const b = Buffer.alloc(length);
      fs.readSync(fd, b, 0, length, offset);
      return b;
    };
    const p = await vault.backup({ vmName: 'web', disks: [{ name: 'disk.raw', path: disk, plan: { parent: { pointId: first.id, entry: parent }, changed, readRange } }] });
    fs.closeSync(fd);
    expect(asked.length).toBeGreaterThan(0);
    expect(asked.every(([o, l]) => o % CHUNK === 0 && l % CHUNK === 0)).toBe(true);
    expect(asked.reduce((s, [, l]) => s + l, 0)).toBe(p.bytesRead);
    const out = path.join(dir, 'out');
    await vault.restore(p.id, out);
    expect(sha256File(path.join(out, 'disk.raw'))).toBe(sha256File(disk));

    fs.appendFileSync(disk, Buffer.alloc(CHUNK, 7));
    const grown = await vault.backup({ vmName: 'web', disks: [{ name: 'disk.raw', path: disk, plan: { parent: { pointId: first.id, entry: parent }, changed: [] } }] });
    expect(grown.reads[0]!.parent).toBeNull();
    expect((await vault.readManifest(grown.id)).disks[0]!.digestOver).toBeUndefined();
  });

  it('gathers many short changed runs into whole segments (one of them the short last chunk, two alike), read into place, and restores byte-identical', async () => {
    const disk = path.join(dir, 'odd.raw');
    // 64 chunks of 64 KiB and a last chunk of 1000 bytes; every other one of the first 40 changes below.
    makeDisk(disk, 4, 9);
    fs.appendFileSync(disk, Buffer.alloc(1000, 0x5a));
    const size = fs.statSync(disk).size;
    const first = await vault.backup({ vmName: 'web', disks: [{ name: 'disk.raw', path: disk }] });
    const parent = (await vault.readManifest(first.id)).disks[0]!;
    const fd = fs.openSync(disk, 'r+');
    const changed: Array<{ offset: number; length: number }> = [];
    for (let c = 0; c < 40; c += 2) {
      fs.writeSync(fd, Buffer.alloc(100, c + 1), 0, 100, c * CHUNK + 50);
      changed.push({ offset: c * CHUNK + 50, length: 100 });
    }
    fs.writeSync(fd, Buffer.alloc(10, 0x11), 0, 10, size - 10);
    changed.push({ offset: size - 10, length: 10 });
    // Chunk 2 becomes a copy of chunk 0: a duplicate within the backup.
    const c0 = Buffer.alloc(CHUNK);
    fs.readSync(fd, c0, 0, CHUNK, 0);
    fs.writeSync(fd, c0, 0, CHUNK, 2 * CHUNK);
    const asked: Array<[number, number]> = [];
    // As the NBD client does: the data lands in the buffer it is given.
    const readRange = async (offset: number, length: number, into: Buffer): Promise<Buffer> => {
      asked.push([offset, length]);
      fs.readSync(fd, into, 0, length, offset);
      return into.subarray(0, length);
    };
    const p = await vault.backup({ vmName: 'web', disks: [{ name: 'disk.raw', path: disk, plan: { parent: { pointId: first.id, entry: parent }, changed, readRange } }] });
    fs.closeSync(fd);
    // Every changed chunk once, each run its own request: 20 single chunks and the short last one.
    expect(asked.length).toBe(21);
    expect(asked.at(-1)).toEqual([64 * CHUNK, 1000]);
    expect(p.bytesRead).toBe(20 * CHUNK + 1000);
    expect(p.reads[0]!.parent).toBe(first.id);
    // The duplicate is stored once: 20 changed chunks, one of them twice, and the last.
    expect(p.newChunks).toBe(20);
    const out = path.join(dir, 'out');
    await vault.restore(p.id, out);
    expect(sha256File(path.join(out, 'disk.raw'))).toBe(sha256File(disk));
  });

  it.skipIf(whyNoQemuImg() !== null)('backs up a 64 GiB sparse file by reading only its data, and restores it byte-identical and sparse', async () => {
    const disk = path.join(dir, 'big.raw');
    const size = 64 * 1024 * MiB;
    const fd = fs.openSync(disk, 'w');
    fs.ftruncateSync(fd, size);
    const data = [0, 7 * MiB + 12345, 20 * 1024 * MiB, size - 3 * MiB];
    for (const [k, at] of data.entries()) fs.writeSync(fd, Buffer.alloc(MiB, k + 1), 0, MiB, at);
    fs.closeSync(fd);
    const p = await vault.backup({ vmName: 'big', disks: [{ name: 'big.raw', path: disk }] });
    expect(p.logicalBytes).toBe(size);
    // Data in 4 MiB, a few chunks around it at most: far from 64 GiB.
    expect(p.bytesRead).toBeGreaterThanOrEqual(4 * MiB);
    expect(p.bytesRead).toBeLessThan(8 * MiB);
    const out = path.join(dir, 'out');
    await vault.restore(p.id, out);
    const restored = path.join(out, 'big.raw');
    const st = fs.statSync(restored);
    expect(st.size).toBe(size);
    expect(st.blocks * 512).toBeLessThan(16 * MiB);
    expect(sameRawContent(disk, restored)).toEqual({ same: true, output: 'Images are identical.' });
    fs.writeFileSync(restored, Buffer.alloc(1, 9), { flag: 'r+' });
    expect(sameRawContent(disk, restored).same).toBe(false); // the comparison can fail
  });

  it.skipIf(whyNoQemuImg() !== null)('skips the holes of a qcow2 file too (a disk stored as its file bytes), and restores it byte for byte', async () => {
    const disk = path.join(dir, 'data.qcow2');
    // Metadata preallocation: a 1 GiB qcow2 file whose apparent size is its virtual size, mostly holes.
    expect(spawnSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', 'preallocation=metadata', disk, '1G']).status).toBe(0);
    const st = fs.statSync(disk);
    expect(st.size).toBeGreaterThan(1024 * MiB);
    const p = await vault.backup({ vmName: 'q', disks: [{ name: 'data.qcow2', path: disk }] });
    expect(p.bytesRead).toBeLessThan(4 * MiB);
    const out = path.join(dir, 'out');
    await vault.restore(p.id, out);
    expect(sameRawContent(disk, path.join(out, 'data.qcow2'))).toEqual({ same: true, output: 'Images are identical.' });
    expect(spawnSync('qemu-img', ['check', '-q', path.join(out, 'data.qcow2')]).status).toBe(0);
  });
});
