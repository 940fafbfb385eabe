import { randomBytes } from 'node:crypto';
import { processAlive } from '../process-alive.js';
import { hostname } from 'node:os';
import { CofferError } from '../errors.js';
import { LOCK_PREFIX } from './format.js';
import { ObjectNotFound, type ObjectStore } from './storage.js';

export type LockKind = 'shared' | 'exclusive';

export interface LockInfo {
  kind: LockKind;
  host: string;
  pid: number;
  operation: string;
  created: string;
  refreshed: string;
}

/** A lock from another host is stale once it has not been refreshed for this long. */
export const LOCK_STALE_MS = 30 * 60 * 1000;
const REFRESH_MS = 5 * 60 * 1000;
/** The single exclusive lock object: putIfAbsent makes two exclusive holders impossible. */
const EXCLUSIVE_KEY = `${LOCK_PREFIX}exclusive`;

export function isStale(lock: LockInfo, now = Date.now()): boolean {
  // Same machine: the process tells us for sure. Elsewhere: only time can.
  if (lock.host === hostname()) return !processAlive(lock.pid);
  return now - Date.parse(lock.refreshed) > LOCK_STALE_MS;
}

async function readLock(store: ObjectStore, key: string): Promise<LockInfo | null> {
  try {
    return JSON.parse((await store.get(key)).toString('utf8')) as LockInfo;
  } catch (e) {
    if (e instanceof ObjectNotFound) return null;
    // An unreadable lock (torn by a non-atomic backend) is treated as stale.
    return { kind: 'shared', host: '?', pid: 0, operation: '?', created: '1970-01-01T00:00:00Z', refreshed: '1970-01-01T00:00:00Z' };
  }
}

/** Live locks other than `except`; stale ones are removed on the way (safe: their owner is gone). */
async function liveLocks(store: ObjectStore, except?: string): Promise<Array<{ key: string; info: LockInfo }>> {
  const out: Array<{ key: string; info: LockInfo }> = [];
  for (const o of await store.list(LOCK_PREFIX)) {
    if (o.key === except) continue;
    const info = await readLock(store, o.key);
    if (!info) continue;
    if (isStale(info)) {
      await store.delete(o.key);
      continue;
    }
    out.push({ key: o.key, info });
  }
  return out;
}

export class VaultLock {
  private timer: NodeJS.Timeout | undefined;
  private released = false;

  private constructor(
    private readonly store: ObjectStore,
    readonly key: string,
    private info: LockInfo,
  ) {
    this.timer = setInterval(() => void this.refresh(), REFRESH_MS);
    this.timer.unref();
  }

  /**
   * Both kinds follow "write my lock, then look for conflicting ones": two racing parties each
   * see the other's lock, so at worst both back off, never both proceed.
   */
  static async acquire(store: ObjectStore, kind: LockKind, operation: string): Promise<VaultLock> {
    const now = new Date().toISOString();
    const info: LockInfo = { kind, host: hostname(), pid: process.pid, operation, created: now, refreshed: now };
    const body = Buffer.from(JSON.stringify(info));
    if (kind === 'exclusive') {
      let created = await store.putIfAbsent(EXCLUSIVE_KEY, body);
      if (!created) {
        const cur = await readLock(store, EXCLUSIVE_KEY);
        if (cur && !isStale(cur)) throw busy(cur);
        await store.delete(EXCLUSIVE_KEY);
        created = await store.putIfAbsent(EXCLUSIVE_KEY, body);
        if (!created) throw new CofferError('VaultBusy', 'Another process took the vault lock at the same moment.');
      }
      const others = await liveLocks(store, EXCLUSIVE_KEY);
      if (others.length > 0) {
        await store.delete(EXCLUSIVE_KEY);
        throw busy(others[0]!.info);
      }
      return new VaultLock(store, EXCLUSIVE_KEY, info);
    }
    const key = `${LOCK_PREFIX}shared-${process.pid}-${randomBytes(6).toString('hex')}`;
    await store.put(key, body);
    const ex = (await liveLocks(store, key)).find((l) => l.info.kind === 'exclusive');
    if (ex) {
      await store.delete(key);
      throw busy(ex.info);
    }
    return new VaultLock(store, key, info);
  }

  private async refresh(): Promise<void> {
    if (this.released) return;
    this.info = { ...this.info, refreshed: new Date().toISOString() };
    await this.store.put(this.key, Buffer.from(JSON.stringify(this.info))).catch(() => undefined);
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    if (this.timer) clearInterval(this.timer);
    await this.store.delete(this.key);
  }
}

function busy(holder: LockInfo): CofferError {
  return new CofferError(
    'VaultBusy',
    `The vault is held by ${holder.operation} (${holder.kind} lock, process ${holder.pid} on ${holder.host}, since ${holder.created}).`,
    { holder },
  );
}
