import type { DiskRead } from '../../../preload/contract.js';
import type { JobContext } from '../jobs.js';
import { label } from '../inventory.js';
import { hypervisorOf, type HypervisorActions, type VmAddress } from '../sources/capabilities.js';
import type { CbtCandidate, CbtDisk, CbtHistory, CbtReadResult } from '../sources/libvirt-cbt.js';
import type { DiskEntry } from '../vault/format.js';
import type { DiskPlan } from '../vault/plan.js';
import type { BackupOptions, PointSummary, Vault } from '../vault/vault.js';
import type { ProtectionContext, RegisteredVm } from './context.js';
import type { StepLog } from '../step-log.js';

/*
 * The backup of a running VM through changed-block tracking (issue 13 §1), between protection
 * and the vault: the catalog's points say which checkpoint each disk's parent has, the hypervisor
 * serves the point-in-time view with what changed since, and the vault gets a plan per disk
 * (seam A) plus the stored form (seam B: guest-visible bytes, the file's own format recorded).
 */


/** The catalog's disks column: what PointSummary.disks recorded. */
interface RowDisk {
  name: string;
  checkpoint?: string;
}

/** The VM's points, newest first, as candidates per disk name, and every checkpoint they refer to. */
export function cbtHistory(ctx: ProtectionContext, vm: RegisteredVm, nameOfPath: ReadonlyMap<string, string>): CbtHistory {
  const rows = ctx.pointRows(vm.id).slice().reverse();
  const parsed = rows.map((r) => ({ id: r.id, disks: JSON.parse(r.disks) as RowDisk[] }));
  const referenced = new Set<string>();
  for (const p of parsed) for (const d of p.disks) if (d.checkpoint) referenced.add(d.checkpoint);
  return {
    referenced,
    candidates: (diskPath) => {
      const name = nameOfPath.get(diskPath);
      const out: CbtCandidate[] = [];
      for (const p of parsed) {
        const d = p.disks.find((x) => x.name === name);
        if (d) out.push({ pointId: p.id, checkpoint: d.checkpoint });
      }
      return out;
    },
  };
}

/** The checkpoints the given points (catalog rows) created. */
export function checkpointsOf(ctx: ProtectionContext, vm: RegisteredVm, pointIds: readonly string[]): string[] {
  const want = new Set(pointIds);
  const out = new Set<string>();
  for (const r of ctx.pointRows(vm.id)) {
    if (!want.has(r.id)) continue;
    for (const d of JSON.parse(r.disks) as RowDisk[]) if (d.checkpoint) out.add(d.checkpoint);
  }
  return [...out];
}

/**
 * Deletes the checkpoints of deleted points on the VM's hypervisor (retention, deleting a VM's
 * backup data), so no dirty bitmap grows forever. One that cannot be deleted now is a warning;
 * the next backup deletes checkpoints no point refers to.
 */
export async function removePointCheckpoints(ctx: ProtectionContext, vm: RegisteredVm, names: readonly string[], job: Pick<JobContext, 'warn'>): Promise<void> {
  if (names.length === 0) return;
  const source = ctx.sourceOf(vm);
  const remove = source ? hypervisorOf(source).removeCheckpoints : undefined;
  if (!remove) return;
  const failed = await remove({ stableId: vm.stableId, name: vm.name, diskPaths: [] }, names).catch((e: unknown) => [(e as Error).message]);
  if (failed.length) job.warn({ code: 'SnapshotFailed', message: `${label(vm)}: cannot delete the checkpoints of deleted points: ${failed.join('; ')}`, subject: vm.name, detail: failed.join('; ') });
}

export type CbtBackupResult = CbtReadResult<PointSummary> & { reads: DiskRead[] };

/**
 * Backs up a running VM by changed blocks, or answers undefined when the hypervisor cannot do it
 * right now (off, unsupported disks): the caller then reads the files as before.
 */
export async function backupChangedBlocks(
  ctx: ProtectionContext,
  vm: RegisteredVm,
  hypervisor: HypervisorActions,
  address: VmAddress,
  vault: Vault,
  nameOfPath: ReadonlyMap<string, string>,
  base: Omit<BackupOptions, 'disks' | 'consistency'>,
  steps?: StepLog,
): Promise<CbtBackupResult | undefined> {
  if (!hypervisor.changedBlockRead) return undefined;
  let reads: DiskRead[] = [];
  // The vault's shared lock and index refresh while the hypervisor prepares its view (virsh,
  // `backup-begin`): released here when no backup follows (the VM is off, or the read failed).
  const held = vault.holdForBackup(vm.name, steps);
  held.catch(() => undefined); // its error reaches the job through the backup below, or not at all
  try {
    const r = await hypervisor.changedBlockRead(
      address,
      cbtHistory(ctx, vm, nameOfPath),
      async (disks, consistency, checkpoint, readsDone) => {
        const plan = await (steps ? steps.time('parent manifests', () => planCbtDisks(vault, disks, checkpoint, nameOfPath)) : planCbtDisks(vault, disks, checkpoint, nameOfPath));
        reads = plan.reads;
        // The domain's backup job ends as soon as the disks are read, while the vault commits.
        return vault.backup({ ...base, disks: plan.disks, consistency, onReadsDone: readsDone, ...(steps ? { steps } : {}) }, await held);
      },
      steps,
    );
    return r ? { ...r, reads } : undefined;
  } finally {
    await held.then((h) => h.release(), () => undefined);
  }
}

/**
 * The vault's view of the disks a changed-block read serves: per disk its plan (parent entry and
 * changed ranges, or a full read through the NBD view), its stored form, the new checkpoint; and
 * how each is read, for the job.
 */
export async function planCbtDisks(vault: Pick<Vault, 'readManifest'>, disks: readonly CbtDisk[], checkpoint: string | undefined, nameOfPath: ReadonlyMap<string, string>): Promise<{ disks: BackupOptions['disks']; reads: DiskRead[] }> {
  const planned: BackupOptions['disks'] = [];
  const reads: DiskRead[] = [];
  for (const d of disks) {
    const name = nameOfPath.get(d.path) ?? d.target;
    const plan: DiskPlan = { readRange: d.readRange };
    let reason = d.fullReadReason;
    if (d.parentPointId) {
      const entry = await parentEntry(vault, d.parentPointId, name);
      if (!entry) reason = 'parentDeleted';
      else if (entry.size !== d.size) reason = 'sizeChanged';
      else {
        plan.parent = { pointId: d.parentPointId, entry };
        plan.changed = d.changed ?? [];
      }
    }
    reads.push(plan.parent ? { disk: name, read: 'changed', parent: d.parentPointId! } : { disk: name, read: 'full', reason: reason ?? 'firstBackup' });
    planned.push({
      name,
      path: d.path,
      size: d.size,
      plan,
      stored: { form: 'guest', format: d.format },
      ...(checkpoint && d.tracked ? { checkpoint } : {}),
    });
  }
  return { disks: planned, reads };
}

async function parentEntry(vault: Pick<Vault, 'readManifest'>, pointId: string, name: string): Promise<DiskEntry | undefined> {
  try {
    const m = await vault.readManifest(pointId);
    return m.disks.find((d) => d.name === name);
  } catch {
    return undefined; // deleted from the vault behind the catalog's back
  }
}
