import { RetainUntilBasis, type Job, type KeptUntil, type Policy, type RecoveryPoint } from '../../../preload/contract.js';
import { label } from '../inventory.js';
import { keptUntil, retentionDecisions, type RetentionPoint, type RetentionReason } from '../policy/retention.js';
import { PolicySpec } from '../policy/spec.js';
import type { PointSummary } from '../vault/vault.js';
import { checkpointsOf, removePointCheckpoints } from './cbt-backup.js';
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
    const points = this.retentionPoints(vm.id);
    const retention = vm.protectionState ? this.retentionOf(vm.id) : null;
    if (retention) {
      reasons = new Map(retentionDecisions(retention, points, new Date(), this.ctx.timeZone).map((d) => [d.id, d.reasons]));
    }
    const kept = new Map(points.map((p) => [p.id, keptUntil(retention, p, this.ctx.timeZone)]));
    return rows
      .map((r) => {
        const k = kept.get(r.id);
        const until: KeptUntil | null = k ? { until: k.until.toISOString(), basis: k.basis } : null;
        return {
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
          keptUntil: until,
        };
      })
      .reverse();
  }

  /** Records a point the vault has just written, with where its retain-until came from. */
  record(vm: RegisteredVm, point: PointSummary, manual: boolean, retainBasis: RetainUntilBasis | null = null): void {
    this.ctx.db
      .prepare(
        `INSERT INTO points (vault_id, id, vm_id, vm_name, created_at, consistency, retain_until, manual, logical_bytes, added_bytes, disks, retain_basis)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (vault_id, id) DO UPDATE SET retain_basis = COALESCE(points.retain_basis, excluded.retain_basis)`,
      )
      .run(
        vm.vaultId,
        point.id,
        vm.id,
        vm.name,
        point.created,
        point.consistency,
        point.retainUntil,
        manual ? 1 : 0,
        point.logicalBytes,
        point.addedBytes,
        JSON.stringify(point.disks),
        retainBasis ? JSON.stringify(retainBasis) : null,
      );
  }

  /** Deletes, in a Prune job, the points of a VM its policy no longer keeps (after each backup). */
  applyRetention(vmId: string, now = new Date()): Job | null {
    const vm = this.ctx.registeredById(vmId);
    if (!vm) return null;
    const doomed = this.decisions(vmId, this.policies.ofVm(vmId), now)
      .filter((d) => !d.keep)
      .map((d) => d.id);
    if (doomed.length === 0) return null;
    // The hypervisor checkpoints of the doomed points (changed-block tracking) go with them.
    const checkpoints = checkpointsOf(this.ctx, vm, doomed);
    // Retention runs by itself after a backup: the engine's own job.
    return this.ctx.jobs.start('Prune', { ...this.ctx.subject(vm), trigger: 'system' }, async (job) => {
      const vault = await this.ctx.vaults.openVault(vm.vaultName);
      // Waits (cancellable) while another job or install holds the vault; the job says so meanwhile.
      const report = await vault.prune(doomed, { signal: job.signal, onWait: (_message, holder) => job.note({ code: 'WaitingForLock', params: holder }) });
      job.note(null);
      const del = this.ctx.db.prepare('DELETE FROM points WHERE vault_id = ? AND id = ?');
      this.ctx.db.transaction(() => doomed.forEach((id) => del.run(vm.vaultId, id)))();
      this.ctx.changed();
      await removePointCheckpoints(this.ctx, vm, checkpoints, job);
      return { summary: { code: 'PointsPruned', params: { vm: label(vm), points: doomed.length } }, details: { deleted: doomed, gc: { ...report } } };
    });
  }

  private retentionOf(vmId: string) {
    return retentionSpec(this.policies.ofVm(vmId));
  }

  private retentionPoints(vmId: string): RetentionPoint[] {
    return this.ctx.pointRows(vmId).map((p) => ({
      id: p.id,
      createdAt: new Date(p.created_at),
      retainUntil: p.retain_until ? new Date(p.retain_until) : null,
      manual: p.manual === 1,
      retainBasis: parseBasis(p.retain_basis),
    }));
  }

  private decisions(vmId: string, policy: Policy, now: Date) {
    return retentionDecisions(retentionSpec(policy), this.retentionPoints(vmId), now, this.ctx.timeZone);
  }
}

function retentionSpec(policy: Policy) {
  return PolicySpec.parse({ schedule: policy.schedule, retention: policy.retention }).retention;
}

/** The stored basis, or null when none was recorded or it does not read (never a throw on a listing). */
function parseBasis(json: string | null): RetainUntilBasis | null {
  if (!json) return null;
  try {
    const parsed = RetainUntilBasis.safeParse(JSON.parse(json));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}
