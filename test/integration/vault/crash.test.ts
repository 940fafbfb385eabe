import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PACK_TARGET_SIZE } from '../../../main/core/vault/format.js';
import { LocalFolderStore } from '../../../main/core/vault/local-store.js';
import { Vault } from '../../../main/core/vault/vault.js';
import { listFiles, makeDisk, sha256File, tempDir } from './helpers.js';
import { bundleChild } from '../../helpers/bundle.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../../..');
// Inside the repo so the engine finds <repo>/dist/vault-worker.mjs, outside git's view.
const child = path.join(root, 'node_modules', '.cache', 'coffer-test', 'crash-child.mjs');
const pruneChild = path.join(root, 'node_modules', '.cache', 'coffer-test', 'prune-child.mjs');
let dir: string;
let disk: string;

beforeAll(async () => {
  for (const [name, outfile] of [
    ['crash-child.ts', child],
    ['prune-child.ts', pruneChild],
  ] as const) {
    await bundleChild(path.join(here, 'fixtures', name), outfile);
  }
  dir = tempDir();
  disk = path.join(dir, 'disk.img');
  makeDisk(disk, 64, 11);
  // 40 MiB of incompressible data: the backup writes three 16 MiB packs.
  const fd = fs.openSync(disk, 'r+');
  fs.writeSync(fd, randomBytes(40 * 1024 * 1024), 0, 40 * 1024 * 1024, 8 * 1024 * 1024);
  fs.closeSync(fd);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function runChild(vaultDir: string, crashAt?: string, after?: number): ReturnType<typeof spawnSync> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.COFFER_TEST_CRASH_AT;
  if (crashAt) env.COFFER_TEST_CRASH_AT = crashAt;
  if (after) env.COFFER_TEST_CRASH_AFTER = String(after);
  return spawnSync(process.execPath, [child, vaultDir, 'pw', disk], { env, encoding: 'utf8', timeout: 60_000 });
}

describe('SIGKILL during a backup', () => {
  for (const [stage, after] of [
    ['pack', 2],
    ['index', 1],
    ['index', 2],
    ['manifest', 1],
  ] as const) {
    it(`leaves a consistent vault when killed while writing the ${stage} (#${after})`, async () => {
      const vaultDir = path.join(dir, `vault-${stage}-${after}`);
      const created = await Vault.create(new LocalFolderStore(vaultDir), { name: 'v', region: 'local', passphrase: 'pw', chunkSize: 64 * 1024 });
      await created.close();

      const r = runChild(vaultDir, stage, after);
      expect(r.signal).toBe('SIGKILL');

      const vault = await Vault.open(new LocalFolderStore(vaultDir), 'pw');
      try {
        // No partial point, no half object under a final name: every object verifies.
        expect(await vault.listPoints()).toEqual([]);
        const report = await vault.verify({ full: true });
        expect(report.ok).toBe(true);
        const durablePacks = listFiles(vaultDir).filter((f) => f.startsWith('packs/') && !f.includes('.tmp-'));
        if (stage !== 'index' || after > 1) expect(durablePacks.length).toBeGreaterThan(0);

        // The next backup completes (breaking the dead process's lock) and reuses what was stored.
        const ok = runChild(vaultDir);
        expect(ok.status).toBe(0);
        const point = JSON.parse(String(ok.stdout).trim()) as { id: string; newChunks: number };
        const first = await vault.listPoints();
        expect(first.map((p) => p.id)).toEqual([point.id]);
        const fresh = await Vault.create(new LocalFolderStore(path.join(vaultDir + '-ref')), { name: 'r', region: 'local', passphrase: 'pw', chunkSize: 64 * 1024 });
        const ref = await fresh.backup({ vmName: 'ref', disks: [{ name: 'disk.img', path: disk }] });
        await fresh.close();
        if (stage === 'manifest') expect(point.newChunks).toBe(0);
        else if (stage === 'pack' || after > 1) expect(point.newChunks).toBeLessThan(ref.newChunks);
        else expect(point.newChunks).toBeLessThanOrEqual(ref.newChunks);

        expect((await vault.verify({ full: true })).ok).toBe(true);
        await vault.restore(point.id, path.join(dir, `out-${stage}-${after}`));
        expect(sha256File(path.join(dir, `out-${stage}-${after}`, 'disk.img'))).toBe(sha256File(disk));
        expect(listFiles(vaultDir).filter((f) => f.startsWith('locks/'))).toEqual([]);
      } finally {
        await vault.close();
      }
    });
  }
});

const PACK_SHARE = Math.min(PACK_TARGET_SIZE, 4 * 1024 * 1024) / 4;

describe('SIGKILL during a prune', () => {
  // Point "old" is disk A (24 MiB random); point "keep" is disk B, which shares A's first MiB:
  // a quarter of A's first pack (random data fills a pack with one 4 MiB segment when packs
  // close at PACK_TARGET_SIZE = 8 MiB).
  // Deleting "old" leaves A's first pack a quarter live (repacked) and its other packs dead
  // (deleted), so the prune writes packs and index objects, then deletes old ones.
  let diskA: string;
  let diskB: string;
  beforeAll(() => {
    diskA = path.join(dir, 'prune-a.img');
    diskB = path.join(dir, 'prune-b.img');
    const a = randomBytes(24 * 1024 * 1024);
    fs.writeFileSync(diskA, a);
    fs.writeFileSync(diskB, Buffer.concat([a.subarray(0, PACK_SHARE), randomBytes(12 * 1024 * 1024)]));
  });

  for (const [stage, after] of [
    ['pack', 1],
    ['index', 1],
    ['gc', 1],
    ['gc', 2],
    ['gc', 4],
  ] as const) {
    it(`leaves every remaining point restorable when killed at ${stage} #${after}`, async () => {
      const vaultDir = path.join(dir, `prune-${stage}-${after}`);
      const vault = await Vault.create(new LocalFolderStore(vaultDir), { name: 'v', region: 'local', passphrase: 'pw', chunkSize: 64 * 1024 });
      try {
        const old = await vault.backup({ vmName: 'old', disks: [{ name: 'disk.img', path: diskA }] });
        const keep = await vault.backup({ vmName: 'keep', disks: [{ name: 'disk.img', path: diskB }] });

        const env: NodeJS.ProcessEnv = { ...process.env, COFFER_TEST_CRASH_AT: stage, COFFER_TEST_CRASH_AFTER: String(after) };
        const r = spawnSync(process.execPath, [pruneChild, vaultDir, 'pw', old.id], { env, encoding: 'utf8', timeout: 60_000 });
        expect(r.signal, `${r.stdout}\n${r.stderr}`).toBe('SIGKILL');

        // The deleted point is gone, the kept one verifies and restores byte for byte.
        expect((await vault.listPoints()).map((p) => p.id)).toEqual([keep.id]);
        expect((await vault.verify({ full: true })).ok).toBe(true);
        const out1 = path.join(dir, `prune-out-${stage}-${after}`);
        await vault.restore(keep.id, out1);
        expect(sha256File(path.join(out1, 'disk.img'))).toBe(sha256File(diskB));

        // The next prune breaks the dead process's lock, finishes the job and keeps the point intact.
        const again = spawnSync(process.execPath, [pruneChild, vaultDir, 'pw'], { env: { ...process.env, COFFER_TEST_CRASH_AT: '' }, encoding: 'utf8', timeout: 60_000 });
        expect(again.status).toBe(0);
        expect((await vault.verify({ full: true })).ok).toBe(true);
        const out2 = path.join(dir, `prune-out2-${stage}-${after}`);
        await vault.restore(keep.id, out2);
        expect(sha256File(path.join(out2, 'disk.img'))).toBe(sha256File(diskB));
        expect(listFiles(vaultDir).filter((f) => f.startsWith('locks/'))).toEqual([]);
        // Only the live data is left: about B's 16 MiB (random, stored raw) plus small objects.
        const packBytes = listFiles(vaultDir)
          .filter((f) => f.startsWith('packs/') && !f.includes('.tmp-'))
          .reduce((s, f) => s + fs.statSync(path.join(vaultDir, f)).size, 0);
        expect(packBytes).toBeLessThan(17 * 1024 * 1024);
      } finally {
        await vault.close();
      }
    });
  }
});
