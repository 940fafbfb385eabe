// Memory independent of disk size (issue 13 §4): a 2 TiB sparse raw disk with a few MiB of data
// backs up, backs up again from its parent, verifies and restores byte-identical and sparse, each
// job in a child process of its own whose peak RSS stays under 300 MB (its chunk list, 16M ids or
// 512 MiB, is never held whole: one run of 32768 ids at a time).
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from './helpers.js';
import { bundleChild } from '../../helpers/bundle.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../../..');
// Inside the repo so the engine finds <repo>/dist/vault-worker.mjs, outside git's view.
const child = path.join(root, 'node_modules', '.cache', 'coffer-test', 'sparse-child.mjs');
const TIB = 1024 ** 4;
const SIZE = 2 * TIB;
const RSS_LIMIT_KIB = (300 * 1000 * 1000) / 1024;
/** 1 MiB of random data at each of these offsets (some not chunk-aligned, one across a 4 GiB list run boundary, one at the very end). */
const OFFSETS = [0, 7 * 1024 ** 3 + 12345, 4 * 1024 ** 3 - 300_000, 777 * 1024 ** 3, 1.5 * TIB + 65536, SIZE - (1 << 20)];
let dir: string;
let disk: string;
let vaultDir: string;
const data = OFFSETS.map(() => randomBytes(1 << 20));

interface ChildOut {
  maxRssKiB: number;
  [k: string]: unknown;
}

function job(...args: string[]): ChildOut {
  const r = spawnSync(process.execPath, [child, args[0]!, vaultDir, 'pw', ...args.slice(1)], { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`child ${args[0]} failed (${r.status ?? r.signal}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as ChildOut;
}

beforeAll(async () => {
  await bundleChild(path.join(here, 'fixtures', 'sparse-child.ts'), child);
  dir = tempDir();
  disk = path.join(dir, 'big.raw');
  vaultDir = path.join(dir, 'vault');
  const fd = fs.openSync(disk, 'w');
  fs.ftruncateSync(fd, SIZE);
  OFFSETS.forEach((o, i) => fs.writeSync(fd, data[i]!, 0, data[i]!.length, o));
  fs.closeSync(fd);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('a 2 TiB sparse disk', () => {
  it('backs up, backs up again from its parent, verifies and restores byte-identical and sparse, each job under 300 MB of RSS', () => {
    // The default chunk size (128 KiB: 16,777,216 chunks) and the default scrypt cost (128 MiB at open).
    job('create', String(128 * 1024));
    const full = job('backup', disk);
    expect(full.maxRssKiB).toBeLessThan(RSS_LIMIT_KIB);
    // Only the data was read: the holes came from the file's map.
    expect(full.bytesRead as number).toBeLessThan(OFFSETS.length * 3 * (1 << 20));
    expect(full.bytesRead as number).toBeGreaterThanOrEqual(OFFSETS.length * (1 << 20));

    // Change 64 KiB inside the data at 777 GiB; the incremental reads only the chunks that range touches.
    const changedAt = OFFSETS[3]! + 200_000;
    const patch = randomBytes(65536);
    const fd = fs.openSync(disk, 'r+');
    fs.writeSync(fd, patch, 0, patch.length, changedAt);
    fs.closeSync(fd);
    patch.copy(data[3]!, 200_000);
    const inc = job('incremental', disk, full.id as string, String(changedAt), String(patch.length));
    expect(inc.parent).toBe(full.id);
    expect(inc.bytesRead as number).toBeLessThanOrEqual(2 * 128 * 1024);
    expect(inc.maxRssKiB).toBeLessThan(RSS_LIMIT_KIB);

    const verified = job('verify');
    expect(verified).toMatchObject({ ok: true, pointsChecked: 2, missingChunks: 0 });
    expect(verified.maxRssKiB).toBeLessThan(RSS_LIMIT_KIB);

    const target = path.join(dir, 'restored');
    const restored = job('restore', inc.id as string, target);
    expect(restored.maxRssKiB).toBeLessThan(RSS_LIMIT_KIB);
    const file = path.join(target, 'big.raw');
    const st = fs.statSync(file);
    expect(st.size).toBe(SIZE);
    // Sparse: the holes were not written (a few MiB of blocks, not 2 TiB).
    expect(st.blocks * 512).toBeLessThan(64 * (1 << 20));
    const rfd = fs.openSync(file, 'r');
    try {
      OFFSETS.forEach((o, i) => {
        const got = Buffer.alloc(data[i]!.length);
        fs.readSync(rfd, got, 0, got.length, o);
        expect(got.equals(data[i]!)).toBe(true);
      });
      // A byte in the middle of a hole reads as zero.
      const z = Buffer.alloc(4096, 1);
      fs.readSync(rfd, z, 0, z.length, TIB);
      expect(z.every((b) => b === 0)).toBe(true);
    } finally {
      fs.closeSync(rfd);
    }
  }, 300_000);
});
