import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { VaultKeys } from './config.js';
import type { WorkerReply, WorkerRequest } from './worker-protocol.js';

type Pending = { resolve: (r: WorkerReply) => void; reject: (e: Error) => void };
type Req = WorkerRequest extends infer R ? (R extends { job: number } ? Omit<R, 'job'> : never) : never;

/** Where the bundled worker is: beside this bundle in dist/, or <repo>/dist when running TS sources. */
export function workerScriptPath(): string {
  const here = fileURLToPath(import.meta.url);
  const dir = path.dirname(here);
  if (path.basename(dir) === 'dist' || dir.split(path.sep).includes('dist')) {
    const sibling = path.join(dir, 'vault-worker.mjs');
    if (existsSync(sibling)) return sibling;
  }
  let d = dir;
  for (;;) {
    if (existsSync(path.join(d, 'package.json'))) return path.join(d, 'dist', 'vault-worker.mjs');
    const up = path.dirname(d);
    if (up === d) throw new Error('cannot find the Coffer repository root for dist/vault-worker.mjs');
    d = up;
  }
}

class PoolWorker {
  readonly worker: Worker;
  readonly pending = new Map<number, Pending>();
  failed: Error | undefined;

  constructor(script: string) {
    this.worker = new Worker(script);
    this.worker.on('message', (m: WorkerReply) => {
      const p = this.pending.get(m.job);
      if (!p) return;
      this.pending.delete(m.job);
      if (m.type === 'error') {
        const e = new Error(m.message) as NodeJS.ErrnoException;
        if (m.code) e.code = m.code;
        p.reject(e);
      } else p.resolve(m);
    });
    const fail = (e: Error): void => {
      this.failed = e;
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`vault worker exited (${code})`)));
  }
}

/**
 * A pool of worker threads sized to the cores. Requests carry job numbers; 'seal' and 'drop'
 * must go to the worker that hashed the segment, so callers get the worker index back.
 */
export class WorkerPool {
  private readonly workers: PoolWorker[];
  private nextJob = 1;
  private closed = false;

  private constructor(script: string, size: number) {
    this.workers = Array.from({ length: size }, () => new PoolWorker(script));
  }

  static async start(keys: VaultKeys, chunkSize: number, level: number, size = availableParallelism()): Promise<WorkerPool> {
    const pool = WorkerPool.spawn(size);
    await pool.init(keys, chunkSize, level);
    return pool;
  }

  /**
   * Starts the threads without keys, so they load their module while the caller is busy
   * (Vault.open spawns them during scrypt). They do not keep the process alive until init().
   */
  static spawn(size = availableParallelism()): WorkerPool {
    const pool = new WorkerPool(workerScriptPath(), Math.max(1, size));
    for (const w of pool.workers) w.worker.unref();
    return pool;
  }

  async init(keys: VaultKeys, chunkSize: number, level: number): Promise<void> {
    for (const w of this.workers) w.worker.ref();
    await Promise.all(
      this.workers.map((_, i) =>
        this.send(i, { type: 'init', encKey: new Uint8Array(keys.encKey), macKey: new Uint8Array(keys.macKey), chunkSize, level }),
      ),
    );
  }

  get size(): number {
    return this.workers.length;
  }

  /** The worker with the fewest requests in flight. */
  leastBusy(): number {
    let best = 0;
    for (let i = 1; i < this.workers.length; i++) {
      if (this.workers[i]!.pending.size < this.workers[best]!.pending.size) best = i;
    }
    return best;
  }

  inFlight(): number {
    return this.workers.reduce((s, w) => s + w.pending.size, 0);
  }

  send<T extends WorkerReply['type']>(
    worker: number,
    req: Req,
    transfer: ArrayBuffer[] = [],
    job = this.nextJob++,
  ): Promise<Extract<WorkerReply, { type: T }>> {
    const w = this.workers[worker]!;
    if (this.closed) return Promise.reject(new Error('the worker pool is closed'));
    if (w.failed) return Promise.reject(w.failed);
    return new Promise((resolve, reject) => {
      w.pending.set(job, { resolve: resolve as (r: WorkerReply) => void, reject });
      w.worker.postMessage({ ...req, job } as WorkerRequest, transfer);
    });
  }

  newJob(): number {
    return this.nextJob++;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.workers.map((w) => w.worker.terminate()));
  }
}
