import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DiskRead, Job, JobTrigger, Policy, RetainUntilBasis, Vm } from '../../../preload/contract.js';
import { CofferError } from '../errors.js';
import { label } from '../inventory.js';
import type { JobContext } from '../jobs.js';
import { backupNowRetainUntil, retainUntilInstant } from '../policy/retention.js';
import { fullReadInterval } from '../policy/spec.js';
import { MAX_POINTS_PER_VM } from '../policy/spec.js';
import { hypervisorOf } from '../sources/capabilities.js';
import { diskPathChanges, diskPaths, refusedDiskError } from '../sources/confinement.js';
import { StepLog } from '../step-log.js';
import { backupChangedBlocks } from './cbt-backup.js';
import type { ProtectionContext, RegisteredVm } from './context.js';
import { plainFileName, readDefinition } from './definition.js';
import { diskReads, planDisks, type CandidatePoint } from './disk-plans.js';
import type { PointService } from './points.js';
import type { PolicyService } from './policies.js';

export interface BackupRequest {
  retainUntil?: string | undefined;
  /** Who asked: 'manual' (Backup Now, console or CLI) unless the scheduler says 'scheduled' or 'catchUp'. */
  trigger?: JobTrigger;
  now?: Date;
  /** Read every disk in full, even one unchanged since its last point (`backup now --full-read`). */
  fullRead?: boolean | undefined;
}

/** Backup Now and scheduled backups (W14..W17): one Backup job per VM, then retention. */
export class BackupService {
  constructor(
    private readonly ctx: ProtectionContext,
    private readonly policies: PolicyService,
    private readonly points: PointService,
  ) {}

  /** Backup Now (retainUntil given or the policy's daily retention) or a scheduled run. */
  backup(ref: string, opts: BackupRequest = {}): Job {
    const vm = this.ctx.protectedVm(ref);
    this.ctx.assertNoActiveJob(vm);
    const policy = this.policies.ofVm(vm.id);
    const trigger = opts.trigger ?? 'manual';
    const manual = trigger === 'manual';
    const now = opts.now ?? new Date();
    // A date alone means the end of that day in the console's time zone, from every face.
    const until = opts.retainUntil ? retainUntilInstant(opts.retainUntil, this.ctx.timeZone) : undefined;
    if (until && !(until.getTime() > now.getTime())) {
      throw new CofferError('InvalidArgument', 'retainUntil: must be in the future.', { field: 'retainUntil' });
    }
    const kept = manual ? backupNowRetainUntil(policy.retention, until, now, this.ctx.timeZone) : null;
    const retainUntil = kept ? kept.until.toISOString() : null;
    if (this.ctx.pointRows(vm.id).length >= MAX_POINTS_PER_VM) {
      throw new CofferError('RecoveryPointLimitReached', `${label(vm)} already has ${MAX_POINTS_PER_VM} recovery points.`);
    }
    this.ctx.db.prepare('UPDATE vms SET last_attempt_at = ? WHERE id = ?').run(now.toISOString(), vm.id);
    return this.ctx.jobs.start('Backup', { ...this.ctx.subject(vm), trigger }, async (job) => {
      try {
        const point = await this.run(job, vm, policy, retainUntil, manual, kept?.basis ?? null, opts.fullRead === true);
        this.ctx.db
          .prepare("UPDATE vms SET protection_state = 'Protected', last_backup_at = ?, last_backup_status = 'Completed' WHERE id = ? AND protection_state IS NOT NULL")
          .run(point.created, vm.id);
        this.ctx.changed();
        this.points.applyRetention(vm.id);
        return {
          summary: { code: 'BackupDone', params: { pointId: point.id, disks: point.disks.length, bytesRead: point.bytesRead, bytesStored: point.addedBytes, reads: point.diskReads } },
          details: { pointId: point.id, logicalBytes: point.logicalBytes, addedBytes: point.addedBytes, bytesRead: point.bytesRead, consistency: point.consistency, reads: point.diskReads, ...('steps' in point ? { steps: point.steps } : {}) },
        };
      } catch (e) {
        if (!(e instanceof CofferError && e.code === 'OperationCancelled') && !job.signal.aborted) {
          this.ctx.db
            .prepare("UPDATE vms SET protection_state = 'ProtectionError', last_backup_status = 'Failed' WHERE id = ? AND protection_state IN ('Protected', 'ProtectedPendingInitialBackup', 'ProtectionError')")
            .run(vm.id);
          this.ctx.changed();
        }
        throw e;
      }
    });
  }

  /**
   * A scheduled backup refused before its job could start: it becomes a Failed Backup job with
   * the error's code and remedy, the VM shows ProtectionError, and the slot counts as attempted
   * (the next slot tries again; the scheduler does not log the same failure every tick).
   */
  failScheduled(vmId: string, error: unknown, opts: { trigger?: 'scheduled' | 'catchUp'; now?: Date } = {}): Job {
    const vm = this.ctx.inventory.allVms().find((v) => v.id === vmId);
    const registered = this.ctx.registeredById(vmId);
    this.ctx.db
      .prepare(
        "UPDATE vms SET last_attempt_at = ?, protection_state = 'ProtectionError', last_backup_status = 'Failed' WHERE id = ? AND protection_state IN ('Protected', 'ProtectedPendingInitialBackup', 'ProtectionError')",
      )
      .run((opts.now ?? new Date()).toISOString(), vmId);
    this.ctx.changed();
    const subject = registered ? this.ctx.subject(registered) : { vmId, vmName: vm?.name ?? null, cloudService: vm?.cloudService ?? null };
    return this.ctx.jobs.recordFailure('Backup', { ...subject, trigger: opts.trigger ?? 'scheduled' }, error);
  }

  private async run(job: JobContext, vm: RegisteredVm, policy: Policy, retainUntil: string | null, manual: boolean, retainBasis: RetainUntilBasis | null, fullRead: boolean) {
    const steps = new StepLog();
    this.gateDisks(vm);
    const vault = await steps.time('open vault', () => this.ctx.vaults.openVault(vm.vaultName));
    const definition = vm.definitionPath ? readDefinition(vm.definitionPath) : undefined;
    const files = diskFiles(vm);
    const missing = files.filter((f) => !fs.existsSync(f.path));
    if (missing.length) {
      throw new CofferError('DiskUnreadable', `Disk file(s) of ${label(vm)} not found: ${missing.map((m) => m.path).join(', ')}.`, { missing: missing.map((m) => m.path) });
    }
    const source = this.ctx.sourceOf(vm);
    const hypervisor = hypervisorOf(source ?? { kind: 'folder', target: '' });
    const nameOf = new Map(files.map((f) => [f.path, f.name]));
    const address = { stableId: vm.stableId, name: vm.name, diskPaths: files.map((f) => f.path) };
    // What the vault's backup gets on either path below.
    const base = { vmName: vm.name, vmId: vm.id, ...(definition ? { definition } : {}), retainUntil, policy: policy.name, signal: job.signal, onProgress: (p: { bytesDone: number; bytesTotal: number; bytesPerSecond: number }) => job.progress({ bytesDone: p.bytesDone, bytesTotal: p.bytesTotal, bytesPerSecond: p.bytesPerSecond }) };
    // A running libvirt domain: only what changed since the parent point (each disk's reads in the job).
    const cbt = await backupChangedBlocks(this.ctx, vm, hypervisor, address, vault, nameOf, base, steps);
    if (cbt) {
      for (const w of cbt.warnings) job.warn(w);
      await steps.time('catalog', async () => this.points.record(vm, cbt.value, manual, retainBasis));
      return { ...cbt.value, diskReads: cbt.reads, steps: steps.steps };
    }
    // Parents: this VM's points in this vault, newest first (the catalog's copy of the vault's list).
    const points: CandidatePoint[] = this.ctx
      .pointRows(vm.id)
      .filter((r) => r.vault_id === vm.vaultId)
      .reverse()
      .map((r) => ({ id: r.id, diskNames: (JSON.parse(r.disks) as Array<{ name: string }>).map((d) => d.name) }));
    const read = await hypervisor.consistentRead({ stableId: vm.stableId, name: vm.name, diskPaths: files.map((f) => f.path) }, async (frozen, consistency) => {
      const planned = await planDisks({
        points,
        // Each frozen file keeps the name of the disk it stands for.
        disks: frozen.map((d) => ({ name: nameOf.get(d.path) ?? plainFileName(d.name), path: d.path })),
        consistency,
        fullRead,
        fullReadEvery: fullReadInterval(policy),
        readManifest: (id) => vault.readManifest(id),
      });
      const point = await vault.backup({ ...base, disks: planned.map((d) => ({ name: d.name, path: d.path, ...(d.plan ? { plan: d.plan } : {}) })), consistency });
      return { ...point, diskReads: diskReads(planned, point) };
    });
    for (const w of read.warnings) job.warn(w);
    this.points.record(vm, read.value, manual, retainBasis);
    return read.value as typeof read.value & { diskReads?: DiskRead[] };
  }

  /**
   * Before any disk is read: a disk Coffer may not read refuses the backup (typed), and a protected
   * VM whose disk paths moved since the admin approved them waits for approval (DiskPathsChanged)
   * instead of following them. The job fails, so every later slot tries again and fails the same
   * way until the admin approves.
   */
  private gateDisks(vm: RegisteredVm): void {
    const refused = refusedDiskError(label(vm), vm.disks);
    if (refused) throw refused;
    const row = this.ctx.db.prepare('SELECT approved_disk_paths FROM vms WHERE id = ?').get(vm.id) as { approved_disk_paths: string | null } | undefined;
    if (!row?.approved_disk_paths) {
      // A VM catalogued before approvals existed: what it has now is the baseline.
      this.ctx.db.prepare('UPDATE vms SET approved_disk_paths = ? WHERE id = ?').run(JSON.stringify(diskPaths(vm.disks)), vm.id);
      return;
    }
    const changes = diskPathChanges(JSON.parse(row.approved_disk_paths) as string[], vm.disks);
    if (!changes.changed) return;
    const list = (paths: string[]) => (paths.length ? paths.join(', ') : 'none');
    throw new CofferError(
      'DiskPathsChanged',
      `${label(vm)}: its disk paths changed since they were approved (${list(changes.removed)} -> ${list(changes.added)}); the backup does not read the new paths until an admin approves them.`,
      { removed: changes.removed, added: changes.added },
      `Check the new paths; if they are right: \`coffer vm approve-disks ${label(vm)}\` or Approve disks in the console, then back up again.`,
    );
  }
}

/** Every file of a VM, byte for byte: disks, backing chains and VMDK extents, under unique plain names. */
export function diskFiles(vm: Pick<Vm, 'disks'>): { name: string; path: string }[] {
  const used = new Set<string>();
  return vm.disks.map((d) => {
    let name = plainFileName(path.basename(d.path));
    for (let i = 2; used.has(name); i++) name = `${i}-${plainFileName(path.basename(d.path))}`;
    used.add(name);
    return { name, path: d.path };
  });
}
