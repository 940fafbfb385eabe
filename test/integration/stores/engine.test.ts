import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isCofferError } from '../../../main/core/errors.js';
import { LocalFolderStore } from '../../../main/core/vault/local-store.js';
import { REMOTE_IO_HINTS } from '../../../main/core/vault/remote.js';
import type { RetryPolicy } from '../../../main/core/vault/retry.js';
import type { ObjectStore, PreparedRequest } from '../../../main/core/vault/storage.js';
import { formatVaultLocation, openStore, type OpenStoreOptions, type VaultLocation, type VaultStore } from '../../../main/core/vault/stores.js';
import { Vault } from '../../../main/core/vault/vault.js';
import { startAzurite, startS3rver, type Emulator } from '../../helpers/emulators.js';
import { makeDisk, sha256File, tempDir } from '../vault/helpers.js';
import { bundleChild } from '../../helpers/bundle.js';

/**
 * The vault engine, unchanged, on object storage: back up, restore byte for byte, verify, open
 * from a second "install", survive the server stopping mid-backup and a SIGKILL mid-upload.
 */
const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../../..');
// Inside the repo so the engine finds <repo>/dist/vault-worker.mjs, outside git's view.
const child = path.join(root, 'node_modules', '.cache', 'coffer-test', 'store-backup-child.mjs');
const FAST_RETRY: RetryPolicy = { maxTries: 2, baseDelayMs: 20, maxDelayMs: 50, tryTimeoutMs: 10_000 };
const CHUNK = 64 * 1024;

let dir: string;
let disk: string;

beforeAll(async () => {
  await bundleChild(path.join(here, 'fixtures', 'backup-child.ts'), child);
  dir = tempDir();
  disk = path.join(dir, 'disk.img');
  makeDisk(disk, 32, 21);
  // Incompressible data for one pack more than a backup writes at once (three 16 MiB packs on
  // object storage): the SIGKILL test's crash then always meets a pack write that starts after an
  // earlier pack is durable, whatever the order in which the uploads finish.
  const random = (REMOTE_IO_HINTS.packsInFlight + 1) * REMOTE_IO_HINTS.packBytes;
  const fd = fs.openSync(disk, 'r+');
  fs.writeSync(fd, randomBytes(random), 0, random, 4 * 1024 * 1024);
  fs.closeSync(fd);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe.each(['azure', 's3'] as const)('vault engine on %s', (kind) => {
  let em: Emulator;
  let n = 0;
  beforeAll(async () => {
    em = kind === 'azure' ? await startAzurite() : await startS3rver();
  });
  afterAll(async () => {
    await em.dispose();
  });

  const fresh = (): VaultLocation => em.location('vaults', `team/v${++n}`);
  const open = (loc: VaultLocation, opts: OpenStoreOptions = {}): Promise<VaultStore> => openStore(loc, { credentials: em.credentials, ...opts });

  async function createVault(loc: VaultLocation): Promise<void> {
    const v = await Vault.create(await open(loc, { create: true }), { name: 'team', region: 'local', passphrase: 'pw', chunkSize: CHUNK });
    await v.close();
  }

  it('backs up, restores byte for byte, verifies, and a second install opens the same vault', async () => {
    const loc = fresh();
    await createVault(loc);
    const vault = await Vault.open(await open(loc), 'pw');
    try {
      const point = await vault.backup({ vmName: 'web01', disks: [{ name: 'disk.img', path: disk }] });
      expect(point.newChunks).toBeGreaterThan(0);
      const again = await vault.backup({ vmName: 'web01', disks: [{ name: 'disk.img', path: disk }] });
      expect(again.newChunks).toBe(0);
      const out = path.join(dir, `restore-${kind}`);
      await vault.restore(point.id, out);
      expect(sha256File(path.join(out, 'disk.img'))).toBe(sha256File(disk));
      expect((await vault.verify({ full: true })).ok).toBe(true);
    } finally {
      await vault.close();
    }
    // Another install: only the location and the passphrase.
    const other = await Vault.open(await open(loc), 'pw');
    try {
      expect((await other.listPoints()).map((p) => p.vmName)).toEqual(['web01', 'web01']);
      expect(other.store.location).toBe(formatVaultLocation(loc));
    } finally {
      await other.close();
    }
  });

  it('fails a backup with StorageUnreachable when the server stops mid-upload; the next one completes and reuses what was uploaded', async () => {
    const loc = fresh();
    await createVault(loc);
    const store = await open(loc, { retry: FAST_RETRY });
    // The server stops right after the first pack is durable: deterministic, no timing.
    let packs = 0;
    const stopping: ObjectStore = Object.create(store) as ObjectStore;
    stopping.put = async (key, data) => {
      await store.put(key, data);
      if (key.startsWith('index/') && ++packs === 1) await em.stop();
    };
    const vault = await Vault.open(stopping, 'pw');
    let failure: unknown;
    try {
      await vault.backup({ vmName: 'web01', disks: [{ name: 'disk.img', path: disk }] }).catch((e: unknown) => (failure = e));
    } finally {
      await vault.close().catch(() => undefined);
      await em.restart();
    }
    expect(isCofferError(failure, 'StorageUnreachable'), String(failure)).toBe(true);
    expect((failure as Error).message).toContain(em.endpoint);

    const after = await Vault.open(await open(loc), 'pw');
    try {
      expect(await after.listPoints()).toEqual([]);
      expect((await after.verify({ full: true })).ok).toBe(true);
      const point = await after.backup({ vmName: 'web01', disks: [{ name: 'disk.img', path: disk }] });
      const ref = await referenceChunks();
      expect(point.newChunks).toBeLessThan(ref);
      const out = path.join(dir, `restore-outage-${kind}`);
      await after.restore(point.id, out);
      expect(sha256File(path.join(out, 'disk.img'))).toBe(sha256File(disk));
    } finally {
      await after.close();
    }
  });

  /** A vault with one point of the disk, and a store that counts how the restore reads packs. */
  async function backedUp(): Promise<{ loc: VaultLocation; pointId: string }> {
    const loc = fresh();
    await createVault(loc);
    const v = await Vault.open(await open(loc), 'pw');
    try {
      return { loc, pointId: (await v.backup({ vmName: 'web01', disks: [{ name: 'disk.img', path: disk }] })).id };
    } finally {
      await v.close();
    }
  }
  function counting(store: ObjectStore, alter?: (req: PreparedRequest) => Promise<PreparedRequest> | PreparedRequest): { store: ObjectStore; prepared: () => number; readByStore: () => number } {
    let prepared = 0;
    let readByStore = 0;
    const s: ObjectStore = Object.create(store) as ObjectStore;
    s.rangeRequest = async (key, offset, length) => {
      prepared++;
      const req = await store.rangeRequest!(key, offset, length);
      return alter ? alter(req) : req;
    };
    s.getRangeInto = (key, offset, into) => {
      if (key.startsWith('packs/')) readByStore++;
      return store.getRangeInto!(key, offset, into);
    };
    return { store: s, prepared: () => prepared, readByStore: () => readByStore };
  }

  it('restores through the workers: each pack range is signed here and fetched by a worker, none read on the main thread', async () => {
    const { loc, pointId } = await backedUp();
    const c = counting(await open(loc));
    const vault = await Vault.open(c.store, 'pw');
    try {
      const out = path.join(dir, `restore-workers-${kind}`);
      await vault.restore(pointId, out);
      expect(sha256File(path.join(out, 'disk.img'))).toBe(sha256File(disk));
      expect(c.prepared()).toBeGreaterThan(0);
      expect(c.readByStore()).toBe(0);
    } finally {
      await vault.close();
    }
  });

  it('reads a range again through the store when the worker GET is refused (bad signature), and the restore completes', async () => {
    const { loc, pointId } = await backedUp();
    // Azure checks the SharedKey signature; s3rver checks the key id only, so the key id is the one spoiled there.
    const spoil = (req: PreparedRequest): PreparedRequest => {
      const headers = { ...req.headers };
      const auth = Object.keys(headers).find((h) => h.toLowerCase() === 'authorization')!;
      headers[auth] = kind === 'azure' ? headers[auth]!.replace(/:[^:]+$/, ':AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=') : headers[auth]!.replace(/Credential=[^/]+/, 'Credential=NOBODY');
      return { ...req, headers };
    };
    const c = counting(await open(loc), spoil);
    const vault = await Vault.open(c.store, 'pw');
    try {
      const out = path.join(dir, `restore-badsig-${kind}`);
      await vault.restore(pointId, out);
      expect(sha256File(path.join(out, 'disk.img'))).toBe(sha256File(disk));
      expect(c.prepared()).toBeGreaterThan(0);
      expect(c.readByStore()).toBe(c.prepared());
    } finally {
      await vault.close();
    }
  });

  it('fails a restore with StorageUnreachable when the server stops mid-restore, and removes the partial files', async () => {
    const { loc, pointId } = await backedUp();
    let stopped = false;
    const c = counting(await open(loc, { retry: FAST_RETRY }), async (req) => {
      if (!stopped) {
        stopped = true;
        await em.stop();
      }
      return req;
    });
    const vault = await Vault.open(c.store, 'pw');
    const out = path.join(dir, `restore-stopped-${kind}`);
    let failure: unknown;
    try {
      await vault.restore(pointId, out).catch((e: unknown) => (failure = e));
    } finally {
      await vault.close().catch(() => undefined);
      await em.restart();
    }
    expect(isCofferError(failure, 'StorageUnreachable'), String(failure)).toBe(true);
    expect((failure as Error).message).toContain(em.endpoint);
    expect((failure as Error).message).not.toMatch(/Signature|SharedKey|sig=/);
    expect(c.readByStore()).toBeGreaterThan(0);
    expect(fs.readdirSync(out)).toEqual([]);
  });

  it('leaves a consistent vault when the uploading process is killed (SIGKILL), and the next backup reuses the upload', async () => {
    const loc = fresh();
    await createVault(loc);
    // The child runs beside this process's event loop (spawn, not spawnSync): the emulators'
    // output pipes and this test's own open vault keep being served while it runs.
    const run = (crash?: string): Promise<{ status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> => {
      const env: NodeJS.ProcessEnv = { ...process.env, ...em.env };
      delete env.COFFER_TEST_CRASH_AT;
      if (crash) Object.assign(env, { COFFER_TEST_CRASH_AT: 'pack', COFFER_TEST_CRASH_AFTER: crash });
      return new Promise((resolve, reject) => {
        const c = spawn(process.execPath, [child, formatVaultLocation(loc), 'pw', disk], { env, stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        c.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        c.on('error', reject);
        c.on('close', (status, signal) => resolve({ status, signal, stdout, stderr }));
      });
    };
    const killed = await run('2');
    expect(killed.signal, killed.stderr).toBe('SIGKILL');

    const vault = await Vault.open(await open(loc), 'pw');
    try {
      expect(await vault.listPoints()).toEqual([]);
      expect((await vault.verify({ full: true })).ok).toBe(true);
      expect((await vault.store.list('packs/')).length).toBeGreaterThan(0);

      const ok = await run();
      expect(ok.status, ok.stderr).toBe(0);
      const point = JSON.parse(ok.stdout.trim()) as { id: string; newChunks: number };
      expect(point.newChunks).toBeLessThan(await referenceChunks());
      expect((await vault.listPoints()).map((p) => p.id)).toEqual([point.id]);
      expect((await vault.verify({ full: true })).ok).toBe(true);
      const out = path.join(dir, `restore-kill-${kind}`);
      await vault.restore(point.id, out);
      expect(sha256File(path.join(out, 'disk.img'))).toBe(sha256File(disk));
      expect(await vault.store.list('locks/')).toEqual([]);
    } finally {
      await vault.close();
    }
  });

  /** New chunks of the disk in an empty vault (a local folder): what "reuses" is measured against. */
  let ref: number | undefined;
  async function referenceChunks(): Promise<number> {
    if (ref !== undefined) return ref;
    const v = await Vault.create(new LocalFolderStore(path.join(dir, `ref-${kind}`)), { name: 'r', region: 'local', passphrase: 'pw', chunkSize: CHUNK });
    try {
      ref = (await v.backup({ vmName: 'ref', disks: [{ name: 'disk.img', path: disk }] })).newChunks;
    } finally {
      await v.close();
    }
    return ref;
  }
});
