#!/usr/bin/env node
// CPU-seconds per GiB of each stage of a full backup, and the compression choices, on one image.
// node test/bench/stages.mjs IMAGE [--reps N]   (needs dist/bench-engine.mjs: test/bench/run.mjs builds it)
// vault-bench.mjs calls stageCosts() and compressionChoices() on the reference image of its run.
//
// Every stage runs the engine's own code (main/core/vault/chunk-codec.ts, chunk-index.ts) over the
// same 4 MiB segments in this one thread, and is timed with this thread's CPU clock
// (/proc/thread-self/schedstat: on-CPU nanoseconds, not wall time), so the figures hold on a
// loaded machine. Each stage's figure is the lowest of --reps passes (default 3).
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const GiB = 2 ** 30;
const SEGMENT = 4 * 1024 * 1024;

/** This thread's CPU time in seconds (falls back to the process's user+system time off Linux). */
function threadCpu() {
  try {
    return Number(fs.readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]) / 1e9;
  } catch {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  }
}

/** Reads the image's segments; yields [buffer, length] with one reused buffer (like a worker). */
function* segments(file, buf) {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    for (let pos = 0; pos < size; pos += SEGMENT) {
      const len = Math.min(SEGMENT, size - pos);
      let got = 0;
      while (got < len) got += fs.readSync(fd, buf, got, len - got, pos + got);
      yield len;
    }
  } finally {
    fs.closeSync(fd);
  }
}

const engine = () => import(path.join(root, 'dist/bench-engine.mjs'));

/** One pass of every backup stage; returns CPU seconds per stage. */
async function stagePass(file, chunkSize, dir) {
  const { ChunkCompressor, ChunkIndex, hashChunk, sealInto, ZSTD_LEVEL, PACK_TARGET_SIZE } = await engine();
  const t = { read: 0, zero_check: 0, hash: 0, bookkeeping: 0, compress: 0, encrypt: 0, pack_write: 0 };
  const seg = Buffer.alloc(SEGMENT);
  const out = Buffer.alloc(SEGMENT + (SEGMENT / chunkSize) * 64);
  const zero = Buffer.alloc(chunkSize);
  const macKey = randomBytes(32);
  const encKey = randomBytes(32);
  const comp = new ChunkCompressor(ZSTD_LEVEL, chunkSize);
  const vaultIndex = new ChunkIndex();
  const session = new ChunkIndex();
  const digest = createHash('sha256');
  const pack = Buffer.alloc(PACK_TARGET_SIZE + 2 * SEGMENT);
  let used = 8;
  let entries = [];
  const packFile = path.join(dir, 'pack');
  let c = threadCpu();
  const lap = (k) => {
    const n = threadCpu();
    t[k] += n - c;
    c = n;
  };
  const it = segments(file, seg);
  for (;;) {
    c = threadCpu();
    const r = it.next();
    if (r.done) break;
    const len = r.value;
    lap('read');
    const n = Math.ceil(len / chunkSize);
    const chunk = (i) => seg.subarray(i * chunkSize, Math.min(len, (i + 1) * chunkSize));
    const nonzero = [];
    for (let i = 0; i < n; i++) {
      const ch = chunk(i);
      if (!ch.equals(ch.length === chunkSize ? zero : zero.subarray(0, ch.length))) nonzero.push(i);
    }
    lap('zero_check');
    const ids = Buffer.alloc(n * 32);
    const shas = Buffer.alloc(n * 32);
    for (const i of nonzero) hashChunk(macKey, chunk(i), shas, i * 32, ids, i * 32);
    lap('hash');
    // What the engine's thread does per segment: dedup against the vault and this backup, the disk digest.
    const want = [];
    for (const i of nonzero) {
      if (vaultIndex.find(ids, i * 32) >= 0) continue;
      if (session.find(ids, i * 32) >= 0) continue;
      session.add(ids, i * 32, { pack: '', offset: 0, length: 0, rawLength: 0, flags: 0 });
      want.push(i);
    }
    digest.update(shas);
    lap('bookkeeping');
    const plains = want.map((i) => {
      const z = comp.compress(chunk(i));
      return z ? Buffer.from(z) : chunk(i);
    });
    lap('compress');
    let o = 0;
    const lens = plains.map((p, j) => {
      const l = sealInto(encKey, p, ids.subarray(want[j] * 32, want[j] * 32 + 32), out, o);
      o += l;
      return l;
    });
    lap('encrypt');
    out.copy(pack, used, 0, o);
    let off = used;
    want.forEach((i, j) => {
      entries.push({ id: Buffer.from(ids.subarray(i * 32, i * 32 + 32)), offset: off, length: lens[j] });
      off += lens[j];
    });
    used = off;
    if (used >= PACK_TARGET_SIZE) {
      fs.writeFileSync(packFile, pack.subarray(0, used));
      const fd = fs.openSync(packFile, 'r+');
      fs.fsyncSync(fd);
      fs.closeSync(fd);
      for (const e of entries) vaultIndex.add(e.id, 0, { pack: 'p', offset: e.offset, length: e.length, rawLength: chunkSize, flags: 0 });
      used = 8;
      entries = [];
    }
    lap('pack_write');
  }
  return t;
}

/** The encryption as the workers did it before (one cipher.update per whole chunk), for comparison. */
function encryptWholePass(file, chunkSize) {
  const key = randomBytes(32);
  const seg = Buffer.alloc(SEGMENT);
  const out = Buffer.alloc(chunkSize + 64);
  let cpu = 0;
  for (const len of segments(file, seg)) {
    const c = threadCpu();
    for (let s = 0; s < len; s += chunkSize) {
      const x = createCipheriv('aes-256-gcm', key, randomBytes(12));
      x.update(seg.subarray(s, Math.min(len, s + chunkSize))).copy(out);
      x.final();
    }
    cpu += threadCpu() - c;
  }
  return cpu;
}

/**
 * One pass of every restore stage over the image's chunks as a backup stores them: open
 * (AES-GCM), decompress (into the write run's buffer), verify (sha256 + HMAC against the id: only
 * verify --full and a test restore do it), write (one pwritev per run of adjacent chunks, up to
 * 2 MiB, into a sparse file of the image's size; zero chunks stay holes), as the worker does.
 */
async function restorePass(file, chunkSize, dir) {
  const { ChunkCompressor, ChunkDecompressor, hashChunk, openChunk, sealInto, ZSTD_LEVEL } = await engine();
  const t = { open: 0, decompress: 0, verify: 0, write: 0 };
  const seg = Buffer.alloc(SEGMENT);
  const zero = Buffer.alloc(chunkSize);
  const macKey = randomBytes(32);
  const encKey = randomBytes(32);
  const comp = new ChunkCompressor(ZSTD_LEVEL, chunkSize);
  const dec = new ChunkDecompressor();
  const sealed = Buffer.alloc(chunkSize + 64);
  const RUN = 2 * 1024 * 1024;
  const arena = Buffer.alloc(Math.max(RUN, chunkSize));
  let used = 0;
  let run = [];
  let runAt = 0;
  let runEnd = -1;
  const flush = () => {
    const a = threadCpu();
    if (run.length > 0) {
      const total = run.reduce((n, b) => n + b.length, 0);
      if (fs.writevSync(fd, run, runAt) !== total) throw new Error('restore stage: short write');
    }
    run = [];
    used = 0;
    t.write += threadCpu() - a;
  };
  const sha = Buffer.alloc(32);
  const id = Buffer.alloc(32);
  const check = Buffer.alloc(32);
  const out = path.join(dir, 'restored');
  const fd = fs.openSync(out, 'w');
  fs.ftruncateSync(fd, fs.statSync(file).size);
  let pos = 0;
  try {
    for (const len of segments(file, seg)) {
      for (let s = 0; s < len; s += chunkSize, pos += chunkSize) {
        const c = seg.subarray(s, Math.min(len, s + chunkSize));
        if (c.equals(zero.subarray(0, c.length))) continue;
        if (run.length > 0 && (pos !== runEnd || runEnd - runAt + c.length > RUN)) flush();
        hashChunk(macKey, c, sha, 0, id, 0);
        const z = comp.compress(c);
        const blob = sealed.subarray(0, sealInto(encKey, z ?? c, id, sealed, 0));
        let a = threadCpu();
        const body = openChunk(encKey, blob, id);
        let b = threadCpu();
        t.open += b - a;
        a = b;
        const plain = z ? dec.decompress(body, arena.subarray(used, (used += c.length)), c.length) : body;
        b = threadCpu();
        t.decompress += b - a;
        hashChunk(macKey, plain, sha, 0, check, 0);
        if (!check.equals(id)) throw new Error('restore stage: wrong hash');
        a = threadCpu();
        t.verify += a - b;
        if (run.length === 0) runAt = runEnd = pos;
        run.push(plain);
        runEnd += plain.length;
      }
    }
    flush();
  } finally {
    fs.closeSync(fd);
    fs.rmSync(out, { force: true });
  }
  return t;
}

export async function stageCosts(file, { chunkSize = 128 * 1024, reps = 3 } = {}) {
  const size = fs.statSync(file).size;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-stages-'));
  try {
    let best;
    for (let r = 0; r < reps; r++) {
      const t = await stagePass(file, chunkSize, dir);
      best = best ? Object.fromEntries(Object.entries(best).map(([k, v]) => [k, Math.min(v, t[k])])) : t;
    }
    const perGiB = Object.fromEntries(Object.entries(best).map(([k, v]) => [k, +(v / (size / GiB)).toFixed(3)]));
    const total = +Object.values(perGiB)
      .reduce((a, b) => a + b, 0)
      .toFixed(3);
    let whole = Infinity;
    for (let r = 0; r < reps; r++) whole = Math.min(whole, encryptWholePass(file, chunkSize));
    let rbest;
    for (let r = 0; r < reps; r++) {
      const t = await restorePass(file, chunkSize, dir);
      rbest = rbest ? Object.fromEntries(Object.entries(rbest).map(([k, v]) => [k, Math.min(v, t[k])])) : t;
    }
    const restore = Object.fromEntries(Object.entries(rbest).map(([k, v]) => [k, +(v / (size / GiB)).toFixed(3)]));
    // A restore's own stages; verify is what verify --full and a test restore add.
    const restoreTotal = +(restore.open + restore.decompress + restore.write).toFixed(3);
    return {
      chunk_bytes: chunkSize,
      image_bytes: size,
      cpu_s_per_gib: perGiB,
      total_cpu_s_per_gib: total,
      /** What one core alone would sustain, and two cores with no overhead at all. */
      one_core_mib_per_s: +(1024 / total).toFixed(0),
      two_cores_mib_per_s: +(2048 / total).toFixed(0),
      encrypt_every_chunk_whole_update_cpu_s_per_gib: +(whole / (size / GiB)).toFixed(3),
      restore_cpu_s_per_gib: restore,
      restore_total_cpu_s_per_gib: restoreTotal,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The distinct non-zero chunks of the image (what a full backup compresses). */
function distinctChunks(file, chunkSize) {
  const seg = Buffer.alloc(SEGMENT);
  const zero = Buffer.alloc(chunkSize);
  const seen = new Set();
  const out = [];
  for (const len of segments(file, seg)) {
    for (let s = 0; s < len; s += chunkSize) {
      const c = seg.subarray(s, Math.min(len, s + chunkSize));
      if (c.equals(zero.subarray(0, c.length))) continue;
      const h = createHash('sha256').update(c).digest('latin1');
      if (seen.has(h)) continue;
      seen.add(h);
      out.push(Buffer.from(c));
    }
  }
  return out;
}

/**
 * zstd levels (fast negative ones included, with the engine's chunk tuning and without), LZ4
 * (lz4-napi) and none, on the image's distinct non-zero chunks: CPU-seconds per GiB of chunk
 * data to compress and to decompress, and stored bytes / raw bytes (chunks that would not save
 * 1/32 are stored raw, as the engine does).
 */
export async function compressionChoices(file, { chunkSize = 128 * 1024, reps = 3 } = {}) {
  const { ChunkCompressor, ChunkDecompressor } = await engine();
  const require = createRequire(path.join(root, 'package.json'));
  const lz4 = require('lz4-napi');
  const chunks = distinctChunks(file, chunkSize);
  const raw = chunks.reduce((s, c) => s + c.length, 0);
  const dec = new ChunkDecompressor();
  const rawOut = Buffer.alloc(chunkSize);
  const zstd = (level, tuned) => {
    const c = new ChunkCompressor(level, chunkSize, tuned);
    return { compress: (b) => c.compress(b), decompress: (z, n) => dec.decompress(z, rawOut, n) };
  };
  const codecs = [
    ['none', { compress: () => undefined, decompress: () => undefined }],
    ['lz4', { compress: (b) => worth(lz4.compressSync(b), b.length), decompress: (z) => lz4.uncompressSync(z) }],
    ...[-7, -5, -3, -1].map((l) => [`zstd ${l}`, zstd(l, true)]),
    ['zstd 1', zstd(1, false)],
    ['zstd 1 tuned', zstd(1, true)],
    ['zstd 2 tuned', zstd(2, true)],
    ['zstd 3', zstd(3, false)],
  ];
  function worth(z, n) {
    return z.length < n - (n >> 5) ? z : undefined;
  }
  const rows = [];
  for (const [name, codec] of codecs) {
    let ct = Infinity;
    let dt = Infinity;
    let stored = 0;
    for (let r = 0; r < reps; r++) {
      const zs = [];
      stored = 0;
      let c = threadCpu();
      for (const b of chunks) {
        const z = codec.compress(b);
        if (z) {
          stored += z.length;
          zs.push([Buffer.from(z), b.length]);
        } else stored += b.length;
      }
      ct = Math.min(ct, threadCpu() - c);
      c = threadCpu();
      for (const [z, n] of zs) codec.decompress(z, n);
      dt = Math.min(dt, threadCpu() - c);
    }
    rows.push({
      codec: name,
      compress_cpu_s_per_gib: +(ct / (raw / GiB)).toFixed(3),
      decompress_cpu_s_per_gib: +(dt / (raw / GiB)).toFixed(3),
      stored_ratio: +(stored / raw).toFixed(4),
      stored_bytes: stored,
    });
  }
  return { chunk_bytes: chunkSize, distinct_chunk_bytes: raw, rows };
}

export function printStages(s, log = console.log) {
  log(`stages (one thread, CPU-s per GiB of image, ${s.chunk_bytes / 1024} KiB chunks):`);
  log('| stage | CPU-s/GiB |');
  log('|---|---|');
  for (const [k, v] of Object.entries(s.cpu_s_per_gib)) log(`| ${k} | ${v.toFixed(3)} |`);
  log(`| total | ${s.total_cpu_s_per_gib.toFixed(3)} (one core ${s.one_core_mib_per_s} MiB/s, two ${s.two_cores_mib_per_s} MiB/s) |`);
  log(`(encrypt with one cipher.update per whole chunk, as before: ${s.encrypt_every_chunk_whole_update_cpu_s_per_gib.toFixed(3)} CPU-s per GiB of image)`);
  log('restore stages (one thread, CPU-s per GiB of image):');
  log('| stage | CPU-s/GiB |');
  log('|---|---|');
  for (const [k, v] of Object.entries(s.restore_cpu_s_per_gib)) log(`| ${k} | ${v.toFixed(3)} |`);
  log(`| total (a restore: open + decompress + write; verify is verify --full's and a test restore's) | ${s.restore_total_cpu_s_per_gib.toFixed(3)} |`);
}

export function printCompression(c, log = console.log) {
  log(`compression of the ${(c.distinct_chunk_bytes / 2 ** 20).toFixed(0)} MiB of distinct non-zero chunks (CPU-s per GiB of chunk data):`);
  log('| codec | compress | decompress | stored/raw |');
  log('|---|---|---|---|');
  for (const r of c.rows) log(`| ${r.codec} | ${r.compress_cpu_s_per_gib.toFixed(3)} | ${r.decompress_cpu_s_per_gib.toFixed(3)} | ${r.stored_ratio.toFixed(4)} |`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const file = args.find((a, i) => !a.startsWith('--') && args[i - 1] !== '--reps');
  if (!file) {
    console.error('usage: stages.mjs IMAGE [--reps N]');
    process.exit(2);
  }
  const at = args.indexOf('--reps');
  const reps = at >= 0 ? Number(args[at + 1]) : 3;
  printStages(await stageCosts(file, { reps }));
  printCompression(await compressionChoices(file, { reps }));
}
