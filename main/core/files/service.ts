// File-level restore (issue 14 §1): list a point's disks, partitions and folders, read one file,
// and restore files and folders into a folder as a job, all through random reads of the vault.
import { readdirSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { Readable, type Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import yazl from 'yazl';
import { MAX_FILE_PIECE, type Job } from '../../../preload/contract.js';
import { CofferError, restoreTargetError } from '../errors.js';
import { label } from '../inventory.js';
import type { ProtectionContext, RegisteredVm } from '../protection/context.js';
import { ChunkCache, type ReadStats } from '../vault/random-read.js';
import { PointBrowser, type DiskView, type PartitionView } from './browse.js';
import { baseName, joinPath, normalizePath, type FilesystemReader, type FsEntry } from './fs-types.js';

/** Plaintext chunks kept between calls (a listing, then the file the admin opens): 32 MiB. */
const CACHE_BYTES = 32 * 1024 * 1024;
/** Bytes copied per read while restoring a file. */
const COPY_PIECE = 1024 * 1024;
/** Zero runs of this size are left as holes in restored files. */
const HOLE_GRAIN = 64 * 1024;
/** Largest piece readPointFile answers in one call. */
export const MAX_READ_BYTES = MAX_FILE_PIECE;

export interface FileSelector {
  vm: string;
  pointId: string;
  disk?: string | undefined;
  partition?: number | undefined;
}

export interface PointFileEntry {
  name: string;
  kind: FsEntry['kind'];
  size: number;
  mtime: string;
  mode: number;
  target: string | null;
}

export interface PointFileListing {
  pointId: string;
  disks: DiskView[];
  /** The disk and partition listed (null when none of the point can be browsed). */
  disk: string | null;
  partition: number | null;
  filesystem: string | null;
  path: string;
  entries: PointFileEntry[];
  /** Bytes this call fetched from the vault's storage (stored form). */
  bytesFetched: number;
}

export interface PointFilePiece {
  path: string;
  size: number;
  offset: number;
  /** base64 of the bytes at offset (empty at the end of the file). */
  data: string;
  mode: number;
  mtime: string;
  bytesFetched: number;
}

const newStats = (): ReadStats => ({ bytesFetched: 0, requests: 0, chunksOpened: 0 });

/** A damaged chunk met while reading a file is named after the file. */
function namingFile(e: unknown, file: string): unknown {
  if (e instanceof CofferError && e.code === 'ChunkCorrupt') return new CofferError('ChunkCorrupt', `${file} cannot be read: ${e.message}`, { ...e.details, file });
  return e;
}

/** "name (1).ext", "name (2).ext", ... : the first that does not exist in dir. */
async function keepBothName(dir: string, name: string): Promise<string> {
  const dot = name.lastIndexOf('.');
  const [stem, ext] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ''];
  for (let i = 1; ; i++) {
    const candidate = `${stem} (${i})${ext}`;
    try {
      await fs.lstat(path.join(dir, candidate));
    } catch {
      return candidate;
    }
  }
}

export class FileService {
  private readonly cache = new ChunkCache(CACHE_BYTES);

  constructor(private readonly ctx: ProtectionContext) {}

  private point(ref: string, pointId: string): RegisteredVm {
    const vm = this.ctx.registeredVm(ref);
    if (!this.ctx.pointRows(vm.id).some((p) => p.id === pointId)) throw new CofferError('RecoveryPointNotFound', `${label(vm)} has no recovery point ${pointId}.`);
    return vm;
  }

  /** Runs fn with the point open for reading, under the vault's shared lock. */
  private async withBrowser<T>(vm: RegisteredVm, pointId: string, stats: ReadStats, fn: (b: PointBrowser) => Promise<T>): Promise<T> {
    const vault = await this.ctx.vaults.openVault(vm.vaultName);
    return vault.withReadAccess(`file browsing of ${pointId}`, async (rctx) => {
      const m = await vault.readManifest(pointId);
      const b = new PointBrowser(rctx, m, this.cache, stats);
      try {
        return await fn(b);
      } finally {
        await b.close();
      }
    });
  }

  private static async withFs<T>(b: PointBrowser, sel: FileSelector, fn: (fsr: FilesystemReader, disk: string, p: PartitionView) => Promise<T>): Promise<T> {
    const { fs: fsr, disk, partition } = await b.open(sel.disk, sel.partition);
    try {
      return await fn(fsr, disk, partition);
    } finally {
      await fsr.close();
    }
  }

  private static async entryOf(fsr: FilesystemReader, dir: string, e: FsEntry): Promise<PointFileEntry> {
    const target = e.kind === 'symlink' ? await fsr.readlink(joinPath(dir, e.name)) : null;
    return { name: e.name, kind: e.kind, size: e.size, mtime: new Date(e.mtimeMs).toISOString(), mode: e.mode, target };
  }

  /** The point's disks and partitions, and the entries of one folder (the root unless told). */
  async list(sel: FileSelector & { path?: string | undefined }): Promise<PointFileListing> {
    const vm = this.point(sel.vm, sel.pointId);
    const stats = newStats();
    const dir = normalizePath(sel.path ?? '/');
    return this.withBrowser(vm, sel.pointId, stats, async (b) => {
      const disks = await b.disks();
      const chosen = sel.disk !== undefined || sel.partition !== undefined || dir !== '/';
      if (!chosen && !disks.some((d) => d.partitions.some((p) => p.browsable))) {
        return { pointId: sel.pointId, disks, disk: null, partition: null, filesystem: null, path: dir, entries: [], bytesFetched: stats.bytesFetched };
      }
      return FileService.withFs(b, sel, async (fsr, disk, p) => {
        const self = await fsr.stat(dir);
        if (self.kind !== 'dir') throw new CofferError('FileNotFoundInPoint', `${dir} is not a folder in the recovery point.`, { path: dir });
        const entries: PointFileEntry[] = [];
        for (const e of await fsr.list(dir)) entries.push(await FileService.entryOf(fsr, dir, e));
        entries.sort((a, c) => (a.kind === 'dir') !== (c.kind === 'dir') ? (a.kind === 'dir' ? -1 : 1) : a.name.localeCompare(c.name));
        return { pointId: sel.pointId, disks, disk, partition: p.number, filesystem: p.filesystemLabel, path: dir, entries, bytesFetched: stats.bytesFetched };
      });
    });
  }

  /** Up to `length` bytes of one file from `offset` (the CLI's cat and the console's download read it piece by piece). */
  async read(sel: FileSelector & { path: string; offset: number; length: number }): Promise<PointFilePiece> {
    const vm = this.point(sel.vm, sel.pointId);
    const stats = newStats();
    const file = normalizePath(sel.path);
    return this.withBrowser(vm, sel.pointId, stats, (b) =>
      FileService.withFs(b, sel, async (fsr) => {
        const e = await fsr.stat(file);
        if (e.kind !== 'file') throw new CofferError('FileNotFoundInPoint', `${file} is not a file in the recovery point.`, { path: file });
        const h = await fsr.open(file);
        try {
          const n = Math.max(0, Math.min(sel.length, MAX_READ_BYTES, h.size - sel.offset));
          const buf = Buffer.alloc(n);
          const got = n > 0 ? await h.read(buf, sel.offset).catch((err: unknown) => Promise.reject(namingFile(err, file))) : 0;
          return { path: file, size: h.size, offset: sel.offset, data: buf.subarray(0, got).toString('base64'), mode: e.mode, mtime: new Date(e.mtimeMs).toISOString(), bytesFetched: stats.bytesFetched };
        } finally {
          await h.close();
        }
      }),
    );
  }

  /**
   * Streams one file as it is, or a zip of several files and folders (the browser console's
   * Download). Every path is looked up before `begin` is called, so a bad one fails before any
   * byte is sent; `begin` answers where the bytes go.
   */
  async download(sel: FileSelector & { paths: string[] }, begin: (meta: { fileName: string; contentType: string; size: number | null }) => Writable): Promise<void> {
    const vm = this.point(sel.vm, sel.pointId);
    const paths = [...new Set(sel.paths.map(normalizePath))];
    if (paths.length === 0) throw new CofferError('InvalidArgument', 'paths: name at least one file or folder.', { field: 'paths' });
    await this.withBrowser(vm, sel.pointId, newStats(), (b) =>
      FileService.withFs(b, sel, async (fsr, disk, p) => {
        const roots: Array<{ path: string; entry: FsEntry }> = [];
        for (const src of paths) roots.push({ path: src, entry: await fsr.stat(src) });
        const pieces = (src: string, size: number): Readable =>
          Readable.from(
            (async function* () {
              const h = await fsr.open(src);
              try {
                for (let pos = 0; pos < size; pos += COPY_PIECE) {
                  const buf = Buffer.alloc(Math.min(COPY_PIECE, size - pos));
                  const n = await h.read(buf, pos).catch((err: unknown) => Promise.reject(namingFile(err, src)));
                  if (n === 0) break;
                  yield buf.subarray(0, n);
                }
              } finally {
                await h.close();
              }
            })(),
          );
        const only = roots.length === 1 ? roots[0]! : undefined;
        if (only && only.entry.kind === 'file') {
          const out = begin({ fileName: baseName(only.path), contentType: 'application/octet-stream', size: only.entry.size });
          await finished(pieces(only.path, only.entry.size).pipe(out));
          return;
        }
        const zip = new yazl.ZipFile();
        const add = async (src: string, e: FsEntry, name: string): Promise<void> => {
          const opts = { mtime: new Date(e.mtimeMs), mode: e.mode };
          if (e.kind === 'dir') {
            zip.addEmptyDirectory(name, opts);
            for (const c of await fsr.list(src)) await add(joinPath(src, c.name), c, `${name}/${c.name}`);
          } else if (e.kind === 'symlink') zip.addBuffer(Buffer.from(await fsr.readlink(src)), name, opts);
          else if (e.kind === 'file') zip.addReadStreamLazy(name, { ...opts, size: e.size }, (cb) => cb(null, pieces(src, e.size)));
        };
        for (const r of roots) await add(r.path, r.entry, r.path === '/' ? `${disk}-${p.number}` : baseName(r.path));
        zip.end();
        const out = begin({ fileName: `${vm.name}-${sel.pointId}.zip`, contentType: 'application/zip', size: null });
        await finished((zip.outputStream as Readable).pipe(out));
      }),
    );
  }

  /**
   * Restores files and folders (with everything under them) into a folder as a job: modes, times
   * and symlinks kept, nothing overwritten (the folder must be empty, or keepBoth names a
   * colliding entry "name (1).ext").
   */
  restore(sel: FileSelector & { paths: string[]; targetDir: string; keepBoth?: boolean | undefined }): Job {
    const vm = this.point(sel.vm, sel.pointId);
    const target = path.resolve(sel.targetDir);
    const paths = [...new Set(sel.paths.map(normalizePath))];
    if (paths.length === 0) throw new CofferError('InvalidArgument', 'paths: name at least one file or folder.', { field: 'paths' });
    // Never overwrite: the folder must be empty or absent, unless the admin keeps both copies.
    let existing: string[] = [];
    try {
      existing = readdirSync(target);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOTDIR') throw new CofferError('RestoreTargetNotEmpty', `The restore target ${target} is a file, not a folder.`, { field: 'targetDir' });
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    if (existing.length > 0 && !sel.keepBoth) {
      throw new CofferError('RestoreTargetNotEmpty', `The folder ${target} is not empty; pick an empty folder, or keep both copies.`, { field: 'targetDir', entries: existing.slice(0, 5) });
    }
    return this.ctx.jobs.start('RestoreFiles', this.ctx.subject(vm), async (job) => {
      const stats = newStats();
      return this.withBrowser(vm, sel.pointId, stats, (b) =>
        FileService.withFs(b, sel, async (fsr, disk, p) => {
          // Everything is looked up (and sized) before the first byte is written.
          const roots: Array<{ path: string; entry: FsEntry }> = [];
          for (const src of paths) roots.push({ path: src, entry: await fsr.stat(src) });
          let bytesTotal = 0;
          let count = 0;
          const walkSize = async (src: string, e: FsEntry): Promise<void> => {
            count++;
            if (e.kind === 'file') bytesTotal += e.size;
            if (e.kind === 'dir') for (const c of await fsr.list(src)) await walkSize(joinPath(src, c.name), c);
          };
          for (const r of roots) await walkSize(r.path, r.entry);
          let bytesDone = 0;
          const started = Date.now();
          const progress = (): void => {
            const sec = (Date.now() - started) / 1000;
            job.progress({ bytesDone, bytesTotal, bytesPerSecond: sec > 0 ? bytesDone / sec : 0 });
          };
          progress();
          await fs.mkdir(target, { recursive: true, mode: 0o700 });
          const created: string[] = [];
          let files = 0;
          let skipped = 0;
          const copy = async (src: string, e: FsEntry, dest: string): Promise<void> => {
            if (job.signal.aborted) throw new CofferError('OperationCancelled', 'The file restore was cancelled; the files it had written were removed.');
            if (e.kind === 'dir') {
              await fs.mkdir(dest, { mode: 0o700 });
              for (const c of await fsr.list(src)) await copy(joinPath(src, c.name), c, path.join(dest, c.name));
              await fs.chmod(dest, e.mode & 0o7777);
              await fs.utimes(dest, new Date(e.mtimeMs), new Date(e.mtimeMs));
            } else if (e.kind === 'symlink') {
              await fs.symlink(await fsr.readlink(src), dest);
              await fs.lutimes(dest, new Date(e.mtimeMs), new Date(e.mtimeMs));
              files++;
            } else if (e.kind === 'file') {
              await this.copyFile(fsr, src, dest, e, (n) => {
                bytesDone += n;
                progress();
              });
              files++;
            } else {
              skipped++;
              job.warn({ code: 'FilesystemUnsupported', message: `${src} is a device, socket or pipe; it was not restored.`, subject: src, detail: null });
            }
          };
          try {
            for (const r of roots) {
              let name = baseName(r.path);
              if (name === '/') name = `${disk}-${p.number}`;
              if (existing.length > 0) {
                try {
                  await fs.lstat(path.join(target, name));
                  name = await keepBothName(target, name);
                } catch {
                  // free: the name is kept
                }
              }
              const dest = path.join(target, name);
              created.push(dest);
              await copy(r.path, r.entry, dest);
            }
          } catch (e) {
            // Only what this job created is removed: nothing that was in the folder before.
            for (const c of created) await fs.rm(c, { recursive: true, force: true });
            throw restoreTargetError(e, target);
          }
          progress();
          return {
            summary: { code: 'FilesRestored', params: { vm: label(vm), pointId: sel.pointId, target, files, bytes: bytesTotal } },
            details: { target, disk, partition: p.number, restored: created, entries: count, skipped, bytesFetched: stats.bytesFetched },
          };
        }),
      );
    });
  }

  private async copyFile(fsr: FilesystemReader, src: string, dest: string, e: FsEntry, done: (n: number) => void): Promise<void> {
    const h = await fsr.open(src);
    const out = await fs.open(dest, 'wx', 0o600);
    try {
      const buf = Buffer.alloc(COPY_PIECE);
      for (let pos = 0; pos < h.size; pos += COPY_PIECE) {
        const n = await h.read(buf, pos).catch((err: unknown) => Promise.reject(namingFile(err, src)));
        const piece = buf.subarray(0, n);
        // Runs of zeros stay holes: a sparse file restores sparse.
        for (let at = 0; at < n; at += HOLE_GRAIN) {
          const part = piece.subarray(at, Math.min(n, at + HOLE_GRAIN));
          if (!part.every((x) => x === 0)) await out.write(part, 0, part.length, pos + at);
        }
        done(n);
        if (n < Math.min(COPY_PIECE, h.size - pos)) throw new CofferError('ChunkCorrupt', `${src} ended early: ${pos + n} of ${h.size} bytes could be read.`, { file: src });
      }
      await out.truncate(h.size);
      await out.chmod(e.mode & 0o7777);
      await out.utimes(new Date(e.mtimeMs), new Date(e.mtimeMs));
    } finally {
      await out.close();
      await h.close();
    }
  }
}
