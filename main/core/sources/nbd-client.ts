import { connect, type Socket } from 'node:net';

/*
 * A minimal NBD client (https://github.com/NetworkBlockDevice/nbd/blob/master/doc/proto.md): the
 * fixed-newstyle handshake with NBD_OPT_GO, then NBD_CMD_READ with simple replies, pipelined
 * (several reads in flight, matched by handle). Enough to read a libvirt pull-mode backup export
 * (QEMU's NBD server on a unix socket) chunk by chunk without spawning a process per range.
 * No structured replies are negotiated for reads, so every read answers with one simple reply and
 * its data. The dirty extents (nbdExtents) come over a connection of their own that negotiates
 * structured replies and the bitmap's metadata context, then asks NBD_CMD_BLOCK_STATUS.
 */

const NBDMAGIC = Buffer.from('NBDMAGIC');
const IHAVEOPT = Buffer.from('IHAVEOPT');
const OPT_REPLY_MAGIC = 0x3e889045565a9n;
const REQUEST_MAGIC = 0x25609513;
const SIMPLE_REPLY_MAGIC = 0x67446698;
const FLAG_FIXED_NEWSTYLE = 1;
const FLAG_NO_ZEROES = 2;
const OPT_GO = 7;
const OPT_STRUCTURED_REPLY = 8;
const OPT_SET_META_CONTEXT = 10;
const REP_ACK = 1;
const REP_INFO = 3;
const REP_META_CONTEXT = 4;
const STRUCTURED_REPLY_MAGIC = 0x668e33ef;
const REPLY_FLAG_DONE = 1;
const REPLY_TYPE_BLOCK_STATUS = 5;
const REPLY_TYPE_ERROR_BIT = 0x8000;
const CMD_BLOCK_STATUS = 7;
const INFO_EXPORT = 0;
const CMD_READ = 0;
const CMD_DISC = 2;
/**
 * Largest read sent as one request (QEMU announces 32 MiB); a longer read goes out as several,
 * all at once. QEMU's server works on up to 16 requests of a client at a time, so small requests
 * in flight keep its block layer busy where one large request leaves it serial: nbdcopy's 16 x
 * 128-256 KiB read a TCG guest's export at 141 MiB/s where 4 MiB requests gave about 26 MiB/s
 * (test/bench/nbd-probe.mjs, docs/performance.md).
 */
export const NBD_REQUEST_BYTES = 256 * 1024;
/**
 * The socket's receive buffer (Node's `onread`) for the handshake and block status. A read's reply
 * needs none: its 16-byte header is read into the header buffer, then its data straight into the
 * reader's buffer (see Connection.next), so no data byte is copied after the kernel's copy.
 */
const RECEIVE_BUFFER = 256 * 1024;

export class NbdError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NbdError';
  }
}

/**
 * A unix socket whose received bytes go to one consumer at a time (`sink`; the chunk is only
 * valid during the call: it is the socket's one receive buffer, reused, or the memory `next`
 * chose): the handshake's Reader, then a Connection's reply parser. `next` chooses where the
 * socket's next read lands (the receive buffer unless the consumer says otherwise). `fail` hears
 * the socket's error or close once.
 */
interface Wire {
  sock: Socket;
  sink: (chunk: Buffer) => void;
  next: (() => Buffer | undefined) | undefined;
  fail: (e: Error) => void;
}

function dial(socketPath: string): Promise<Wire> {
  const wire: Wire = { sock: undefined as unknown as Socket, sink: () => undefined, next: undefined, fail: () => undefined };
  let failed = false;
  const fail = (e: Error) => {
    if (failed) return;
    failed = true;
    wire.fail(e);
  };
  const recv = Buffer.allocUnsafe(RECEIVE_BUFFER);
  /** Where the read in progress lands: onread asks for the next buffer after each callback. */
  let into: Buffer = recv;
  wire.sock = connect({
    path: socketPath,
    onread: {
      buffer: () => (into = wire.next?.() ?? recv),
      callback: (n) => {
        wire.sink(into.subarray(0, n));
        return true;
      },
    },
  });
  wire.sock.on('error', fail);
  wire.sock.on('close', () => fail(new NbdError('the NBD server closed the connection')));
  return new Promise((resolve, reject) => {
    wire.sock.once('connect', () => resolve(wire));
    wire.sock.once('error', reject);
  });
}

/** Buffers the bytes of a wire (copied: small option replies and block status) and hands out exact byte counts. */
class Reader {
  private bufs: Buffer[] = [];
  private have = 0;
  private waiter: { n: number; resolve: (b: Buffer) => void; reject: (e: Error) => void } | undefined;
  private error: Error | undefined;

  constructor(wire: Wire) {
    wire.sink = (d) => {
      this.bufs.push(Buffer.from(d));
      this.have += d.length;
      this.pump();
    };
    wire.fail = (e) => {
      this.error ??= e;
      const w = this.waiter;
      this.waiter = undefined;
      w?.reject(this.error);
    };
  }

  /** What is buffered and not read yet (handed over with the wire to the next consumer). */
  rest(): Buffer[] {
    const out = this.bufs;
    this.bufs = [];
    this.have = 0;
    return out;
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
  /**
   * Exactly `length` bytes at `offset`, into `into` when given (at least `length` bytes: the reply
   * data is copied there straight from the socket) or into a new buffer; answers that buffer's
   * first `length` bytes. Several calls may be in flight at once.
   */
  read(offset: number, length: number, into?: Buffer): Promise<Buffer>;
  /** Bytes read from the server so far. */
  readonly bytesRead: number;
  close(): Promise<void>;
}

export interface NbdOpenOptions {
  /** Largest request a read is split into (default NBD_REQUEST_BYTES). */
  requestBytes?: number;
}

/** Connects to `socketPath` and opens export `name` (NBD_OPT_GO). */
export async function openNbdExport(socketPath: string, name: string, opts: NbdOpenOptions = {}): Promise<NbdExport> {
  const { wire, r, size } = await handshake(socketPath, name);
  return new Connection(wire, r.rest(), size, opts.requestBytes ?? NBD_REQUEST_BYTES);
}

/** Sends one option request (IHAVEOPT, option, length, data). */
function sendOption(sock: Socket, option: number, data: Buffer): void {
  const head = Buffer.alloc(16);
  IHAVEOPT.copy(head, 0);
  head.writeUInt32BE(option, 8);
  head.writeUInt32BE(data.length, 12);
  sock.write(Buffer.concat([head, data]));
}

/** Option replies until NBD_REP_ACK; each non-ACK reply goes to `onReply`. An error reply throws. */
async function optionReplies(r: Reader, what: string, onReply: (type: number, body: Buffer) => void): Promise<void> {
  for (;;) {
    const rep = await r.read(20);
    if (rep.readBigUInt64BE(0) !== OPT_REPLY_MAGIC) throw new NbdError('bad option reply from the NBD server');
    const type = rep.readUInt32BE(12);
    const len = rep.readUInt32BE(16);
    const body = len ? await r.read(len) : Buffer.alloc(0);
    if (type & 0x80000000) throw new NbdError(`the NBD server refused ${what}: ${body.toString('utf8') || `error ${type & 0x7fffffff}`}`);
    if (type === REP_ACK) return;
    onReply(type, body);
  }
}

/** u32 length + UTF-8 bytes. */
const lengthPrefixed = (s: string): Buffer => {
  const b = Buffer.from(s, 'utf8');
  const out = Buffer.alloc(4 + b.length);
  out.writeUInt32BE(b.length, 0);
  b.copy(out, 4);
  return out;
};

/**
 * The fixed-newstyle handshake up to NBD_OPT_GO. `metaContext`: also negotiate structured
 * replies and that metadata context (NBD_OPT_SET_META_CONTEXT), answering its id.
 */
async function handshake(socketPath: string, name: string, metaContext?: string): Promise<{ wire: Wire; r: Reader; size: number; contextId?: number }> {
  const wire = await dial(socketPath);
  const sock = wire.sock;
  const r = new Reader(wire);
  try {
    const hello = await r.read(18);
    if (!hello.subarray(0, 8).equals(NBDMAGIC) || !hello.subarray(8, 16).equals(IHAVEOPT)) throw new NbdError('not a newstyle NBD server');
    const serverFlags = hello.readUInt16BE(16);
    if (!(serverFlags & FLAG_FIXED_NEWSTYLE)) throw new NbdError('the NBD server does not speak fixed newstyle');
    const noZeroes = (serverFlags & FLAG_NO_ZEROES) !== 0;
    const flags = Buffer.alloc(4);
    flags.writeUInt32BE(FLAG_FIXED_NEWSTYLE | (noZeroes ? FLAG_NO_ZEROES : 0));
    sock.write(flags);
    let contextId: number | undefined;
    if (metaContext !== undefined) {
      sendOption(sock, OPT_STRUCTURED_REPLY, Buffer.alloc(0));
      await optionReplies(r, 'structured replies', () => undefined);
      const count = Buffer.alloc(4);
      count.writeUInt32BE(1);
      sendOption(sock, OPT_SET_META_CONTEXT, Buffer.concat([lengthPrefixed(name), count, lengthPrefixed(metaContext)]));
      await optionReplies(r, `metadata context ${JSON.stringify(metaContext)}`, (type, body) => {
        if (type === REP_META_CONTEXT && body.length >= 4 && body.subarray(4).toString('utf8') === metaContext) contextId = body.readUInt32BE(0);
      });
      if (contextId === undefined) throw new NbdError(`the NBD server has no metadata context ${JSON.stringify(metaContext)} on export ${JSON.stringify(name)}`);
    }
    // No extra info requests: NBD_INFO_EXPORT always comes.
    sendOption(sock, OPT_GO, Buffer.concat([lengthPrefixed(name), Buffer.alloc(2)]));
    let size: number | undefined;
    await optionReplies(r, `export ${JSON.stringify(name)}`, (type, body) => {
      if (type === REP_INFO && body.length >= 12 && body.readUInt16BE(0) === INFO_EXPORT) size = Number(body.readBigUInt64BE(2));
    });
    if (size === undefined) throw new NbdError(`the NBD server did not say the size of export ${JSON.stringify(name)}`);
    return { wire, r, size, ...(contextId !== undefined ? { contextId } : {}) };
  } catch (e) {
    sock.destroy();
    throw e;
  }
}

/** Largest range asked in one NBD_CMD_BLOCK_STATUS (the length field is 32 bits). */
const MAX_STATUS_REQUEST = 2 ** 31;

/**
 * The extents of export `name` in metadata context `context` (e.g. `qemu:dirty-bitmap:backup-vda`)
 * whose status has any bit of `mask` set, merged where adjacent: NBD_CMD_BLOCK_STATUS over the
 * whole export on a connection of its own (structured replies), then NBD_CMD_DISC. What
 * `nbdinfo --map` answers, without a process per disk.
 */
export async function nbdExtents(socketPath: string, name: string, context: string, mask = 1): Promise<{ offset: number; length: number }[]> {
  const { wire, r, size, contextId } = await handshake(socketPath, name, context);
  const sock = wire.sock;
  const out: { offset: number; length: number }[] = [];
  try {
    let handle = 1n;
    for (let at = 0; at < size; ) {
      const req = Buffer.alloc(28);
      req.writeUInt32BE(REQUEST_MAGIC, 0);
      req.writeUInt16BE(CMD_BLOCK_STATUS, 6);
      req.writeBigUInt64BE(handle, 8);
      req.writeBigUInt64BE(BigInt(at), 16);
      req.writeUInt32BE(Math.min(MAX_STATUS_REQUEST, size - at), 24);
      sock.write(req);
      let covered = 0;
      for (let done = false; !done; ) {
        const head = await r.read(20);
        if (head.readUInt32BE(0) !== STRUCTURED_REPLY_MAGIC) throw new NbdError('bad structured reply from the NBD server');
        const flags = head.readUInt16BE(4);
        const type = head.readUInt16BE(6);
        if (head.readBigUInt64BE(8) !== handle) throw new NbdError('the NBD server answered an unknown request');
        const len = head.readUInt32BE(16);
        const body = len ? await r.read(len) : Buffer.alloc(0);
        done = (flags & REPLY_FLAG_DONE) !== 0;
        if (type & REPLY_TYPE_ERROR_BIT) {
          const msgLen = body.length >= 6 ? body.readUInt16BE(4) : 0;
          throw new NbdError(`the NBD server failed the block status of ${JSON.stringify(name)}: ${body.subarray(6, 6 + msgLen).toString('utf8') || `error ${body.length >= 4 ? body.readUInt32BE(0) : '?'}`}`);
        }
        if (type !== REPLY_TYPE_BLOCK_STATUS || body.readUInt32BE(0) !== contextId) continue;
        for (let i = 4; i + 8 <= body.length; i += 8) {
          const length = body.readUInt32BE(i);
          const status = body.readUInt32BE(i + 4);
          const offset = at + covered;
          covered += length;
          if (!(status & mask) || length === 0) continue;
          const last = out[out.length - 1];
          if (last && last.offset + last.length === offset) last.length += length;
          else out.push({ offset, length });
        }
      }
      if (covered === 0) throw new NbdError(`the NBD server answered no extents for ${JSON.stringify(name)} at ${at}`);
      at += covered;
      handle++;
    }
    const disc = Buffer.alloc(28);
    disc.writeUInt32BE(REQUEST_MAGIC, 0);
    disc.writeUInt16BE(CMD_DISC, 6);
    sock.write(disc);
    await new Promise<void>((resolve) => {
      sock.end(() => resolve());
      setTimeout(resolve, 2000).unref();
    });
  } finally {
    sock.destroy();
  }
  // The last extent may run past the export's end (a bitmap's granule): clip it.
  const last = out[out.length - 1];
  if (last && last.offset + last.length > size) last.length = size - last.offset;
  return out;
}

/** One read: its buffer and the requests still to answer. */
interface ReadOp {
  left: number;
  failed: boolean;
  resolve: () => void;
  reject: (e: Error) => void;
}

/** One request of a read: where its reply's data goes. */
interface Part {
  op: ReadOp;
  into: Buffer;
}

/** Simple reply header: magic, error, handle. */
const REPLY_HEADER = 16;

/**
 * The transmission phase: reads go out as requests of at most `requestBytes` (one socket write
 * per read); replies are parsed as the socket's bytes come, each reply's data copied once from
 * the receive buffer to its place in the reader's buffer (no per-reply allocation, no concat).
 */
/** Whether chunk[i..] is the memory at dest[at..] (the socket read it into place). */
function landed(chunk: Buffer, i: number, dest: Buffer, at: number): boolean {
  return chunk.buffer === dest.buffer && chunk.byteOffset + i === dest.byteOffset + at;
}

class Connection implements NbdExport {
  bytesRead = 0;
  private nextHandle = 1;
  private readonly pending = new Map<number, Part>();
  private failed: Error | undefined;
  private closed = false;
  /** The reply header being gathered across chunks. */
  private readonly head = Buffer.alloc(REPLY_HEADER);
  private headHave = 0;
  /** The request whose data is coming, and how much of it came. */
  private cur: Part | undefined;
  private curAt = 0;
  /** Writes are corked until the end of this tick (see send). */
  private corked = false;

  constructor(
    private readonly wire: Wire,
    rest: Buffer[],
    readonly size: number,
    private readonly requestBytes: number,
  ) {
    wire.sink = (chunk) => this.onData(chunk);
    wire.next = () => this.next();
    wire.fail = (e) => this.fail(e);
    for (const b of rest) this.onData(b);
  }

  /**
   * Where the socket's next read lands: the rest of the data of the reply being received (so the
   * kernel copies it where the reader wants it), or the rest of a reply header while requests are
   * waiting (so the read stops before the data, which then goes straight to its place). An idle
   * connection or a failed read's bytes use the receive buffer.
   */
  private next(): Buffer | undefined {
    const cur = this.cur;
    if (cur) return cur.op.failed ? undefined : cur.into.subarray(this.curAt);
    return this.pending.size > 0 ? this.head.subarray(this.headHave) : undefined;
  }

  private fail(e: Error): void {
    this.failed ??= e;
    for (const p of this.pending.values()) this.settle(p.op, this.failed);
    if (this.cur) this.settle(this.cur.op, this.failed);
    this.pending.clear();
    this.cur = undefined;
  }

  private settle(op: ReadOp, e?: Error): void {
    if (op.failed) return;
    if (e) {
      op.failed = true;
      op.reject(e);
    } else if (--op.left === 0) op.resolve();
  }

  private onData(chunk: Buffer): void {
    if (this.failed) return;
    let i = 0;
    while (i < chunk.length) {
      const cur = this.cur;
      if (cur) {
        const n = Math.min(chunk.length - i, cur.into.length - this.curAt);
        // A read that failed already (another of its requests): its bytes are passed over. Bytes
        // the socket read into their place (next()) need no copy.
        if (!cur.op.failed && !landed(chunk, i, cur.into, this.curAt)) chunk.copy(cur.into, this.curAt, i, i + n);
        i += n;
        this.curAt += n;
        if (this.curAt === cur.into.length) {
          this.cur = undefined;
          this.bytesRead += cur.into.length;
          this.settle(cur.op);
        }
        continue;
      }
      let head: Buffer;
      let at: number;
      if (this.headHave === 0 && chunk.length - i >= REPLY_HEADER) {
        head = chunk;
        at = i;
        i += REPLY_HEADER;
      } else {
        const n = Math.min(REPLY_HEADER - this.headHave, chunk.length - i);
        if (!landed(chunk, i, this.head, this.headHave)) chunk.copy(this.head, this.headHave, i, i + n);
        i += n;
        this.headHave += n;
        if (this.headHave < REPLY_HEADER) return;
        this.headHave = 0;
        head = this.head;
        at = 0;
      }
      if (head.readUInt32BE(at) !== SIMPLE_REPLY_MAGIC) return this.broken(new NbdError('bad reply from the NBD server'));
      const err = head.readUInt32BE(at + 4);
      const handle = head.readUInt32BE(at + 12);
      const p = head.readUInt32BE(at + 8) === 0 ? this.pending.get(handle) : undefined;
      if (!p) return this.broken(new NbdError(`the NBD server answered an unknown request ${head.readBigUInt64BE(at + 8)}`));
      this.pending.delete(handle);
      // An error reply carries no data.
      if (err !== 0) this.settle(p.op, new NbdError(`the NBD server failed a read: error ${err}`));
      else if (p.into.length === 0) this.settle(p.op);
      else {
        this.cur = p;
        this.curAt = 0;
      }
    }
  }

  /** A reply that cannot be parsed: nothing after it can be trusted, the connection is done. */
  private broken(e: Error): void {
    this.fail(e);
    this.wire.sock.destroy();
  }

  async read(offset: number, length: number, into?: Buffer): Promise<Buffer> {
    if (offset < 0 || length < 0 || offset + length > this.size) throw new NbdError(`read of ${length} bytes at ${offset} is outside the export (${this.size} bytes)`);
    if (into && into.length < length) throw new NbdError(`a buffer of ${into.length} bytes cannot take a read of ${length}`);
    if (this.failed) throw this.failed;
    if (this.closed) throw new NbdError('the NBD connection is closed');
    const buf = into ? into.subarray(0, length) : Buffer.allocUnsafe(length);
    const count = Math.max(1, Math.ceil(length / this.requestBytes));
    const reqs = Buffer.alloc(28 * count);
    let resolve!: () => void;
    let reject!: (e: Error) => void;
    const done = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const op: ReadOp = { left: count, failed: false, resolve, reject };
    for (let k = 0; k < count; k++) {
      const at = k * this.requestBytes;
      const len = Math.min(this.requestBytes, length - at);
      const handle = this.nextHandle;
      this.nextHandle = this.nextHandle === 0xffffffff ? 1 : this.nextHandle + 1;
      const o = 28 * k;
      reqs.writeUInt32BE(REQUEST_MAGIC, o);
      reqs.writeUInt16BE(0, o + 4);
      reqs.writeUInt16BE(CMD_READ, o + 6);
      reqs.writeUInt32BE(0, o + 8);
      reqs.writeUInt32BE(handle, o + 12);
      reqs.writeBigUInt64BE(BigInt(offset + at), o + 16);
      reqs.writeUInt32BE(len, o + 24);
      this.pending.set(handle, { op, into: buf.subarray(at, at + len) });
    }
    this.send(reqs);
    await done;
    return buf;
  }

  /** Requests asked in one turn of the event loop go out in one write (a gathered segment asks several at once). */
  private send(reqs: Buffer): void {
    const sock = this.wire.sock;
    if (!this.corked) {
      this.corked = true;
      sock.cork();
      process.nextTick(() => {
        this.corked = false;
        sock.uncork();
      });
    }
    sock.write(reqs);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const sock = this.wire.sock;
    if (!this.failed) {
      const req = Buffer.alloc(28);
      req.writeUInt32BE(REQUEST_MAGIC, 0);
      req.writeUInt16BE(CMD_DISC, 6);
      sock.write(req);
    }
    await new Promise<void>((resolve) => {
      sock.end(() => resolve());
      setTimeout(resolve, 2000).unref();
    });
    sock.destroy();
  }
}
