import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { ToolMissingError } from '../exec.js';
import { refusal, type DiskConfinement } from '../confinement.js';
import type { DiskFormat, DiskRef } from '../types.js';
import { detectDiskFormat, formatFromExtension, qemuImgBacking, readQcow2Backing } from './disk-image.js';
import { readVmdkDescriptor } from './vmdk.js';

/**
 * A disk as it is on disk: the file, its VMDK extents and its backing chain, each as a DiskRef.
 * Used by every provider that can see the disk files (folder scan, local libvirt, VirtualBox, VMware).
 */

/** Windows paths in definitions written on Windows: kept as they are, they cannot be resolved here. */
function isForeignAbsolute(p: string): boolean {
  return path.sep === '/' && (/^[A-Za-z]:[\\/]/.test(p) || p.startsWith('\\\\'));
}

/** A path from a definition, resolved against the definition's folder. */
export function resolveDefinitionPath(baseDir: string, p: string): string {
  if (isForeignAbsolute(p)) return p;
  return path.resolve(baseDir, p);
}

export interface DiskWalk {
  /** Real paths already listed for this VM: a backing loop or a disk named twice stops here. */
  seen: Set<string>;
  problems: string[];
  /** Where the disks may be (folder sources): a file elsewhere is listed as refused and not read. */
  confine?: DiskConfinement | undefined;
}

export const MAX_CHAIN = 64;

/**
 * One disk as it is on disk: the file, its VMDK extents and its backing chain (qcow2 backing files,
 * VMDK parents), each as a DiskRef. Missing files are listed with exists:false and a problem.
 */
export async function describeDisk(
  name: string,
  p: string,
  role: DiskRef['role'],
  walk: DiskWalk = { seen: new Set(), problems: [] },
  formatHint?: DiskFormat,
  depth = 0,
): Promise<DiskRef[]> {
  let st;
  try {
    st = await stat(p);
  } catch {
    walk.problems.push(role === 'backing' ? `backing file ${p} is missing` : `disk ${name} is missing: ${p}`);
    return [{ name, path: p, format: formatHint ?? formatFromExtension(p), exists: false, role }];
  }
  const real = await realpath(p).catch(() => p);
  if (walk.seen.has(real)) {
    if (role === 'backing') walk.problems.push(`backing chain of ${name} loops back to ${p}`);
    return [];
  }
  walk.seen.add(real);
  if (!st.isFile() && !st.isBlockDevice()) {
    walk.problems.push(`disk ${name} is not a file: ${p}`);
    return [{ name, path: p, format: 'unknown', exists: false, role }];
  }
  // Checked before the first byte is read: the header of /etc/shadow is not ours to read either.
  const refused = refusal(p, real, st, walk.confine);
  if (refused) {
    walk.problems.push(`${role === 'backing' ? `backing file ${p} of ${name}` : `disk ${name}`} is not backed up: ${refused.reason}`);
    return [{ name, path: p, format: formatFromExtension(p), exists: true, role, refused }];
  }
  const format = st.isFile() ? await detectDiskFormat(p) : 'raw';
  const refs: DiskRef[] = [{ name, path: p, format, sizeBytes: st.isFile() ? st.size : undefined, exists: true, role }];
  if (depth >= MAX_CHAIN) {
    walk.problems.push(`backing chain of ${name} is longer than ${MAX_CHAIN}; stopped`);
    return refs;
  }
  try {
    if (format === 'qcow2') {
      let backing = await readQcow2Backing(p);
      if (backing?.startsWith('json:')) backing = await qemuImgBacking(p);
      if (backing) {
        if (/^[a-z][a-z0-9+.-]*:\/\//i.test(backing)) {
          walk.problems.push(`${name} has a backing file on the network (${backing}); it is not backed up`);
        } else {
          const bp = resolveDefinitionPath(path.dirname(p), backing);
          refs.push(...(await describeDisk(path.basename(bp), bp, 'backing', walk, undefined, depth + 1)));
        }
      }
    } else if (format === 'vmdk') {
      const desc = await readVmdkDescriptor(p);
      for (const e of desc?.extents ?? []) {
        if (!e.file) continue;
        const ep = resolveDefinitionPath(path.dirname(p), e.file);
        if (ep === p) continue; // a monolithic sparse file names itself
        const est = await stat(ep).catch(() => undefined);
        if (!est) walk.problems.push(`extent ${e.file} of ${name} is missing: ${ep}`);
        const real = await realpath(ep).catch(() => ep);
        walk.seen.add(real);
        const extentRefused = est ? refusal(ep, real, est, walk.confine) : undefined;
        if (extentRefused) walk.problems.push(`extent ${e.file} of ${name} is not backed up: ${extentRefused.reason}`);
        refs.push({
          name: path.basename(ep),
          path: ep,
          format: e.type === 'FLAT' || e.type === 'VMFS' ? 'raw' : 'vmdk',
          sizeBytes: est?.size,
          exists: !!est,
          role,
          extentOf: p,
          ...(extentRefused ? { refused: extentRefused } : {}),
        });
      }
      if (desc?.parentFileNameHint) {
        const pp = resolveDefinitionPath(path.dirname(p), desc.parentFileNameHint);
        refs.push(...(await describeDisk(path.basename(pp), pp, 'backing', walk, 'vmdk', depth + 1)));
      }
    }
  } catch (e) {
    if (e instanceof ToolMissingError) walk.problems.push(`cannot read the backing chain of ${name}: qemu-img is not installed`);
    else walk.problems.push(`cannot read the backing chain of ${name}: ${(e as Error).message}`);
  }
  return refs.map((r) => (r.sizeBytes === undefined ? dropUndefinedSize(r) : r));
}

function dropUndefinedSize(r: DiskRef): DiskRef {
  const { sizeBytes: _s, ...rest } = r;
  return rest;
}


/** Several disks of one VM, sharing one walk (a file named twice is listed once). */
export async function describeAll(
  disks: { name: string; path: string; format?: DiskFormat; role?: DiskRef['role'] }[],
  problems: string[],
  confine?: DiskConfinement,
): Promise<DiskRef[]> {
  const walk: DiskWalk = { seen: new Set(), problems, confine };
  const refs: DiskRef[] = [];
  for (const d of disks) refs.push(...(await describeDisk(d.name, d.path, d.role ?? 'disk', walk, d.format)));
  return refs;
}
