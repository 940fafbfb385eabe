import * as fs from 'node:fs/promises';
import { CofferError } from '../errors.js';
import { RestoreFormat } from '../../../preload/contract.js';
import type { Manifest } from '../vault/format.js';
import { convertDisk } from './convert.js';

/*
 * Restore writes a disk in the format the admin expects (seam B): a disk stored as the guest saw
 * it (form 'guest': raw block-device bytes, as changed-block tracking reads them) is converted
 * back to its original file format with `qemu-img convert`, so the restored file is what the
 * hypervisor ran and reads as exactly the bytes the guest saw. Disks stored as their file's bytes
 * need nothing. The conversion itself is convert.ts's (the `--format` choice of restore uses it too).
 */

/** The format a restored disk is written in by default: the original file's (raw for 'guest' bytes when it was raw). */
export function restoredFormat(d: Manifest['disks'][number]): RestoreFormat | undefined {
  if (d.stored?.form !== 'guest' || d.stored.format === 'raw') return undefined;
  const f = RestoreFormat.safeParse(d.stored.format);
  if (!f.success) throw new CofferError('ConvertFailed', `Disk ${d.name} was stored from a ${d.stored.format} file, a format Coffer cannot write back.`, { disk: d.name, format: d.stored.format });
  return f.data;
}

/** Converts the restored raw bytes of each 'guest' disk at `files` (manifest name -> path) into its original format, in place. */
export async function writeOriginalFormats(m: Manifest, files: ReadonlyMap<string, string>, signal?: AbortSignal): Promise<void> {
  for (const d of m.disks) {
    const format = restoredFormat(d);
    const file = files.get(d.name);
    if (!format || !file) continue;
    // In place, through convertDisk's one temporary; durable before it takes the name, as
    // replace-disks swaps it in for the VM's own disk.
    await convertDisk(file, 'raw', file, format, { signal, fsync: true, mode: (await fs.stat(file)).mode & 0o7777 });
  }
}
