import * as os from 'node:os';
import * as path from 'node:path';
import type { Job, Policy, RecoveryPoint, Vm } from '../../../preload/contract.js';
import { toApiError } from '../errors.js';
import type { Db } from '../catalog/catalog.js';
import type { EngineEvents } from '../events.js';
import type { InventoryService } from '../inventory.js';
import type { JobService } from '../jobs.js';
import type { PolicySpec } from '../policy/spec.js';
import type { VaultService } from '../vaults.js';
import { BackupService, type BackupRequest } from './backup.js';
import { isActive, ProtectionContext } from './context.js';
import { ProtectionLifecycle } from './lifecycle.js';
import { PointService } from './points.js';
import { PolicyService } from './policies.js';
import { RestoreService, type RestoreHow } from './restore.js';
import { RestoreTestService, type TestRestoreHow } from './restore-test.js';
import { verifyVault } from './verify.js';
import { upgradeVault } from './upgrade-vault.js';
import { FileService } from '../files/service.js';

export type { RestoreHow } from './restore.js';
export type { RegisteredVm } from './context.js';

/**
 * Policies, protection, Backup Now, restore, verify and retention (W8..W17, W22, W23): the one
 * entry the router and the scheduler call. Each rule lives in the module named after it; this
 * class only hands calls on.
 */
export class ProtectionService {
  private readonly ctx: ProtectionContext;
  private readonly policies: PolicyService;
  private readonly lifecycle: ProtectionLifecycle;
  private readonly points: PointService;
  private readonly backups: BackupService;
  private readonly restores: RestoreService;
  /** File-level restore: browse a point's filesystems, read and restore single files. */
  readonly files: FileService;
  private readonly restoreTests: RestoreTestService;

  /** `restoreTestDir`: where test restores put their temporary disks (the engine: DATA_DIR/restore-tests). */
  constructor(db: Db, events: EngineEvents, jobs: JobService, vaults: VaultService, inventory: InventoryService, restoreTestDir = path.join(os.tmpdir(), 'coffer-restore-tests')) {
    this.ctx = new ProtectionContext(db, events, jobs, vaults, inventory);
    this.policies = new PolicyService(this.ctx);
    this.lifecycle = new ProtectionLifecycle(this.ctx, this.policies);
    this.points = new PointService(this.ctx, this.policies);
    this.backups = new BackupService(this.ctx, this.policies, this.points);
    this.restores = new RestoreService(this.ctx);
    this.files = new FileService(this.ctx);
    this.restoreTests = new RestoreTestService(this.ctx, restoreTestDir);
  }

  /** The console's time zone: policies are wall-clock times in it. */
  get timeZone(): string {
    return this.ctx.timeZone;
  }

  set timeZone(tz: string) {
    this.ctx.timeZone = tz;
  }

  listPolicies(vaultName: string): Policy[] {
    return this.policies.list(vaultName);
  }

  showPolicy(vaultName: string, name: string): Policy & { vms: Vm[] } {
    return this.policies.show(vaultName, name);
  }

  createPolicy(vaultName: string, name: string, spec: PolicySpec): Promise<Policy> {
    return this.policies.create(vaultName, name, spec);
  }

  editPolicy(vaultName: string, name: string, spec: PolicySpec): Promise<Policy> {
    return this.policies.edit(vaultName, name, spec);
  }

  deletePolicy(vaultName: string, name: string): Promise<{ name: string }> {
    return this.policies.delete(vaultName, name);
  }

  protect(vaultName: string, refs: string[], choice: { policy?: string | undefined; newPolicy?: { name: string; spec: PolicySpec } | undefined }): Job[] {
    return this.lifecycle.protect(vaultName, refs, choice);
  }

  changePolicy(ref: string, policyName: string): Job {
    return this.lifecycle.changePolicy(ref, policyName);
  }

  stopProtection(ref: string, deleteData: boolean, confirmName?: string): Job {
    return this.lifecycle.stop(ref, deleteData, confirmName);
  }

  resumeProtection(ref: string): Job {
    return this.lifecycle.resume(ref);
  }

  approveDiskPaths(ref: string): Vm {
    return this.lifecycle.approveDiskPaths(ref);
  }

  backup(ref: string, opts: BackupRequest = {}): Job {
    return this.backups.backup(ref, opts);
  }

  /** "Back up all now" (the tray): a Backup Now per VM whose protection is active; a VM that refuses is named, the others run. */
  backupAll(): { jobs: Job[]; refused: Array<{ vm: string; code: string; message: string }> } {
    const jobs: Job[] = [];
    const refused: Array<{ vm: string; code: string; message: string }> = [];
    for (const vm of this.ctx.inventory.allVms().filter(isActive)) {
      try {
        jobs.push(this.backups.backup(vm.id));
      } catch (e) {
        const { code, message } = toApiError(e);
        refused.push({ vm: vm.id, code, message });
      }
    }
    return { jobs, refused };
  }

  /** Logs a scheduled backup that was refused before it started as a Failed job (see BackupService). */
  failScheduledBackup(vmId: string, error: unknown, opts: { trigger?: 'scheduled' | 'catchUp'; now?: Date } = {}): Job {
    return this.backups.failScheduled(vmId, error, opts);
  }

  applyRetention(vmId: string, now = new Date()): Job | null {
    return this.points.applyRetention(vmId, now);
  }

  listPoints(ref: string): RecoveryPoint[] {
    return this.points.list(ref);
  }

  restore(ref: string, pointId: string, how: RestoreHow): Job {
    return this.restores.restore(ref, pointId, how);
  }

  /** Test restore: boot the point as a temporary VM on an isolated network until it answers, then remove it. */
  testRestore(ref: string, pointId: string, how: TestRestoreHow): Job {
    return this.restoreTests.testRestore(ref, pointId, how);
  }

  /** The cleanup of test-restore leftovers of an earlier run (a crash), started when the engine opened. */
  get restoreTestsSwept(): Promise<string[]> {
    return this.restoreTests.swept;
  }

  verify(vaultName: string, full: boolean): Job {
    return verifyVault(this.ctx, vaultName, full);
  }

  upgradeVault(vaultName: string): Job {
    return upgradeVault(this.ctx, vaultName);
  }
}
