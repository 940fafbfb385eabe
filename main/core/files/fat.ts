// FAT16/FAT32 through the `fatfs` package (read-only: the driver has no writeSectors), over a BlockDevice.
import { createRequire } from 'node:module';
import { CofferError } from '../errors.js';
import type { BlockDevice } from './device.js';
import { baseName, joinPath, normalizePath, type FilesystemReader, type FsEntry, type OpenFile } from './fs-types.js';

type Cb<T> = (e: Error | null, v: T) => void;
interface FatStats {
  size: number;
  mtime: Date;
  mode: number;
  isDirectory(): boolean;
}
interface FatFs {
  on(ev: 'ready' | 'error', f: (e?: Error) => void): void;
  readdir(path: string, cb: Cb<string[]>): void;
  open(path: string, flags: string, cb: Cb<number>): void;
  read(fd: number, buf: Buffer, off: number, len: number, pos: number, cb: Cb<number>): void;
  fstat(fd: number, cb: Cb<FatStats>): void;
  /** fatfs internal: the directory entry of a path (its raw fields). */
  _sharedEntryForSteps(steps: string[], opts: Record<string, never>, cb: Cb<{ entry: { NTRes: Buffer; Name: { filename: string; extension: string } } }>): void;
  close(fd: number, cb: (e: Error | null) => void): void;
}
interface FatDriver {
  sectorSize: number;
  numSectors: number;
  readSectors(i: number, dest: Buffer, cb: (e: Error | null) => void): void;
}
interface FatfsModule {
  createFileSystem(vol: FatDriver, opts: Record<string, unknown>): FatFs;
}

const fatfs = (): FatfsModule => createRequire(import.meta.url)('fatfs') as FatfsModule;

const SECTOR = 512;

function call<T>(f: (cb: Cb<T>) => void): Promise<T> {
  return new Promise((resolve, reject) => f((e, v) => (e ? reject(e) : resolve(v))));
}

function mapError(e: unknown, path: string): unknown {
  const code = (e as { code?: string }).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return new CofferError('FileNotFoundInPoint', `${path} does not exist in the recovery point.`, { path });
  return e;
}

/**
 * A name with only an 8.3 short entry, shown as Windows and Linux show it: the NT case bits of the
 * entry (0x08 base, 0x10 extension in lower case) apply, which fatfs leaves to its caller.
 */
function shownName(name: string, ntRes: number, base: string, ext: string): string {
  const b = base.replace(/ +$/, '');
  const e = ext.replace(/ +$/, '');
  if (name !== (e ? `${b}.${e}` : b)) return name;
  const lb = ntRes & 0x08 ? b.toLowerCase() : b;
  const le = ntRes & 0x10 ? e.toLowerCase() : e;
  return le ? `${lb}.${le}` : lb;
}

function entry(name: string, s: FatStats): FsEntry {
  const dir = s.isDirectory();
  // FAT keeps no POSIX modes: directories 755, files 644 (444 when read-only), as a Linux mount shows them.
  const write = (s.mode & 0o200) !== 0;
  const mode = dir ? 0o040755 : write ? 0o100644 : 0o100444;
  return { name, kind: dir ? 'dir' : 'file', size: dir ? 0 : s.size, mtimeMs: s.mtime.getTime(), mode };
}

export async function openFat(dev: BlockDevice, label: string): Promise<FilesystemReader> {
  const driver: FatDriver = {
    sectorSize: SECTOR,
    numSectors: Math.floor(dev.size / SECTOR),
    readSectors(i, dest, cb) {
      dev.read(dest, i * SECTOR).then(
        (n) => {
          if (n < dest.length) dest.fill(0, n);
          cb(null);
        },
        (e: unknown) => cb(e as Error),
      );
    },
  };
  const fs = fatfs().createFileSystem(driver, { ro: true, noatime: true, umask: 0o022, uid: 0, gid: 0 });
  await new Promise<void>((resolve, reject) => {
    fs.on('ready', () => resolve());
    fs.on('error', (e) => reject(new CofferError('FilesystemUnsupported', `The ${label} filesystem cannot be opened: ${e?.message ?? 'unreadable'}`, { filesystem: label })));
  });
  const wrap = async <T>(path: string, f: (n: string) => Promise<T>): Promise<T> => {
    const n = normalizePath(path);
    try {
      return await f(n);
    } catch (e) {
      throw mapError(e, n);
    }
  };
  // fatfs's own stat opens for reading, which a folder refuses: its internal "\\r" flag opens either.
  const stat = async (p: string): Promise<FatStats> => {
    const fd = await call<number>((cb) => fs.open(p, '\\r', cb));
    try {
      return await call<FatStats>((cb) => fs.fstat(fd, cb));
    } finally {
      await new Promise<void>((resolve) => fs.close(fd, () => resolve()));
    }
  };
  return {
    label,
    list: (path) =>
      wrap(path, async (dir) => {
        // The root has no directory entry of its own (and so no stat).
        const s = dir === '/' ? undefined : await stat(dir);
        if (s && !s.isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
        const names = (await call<string[]>((cb) => fs.readdir(dir, cb))).filter((n) => n !== '.' && n !== '..');
        const out: FsEntry[] = [];
        for (const n of names) {
          const p = joinPath(dir, n);
          const raw = (await call<{ entry: { NTRes: Buffer; Name: { filename: string; extension: string } } }>((cb) => fs._sharedEntryForSteps(p.split('/').filter(Boolean), {}, cb))).entry;
          out.push(entry(shownName(n, raw.NTRes[0] ?? 0, raw.Name.filename, raw.Name.extension), await stat(p)));
        }
        return out;
      }),
    stat: (path) => wrap(path, async (n) => (n === '/' ? { name: '/', kind: 'dir', size: 0, mtimeMs: 0, mode: 0o040755 } : entry(baseName(n), await stat(n)))),
    readlink: (path) => Promise.reject(new CofferError('FileNotFoundInPoint', `${normalizePath(path)} is not a symbolic link (FAT has none).`, { path })),
    open: (path) =>
      wrap(path, async (n): Promise<OpenFile> => {
        const s = await stat(n);
        const fd = await call<number>((cb) => fs.open(n, 'r', cb));
        return {
          size: s.size,
          async read(into, position) {
            let got = 0;
            while (got < into.length && position + got < s.size) {
              const r = await call<number>((cb) => fs.read(fd, into, got, Math.min(into.length - got, s.size - position - got), position + got, cb));
              if (r <= 0) break;
              got += r;
            }
            return got;
          },
          close: () => new Promise<void>((resolve, reject) => fs.close(fd, (e) => (e ? reject(e) : resolve()))),
        };
      }),
    close: async () => {},
  };
}
