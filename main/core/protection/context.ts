import { isActiveProtection, type ConsistencyLevel, type Source, type Vm } from '../../../preload/contract.js';
import type { Db } from '../catalog/catalog.js';
import { CofferError } from '../errors.js';
import type { EngineEvents } from '../events.js';
import { label, type InventoryService } from '../inventory.js';
import type { JobService, JobSubject } from '../jobs.js';
import type { VaultService } from '../vaults.js';

/** A VM registered to a vault: the vault is always known, so no code needs `vaultName!`. */
export type RegisteredVm = Vm & {
  vaultName: string;
  vaultId: string;
  /** The hypervisor's id of the VM (libvirt UUID, ...): how the hypervisor is asked about it. */
  stableId: string;
};

interface PointRow {
  vault_id: string;
  id: string;
  vm_id: string | null;
  vm_name: string;
  created_at: string;
  consistency: ConsistencyLevel;
  retain_until: string | null;
  manual: number;
  retain_basis: string | null;
  logical_bytes: number;
  added_bytes: number;
  disks: string;
}

/** What every part of protection shares: the catalog, the services, VM lookups and the console's time zone. */
export class ProtectionContext {
  /** The console's time zone: policies are wall-clock times in it, retain-until dates end in it. */
  timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone;

  constructor(
    readonly db: Db,
    readonly events: EngineEvents,
    readonly jobs: JobService,
    readonly vaults: VaultService,
    readonly inventory: InventoryService,
  ) {}

  /** A VM registered to some vault, by id, name or cloudservice/name, among `filter`'s VMs. */
  registeredVm(ref: string, filter: (vm: Vm) => boolean = () => true): RegisteredVm {
    const vm = this.inventory.resolve(ref, this.inventory.allVms().filter((v) => v.vaultName && filter(v)));
    return this.registered(vm);
  }

  /** The registered VM with this catalog id, or undefined when it is not registered. */
  registeredById(vmId: string): RegisteredVm | undefined {
    const vm = this.inventory.allVms().find((v) => v.id === vmId);
    return vm?.vaultName ? this.registered(vm) : undefined;
  }

  protectedVm(ref: string): RegisteredVm {
    const vm = this.registeredVm(ref);
    if (!isActive(vm)) {
      throw new CofferError('VmNotProtected', `The VM ${label(vm)} is not protected${vm.protectionState ? ` (${vm.protectionState})` : ''}.`);
    }
    return vm;
  }

  sourceOf(vm: Vm): Source | undefined {
    return this.inventory.listSources().find((s) => s.name === vm.sourceName);
  }

  assertNoActiveJob(vm: Vm): void {
    const active = this.jobs.activeForVm(vm.id).filter((j) => j.operation !== 'ConfigureProtection');
    if (active.length) {
      throw new CofferError('BackupAlreadyInProgress', `${label(vm)} already has job ${active[0]!.id} (${active[0]!.operation}) running.`, { jobId: active[0]!.id });
    }
  }

  subject(vm: RegisteredVm): JobSubject {
    return { vaultId: vm.vaultId, vaultName: vm.vaultName, vmId: vm.id, vmName: vm.name, cloudService: vm.cloudService };
  }

  pointRows(vmId: string): PointRow[] {
    return this.db.prepare('SELECT * FROM points WHERE vm_id = ? ORDER BY created_at, id').all(vmId) as PointRow[];
  }

  changed(): void {
    this.events.emit('protectionChanged', {});
  }

  private registered(vm: Vm): RegisteredVm {
    const row = this.db.prepare('SELECT vault_id, stable_id FROM vms WHERE id = ?').get(vm.id) as { vault_id: string | null; stable_id: string } | undefined;
    if (!row?.vault_id || !vm.vaultName) throw new CofferError('VmNotRegistered', `The VM ${label(vm)} is not registered to a vault.`);
    return { ...vm, vaultName: vm.vaultName, vaultId: row.vault_id, stableId: row.stable_id };
  }
}

/** Whether the scheduler backs this VM up (W14, W17, W22): the contract's isActiveProtection. */
export function isActive(vm: Pick<Vm, 'protectionState'>): boolean {
  return isActiveProtection(vm.protectionState);
}
