// Worker thread of the vault engine: zero check, hashing, compression, encryption on backup;
// decryption, decompression, verification and writing on restore. Bundled to dist/vault-worker.mjs.
import { read, readSync, write, writeFileSync, writeSync, writevSync } from 'node:fs';
import { promisify } from 'node:util';
import { parentPort } from 'node:worker_threads';
import { ChunkCompressor, ChunkDecompressor, hashChunk, openChunk, sealInto } from './chunk-codec.js';
import { allocAligned, DIRECT_ALIGN } from './direct-io.js';
import { collectGarbage } from './gc.js';
import { failureOf, getRangeInto } from './range-get.js';
import type { DirectRead, FetchRange, WorkerReply, WorkerRequest } from './worker-protocol.js';

const NONCE = 12;
const TAG = 16;
const ID = 32;

let encKey: Buffer = Buffer.alloc(32);
let macKey: Buffer = Buffer.alloc(32);
let chunkSize = 0;
let zero: Buffer = Buffer.alloc(0);
// Contexts writing into reused buffers: no per-chunk output allocations.
let compressor: ChunkCompressor | undefined;
const decompressor = new ChunkDecompressor();
/** Restore: a compressed chunk's raw bytes. */
let scratch: Buffer = Buffer.alloc(0);
/**
 * Every chunk sealed or opened leaves a dead chunk-sized Buffer (cipher.update cannot write into
 * a caller's buffer). V8 frees their memory only when it collects, and it counts them lazily:
 * up to 35 MiB of dead buffers per worker were measured, twice that over the pool, all of it in
 * the process's RSS. A young-generation collection every GC_EVERY bytes bounds that to a few
 * MiB; it costs about 0.1 ms (the worker's live heap is tiny), under 0.5% of the time.
 */
const GC_EVERY = 4 * 1024 * 1024;
let garbage = 0;
function dead(bytes: number): void {
  garbage += bytes;
  if (garbage >= GC_EVERY) {
    garbage = 0;
    collectGarbage({ type: 'minor' });
  }
}
/** Segments kept between 'hash' and 'seal' so their data is not sent twice. */
const held = new Map<number, { buf: Buffer; n: number; ab: ArrayBuffer }>();

function chunkAt(buf: Buffer, i: number): Buffer {
  const start = i * chunkSize;
  return buf.subarray(start, Math.min(buf.length, start + chunkSize));
}

function reply(msg: WorkerReply, transfer: ArrayBuffer[] = []): void {
  parentPort!.postMessage(msg, transfer);
}

function handle(m: WorkerRequest): void {
  switch (m.type) {
    case 'init': {
      encKey = Buffer.from(m.encKey);
      macKey = Buffer.from(m.macKey);
      chunkSize = m.chunkSize;
      zero = Buffer.alloc(chunkSize);
      compressor = new ChunkCompressor(m.level, chunkSize);
      scratch = Buffer.alloc(chunkSize);
      reply({ type: 'ok', job: m.job });
      return;
    }
    case 'hash': {
      const buf = Buffer.from(m.buf, m.at, m.len);
      // The worker reads its own segment (pread on the engine's fd): reads run in parallel on
      // every worker, without a thread-pool hop or a message carrying the data.
      let got = m.filled ? m.len : 0;
      while (got < m.len) {
        const n = readSync(m.fd, buf, got, m.len - got, m.pos + got);
        if (n === 0) break;
        got += n;
      }
      if (got < m.len) {
        const e = new Error(`short read at ${m.pos + got}`) as NodeJS.ErrnoException;
        e.code = 'ESHORTREAD';
        throw e;
      }
      const n = Math.ceil(m.len / chunkSize);
      const ids = Buffer.alloc(n * ID);
      const shas = Buffer.alloc(n * ID);
      const zeroMask = new Uint8Array(n);
      let zeros = 0;
      for (let i = 0; i < n; i++) {
        const c = chunkAt(buf, i);
        // A shared zero buffer makes the check a memcmp: zero chunks are never hashed or stored.
        if (c.equals(c.length === chunkSize ? zero : zero.subarray(0, c.length))) {
          zeroMask[i] = 1;
          zeros++;
          continue;
        }
        hashChunk(macKey, c, shas, i * ID, ids, i * ID);
      }
      const transfer = [ids.buffer as ArrayBuffer, shas.buffer as ArrayBuffer];
      if (zeros === n) {
        // Nothing to seal: hand the segment buffer back now, no 'drop' round trip.
        reply({ type: 'hashed', job: m.job, ids: ab(ids), shas: ab(shas), zeroMask, seg: m.buf }, [...transfer, m.buf]);
        return;
      }
      held.set(m.job, { buf, n, ab: m.buf });
      reply({ type: 'hashed', job: m.job, ids: ab(ids), shas: ab(shas), zeroMask }, transfer);
      return;
    }
    case 'seal': {
      const h = held.get(m.job);
      held.delete(m.job);
      if (!h) throw new Error(`no held segment ${m.job}`);
      // Sealed chunks are written into the same ArrayBuffer, before the segment's data (which
      // starts at a slack offset), so output never overtakes input not yet read.
      const out = Buffer.from(h.ab);
      let o = 0;
      const k = m.want.length;
      const lens = new Uint32Array(k);
      const rawLens = new Uint32Array(k);
      const flags = new Uint8Array(k);
      for (let j = 0; j < k; j++) {
        const i = m.want[j]!;
        const c = chunkAt(h.buf, i);
        const z = compressor!.compress(c);
        const len = sealInto(encKey, z ?? c, Buffer.from(m.ids, j * ID, ID), out, o);
        dead(len);
        o += len;
        lens[j] = len;
        rawLens[j] = c.length;
        flags[j] = z ? 1 : 0;
      }
      reply({ type: 'sealed', job: m.job, seg: h.ab, blobLen: o, lens, rawLens, flags }, [h.ab]);
      return;
    }
    case 'drop': {
      const h = held.get(m.job);
      held.delete(m.job);
      const seg = h?.ab;
      reply(seg ? { type: 'ok', job: m.job, seg } : { type: 'ok', job: m.job }, seg ? [seg] : []);
      return;
    }
    case 'open': {
      if (m.fetch) {
        fetchThenOpen(m, m.fetch);
        return;
      }
      if (m.reads) {
        readThenOpen(m, m.reads);
        return;
      }
      enqueueOpen(m);
      return;
    }
  }
}

type OpenRequest = Extract<WorkerRequest, { type: 'open' }>;

/**
 * Object storage: sends the batch's prepared ranged GETs (all at once, one keep-alive connection
 * each) straight into the batch buffer, then opens it as any batch. Runs while this thread keeps
 * handling other messages. A failure is handed back, not retried here: the engine reads the
 * failed ranges through the store, whose retries and error classification are the one home.
 */
function fetchThenOpen(m: OpenRequest, fetch: FetchRange[]): void {
  const blob = Buffer.from(m.blob);
  const reasons: string[] = [];
  const failed: number[] = [];
  void Promise.all(
    fetch.map((f, i) =>
      getRangeInto(f, blob.subarray(f.at, f.at + f.length)).catch((e: unknown) => {
        failed.push(i);
        reasons.push(failureOf(e));
      }),
    ),
  ).then(() => {
    if (failed.length > 0) {
      reply({ type: 'fetchFailed', job: m.job, blob: m.blob, failed: failed.sort((a, b) => a - b), reason: reasons[0]! }, [m.blob]);
      return;
    }
    enqueueOpen(m);
  });
}

const readAsync = promisify(read);
/** Page-aligned buffers for O_DIRECT pack reads, reused (one per batch being read or decoded). */
const readBuffers: Buffer[] = [];
/**
 * A restore batch: 4 MiB of stored bytes, one chunk more, and each range's padding to whole
 * blocks. Every buffer made is this big (or bigger), so that they are made once: each
 * WebAssembly memory reserves gigabytes of address space, and V8 collects the whole heap when
 * too many are reserved.
 */
const READ_BUFFER_BYTES = 6 * 1024 * 1024;

/**
 * A local folder: reads the batch's ranges of packs with O_DIRECT into a page-aligned buffer of
 * this thread (libuv's pool does the reads while this thread decodes the batch before), then
 * opens the batch from it. A failed read (a filesystem that takes O_DIRECT at open but not at
 * read, an unaligned short read, EIO) is handed back: the engine reads the batch through the store.
 */
function readThenOpen(m: OpenRequest, reads: DirectRead[]): void {
  const size = reads.reduce((n, r) => Math.max(n, r.at + r.length), 0);
  let buf = readBuffers.pop();
  if (!buf || buf.length < size) buf = allocAligned(Math.max(2 * size, READ_BUFFER_BYTES));
  const into = buf;
  const release = (): void => {
    readBuffers.push(into);
  };
  void Promise.all(reads.map((r) => readFully(r, into))).then(
    () => enqueueOpen(m, into, release),
    (e: unknown) => {
      release();
      reply({ type: 'fetchFailed', job: m.job, blob: m.blob, failed: reads.map((_, i) => i), reason: failureOf(e) }, [m.blob]);
    },
  );
}

async function readFully(r: DirectRead, into: Buffer): Promise<void> {
  let done = 0;
  while (done < r.need) {
    const { bytesRead } = await readAsync(r.fd, into, r.at + done, r.length - done, r.offset + done);
    if (bytesRead === 0) throw Object.assign(new Error('short read'), { code: 'ESHORT' });
    done += bytesRead;
  }
}

function replyError(job: number, e: unknown): void {
  const err = e as NodeJS.ErrnoException;
  reply({ type: 'error', job, message: err?.message ?? String(e), code: err?.code });
}

/**
 * Batches are decoded one after another (they share the run writer), each as soon as the one
 * before it is decoded: its writes may still be on their way, and its reply waits for them.
 */
let opening: Promise<void> = Promise.resolve();
function enqueueOpen(m: OpenRequest, data?: Buffer, release?: () => void): void {
  opening = opening.then(() => openBatch(m, data ?? Buffer.from(m.blob), release)).catch((e: unknown) => replyError(m.job, e));
}

/** `release`: called once the batch's bytes are no longer read (every chunk decoded, or a failure). */
async function openBatch(m: OpenRequest, blob: Buffer, release?: () => void): Promise<void> {
  // Restore (fd >= 0: write each chunk at its place) or full verify (fd < 0: check only).
  const n = m.items.length / 4;
  const shas = Buffer.alloc(m.check ? n * ID : 0);
  const bad: number[] = [];
  const check = Buffer.alloc(ID);
  const out = m.fd >= 0 ? runs.start(m.fd, m.directFd) : undefined;
  try {
    await out?.ready();
    // Decoded chunks land in the run writer's arenas or buffers of their own: once decoded, the
    // batch's bytes are not read again (a raw chunk is placed from its decrypted copy).
    await decodeBatch(m, blob, n, shas, bad, check, out);
  } catch (e) {
    // Nothing of this batch may still be writing once the engine hears of the failure (it then
    // closes the file, and a later write would reach whatever reuses the descriptor).
    await out?.finish().catch(() => undefined);
    throw e;
  } finally {
    release?.();
  }
  // The reply (the engine counts the batch as written, and closes the file after the last) waits
  // for this batch's writes; the next batch is decoded meanwhile.
  const written = out ? out.finish() : Promise.resolve();
  void written.then(
    () => reply({ type: 'opened', job: m.job, shas: ab(shas), bad, blob: m.blob }, m.check ? [shas.buffer as ArrayBuffer, m.blob] : [m.blob]),
    (e: unknown) => replyError(m.job, e),
  );
}

async function decodeBatch(m: OpenRequest, blob: Buffer, n: number, shas: Buffer, bad: number[], check: Buffer, out: RunWriter | undefined): Promise<void> {
  for (let i = 0; i < n; i++) {
    const off = m.items[i * 4]!;
    const len = m.items[i * 4 + 1]!;
    const rawLen = m.items[i * 4 + 2]!;
    const flag = m.items[i * 4 + 3]!;
    const id = Buffer.from(m.ids, i * ID, ID);
    const pos = out ? m.positions![i]! : 0;
    // Ending a run may have to wait for a free arena (O_DIRECT writes in flight).
    const free = out?.before(pos, rawLen);
    if (free) await free;
    let plain: Buffer;
    try {
      if (len < NONCE + TAG || off + len > blob.length) throw new Error('truncated');
      // The tag authenticates the stored bytes under AAD = id: a flipped bit or a blob of
      // another chunk fails here, on restore as on verify.
      const body = openChunk(encKey, blob.subarray(off, off + len), id);
      dead(body.length);
      if (flag & 1) {
        // Straight into the write run's buffer on restore: no copy before the write.
        let into: Buffer;
        if (out) into = out.room(rawLen);
        else {
          if (scratch.length < rawLen) scratch = Buffer.alloc(rawLen);
          into = scratch;
        }
        plain = decompressor.decompress(body, into, rawLen);
      } else plain = out ? out.place(body) : body;
      if (plain.length !== rawLen) throw new Error('wrong length');
      if (m.check) {
        hashChunk(macKey, plain, shas, i * ID, check, 0);
        if (!check.equals(id)) throw new Error('wrong hash');
      }
    } catch {
      bad.push(i);
      continue;
    }
    out?.add(plain, pos);
  }
}

/**
 * Restore's writes: chunks that follow each other on disk are written with one write per run
 * (up to RUN_BYTES), not one per chunk. Decompressed chunks land in a reused page-aligned buffer
 * (an arena). A zero chunk (never sent here) or a chunk stored elsewhere ends the run, so holes
 * stay holes.
 *
 * With an O_DIRECT descriptor of the file (a local disk) a run goes from its arena to the device
 * without a copy into the page cache, written asynchronously (libuv's pool) while the next run is
 * decoded into another arena: chunks stored raw are copied into the arena first (a memcpy per
 * chunk), and the run's last partial block (a disk size that is not a multiple of 4096) is written
 * through the ordinary descriptor. On this machine a buffered write of 2.8 GiB cost 6.7 CPU-s of
 * kernel time, an O_DIRECT one 0.3 (docs/performance.md, "Restore writes past the page cache"). Without one (a
 * filesystem that refuses O_DIRECT, Windows, macOS) raw chunks are written from their decrypted
 * buffer with one synchronous pwritev, through the page cache.
 */
const RUN_BYTES = 2 * 1024 * 1024;
const writeAsync = promisify(write);
/** Linux's IOV_MAX. */
const RUN_IOVECS = 1024;
/** Arenas per worker with O_DIRECT: one being decoded into, the others' writes in flight. */
const ARENAS = 3;
interface Arena {
  buf: Buffer;
  /** Its write in flight (settled, never rejecting: the batch's own promise carries the error). */
  busy?: Promise<void>;
}
class RunWriter {
  private fd = -1;
  private directFd = -1;
  private readonly arenas: Arena[] = [];
  private cur = 0;
  private used = 0;
  private readonly bufs: Buffer[] = [];
  private at = 0;
  private end = 0;
  /** This batch's writes in flight. */
  private writes: Array<Promise<void>> = [];

  start(fd: number, directFd = -1): this {
    this.fd = fd;
    this.directFd = directFd;
    this.bufs.length = 0;
    this.used = 0;
    this.writes = [];
    const size = Math.max(RUN_BYTES, chunkSize);
    const want = directFd >= 0 ? ARENAS : 1;
    for (const a of this.arenas) if (a.buf.length < size) a.buf = allocAligned(size);
    while (this.arenas.length < want) this.arenas.push({ buf: allocAligned(size) });
    return this;
  }

  private get arena(): Buffer {
    return this.arenas[this.cur]!.buf;
  }

  /**
   * Call before decoding a chunk of rawLen bytes for position pos: ends the run unless the chunk
   * extends it. A promise: wait for it before the next room() (the next arena's write is in flight).
   */
  before(pos: number, rawLen: number): Promise<void> | undefined {
    if (this.bufs.length > 0 && (pos !== this.end || this.end - this.at + rawLen > RUN_BYTES || this.bufs.length >= RUN_IOVECS)) return this.flush();
    return undefined;
  }

  /** Where to decompress the next chunk (valid until the run is flushed). */
  room(rawLen: number): Buffer {
    const r = this.arena.subarray(this.used, this.used + rawLen);
    this.used += rawLen;
    return r;
  }

  /** A chunk stored raw, as the run writes it: copied into the arena for O_DIRECT, else itself. */
  place(body: Buffer): Buffer {
    if (this.directFd < 0) return body;
    const r = this.room(body.length);
    body.copy(r);
    return r;
  }

  add(plain: Buffer, pos: number): void {
    if (this.bufs.length === 0) this.at = this.end = pos;
    this.bufs.push(plain);
    this.end += plain.length;
  }

  /**
   * Ends the batch: its last run goes out; settles once every write of the batch is done (a
   * failed one does not cut the wait short: the engine closes the file when it hears back).
   */
  finish(): Promise<void> {
    let flushed: Promise<void> = Promise.resolve();
    try {
      void this.flush();
    } catch (e) {
      flushed = Promise.reject(e);
    }
    const writes = [...this.writes, flushed];
    this.writes = [];
    return Promise.allSettled(writes).then((rs) => {
      for (const r of rs) if (r.status === 'rejected') throw r.reason;
    });
  }

  /** Resolves when the arena the next run goes into is free (its earlier write done). */
  ready(): Promise<void> | undefined {
    return this.arenas[this.cur]!.busy;
  }

  /** Writes the run; with O_DIRECT starts it and moves to the next arena (the promise: until that one is free). */
  private flush(): Promise<void> | undefined {
    const bufs = this.bufs;
    if (bufs.length === 0) return undefined;
    const total = this.end - this.at;
    const at = this.at;
    try {
      // O_DIRECT when the run is the arena from its start (always, unless a chunk failed its
      // check mid-run: that restore fails anyway) and starts on a block boundary.
      if (this.directFd >= 0 && bufs[0]!.byteOffset === this.arena.byteOffset && this.used === total && at % DIRECT_ALIGN === 0) {
        const a = this.arenas[this.cur]!;
        const w = this.writeDirect(a.buf, total, at);
        this.writes.push(w);
        a.busy = w.catch(() => undefined);
        this.cur = (this.cur + 1) % this.arenas.length;
        return this.ready();
      }
      writeRuns(this.fd, bufs, at);
      return undefined;
    } finally {
      bufs.length = 0;
      this.used = 0;
    }
  }

  private async writeDirect(buf: Buffer, total: number, at: number): Promise<void> {
    const head = total - (total % DIRECT_ALIGN);
    const directFd = this.directFd;
    const fd = this.fd;
    let done = 0;
    try {
      while (done < head) {
        const { bytesWritten: n } = await writeAsync(directFd, buf, done, head - done, at + done);
        done += n;
        // A short write that ends off a block boundary: the rest goes through the page cache.
        if (n % DIRECT_ALIGN !== 0) break;
      }
    } catch (e) {
      // A filesystem that opens O_DIRECT but refuses its writes (some FUSE and network mounts):
      // this run and the later ones of the batch go through the page cache.
      if ((e as NodeJS.ErrnoException).code !== 'EINVAL') throw e;
      if (this.directFd === directFd) this.directFd = -1;
    }
    if (done < total) writeRuns(fd, [buf.subarray(done, total)], at + done);
  }
}

/** One pwritev of a run through the page cache; a short write (rare: a full disk reports ENOSPC instead) goes on chunk by chunk. */
function writeRuns(fd: number, bufs: Buffer[], at: number): void {
  let pos = at;
  let done = writevSync(fd, bufs, pos);
  for (const b of bufs) {
    if (done < b.length) {
      while (done < b.length) done += writeSync(fd, b, done, b.length - done, pos + done);
    }
    done -= b.length;
    pos += b.length;
  }
}
const runs = new RunWriter();

/** Buffers from Buffer.alloc own their ArrayBuffer exactly (no pool) when >= 4 KiB or from concat. */
function ab(b: Buffer): ArrayBuffer {
  if (b.byteOffset === 0 && b.byteLength === b.buffer.byteLength) return b.buffer as ArrayBuffer;
  const copy = new Uint8Array(b.byteLength);
  copy.set(b);
  return copy.buffer;
}

// COFFER_BENCH_THREADS (bench diagnostics, Linux): this thread names itself, so the bench can
// tell its CPU seconds from the main thread's and V8's helpers' (test/bench/store-cli.mjs).
if (process.env.COFFER_BENCH_THREADS) {
  try {
    writeFileSync('/proc/thread-self/comm', 'coffer-worker');
  } catch {
    // not Linux: the bench then shows these threads among the others
  }
}

// COFFER_MEMTRACE (bench diagnostics): this thread's own heap and buffer peaks, to stderr as they grow.
if (process.env.COFFER_MEMTRACE) {
  const M = (b: number): string => (b / 1048576).toFixed(1);
  let last = 0;
  const peak = { heapTotal: 0, heapUsed: 0, external: 0, arrayBuffers: 0 };
  setInterval(() => {
    const m = process.memoryUsage();
    for (const k of Object.keys(peak) as Array<keyof typeof peak>) peak[k] = Math.max(peak[k], m[k]);
    const sum = peak.heapTotal + peak.external;
    if (sum > last + 2 * 1048576) {
      last = sum;
      writeSync(2, `memtrace worker peaks (MiB): ${Object.entries(peak).map(([k, v]) => `${k} ${M(v)}`).join(', ')}\n`);
    }
  }, 200).unref();
}

parentPort!.on('message', (m: WorkerRequest) => {
  try {
    handle(m);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    reply({ type: 'error', job: m.job, message: err?.message ?? String(e), code: err?.code });
  }
});
