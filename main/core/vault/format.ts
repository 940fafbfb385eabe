import { randomBytes } from 'node:crypto';
import { z } from 'zod';

/**
 * Fixed chunk size of new vaults. Measured on the reference images (1 GiB, 2% scattered 64 KiB
 * writes): bytes added by the incremental were 26 MB at 64 KiB, 36 MB at 128 KiB, 57 MB at
 * 256 KiB and 165 MB at 1 MiB chunks (zstd-1). 128 KiB keeps incrementals far below the target
 * while halving the per-chunk overhead (index memory, manifest size, per-call costs) of 64 KiB.
 */
export const DEFAULT_CHUNK_SIZE = 128 * 1024;
export const MIN_CHUNK_SIZE = 4 * 1024;
export const MAX_CHUNK_SIZE = 8 * 1024 * 1024;

/** Packs are closed once they reach this size: 130k to 260k objects per TiB (a pack takes whole 4 MiB segments), and the pack buffers (up to three in flight) stay near 24 MiB. */
export const PACK_TARGET_SIZE = 8 * 1024 * 1024;
/**
 * zstd level: level 1 compresses the reference mix as well as 3 (0.798 vs 0.794) and faster. The
 * fast negative levels and LZ4 were measured against it and lost (docs/performance.md).
 */
export const ZSTD_LEVEL = 1;

export const ID_LEN = 32; // chunk id: HMAC-SHA256
export const NONCE_LEN = 12;
export const TAG_LEN = 16;
export const BLOB_OVERHEAD = NONCE_LEN + TAG_LEN;

/** Chunk flag bits stored in the index. */
export const FLAG_ZSTD = 1;

export const PACK_PREFIX = 'packs/';
export const INDEX_PREFIX = 'index/';
export const POINT_PREFIX = 'points/';
export const LOCK_PREFIX = 'locks/';

export const packKey = (packId: string): string => `${PACK_PREFIX}${packId.slice(0, 2)}/${packId}`;
export const indexKey = (packId: string): string => `${INDEX_PREFIX}${packId}`;
export const pointKey = (pointId: string): string => `${POINT_PREFIX}${pointId}`;

export const PACK_ID_RE = /^[0-9a-f]{32}$/;
/** Point ids sort by creation time: 20250101T120000Z-<8 hex>. */
export const POINT_ID_RE = /^\d{8}T\d{6}\d{3}Z-[0-9a-f]{8}$/;

export function newPackId(): string {
  return randomBytes(16).toString('hex');
}

export function newPointId(now = new Date()): string {
  const iso = now.toISOString(); // 2025-01-01T12:00:00.000Z
  const stamp = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}T${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}${iso.slice(20, 23)}Z`;
  return `${stamp}-${randomBytes(4).toString('hex')}`;
}

export const CONSISTENCY = ['application', 'filesystem', 'crash', 'offline'] as const;
export type Consistency = (typeof CONSISTENCY)[number];

/** A name that is safe as a single file name inside a restore target (no separators, no dots-only). */
export const SafeFileName = z
  .string()
  .min(1)
  .max(255)
  .refine((s) => !/[/\\\0]/.test(s) && s !== '.' && s !== '..', 'not a plain file name');

/** Chunk ids per chunk-list object (1 MiB of ids at most; 4 GiB of disk at 128 KiB chunks). */
export const CHUNK_LIST_RUN = 32768;
export const CHUNK_LIST_PREFIX = 'chunklists/';
/** A chunk-list object's name: 64 hex chars (a keyed hash of its content). */
export const CHUNK_LIST_ID_RE = /^[0-9a-f]{64}$/;
export const chunkListKey = (runId: string): string => `${CHUNK_LIST_PREFIX}${runId}`;

/** Where a version 2 disk entry's chunk ids are: `count` ids in runs of `runChunks` (the last one shorter). */
export const ChunkListRefSchema = z
  .object({
    count: z.number().int().nonnegative(),
    runChunks: z.number().int().min(1).max(1 << 20),
    runs: z.array(z.string().regex(CHUNK_LIST_ID_RE)),
  })
  .refine((l) => l.runs.length === Math.ceil(l.count / l.runChunks), { message: 'run count does not match the chunk count', path: ['runs'] });
export type ChunkListRef = z.infer<typeof ChunkListRefSchema>;

export const DiskEntrySchema = z.object({
  name: SafeFileName,
  size: z.number().int().nonnegative(),
  /** sha256 over the concatenated sha256 of every chunk (zero chunks included), see docs. */
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  /** Version 1 points: concatenated 32-byte chunk ids, base64; an all-zero id marks an all-zero chunk. Read through loadChunkIds. */
  chunks: z.string().optional(),
  zeroBytes: z.number().int().nonnegative(),
  /** ctimeMs: written since incrementals of off VMs; an entry without it never counts as unchanged. */
  source: z.object({ path: z.string(), mtimeMs: z.number(), ino: z.number(), ctimeMs: z.number().optional() }).optional(),
  /**
   * What `sha256` is computed over: 'sha256' (absent) the sha256 of every chunk's plaintext, for a
   * disk read whole; 'ids' the chunk ids themselves, for a disk built from a parent point's list
   * (the parent's per-chunk sha256 are not stored). See docs/vault-format.md.
   */
  digestOver: z.enum(['sha256', 'ids']).optional(),
  /** A disk built from a parent point: its id, and how many points in a row (this one included) were built so since the disk was last read whole. */
  incremental: z.object({ parent: z.string(), depth: z.number().int().positive() }).optional(),
  /** Version 2 points: the chunk list in its own objects (chunk-lists.ts). Read through loadChunkIds. */
  list: ChunkListRefSchema.optional(),
  /**
   * How the disk is stored (seam B): 'file' (absent) = the disk file's own bytes; 'guest' = the
   * guest-visible block device (raw bytes, as changed-block tracking reads them), with `format`
   * the original file's format, which restore writes back by default.
   */
  stored: z.object({ form: z.enum(['file', 'guest']), format: z.string().min(1).max(32) }).optional(),
  /** The libvirt checkpoint created with this point (changed-block tracking): the next backup reads what changed since it. */
  checkpoint: z.string().min(1).max(200).optional(),
});
export type DiskEntry = z.infer<typeof DiskEntrySchema>;

export const ManifestSchema = z.object({
  format: z.literal('coffer-point'),
  /** 1: disks carry `chunks`; 2: disks carry `list` (their chunk lists are objects of their own). */
  version: z.union([z.literal(1), z.literal(2)]),
  id: z.string().regex(POINT_ID_RE),
  created: z.string(),
  vm: z.object({ name: z.string().min(1), id: z.string().optional() }),
  consistency: z.enum(CONSISTENCY),
  retainUntil: z.string().nullable(),
  policy: z.string().nullable(),
  chunkSize: z.number().int().positive(),
  definition: z.object({ fileName: SafeFileName, content: z.string() }).nullable(),
  disks: z.array(DiskEntrySchema),
  stats: z.object({
    logicalBytes: z.number().int().nonnegative(),
    zeroBytes: z.number().int().nonnegative(),
    newChunks: z.number().int().nonnegative(),
    newRawBytes: z.number().int().nonnegative(),
    addedBytes: z.number().int().nonnegative(),
    seconds: z.number().nonnegative(),
  }),
}).superRefine((m, ctx) => {
  m.disks.forEach((d, i) => {
    const ok = m.version === 1 ? d.chunks !== undefined && d.list === undefined : d.list !== undefined && d.chunks === undefined;
    if (!ok) ctx.addIssue({ code: 'custom', message: `a version ${m.version} disk carries ${m.version === 1 ? 'chunks' : 'list'} only`, path: ['disks', i] });
  });
});
export type Manifest = z.infer<typeof ManifestSchema>;

/** One chunk location as stored in an index object and held in memory. */
export interface ChunkLocation {
  pack: string;
  offset: number;
  /** Stored (encrypted blob) length: nonce + ciphertext + tag. */
  length: number;
  rawLength: number;
  flags: number;
}

const INDEX_MAGIC = Buffer.from('CFXI');
const INDEX_ENTRY = ID_LEN + 4 + 4 + 4 + 1;

/** Index object plaintext: "CFXI", u8 version=1, 16-byte pack id, u32 count, then entries. */
export function encodeIndex(packId: string, entries: Array<{ id: Buffer } & Omit<ChunkLocation, 'pack'>>): Buffer {
  const out = Buffer.alloc(4 + 1 + 16 + 4 + entries.length * INDEX_ENTRY);
  INDEX_MAGIC.copy(out, 0);
  out[4] = 1;
  Buffer.from(packId, 'hex').copy(out, 5);
  out.writeUInt32LE(entries.length, 21);
  let o = 25;
  for (const e of entries) {
    e.id.copy(out, o);
    out.writeUInt32LE(e.offset, o + 32);
    out.writeUInt32LE(e.length, o + 36);
    out.writeUInt32LE(e.rawLength, o + 40);
    out[o + 44] = e.flags;
    o += INDEX_ENTRY;
  }
  return out;
}

export interface DecodedIndex {
  packId: string;
  count: number;
  ids: Buffer; // count * 32
  offsets: Uint32Array;
  lengths: Uint32Array;
  rawLengths: Uint32Array;
  flags: Uint8Array;
}

export function decodeIndex(buf: Buffer): DecodedIndex {
  if (buf.length < 25 || !buf.subarray(0, 4).equals(INDEX_MAGIC) || buf[4] !== 1) throw new Error('not a Coffer index object');
  const packId = buf.subarray(5, 21).toString('hex');
  const count = buf.readUInt32LE(21);
  if (buf.length !== 25 + count * INDEX_ENTRY) throw new Error('index object has the wrong length');
  const ids = Buffer.alloc(count * ID_LEN);
  const offsets = new Uint32Array(count);
  const lengths = new Uint32Array(count);
  const rawLengths = new Uint32Array(count);
  const flags = new Uint8Array(count);
  let o = 25;
  for (let i = 0; i < count; i++) {
    buf.copy(ids, i * ID_LEN, o, o + ID_LEN);
    offsets[i] = buf.readUInt32LE(o + 32);
    lengths[i] = buf.readUInt32LE(o + 36);
    rawLengths[i] = buf.readUInt32LE(o + 40);
    flags[i] = buf[o + 44]!;
    o += INDEX_ENTRY;
  }
  return { packId, count, ids, offsets, lengths, rawLengths, flags };
}
