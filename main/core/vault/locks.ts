import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { CofferError } from '../errors.js';
import { processAlive } from '../process-alive.js';
import { LOCK_PREFIX } from './format.js';
import { ObjectNotFound, type ObjectStore } from './storage.js';

export type LockKind = 'shared' | 'exclusive';

/** The JSON of a lock object (docs/vault-format.md, "Locks"). */
export interface LockInfo {
  kind: LockKind;
  /** Random id of this lock holder (32 hex digits): what identifies a lock, not host + PID. */
  owner?: string;
  host: string;
  pid: number;
  /** Linux boot id of the holder's machine: same boot id = same machine, same boot. */
  bootId?: string;
  /** Start time of the holder's process (field 22 of /proc/PID/stat), so a reused PID is no holder. */
  pidStart?: string;
  operation: string;
  created: string;
  refreshed: string;
}

/** A lock not refreshed for this long is stale (unless its holder is known alive on this machine). */
export const LOCK_STALE_MS = 30 * 60 * 1000;
export const LOCK_REFRESH_MS = 5 * 60 * 1000;
/** A holder that could not refresh its lock for this long stops before committing anything. */
export const LOCK_REFRESH_DEADLINE_MS = LOCK_STALE_MS - LOCK_REFRESH_MS;
/** The exclusive lock object of stores with enforced create-only writes. */
export const EXCLUSIVE_KEY = `${LOCK_PREFIX}exclusive`;

export interface LockIdentity {
  host: string;
  pid: number;
  bootId?: string;
  pidStart?: string;
}

/**
 * Who this process is. COFFER_TEST_BOOT_ID stands in for the boot id, so a test can play a second
 * machine that has the same hostname (as two NAS clients both named "backup" would).
 */
export function selfIdentity(): LockIdentity {
  const bootId = process.env.COFFER_TEST_BOOT_ID ?? readBootId();
  const pidStart = processStartTime(process.pid);
  return { host: hostname(), pid: process.pid, ...(bootId ? { bootId } : {}), ...(pidStart ? { pidStart } : {}) };
}

function readBootId(): string | undefined {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || undefined;
  } catch {
    return undefined; // not Linux: liveness of other processes is judged by time only
  }
}

/** Field 22 (starttime, clock ticks since boot) of /proc/PID/stat; undefined off Linux or when gone. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19];
  } catch {
    return undefined;
  }
}

/**
 * Owner ids of locks this process released whose object it could not delete yet (an outage). They
 * are dead to every liveness check (`isStale`), so a long-running host does not wait for itself;
 * a background retry deletes the object once the storage answers again.
 */
const releasedOwners = new Set<string>();

/** Pauses before the background retries of a failed lock delete; after the last one, other hosts see it stale by time. */
export const RELEASE_RETRY_DELAYS_MS: readonly number[] = [1_000, 4_000, 15_000, 60_000, 5 * 60_000, 15 * 60_000];

export interface LockClock {
  now(): number;
}
const systemClock: LockClock = { now: () => Date.now() };

/**
 * Stale = its holder is certainly gone. Same machine and boot (equal boot ids): the process tells
 * for sure (alive, and started at the recorded time, so a reused PID does not count). Elsewhere,
 * including another machine with the same hostname: only time can, LOCK_STALE_MS after the last refresh.
 */
export function isStale(lock: LockInfo, now = Date.now(), me: LockIdentity = selfIdentity()): boolean {
  // A lock this process released but could not delete (the storage was unreachable) has no holder,
  // though its PID is this live process: only the random owner id tells them apart.
  if (lock.owner !== undefined && releasedOwners.has(lock.owner)) return true;
  if (lock.bootId && me.bootId && lock.bootId === me.bootId) {
    if (lock.pid === me.pid && lock.pidStart === me.pidStart) return false;
    if (!processAlive(lock.pid)) return true;
    const start = processStartTime(lock.pid);
    return lock.pidStart !== undefined && start !== undefined && start !== lock.pidStart;
  }
  const refreshed = Date.parse(lock.refreshed);
  return !Number.isFinite(refreshed) || now - refreshed > LOCK_STALE_MS;
}

function parseLock(raw: Buffer): LockInfo | null {
  try {
    const j = JSON.parse(raw.toString('utf8')) as Partial<LockInfo> | null;
    if (!j || (j.kind !== 'shared' && j.kind !== 'exclusive') || typeof j.host !== 'string' || typeof j.pid !== 'number' || typeof j.refreshed !== 'string') return null;
    return j as LockInfo;
  } catch {
    return null;
  }
}

interface SeenLock {
  key: string;
  raw: Buffer;
  /** null: empty or unparseable (being written by an O_EXCL create, or garbage). */
  info: LockInfo | null;
  modified: number | undefined;
}

async function readLock(store: ObjectStore, key: string, modified?: number): Promise<SeenLock | null> {
  try {
    const raw = await store.get(key);
    return { key, raw, info: parseLock(raw), modified };
  } catch (e) {
    if (e instanceof ObjectNotFound) return null;
    throw e;
  }
}

/**
 * An unreadable lock is one being written (the O_EXCL create of a folder on exFAT shows the name
 * before the content) or the remains of a crash in that instant: live while young, stale after.
 */
function seenStale(l: SeenLock, now: number, me: LockIdentity): boolean {
  if (l.info) return isStale(l.info, now, me);
  return l.modified === undefined || now - l.modified > LOCK_STALE_MS;
}

/**
 * Deletes a stale lock only if it still holds exactly what was judged stale: a holder that
 * refreshed meanwhile (or a new lock under the same name) is left alone. There is no
 * compare-and-delete in object stores, so a refresh landing between the re-read and the delete is
 * lost; that holder finds its lock gone at its next check() and stops before committing.
 */
async function breakStale(store: ObjectStore, l: SeenLock): Promise<void> {
  const again = await readLock(store, l.key);
  if (again && again.raw.equals(l.raw)) await store.delete(l.key);
}

function conflicts(mine: LockKind, other: SeenLock): boolean {
  // An unreadable lock may be an exclusive one being written: it conflicts with everything.
  return mine === 'exclusive' || !other.info || other.info.kind === 'exclusive';
}

function holderOf(l: SeenLock): LockInfo {
  return l.info ?? { kind: 'exclusive', host: '?', pid: 0, operation: 'a lock being written', created: '?', refreshed: '?' };
}

export interface AcquireOptions {
  /** Wait for a conflicting holder instead of failing at once (prune meeting a backup). */
  wait?: {
    /** Give up (VaultBusy) after this long; default LOCK_STALE_MS, by when a dead holder is stale. */
    maxMs?: number;
    /** First pause between attempts (default 1 s); doubles up to 30 s, with jitter. */
    minDelayMs?: number;
    signal?: AbortSignal;
    /** Called before each pause with the holder waited for (for the job's message). */
    onWait?: (holder: LockInfo, message: string) => void;
  };
  clock?: LockClock;
}

export class VaultLock {
  private timer: NodeJS.Timeout | undefined;
  private released = false;
  /** When the lock object was last written or read back with our content. */
  private confirmed: number;
  private lost: string | undefined;
  private lastRefreshError: string | undefined;

  private constructor(
    private readonly store: ObjectStore,
    readonly key: string,
    private info: LockInfo,
    private body: Buffer,
    private readonly clock: LockClock,
    private readonly me: LockIdentity,
  ) {
    this.confirmed = clock.now();
    this.timer = setInterval(() => void this.refresh(), LOCK_REFRESH_MS);
    this.timer.unref();
  }

  get owner(): string {
    return this.info.owner!;
  }

  /**
   * Write my lock, then look for conflicting ones; on a conflict delete mine and back off. Two
   * racing parties cannot both miss each other (the later lister sees the earlier writer, as
   * listings are strongly consistent), so at worst both back off; random pauses break the tie.
   * Exclusive locks of stores with enforced create-only writes also take `locks/exclusive`.
   */
  static async acquire(store: ObjectStore, kind: LockKind, operation: string, opts: AcquireOptions = {}): Promise<VaultLock> {
    const clock = opts.clock ?? systemClock;
    const wait = opts.wait;
    const started = clock.now();
    const maxMs = wait?.maxMs ?? LOCK_STALE_MS;
    let delay = wait?.minDelayMs ?? 1000;
    // Even without waiting, a few quick retries: a rival that backs off at the same moment is no holder.
    let quick = 3;
    for (;;) {
      const r = await VaultLock.attempt(store, kind, operation, clock);
      if (r instanceof VaultLock) return r;
      if (wait && clock.now() - started < maxMs) {
        if (wait.signal?.aborted) throw cancelledWait();
        const h = r;
        wait.onWait?.(h, `waiting for ${h.operation} on host ${h.host} to finish`);
        await pause(delay * (0.5 + Math.random()), wait.signal);
        delay = Math.min(delay * 2, 30_000);
        continue;
      }
      if (quick-- > 0) {
        await pause(20 + Math.random() * 200);
        continue;
      }
      throw busy(r);
    }
  }

  private static async attempt(store: ObjectStore, kind: LockKind, operation: string, clock: LockClock): Promise<VaultLock | LockInfo> {
    const me = selfIdentity();
    const now = new Date(clock.now()).toISOString();
    const owner = randomBytes(16).toString('hex');
    const info: LockInfo = { kind, owner, ...me, operation, created: now, refreshed: now };
    const body = Buffer.from(JSON.stringify(info));
    let key: string;
    if (kind === 'exclusive' && store.conditionalCreate) {
      key = EXCLUSIVE_KEY;
      if (!(await store.putIfAbsent(key, body))) {
        const st = await store.stat(key);
        const cur = await readLock(store, key, st?.modified);
        if (cur && !seenStale(cur, clock.now(), me)) return holderOf(cur);
        if (cur) await breakStale(store, cur);
        if (!(await store.putIfAbsent(key, body))) {
          const again = await readLock(store, key);
          return again ? holderOf(again) : { ...info, operation: 'another process taking the lock' };
        }
      }
    } else {
      key = `${LOCK_PREFIX}${kind}-${owner}`;
      await store.put(key, body, { durable: false });
    }
    const rival = (await otherLocks(store, key, clock.now(), me)).find((l) => conflicts(kind, l));
    if (rival) {
      await store.delete(key);
      return holderOf(rival);
    }
    return new VaultLock(store, key, info, body, clock, me);
  }

  /** Rewrites the lock with a fresh time; a lock found gone or changed is lost, never rewritten. */
  async refresh(): Promise<void> {
    if (this.released || this.lost) return;
    try {
      const cur = await readLock(this.store, this.key);
      if (!cur || !cur.raw.equals(this.body)) {
        this.lost = 'the lock object was removed or replaced by another process';
        return;
      }
      const info = { ...this.info, refreshed: new Date(this.clock.now()).toISOString() };
      const body = Buffer.from(JSON.stringify(info));
      await this.store.put(this.key, body, { durable: false });
      this.info = info;
      this.body = body;
      this.confirmed = this.clock.now();
      this.lastRefreshError = undefined;
    } catch (e) {
      this.lastRefreshError = (e as Error).message;
    }
  }

  /**
   * Before a commit (a manifest write, a GC delete): the lock must still be ours (its object holds
   * what we last wrote) and current (refreshed within LOCK_REFRESH_DEADLINE_MS). Throws
   * VaultLockLost otherwise.
   */
  async check(): Promise<void> {
    if (this.lost) throw lockLost(this.info, this.lost);
    const age = this.clock.now() - this.confirmed;
    if (age > LOCK_REFRESH_DEADLINE_MS) {
      // Try once now: a storage that is back lets the job go on.
      await this.refresh();
      if (this.lost) throw lockLost(this.info, this.lost);
      if (this.clock.now() - this.confirmed > LOCK_REFRESH_DEADLINE_MS) {
        throw lockLost(this.info, `it could not be refreshed for ${Math.round(age / 60000)} minutes (${this.lastRefreshError ?? 'no answer'})`);
      }
    }
    let cur: SeenLock | null;
    try {
      cur = await readLock(this.store, this.key);
    } catch (e) {
      // A storage outage is said as such (StorageUnreachable, StorageAuthFailed), not as a lost lock.
      if (e instanceof CofferError) throw e;
      throw lockLost(this.info, `it cannot be read back: ${(e as Error).message}`);
    }
    if (!cur || !cur.raw.equals(this.body)) {
      this.lost = 'the lock object was removed or replaced by another process';
      throw lockLost(this.info, this.lost);
    }
    // Other locks are not checked: one written after ours sees ours and backs off (acquire);
    // one written before ours made us back off. Ours still being there is what counts.
  }

  /**
   * Deletes the lock object if it is still ours. Never throws: when the storage cannot be reached
   * (the job that ends here may have failed for that reason), the lock is remembered as released
   * (dead to this process's liveness checks) and its delete retried in the background.
   */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    if (this.timer) clearInterval(this.timer);
    if (await this.deleteIfMine()) return;
    releasedOwners.add(this.owner);
    this.retryDelete(0);
  }

  /** True when the object is gone or no longer ours; false when the storage did not answer. */
  private async deleteIfMine(): Promise<boolean> {
    try {
      // Never delete a lock that is no longer ours (it may be a rival's under the same name).
      const cur = await readLock(this.store, this.key);
      if (cur && cur.raw.equals(this.body)) await this.store.delete(this.key);
      return true;
    } catch {
      return false;
    }
  }

  private retryDelete(attempt: number): void {
    const delay = RELEASE_RETRY_DELAYS_MS[attempt];
    if (delay === undefined) return; // given up: the owner id stays dead here, others judge it stale by time
    setTimeout(() => {
      void this.deleteIfMine().then((done) => {
        if (done) releasedOwners.delete(this.owner);
        else this.retryDelete(attempt + 1);
      });
    }, delay).unref();
  }
}

/** Live locks other than `except`; stale ones are removed on the way (after comparing). */
async function otherLocks(store: ObjectStore, except: string, now: number, me: LockIdentity): Promise<SeenLock[]> {
  const out: SeenLock[] = [];
  for (const o of await store.list(LOCK_PREFIX)) {
    if (o.key === except) continue;
    const l = await readLock(store, o.key, o.modified);
    if (!l) continue;
    if (seenStale(l, now, me)) {
      // A stale lock stays stale whether or not its delete goes through now (an outage): go on.
      await breakStale(store, l).catch(() => undefined);
      continue;
    }
    out.push(l);
  }
  return out;
}

function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(cancelledWait());
    const t = setTimeout(done, ms);
    function done(): void {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }
    function onAbort(): void {
      clearTimeout(t);
      reject(cancelledWait());
    }
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function cancelledWait(): CofferError {
  return new CofferError('OperationCancelled', 'The job was cancelled while it waited for the vault lock.');
}

function busy(holder: LockInfo): CofferError {
  return new CofferError(
    'VaultBusy',
    `The vault is held by ${holder.operation} (${holder.kind} lock, process ${holder.pid} on ${holder.host}, since ${holder.created}).`,
    { holder },
  );
}

function lockLost(mine: LockInfo, why: string): CofferError {
  return new CofferError('VaultLockLost', `The ${mine.kind} lock of ${mine.operation} is no longer valid: ${why}. Nothing was committed.`, { why });
}
