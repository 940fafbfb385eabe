// Disks of a point stored as VMDK (sparse), VHDX, VDI or dynamic VHD files: Coffer reads qcow2's
// cluster tables itself, these through qemu-img where it is installed. The container file is
// copied out of the vault into a private sparse temporary file (zero chunks stay holes), converted
// to a sparse raw image with `qemu-img convert`, and browsed from there; the temporary files go
// when the browse ends. Without qemu-img the disk is listed with what to install.
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { convertDisk, qemuImgAvailable, type ConvertibleFormat } from '../protection/convert.js';
import type { BlockDevice } from './device.js';

const COPY_PIECE = 4 * 1024 * 1024;

/** The format qemu-img reads for a container containerOf (qcow2.ts) names. */
export function containerFormat(container: string): ConvertibleFormat | undefined {
  if (container.startsWith('VMDK')) return 'vmdk';
  if (container === 'VHDX') return 'vhdx';
  if (container === 'VDI') return 'vdi';
  if (container.startsWith('VHD')) return 'vhd';
  return undefined;
}

/** Copies a device into a new private sparse file: only pieces that are not all zero are written. */
export async function copyToSparseFile(dev: BlockDevice, file: string): Promise<void> {
  const fh = await fs.open(file, 'wx', 0o600);
  try {
    await fh.truncate(dev.size);
    const buf = Buffer.alloc(COPY_PIECE);
    for (let pos = 0; pos < dev.size; pos += COPY_PIECE) {
      const n = await dev.read(buf, pos);
      const piece = buf.subarray(0, n);
      if (!piece.every((b) => b === 0)) await fh.write(piece, 0, n, pos);
    }
  } finally {
    await fh.close();
  }
}

/** A read-only device over a file. */
async function fileDevice(file: string): Promise<BlockDevice & { close(): Promise<void> }> {
  const fh = await fs.open(file, 'r');
  const { size } = await fh.stat();
  return {
    size,
    read: async (into, position) => (await fh.read(into, 0, Math.min(into.length, Math.max(0, size - position)), position)).bytesRead,
    close: () => fh.close(),
  };
}

/**
 * The guest view of a container disk through qemu-img, or why it cannot be had. `close` removes
 * the temporary files.
 */
export async function openContainer(dev: BlockDevice, container: string, name: string): Promise<{ dev: BlockDevice; close(): Promise<void> } | { reason: string }> {
  const format = containerFormat(container);
  if (!format) return { reason: `${container}: convert the restored disk with qemu-img convert -O raw to browse it.` };
  if (!(await qemuImgAvailable())) return { reason: `${container}: install qemu-img to browse it (Debian/Ubuntu: apt install qemu-utils).` };
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'coffer-container-'));
  try {
    const src = path.join(dir, path.basename(name) || 'disk');
    const raw = path.join(dir, 'guest.raw');
    await copyToSparseFile(dev, src);
    await convertDisk(src, format, raw, 'raw');
    await fs.rm(src, { force: true });
    const view = await fileDevice(raw);
    return {
      dev: view,
      close: async () => {
        await view.close();
        await fs.rm(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await fs.rm(dir, { recursive: true, force: true });
    throw e;
  }
}
