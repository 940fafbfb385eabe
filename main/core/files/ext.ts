// ext2/3/4 through libext2fs compiled to WebAssembly (the `ext2fs` package), over a BlockDevice.
import { createRequire } from 'node:module';
import { CofferError } from '../errors.js';
import type { BlockDevice } from './device.js';
import { baseName, kindOfMode, normalizePath, type FilesystemReader, type FsEntry, type OpenFile } from './fs-types.js';

interface ExtStats {
  mode: number;
  size: number;
  mtime: Date;
}
interface ExtPromises {
  readdir(path: string): Promise<string[]>;
  lstat(path: string): Promise<ExtStats>;
  readlink(path: string): Promise<string>;
  fstat(fd: number): Promise<ExtStats>;
  read(fd: number, buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  close(fd: number): Promise<void>;
}
interface ExtFs {
  promises: ExtPromises;
  /** The callback open gives a plain fd (the FileHandle's close is not awaited, so umount could close it twice). */
  open(path: string, flags: string, cb: (e: Error | null, fd: number) => void): void;
}
interface ExtDisk {
  read(buffer: Buffer, bufferOffset: number, length: number, fileOffset: number): Promise<{ bytesRead: number; buffer: Buffer }>;
  write(buffer: Buffer, bufferOffset: number, length: number, fileOffset: number): Promise<{ bytesWritten: number; buffer: Buffer }>;
  discard(offset: number, length: number): Promise<void>;
  flush(): Promise<void>;
}
interface Ext2fsModule {
  mount(disk: ExtDisk, offset: number): Promise<ExtFs>;
  umount(fs: ExtFs): Promise<void>;
}

let loaded: Ext2fsModule | undefined;
/**
 * The module, loaded on first use. Its Emscripten runtime adds process-wide handlers that rethrow
 * every unhandled rejection and uncaught exception; those are removed again, so loading it does
 * not change how the host process treats errors elsewhere.
 */
function ext2fs(): Ext2fsModule {
  if (loaded) return loaded;
  const before = {
    uncaughtException: new Set(process.listeners('uncaughtException')),
    unhandledRejection: new Set(process.listeners('unhandledRejection')),
  };
  loaded = createRequire(import.meta.url)('ext2fs') as Ext2fsModule;
  for (const l of process.listeners('uncaughtException')) if (!before.uncaughtException.has(l)) process.removeListener('uncaughtException', l);
  for (const l of process.listeners('unhandledRejection')) if (!before.unhandledRejection.has(l)) process.removeListener('unhandledRejection', l);
  return loaded;
}

/** Writes libext2fs makes (an access time) land in memory: the point is never changed. Bounded. */
const MAX_OVERLAY_BYTES = 4 * 1024 * 1024;

/**
 * The device as libext2fs wants it. A read that fails (a damaged chunk) reaches libext2fs only as
 * EIO; the original error is kept so the caller can throw it instead.
 */
function diskOf(dev: BlockDevice): { disk: ExtDisk; takeError: () => unknown } {
  const overlay: Array<{ pos: number; data: Buffer }> = [];
  let overlayBytes = 0;
  let failure: unknown;
  const disk: ExtDisk = {
    async read(buffer, bufferOffset, length, fileOffset) {
      const into = buffer.subarray(bufferOffset, bufferOffset + length);
      let n: number;
      try {
        n = await dev.read(into, fileOffset);
      } catch (e) {
        failure ??= e;
        throw e;
      }
      if (n < length) into.fill(0, n);
      for (const w of overlay) {
        const from = Math.max(fileOffset, w.pos);
        const to = Math.min(fileOffset + length, w.pos + w.data.length);
        if (from < to) w.data.copy(into, from - fileOffset, from - w.pos, to - w.pos);
      }
      return { bytesRead: length, buffer };
    },
    async write(buffer, bufferOffset, length, fileOffset) {
      overlayBytes += length;
      if (overlayBytes > MAX_OVERLAY_BYTES) throw new Error('read-only');
      overlay.push({ pos: fileOffset, data: Buffer.from(buffer.subarray(bufferOffset, bufferOffset + length)) });
      return { bytesWritten: length, buffer };
    },
    async discard() {},
    async flush() {},
  };
  return {
    disk,
    takeError: () => {
      const e = failure;
      failure = undefined;
      return e;
    },
  };
}

function mapError(e: unknown, path: string): unknown {
  const code = (e as { code?: string }).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return new CofferError('FileNotFoundInPoint', `${path} does not exist in the recovery point.`, { path });
  return e;
}

function entry(name: string, s: ExtStats): FsEntry {
  return { name, kind: kindOfMode(s.mode), size: s.size, mtimeMs: s.mtime.getTime(), mode: s.mode };
}

export async function openExt(dev: BlockDevice, label = 'ext4'): Promise<FilesystemReader> {
  const mod = ext2fs();
  const { disk, takeError } = diskOf(dev);
  let fs: ExtFs;
  try {
    fs = await mod.mount(disk, 0);
  } catch (e) {
    const cause = takeError();
    if (cause) throw cause;
    throw new CofferError('FilesystemUnsupported', `The ext filesystem cannot be opened: ${(e as Error).message}`, { filesystem: 'ext' });
  }
  const p = fs.promises;
  const wrap = async <T>(path: string, f: (n: string) => Promise<T>): Promise<T> => {
    const n = normalizePath(path);
    try {
      return await f(n);
    } catch (e) {
      throw takeError() ?? mapError(e, n);
    }
  };
  return {
    label,
    list: (path) =>
      wrap(path, async (dir) => {
        const names = (await p.readdir(dir)).filter((n) => n !== '.' && n !== '..');
        const out: FsEntry[] = [];
        for (const n of names) out.push(entry(n, await p.lstat(dir === '/' ? `/${n}` : `${dir}/${n}`)));
        return out;
      }),
    stat: (path) => wrap(path, async (n) => entry(baseName(n), await p.lstat(n))),
    readlink: (path) => wrap(path, (n) => p.readlink(n)),
    open: (path) =>
      wrap(path, async (n): Promise<OpenFile> => {
        const fd = await new Promise<number>((resolve, reject) => fs.open(n, 'r', (e, v) => (e ? reject(e) : resolve(v))));
        const s = await p.fstat(fd);
        return {
          size: s.size,
          async read(into, position) {
            let got = 0;
            // libext2fs reads at most what it is asked, in pieces of its choosing.
            try {
              while (got < into.length && position + got < s.size) {
                const { bytesRead } = await p.read(fd, into, got, into.length - got, position + got);
                if (bytesRead <= 0) break;
                got += bytesRead;
              }
            } catch (e) {
              throw takeError() ?? e;
            }
            return got;
          },
          close: () => p.close(fd),
        };
      }),
    close: () => mod.umount(fs),
  };
}
