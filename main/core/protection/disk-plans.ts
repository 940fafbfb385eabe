import type { DiskRead, FullReadReason } from '../../../preload/contract.js';
import type { Consistency, DiskEntry, Manifest } from '../vault/format.js';
import { fileStamp, sameFile, type DiskPlan } from '../vault/plan.js';
import type { PointSummary } from '../vault/vault.js';

/*
 * Incrementals of VMs that are off (issue 13 §2): a disk whose file has the size, mtime, ctime and
 * inode its parent point recorded is not read again; its parent's chunk list is the new point's.
 * The parent of a disk is the newest point of the same VM in the same vault that has that disk.
 * Every disk read in full says why (FullReadReason), in the job's result.
 */

/** A point of the VM in this vault, as the catalog lists it (disks: the names it holds). */
export interface CandidatePoint {
  id: string;
  diskNames: readonly string[];
}

export interface PlanInput {
  /** The VM's points in the vault the backup writes to, newest first. */
  points: readonly CandidatePoint[];
  /** The files to read, under the names the point gives them. */
  disks: ReadonlyArray<{ name: string; path: string }>;
  /** What the read achieves: only 'offline' (the VM is off) lets an unchanged file be reused. */
  consistency: Consistency;
  /** Backup now with a full read (FullReadReason 'forced'). */
  fullRead: boolean;
  /** The policy's full-read interval (fullReadInterval): every N backups a disk is read whole. */
  fullReadEvery: number;
  /** Reads a point's manifest (the vault's). */
  readManifest: (pointId: string) => Promise<Manifest>;
}

export interface PlannedDisk {
  name: string;
  path: string;
  plan?: DiskPlan;
  /** Why this disk is read in full, when it is. */
  reason?: FullReadReason;
}

/** A plan per disk: reuse the parent's list when the file is unchanged, else read in full and say why. */
export async function planDisks(input: PlanInput): Promise<PlannedDisk[]> {
  const manifests = new Map<string, Promise<Manifest | undefined>>();
  const manifest = (id: string): Promise<Manifest | undefined> => {
    let m = manifests.get(id);
    if (!m) {
      // A point the catalog lists but the vault cannot give (deleted elsewhere): no parent.
      m = input.readManifest(id).catch(() => undefined);
      manifests.set(id, m);
    }
    return m;
  };
  const out: PlannedDisk[] = [];
  for (const d of input.disks) {
    const full = (reason: FullReadReason): void => {
      out.push({ name: d.name, path: d.path, reason });
    };
    if (input.fullRead) {
      full('forced');
      continue;
    }
    if (input.consistency !== 'offline') {
      full('vmRunning');
      continue;
    }
    if (input.points.length === 0) {
      full('firstBackup');
      continue;
    }
    const parentPoint = input.points.find((p) => p.diskNames.includes(d.name));
    const entry: DiskEntry | undefined = parentPoint ? (await manifest(parentPoint.id))?.disks.find((x) => x.name === d.name) : undefined;
    if (!parentPoint || !entry) {
      full('noParent');
      continue;
    }
    const now = await fileStamp(d.path);
    if (now.size !== entry.size) {
      full('sizeChanged');
      continue;
    }
    if (!sameFile(entry.source, entry.size, now)) {
      full('fileChanged');
      continue;
    }
    if ((entry.incremental?.depth ?? 0) + 1 >= input.fullReadEvery) {
      full('periodic');
      continue;
    }
    out.push({ name: d.name, path: d.path, plan: { parent: { pointId: parentPoint.id, entry }, basis: now } });
  }
  return out;
}

/** How each disk was got, from the plan and what the vault did with it (for the job's result). */
export function diskReads(planned: readonly PlannedDisk[], point: Pick<PointSummary, 'reads'>): DiskRead[] {
  return planned.map((p) => {
    const done = point.reads.find((r) => r.name === p.name);
    if (done?.parent) return { disk: p.name, read: done.bytesRead > 0 ? 'changed' : 'unchanged', parent: done.parent };
    // Planned with a parent, read whole all the same: the vault found the list unusable (another size).
    return { disk: p.name, read: 'full', reason: p.reason ?? 'sizeChanged' };
  });
}
