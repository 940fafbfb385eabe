import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import { runToolLines } from '../sources/exec.js';
import { isZeroIdAt, isZeroRun, zeroIdsEnd } from './chunk-lists.js';
import { ID_LEN, type DiskEntry } from './format.js';

/*
 * Disk plans: which chunks of a disk a backup reads, which it takes from the parent point's chunk
 * list, and which it knows to be zero without reading them (holes of sparse files, unallocated
 * ranges). The protection layer (off VMs: the file did not change) and the changed-block tracking
 * of running VMs build a plan; runBackup (backup.ts) follows it. See docs/vault-format.md.
 */

export interface ByteRange {
  offset: number;
  length: number;
}

/** What identifies a disk file's content without reading it: equal stamps, equal bytes (short of tools that forge mtime and ctime). */
export interface FileStamp {
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
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
  /** Ranges known to hold only zeros (holes, unallocated): not read. Computed from the file (fileZeroRanges) when not given and no readRange. */
  zero?: ByteRange[];
  /**
   * Where touched chunks are read from when not the disk's `path` (e.g. an NBD export of a
   * running guest's point-in-time view). Reads whole chunks: (offset, length, into) -> exactly
   * length bytes, in `into` (the segment's buffer, the bytes land there without another copy)
   * or in a buffer of its own.
   */
  readRange?: (offset: number, length: number, into: Buffer) => Promise<Buffer>;
  /** The disk's size when it is not the file's (a guest view read through readRange). */
  size?: number;
  /**
   * The file's stamp the plan was made against (a disk found unchanged since the parent). The
   * backup refuses (DiskChangedDuringBackup) when the file it opens has another stamp, so a change
   * between planning and reading can never be recorded as "unchanged".
   */
  basis?: FileStamp;
}

/** What a chunk of the new point becomes. */
export const CHUNK_READ = 0;
export const CHUNK_PARENT = 1;
export const CHUNK_ZERO = 2;

/**
 * The chunk ids (32 bytes each, an all-zero id for a zero chunk) of a version 1 entry, whose list
 * sits in the manifest. A version 2 entry's list is in its own objects: the backup loads it with
 * loadChunkIds (chunk-lists.ts) and hands it to chunkActions.
 */
export function parentChunkIds(entry: DiskEntry): Buffer {
  if (entry.chunks === undefined) throw new Error('a version 2 disk entry: load its chunk list with loadChunkIds');
  return Buffer.from(entry.chunks, 'base64');
}

/** Whether a file's stamp now equals what the parent point recorded (entries without a ctime never match). */
export function sameFile(source: DiskEntry['source'], size: number, now: FileStamp): boolean {
  return (
    source !== undefined &&
    source.ctimeMs !== undefined &&
    size === now.size &&
    source.mtimeMs === now.mtimeMs &&
    source.ctimeMs === now.ctimeMs &&
    source.ino === now.ino
  );
}

export function sameStamp(a: FileStamp, b: FileStamp): boolean {
  return a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs && a.ino === b.ino;
}

/** The digest of an entry built from a parent (digestOver 'ids'): sha256 over its chunk ids in order. */
export function idsDigest(ids: Buffer): string {
  return createHash('sha256').update(ids).digest('hex');
}

export interface ChunkActions {
  /** One CHUNK_* per chunk of the disk. */
  actions: Uint8Array;
  /** The parent's ids when the plan has a usable parent (same size), else undefined. */
  parentIds: Buffer | undefined;
}

/**
 * What to do with each chunk of a disk of `size` bytes: with a usable parent every chunk is the
 * parent's except those a changed range touches (read); without one every chunk is read. Chunks
 * wholly inside a zero range, and parent chunks the parent stored as zero, are zero.
 * `loadedParentIds`: the parent's list as loadChunkIds read it (required for version 2 entries).
 * The whole disk at once: runBackup works window by window through windowActions.
 */
export function chunkActions(size: number, chunkSize: number, plan: DiskPlan | undefined, loadedParentIds?: Buffer): ChunkActions {
  const n = Math.ceil(size / chunkSize);
  let parentIds: Buffer | undefined;
  if (plan?.parent && plan.parent.entry.size === size) {
    parentIds = loadedParentIds ?? parentChunkIds(plan.parent.entry);
    if (parentIds.length !== n * ID_LEN) parentIds = undefined; // another chunk size: nothing to reuse
  }
  const actions = windowActions(0, n, size, chunkSize, parentIds, mergeRanges(plan?.changed ?? []), mergeRanges(plan?.zero ?? []));
  return { actions, parentIds };
}

/**
 * The actions of chunks first..first+n-1 (see chunkActions): `parentIds` the parent's ids of
 * those chunks (undefined: no usable parent, all read), `changed` and `zero` as mergeRanges
 * gives them (sorted, disjoint), so a window finds its ranges by binary search.
 */
export function windowActions(
  first: number,
  n: number,
  size: number,
  chunkSize: number,
  parentIds: Buffer | undefined,
  changed: readonly ByteRange[],
  zero: readonly ByteRange[],
): Uint8Array {
  const actions = new Uint8Array(n);
  if (parentIds) {
    actions.fill(isZeroRun(parentIds) ? CHUNK_ZERO : CHUNK_PARENT);
    // Chunks the parent stored as zero stay zero; its holes are skipped many ids per compare.
    for (let i = 0; i < n && !isZeroRun(parentIds); i++) {
      if (!isZeroIdAt(parentIds, i)) continue;
      const j = zeroIdsEnd(parentIds, i, n);
      actions.fill(CHUNK_ZERO, i, j);
      i = j;
    }
    const wStart = first * chunkSize;
    const wEnd = Math.min(size, (first + n) * chunkSize);
    for (let k = firstEndingAfter(changed, wStart); k < changed.length && changed[k]!.offset < wEnd; k++) {
      const [a, b] = touched(changed[k]!, size, chunkSize);
      for (let c = Math.max(a, first); c <= Math.min(b, first + n - 1); c++) actions[c - first] = CHUNK_READ;
    }
  }
  markZero(actions, size, chunkSize, zero, first);
  return actions;
}

/** Sorted, disjoint ranges covering the same bytes (empty ones dropped; touching ones joined). */
export function mergeRanges(ranges: readonly ByteRange[]): ByteRange[] {
  const sorted = ranges.filter((r) => r.length > 0).sort((a, b) => a.offset - b.offset);
  const out: ByteRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.offset <= last.offset + last.length) last.length = Math.max(last.length, r.offset + r.length - last.offset);
    else out.push({ offset: r.offset, length: r.length });
  }
  return out;
}

/** The index of the first of sorted, disjoint ranges that ends after `at`. */
function firstEndingAfter(ranges: readonly ByteRange[], at: number): number {
  let lo = 0;
  let hi = ranges.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const r = ranges[mid]!;
    if (r.offset + r.length <= at) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Marks the chunks wholly inside a zero range as zero (a chunk partly outside one must be read).
 * `actions` covers chunks first..first+actions.length-1; `zero` sorted and disjoint (mergeRanges)
 * when first > 0, so only the ranges over the window are looked at.
 */
export function markZero(actions: Uint8Array, size: number, chunkSize: number, zero: readonly ByteRange[], first = 0): void {
  const n = actions.length;
  const from = first > 0 ? firstEndingAfter(zero, first * chunkSize) : 0;
  for (let k = from; k < zero.length; k++) {
    const r = zero[k]!;
    if (first > 0 && r.offset >= (first + n) * chunkSize) break;
    const start = Math.max(0, r.offset);
    const end = Math.min(size, r.offset + r.length);
    for (let i = Math.max(first, Math.ceil(start / chunkSize)); i < first + n && Math.min(size, (i + 1) * chunkSize) <= end; i++) actions[i - first] = CHUNK_ZERO;
  }
}

/** The first and last chunk a range touches (clamped to the disk; an empty range touches none). */
/** The indexes of the chunks `ranges` touch, ascending and unique (a chunk is re-read when any byte of it changed). */
export function touchedChunks(ranges: readonly ByteRange[], chunkSize: number, size: number): number[] {
  const marks = new Uint8Array(Math.ceil(size / chunkSize));
  for (const r of ranges) {
    const [first, last] = touched(r, size, chunkSize);
    for (let c = first; c <= last; c++) marks[c] = 1;
  }
  const out: number[] = [];
  for (let c = 0; c < marks.length; c++) if (marks[c]) out.push(c);
  return out;
}

function touched(r: ByteRange, size: number, chunkSize: number): [number, number] {
  const start = Math.max(0, r.offset);
  const end = Math.min(size, r.offset + r.length);
  if (end <= start) return [1, 0];
  return [Math.floor(start / chunkSize), Math.floor((end - 1) / chunkSize)];
}

/** A run of chunks with the same action, at most `maxChunks` long when it is read. */
export interface ChunkRun {
  action: number;
  first: number;
  count: number;
}

/** Runs of equal actions in disk order; read runs are cut at maxChunks (a segment). */
export function* chunkRuns(actions: Uint8Array, maxChunks: number): Generator<ChunkRun> {
  const n = actions.length;
  for (let i = 0; i < n; ) {
    const a = actions[i]!;
    let j = i + 1;
    while (j < n && actions[j] === a && (a !== CHUNK_READ || j - i < maxChunks)) j++;
    yield { action: a, first: i, count: j - i };
    i = j;
  }
}

/** Extents as `qemu-img map --output=json` reports them. */
interface MapExtent {
  start: number;
  length: number;
  zero: boolean;
  data: boolean;
}

/**
 * The ranges of a file that read as zeros (holes and unallocated extents, from SEEK_DATA /
 * SEEK_HOLE), through `qemu-img map -f raw`: it maps any regular file's bytes, raw images and
 * qcow2 files alike. Its JSON (one extent a line) is read line by line as it comes, adjacent zero
 * extents joined: memory follows the number of holes, never the disk's size or the map's length.
 * Without qemu-img (or when it fails) nothing is known: every byte is read.
 */
export async function fileZeroRanges(file: string, signal?: AbortSignal): Promise<ByteRange[]> {
  const out: ByteRange[] = [];
  try {
    const r = await runToolLines(
      'qemu-img',
      ['map', '--output=json', '-f', 'raw', file],
      (line) => {
        const t = line.trim().replace(/^\[/, '').replace(/[\],]+$/, '');
        if (t === '') return;
        const e = JSON.parse(t) as MapExtent;
        if (!e.zero || !(e.length > 0)) return;
        const last = out[out.length - 1];
        if (last && last.offset + last.length === e.start) last.length += e.length;
        else out.push({ offset: e.start, length: e.length });
      },
      { timeoutMs: 120_000, ...(signal ? { signal } : {}) },
    );
    return r.code === 0 ? out : [];
  } catch {
    // No qemu-img (ToolMissingError), a timeout, output that does not parse: read everything.
    // Cancelled: the backup sees its signal next.
    return [];
  }
}

/** The stamp of a disk file now (lstat is not enough: a disk may be reached through a symlink). */
export async function fileStamp(file: string): Promise<FileStamp> {
  const st = await fs.stat(file);
  return { size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, ino: st.ino };
}
