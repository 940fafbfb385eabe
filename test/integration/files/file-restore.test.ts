import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ChunkListReader } from '../../../main/core/vault/chunk-lists.js';
import { packKey } from '../../../main/core/vault/format.js';
import { cliPath, useTmp } from '../../helpers/tmp.js';
import { cofferIn, errorOf, unwrap } from '../../helpers/cli.js';
import { discoverRegisterProtect, useEngines, type Installed } from '../../helpers/engine.js';
import { buildGptDisk, canLoopMount, DEEP, domainXml, extBlockOf, NON_ASCII, patternBytes, qcow2Copy, smallExt4, TREE_TIME } from '../../helpers/fs-images.js';

/* File-level restore through the product: real GPT disks (ext4, FAT32, NTFS) and a compressed
   qcow2 copy, backed up from a folder source, then browsed, read and restored from the vault. */
const tmp = useTmp();
const open = useEngines();
const MiB = 1024 * 1024;
const PASS = 'correct horse battery';

/** A folder source with one VM per disk file; every VM protected and backed up once. */
async function backedUp(dir: string, vms: Array<{ name: string; file: string; type: 'raw' | 'qcow2' }>): Promise<Installed & { points: Record<string, string> }> {
  const installed = open(path.join(dir, 'data'));
  const { engine, router } = installed;
  for (const [i, vm] of vms.entries()) {
    fs.writeFileSync(path.join(path.dirname(vm.file), `${vm.name}.xml`), domainXml(vm.name, `f0000000-0000-4000-8000-00000000000${i + 1}`, [{ file: path.basename(vm.file), type: vm.type }]));
  }
  unwrap(await router.invoke('createVault', { name: 'vault-a', region: 'r1', path: path.join(dir, 'vault'), passphrase: PASS }));
  unwrap(await router.invoke('addSource', { kind: 'folder', target: path.join(dir, 'src'), region: 'r1', name: 'src' }));
  await discoverRegisterProtect(installed, 'vault-a', vms.map((v) => v.name));
  const points: Record<string, string> = {};
  for (const vm of vms) {
    const [job] = unwrap(await router.invoke('backupNow', { vms: [vm.name] }));
    const done = await engine.jobs.wait(job!.id);
    expect(done.status, JSON.stringify(done.error)).toBe('Completed');
    points[vm.name] = unwrap(await router.invoke('listPoints', { vm: vm.name }))[0]!.id;
  }
  return { ...installed, points };
}

/** The disk images in <dir>/src/rack: disk.img (GPT) and, if asked, disk.qcow2 (its compressed copy). */
function images(dir: string, sizeMiB: number, qcow2 = false) {
  const rack = path.join(dir, 'src', 'rack');
  fs.mkdirSync(rack, { recursive: true });
  const built = buildGptDisk(rack, sizeMiB);
  // The tree is the reference, not part of the source.
  const tree = path.join(dir, 'tree');
  fs.renameSync(built.tree, tree);
  const q = qcow2 ? qcow2Copy(built.disk, path.join(rack, 'disk.qcow2')) : undefined;
  return { ...built, tree, qcow2: q };
}

async function readWhole(router: Installed['router'], args: { vm: string; pointId: string; path: string; disk?: string; partition?: number }) {
  const parts: Buffer[] = [];
  let fetched = 0;
  for (let offset = 0; ; ) {
    const piece = unwrap(await router.invoke('readPointFile', { ...args, offset }));
    const data = Buffer.from(piece.data, 'base64');
    parts.push(data);
    fetched += piece.bytesFetched;
    offset += data.length;
    if (data.length === 0 || offset >= piece.size) break;
  }
  return { data: Buffer.concat(parts), fetched };
}

/** Every restored entry equals the tree's: bytes, mode, mtime (whole seconds), symlink targets. */
function expectSame(restored: string, source: string): void {
  const a = fs.lstatSync(restored);
  const b = fs.lstatSync(source);
  expect(a.mode, restored).toBe(b.mode);
  expect(Math.floor(a.mtimeMs / 1000), restored).toBe(Math.floor(b.mtimeMs / 1000));
  if (b.isSymbolicLink()) expect(fs.readlinkSync(restored)).toBe(fs.readlinkSync(source));
  else if (b.isDirectory()) {
    expect(fs.readdirSync(restored).sort()).toEqual(fs.readdirSync(source).sort());
    for (const n of fs.readdirSync(source)) expectSame(path.join(restored, n), path.join(source, n));
  } else expect(fs.readFileSync(restored).equals(fs.readFileSync(source)), restored).toBe(true);
}

describe('file-level restore from a 2 GiB GPT disk', () => {
  it('lists the root reading a few MiB, reads a 10 MiB file, restores files byte-identical with modes, times and symlinks, and browses FAT, NTFS and the qcow2 copy', async () => {
    const dir = tmp();
    const img = images(dir, 2048, true);
    const { engine, router, points } = await backedUp(dir, [
      { name: 'fsraw', file: img.disk, type: 'raw' },
      { name: 'fsq', file: img.qcow2!, type: 'qcow2' },
    ]);
    const pointId = points.fsraw!;

    const root = unwrap(await router.invoke('listPointFiles', { vm: 'fsraw', pointId }));
    expect(root.disks).toHaveLength(1);
    expect(root.disks[0]).toMatchObject({ name: 'disk.img', format: 'raw', scheme: 'gpt', size: 2048 * MiB });
    expect(root.disks[0]!.partitions.map((p) => [p.number, p.filesystemLabel, p.label, p.browsable])).toEqual([
      [1, 'ext4', 'root', true],
      [2, 'FAT32', 'data', true],
      [3, 'NTFS', 'win', true],
    ]);
    expect(root).toMatchObject({ disk: 'disk.img', partition: 1, filesystem: 'ext4', path: '/' });
    const byName = new Map(root.entries.map((e) => [e.name, e]));
    expect([...byName.keys()].sort()).toEqual(['a', 'big.bin', 'etc', 'hello.txt', 'link-to-hello', 'lost+found', NON_ASCII, 'run.sh', 'sparse.img'].sort());
    expect(byName.get('hello.txt')).toMatchObject({ kind: 'file', size: 30, mode: 0o100640, mtime: TREE_TIME.toISOString() });
    expect(byName.get('link-to-hello')).toMatchObject({ kind: 'symlink', target: 'hello.txt' });
    expect(byName.get('big.bin')!.size).toBe(10 * MiB);
    // The root of a 2 GiB disk is listed from a few MiB of the vault, not the disk.
    console.info(`root listing of a 2 GiB ext4 point fetched ${root.bytesFetched} bytes`);
    expect(root.bytesFetched).toBeLessThan(8 * MiB);

    const deep = unwrap(await router.invoke('listPointFiles', { vm: 'fsraw', pointId, path: path.dirname(DEEP) }));
    expect(deep.entries.map((e) => e.name)).toEqual(['deep.txt']);

    const big = await readWhole(router, { vm: 'fsraw', pointId, path: '/big.bin' });
    expect(big.data.equals(patternBytes(10 * MiB, 'big'))).toBe(true);
    console.info(`cat of a 10 MiB file from a 2 GiB point fetched ${big.fetched} bytes`);
    expect(big.fetched).toBeLessThan(16 * MiB);

    // Restore files and folders: identical bytes, modes, times; symlinks as symlinks; sparse stays sparse.
    const target = path.join(dir, 'restored');
    const picked = ['/hello.txt', '/run.sh', '/etc', '/a', '/link-to-hello', '/sparse.img', '/big.bin', `/${NON_ASCII}`];
    const job = unwrap(await router.invoke('restorePointFiles', { vm: 'fsraw', pointId, paths: picked, targetDir: target }));
    const done = await engine.jobs.wait(job.id);
    expect(done.status, JSON.stringify(done.error)).toBe('Completed');
    expect(done.operation).toBe('RestoreFiles');
    expect(done.bytesDone).toBe(done.bytesTotal);
    expect(done.summary).toMatchObject({ code: 'FilesRestored', params: { files: 9 } });
    expect(fs.readdirSync(target).sort()).toEqual(picked.map((p) => p.slice(1)).sort());
    for (const p of picked) expectSame(path.join(target, p), path.join(img.tree, p));
    const sparse = fs.statSync(path.join(target, 'sparse.img'));
    expect(sparse.size).toBe(8 * MiB);
    expect(sparse.blocks * 512).toBeLessThan(MiB);

    // Never overwrite: a folder that is not empty is refused, unless "keep both".
    const refused = await router.invoke('restorePointFiles', { vm: 'fsraw', pointId, paths: ['/hello.txt'], targetDir: target });
    expect(errorOf(refused).code).toBe('RestoreTargetNotEmpty');
    const both = await engine.jobs.wait(unwrap(await router.invoke('restorePointFiles', { vm: 'fsraw', pointId, paths: ['/hello.txt'], targetDir: target, keepBoth: true })).id);
    expect(both.status, JSON.stringify(both.error)).toBe('Completed');
    expect(fs.readFileSync(path.join(target, 'hello (1).txt'), 'utf8')).toBe('hello from the recovery point\n');

    // A target disk too small for the pick: RestoreTargetFull naming it, and what was written removed.
    if (canLoopMount) {
      const { mnt, unmount } = smallExt4(dir, 4);
      try {
        const out = path.join(mnt, 'out');
        const full = await engine.jobs.wait(unwrap(await router.invoke('restorePointFiles', { vm: 'fsraw', pointId, paths: ['/hello.txt', '/big.bin'], targetDir: out })).id);
        expect(full.status).toBe('Failed');
        expect(full.error).toMatchObject({ code: 'RestoreTargetFull' });
        expect(full.error!.message).toContain(out);
        expect(fs.readdirSync(out)).toEqual([]);
      } finally {
        unmount();
      }
    }

    // A path that is not there.
    expect(errorOf(await router.invoke('listPointFiles', { vm: 'fsraw', pointId, path: '/no/such' })).code).toBe('FileNotFoundInPoint');
    expect(errorOf(await router.invoke('readPointFile', { vm: 'fsraw', pointId, path: '/etc' })).code).toBe('FileNotFoundInPoint');
    expect(errorOf(await router.invoke('listPointFiles', { vm: 'fsraw', pointId, partition: 9 })).code).toBe('FileNotFoundInPoint');

    // FAT32 and NTFS partitions of the same disk.
    const fat = unwrap(await router.invoke('listPointFiles', { vm: 'fsraw', pointId, partition: 2 }));
    expect(fat.filesystem).toBe('FAT32');
    expect(fat.entries.map((e) => e.name).sort()).toEqual(['docs', 'hello.txt', NON_ASCII].sort());
    expect((await readWhole(router, { vm: 'fsraw', pointId, partition: 2, path: '/docs/config.ini' })).data.toString()).toBe('[app]\nkey = value\n');
    const ntfs = unwrap(await router.invoke('listPointFiles', { vm: 'fsraw', pointId, partition: 3 }));
    expect(ntfs.entries.map((e) => e.name)).toContain('hello.txt');

    // The qcow2 copy (compressed clusters) reads the same files through its cluster tables.
    const q = unwrap(await router.invoke('listPointFiles', { vm: 'fsq', pointId: points.fsq! }));
    expect(q.disks[0]).toMatchObject({ name: 'disk.qcow2', format: 'qcow2', size: 2048 * MiB });
    expect(q.entries.map((e) => e.name)).toContain('big.bin');
    expect((await readWhole(router, { vm: 'fsq', pointId: points.fsq!, path: '/big.bin' })).data.equals(patternBytes(10 * MiB, 'big'))).toBe(true);
  }, 600_000);
});

describe('file-level restore: damage and the CLI', () => {
  it('names the file whose chunk is damaged (ChunkCorrupt), and the CLI lists, cats and restores', async () => {
    const dir = tmp();
    const img = images(dir, 256);
    const { engine, points } = await backedUp(dir, [{ name: 'fsvm', file: img.disk, type: 'raw' }]);
    const pointId = points.fsvm!;

    // The CLI, in its own process, on the same data folder.
    await engine.close();
    const coffer = cofferIn(path.join(dir, 'data'), { COFFER_PASSPHRASE: PASS });
    const list = coffer('files', 'list', 'fsvm', '--point', pointId, '/etc/app');
    expect(list.code, list.err).toBe(0);
    expect(list.out).toContain('disk disk.img: raw, 256.0 MiB, GPT');
    expect(list.out).toMatch(/lrwxrwxrwx\s+15\s+\S+\s+up-link -> \.\.\/\.\.\/hello\.txt/);
    expect(list.out).toMatch(/-rw-r--r--\s+18\s+\S+\s+config\.ini/);
    const cat = spawnSync(process.execPath, [cliPath, '--data-dir', path.join(dir, 'data'), 'files', 'cat', 'fsvm', '--point', pointId, '/big.bin'], {
      env: { ...process.env, COFFER_PASSPHRASE: PASS },
      maxBuffer: 64 * MiB,
    });
    expect(cat.status, cat.stderr.toString()).toBe(0);
    expect(cat.stdout.equals(patternBytes(10 * MiB, 'big'))).toBe(true);
    const to = path.join(dir, 'cli-restored');
    const restored = coffer('files', 'restore', 'fsvm', '--point', pointId, '/etc', DEEP, '--to', to, '--wait');
    expect(restored.code, restored.err).toBe(0);
    expectSame(path.join(to, 'etc'), path.join(img.tree, 'etc'));
    expectSame(path.join(to, 'deep.txt'), path.join(img.tree, DEEP));
    const missing = coffer('files', 'cat', 'fsvm', '--point', pointId, '/nope.txt');
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('FileNotFoundInPoint');

    // Damage the stored chunk that holds the middle of big.bin, on disk.
    const { engine: e2, router: r2 } = open(path.join(dir, 'data'));
    unwrap(await r2.invoke('unlockVault', { name: 'vault-a', passphrase: PASS }));
    const vault = await e2.vaults.openVault('vault-a');
    const m = await vault.readManifest(pointId);
    const block = extBlockOf(img.disk, img.ext.start, '/big.bin', 1280);
    const chunk = Math.floor((img.ext.start + block * 4096) / m.chunkSize);
    // Where that chunk is stored, found as a file read finds it: the disk's chunk list, then the vault's index.
    const loc = await vault.withReadAccess('test', async (ctx) => ctx.index.get(await new ChunkListReader(ctx.store, ctx.keys, m.disks[0]!).ids(chunk, 1)));
    const pack = path.join(dir, 'vault', packKey(loc!.pack));
    const fd = fs.openSync(pack, 'r+');
    const b = Buffer.alloc(1);
    fs.readSync(fd, b, 0, 1, loc!.offset + 100);
    b[0] = b[0]! ^ 0xff;
    fs.writeSync(fd, b, 0, 1, loc!.offset + 100);
    fs.closeSync(fd);
    const bad = errorOf(await r2.invoke('readPointFile', { vm: 'fsvm', pointId, path: '/big.bin', offset: 5 * MiB, length: MiB }));
    expect(bad.code).toBe('ChunkCorrupt');
    expect(bad.message).toContain('/big.bin');
    const job = unwrap(await r2.invoke('restorePointFiles', { vm: 'fsvm', pointId, paths: ['/hello.txt', '/big.bin'], targetDir: path.join(dir, 'after-damage') }));
    const failed = await e2.jobs.wait(job.id);
    expect(failed.status).toBe('Failed');
    expect(failed.error?.code).toBe('ChunkCorrupt');
    expect(failed.error?.message).toContain('/big.bin');
    // Nothing half-written is left behind.
    expect(fs.readdirSync(path.join(dir, 'after-damage'))).toEqual([]);
  }, 600_000);
});
