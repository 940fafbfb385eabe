import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalFolderStore } from '../../../main/core/vault/local-store.js';
import { Vault } from '../../../main/core/vault/vault.js';
import { listFiles, sha256File, tempDir } from './helpers.js';

// Garbage collection copies the live chunks out of sparse packs: it must check each one it
// copies, take another intact copy where one exists, and never delete the last copy of a chunk.
let dir: string;
let vdir: string;
let x: string;
let y: string;
beforeEach(() => {
  dir = tempDir();
  vdir = path.join(dir, 'vault');
  x = path.join(dir, 'x.img');
  y = path.join(dir, 'y.img');
  const data = randomBytes(4 * 1024 * 1024);
  fs.writeFileSync(x, data);
  fs.writeFileSync(y, data.subarray(0, 256 * 1024)); // the first 4 chunks of x
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const packs = (): string[] => listFiles(vdir).filter((f) => f.startsWith('packs/'));

/** Flips one bit inside the first chunk of a pack (the chunks follow the 8-byte pack header). */
function flipFirstChunk(pack: string): void {
  const f = path.join(vdir, pack);
  const b = fs.readFileSync(f);
  b[8 + 100]! ^= 0x10;
  fs.writeFileSync(f, b);
}

async function open(): Promise<Vault> {
  const v = await Vault.open(new LocalFolderStore(vdir), 'pw');
  v.workers = 1;
  return v;
}

describe('garbage collection of a bit-flipped pack', () => {
  it('repacks from another pack that holds an intact copy, and the point stays whole', async () => {
    await (await Vault.create(new LocalFolderStore(vdir), { name: 'v', region: 'local', passphrase: 'pw', chunkSize: 64 * 1024 })).close();
    // Two consoles backing up x at once: neither sees the other's pack, so both hold every chunk.
    const [v1, v2] = [await open(), await open()];
    const [p1, p2] = await Promise.all([v1.backup({ vmName: 'x', disks: [{ name: 'x.img', path: x }] }), v2.backup({ vmName: 'x', disks: [{ name: 'x.img', path: x }] })]);
    await v2.close();
    expect(packs()).toHaveLength(2);
    const p3 = await v1.backup({ vmName: 'y', disks: [{ name: 'y.img', path: y }] });
    await v1.close();
    // The pack GC keeps y's chunks from is the one that sorts first: damage that one.
    const [first] = packs().sort((a, b) => (path.basename(a) < path.basename(b) ? -1 : 1));
    flipFirstChunk(first!);
    const v = await open();
    try {
      // No point is damaged yet (the other pack holds a good copy), but verify sees the bad one.
      const before = await v.verify({ full: true });
      expect(before.damaged).toEqual([]);
      expect(before.ok).toBe(false);
      const report = await v.prune([p1.id, p2.id]);
      expect(report.badChunks).toBe(0);
      expect(report.packsKeptDamaged).toEqual([]);
      expect(packs()).not.toContain(first);
      const full = await v.verify({ full: true });
      expect(full.ok).toBe(true);
      const r = await v.restore(p3.id, path.join(dir, 'r'));
      expect(sha256File(r.files[0]!.path)).toBe(sha256File(y));
    } finally {
      await v.close();
    }
  });

  it('keeps the old pack and reports the chunk when no intact copy exists', async () => {
    const created = await Vault.create(new LocalFolderStore(vdir), { name: 'v', region: 'local', passphrase: 'pw', chunkSize: 64 * 1024 });
    created.workers = 1;
    const p1 = await created.backup({ vmName: 'x', disks: [{ name: 'x.img', path: x }] });
    const p3 = await created.backup({ vmName: 'y', disks: [{ name: 'y.img', path: y }] });
    await created.close();
    const [only] = packs();
    flipFirstChunk(only!);
    const v = await open();
    try {
      const report = await v.prune([p1.id]);
      expect(report.badChunks).toBe(1);
      expect(report.packsKeptDamaged).toEqual([path.basename(only!)]);
      expect(packs()).toContain(only);
      // The other three chunks of y now also live in a new, healthy pack; the damage is named.
      const full = await v.verify({ full: true });
      expect(full.damaged.map((d) => d.pointId)).toEqual([p3.id]);
    } finally {
      await v.close();
    }
  });
});
