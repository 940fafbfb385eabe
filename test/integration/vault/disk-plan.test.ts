import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalFolderStore } from '../../../main/core/vault/local-store.js';
import { Vault } from '../../../main/core/vault/vault.js';
import { tempDir } from './helpers.js';

/*
 * A disk read through a plan (seam A) as changed-block tracking feeds it: the first point read in
 * full through readRange (an in-memory "guest view" here, an NBD export in production), the next
 * from its parent's chunk list with only the chunks the changed ranges touch read again. Each
 * point restores to exactly the view it was taken from.
 */
const CHUNK = 64 * 1024;
let dir: string;
let vault: Vault;

beforeEach(async () => {
  dir = tempDir();
  vault = await Vault.create(new LocalFolderStore(path.join(dir, 'vault')), { name: 'v', region: 'local', passphrase: 'correct horse', chunkSize: CHUNK });
});
afterEach(async () => {
  await vault.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A guest view whose reads are counted, as the NBD client counts them. */
function view(bytes: Buffer) {
  const reads: Array<[number, number]> = [];
  return {
    reads,
    readRange: (offset: number, length: number) => {
      reads.push([offset, length]);
      return Promise.resolve(Buffer.from(bytes.subarray(offset, offset + length)));
    },
  };
}

async function restored(pointId: string): Promise<Buffer> {
  const target = path.join(dir, `r-${pointId}`);
  const r = await vault.restore(pointId, target);
  return fs.readFileSync(r.files[0]!.path);
}

describe('disk plans', () => {
  it('reads only the touched chunks from the parent point and restores both points exactly', async () => {
    const size = 40 * CHUNK + 1000; // a short last chunk
    const v1 = Buffer.alloc(size);
    randomBytes(20 * CHUNK).copy(v1, 3 * CHUNK); // zeros before and after
    const g1 = view(v1);
    const p1 = await vault.backup({
      vmName: 'vm',
      disks: [{ name: 'vda.qcow2', path: path.join(dir, 'vda.qcow2'), size, plan: { readRange: g1.readRange }, stored: { form: 'guest', format: 'qcow2' }, checkpoint: 'coffer-a' }],
    });
    expect(p1.bytesRead).toBe(size);
    const m1 = await vault.readManifest(p1.id);
    expect(m1.disks[0]).toMatchObject({ stored: { form: 'guest', format: 'qcow2' }, checkpoint: 'coffer-a', size });
    expect(m1.disks[0]!.digestOver).toBeUndefined();

    // The guest changes: 4 KiB inside chunk 5, a write across chunks 9-10, a chunk zeroed, the (zero) tail gets data.
    const v2 = Buffer.from(v1);
    randomBytes(4096).copy(v2, 5 * CHUNK + 100);
    randomBytes(CHUNK).copy(v2, 9 * CHUNK + CHUNK / 2);
    v2.fill(0, 12 * CHUNK, 13 * CHUNK);
    randomBytes(500).copy(v2, size - 500);
    const changed = [
      { offset: 5 * CHUNK, length: 8192 },
      { offset: 9 * CHUNK + CHUNK / 2, length: CHUNK },
      { offset: 12 * CHUNK, length: CHUNK },
      { offset: size - 500, length: 500 },
    ];
    const g2 = view(v2);
    const p2 = await vault.backup({
      vmName: 'vm',
      disks: [{ name: 'vda.qcow2', path: path.join(dir, 'vda.qcow2'), size, plan: { parent: { pointId: p1.id, entry: m1.disks[0]! }, changed, readRange: g2.readRange }, stored: { form: 'guest', format: 'qcow2' }, checkpoint: 'coffer-b' }],
    });
    // Chunks 5, 9, 10, 12 and the short last one (40): adjacent 9-10 in one read.
    expect(g2.reads.sort((a, b) => a[0] - b[0])).toEqual([
      [5 * CHUNK, CHUNK],
      [9 * CHUNK, 2 * CHUNK],
      [12 * CHUNK, CHUNK],
      [40 * CHUNK, 1000],
    ]);
    expect(p2.bytesRead).toBe(4 * CHUNK + 1000);
    const m2 = await vault.readManifest(p2.id);
    expect(m2.disks[0]).toMatchObject({ digestOver: 'ids', checkpoint: 'coffer-b', zeroBytes: m1.disks[0]!.zeroBytes + CHUNK - 1000 });
    expect((await restored(p1.id)).equals(v1)).toBe(true);
    expect((await restored(p2.id)).equals(v2)).toBe(true);

    // Nothing changed: the parent's list whole, nothing read.
    const g3 = view(v2);
    const p3 = await vault.backup({
      vmName: 'vm',
      disks: [{ name: 'vda.qcow2', path: path.join(dir, 'vda.qcow2'), size, plan: { parent: { pointId: p2.id, entry: m2.disks[0]! }, changed: [], readRange: g3.readRange } }],
    });
    expect(g3.reads).toEqual([]);
    expect((await vault.readManifest(p3.id)).disks[0]!.chunks).toBe(m2.disks[0]!.chunks);
    expect((await restored(p3.id)).equals(v2)).toBe(true);
  });
});
