import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ConsistencyLevel, Job, Policy, RecoveryPoint, Vm } from '../../preload/contract.js';
import type { Db } from './catalog/catalog.js';
import { CofferError } from './errors.js';
import type { EngineEvents } from './events.js';
import { label, type InventoryService } from './inventory.js';
import type { JobContext, JobService } from './jobs.js';
import { defaultRetainUntil, retentionDecisions, type RetentionReason } from './policy/retention.js';
import { describePolicy, MAX_POINTS_PER_VM, maxPointsKept, PolicySpec } from './policy/spec.js';
import { withConsistentSnapshot } from './sources/index.js';
import { virsh } from './sources/libvirt.js';
import type { Vault } from './vault/vault.js';
import type { VaultService } from './vaults.js';

interface PolicyRow {
  id: string;
  vault_id: string;
  name: string;
  builtin: number;
  spec: string;
}

interface PointRow {
  vault_id: string;
  id: string;
  vm_id: string | null;
  vm_name: string;
  created_at: string;
  consistency: ConsistencyLevel;
  retain_until: string | null;
  manual: number;
  logical_bytes: number;
  added_bytes: number;
  disks: string;
}

export interface RestoreHow {
  mode: 'disks' | 'newVm' | 'replaceDisks';
  targetDir?: string | undefined;
  newName?: string | undefined;
  defineOn?: string | undefined;
}

/** States of a protected item, as in the anchor service (W14, W17, W22). */
export type ProtectionState = 'ProtectedPendingInitialBackup' | 'Protected' | 'ProtectionError' | 'ProtectionStopped';
const ACTIVE: ReadonlySet<string> = new Set(['ProtectedPendingInitialBackup', 'Protected', 'ProtectionError']);

/**
 * Policies, protection, Backup Now, restore, verify and retention (W8..W17, W22, W23). The
 * scheduler calls `backup` too; every rule is enforced here.
 */
export class ProtectionService {
  /** The console's time zone: policies are wall-clock times in it. */
  timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone;

  constructor(
    private readonly db: Db,
    private readonly events: EngineEvents,
    private readonly jobs: JobService,
    private readonly vaults: VaultService,
    private readonly inventory: InventoryService,
  ) {}

  // ---- policies (W8, W10..W12) ----

  listPolicies(vaultName: string): Policy[] {
    const vaultId = this.vaults.idOf(vaultName);
    const rows = this.db.prepare('SELECT * FROM policies WHERE vault_id = ? ORDER BY builtin DESC, name COLLATE NOCASE').all(vaultId) as PolicyRow[];
    return rows.map((r) => this.toPolicy(r));
  }

  showPolicy(vaultName: string, name: string): Policy & { vms: Vm[] } {
    const row = this.policyRow(vaultName, name);
    const ids = new Set((this.db.prepare('SELECT id FROM vms WHERE policy_id = ?').all(row.id) as { id: string }[]).map((r) => r.id));
    return { ...this.toPolicy(row), vms: this.inventory.allVms().filter((v) => ids.has(v.id)) };
  }

  createPolicy(vaultName: string, name: string, spec: PolicySpec): Policy {
    const vaultId = this.vaults.idOf(vaultName);
    if (this.db.prepare('SELECT 1 FROM policies WHERE vault_id = ? AND name = ?').get(vaultId, name)) {
      throw new CofferError('PolicyNameTaken', `The vault already has a policy named "${name}".`, { field: 'name' });
    }
    this.checkPointLimit(spec);
    const id = randomUUID();
    this.db
      .prepare('INSERT INTO policies (id, vault_id, name, builtin, spec, created_at) VALUES (?, ?, ?, 0, ?, ?)')
      .run(id, vaultId, name, JSON.stringify(spec), new Date().toISOString());
    this.changed();
    return this.toPolicy(this.policyRow(vaultName, name));
  }

  /** Applies at once to every VM of the policy: a shorter retention prunes at the next cleanup. */
  editPolicy(vaultName: string, name: string, spec: PolicySpec): Policy {
    const row = this.policyRow(vaultName, name);
    this.checkPointLimit(spec);
    this.db.prepare('UPDATE policies SET spec = ? WHERE id = ?').run(JSON.stringify(spec), row.id);
    this.changed();
    return this.toPolicy(this.policyRow(vaultName, name));
  }

  deletePolicy(vaultName: string, name: string): { name: string } {
    const row = this.policyRow(vaultName, name);
    if (row.builtin) throw new CofferError('PolicyBuiltIn', `${row.name} is the vault's built-in policy and cannot be deleted.`);
    const users = this.db.prepare('SELECT name FROM vms WHERE policy_id = ? ORDER BY name').all(row.id) as { name: string }[];
    if (users.length) {
      throw new CofferError('PolicyInUse', `The policy ${row.name} protects ${users.map((u) => u.name).join(', ')}.`, { vms: users.map((u) => u.name) });
    }
    this.db.prepare('DELETE FROM policies WHERE id = ?').run(row.id);
    this.changed();
    return { name: row.name };
  }

  // ---- protect, stop, resume, change policy (W9, W12..W14, W22) ----

  protect(vaultName: string, refs: string[], choice: { policy?: string | undefined; newPolicy?: { name: string; spec: PolicySpec } | undefined }): Job[] {
    const vaultId = this.vaults.idOf(vaultName);
    const registered = this.inventory.allVms().filter((v) => v.vaultName?.toLowerCase() === vaultName.toLowerCase());
    const vms = refs.map((r) => this.inventory.resolve(r, registered));
    for (const vm of vms) {
      if (vm.registrationState !== 'Registered') throw new CofferError('VmNotRegistered', `The VM ${label(vm)} is not registered yet.`);
      if (vm.protectionState && ACTIVE.has(vm.protectionState)) {
        throw new CofferError('VmAlreadyProtected', `The VM ${label(vm)} is already protected; change its policy instead.`, { vm: vm.id });
      }
    }
    if (!choice.policy === !choice.newPolicy) {
      throw new CofferError('InvalidArgument', 'Choose an existing policy or define a new one (exactly one).');
    }
    // An existing policy is taken as it is: the wizard cannot alter its retention (W11).
    const policy = choice.newPolicy ? this.createPolicy(vaultName, choice.newPolicy.name, choice.newPolicy.spec) : this.toPolicy(this.policyRow(vaultName, choice.policy!));
    return vms.map((vm) =>
      this.jobs.start('ConfigureProtection', this.subject(vm, vaultId, vaultName), async () => {
        this.db
          .prepare("UPDATE vms SET policy_id = ?, protection_state = 'ProtectedPendingInitialBackup', protected_at = ?, last_attempt_at = NULL WHERE id = ?")
          .run(policy.id, new Date().toISOString(), vm.id);
        this.changed();
        return { summary: `${label(vm)} protected with ${policy.name}; pending initial backup.` };
      }),
    );
  }

  changePolicy(ref: string, policyName: string): Job {
    const vm = this.protectedVm(ref);
    const policy = this.policyRow(vm.vaultName!, policyName);
    return this.jobs.start('ConfigureProtection', this.subject(vm, policy.vault_id, vm.vaultName!), async () => {
      this.db.prepare('UPDATE vms SET policy_id = ? WHERE id = ?').run(policy.id, vm.id);
      this.changed();
      return { summary: `${label(vm)} now uses ${policy.name}.` };
    });
  }

  /** Stop protection keeping the points, or deleting them (the VM's name typed back confirms). */
  stopProtection(ref: string, deleteData: boolean, confirmName?: string): Job {
    const vm = this.inventory.resolve(ref, this.inventory.allVms().filter((v) => v.protectionState));
    if (!vm.vaultName) throw new CofferError('VmNotProtected', `The VM ${label(vm)} is not protected.`);
    const vaultId = this.vaults.idOf(vm.vaultName);
    if (!deleteData) {
      if (!vm.protectionState || !ACTIVE.has(vm.protectionState)) throw new CofferError('VmNotProtected', `Protection of ${label(vm)} is already stopped.`);
      return this.jobs.start('StopProtection', this.subject(vm, vaultId, vm.vaultName), async () => {
        this.db.prepare("UPDATE vms SET protection_state = 'ProtectionStopped' WHERE id = ?").run(vm.id);
        this.changed();
        return { summary: `Protection of ${label(vm)} stopped; its recovery points are kept.` };
      });
    }
    if (confirmName !== vm.name) {
      throw new CofferError('InvalidArgument', `To delete the backup data of ${label(vm)}, type its name "${vm.name}" to confirm.`, { field: 'confirmName' });
    }
    this.assertNoActiveJob(vm);
    const vaultName = vm.vaultName;
    return this.jobs.start('DeleteBackupData', this.subject(vm, vaultId, vaultName), async () => {
      const vault = await this.vaults.openVault(vaultName);
      const ids = this.pointRows(vm.id).map((p) => p.id);
      await vault.prune(ids);
      this.db.transaction(() => {
        this.db.prepare('DELETE FROM points WHERE vault_id = ? AND vm_id = ?').run(vaultId, vm.id);
        this.db.prepare('UPDATE vms SET protection_state = NULL, policy_id = NULL, protected_at = NULL WHERE id = ?').run(vm.id);
      })();
      this.changed();
      return { summary: `Protection of ${label(vm)} removed and ${ids.length} recovery point(s) deleted.` };
    });
  }

  resumeProtection(ref: string): Job {
    const vm = this.inventory.resolve(ref, this.inventory.allVms().filter((v) => v.protectionState === 'ProtectionStopped'));
    const vaultId = this.vaults.idOf(vm.vaultName!);
    return this.jobs.start('ConfigureProtection', this.subject(vm, vaultId, vm.vaultName!), async () => {
      const hasPoints = this.pointRows(vm.id).length > 0;
      this.db.prepare('UPDATE vms SET protection_state = ? WHERE id = ?').run(hasPoints ? 'Protected' : 'ProtectedPendingInitialBackup', vm.id);
      this.changed();
      return { summary: `Protection of ${label(vm)} resumed.` };
    });
  }

  // ---- backup (W14..W17) ----

  /** Backup Now (retainUntil given or the policy's daily retention) or a scheduled run. */
  backup(ref: string, opts: { retainUntil?: string | undefined; scheduled?: boolean; catchUp?: boolean; now?: Date } = {}): Job {
    const vm = this.protectedVm(ref);
    this.assertNoActiveJob(vm);
    const vaultName = vm.vaultName!;
    const vaultId = this.vaults.idOf(vaultName);
    const policy = this.policyOf(vm.id);
    const manual = !opts.scheduled;
    const now = opts.now ?? new Date();
    if (opts.retainUntil && Date.parse(opts.retainUntil) <= now.getTime()) {
      throw new CofferError('InvalidArgument', 'retainUntil: must be in the future.', { field: 'retainUntil' });
    }
    const retainUntil = manual ? (opts.retainUntil ? new Date(opts.retainUntil) : defaultRetainUntil(policy.retention, now, this.timeZone)).toISOString() : null;
    if (this.pointRows(vm.id).length >= MAX_POINTS_PER_VM) {
      throw new CofferError('RecoveryPointLimitReached', `${label(vm)} already has ${MAX_POINTS_PER_VM} recovery points.`);
    }
    this.db.prepare('UPDATE vms SET last_attempt_at = ? WHERE id = ?').run(now.toISOString(), vm.id);
    return this.jobs.start('Backup', { ...this.subject(vm, vaultId, vaultName), catchUp: opts.catchUp ?? false }, async (ctx) => {
      try {
        const summary = await this.runBackup(ctx, vm, vaultName, vaultId, policy, retainUntil, manual);
        this.db.prepare("UPDATE vms SET protection_state = 'Protected', last_backup_at = ?, last_backup_status = 'Completed' WHERE id = ? AND protection_state IS NOT NULL").run(summary.created, vm.id);
        this.changed();
        this.applyRetention(vm.id);
        return {
          summary: `Recovery point ${summary.id}: ${summary.disks.length} disk(s), ${fmt(summary.logicalBytes)} read, ${fmt(summary.addedBytes)} added.`,
          details: { pointId: summary.id, logicalBytes: summary.logicalBytes, addedBytes: summary.addedBytes, consistency: summary.consistency },
        };
      } catch (e) {
        if (!(e instanceof CofferError && e.code === 'OperationCancelled') && !ctx.signal.aborted) {
          this.db.prepare("UPDATE vms SET protection_state = 'ProtectionError', last_backup_status = 'Failed' WHERE id = ? AND protection_state IN ('Protected', 'ProtectedPendingInitialBackup', 'ProtectionError')").run(vm.id);
          this.changed();
        }
        throw e;
      }
    });
  }

  private async runBackup(ctx: JobContext, vm: Vm, vaultName: string, vaultId: string, policy: Policy, retainUntil: string | null, manual: boolean) {
    const vault = await this.vaults.openVault(vaultName);
    const definition = vm.definitionPath ? readDefinition(vm.definitionPath) : undefined;
    const files = diskFiles(vm);
    const missing = files.filter((f) => !fs.existsSync(f.path));
    if (missing.length) {
      throw new CofferError('DiskUnreadable', `Disk file(s) of ${label(vm)} not found: ${missing.map((m) => m.path).join(', ')}.`, { missing: missing.map((m) => m.path) });
    }
    const run = (disks: { name: string; path: string }[], consistency: 'application' | 'filesystem' | 'crash' | 'offline') =>
      vault.backup({
        vmName: vm.name,
        vmId: vm.id,
        ...(definition ? { definition } : {}),
        disks,
        consistency,
        retainUntil,
        policy: policy.name,
        signal: ctx.signal,
        onProgress: (p) => ctx.progress({ bytesDone: p.bytesDone, bytesTotal: p.bytesTotal, bytesPerSecond: p.bytesPerSecond }),
      });
    const source = this.inventory.listSources().find((s) => s.name === vm.sourceName);
    let summary;
    if (vm.kind === 'libvirt' && source?.kind === 'libvirt') {
      const domain = vm.name;
      const snap = await withConsistentSnapshot(source.target, domain, async (frozen) => {
        const byPath = new Map(files.map((f) => [f.path, f.name]));
        return run(frozen.map((d) => ({ name: byPath.get(d.path) ?? safeName(d.name), path: d.path })), 'crash');
      });
      summary = snap.value;
      for (const w of snap.warnings) ctx.warn(w.code, w.message);
    } else {
      summary = await run(files, 'offline');
    }
    this.db
      .prepare(
        `INSERT INTO points (vault_id, id, vm_id, vm_name, created_at, consistency, retain_until, manual, logical_bytes, added_bytes, disks)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(vaultId, summary.id, vm.id, vm.name, summary.created, summary.consistency, summary.retainUntil, manual ? 1 : 0, summary.logicalBytes, summary.addedBytes, JSON.stringify(summary.disks));
    return summary;
  }

  /** Deletes, in a Prune job, the points of a VM its policy no longer keeps (after each backup). */
  applyRetention(vmId: string, now = new Date()): Job | null {
    const row = this.db.prepare('SELECT vault_id FROM vms WHERE id = ?').get(vmId) as { vault_id: string | null } | undefined;
    if (!row?.vault_id) return null;
    const policy = this.policyOf(vmId);
    const decisions = this.decisions(vmId, policy, now);
    const doomed = decisions.filter((d) => !d.keep).map((d) => d.id);
    if (doomed.length === 0) return null;
    const vm = this.inventory.allVms().find((v) => v.id === vmId)!;
    const vaultName = vm.vaultName!;
    return this.jobs.start('Prune', this.subject(vm, row.vault_id, vaultName), async () => {
      const vault = await this.vaults.openVault(vaultName);
      const report = await vault.prune(doomed);
      const del = this.db.prepare('DELETE FROM points WHERE vault_id = ? AND id = ?');
      this.db.transaction(() => doomed.forEach((id) => del.run(row.vault_id, id)))();
      this.changed();
      return { summary: `${doomed.length} recovery point(s) of ${label(vm)} past retention deleted.`, details: { deleted: doomed, gc: { ...report } } };
    });
  }

  listPoints(ref: string): RecoveryPoint[] {
    const vm = this.registeredVm(ref);
    const rows = this.pointRows(vm.id);
    let reasons = new Map<string, RetentionReason[]>();
    if (vm.protectionState) {
      reasons = new Map(this.decisions(vm.id, this.policyOf(vm.id), new Date()).map((d) => [d.id, d.reasons]));
    }
    return rows
      .map((r) => ({
        id: r.id,
        vmName: r.vm_name,
        created: r.created_at,
        consistency: r.consistency,
        retainUntil: r.retain_until,
        manual: r.manual === 1,
        logicalBytes: r.logical_bytes,
        addedBytes: r.added_bytes,
        disks: JSON.parse(r.disks) as RecoveryPoint['disks'],
        keptBy: reasons.get(r.id) ?? [],
      }))
      .reverse();
  }

  // ---- restore (W23) and verify ----

  restore(ref: string, pointId: string, how: RestoreHow): Job {
    const vm = this.registeredVm(ref);
    const point = this.pointRows(vm.id).find((p) => p.id === pointId);
    if (!point) throw new CofferError('RecoveryPointNotFound', `${label(vm)} has no recovery point ${pointId}.`);
    if (how.mode === 'replaceDisks') return this.replaceDisks(vm, pointId);
    const target = path.resolve(how.targetDir!);
    // Never overwrite: the target must be empty or absent.
    if (fs.existsSync(target) && fs.readdirSync(target).length > 0) {
      throw new CofferError('RestoreTargetNotEmpty', `The folder ${target} is not empty.`, { field: 'targetDir' });
    }
    const vaultName = vm.vaultName!;
    const vaultId = this.vaults.idOf(vaultName);
    return this.jobs.start('Restore', this.subject(vm, vaultId, vaultName), async (ctx) => {
      const vault = await this.vaults.openVault(vaultName);
      const result = await vault.restore(pointId, target, {
        signal: ctx.signal,
        onProgress: (p) => ctx.progress({ bytesDone: p.bytesDone, bytesTotal: p.bytesTotal, bytesPerSecond: p.bytesPerSecond }),
      });
      let defined = '';
      if (how.mode === 'newVm') {
        const definition = await this.renameRestoredVm(vault, pointId, target, how.newName!);
        if (how.defineOn) {
          if (!definition?.endsWith('.xml')) throw new CofferError('InvalidArgument', 'defineOn: the point has no libvirt definition to define.');
          try {
            await virsh(how.defineOn, ['define', definition]);
          } catch (e) {
            throw new CofferError('DefineFailed', `Restored to ${target}, but ${how.defineOn} refused the definition: ${(e as Error).message}`, { target });
          }
          defined = ` and defined as ${how.newName} on ${how.defineOn}`;
        }
      }
      return { summary: `Restored ${label(vm)} point ${pointId} to ${target}${defined}.`, details: { ...result, target } };
    });
  }

  /**
   * Restores over the VM's own disk files, only when asked explicitly and only while the VM is
   * off. The restored files land beside the originals first (same filesystem), then each original
   * is renamed to a safety copy and the restored file takes its name: nothing is lost either way.
   */
  private replaceDisks(vm: Vm, pointId: string): Job {
    if (vm.powerState === 'running' || vm.powerState === 'paused') {
      throw new CofferError('VmRunning', `${label(vm)} is ${vm.powerState}; shut it down before replacing its disks.`);
    }
    const files = diskFiles(vm);
    if (files.length === 0) throw new CofferError('DiskUnreadable', `${label(vm)} has no disk files to replace.`);
    this.assertNoActiveJob(vm);
    const vaultName = vm.vaultName!;
    const vaultId = this.vaults.idOf(vaultName);
    return this.jobs.start('Restore', this.subject(vm, vaultId, vaultName), async (ctx) => {
      const vault = await this.vaults.openVault(vaultName);
      const staging = path.join(path.dirname(files[0]!.path), `.coffer-restore-${pointId}`);
      try {
        await vault.restore(pointId, staging, {
          signal: ctx.signal,
          onProgress: (p) => ctx.progress({ bytesDone: p.bytesDone, bytesTotal: p.bytesTotal, bytesPerSecond: p.bytesPerSecond }),
        });
        const stamp = new Date().toISOString().replace(/[:.]/g, '-');
        const safety: string[] = [];
        for (const f of files) {
          const restored = path.join(staging, f.name);
          if (!fs.existsSync(restored)) continue;
          if (fs.existsSync(f.path)) {
            const copy = `${f.path}.coffer-safety-${stamp}`;
            fs.renameSync(f.path, copy);
            safety.push(copy);
          }
          fs.renameSync(restored, f.path);
        }
        return { summary: `Replaced the disks of ${label(vm)} with point ${pointId}; the previous files are kept as ${safety.map((s) => path.basename(s)).join(', ')}.`, details: { safetyCopies: safety } };
      } finally {
        fs.rmSync(staging, { recursive: true, force: true });
      }
    });
  }

  verify(vaultName: string, full: boolean): Job {
    const vaultId = this.vaults.idOf(vaultName);
    return this.jobs.start('Verify', { vaultId, vaultName }, async (ctx) => {
      const vault = await this.vaults.openVault(vaultName);
      const report = await vault.verify({ full, onProgress: (p) => ctx.progress({ bytesDone: p.bytesDone, bytesTotal: p.bytesTotal }) });
      if (!report.ok) {
        throw new CofferError(
          'ChunkCorrupt',
          `${report.damaged.length} recovery point(s) of ${report.damagedVms.join(', ') || 'no VM'} are damaged: ${report.missingChunks} chunk(s) missing, ${report.corruptChunks} corrupt.`,
          { damaged: report.damaged, damagedVms: report.damagedVms, unreadableIndexes: report.unreadableIndexes },
        );
      }
      return {
        summary: `${full ? 'Full' : 'Quick'} verify: all ${report.pointsChecked} recovery point(s) intact (${report.chunksChecked} chunks checked).`,
        details: { ...report },
      };
    });
  }

  // ---- helpers ----

  /** Gives the restored definition its new name, UUID and disk paths; returns its path. */
  private async renameRestoredVm(vault: Vault, pointId: string, target: string, newName: string): Promise<string | undefined> {
    const manifest = await vault.readManifest(pointId);
    const defName = manifest.definition?.fileName;
    if (!defName) return undefined;
    const file = path.join(target, defName);
    const text = fs.readFileSync(file, 'utf8');
    fs.writeFileSync(file, rewriteDefinition(defName, text, newName, target));
    return file;
  }

  private decisions(vmId: string, policy: Policy, now: Date) {
    const points = this.pointRows(vmId).map((p) => ({
      id: p.id,
      createdAt: new Date(p.created_at),
      retainUntil: p.retain_until ? new Date(p.retain_until) : null,
      manual: p.manual === 1,
    }));
    return retentionDecisions(PolicySpec.parse({ schedule: policy.schedule, retention: policy.retention }).retention, points, now, this.timeZone);
  }

  private pointRows(vmId: string): PointRow[] {
    return this.db.prepare('SELECT * FROM points WHERE vm_id = ? ORDER BY created_at, id').all(vmId) as PointRow[];
  }

  private policyOf(vmId: string): Policy {
    const row = this.db.prepare('SELECT policies.* FROM policies JOIN vms ON vms.policy_id = policies.id WHERE vms.id = ?').get(vmId) as PolicyRow | undefined;
    if (!row) throw new CofferError('VmNotProtected', 'The VM has no policy.');
    return this.toPolicy(row);
  }

  /** A VM registered to some vault, by id, name or cloudservice/name. */
  private registeredVm(ref: string): Vm {
    return this.inventory.resolve(ref, this.inventory.allVms().filter((v) => v.vaultName));
  }

  private protectedVm(ref: string): Vm {
    const vm = this.registeredVm(ref);
    if (!vm.protectionState || !ACTIVE.has(vm.protectionState)) {
      throw new CofferError('VmNotProtected', `The VM ${label(vm)} is not protected${vm.protectionState ? ` (${vm.protectionState})` : ''}.`);
    }
    return vm;
  }

  private assertNoActiveJob(vm: Vm): void {
    const active = this.jobs.activeForVm(vm.id).filter((j) => j.operation !== 'ConfigureProtection');
    if (active.length) {
      throw new CofferError('BackupAlreadyInProgress', `${label(vm)} already has job ${active[0]!.id} (${active[0]!.operation}) running.`, { jobId: active[0]!.id });
    }
  }

  private subject(vm: Vm, vaultId: string, vaultName: string) {
    return { vaultId, vaultName, vmId: vm.id, vmName: vm.name, cloudService: vm.cloudService };
  }

  private policyRow(vaultName: string, name: string): PolicyRow {
    const vaultId = this.vaults.idOf(vaultName);
    const row = this.db.prepare('SELECT * FROM policies WHERE vault_id = ? AND name = ?').get(vaultId, name) as PolicyRow | undefined;
    if (!row) throw new CofferError('PolicyNotFound', `The vault has no policy named "${name}".`, { name });
    return row;
  }

  private toPolicy(r: PolicyRow): Policy {
    const spec = JSON.parse(r.spec) as PolicySpec;
    const vmCount = (this.db.prepare('SELECT count(*) AS n FROM vms WHERE policy_id = ?').get(r.id) as { n: number }).n;
    return { id: r.id, name: r.name, builtin: r.builtin === 1, ...spec, description: describePolicy(spec), vmCount };
  }

  /** A policy that could hold more points per VM than the limit is refused up front. */
  private checkPointLimit(spec: PolicySpec): void {
    const most = maxPointsKept(spec);
    if (most > MAX_POINTS_PER_VM) {
      throw new CofferError(
        'RecoveryPointLimitReached',
        `This policy could keep up to ${most} recovery points per VM; the limit is ${MAX_POINTS_PER_VM}.`,
        { field: 'retention', most },
        'Shorten a retention tier or take fewer backups a day.',
      );
    }
  }

  private changed(): void {
    this.events.emit('protectionChanged', {});
  }
}

/** Every file of a VM, byte for byte: disks, backing chains and VMDK extents, under unique plain names. */
function diskFiles(vm: Vm): { name: string; path: string }[] {
  const used = new Set<string>();
  return vm.disks.map((d) => {
    let name = safeName(path.basename(d.path));
    for (let i = 2; used.has(name); i++) name = `${i}-${safeName(path.basename(d.path))}`;
    used.add(name);
    return { name, path: d.path };
  });
}

function safeName(s: string): string {
  const cleaned = s.replace(/[/\\\0]/g, '_');
  return cleaned === '.' || cleaned === '..' || cleaned === '' ? 'disk' : cleaned;
}

function readDefinition(p: string): { fileName: string; content: Buffer } | undefined {
  try {
    return { fileName: safeName(path.basename(p)), content: fs.readFileSync(p) };
  } catch (e) {
    throw new CofferError('DiskUnreadable', `The definition ${p} cannot be read: ${(e as Error).message}`);
  }
}

/**
 * A restored VM must not collide with the original: new name, new UUID, and disk paths pointing
 * at the restored files (libvirt XML and VMware .vmx; other formats keep their text).
 */
export function rewriteDefinition(fileName: string, text: string, newName: string, target: string): string {
  const uuid = randomUUID();
  if (/\.xml$/i.test(fileName) && /<domain[\s>]/.test(text)) {
    return text
      .replace(/<name>[^<]*<\/name>/, `<name>${escapeXml(newName)}</name>`)
      .replace(/<uuid>[^<]*<\/uuid>/, `<uuid>${uuid}</uuid>`)
      .replace(/(<source\s+file=)(['"])([^'"]*)\2/g, (_m, pre: string, q: string, file: string) => `${pre}${q}${escapeXml(path.join(target, path.basename(file)))}${q}`);
  }
  if (/\.vmx$/i.test(fileName)) {
    return text
      .replace(/^displayName\s*=.*$/m, `displayName = "${newName}"`)
      .replace(/^uuid\.bios\s*=.*$/m, `uuid.bios = "${uuid.replace(/-/g, '').replace(/(..)/g, '$1 ').trim()}"`);
  }
  return text;
}

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/'/g, '&apos;').replace(/"/g, '&quot;');
}

function fmt(n: number): string {
  return n >= 1 << 30 ? `${(n / (1 << 30)).toFixed(2)} GiB` : `${(n / (1 << 20)).toFixed(1)} MiB`;
}
