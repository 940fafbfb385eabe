import type { Job, Policy, RecoveryPoint } from '../../../preload/contract.js';
import { label } from '../inventory.js';
import { retentionDecisions, type RetentionReason } from '../policy/retention.js';
import { PolicySpec } from '../policy/spec.js';
import type { PointSummary } from '../vault/vault.js';
import type { ProtectionContext, RegisteredVm } from './context.js';
import type { PolicyService } from './policies.js';

/** The catalog's copy of each VM's recovery points, and retention: which of them the policy keeps (W17). */
export class PointService {
  constructor(
    private readonly ctx: ProtectionContext,
    private readonly policies: PolicyService,
  ) {}

  list(ref: string): RecoveryPoint[] {
    const vm = this.ctx.registeredVm(ref);
    const rows = this.ctx.pointRows(vm.id);
    let reasons = new Map<string, RetentionReason[]>();
    if (vm.protectionState) {
      reasons = new Map(this.decisions(vm.id, this.policies.ofVm(vm.id), new Date()).map((d) => [d.id, d.reasons]));
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

  /** Records a point the vault has just written. */
  record(vm: RegisteredVm, point: PointSummary, manual: boolean): void {
    this.ctx.db
      .prepare(
        `INSERT INTO points (vault_id, id, vm_id, vm_name, created_at, consistency, retain_until, manual, logical_bytes, added_bytes, disks)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (vault_id, id) DO NOTHING`,
      )
      .run(vm.vaultId, point.id, vm.id, vm.name, point.created, point.consistency, point.retainUntil, manual ? 1 : 0, point.logicalBytes, point.addedBytes, JSON.stringify(point.disks));
  }

  /** Deletes, in a Prune job, the points of a VM its policy no longer keeps (after each backup). */
  applyRetention(vmId: string, now = new Date()): Job | null {
    const vm = this.ctx.registeredById(vmId);
    if (!vm) return null;
    const doomed = this.decisions(vmId, this.policies.ofVm(vmId), now)
      .filter((d) => !d.keep)
      .map((d) => d.id);
    if (doomed.length === 0) return null;
    // Retention runs by itself after a backup: the engine's own job.
    return this.ctx.jobs.start('Prune', { ...this.ctx.subject(vm), trigger: 'system' }, async (job) => {
      const vault = await this.ctx.vaults.openVault(vm.vaultName);
      // Waits (cancellable) while another job or install holds the vault; the job says so meanwhile.
      const report = await vault.prune(doomed, { signal: job.signal, onWait: (_message, holder) => job.note({ code: 'WaitingForLock', params: holder }) });
      job.note(null);
      const del = this.ctx.db.prepare('DELETE FROM points WHERE vault_id = ? AND id = ?');
      this.ctx.db.transaction(() => doomed.forEach((id) => del.run(vm.vaultId, id)))();
      this.ctx.changed();
      return { summary: { code: 'PointsPruned', params: { vm: label(vm), points: doomed.length } }, details: { deleted: doomed, gc: { ...report } } };
    });
  }

  private decisions(vmId: string, policy: Policy, now: Date) {
    const points = this.ctx.pointRows(vmId).map((p) => ({
      id: p.id,
      createdAt: new Date(p.created_at),
      retainUntil: p.retain_until ? new Date(p.retain_until) : null,
      manual: p.manual === 1,
    }));
    return retentionDecisions(PolicySpec.parse({ schedule: policy.schedule, retention: policy.retention }).retention, points, now, this.ctx.timeZone);
  }
}
