// NTFS through Debian's ntfs-3g tools (ntfsls, ntfscat). They read a device or an image file, not
// a stream, so the partition is first copied into a private sparse temporary file (its zero
// chunks stay holes); listings and reads then run the tools on it. Without the tools the
// partition is listed as "NTFS: install ntfs-3g to browse".
import { execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { CofferError } from '../errors.js';
import { copyToSparseFile } from './container.js';
import type { BlockDevice } from './device.js';
import { baseName, normalizePath, type FilesystemReader, type FsEntry, type OpenFile } from './fs-types.js';

const TOOL_ENV = { ...process.env, LC_ALL: 'C.UTF-8', LANG: 'C.UTF-8', TZ: 'UTC' };
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

let present: Promise<boolean> | undefined;

/** null when ntfs-3g's tools are installed, else what to do. */
export async function whyNoNtfs(): Promise<string | null> {
  present ??= new Promise((resolve) => execFile('ntfsls', ['--version'], { env: TOOL_ENV }, (e) => resolve(!(e && (e as NodeJS.ErrnoException).code === 'ENOENT'))));
  return (await present) ? null : 'NTFS: install ntfs-3g to browse (Debian/Ubuntu: apt install ntfs-3g).';
}

function run(args: string[], maxBuffer = 64 * 1024 * 1024): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile('ntfsls', args, { env: TOOL_ENV, maxBuffer, encoding: 'utf8' }, (e, stdout, stderr) =>
      resolve({ code: e ? ((e as { code?: unknown }).code as number) || 1 : 0, stdout, stderr }),
    ),
  );
}

/** One line of `ntfsls -l -F`: "<size> Mon DD HH:MM YYYY <name>[/]". */
function parseLine(line: string): FsEntry | undefined {
  const m = /^\s*(\d+)\s+([A-Z][a-z]{2})\s+(\d{1,2})\s+(\d{2}):(\d{2})\s+(\d{4})\s+(.+)$/.exec(line);
  if (!m) return undefined;
  const dir = m[7]!.endsWith('/');
  const name = dir ? m[7]!.slice(0, -1) : m[7]!;
  const mtimeMs = Date.UTC(Number(m[6]), MONTHS.indexOf(m[2]!), Number(m[3]), Number(m[4]), Number(m[5]));
  return { name, kind: dir ? 'dir' : 'file', size: dir ? 0 : Number(m[1]), mtimeMs, mode: dir ? 0o040755 : 0o100644 };
}

export async function openNtfs(dev: BlockDevice, label: string): Promise<FilesystemReader> {
  const why = await whyNoNtfs();
  if (why) throw new CofferError('FilesystemUnsupported', why, { filesystem: 'NTFS' });
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'coffer-ntfs-'));
  const image = path.join(dir, 'partition.img');
  try {
    await copyToSparseFile(dev, image);
  } catch (e) {
    await fs.rm(dir, { recursive: true, force: true });
    throw e;
  }

  const list = async (p: string): Promise<FsEntry[]> => {
    const n = normalizePath(p);
    const r = await run(['-l', '-F', '-a', '-p', n, image]);
    if (r.code !== 0) throw new CofferError('FileNotFoundInPoint', `${n} does not exist in the recovery point.`, { path: n });
    return r.stdout
      .split('\n')
      .map(parseLine)
      .filter((e): e is FsEntry => e !== undefined && e.name !== '.' && e.name !== '..');
  };
  const stat = async (p: string): Promise<FsEntry> => {
    const n = normalizePath(p);
    if (n === '/') return { name: '/', kind: 'dir', size: 0, mtimeMs: 0, mode: 0o040755 };
    const parent = n.slice(0, n.lastIndexOf('/')) || '/';
    const e = (await list(parent)).find((x) => x.name === baseName(n));
    if (!e) throw new CofferError('FileNotFoundInPoint', `${n} does not exist in the recovery point.`, { path: n });
    return e;
  };
  return {
    label,
    list,
    stat,
    readlink: (p) => Promise.reject(new CofferError('FileNotFoundInPoint', `${normalizePath(p)} is not a symbolic link.`, { path: p })),
    async open(p): Promise<OpenFile> {
      const e = await stat(p);
      if (e.kind !== 'file') throw new CofferError('FileNotFoundInPoint', `${normalizePath(p)} is not a file.`, { path: p });
      const out = path.join(dir, `file-${Date.now()}-${Math.random().toString(16).slice(2)}`);
      const o = await fs.open(out, 'wx', 0o600);
      await new Promise<void>((resolve, reject) => {
        const c = spawn('ntfscat', [image, normalizePath(p)], { env: TOOL_ENV, stdio: ['ignore', o.fd, 'pipe'] });
        let err = '';
        c.stderr?.on('data', (d: Buffer) => (err += d.toString()));
        c.on('error', reject);
        c.on('close', (code) => (code === 0 ? resolve() : reject(new CofferError('FileNotFoundInPoint', `${normalizePath(p)} cannot be read: ${err.trim()}`, { path: p }))));
      }).finally(() => o.close());
      const r = await fs.open(out, 'r');
      return {
        size: e.size,
        read: async (into, position) => (await r.read(into, 0, into.length, position)).bytesRead,
        close: async () => {
          await r.close();
          await fs.rm(out, { force: true });
        },
      };
    },
    close: () => fs.rm(dir, { recursive: true, force: true }),
  };
}

