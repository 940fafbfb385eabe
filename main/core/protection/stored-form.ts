import * as fs from 'node:fs/promises';
import { CofferError } from '../errors.js';
import { runTool } from '../sources/exec.js';
import type { Manifest } from '../vault/format.js';

/*
 * Restore writes a disk in the format the admin expects (seam B): a disk stored as the guest saw
 * it (form 'guest': raw block-device bytes, as changed-block tracking reads them) is converted
 * back to its original file format with `qemu-img convert`, so the restored file is what the
 * hypervisor ran and reads as exactly the bytes the guest saw. Disks stored as their file's bytes
 * need nothing. (The general `--format` conversion on restore lives in convert.ts; the lead routes
 * this through it at merge.)
 */

/** The format a restored disk is written in by default: the original file's (raw for 'guest' bytes when it was raw). */
export function restoredFormat(d: Manifest['disks'][number]): string | undefined {
  if (d.stored?.form !== 'guest') return undefined;
  return d.stored.format === 'raw' ? undefined : d.stored.format;
}

/** Converts the restored raw bytes of each 'guest' disk at `files` (manifest name -> path) into its original format, in place. */
export async function writeOriginalFormats(m: Manifest, files: ReadonlyMap<string, string>, signal?: AbortSignal): Promise<void> {
  for (const d of m.disks) {
    const format = restoredFormat(d);
    const file = files.get(d.name);
    if (!format || !file) continue;
    const tmp = `${file}.coffer-convert`;
    try {
      const r = await runTool('qemu-img', ['convert', '-q', '-f', 'raw', '-O', format, file, tmp], { timeoutMs: 24 * 60 * 60_000, ...(signal ? { signal } : {}) });
      if (r.code !== 0) throw new CofferError('DiskConversionFailed', `Converting the restored disk ${d.name} to ${format} failed: ${r.stderr.trim() || `exit ${r.code}`}`, { disk: d.name, format });
      await fs.chmod(tmp, (await fs.stat(file)).mode & 0o7777);
      // Durable before it takes the name: replace-disks swaps it in for the VM's own disk.
      const fh = await fs.open(tmp, 'r');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
      await fs.rename(tmp, file);
    } finally {
      await fs.rm(tmp, { force: true });
    }
  }
}
