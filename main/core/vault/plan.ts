import { createHash } from 'node:crypto';
import type { DiskEntry } from './format.js';

/*
 * Disk plans (issue 13, seam A): which parts of a disk a backup reads and where the rest of its
 * chunk list comes from. OWNED BY THE PLANS HELPER: this is the minimum the changed-block-tracking
 * branch needs (the interface exactly as the seam specifies, plus the two helpers it names); the
 * lead reconciles it with the plans branch at merge.
 */

export interface ByteRange {
  offset: number;
  length: number;
}

export interface DiskPlan {
  /** The parent point (same vault) and its entry for this disk. A different size => full read (FullReadReason 'sizeChanged'). */
  parent?: { pointId: string; entry: DiskEntry };
  /**
   * Byte ranges that changed since the parent. Every chunk a range touches is read again; every
   * other chunk is the parent's. `undefined` with a parent: nothing changed (the whole list is reused,
   * nothing is read). Without a parent: ignored (full read).
   */
  changed?: ByteRange[];
  /** Ranges known to hold only zeros (holes, unallocated): not read. */
  zero?: ByteRange[];
  /**
   * Where touched chunks are read from when not the disk's `path` (e.g. an NBD export of a
   * running guest's point-in-time view). Reads whole chunks: (offset, length) -> exactly length bytes.
   */
  readRange?: (offset: number, length: number) => Promise<Buffer>;
}

/** The parent's chunk ids (32 bytes each, an all-zero id for a zero chunk): the one place they are read (seam C swaps in split lists). */
export function parentChunkIds(entry: DiskEntry): Buffer {
  return Buffer.from(entry.chunks, 'base64');
}

/** The indexes of the chunks `ranges` touch, ascending and unique (a chunk is re-read when any byte of it changed). */
export function touchedChunks(ranges: readonly ByteRange[], chunkSize: number, size: number): number[] {
  const n = Math.ceil(size / chunkSize);
  const marks = new Uint8Array(n);
  for (const r of ranges) {
    if (r.length <= 0) continue;
    const first = Math.max(0, Math.floor(r.offset / chunkSize));
    const last = Math.min(n - 1, Math.floor((r.offset + r.length - 1) / chunkSize));
    for (let c = first; c <= last; c++) marks[c] = 1;
  }
  const out: number[] = [];
  for (let c = 0; c < n; c++) if (marks[c]) out.push(c);
  return out;
}

/** The digest of an entry built from a parent (digestOver 'ids'): sha256 over the concatenated chunk ids. */
export function idsDigest(ids: Buffer): string {
  return createHash('sha256').update(ids).digest('hex');
}
