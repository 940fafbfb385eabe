import type { Stats } from 'node:fs';
import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { CofferError } from '../errors.js';
import type { DiskRef } from './types.js';

/*
 * What a folder source may back up. A definition in a scanned folder can name any file as a disk
 * (/etc/shadow, an SSH key, /dev/sda); Coffer often runs as root. Disk, backing-file and extent
 * paths must resolve (realpath, so symlinks count where they lead) inside the source's folder or
 * a root the admin allowed for that source; block devices only when the admin enabled them.
 */

export interface DiskConfinement {
  /** Real paths of the folders disks may live in: the source root and the admin's allowed roots. */
  roots: string[];
  allowBlockDevices: boolean;
}

/** The confinement of a folder source: its root and allowed roots as real paths (a missing one is left out). */
export async function folderConfinement(root: string, opts: { allowedRoots?: readonly string[]; allowBlockDevices?: boolean } = {}): Promise<DiskConfinement> {
  const reals = await Promise.all([root, ...(opts.allowedRoots ?? [])].map((r) => realpath(path.resolve(r)).catch(() => undefined)));
  return { roots: [...new Set(reals.filter((r): r is string => r !== undefined))], allowBlockDevices: opts.allowBlockDevices ?? false };
}

function isInside(real: string, root: string): boolean {
  const rel = path.relative(root, real);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

export type Refusal = NonNullable<DiskRef['refused']>;

/**
 * Why a disk at `p` (real path `real`, stat `st`) may not be read, or undefined when it may.
 * The reason is shown in the VM's problems; the code is what a backup refuses it with.
 */
export function refusal(p: string, real: string, st: Stats, c: DiskConfinement | undefined): Refusal | undefined {
  if (!c) return undefined;
  // Enabling block devices does not open all of /dev: the device must also be under an allowed root (e.g. /dev/vg0).
  if (st.isBlockDevice() && !c.allowBlockDevices) {
    return { code: 'BlockDeviceNotAllowed', reason: `${p} is a block device; block devices are not enabled for this source` };
  }
  if (c.roots.some((r) => isInside(real, r))) return undefined;
  const where = real === p ? p : `${p} (resolves to ${real})`;
  return { code: 'DiskOutsideSource', reason: `${where} is outside the source folder and its allowed roots` };
}

/** The typed error a backup refuses a VM with when one of its disks was refused at discovery. */
export function refusedDiskError(vmLabel: string, disks: readonly Pick<DiskRef, 'path' | 'refused'>[]): CofferError | undefined {
  const refused = disks.filter((d) => d.refused);
  if (refused.length === 0) return undefined;
  const code = refused.some((d) => d.refused!.code === 'DiskOutsideSource') ? 'DiskOutsideSource' : 'BlockDeviceNotAllowed';
  return new CofferError(code, `${vmLabel}: ${refused.map((d) => d.refused!.reason).join('; ')}.`, { disks: refused.map((d) => d.path) });
}

/** The disk, backing and extent paths a backup reads, sorted: what an admin approves. */
export function diskPaths(disks: readonly Pick<DiskRef, 'path'>[]): string[] {
  return [...new Set(disks.map((d) => d.path))].sort();
}

export interface DiskPathChanges {
  added: string[];
  removed: string[];
  changed: boolean;
}

/**
 * How a VM's disk paths moved between the paths the admin approved and the paths the last scan
 * found. A protected VM whose paths changed waits for approval before its next backup.
 */
export function diskPathChanges(previous: readonly string[] | readonly Pick<DiskRef, 'path'>[], current: readonly string[] | readonly Pick<DiskRef, 'path'>[]): DiskPathChanges {
  const norm = (l: readonly string[] | readonly Pick<DiskRef, 'path'>[]) => new Set(l.map((x) => (typeof x === 'string' ? x : x.path)));
  const before = norm(previous);
  const now = norm(current);
  const added = [...now].filter((p) => !before.has(p)).sort();
  const removed = [...before].filter((p) => !now.has(p)).sort();
  return { added, removed, changed: added.length > 0 || removed.length > 0 };
}
