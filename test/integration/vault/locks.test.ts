import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { hostname } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isCofferError } from '../../../main/core/errors.js';
import { LocalFolderStore } from '../../../main/core/vault/local-store.js';
import { LOCK_REFRESH_DEADLINE_MS, processStartTime, selfIdentity, VaultLock, type LockClock } from '../../../main/core/vault/locks.js';
import { Vault } from '../../../main/core/vault/vault.js';
import { listFiles, makeDisk, sha256File, tempDir } from './helpers.js';
import { bundleChild } from '../../helpers/bundle.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../../..');
const child = path.join(root, 'node_modules', '.cache', 'coffer-test', 'lock-child.mjs');
let dir: string;

beforeAll(async () => {
  await bundleChild(path.join(here, 'fixtures', 'lock-child.ts'), child);
  dir = tempDir();
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

let n = 0;
const fresh = (): string => path.join(dir, `v${n++}`);

function runChild(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [child, ...args], { env: { ...process.env, ...env } });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('close', (code) => resolve({ code, out, err }));
  });
}

/** Starts a child that takes a lock and keeps it until killed; resolves once it holds it. */
function holder(vdir: string, kind: string, env: NodeJS.ProcessEnv = {}): Promise<ReturnType<typeof spawn>> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [child, 'hold', vdir, kind], { env: { ...process.env, ...env } });
    p.stdout.on('data', (d: Buffer) => {
      if (d.toString().includes('held')) resolve(p);
    });
    p.on('error', reject);
    p.on('exit', (code) => reject(new Error(`holder exited with ${code}`)));
  });
}

function killed(p: ReturnType<typeof spawn>): Promise<void> {
  return new Promise((resolve) => {
    p.removeAllListeners('exit');
    p.on('exit', () => resolve());
    p.kill('SIGKILL');
  });
}

function lockFiles(vdir: string): string[] {
  return fs.existsSync(path.join(vdir, 'locks')) ? fs.readdirSync(path.join(vdir, 'locks')) : [];
}

describe('lock ownership', () => {
  it('breaks the lock of a killed process of this machine, but not the lock of another machine with the same hostname', async () => {
    const vdir = fresh();
    const store = new LocalFolderStore(vdir);
    // Same machine (same boot id): killed holder → stale at once.
    const mine = await holder(vdir, 'exclusive');
    await killed(mine);
    const x = await VaultLock.acquire(store, 'exclusive', 'prune');
    await x.release();
    // Another machine named like this one (COFFER_TEST_BOOT_ID fakes its boot id): its PID means
    // nothing here, so its lock stays until it is stale by time.
    const twin = await holder(vdir, 'exclusive', { COFFER_TEST_BOOT_ID: 'twin-machine-boot-id' });
    await killed(twin);
    const [f] = lockFiles(vdir);
    const held = JSON.parse(fs.readFileSync(path.join(vdir, 'locks', f!), 'utf8')) as { host: string; owner: string; bootId: string };
    expect(held.host).toBe(hostname());
    expect(held.owner).toMatch(/^[0-9a-f]{32}$/);
    expect(held.bootId).toBe('twin-machine-boot-id');
    const e = await VaultLock.acquire(store, 'shared', 'backup').catch((err: unknown) => err);
    expect(isCofferError(e, 'VaultBusy')).toBe(true);
    expect(lockFiles(vdir)).toEqual([f]);
  });

  it('treats a lock whose PID now belongs to another process (reused PID) as stale', async () => {
    const vdir = fresh();
    const me = selfIdentity();
    if (!me.bootId || !processStartTime(process.pid)) return; // not Linux: no boot id / start time to compare
    fs.mkdirSync(path.join(vdir, 'locks'), { recursive: true });
    const now = new Date().toISOString();
    // Our own live PID, but a start time that is not ours: the holder is gone and the PID reused.
    const lock = { kind: 'exclusive', owner: 'a'.repeat(32), ...me, pidStart: '1', operation: 'prune', created: now, refreshed: now };
    fs.writeFileSync(path.join(vdir, 'locks', 'exclusive'), JSON.stringify(lock));
    const s = await VaultLock.acquire(new LocalFolderStore(vdir), 'shared', 'backup');
    expect(lockFiles(vdir)).toEqual([path.basename(s.key)]);
    await s.release();
  });

  it('fails the job before commit when its lock could not be refreshed, or was removed by another process', async () => {
    const vdir = fresh();
    let down = false;
    class FlakyStore extends LocalFolderStore {
      override async put(key: string, data: Uint8Array): Promise<void> {
        if (down) throw Object.assign(new Error('EIO: storage gone'), { code: 'EIO' });
        return super.put(key, data);
      }
    }
    let t = Date.now();
    const clock: LockClock = { now: () => t };
    const lock = await VaultLock.acquire(new FlakyStore(vdir), 'shared', 'backup', { clock });
    await lock.check();
    down = true;
    await lock.refresh(); // fails: remembered, not ignored
    t += LOCK_REFRESH_DEADLINE_MS + 60_000;
    const e = await lock.check().catch((x: unknown) => x);
    expect(isCofferError(e, 'VaultLockLost')).toBe(true);
    expect((e as Error).message).toMatch(/could not be refreshed/);
    down = false;
    await lock.check(); // the storage is back: the lock is refreshed and valid again
    fs.rmSync(path.join(vdir, lock.key));
    const e2 = await lock.check().catch((x: unknown) => x);
    expect(isCofferError(e2, 'VaultLockLost')).toBe(true);
    await lock.release();
  });

  it('makes a prune wait for a running backup, shows why in its job, and lets it be cancelled', async () => {
    const vdir = fresh();
    const store = new LocalFolderStore(vdir);
    const vault = await Vault.create(store, { name: 'v', region: 'local', passphrase: 'pw', chunkSize: 64 * 1024 });
    try {
      const held = await VaultLock.acquire(store, 'shared', 'backup of web');
      const messages: string[] = [];
      const report = await vault.prune([], {
        minDelayMs: 5,
        onWait: (m) => {
          messages.push(m);
          if (messages.length === 3) void held.release();
        },
      });
      expect(report.packsDeleted).toBe(0);
      expect(messages[0]).toBe(`waiting for backup of web on host ${hostname()} to finish`);
      const again = await VaultLock.acquire(store, 'shared', 'backup of db');
      const ac = new AbortController();
      const e = await vault.collectGarbage({ minDelayMs: 5, signal: ac.signal, onWait: () => ac.abort() }).catch((x: unknown) => x);
      expect(isCofferError(e, 'OperationCancelled')).toBe(true);
      const e2 = await vault.collectGarbage({ wait: false }).catch((x: unknown) => x);
      expect(isCofferError(e2, 'VaultBusy')).toBe(true);
      await again.release();
      expect(lockFiles(vdir)).toEqual([]);
    } finally {
      await vault.close();
    }
  });
});

describe('two processes racing for the lock', () => {
  for (const mode of ['create-only writes', 'a backend that ignores create-only conditions'] as const) {
    it(`never lets two exclusive holders, or exclusive and shared, overlap (${mode})`, async () => {
      const vdir = fresh();
      const held = path.join(dir, `held-${n}`);
      fs.mkdirSync(held, { recursive: true });
      const flag = mode === 'create-only writes' ? [] : ['ignore-conditions'];
      const rounds = '40';
      const [a, b, c] = await Promise.all([
        runChild(['locker', vdir, held, 'exclusive', rounds, ...flag]),
        runChild(['locker', vdir, held, 'exclusive', rounds, ...flag]),
        runChild(['locker', vdir, held, 'shared', rounds, ...flag]),
      ]);
      for (const r of [a, b, c]) {
        expect(r.err).toBe('');
        expect(r.code).toBe(0);
        expect(r.out).not.toMatch(/violation/);
      }
      const heldCount = [a, b, c].map((r) => Number(/held (\d+)/.exec(r.out)![1]));
      // Each party got the lock at least once: the protocol excludes, it does not starve.
      expect(heldCount.every((h) => h > 0)).toBe(true);
      expect(lockFiles(vdir)).toEqual([]);
    });
  }
});

describe('a backup whose reused data vanished', () => {
  it('keeps no point (VaultChangedDuringBackup) when a pack it deduplicated against is gone at commit', async () => {
    const vdir = fresh();
    const disk = path.join(dir, `gone-${n}.img`);
    makeDisk(disk, 2, 6);
    const vault = await Vault.create(new LocalFolderStore(vdir), { name: 'v', region: 'local', passphrase: 'pw', chunkSize: 64 * 1024 });
    try {
      vault.workers = 1;
      const first = await vault.backup({ vmName: 'gone', disks: [{ name: 'disk.img', path: disk }] });
      // The pack vanishes while its index object stays (what a prune racing the backup leaves
      // for a moment): the second backup deduplicates against it from its index.
      for (const f of listFiles(vdir).filter((x) => x.startsWith('packs/'))) fs.rmSync(path.join(vdir, f));
      const e = await vault.backup({ vmName: 'gone', disks: [{ name: 'disk.img', path: disk }] }).catch((x: unknown) => x);
      expect(isCofferError(e, 'VaultChangedDuringBackup')).toBe(true);
      expect((await vault.listPoints()).map((p) => p.id)).toEqual([first.id]);
    } finally {
      await vault.close();
    }
  });
});

describe('backup racing prune in two processes', () => {
  it('never completes a point that names pruned data: every point left verifies', { timeout: 240_000 }, async () => {
    const vdir = fresh();
    const disk = path.join(dir, `race-${n}.img`);
    makeDisk(disk, 2, 5);
    const created = await Vault.create(new LocalFolderStore(vdir), { name: 'v', region: 'local', passphrase: 'pw', chunkSize: 64 * 1024 });
    await created.close();
    const done = path.join(dir, `race-done-${n}`);
    const [b, p] = await Promise.all([runChild(['backup', vdir, 'pw', disk, '20', done]), runChild(['prune', vdir, 'pw', done])]);
    expect(b.err).toBe('');
    expect(p.err).toBe('');
    expect(b.code).toBe(0);
    expect(p.code).toBe(0);
    const vault = await Vault.open(new LocalFolderStore(vdir), 'pw');
    try {
      // One more backup after the race: whatever it deduplicates against must exist.
      await vault.backup({ vmName: 'race', disks: [{ name: 'disk.img', path: disk }] });
      const report = await vault.verify({ full: true });
      expect(report.damaged).toEqual([]);
      expect(report.ok).toBe(true);
      for (const pt of await vault.listPoints()) {
        const r = await vault.restore(pt.id, path.join(dir, `r-${pt.id}`));
        expect(sha256File(r.files[0]!.path)).toBe(sha256File(disk));
      }
    } finally {
      await vault.close();
    }
    expect(listFiles(vdir).filter((f) => f.startsWith('locks/'))).toEqual([]);
  });
});

