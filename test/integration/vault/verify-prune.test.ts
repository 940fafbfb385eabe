import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isCofferError } from '../../../main/core/errors.js';
import { readVaultConfig, unlockVaultConfig } from '../../../main/core/vault/config.js';
import { open, seal } from '../../../main/core/vault/crypto.js';
import { decodeIndex, indexKey, packKey } from '../../../main/core/vault/format.js';
import { LocalFolderStore } from '../../../main/core/vault/local-store.js';
import { Vault } from '../../../main/core/vault/vault.js';
import { dirBytes, listFiles, makeDisk, sha256File, tempDir } from './helpers.js';

let dir: string;
let vdir: string;
let vault: Vault;

beforeEach(async () => {
  dir = tempDir();
  vdir = path.join(dir, 'vault');
  vault = await Vault.create(new LocalFolderStore(vdir), { name: 'v', region: 'local', passphrase: 'pw', chunkSize: 64 * 1024 });
});
afterEach(async () => {
  await vault.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const packs = (): string[] => listFiles(vdir).filter((f) => f.startsWith('packs/'));

describe('verify', () => {
  it('is clean on a healthy vault, and names the damaged points and VMs of a corrupt or missing pack', async () => {
    const a = path.join(dir, 'a.img');
    const b = path.join(dir, 'b.img');
    makeDisk(a, 12, 1);
    makeDisk(b, 12, 2);
    const pa = await vault.backup({ vmName: 'alpha', disks: [{ name: 'a.img', path: a }] });
    const packsOfA = packs();
    const pb = await vault.backup({ vmName: 'beta', disks: [{ name: 'b.img', path: b }] });
    const packsOfB = packs().filter((p) => !packsOfA.includes(p));
    expect((await vault.verify()).ok).toBe(true);
    const clean = await vault.verify({ full: true });
    expect(clean.ok).toBe(true);
    expect(clean.chunksChecked).toBeGreaterThan(0);

    // Flip one byte in the middle of a pack of beta: only a full verify can see it.
    const victim = path.join(vdir, packsOfB[0]!);
    const bytes = fs.readFileSync(victim);
    bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
    fs.writeFileSync(victim, bytes);
    expect((await vault.verify()).ok).toBe(true);
    const full = await vault.verify({ full: true });
    expect(full.ok).toBe(false);
    expect(full.corruptChunks).toBe(1);
    expect(full.damaged.map((d) => d.pointId)).toEqual([pb.id]);
    expect(full.damagedVms).toEqual(['beta']);
    expect(full.damaged[0]!.disks).toEqual([{ name: 'b.img', missingChunks: 0, corruptChunks: 1 }]);
    const e = await vault.restore(pb.id, path.join(dir, 'r1')).catch((x: unknown) => x);
    expect(isCofferError(e, 'ChunkCorrupt')).toBe(true);
    expect(fs.existsSync(path.join(dir, 'r1', 'b.img'))).toBe(false);

    // Delete a pack of alpha: the quick check already reports it.
    fs.rmSync(path.join(vdir, packsOfA[0]!));
    const quick = await vault.verify();
    expect(quick.ok).toBe(false);
    expect(quick.damaged.map((d) => d.pointId)).toEqual([pa.id]);
    expect(quick.damaged[0]!.disks[0]!.missingChunks).toBeGreaterThan(0);
    expect(quick.damagedVms).toEqual(['alpha']);
  });
});

describe('delete points and collect garbage', () => {
  it('frees unreferenced packs, repacks sparse ones, and keeps the rest restorable', async () => {
    const d = path.join(dir, 'd.img');
    makeDisk(d, 48, 3);
    const p1 = await vault.backup({ vmName: 'vm', disks: [{ name: 'd.img', path: d }] });
    // Rewrite most of the disk so the first point's packs become mostly garbage once it is deleted.
    makeDisk(d, 48, 4);
    const p2 = await vault.backup({ vmName: 'vm', disks: [{ name: 'd.img', path: d }] });
    const other = path.join(dir, 'o.img');
    makeDisk(other, 8, 5);
    const p3 = await vault.backup({ vmName: 'other', disks: [{ name: 'o.img', path: other }] });
    const wantD = sha256File(d);
    const wantO = sha256File(other);
    const before = dirBytes(vdir);

    await vault.deletePoints([p1.id]);
    expect((await vault.listPoints()).map((p) => p.id)).toEqual([p2.id, p3.id]);
    const gc = await vault.collectGarbage();
    expect(gc.packsDeleted).toBeGreaterThan(0);
    expect(dirBytes(vdir)).toBeLessThan(before);
    expect((await vault.verify({ full: true })).ok).toBe(true);
    await vault.restore(p2.id, path.join(dir, 'r2'));
    await vault.restore(p3.id, path.join(dir, 'r3'));
    expect(sha256File(path.join(dir, 'r2', 'd.img'))).toBe(wantD);
    expect(sha256File(path.join(dir, 'r3', 'o.img'))).toBe(wantO);

    // After deleting p2 only p3's chunks remain; a second run finds nothing more to do.
    await vault.prune([p2.id]);
    expect((await vault.collectGarbage()).packsDeleted).toBe(0);
    await vault.restore(p3.id, path.join(dir, 'r4'));
    expect(sha256File(path.join(dir, 'r4', 'o.img'))).toBe(wantO);
    const e = await vault.deletePoints([p2.id]).catch((x: unknown) => x);
    expect(isCofferError(e, 'RecoveryPointNotFound')).toBe(true);
  });

  it('repacks a pack that is mostly garbage by copying its live chunks', async () => {
    // Two VMs in one pack-sized backup session each; deleting one leaves the shared packs half used.
    const a = path.join(dir, 'a.img');
    makeDisk(a, 40, 6);
    const p1 = await vault.backup({ vmName: 'a', disks: [{ name: 'a.img', path: a }] });
    // Keep only the first 3 MiB of a: the rest of its packs becomes garbage.
    const small = path.join(dir, 'small.img');
    const fd = fs.openSync(a, 'r');
    const head = Buffer.alloc(3 * 1024 * 1024);
    fs.readSync(fd, head, 0, head.length, 0);
    fs.closeSync(fd);
    fs.writeFileSync(small, head);
    const p2 = await vault.backup({ vmName: 'small', disks: [{ name: 'small.img', path: small }] });
    expect(p2.newChunks).toBe(0);
    const gc = await vault.prune([p1.id]);
    expect(gc.packsRepacked).toBeGreaterThan(0);
    expect(gc.packsWritten).toBeGreaterThan(0);
    expect((await vault.verify({ full: true })).ok).toBe(true);
    await vault.restore(p2.id, path.join(dir, 'r'));
    expect(sha256File(path.join(dir, 'r', 'small.img'))).toBe(sha256File(small));
  });
});

// What a restore checks (docs/vault-format.md, "What each read checks"): every chunk opens under
// its id (the AES-GCM tag); verify --full and a content-checked restore (test restore) also re-hash
// it against the id, so they catch a chunk sealed with other bytes than its id names (a writer bug).
describe('restore checks', () => {
  const CHUNK = 64 * 1024;
  it('restores adjacent chunks and holes byte-identical; a chunk sealed under its id with other bytes fails verify --full and a content-checked restore', async () => {
    // Random chunks (stored raw), a hole, text (compressed), random again: runs broken by a hole.
    const disk = path.join(dir, 'd.img');
    const text = Buffer.from('a line of a log file\n'.repeat(Math.ceil((6 * CHUNK) / 21))).subarray(0, 6 * CHUNK);
    fs.writeFileSync(disk, Buffer.concat([randomBytes(5 * CHUNK), Buffer.alloc(3 * CHUNK), text, randomBytes(CHUNK + 1000)]));
    const p = await vault.backup({ vmName: 'vm', disks: [{ name: 'd.img', path: disk }] });
    await vault.restore(p.id, path.join(dir, 'r0'));
    const r0 = path.join(dir, 'r0', 'd.img');
    expect(sha256File(r0)).toBe(sha256File(disk));
    // The zero chunks were not written: the restored file has holes (allocated < size).
    expect(fs.statSync(r0).blocks * 512).toBeLessThan(fs.statSync(r0).size);

    // A writer bug: the first chunk re-sealed, under its own id, with other bytes of the same length.
    const store = new LocalFolderStore(vdir);
    const keys = await unlockVaultConfig(await readVaultConfig(store), 'pw');
    const indexFile = listFiles(vdir).find((f) => f.startsWith('index/'))!;
    const packId = indexFile.slice('index/'.length);
    const idx = decodeIndex(open(keys.encKey, fs.readFileSync(path.join(vdir, indexKey(packId))), Buffer.from(`index:${packId}`)));
    const k = idx.flags.findIndex((f) => (f & 1) === 0);
    const id = idx.ids.subarray(k * 32, (k + 1) * 32);
    const packFile = path.join(vdir, packKey(packId));
    const pack = fs.readFileSync(packFile);
    const at = idx.offsets[k]!;
    const plain = open(keys.encKey, pack.subarray(at, at + idx.lengths[k]!), id);
    plain[0]! ^= 0xff;
    seal(keys.encKey, plain, id).copy(pack, at);
    fs.writeFileSync(packFile, pack);

    const full = await vault.verify({ full: true });
    expect(full.ok).toBe(false);
    expect(full.corruptChunks).toBe(1);
    const e = await vault.restore(p.id, path.join(dir, 'r1'), { checkContent: true }).catch((x: unknown) => x);
    expect(isCofferError(e, 'ChunkCorrupt')).toBe(true);
    expect(fs.existsSync(path.join(dir, 'r1', 'd.img'))).toBe(false);

    // A flipped stored byte fails the tag: a plain restore refuses it and leaves no file.
    pack[at + 20]! ^= 0x01;
    fs.writeFileSync(packFile, pack);
    const f = await vault.restore(p.id, path.join(dir, 'r2')).catch((x: unknown) => x);
    expect(isCofferError(f, 'ChunkCorrupt')).toBe(true);
    expect(fs.existsSync(path.join(dir, 'r2', 'd.img'))).toBe(false);
  });
});
