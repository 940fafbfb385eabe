import WebSocket from 'ws';
import { finishedStatuses, type ArgsOf, type Job, type MethodName, type Result, type ResultOf } from '../../preload/contract.js';
import type { HostInfo } from '../host/host-file.js';

/**
 * The CLI's way into a running host: the same WebSocket the browser console uses, so a job
 * started here runs (and is scheduled, cancelled, shown) in that host, and the catalog has one writer.
 */
export class RemoteEngine {
  private nextId = 1;
  private readonly pending = new Map<number, (r: Result<unknown>) => void>();
  private readonly jobListeners = new Set<(job: Job) => void>();

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const msg = JSON.parse(data.toString()) as { id?: number; result?: Result<unknown>; event?: string; payload?: unknown };
      if (msg.event === 'jobUpdated') for (const l of this.jobListeners) l(msg.payload as Job);
      else if (typeof msg.id === 'number' && msg.result) {
        this.pending.get(msg.id)?.(msg.result);
        this.pending.delete(msg.id);
      }
    });
    ws.on('close', () => {
      for (const resolve of this.pending.values()) {
        resolve({ ok: false, error: { code: 'EngineUnreachable', message: 'The Coffer host closed the connection.', remedy: 'Run the command again.' } });
      }
      this.pending.clear();
    });
  }

  static connect(host: HostInfo, timeoutMs = 3000): Promise<RemoteEngine | undefined> {
    const origin = `http://127.0.0.1:${host.port}`;
    const ws = new WebSocket(`ws://127.0.0.1:${host.port}/ws?token=${encodeURIComponent(host.token)}`, { origin });
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        ws.terminate();
        resolve(undefined);
      }, timeoutMs);
      ws.once('open', () => {
        clearTimeout(timer);
        resolve(new RemoteEngine(ws));
      });
      ws.once('error', () => {
        clearTimeout(timer);
        resolve(undefined);
      });
    });
  }

  invoke<M extends MethodName>(method: M, args: ArgsOf<M>): Promise<Result<ResultOf<M>>> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve as (r: Result<unknown>) => void);
      this.ws.send(JSON.stringify({ id, method, args }));
    });
  }

  /** Resolves when the job has ended, following the host's job events. */
  async waitJob(id: number): Promise<Job> {
    return new Promise((resolve, reject) => {
      const listener = (job: Job): void => {
        if (job.id === id && finishedStatuses.includes(job.status)) {
          this.jobListeners.delete(listener);
          resolve(job);
        }
      };
      this.jobListeners.add(listener);
      // The job may have ended before we listened.
      void this.invoke('showJob', { id }).then((r) => {
        if (!r.ok) {
          this.jobListeners.delete(listener);
          reject(new Error(r.error.message));
        } else listener(r.value);
      });
    });
  }

  close(): void {
    this.ws.close();
  }
}
