import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isCofferError } from '../../../main/core/errors.js';
import { LocalFolderStore } from '../../../main/core/vault/local-store.js';
import { VaultLock } from '../../../main/core/vault/locks.js';
import { Vault } from '../../../main/core/vault/vault.js';
import { makeDisk, tempDir } from './helpers.js';

// Hook 8: a job whose storage became unreachable cannot delete its lock. In a long-running host
// the next exclusive job saw its own live PID on that lock and waited (or got VaultBusy).
const dir = tempDir();
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A vault folder whose lock deletes fail while `outage` is set: it simulates the storage dropping away. */
class LockDeleteOutageStore extends LocalFolderStore {
  outage = false;
  failedDeletes = 0;
  override async delete(key: string): Promise<void> {
    if (this.outage && key.startsWith('locks/')) {
      this.failedDeletes++;
      throw Object.assign(new Error('ECONNRESET: storage unreachable'), { code: 'ECONNRESET' });
    }
    return super.delete(key);
  }
}

const lockFiles = (vdir: string): string[] => (fs.existsSync(path.join(vdir, 'locks')) ? fs.readdirSync(path.join(vdir, 'locks')) : []);

/** Polls `cond` (no fixed sleep) until it holds, failing after `bound` checks. */
async function eventually(cond: () => boolean, bound = 600): Promise<void> {
  for (let i = 0; i < bound; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('condition not reached');
}

describe('a lock whose delete failed in an outage', () => {
  it('is no holder for this process (a prune goes on at once), and is deleted once the storage answers again', { timeout: 60_000 }, async () => {
    const vdir = path.join(dir, 'v1');
    const disk = path.join(dir, 'web.img');
    makeDisk(disk, 1, 3);
    const store = new LockDeleteOutageStore(vdir);
    const vault = await Vault.create(store, { name: 'v', region: 'local', passphrase: 'pw', chunkSize: 64 * 1024 });
    try {
      store.outage = true;
      const point = await vault.backup({ vmName: 'web', disks: [{ name: 'web.img', path: disk }] });
      // The backup ended; its lock object stays, naming this live process.
      expect(store.failedDeletes).toBe(1);
      const [left] = lockFiles(vdir);
      expect(JSON.parse(fs.readFileSync(path.join(vdir, 'locks', left!), 'utf8'))).toMatchObject({ kind: 'shared', pid: process.pid });

      // A prune of this process, storage still failing deletes, does not wait for it; its own lock stays behind too.
      await vault.prune([point.id], { wait: false });
      expect(await vault.listPoints()).toEqual([]);
      expect(lockFiles(vdir)).toHaveLength(2);
      // Another handle of the same folder in this process sees them as released as well.
      const otherStore = new LockDeleteOutageStore(vdir);
      otherStore.outage = true;
      const other = await VaultLock.acquire(otherStore, 'shared', 'restore of web');
      await other.release();
      expect(lockFiles(vdir)).toHaveLength(3);

      // The storage answers again: the background retries remove what the outage left.
      store.outage = false;
      otherStore.outage = false;
      await eventually(() => lockFiles(vdir).length === 0);
    } finally {
      await vault.close();
    }
  });

  it('a live lock of another job of this process still counts', async () => {
    const vdir = path.join(dir, 'v2');
    const store = new LocalFolderStore(vdir);
    const held = await VaultLock.acquire(store, 'shared', 'backup of db');
    const e = await VaultLock.acquire(store, 'exclusive', 'prune').catch((x: unknown) => x);
    expect(isCofferError(e, 'VaultBusy')).toBe(true);
    await held.release();
    expect(lockFiles(vdir)).toEqual([]);
  });
});
