import { constants as fsConstants } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import { runTool } from '../exec.js';
import type { DiskFormat } from '../types.js';

/** Disk image formats: by file name, by libvirt driver type, by the bytes in the header; qcow2 backing files. */

export const IMAGE_EXTENSIONS = ['.img', '.raw', '.qcow2', '.qcow', '.vdi', '.vmdk', '.vhd', '.vhdx'];

export function isImageFileName(name: string): boolean {
  return IMAGE_EXTENSIONS.includes(path.extname(name).toLowerCase());
}

/** A guess from the file name, used only when the file itself cannot be read. */
export function formatFromExtension(p: string): DiskFormat {
  switch (path.extname(p).toLowerCase()) {
    case '.qcow2':
    case '.qcow':
      return 'qcow2';
    case '.vdi':
      return 'vdi';
    case '.vmdk':
      return 'vmdk';
    case '.vhd':
      return 'vhd';
    case '.vhdx':
    case '.avhdx':
      return 'vhdx';
    case '.img':
    case '.raw':
      return 'raw';
    default:
      return 'unknown';
  }
}

/** libvirt's driver type names (vpc is qemu's name for VHD). */
export function formatFromDriverType(t: string | undefined): DiskFormat | undefined {
  switch (t) {
    case 'raw':
    case 'qcow2':
    case 'vdi':
    case 'vmdk':
    case 'vhdx':
      return t;
    case 'vpc':
      return 'vhd';
    case undefined:
      return undefined;
    default:
      return 'unknown';
  }
}

/** The format from the bytes at the start (and, for VHD, the end) of an image. */
export function formatFromMagic(head: Buffer, tail?: Buffer): DiskFormat {
  const ascii = (b: Buffer, start: number, len: number) => b.subarray(start, start + len).toString('latin1');
  if (head.length >= 4 && head.readUInt32BE(0) === 0x514649fb) return 'qcow2';
  if (ascii(head, 0, 4) === 'KDMV' || ascii(head, 0, 4) === 'COWD') return 'vmdk';
  if (ascii(head, 0, 8) === 'vhdxfile') return 'vhdx';
  if (head.length >= 0x44 && head.readUInt32LE(0x40) === 0xbeda107f) return 'vdi';
  if (/^\s*# Disk DescriptorFile/.test(ascii(head, 0, 64))) return 'vmdk';
  // Fixed VHDs carry only the footer; dynamic ones also copy it to the first sector.
  if (ascii(head, 0, 8) === 'conectix') return 'vhd';
  if (tail && tail.includes('conectix', 0, 'latin1')) return 'vhd';
  return 'raw';
}

export async function readAt(p: string, position: number, length: number): Promise<Buffer> {
  const fh = await open(p, fsConstants.O_RDONLY);
  try {
    const buf = Buffer.alloc(length);
    const { bytesRead } = await fh.read(buf, 0, length, position);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

export async function detectDiskFormat(p: string): Promise<DiskFormat> {
  const st = await stat(p);
  if (!st.isFile()) return st.isBlockDevice() ? 'raw' : 'unknown';
  const head = await readAt(p, 0, 512);
  const tail = st.size >= 512 ? await readAt(p, st.size - 512, 512) : undefined;
  return formatFromMagic(head, tail);
}

/** The backing file name stored in a qcow2 header, or undefined when the image has none. */
export function qcow2BackingFromHeader(header: Buffer): string | undefined {
  if (header.length < 20 || header.readUInt32BE(0) !== 0x514649fb) throw new Error('not a qcow2 image');
  const offset = header.readBigUInt64BE(8);
  const size = header.readUInt32BE(16);
  if (offset === 0n || size === 0) return undefined;
  // The name sits right after the header; qemu caps it at 1023 bytes.
  if (size > 1023 || offset > 65536n) throw new Error(`implausible qcow2 backing file field (offset ${offset}, size ${size})`);
  const start = Number(offset);
  if (header.length < start + size) throw new Error('qcow2 header shorter than its backing file field');
  return header.subarray(start, start + size).toString('utf8');
}

export async function readQcow2Backing(p: string): Promise<string | undefined> {
  const head = await readAt(p, 0, 65536 + 1024);
  return qcow2BackingFromHeader(head);
}

/** Fallback for headers we do not understand (json: backing specs): ask qemu-img, never a shell. */
export async function qemuImgBacking(p: string): Promise<string | undefined> {
  const r = await runTool('qemu-img', ['info', '--output=json', '-U', p], { timeoutMs: 20_000 });
  if (r.code !== 0) throw new Error(`qemu-img info failed: ${r.stderr.trim()}`);
  const info = JSON.parse(r.stdout) as { 'full-backing-filename'?: string; 'backing-filename'?: string };
  return info['full-backing-filename'] ?? info['backing-filename'];
}

