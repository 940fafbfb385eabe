// The per-chunk work of a vault worker (hash, compress, seal; open, decompress), in one place for
// dist/vault-worker.mjs and the stage benchmark (test/bench/stages.mjs), so the figures of
// docs/performance.md are measured on the code that runs.
import { createCipheriv, createDecipheriv, createHash, createHmac, randomFillSync } from 'node:crypto';
import { createRequire } from 'node:module';

// The native binding directly: its contexts compress into caller-owned buffers.
const binding = createRequire(import.meta.url)('zstd-napi/binding.js') as typeof import('zstd-napi/binding.js');

// format.ts's NONCE_LEN and TAG_LEN (not imported: that module loads zod into every worker).
const NONCE_LEN = 12;
const TAG_LEN = 16;

/**
 * AES-GCM runs over the chunk in slices of this size, each written into the caller's buffer.
 * Node's cipher.update returns a new buffer per call: for a whole 128 KiB chunk that buffer sits at
 * glibc's mmap threshold, so every chunk paid an mmap, 32 page faults and an munmap; 32 KiB slices
 * come from the heap. Measured on 128 KiB random chunks (docs/performance.md): 0.93 CPU-s/GiB whole,
 * 0.68 in 32 KiB slices (16 KiB: 0.76, 64 KiB: 0.88).
 */
export const CIPHER_SLICE = 32 * 1024;

/** sha256 of the chunk into shas[shaAt..], and its id HMAC-SHA256(macKey, sha256) into ids[idAt..]. */
export function hashChunk(macKey: Buffer, chunk: Uint8Array, shas: Buffer, shaAt: number, ids: Buffer, idAt: number): void {
  const d = createHash('sha256').update(chunk).digest();
  d.copy(shas, shaAt);
  createHmac('sha256', macKey).update(d).digest().copy(ids, idAt);
}

/** The stored form of a chunk: nonce(12) || AES-256-GCM(plain, aad = id) || tag(16), written at out[o..]; returns its length. */
export function sealInto(encKey: Buffer, plain: Uint8Array, aad: Uint8Array, out: Buffer, o: number): number {
  randomFillSync(out, o, NONCE_LEN);
  const cipher = createCipheriv('aes-256-gcm', encKey, out.subarray(o, o + NONCE_LEN));
  cipher.setAAD(aad);
  let w = o + NONCE_LEN;
  for (let s = 0; s < plain.length; s += CIPHER_SLICE) {
    const part = cipher.update(plain.subarray(s, Math.min(plain.length, s + CIPHER_SLICE)));
    part.copy(out, w);
    w += part.length;
  }
  cipher.final();
  cipher.getAuthTag().copy(out, w);
  return w + TAG_LEN - o;
}

/**
 * Inverse of sealInto: the plaintext (a new buffer); throws when authentication fails. One update
 * over the whole body: unlike sealing, slices measured no faster here (0.69 vs 0.66 CPU-s/GiB on
 * 128 KiB chunks), as the result is used in place and not copied.
 */
export function openChunk(encKey: Buffer, blob: Buffer, aad: Uint8Array): Buffer {
  if (blob.length < NONCE_LEN + TAG_LEN) throw new Error('truncated');
  const d = createDecipheriv('aes-256-gcm', encKey, blob.subarray(0, NONCE_LEN));
  d.setAAD(aad);
  d.setAuthTag(blob.subarray(blob.length - TAG_LEN));
  const body = d.update(blob.subarray(NONCE_LEN, blob.length - TAG_LEN));
  d.final();
  return body;
}

/**
 * zstd at `level` into a reused buffer. Chunk-sized inputs need no big window or tables: windowLog
 * fits the chunk, and for level >= 1 hashLog 12 + minMatch 7 (on text-like 128 KiB chunks 410 MiB/s
 * against 344 for plain level 1, ratio 0.427 against 0.415; on the reference image 1.08-1.25 CPU-s
 * per GiB against 1.24-1.46 at 0.7917 against 0.7875 stored/raw, docs/performance.md). Incompressible
 * chunks need no sampling: zstd's own fast path takes 0.12-0.16 CPU-s/GiB on them. The output is an
 * ordinary zstd frame: readers need no parameter.
 */
export class ChunkCompressor {
  private readonly cctx = new binding.CCtx();
  private readonly out: Buffer;

  constructor(
    readonly level: number,
    chunkSize: number,
    tuned = true,
  ) {
    this.out = Buffer.alloc(binding.compressBound(chunkSize));
    this.cctx.setParameter(binding.CParameter.compressionLevel, level);
    if (tuned) {
      this.cctx.setParameter(binding.CParameter.windowLog, Math.max(10, Math.min(17, Math.ceil(Math.log2(chunkSize)))));
      if (level >= 1) {
        this.cctx.setParameter(binding.CParameter.hashLog, 12);
        this.cctx.setParameter(binding.CParameter.minMatch, 7);
      }
    }
  }

  /**
   * The compressed chunk (a view of this compressor's buffer, valid until the next call), or
   * undefined when it would not save 1/32 of the chunk: such chunks are stored raw, and restore
   * skips decompressing them.
   */
  compress(chunk: Uint8Array): Buffer | undefined {
    const n = this.cctx.compress2(this.out, chunk);
    return n < chunk.length - (chunk.length >> 5) ? this.out.subarray(0, n) : undefined;
  }
}

export class ChunkDecompressor {
  private readonly dctx = new binding.DCtx();

  /** Decompresses body into out[0..rawLen]; throws unless it is exactly rawLen bytes. */
  decompress(body: Uint8Array, out: Buffer, rawLen: number): Buffer {
    const n = this.dctx.decompress(out.subarray(0, rawLen), body);
    if (n !== rawLen) throw new Error('wrong length');
    return out.subarray(0, rawLen);
  }
}
