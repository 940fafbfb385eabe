import { isActiveProtection, type Dashboard, type DeferReason, type JobStatus, type Policy, type ProtectionState } from '../../preload/contract.js';
import type { Db } from './catalog/catalog.js';
import { nextRun } from './policy/schedule.js';
import type { VaultService } from './vaults.js';
import { parseStoredLocation } from './vault/stores.js';

const DAY = 86_400_000;

/**
 * The dashboard (W18) as one read of the catalog: protected VMs by state, the last 24 hours of
 * the job log, storage per vault from the recovery point cache, last and next backup per VM.
 */
export function dashboardData(
  db: Db,
  vaults: VaultService,
  timeZone: string,
  now = new Date(),
  /** Why a scheduled backup into a vault (remote: object storage) waits now (power.ts); none by default. */
  defer: (vaultRemote: boolean) => DeferReason | null = () => null,
): Dashboard {
  const vms = db
    .prepare(
      `SELECT vms.id, vms.name, vms.cloud_service, vms.protection_state, vms.last_backup_at, vms.last_backup_status,
              vaults.name AS vault_name, vaults.location AS vault_location, policies.name AS policy_name, policies.spec AS policy_spec
       FROM vms JOIN vaults ON vaults.id = vms.vault_id LEFT JOIN policies ON policies.id = vms.policy_id
       WHERE vms.protection_state IS NOT NULL ORDER BY vms.name`,
    )
    .all() as {
    id: string;
    name: string;
    cloud_service: string;
    protection_state: ProtectionState;
    last_backup_at: string | null;
    last_backup_status: JobStatus | null;
    vault_name: string;
    vault_location: string;
    policy_name: string | null;
    policy_spec: string | null;
  }[];

  const protectedByState: Dashboard['protectedByState'] = {};
  for (const vm of vms) protectedByState[vm.protection_state] = (protectedByState[vm.protection_state] ?? 0) + 1;

  const since = new Date(now.getTime() - DAY).toISOString();
  const counts = db
    .prepare("SELECT status, count(*) AS n FROM jobs WHERE created_at >= ? OR status IN ('Queued', 'InProgress', 'Cancelling') GROUP BY status")
    .all(since) as { status: string; n: number }[];
  const count = (...statuses: string[]): number => counts.filter((c) => statuses.includes(c.status)).reduce((a, c) => a + c.n, 0);

  const storage = db
    .prepare('SELECT vault_id, count(*) AS points, sum(logical_bytes) AS logical, sum(added_bytes) AS added FROM points GROUP BY vault_id')
    .all() as { vault_id: string; points: number; logical: number; added: number }[];
  const byVault = new Map(storage.map((s) => [s.vault_id, s]));

  const fromDay = new Date(now.getTime() - 29 * DAY).toISOString().slice(0, 10);
  const volume = db
    .prepare(
      `SELECT substr(created_at, 1, 10) AS day, sum(logical_bytes) AS logical, sum(added_bytes) AS added
       FROM points WHERE created_at >= ? GROUP BY day ORDER BY day`,
    )
    .all(fromDay) as { day: string; logical: number; added: number }[];
  const volumeByDay = new Map(volume.map((v) => [v.day, v]));

  return {
    protectedByState,
    jobs24h: { completed: count('Completed'), warnings: count('CompletedWithWarnings'), failed: count('Failed'), inProgress: count('Queued', 'InProgress', 'Cancelling') },
    vaults: vaults.list().map((v) => {
      const s = byVault.get(v.id);
      const logical = s?.logical ?? 0;
      const added = s?.added ?? 0;
      return { name: v.name, region: v.region, unlocked: v.unlocked, pointCount: s?.points ?? 0, logicalBytes: logical, storedBytes: added, savedBytes: Math.max(0, logical - added) };
    }),
    vms: vms.map((vm) => {
      const spec = vm.policy_spec ? (JSON.parse(vm.policy_spec) as Pick<Policy, 'schedule'>) : null;
      const scheduled = spec !== null && isActiveProtection(vm.protection_state);
      return {
        id: vm.id,
        name: vm.name,
        cloudService: vm.cloud_service,
        vaultName: vm.vault_name,
        state: vm.protection_state,
        policy: vm.policy_name,
        lastBackupAt: vm.last_backup_at,
        lastBackupStatus: vm.last_backup_status,
        nextBackupAt: spec && isActiveProtection(vm.protection_state) ? nextRun(spec.schedule, now, timeZone).toISOString() : null,
        deferred: scheduled ? defer(parseStoredLocation(vm.vault_location).kind !== 'folder') : null,
      };
    }),
    // Every one of the last 30 days, zero where nothing was backed up, so a chart needs no gaps logic.
    backupVolumeByDay: Array.from({ length: 30 }, (_, i) => {
      const day = new Date(now.getTime() - (29 - i) * DAY).toISOString().slice(0, 10);
      const v = volumeByDay.get(day);
      return { day, logicalBytes: v?.logical ?? 0, addedBytes: v?.added ?? 0 };
    }),
  };
}
