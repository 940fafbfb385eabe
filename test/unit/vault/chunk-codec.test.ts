import { createHash, createHmac, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { ChunkCompressor, ChunkDecompressor, hashChunk, openChunk, sealInto } from '../../../main/core/vault/chunk-codec.js';
import { open } from '../../../main/core/vault/crypto.js';

const zstd = createRequire(import.meta.url)('zstd-napi') as typeof import('zstd-napi');
const CHUNK = 128 * 1024;

describe("chunk codec (the workers' per-chunk code)", () => {
  it('seals chunks in 32 KiB slices into the stored blob format that crypto.open reads', () => {
    const key = randomBytes(32);
    const id = randomBytes(32);
    for (const len of [1, 1000, 32 * 1024, 32 * 1024 + 1, CHUNK - 3, CHUNK]) {
      const plain = randomBytes(len);
      const out = Buffer.alloc(len + 64);
      const n = sealInto(key, plain, id, out, 5);
      expect(n).toBe(len + 28);
      const blob = out.subarray(5, 5 + n);
      // Buffer.equals: a byte-wise toEqual of 128 KiB buffers takes seconds.
      expect(open(key, blob, id).equals(plain)).toBe(true);
      expect(openChunk(key, blob, id).equals(plain)).toBe(true);
    }
  });

  it('seals a segment in place, each output before its input, as a worker does', () => {
    const key = randomBytes(32);
    const n = 32;
    const slack = Math.ceil((n * 32) / 4096) * 4096;
    const seg = Buffer.alloc(slack + n * CHUNK);
    const originals = Array.from({ length: n }, (_, i) => (i % 3 === 0 ? Buffer.alloc(CHUNK, i) : randomBytes(CHUNK)));
    originals.forEach((c, i) => c.copy(seg, slack + i * CHUNK));
    const comp = new ChunkCompressor(1, CHUNK);
    const ids = originals.map(() => randomBytes(32));
    const blobs: Array<{ at: number; len: number; z: boolean }> = [];
    let o = 0;
    for (let i = 0; i < n; i++) {
      const c = seg.subarray(slack + i * CHUNK, slack + (i + 1) * CHUNK);
      const z = comp.compress(c);
      const len = sealInto(key, z ?? c, ids[i]!, seg, o);
      blobs.push({ at: o, len, z: z !== undefined });
      o += len;
    }
    const dec = new ChunkDecompressor();
    const raw = Buffer.alloc(CHUNK);
    blobs.forEach((b, i) => {
      const body = openChunk(key, seg.subarray(b.at, b.at + b.len), ids[i]!);
      expect((b.z ? dec.decompress(body, raw, CHUNK) : body).equals(originals[i]!)).toBe(true);
    });
  });

  it('refuses a sealed chunk with one flipped bit or under another id', () => {
    const key = randomBytes(32);
    const id = randomBytes(32);
    const out = Buffer.alloc(CHUNK + 64);
    const n = sealInto(key, randomBytes(CHUNK), id, out, 0);
    const blob = Buffer.from(out.subarray(0, n));
    expect(() => openChunk(key, blob, randomBytes(32))).toThrow();
    blob[40000]! ^= 0x10;
    expect(() => openChunk(key, blob, id)).toThrow();
    expect(() => openChunk(key, blob.subarray(0, 20), id)).toThrow('truncated');
  });

  it('compresses into ordinary zstd frames and leaves incompressible chunks raw', () => {
    const text = Buffer.from('a line of a log file, 2026-12-02 01:02:03 INFO backup started\n'.repeat(3000)).subarray(0, CHUNK);
    for (const level of [-5, 1, 3]) {
      const z = new ChunkCompressor(level, CHUNK).compress(text);
      expect(z).toBeDefined();
      expect(zstd.decompress(Buffer.from(z!)).equals(text)).toBe(true);
    }
    expect(new ChunkCompressor(1, CHUNK).compress(randomBytes(CHUNK))).toBeUndefined();
    expect(() => new ChunkDecompressor().decompress(Buffer.from(new ChunkCompressor(1, CHUNK).compress(text)!), Buffer.alloc(CHUNK), CHUNK - 1)).toThrow();
  });

  it('hashes a chunk to its sha256 and its id HMAC-SHA256(macKey, sha256)', () => {
    const mac = randomBytes(32);
    const c = randomBytes(5000);
    const shas = Buffer.alloc(64);
    const ids = Buffer.alloc(96);
    hashChunk(mac, c, shas, 32, ids, 64);
    const d = createHash('sha256').update(c).digest();
    expect(shas.subarray(32).equals(d)).toBe(true);
    expect(ids.subarray(64).equals(createHmac('sha256', mac).update(d).digest())).toBe(true);
  });
});
