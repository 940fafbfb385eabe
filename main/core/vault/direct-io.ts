import { constants as fsc } from 'node:fs';

// O_DIRECT (Linux): the bytes go between a page-aligned buffer and the device, not through the
// page cache. Packs (local-store.ts) and restored disks (worker.ts) are written so, and a restore
// reads its packs so (restore.ts, worker.ts).

/** O_DIRECT (Linux); undefined where the platform has none (Windows, macOS). */
export const DIRECT: number | undefined = (fsc as { O_DIRECT?: number }).O_DIRECT;
/** Address, length and offset alignment of an O_DIRECT write: 4096 covers every logical block size in use. */
export const DIRECT_ALIGN = 4096;
const aligned = new WeakSet<ArrayBufferLike>();

/** The error of an open (or a first read or write) on a filesystem that has no O_DIRECT (tmpfs, some FUSE and network mounts). */
export function refusesDirect(e: unknown): boolean {
  return ['EINVAL', 'EOPNOTSUPP', 'ENOTSUP'].includes((e as NodeJS.ErrnoException | undefined)?.code ?? '');
}

/** The aligned range [start, end) that holds bytes [offset, offset + length): what an O_DIRECT read of them reads. */
export function alignedSpan(offset: number, length: number): { start: number; end: number } {
  return { start: Math.floor(offset / DIRECT_ALIGN) * DIRECT_ALIGN, end: Math.ceil((offset + length) / DIRECT_ALIGN) * DIRECT_ALIGN };
}

/**
 * A zeroed buffer of `size` bytes on page-aligned memory, with room for the last O_DIRECT block.
 * WebAssembly memory is the one page-aligned allocation JavaScript offers; its pages are
 * mapped on first touch like any buffer's, and freed when the buffer is collected. (It cannot be
 * transferred to another thread: a worker allocates its own.)
 */
export function allocAligned(size: number): Buffer {
  const pages = Math.max(1, Math.ceil((size + DIRECT_ALIGN) / 65536));
  const mem = new WebAssembly.Memory({ initial: pages, maximum: pages });
  aligned.add(mem.buffer);
  return Buffer.from(mem.buffer, 0, size);
}

/** data starts at an aligned address of an allocAligned buffer that holds its last block whole. */
export function directWritable(data: Uint8Array): boolean {
  if (data.length === 0 || data.byteOffset % DIRECT_ALIGN !== 0 || !aligned.has(data.buffer)) return false;
  return data.byteOffset + Math.ceil(data.length / DIRECT_ALIGN) * DIRECT_ALIGN <= data.buffer.byteLength;
}
