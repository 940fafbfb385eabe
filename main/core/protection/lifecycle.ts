import type { Job, Vm } from '../../../preload/contract.js';
import type { Db } from '../catalog/catalog.js';
import { CofferError } from '../errors.js';
import { isBackupDataOnly, label } from '../inventory.js';
import type { PolicySpec } from '../policy/spec.js';
import { diskPaths, refusedDiskError } from '../sources/confinement.js';
import { checkpointsOf, removePointCheckpoints } from './cbt-backup.js';
import { isActive, type ProtectionContext } from './context.js';
import type { PolicyService } from './policies.js';

/** Protect, change policy, stop and resume protection (W9, W12..W14, W22): the protection states of a VM. */
export class ProtectionLifecycle {
  constructor(
    private readonly ctx: ProtectionContext,
    private readonly policies: PolicyService,
  ) {}

  protect(vaultName: string, refs: string[], choice: { policy?: string | undefined; newPolicy?: { name: string; spec: PolicySpec } | undefined }): Job[] {
    const inVault = (v: { vaultName: string | null }) => v.vaultName?.toLowerCase() === vaultName.toLowerCase();
    const vms = refs.map((r) => this.ctx.registeredVm(r, inVault));
    for (const vm of vms) {
      if (isBackupDataOnly(vm)) {
        throw new CofferError('VmBackupDataOnly', `${label(vm)} holds backup data only: no source of this install lists it.`, { vm: vm.id });
      }
      if (vm.registrationState !== 'Registered') throw new CofferError('VmNotRegistered', `The VM ${label(vm)} is not registered yet.`);
      if (isActive(vm)) throw new CofferError('VmAlreadyProtected', `The VM ${label(vm)} is already protected; change its policy instead.`, { vm: vm.id });
    }
    if (!choice.policy === !choice.newPolicy) {
      throw new CofferError('InvalidArgument', 'Choose an existing policy or define a new one (exactly one).');
    }
    // An existing policy is taken as it is: the wizard cannot alter its retention (W11).
    const policy = choice.newPolicy
      ? this.policies.add(vaultName, choice.newPolicy.name, choice.newPolicy.spec)
      : this.policies.get(vaultName, choice.policy ?? '');
    // A policy made in the wizard reaches the vault (and every install connected to it) at once.
    if (choice.newPolicy) void this.policies.publish(policy.id);
    return vms.map((vm) =>
      this.ctx.jobs.start('ConfigureProtection', this.ctx.subject(vm), async () => {
        this.ctx.db
          .prepare("UPDATE vms SET policy_id = ?, protection_state = 'ProtectedPendingInitialBackup', protected_at = ?, last_attempt_at = NULL WHERE id = ?")
          .run(policy.id, new Date().toISOString(), vm.id);
        // Protecting a VM approves the disks the admin sees now; a later change waits for approval.
        approveCurrentDiskPaths(this.ctx.db, vm);
        this.ctx.changed();
        return { summary: { code: 'ProtectionConfigured', params: { vm: label(vm), policy: policy.name } } };
      }),
    );
  }

  changePolicy(ref: string, policyName: string): Job {
    const vm = this.ctx.protectedVm(ref);
    const policy = this.policies.get(vm.vaultName, policyName);
    return this.ctx.jobs.start('ConfigureProtection', this.ctx.subject(vm), async () => {
      this.ctx.db.prepare('UPDATE vms SET policy_id = ? WHERE id = ?').run(policy.id, vm.id);
      this.ctx.changed();
      return { summary: { code: 'PolicyChanged', params: { vm: label(vm), policy: policy.name } } };
    });
  }

  /** Stop protection keeping the points, or deleting them (the VM's name typed back confirms). */
  stop(ref: string, deleteData: boolean, confirmName?: string): Job {
    const vm = this.ctx.registeredVm(ref, (v) => v.protectionState !== null);
    if (!deleteData) {
      if (!isActive(vm)) throw new CofferError('VmNotProtected', `Protection of ${label(vm)} is already stopped.`);
      return this.ctx.jobs.start('StopProtection', this.ctx.subject(vm), async () => {
        this.ctx.db.prepare("UPDATE vms SET protection_state = 'ProtectionStopped' WHERE id = ?").run(vm.id);
        this.ctx.changed();
        return { summary: { code: 'ProtectionStopped', params: { vm: label(vm) } } };
      });
    }
    if (confirmName !== vm.name) {
      throw new CofferError('InvalidArgument', `To delete the backup data of ${label(vm)}, type its name "${vm.name}" to confirm.`, { field: 'confirmName' });
    }
    this.ctx.assertNoActiveJob(vm);
    return this.ctx.jobs.start('DeleteBackupData', this.ctx.subject(vm), async (job) => {
      const vault = await this.ctx.vaults.openVault(vm.vaultName);
      const ids = this.ctx.pointRows(vm.id).map((p) => p.id);
      const checkpoints = checkpointsOf(this.ctx, vm, ids);
      // Waits (cancellable) while another job or install holds the vault; the job says so meanwhile.
      await vault.prune(ids, { signal: job.signal, onWait: (_message, holder) => job.note({ code: 'WaitingForLock', params: holder }) });
      job.note(null);
      this.ctx.db.transaction(() => {
        this.ctx.db.prepare('DELETE FROM points WHERE vault_id = ? AND vm_id = ?').run(vm.vaultId, vm.id);
        this.ctx.db.prepare('UPDATE vms SET protection_state = NULL, policy_id = NULL, protected_at = NULL WHERE id = ?').run(vm.id);
      })();
      this.ctx.changed();
      // The hypervisor stops tracking changes for points that no longer exist.
      await removePointCheckpoints(this.ctx, vm, checkpoints, job);
      return { summary: { code: 'ProtectionRemoved', params: { vm: label(vm), points: ids.length } } };
    });
  }

  resume(ref: string): Job {
    const vm = this.ctx.registeredVm(ref, (v) => v.protectionState === 'ProtectionStopped');
    return this.ctx.jobs.start('ConfigureProtection', this.ctx.subject(vm), async () => {
      const hasPoints = this.ctx.pointRows(vm.id).length > 0;
      this.ctx.db.prepare('UPDATE vms SET protection_state = ? WHERE id = ?').run(hasPoints ? 'Protected' : 'ProtectedPendingInitialBackup', vm.id);
      this.ctx.changed();
      return { summary: { code: 'ProtectionResumed', params: { vm: label(vm) } } };
    });
  }

  /**
   * The admin approves the disk paths the last discovery found: backups read them from now on.
   * Paths Coffer may not read at all (outside the source, block devices) cannot be approved.
   */
  approveDiskPaths(ref: string): Vm {
    const vm = this.ctx.registeredVm(ref);
    const refused = refusedDiskError(label(vm), vm.disks);
    if (refused) throw refused;
    approveCurrentDiskPaths(this.ctx.db, vm);
    this.ctx.changed();
    return this.ctx.registeredVm(vm.id);
  }

}

/** The one place a VM's approved disk paths are set: from its disks as the catalog has them now. */
function approveCurrentDiskPaths(db: Db, vm: Pick<Vm, 'id' | 'disks'>): void {
  db.prepare('UPDATE vms SET approved_disk_paths = ? WHERE id = ?').run(JSON.stringify(diskPaths(vm.disks)), vm.id);
}
