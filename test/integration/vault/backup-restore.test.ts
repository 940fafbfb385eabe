import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isCofferError } from '../../../main/core/errors.js';
import { LocalFolderStore } from '../../../main/core/vault/local-store.js';
import { createVaultConfig, writeVaultConfig } from '../../../main/core/vault/config.js';
import type { BackupProgress } from '../../../main/core/vault/backup.js';
import { newPointId, type Manifest } from '../../../main/core/vault/format.js';
import { encodeManifest } from '../../../main/core/vault/manifest.js';
import { Vault } from '../../../main/core/vault/vault.js';
import { dirBytes, listFiles, makeDisk, sha256File, tempDir } from './helpers.js';

let dir: string;
let vault: Vault;
const opened: Vault[] = [];

beforeEach(async () => {
  dir = tempDir();
  vault = await Vault.create(new LocalFolderStore(path.join(dir, 'vault')), { name: 'v', region: 'local', passphrase: 'correct horse', chunkSize: 64 * 1024 });
  opened.push(vault);
});
afterEach(async () => {
  for (const v of opened.splice(0)) await v.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(isCofferError(e) ? e.code : e).toBe(code);
}

describe('vault backup and restore', () => {
  it('restores every disk byte for byte, sparse, with the definition beside them', async () => {
    const d1 = path.join(dir, 'disk1.qcow2');
    const d2 = path.join(dir, 'disk2.raw');
    makeDisk(d1, 24, 1);
    makeDisk(d2, 9, 2);
    fs.appendFileSync(d2, Buffer.from('odd tail, not a chunk multiple'));
    const def = Buffer.from('<domain><name>web01</name></domain>');
    const point = await vault.backup({
      vmName: 'web01',
      definition: { fileName: 'web01.xml', content: def },
      disks: [
        { name: 'disk1.qcow2', path: d1 },
        { name: 'disk2.raw', path: d2 },
      ],
      consistency: 'offline',
      retainUntil: '2030-01-01T00:00:00.000Z',
    });
    expect(point.logicalBytes).toBe(fs.statSync(d1).size + fs.statSync(d2).size);
    expect(point.zeroBytes).toBeGreaterThan(0);

    const m = await vault.readManifest(point.id);
    expect(m.vm.name).toBe('web01');
    expect(m.retainUntil).toBe('2030-01-01T00:00:00.000Z');
    expect(m.disks.map((d) => d.name)).toEqual(['disk1.qcow2', 'disk2.raw']);

    const target = path.join(dir, 'restore', 'web01');
    const res = await vault.restore(point.id, target);
    expect(fs.readdirSync(target).sort()).toEqual(['disk1.qcow2', 'disk2.raw', 'web01.xml']);
    expect(sha256File(path.join(target, 'disk1.qcow2'))).toBe(sha256File(d1));
    expect(sha256File(path.join(target, 'disk2.raw'))).toBe(sha256File(d2));
    expect(fs.readFileSync(path.join(target, 'web01.xml'))).toEqual(def);
    expect(res.files).toHaveLength(3);
    // Zero chunks are holes: the restored file allocates less than its size.
    const st = fs.statSync(path.join(target, 'disk1.qcow2'));
    expect(st.blocks * 512).toBeLessThan(st.size - 2 * 1024 * 1024);
  });

  it('does not store all-zero chunks', async () => {
    const z = path.join(dir, 'zero.img');
    fs.writeFileSync(z, Buffer.alloc(32 * 1024 * 1024)); // real zeros, not holes
    const p = await vault.backup({ vmName: 'empty', disks: [{ name: 'zero.img', path: z }] });
    expect(p.newChunks).toBe(0);
    expect(listFiles(path.join(dir, 'vault')).filter((f) => f.startsWith('packs/'))).toEqual([]);
    expect(dirBytes(path.join(dir, 'vault'))).toBeLessThan(64 * 1024);
    const out = path.join(dir, 'out');
    await vault.restore(p.id, out);
    expect(sha256File(path.join(out, 'zero.img'))).toBe(sha256File(z));
    expect(fs.statSync(path.join(out, 'zero.img')).blocks).toBe(0);
  });

  it('deduplicates: a second backup and a clone add almost nothing', async () => {
    const d = path.join(dir, 'd.img');
    makeDisk(d, 16, 3);
    const first = await vault.backup({ vmName: 'a', disks: [{ name: 'd.img', path: d }] });
    const before = dirBytes(path.join(dir, 'vault'));
    const again = await vault.backup({ vmName: 'a', disks: [{ name: 'd.img', path: d }] });
    expect(again.newChunks).toBe(0);
    const clone = path.join(dir, 'clone.img');
    fs.copyFileSync(d, clone);
    const other = await vault.backup({ vmName: 'b', disks: [{ name: 'clone.img', path: clone }] });
    expect(other.newChunks).toBe(0);
    expect(dirBytes(path.join(dir, 'vault')) - before).toBeLessThan(64 * 1024); // two manifests only
    expect(first.newChunks).toBeGreaterThan(0);
    // A 64 KiB write costs about one or two chunks, not megabytes.
    const fd = fs.openSync(d, 'r+');
    fs.writeSync(fd, Buffer.alloc(64 * 1024, 7), 0, 64 * 1024, 5 * 1024 * 1024 + 4096);
    fs.closeSync(fd);
    const inc = await vault.backup({ vmName: 'a', disks: [{ name: 'd.img', path: d }] });
    expect(inc.newChunks).toBeLessThanOrEqual(2);
    expect((await vault.listPoints()).map((p) => p.vmName)).toEqual(['a', 'a', 'b', 'a']);
  });

  it('reports progress in order: the total first, never going back, ending at every byte', async () => {
    const d = path.join(dir, 'big.img');
    makeDisk(d, 192, 4);
    const total = 192 * 1024 * 1024;
    const events: BackupProgress[] = [];
    const point = await vault.backup({ vmName: 'big', disks: [{ name: 'big.img', path: d }], onProgress: (p) => events.push(p) });
    // What a job row shows: the total before the first byte is read, then a count that only grows.
    expect(events[0]).toMatchObject({ bytesDone: 0, bytesTotal: total });
    for (const e of events) expect(e.bytesTotal).toBe(total);
    for (let i = 1; i < events.length; i++) {
      expect(events[i]!.bytesDone).toBeGreaterThanOrEqual(events[i - 1]!.bytesDone);
      expect(events[i]!.newBytes).toBeGreaterThanOrEqual(events[i - 1]!.newBytes);
    }
    expect(events.at(-1)).toMatchObject({ bytesDone: total, newBytes: point.newRawBytes });
    // New bytes are counted as they are read; done bytes only once their chunks are in the store.
    for (const e of events) expect(e.newBytes).toBeLessThanOrEqual(e.bytesRead);
    for (const e of events) expect(e.bytesDone).toBeLessThanOrEqual(e.bytesRead);
  });

  it('fails with DiskChangedDuringBackup when the disk is written while read, and keeps no point', async () => {
    const d = path.join(dir, 'live.img');
    makeDisk(d, 96, 5);
    let touched = false;
    await expectCode(
      vault.backup({
        vmName: 'live',
        disks: [{ name: 'live.img', path: d }],
        onProgress: () => {
          if (touched) return;
          touched = true;
          const fd = fs.openSync(d, 'r+');
          fs.writeSync(fd, Buffer.from('guest write'), 0, 11, 4096);
          fs.closeSync(fd);
        },
      }),
      'DiskChangedDuringBackup',
    );
    expect(touched).toBe(true);
    expect(await vault.listPoints()).toEqual([]);
  });

  it('cancels on abort: no point and no temp file is left', async () => {
    const d = path.join(dir, 'c.img');
    makeDisk(d, 96, 6);
    const ac = new AbortController();
    await expectCode(vault.backup({ vmName: 'c', disks: [{ name: 'c.img', path: d }], signal: ac.signal, onProgress: () => ac.abort() }), 'OperationCancelled');
    expect(await vault.listPoints()).toEqual([]);
    expect(listFiles(path.join(dir, 'vault')).filter((f) => f.includes('.tmp-') || f.startsWith('locks/'))).toEqual([]);
    expect((await vault.verify({ full: true })).ok).toBe(true);
  });

  it('refuses a restore target that is not empty, and unknown points', async () => {
    const d = path.join(dir, 'd.img');
    makeDisk(d, 2, 7);
    const p = await vault.backup({ vmName: 'x', disks: [{ name: 'd.img', path: d }] });
    const target = path.join(dir, 'busy');
    fs.mkdirSync(target);
    fs.writeFileSync(path.join(target, 'keep.txt'), 'mine');
    await expectCode(vault.restore(p.id, target), 'RestoreTargetNotEmpty');
    expect(fs.readdirSync(target)).toEqual(['keep.txt']);
    await expectCode(vault.restore('20200101T000000000Z-00000000', path.join(dir, 'n')), 'RecoveryPointNotFound');
  });

  it('refuses disk and definition names that are not plain file names', async () => {
    const d = path.join(dir, 'd.img');
    makeDisk(d, 1, 8);
    await expectCode(vault.backup({ vmName: 'x', disks: [{ name: '../escape.img', path: d }] }), 'InvalidArgument');
    await expectCode(vault.backup({ vmName: 'x', definition: { fileName: '/etc/passwd', content: Buffer.from('x') }, disks: [] }), 'InvalidArgument');
  });

  it('refuses a manifest whose names would escape the restore folder', async () => {
    const vdir = path.join(dir, 'crafted');
    const store = new LocalFolderStore(vdir);
    const { config, keys } = await createVaultConfig({ name: 'c', region: 'local', passphrase: 'pw', chunkSize: 65536 });
    await writeVaultConfig(store, config);
    const v = await Vault.openWithKeys(store, keys);
    opened.push(v);
    const id = newPointId();
    const evil = {
      format: 'coffer-point', version: 1, id, created: new Date().toISOString(), vm: { name: 'evil' }, consistency: 'offline',
      retainUntil: null, policy: null, chunkSize: 65536, definition: { fileName: '../../outside.xml', content: 'eA==' },
      disks: [{ name: '../escape.img', size: 0, sha256: '0'.repeat(64), chunks: '', zeroBytes: 0 }],
      stats: { logicalBytes: 0, zeroBytes: 0, newChunks: 0, newRawBytes: 0, addedBytes: 0, seconds: 0 },
    } as unknown as Manifest;
    await store.put(`points/${id}`, encodeManifest(keys, evil));
    const target = path.join(dir, 'deep', 'target');
    const e = await v.restore(id, target).catch((x: unknown) => x);
    expect(isCofferError(e)).toBe(true);
    expect(fs.existsSync(path.join(dir, 'deep', 'escape.img'))).toBe(false);
    expect(fs.existsSync(path.join(dir, 'outside.xml'))).toBe(false);
    expect(fs.existsSync(path.join(dir, 'deep', 'outside.xml'))).toBe(false);
  });

  it('reports DiskUnreadable for a missing disk file', async () => {
    await expectCode(vault.backup({ vmName: 'x', disks: [{ name: 'gone.img', path: path.join(dir, 'gone.img') }] }), 'DiskUnreadable');
  });

  it('opens with the passphrase, refuses a wrong one, a newer format and a folder without vault', async () => {
    const store = new LocalFolderStore(path.join(dir, 'vault'));
    const again = await Vault.open(store, 'correct horse');
    opened.push(again);
    expect(again.config.name).toBe('v');
    await expectCode(Vault.open(store, 'wrong'), 'WrongPassphrase');
    await expectCode(Vault.open(new LocalFolderStore(path.join(dir, 'nothing')), 'x'), 'VaultNotFound');
    const cfgFile = path.join(dir, 'vault', 'config');
    const cfg = JSON.parse(fs.readFileSync(cfgFile, 'utf8'));
    fs.writeFileSync(cfgFile, JSON.stringify({ ...cfg, version: 99 }));
    await expectCode(Vault.open(store, 'correct horse'), 'VaultFormatTooNew');
  });
});
