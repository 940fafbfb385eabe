// The block device every layer of file browsing reads through: a point's disk (random-read.ts),
// a partition of it, a qcow2 file's guest view. Reads at any offset, never writes.
import { CofferError } from '../errors.js';

export interface BlockDevice {
  readonly size: number;
  /** Fills `into` from `position`; answers the bytes read (short only at the end). */
  read(into: Buffer, position: number): Promise<number>;
}

/** `length` bytes at `position` (fewer at the end of the device). */
export async function readAt(dev: BlockDevice, position: number, length: number): Promise<Buffer> {
  const b = Buffer.alloc(Math.max(0, Math.min(length, dev.size - position)));
  if (b.length === 0) return b;
  const n = await dev.read(b, position);
  return b.subarray(0, n);
}

/** A window of a device: a partition. */
export function sliceDevice(dev: BlockDevice, offset: number, size: number): BlockDevice {
  const len = Math.max(0, Math.min(size, dev.size - offset));
  return {
    size: len,
    async read(into, position) {
      if (position >= len) return 0;
      const n = Math.min(into.length, len - position);
      return dev.read(n === into.length ? into : into.subarray(0, n), offset + position);
    },
  };
}

/** Thrown for a disk or filesystem file browsing cannot read: names it and what would read it. */
export function unsupported(what: string, remedy: string, details: Record<string, unknown> = {}): CofferError {
  return new CofferError('FilesystemUnsupported', `${what} cannot be browsed: ${remedy}`, { filesystem: what, ...details });
}
