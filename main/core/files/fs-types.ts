// What every filesystem reader answers: entries, file contents at an offset, link targets.

export type EntryKind = 'file' | 'dir' | 'symlink' | 'other';

export interface FsEntry {
  name: string;
  kind: EntryKind;
  size: number;
  /** Last modification, ms since the epoch. */
  mtimeMs: number;
  /** POSIX permission and type bits as the filesystem keeps them (FAT: derived). */
  mode: number;
}

export interface OpenFile {
  readonly size: number;
  read(into: Buffer, position: number): Promise<number>;
  close(): Promise<void>;
}

export interface FilesystemReader {
  /** "ext4", "FAT32", ... */
  readonly label: string;
  /** Entries of a directory, without "." and "..". */
  list(path: string): Promise<FsEntry[]>;
  /** The entry itself (a symlink is not followed). */
  stat(path: string): Promise<FsEntry>;
  open(path: string): Promise<OpenFile>;
  readlink(path: string): Promise<string>;
  close(): Promise<void>;
}

/** "/a/b" from any of "a/b", "/a//b/", "a/./b"; ".." is refused by the caller's lookup failing. */
export function normalizePath(p: string): string {
  const parts = p.split('/').filter((s) => s !== '' && s !== '.');
  return `/${parts.join('/')}`;
}

export function joinPath(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

export function baseName(p: string): string {
  const n = normalizePath(p);
  return n === '/' ? '/' : n.slice(n.lastIndexOf('/') + 1);
}

export function kindOfMode(mode: number): EntryKind {
  const t = mode & 0o170000;
  return t === 0o100000 ? 'file' : t === 0o040000 ? 'dir' : t === 0o120000 ? 'symlink' : 'other';
}
