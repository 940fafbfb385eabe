import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Job } from '../../../preload/contract.js';
import { CofferError } from '../errors.js';
import { label } from '../inventory.js';
import { hypervisorOf, processesHolding, type HypervisorActions } from '../sources/capabilities.js';
import type { Manifest } from '../vault/format.js';
import { diskFiles } from './backup.js';
import type { ProtectionContext, RegisteredVm } from './context.js';
import { writeOriginalFormats } from './stored-form.js';

interface Replacement {
  /** The disk's name in the point. */
  name: string;
  /** The VM's disk file it replaces (the path the point recorded). */
  target: string;
  /** The restored copy, beside the target (same folder, same filesystem). */
  staged: string;
}

/**
 * Restores a point over the VM's own disk files, only when asked explicitly and only while the VM
 * is off and no process holds a disk open (asked of the hypervisor and the OS right before the
 * swap, not the last scan). Each disk is restored beside its own target (same filesystem: a
 * rename, never a cross-device copy), synced, given the original's owner and mode, and then the
 * original becomes a safety copy and the restored file takes its name. A failure midway puts back
 * what was already swapped: nothing is lost either way.
 */
export function replaceDisks(ctx: ProtectionContext, vm: RegisteredVm, pointId: string): Job {
  if (vm.powerState === 'running' || vm.powerState === 'paused') {
    throw new CofferError('VmRunning', `${label(vm)} is ${vm.powerState}; shut it down before replacing its disks.`);
  }
  if (vm.disks.length === 0) throw new CofferError('DiskUnreadable', `${label(vm)} has no disk files to replace.`);
  ctx.assertNoActiveJob(vm);
  const source = ctx.sourceOf(vm);
  const hypervisor = hypervisorOf(source ?? { kind: 'folder', target: '' });
  if (!hypervisor.disksAreLocal) {
    throw new CofferError('InvalidArgument', `The disks of ${label(vm)} are on the host ${source?.target ?? ''}, not on this machine; restore to a folder there instead.`);
  }
  return ctx.jobs.start('Restore', ctx.subject(vm), async (job) => {
    const vault = await ctx.vaults.openVault(vm.vaultName);
    const manifest = await vault.readManifest(pointId);
    const plan = replacementsFor(vm, manifest, pointId);
    await assertVmStopped(hypervisor, vm, plan, source?.kind !== 'folder');
    try {
      await vault.restore(pointId, path.dirname(plan[0]!.target), {
        files: new Map(plan.map((r) => [r.name, r.staged])),
        signal: job.signal,
        onProgress: (p) => job.progress({ bytesDone: p.bytesDone, bytesTotal: p.bytesTotal, bytesPerSecond: p.bytesPerSecond }),
      });
      // A disk stored as the guest saw it goes back in the format the VM runs on (seam B).
      await writeOriginalFormats(manifest, new Map(plan.map((r) => [r.name, r.staged])), job.signal);
      for (const r of plan) keepOwnerAndMode(r);
      // Asked again right before the swap: the VM may have been started while the point restored.
      await assertVmStopped(hypervisor, vm, plan, source?.kind !== 'folder');
      const safety = swap(plan, new Date().toISOString().replace(/[:.]/g, '-'));
      return {
        summary: { code: 'DisksReplaced', params: { vm: label(vm), pointId, keptAs: safety.map((s) => path.basename(s)) } },
        details: { safetyCopies: safety, replaced: plan.map((r) => r.target) },
      };
    } finally {
      for (const r of plan) fs.rmSync(r.staged, { force: true });
    }
  });
}

/** Each disk of the point goes back to the path it was read from, which must be a disk of the VM now. */
function replacementsFor(vm: RegisteredVm, m: Manifest, pointId: string): Replacement[] {
  const current = new Map(vm.disks.map((d) => [path.resolve(d.path), d.path]));
  // Points written before disks carried their source path: the name the backup gave each disk.
  const byName = new Map(diskFiles(vm).map((f) => [f.name, f.path]));
  const plan: Replacement[] = [];
  const unknown: string[] = [];
  for (const d of m.disks) {
    const target = d.source ? current.get(path.resolve(d.source.path)) : byName.get(d.name);
    if (!target) {
      unknown.push(d.source?.path ?? d.name);
      continue;
    }
    plan.push({ name: d.name, target, staged: path.join(path.dirname(target), `.${path.basename(target)}.coffer-restore-${pointId}`) });
  }
  if (unknown.length || plan.length === 0) {
    throw new CofferError('ReplaceTargetsChanged', `Point ${pointId} of ${label(vm)} holds ${unknown.join(', ') || 'no disk'}, which ${unknown.length === 1 ? 'is' : 'are'} not a disk of the VM now.`, {
      recorded: unknown,
      current: [...current.values()],
    });
  }
  return plan;
}

async function assertVmStopped(hypervisor: HypervisorActions, vm: RegisteredVm, plan: Replacement[], isHypervisor: boolean): Promise<void> {
  const targets = plan.map((r) => r.target);
  const holders = await processesHolding(targets);
  if (holders?.length) {
    throw new CofferError('DiskInUse', `${holders.map((h) => `${h.command} (pid ${h.pid}) has ${h.path} open`).join('; ')}.`, { holders });
  }
  const state = await hypervisor.currentPowerState({ stableId: vm.stableId, name: vm.name, diskPaths: targets });
  if (state === 'running' || state === 'paused' || state === 'saved' || (isHypervisor && state === 'unknown')) {
    const how = state === 'unknown' ? 'in a state the hypervisor does not report as off' : state;
    throw new CofferError('VmRunning', `${label(vm)} is ${how} now; shut it down before replacing its disks.`, { powerState: state });
  }
}

/** The restored file gets the original's owner and mode (it was created 0600 by Coffer's user). */
function keepOwnerAndMode(r: Replacement): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(r.target);
  } catch {
    return; // the original is gone: the restored file stays private
  }
  fs.chmodSync(r.staged, st.mode & 0o7777);
  try {
    fs.chownSync(r.staged, st.uid, st.gid);
  } catch (e) {
    // Only root may give a file away; a user restoring their own VM owns both already.
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') throw e;
  }
}

/** original -> safety copy, staged -> original, per disk; on a failure the swapped disks are put back. */
function swap(plan: Replacement[], stamp: string): string[] {
  const done: { r: Replacement; copy: string | null }[] = [];
  try {
    for (const r of plan) {
      const copy = fs.existsSync(r.target) ? `${r.target}.coffer-safety-${stamp}` : null;
      if (copy) fs.renameSync(r.target, copy);
      done.push({ r, copy });
      fs.renameSync(r.staged, r.target);
      syncDir(path.dirname(r.target));
    }
  } catch (e) {
    for (const { r, copy } of done.reverse()) {
      if (fs.existsSync(r.target) && copy) fs.renameSync(r.target, r.staged);
      if (copy) fs.renameSync(copy, r.target);
    }
    throw e;
  }
  return done.flatMap((d) => (d.copy ? [d.copy] : []));
}

function syncDir(dir: string): void {
  if (process.platform === 'win32') return; // directories cannot be opened for fsync there
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
