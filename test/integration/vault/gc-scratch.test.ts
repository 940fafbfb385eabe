import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalFolderStore } from '../../../main/core/vault/local-store.js';
import { Vault, type GcReport, type VerifyReport } from '../../../main/core/vault/vault.js';
import { listFiles, sha256File, tempDir } from './helpers.js';

// GC and verify keep their working tables (every referenced id, every stored copy) in RAM for a
// small vault and in a temporary SQLite file for a large one (chunk-scratch.ts). Both paths must
// decide the same: the same two copies of one vault, pruned and verified once each way, end up
// with the same objects, reports and restored bytes.
let dir: string;
beforeEach(() => {
  dir = tempDir();
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const CHUNK = 64 * 1024;

/** A vault with three points: x (64 chunks), y (x's first 4 chunks and 4 of its own), x again (unchanged: its chunk list is shared). */
async function makeVault(): Promise<{ vdir: string; points: string[]; x: string; y: string }> {
  const vdir = path.join(dir, 'vault');
  const x = path.join(dir, 'x.img');
  const y = path.join(dir, 'y.img');
  const data = randomBytes(64 * CHUNK);
  fs.writeFileSync(x, data);
  fs.writeFileSync(y, Buffer.concat([data.subarray(0, 4 * CHUNK), randomBytes(4 * CHUNK), Buffer.alloc(4 * CHUNK)]));
  const v = await Vault.create(new LocalFolderStore(vdir), { name: 'v', region: 'local', passphrase: 'pw', chunkSize: CHUNK });
  v.workers = 1;
  const points: string[] = [];
  try {
    points.push((await v.backup({ vmName: 'x', disks: [{ name: 'x.img', path: x }] })).id);
    points.push((await v.backup({ vmName: 'y', disks: [{ name: 'y.img', path: y }] })).id);
    points.push((await v.backup({ vmName: 'x', disks: [{ name: 'x.img', path: x }] })).id);
  } finally {
    await v.close();
  }
  return { vdir, points, x, y };
}

/** Opens a copy of the vault with its own cache folder; `ramChunks` 0 forces the on-disk tables. */
async function openCopy(vdir: string, name: string, ramChunks?: number): Promise<{ v: Vault; copy: string; cacheDir: string }> {
  const copy = path.join(dir, name);
  fs.cpSync(vdir, copy, { recursive: true });
  const cacheDir = path.join(dir, `${name}-cache`);
  const v = await Vault.open(new LocalFolderStore(copy), 'pw', { cacheDir });
  v.workers = 1;
  if (ramChunks !== undefined) v.scratchRamChunks = ramChunks;
  return { v, copy, cacheDir };
}

const sameReport = (r: GcReport | VerifyReport): Record<string, unknown> => ({ ...r, seconds: 0 });
/** Objects of a vault copy, with the packs and index objects that GC wrote (random names) counted, not named. */
function objects(copy: string, original: string): { kept: string[]; written: number } {
  const before = new Set(listFiles(original));
  const now = listFiles(copy).filter((f) => !f.startsWith('locks/'));
  return { kept: now.filter((f) => before.has(f)).sort(), written: now.filter((f) => !before.has(f)).length };
}

describe('GC and verify with their tables on disk', () => {
  it('prune, verify and restore decide as with the tables in RAM, and leave no scratch file', async () => {
    const { vdir, points, y } = await makeVault();
    const results = [];
    for (const [name, ramChunks] of [
      ['ram', undefined],
      ['disk', 0],
    ] as const) {
      const { v, copy, cacheDir } = await openCopy(vdir, name, ramChunks);
      try {
        const gc = await v.prune([points[0]!]);
        const quick = await v.verify();
        const full = await v.verify({ full: true });
        const r = await v.restore(points[1]!, path.join(dir, `${name}-restore`));
        results.push({ gc: sameReport(gc), quick: sameReport(quick), full: sameReport(full), restored: sha256File(r.files[0]!.path), objects: objects(copy, vdir) });
        // The on-disk path made its file in the install's cache folder and removed it.
        expect(fs.existsSync(path.join(cacheDir, 'scratch'))).toBe(ramChunks === 0);
        if (ramChunks === 0) expect(fs.readdirSync(path.join(cacheDir, 'scratch'))).toEqual([]);
      } finally {
        await v.close();
      }
    }
    const [ram, disk] = results;
    // x's first point went; its chunks live on in the second x point, so nothing is freed but the manifest.
    expect(ram!.gc).toMatchObject({ pointsKept: 2, badChunks: 0 });
    expect(ram!.full).toMatchObject({ ok: true, pointsChecked: 2, missingChunks: 0, corruptChunks: 0 });
    expect(ram!.restored).toBe(sha256File(y));
    expect(disk).toEqual(ram);
  });

  it('frees and repacks the same, and names the same damage', async () => {
    const { vdir, points } = await makeVault();
    const results = [];
    for (const [name, ramChunks] of [
      ['ram', undefined],
      ['disk', 0],
    ] as const) {
      const { v, copy } = await openCopy(vdir, name, ramChunks);
      try {
        // Both x points go: only y's 8 chunks stay, 4 of them in x's pack, which is repacked.
        const gc = await v.prune([points[0]!, points[2]!]);
        expect(gc.packsRepacked + gc.packsDeleted).toBeGreaterThan(0);
        // Damage: y's own pack (the one left from before the prune) loses its tail (quick verify: chunks past its end), then goes.
        const before = new Set(listFiles(vdir));
        const packs = listFiles(copy).filter((f) => f.startsWith('packs/') && before.has(f));
        expect(packs).toHaveLength(1);
        const f = path.join(copy, packs[0]!);
        fs.truncateSync(f, fs.statSync(f).size - 100);
        const quick = await v.verify();
        fs.rmSync(f);
        const gone = await v.verify();
        results.push({ gc: sameReport(gc), quick: sameReport(quick), gone: sameReport(gone), objects: objects(copy, vdir).written });
      } finally {
        await v.close();
      }
    }
    const [ram, disk] = results;
    expect(ram!.quick).toMatchObject({ ok: false, damagedVms: ['y'] });
    expect((ram!.quick as unknown as VerifyReport).corruptChunks).toBeGreaterThan(0);
    expect((ram!.gone as unknown as VerifyReport).missingChunks).toBeGreaterThan(0);
    expect(disk).toEqual(ram);
  });
});
