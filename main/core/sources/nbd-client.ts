import { connect, type Socket } from 'node:net';

/*
 * A minimal NBD client (https://github.com/NetworkBlockDevice/nbd/blob/master/doc/proto.md): the
 * fixed-newstyle handshake with NBD_OPT_GO, then NBD_CMD_READ with simple replies, pipelined
 * (several reads in flight, matched by handle). Enough to read a libvirt pull-mode backup export
 * (QEMU's NBD server on a unix socket) chunk by chunk without spawning a process per range.
 * No structured replies are negotiated, so every read answers with one simple reply and its data.
 */

const NBDMAGIC = Buffer.from('NBDMAGIC');
const IHAVEOPT = Buffer.from('IHAVEOPT');
const OPT_REPLY_MAGIC = 0x3e889045565a9n;
const REQUEST_MAGIC = 0x25609513;
const SIMPLE_REPLY_MAGIC = 0x67446698;
const FLAG_FIXED_NEWSTYLE = 1;
const FLAG_NO_ZEROES = 2;
const OPT_GO = 7;
const REP_ACK = 1;
const REP_INFO = 3;
const INFO_EXPORT = 0;
const CMD_READ = 0;
const CMD_DISC = 2;
/** Largest read sent as one request (QEMU announces 32 MiB; 4 MiB keeps buffers small). */
const MAX_REQUEST = 4 * 1024 * 1024;

export class NbdError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NbdError';
  }
}

/** Buffers socket data and hands out exact byte counts. */
class Reader {
  private bufs: Buffer[] = [];
  private have = 0;
  private waiter: { n: number; resolve: (b: Buffer) => void; reject: (e: Error) => void } | undefined;
  private error: Error | undefined;

  constructor(sock: Socket) {
    sock.on('data', (d: Buffer) => {
      this.bufs.push(d);
      this.have += d.length;
      this.pump();
    });
    const fail = (e: Error) => {
      this.error ??= e;
      const w = this.waiter;
      this.waiter = undefined;
      w?.reject(this.error);
    };
    sock.on('error', fail);
    sock.on('close', () => fail(new NbdError('the NBD server closed the connection')));
  }

  private pump(): void {
    const w = this.waiter;
    if (!w || this.have < w.n) return;
    this.waiter = undefined;
    w.resolve(this.take(w.n));
  }

  private take(n: number): Buffer {
    const all = this.bufs.length === 1 ? this.bufs[0]! : Buffer.concat(this.bufs);
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    this.bufs = rest.length ? [rest] : [];
    this.have = rest.length;
    return out;
  }

  read(n: number): Promise<Buffer> {
    if (this.have >= n) return Promise.resolve(this.take(n));
    if (this.error) return Promise.reject(this.error);
    return new Promise((resolve, reject) => {
      this.waiter = { n, resolve, reject };
    });
  }
}

export interface NbdExport {
  /** The export's size in bytes. */
  readonly size: number;
  /** Exactly `length` bytes at `offset` (several calls may be in flight at once). */
  read(offset: number, length: number): Promise<Buffer>;
  /** Bytes read from the server so far. */
  readonly bytesRead: number;
  close(): Promise<void>;
}

/** Connects to `socketPath` and opens export `name` (NBD_OPT_GO). */
export async function openNbdExport(socketPath: string, name: string): Promise<NbdExport> {
  const sock = connect(socketPath);
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', resolve);
    sock.once('error', reject);
  });
  const r = new Reader(sock);
  try {
    const hello = await r.read(18);
    if (!hello.subarray(0, 8).equals(NBDMAGIC) || !hello.subarray(8, 16).equals(IHAVEOPT)) throw new NbdError('not a newstyle NBD server');
    const serverFlags = hello.readUInt16BE(16);
    if (!(serverFlags & FLAG_FIXED_NEWSTYLE)) throw new NbdError('the NBD server does not speak fixed newstyle');
    const noZeroes = (serverFlags & FLAG_NO_ZEROES) !== 0;
    const flags = Buffer.alloc(4);
    flags.writeUInt32BE(FLAG_FIXED_NEWSTYLE | (noZeroes ? FLAG_NO_ZEROES : 0));
    const nameBuf = Buffer.from(name, 'utf8');
    const data = Buffer.alloc(4 + nameBuf.length + 2);
    data.writeUInt32BE(nameBuf.length, 0);
    nameBuf.copy(data, 4);
    data.writeUInt16BE(0, 4 + nameBuf.length); // no extra info requests: NBD_INFO_EXPORT always comes
    const head = Buffer.alloc(16);
    IHAVEOPT.copy(head, 0);
    head.writeUInt32BE(OPT_GO, 8);
    head.writeUInt32BE(data.length, 12);
    sock.write(Buffer.concat([flags, head, data]));
    let size: number | undefined;
    for (;;) {
      const rep = await r.read(20);
      if (rep.readBigUInt64BE(0) !== OPT_REPLY_MAGIC) throw new NbdError('bad option reply from the NBD server');
      const type = rep.readUInt32BE(12);
      const len = rep.readUInt32BE(16);
      const body = len ? await r.read(len) : Buffer.alloc(0);
      if (type & 0x80000000) throw new NbdError(`the NBD server refused export ${JSON.stringify(name)}: ${body.subarray(0).toString('utf8') || `error ${type & 0x7fffffff}`}`);
      if (type === REP_INFO && body.length >= 12 && body.readUInt16BE(0) === INFO_EXPORT) size = Number(body.readBigUInt64BE(2));
      if (type === REP_ACK) break;
    }
    if (size === undefined) throw new NbdError(`the NBD server did not say the size of export ${JSON.stringify(name)}`);
    return new Connection(sock, r, size);
  } catch (e) {
    sock.destroy();
    throw e;
  }
}

class Connection implements NbdExport {
  bytesRead = 0;
  private nextHandle = 1n;
  private readonly pending = new Map<bigint, { length: number; resolve: (b: Buffer) => void; reject: (e: Error) => void }>();
  private failed: Error | undefined;
  private closed = false;

  constructor(
    private readonly sock: Socket,
    private readonly r: Reader,
    readonly size: number,
  ) {
    void this.replies();
  }

  private async replies(): Promise<void> {
    try {
      for (;;) {
        const rep = await this.r.read(16);
        if (rep.readUInt32BE(0) !== SIMPLE_REPLY_MAGIC) throw new NbdError('bad reply from the NBD server');
        const err = rep.readUInt32BE(4);
        const handle = rep.readBigUInt64BE(8);
        const p = this.pending.get(handle);
        if (!p) throw new NbdError(`the NBD server answered an unknown request ${handle}`);
        this.pending.delete(handle);
        if (err !== 0) {
          p.reject(new NbdError(`the NBD server failed a read: error ${err}`));
          continue;
        }
        const data = await this.r.read(p.length);
        this.bytesRead += p.length;
        p.resolve(data);
      }
    } catch (e) {
      this.failed = e as Error;
      for (const p of this.pending.values()) p.reject(this.failed);
      this.pending.clear();
    }
  }

  private request(offset: number, length: number): Promise<Buffer> {
    if (this.failed) return Promise.reject(this.failed);
    if (this.closed) return Promise.reject(new NbdError('the NBD connection is closed'));
    const handle = this.nextHandle++;
    const req = Buffer.alloc(28);
    req.writeUInt32BE(REQUEST_MAGIC, 0);
    req.writeUInt16BE(0, 4);
    req.writeUInt16BE(CMD_READ, 6);
    req.writeBigUInt64BE(handle, 8);
    req.writeBigUInt64BE(BigInt(offset), 16);
    req.writeUInt32BE(length, 24);
    return new Promise((resolve, reject) => {
      this.pending.set(handle, { length, resolve, reject });
      this.sock.write(req);
    });
  }

  async read(offset: number, length: number): Promise<Buffer> {
    if (offset < 0 || length < 0 || offset + length > this.size) throw new NbdError(`read of ${length} bytes at ${offset} is outside the export (${this.size} bytes)`);
    if (length <= MAX_REQUEST) return this.request(offset, length);
    const parts: Promise<Buffer>[] = [];
    for (let at = 0; at < length; at += MAX_REQUEST) parts.push(this.request(offset + at, Math.min(MAX_REQUEST, length - at)));
    return Buffer.concat(await Promise.all(parts));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (!this.failed) {
      const req = Buffer.alloc(28);
      req.writeUInt32BE(REQUEST_MAGIC, 0);
      req.writeUInt16BE(CMD_DISC, 6);
      this.sock.write(req);
    }
    await new Promise<void>((resolve) => {
      this.sock.end(() => resolve());
      setTimeout(resolve, 2000).unref();
    });
    this.sock.destroy();
  }
}
