import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { readBodyInto } from './remote.js';
import type { FetchRange } from './worker-protocol.js';

/**
 * The restore workers' ranged GETs (worker.ts): a prepared, signed request (ObjectStore.rangeRequest)
 * sent as is, its body read into the caller's buffer.
 *
 * The socket reads straight into the batch buffer: `onread` (net.Socket, and tls.TLSSocket, whose
 * decryption then writes there) gets a view of the buffer where the body's next bytes go, so each
 * byte is copied once, by the kernel or by TLS. node:http(s) would copy every socket read twice
 * more (into a Buffer of its own, then its parser's body slice into another) and allocate both:
 * measured on s3rver and azurite, those copies, their page faults and the stream events per 64 KiB
 * were most of the CPU a remote restore spent over a local one. The response framing this needs
 * is small and is all checked: a status line, headers up to HEAD_MAX bytes, a Content-Length equal
 * to the range; anything else (chunked, a 1xx, a longer body) fails the GET, and the engine reads
 * that range through the store. TLS checks the certificate and host name as node:https does
 * (the system's CAs, NODE_EXTRA_CA_CERTS).
 */

/** An error of a worker GET: only a status or a code, never the URL or headers (they carry the signature). */
export class GetFailed extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

/** What a failed GET reports back to the engine: its reason, or an error code, never the request. */
export function failureOf(e: unknown): string {
  if (e instanceof GetFailed) return e.reason;
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return code && /^[A-Z_]+$/.test(code) ? code : 'connection lost';
}

/**
 * Sends one prepared GET and reads its body into `into` exactly (206, or 200 of exactly that length).
 * `ca`: certificates to trust instead of the system's (tests with a server of their own).
 */
export function getRangeInto(f: FetchRange, into: Buffer, ca?: string): Promise<void> {
  const url = new URL(f.url);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return Promise.reject(new GetFailed(`not an http(s) URL`));
  // COFFER_BENCH_NODE_HTTP=1 (bench only): through node:http(s) instead, to compare the two.
  if (nodeHttp) return streamGet(url, f, into);
  return directGet(url, f, into, ca);
}

const nodeHttp = process.env.COFFER_BENCH_NODE_HTTP === '1';
/** Keep-alive connections of the node:http(s) comparison (COFFER_BENCH_NODE_HTTP). */
const agents = { 'https:': new https.Agent({ keepAlive: true, maxSockets: 8 }), 'http:': new http.Agent({ keepAlive: true, maxSockets: 8 }) };

function streamGet(url: URL, f: FetchRange, into: Buffer): Promise<void> {
  const secure = url.protocol === 'https:';
  return new Promise<void>((resolve, reject) => {
    const req = (secure ? https : http).request(url, { method: 'GET', headers: f.headers, agent: secure ? agents['https:'] : agents['http:'], timeout: f.timeoutMs }, (res) => {
      const len = Number(res.headers['content-length']);
      if (!rangeStatus(res.statusCode ?? 0, len, into.length)) {
        res.resume();
        reject(new GetFailed(`HTTP ${res.statusCode}`));
        return;
      }
      readBodyInto(res, into, 'a ranged get').then(resolve, reject);
    });
    req.once('timeout', () => req.destroy(new GetFailed(`no answer within ${Math.round(f.timeoutMs / 1000)} s`)));
    req.once('error', reject);
    req.end();
  });
}

/** 206 for a range; 200 only if the body is exactly the range (a server that sends the whole object of that size). */
const rangeStatus = (status: number, contentLength: number, want: number): boolean => status === 206 || (status === 200 && contentLength === want);

/** Status line and headers of a response: at most this many bytes (the services send about 1 KiB). */
const HEAD_MAX = 16 * 1024;
/** Idle connections kept per host, and how long: below the 5 s keep-alive timeout of Node servers (azurite, s3rver). */
const IDLE_MAX = 8;
const IDLE_MS = 4000;

const idle = new Map<string, Conn[]>();

async function directGet(url: URL, f: FetchRange, into: Buffer, ca: string | undefined): Promise<void> {
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const secure = url.protocol === 'https:';
  const port = Number(url.port || (secure ? 443 : 80));
  // Kept connections are reused only for the same server under the same trust.
  const key = `${url.protocol}//${host}:${port}${ca ? `\n${ca}` : ''}`;
  let head = `GET ${url.pathname}${url.search} HTTP/1.1\r\n`;
  let hasHost = false;
  for (const [k, v] of Object.entries(f.headers)) {
    if (/[\r\n]/.test(k) || /[\r\n]/.test(String(v))) throw new GetFailed('a header of the request is not valid');
    if (k.toLowerCase() === 'host') hasHost = true;
    head += `${k}: ${v}\r\n`;
  }
  if (!hasHost) head += `host: ${url.host}\r\n`;
  head += '\r\n';
  const reused = idle.get(key)?.pop();
  if (reused) {
    try {
      await reused.get(head, into, f.timeoutMs);
      return;
    } catch (e) {
      // The server may close an idle connection just as it is reused: nothing came back, so the
      // GET goes once more on a new connection.
      if (!(e instanceof Stale)) throw e;
    }
  }
  await new Conn(host, port, key, secure ? { ca } : undefined).get(head, into, f.timeoutMs);
}

/** A reused connection that closed before any byte of the response. */
class Stale extends Error {}

interface Job {
  into: Buffer;
  resolve: () => void;
  reject: (e: Error) => void;
  /** Bytes of the response seen so far (a reused connection that fails before any is stale). */
  seen: number;
}

/** One keep-alive connection whose reads land in the current body's buffer (onread). */
class Conn {
  private readonly socket: net.Socket;
  private readonly headBuf = Buffer.allocUnsafe(HEAD_MAX);
  private headLen = 0;
  /** The body being read into, once the headers are parsed, and how much of it has come. */
  private body: Buffer | undefined;
  private done = 0;
  private job: Job | undefined;
  private keepAlive = true;
  private used = false;
  private idleTimer: NodeJS.Timeout | undefined;
  private timeoutMs = 0;

  constructor(
    host: string,
    port: number,
    private readonly key: string,
    secure?: { ca: string | undefined },
  ) {
    const onread = { buffer: () => this.nextBuffer(), callback: (n: number) => this.onRead(n) };
    this.socket = secure
      ? // SNI and the host-name check use the name; an IP address is checked against the certificate's IP entries.
        // tls.connect takes onread since Node 15.1 (nodejs/node#35753: decrypted bytes go to the given buffer); @types/node lacks it.
        tls.connect({ host, port, onread, ...(net.isIP(host) ? {} : { servername: host }), ...(secure.ca ? { ca: secure.ca } : {}) } as tls.ConnectionOptions)
      : net.connect({ host, port, onread });
    this.socket.setNoDelay(true);
    this.socket.on('error', (e) => this.fail(e));
    this.socket.on('close', () => this.fail(new GetFailed('connection lost')));
    this.socket.on('timeout', () => this.fail(new GetFailed(`no answer within ${Math.round(this.timeoutMs / 1000)} s`)));
  }

  get(head: string, into: Buffer, timeoutMs: number): Promise<void> {
    const stale = this.used;
    this.used = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    this.socket.ref();
    this.timeoutMs = timeoutMs;
    this.socket.setTimeout(timeoutMs);
    return new Promise<void>((resolve, reject) => {
      // A reused connection that fails before any response byte was stale (closed by the server while idle).
      const job: Job = { into, seen: 0, resolve, reject: (e) => reject(stale && job.seen === 0 ? new Stale() : e) };
      this.job = job;
      this.socket.write(head, 'latin1');
    });
  }

  /** Where the next socket read goes: the rest of the body, or the header buffer. */
  private nextBuffer(): Buffer {
    if (this.body) return this.body.subarray(this.done);
    return this.headBuf.subarray(this.headLen);
  }

  private onRead(n: number): boolean {
    const job = this.job;
    if (!job) {
      // Bytes nobody asked for: the connection is out of step.
      this.socket.destroy();
      return false;
    }
    job.seen += n;
    if (this.body) {
      this.done += n;
      if (this.done === this.body.length) this.finish();
      return true;
    }
    const from = Math.max(0, this.headLen - 3);
    this.headLen += n;
    const end = this.headBuf.subarray(0, this.headLen).indexOf('\r\n\r\n', from, 'latin1');
    if (end < 0) {
      if (this.headLen === HEAD_MAX) this.fail(new GetFailed('response headers too long'));
      return true;
    }
    const err = this.parseHead(this.headBuf.toString('latin1', 0, end), job.into.length);
    if (err) {
      this.fail(new GetFailed(err));
      return false;
    }
    // Body bytes that came with the headers: copied once (at most HEAD_MAX, once per GET).
    const extra = this.headLen - end - 4;
    if (extra > job.into.length) {
      this.fail(new GetFailed('response body longer than the range'));
      return false;
    }
    this.headBuf.copy(job.into, 0, end + 4, this.headLen);
    this.headLen = 0;
    this.body = job.into;
    this.done = extra;
    if (this.done === this.body.length) this.finish();
    return true;
  }

  /** Checks the status line and framing headers; returns why the response is refused, if it is. */
  private parseHead(text: string, want: number): string | undefined {
    const lines = text.split('\r\n');
    const m = /^HTTP\/1\.([01]) (\d{3})/.exec(lines[0] ?? '');
    if (!m) return 'not an HTTP/1.1 response';
    const status = Number(m[2]);
    if (m[1] === '0') this.keepAlive = false;
    let length = NaN;
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      const c = line.indexOf(':');
      if (c < 0) continue;
      const name = line.slice(0, c).trim().toLowerCase();
      const value = line.slice(c + 1).trim();
      if (name === 'content-length') length = /^\d+$/.test(value) ? Number(value) : NaN;
      else if (name === 'transfer-encoding') return `HTTP ${status} with transfer-encoding ${value}`;
      else if (name === 'connection' && value.toLowerCase() === 'close') this.keepAlive = false;
    }
    if (!rangeStatus(status, length, want)) return `HTTP ${status}`;
    if (length !== want) return `HTTP ${status} with a body of ${Number.isNaN(length) ? 'unknown' : length} bytes, not ${want}`;
    return undefined;
  }

  private finish(): void {
    const job = this.job!;
    this.job = undefined;
    this.body = undefined;
    this.done = 0;
    this.socket.setTimeout(0);
    if (this.keepAlive) {
      const list = idle.get(this.key) ?? [];
      if (list.length < IDLE_MAX) {
        list.push(this);
        idle.set(this.key, list);
        this.socket.unref();
        this.idleTimer = setTimeout(() => this.socket.destroy(), IDLE_MS).unref();
      } else this.socket.end();
    } else this.socket.end();
    job.resolve();
  }

  private fail(e: Error): void {
    const list = idle.get(this.key);
    const at = list?.indexOf(this) ?? -1;
    if (at >= 0) list!.splice(at, 1);
    if (this.idleTimer) clearTimeout(this.idleTimer);
    const job = this.job;
    this.job = undefined;
    this.body = undefined;
    if (!this.socket.destroyed) this.socket.destroy();
    job?.reject(e);
  }
}
