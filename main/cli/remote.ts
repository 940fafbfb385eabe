import { randomBytes, timingSafeEqual } from 'node:crypto';
import * as http from 'node:http';
import WebSocket from 'ws';
import { finishedStatuses, type ArgsOf, type Job, type MethodName, type Result, type ResultOf } from '../../preload/contract.js';
import { errorCatalog } from '../../preload/errors.js';
import { encodeCall, HOST_PROOF_PATH, parseHostMessage, SOCKET_PATH } from '../../preload/wire.js';
import { CofferError } from '../core/errors.js';
import { hostProof, type HostInfo } from '../host/host-file.js';

/**
 * Whether the server on the recorded port is the host that wrote host.json: it must answer a fresh
 * nonce with the HMAC under the recorded token. Nothing secret is sent before this holds.
 */
export function verifyHost(host: HostInfo, timeoutMs = 3000): Promise<boolean> {
  const nonce = randomBytes(32).toString('base64url');
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port: host.port, path: `${HOST_PROOF_PATH}?nonce=${nonce}`, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        body += d;
        if (body.length > 4096) req.destroy();
      });
      res.on('end', () => {
        try {
          const proof = (JSON.parse(body) as { proof?: unknown }).proof;
          const want = Buffer.from(hostProof(host.token, nonce));
          const got = Buffer.from(typeof proof === 'string' ? proof : '');
          resolve(res.statusCode === 200 && got.length === want.length && timingSafeEqual(got, want));
        } catch {
          resolve(false);
        }
      });
      res.on('error', () => resolve(false));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

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
      // A message that is not the protocol is ignored, never a crash of the CLI.
      const msg = parseHostMessage(data.toString());
      if (msg?.kind === 'event' && msg.event === 'jobUpdated') for (const l of this.jobListeners) l(msg.payload as Job);
      else if (msg?.kind === 'reply' && msg.id !== null) {
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

  /** A verified connection to the host, or undefined when none answers as the real host there. */
  static async connect(host: HostInfo, timeoutMs = 3000): Promise<RemoteEngine | undefined> {
    if (!(await verifyHost(host, timeoutMs))) return undefined;
    const origin = `http://127.0.0.1:${host.port}`;
    const ws = new WebSocket(`ws://127.0.0.1:${host.port}${SOCKET_PATH}?token=${encodeURIComponent(host.token)}`, { origin });
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
      const encoded = encodeCall(id, method, args);
      if (!encoded.ok) return resolve({ ok: false, error: encoded.error });
      if (this.ws.readyState !== WebSocket.OPEN) {
        return resolve({ ok: false, error: { code: 'EngineUnreachable', ...errorCatalog.EngineUnreachable } });
      }
      this.pending.set(id, resolve as (r: Result<unknown>) => void);
      this.ws.send(encoded.text);
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
          // Keep the host's code and remedy: the user sees what the host said.
          reject(new CofferError(r.error.code, r.error.message, r.error.details, r.error.remedy));
        } else listener(r.value);
      });
    });
  }

  close(): void {
    this.ws.close();
  }
}
