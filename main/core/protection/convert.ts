import { spawn } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { RestoreFormat } from '../../../preload/contract.js';
import { CofferError } from '../errors.js';
import { runTool, ToolMissingError } from '../sources/exec.js';
import { describeDisk } from '../sources/formats/disk-chain.js';
import { detectDiskFormat, readQcow2Backing } from '../sources/formats/disk-image.js';
import type { DiskFormat } from '../sources/types.js';

/*
 * The one home of disk format conversion: `qemu-img convert`, for restores with --format, the
 * libvirt definition of a VM from another hypervisor (qcow2), and the CBT restore (raw guest bytes
 * back to qcow2). qemu-img gets an argument array, never a shell line.
 */

/** The formats qemu-img reads here (its name for VHD is vpc). */
export type ConvertibleFormat = Exclude<DiskFormat, 'unknown'>;

const qemuName = (f: ConvertibleFormat): string => (f === 'vhd' ? 'vpc' : f);

/** The file extension a disk of this format gets. */
export const formatExtension: Record<RestoreFormat, string> = { raw: '.img', qcow2: '.qcow2', vmdk: '.vmdk', vhdx: '.vhdx', vdi: '.vdi' };

const QEMU_IMG_MISSING = 'qemu-img is not installed (Debian/Ubuntu: apt-get install qemu-utils).';

/** Fraction done (0..1) of one conversion. */
export type ConvertProgress = (fraction: number) => void;

/** `qemu-img convert -p` prints "    (12.34/100%)" records separated by carriage returns. */
export function parseQemuImgProgress(chunk: string): number | undefined {
  let last: number | undefined;
  for (const m of chunk.matchAll(/\((\d+(?:\.\d+)?)\/100%\)/g)) last = Number(m[1]) / 100;
  return last;
}

/** How one conversion runs. */
export interface ConvertOptions {
  signal?: AbortSignal | undefined;
  onProgress?: ConvertProgress | undefined;
  /** Flush the new file to disk before it takes `dst`'s name (a restore that replaces a VM's own disk). */
  fsync?: boolean;
  /** Permission bits the new file gets before it takes `dst`'s name (else qemu-img's default). */
  mode?: number;
}

/**
 * Converts `src` (in `srcFormat`) into a new file `dst` in `dstFormat`, reading through a backing
 * chain. Written to `dst.partial` (the one temporary) and renamed when complete, so `dst` never
 * holds half a disk; `dst` may be `src` itself (converted in place). The partial file is removed
 * on failure or cancel. Throws QemuImgMissing, ConvertFailed, or the signal's reason.
 */
export async function convertDisk(src: string, srcFormat: ConvertibleFormat, dst: string, dstFormat: RestoreFormat, opts: ConvertOptions = {}): Promise<void> {
  const { signal, onProgress } = opts;
  signal?.throwIfAborted();
  const partial = `${dst}.partial`;
  const args = ['convert', '-p', '-f', qemuName(srcFormat), '-O', qemuName(dstFormat), src, partial];
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn('qemu-img', args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' }, ...(signal ? { signal } : {}) });
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        const f = parseQemuImgProgress(d);
        if (f !== undefined) onProgress?.(f);
      });
      child.stderr.setEncoding('utf8').on('data', (d: string) => {
        if (stderr.length < 16_384) stderr += d;
      });
      child.on('error', (e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') reject(new CofferError('QemuImgMissing', QEMU_IMG_MISSING));
        else if (e.name === 'AbortError') reject(signal?.reason ?? e);
        else reject(e);
      });
      child.on('close', (code) => {
        if (signal?.aborted) return reject(signal.reason);
        if (code === 0) return resolve();
        const why = stderr.split('\n').map((l) => l.trim()).filter(Boolean).join('; ') || `exit code ${code}`;
        reject(new CofferError('ConvertFailed', `Converting ${path.basename(src)} to ${dstFormat} failed: ${why}`, { disk: src, format: dstFormat }));
      });
    });
    if (opts.mode !== undefined) await fs.chmod(partial, opts.mode);
    if (opts.fsync) {
      const fh = await fs.open(partial, 'r');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
    }
    await fs.rename(partial, dst);
  } catch (e) {
    await fs.rm(partial, { force: true });
    throw e;
  }
}

/** Whether qemu-img can be run here (for the console's and the CLI's early check). */
export async function qemuImgAvailable(): Promise<boolean> {
  try {
    return (await runTool('qemu-img', ['--version'], { timeoutMs: 10_000 })).code === 0;
  } catch (e) {
    if (e instanceof ToolMissingError) return false;
    throw e;
  }
}

/** A restored disk after conversion: the manifest's file, and the file (and format) it became. */
export interface ConvertedDisk {
  /** The file as the point restored it. */
  from: string;
  fromFormat: ConvertibleFormat;
  /** The disk now: a new file, or `from` itself when it already had the format. */
  path: string;
  format: RestoreFormat;
}

/**
 * Converts the disks restored into `dir` (the files `names`) to `format`. A disk's parts (qcow2
 * backing files, VMDK extents) are read through it and removed with it: each disk becomes one
 * self-contained file. A qcow2 whose backing file names the original's path is first pointed at
 * the restored copy of it (`qemu-img rebase -u`), so the conversion never reads the source host's
 * files. Progress is the fraction of the bytes to convert done.
 */
export async function convertRestoredDisks(
  dir: string,
  names: readonly string[],
  format: RestoreFormat,
  opts: { signal?: AbortSignal | undefined; onProgress?: ConvertProgress | undefined } = {},
): Promise<ConvertedDisk[]> {
  const restored = new Map(names.map((n) => [n, path.join(dir, n)]));
  for (const p of restored.values()) await pointBackingInside(p, restored, opts.signal);
  const parts = new Set<string>();
  const chains = new Map<string, { format: ConvertibleFormat; files: string[]; bytes: number }>();
  for (const p of restored.values()) {
    const refs = await describeDisk(path.basename(p), p, 'disk');
    const top = refs[0];
    if (!top || top.format === 'unknown') continue;
    for (const r of refs.slice(1)) parts.add(r.path);
    chains.set(p, { format: top.format, files: refs.map((r) => r.path), bytes: refs.reduce((s, r) => s + (r.sizeBytes ?? 0), 0) });
  }
  const tops = [...chains.entries()].filter(([p]) => !parts.has(p));
  const total = Math.max(1, tops.reduce((s, [, c]) => s + c.bytes, 0));
  let done = 0;
  const taken = new Set(restored.values());
  const out: ConvertedDisk[] = [];
  for (const [p, chain] of tops) {
    const selfContained = chain.files.length === 1;
    if (chain.format === format && selfContained) {
      out.push({ from: p, fromFormat: chain.format, path: p, format });
      done += chain.bytes;
      continue;
    }
    const dst = freeName(dir, path.basename(p, path.extname(p)), formatExtension[format], taken);
    taken.add(dst);
    await convertDisk(p, chain.format, dst, format, { signal: opts.signal, onProgress: (f) => opts.onProgress?.(Math.min(1, (done + f * chain.bytes) / total)) });
    done += chain.bytes;
    opts.onProgress?.(done / total);
    for (const f of chain.files) if (path.dirname(f) === path.resolve(dir)) await fs.rm(f, { force: true });
    out.push({ from: p, fromFormat: chain.format, path: dst, format });
  }
  return out;
}

function freeName(dir: string, base: string, ext: string, taken: ReadonlySet<string>): string {
  for (let i = 0; ; i++) {
    const p = path.join(dir, `${base}${i === 0 ? '' : `-${i}`}${ext}`);
    if (!taken.has(p)) return p;
  }
}

/** A restored qcow2 whose backing file is named like another restored file, but elsewhere: point it at the restored one. */
async function pointBackingInside(p: string, restored: ReadonlyMap<string, string>, signal?: AbortSignal): Promise<void> {
  if ((await detectDiskFormat(p)) !== 'qcow2') return;
  const backing = await readQcow2Backing(p);
  if (!backing || backing.startsWith('json:')) return;
  const inside = restored.get(path.basename(backing));
  if (!inside || path.resolve(path.dirname(p), backing) === inside) return;
  const backingFormat = await detectDiskFormat(inside);
  const args = ['rebase', '-u', '-F', qemuName(backingFormat === 'unknown' ? 'raw' : backingFormat), '-b', path.basename(inside), p];
  let r;
  try {
    r = await runTool('qemu-img', args, { timeoutMs: 60_000, ...(signal ? { signal } : {}) });
  } catch (e) {
    if (e instanceof ToolMissingError) throw new CofferError('QemuImgMissing', QEMU_IMG_MISSING);
    throw e;
  }
  if (r.code !== 0) throw new CofferError('ConvertFailed', `Pointing ${path.basename(p)} at its restored backing file failed: ${r.stderr.trim()}`, { disk: p });
}
