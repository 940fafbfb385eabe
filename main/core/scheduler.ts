import type { DeferReason, Job } from '../../preload/contract.js';
import type { Db } from './catalog/catalog.js';
import { isCofferError } from './errors.js';
import { dueBackups, type ScheduledVm } from './policy/schedule.js';
import type { PolicySpec } from './policy/spec.js';
import type { ProtectionService } from './protection/service.js';
import { parseStoredLocation } from './vault/stores.js';

/**
 * Starts scheduled backups. Which backups are due is a pure function of (policies, history, now)
 * (policy/schedule.ts); this class only reads the catalog, asks it, and starts jobs. After sleep or
 * downtime the latest missed slot runs once per VM, marked as a catch-up.
 */
export class Scheduler {
  constructor(
    private readonly db: Db,
    private readonly protection: ProtectionService,
    private readonly clock: () => Date = () => new Date(),
    /** Laptop-aware schedules (power.ts): why a backup into a vault (remote: object storage) waits now. */
    private readonly defer: (vaultRemote: boolean) => DeferReason | null = () => null,
  ) {}

  /** Starts every backup due at `now`; returns the jobs started. */
  tick(now: Date = this.clock()): Job[] {
    const rows = this.db
      .prepare(
        `SELECT vms.id, policies.spec, coalesce(vms.last_attempt_at, vms.protected_at) AS last, vaults.location
         FROM vms JOIN policies ON policies.id = vms.policy_id JOIN vaults ON vaults.id = vms.vault_id
         WHERE vms.protection_state IN ('ProtectedPendingInitialBackup', 'Protected', 'ProtectionError') AND vms.missing = 0`,
      )
      .all() as { id: string; spec: string; last: string | null; location: string }[];
    const remote = new Map(rows.map((r) => [r.id, parseStoredLocation(r.location).kind !== 'folder']));
    const scheduled: ScheduledVm[] = rows
      .filter((r) => r.last !== null)
      .map((r) => ({ vmId: r.id, schedule: (JSON.parse(r.spec) as PolicySpec).schedule, timeZone: this.protection.timeZone, lastAttemptAt: new Date(r.last!) }));
    const started: Job[] = [];
    for (const due of dueBackups(scheduled, now)) {
      // Deferred (on battery, metered): not attempted, so the latest missed slot runs once when it clears.
      if (this.defer(remote.get(due.vmId) ?? false) !== null) continue;
      const trigger = due.catchUp ? 'catchUp' : 'scheduled';
      // Each VM on its own: one that cannot start gets a Failed job and the others still run.
      try {
        started.push(this.protection.backup(due.vmId, { trigger, now }));
      } catch (e) {
        // A VM busy with another job keeps its slot for the next tick.
        if (isCofferError(e, 'BackupAlreadyInProgress')) continue;
        try {
          started.push(this.protection.failScheduledBackup(due.vmId, e, { trigger, now }));
        } catch (logError) {
          console.error(`coffer scheduler: backup of VM ${due.vmId} failed (${(e as Error).message}) and could not be logged: ${(logError as Error).message}`);
        }
      }
    }
    return started;
  }

  /** Ticks now and every `intervalMs`; returns the way to stop. */
  start(intervalMs = 30_000): () => void {
    const run = (): void => {
      try {
        this.tick();
      } catch (e) {
        console.error(`coffer scheduler: ${(e as Error).message}`);
      }
    };
    run();
    const timer = setInterval(run, intervalMs);
    timer.unref();
    return () => clearInterval(timer);
  }
}
