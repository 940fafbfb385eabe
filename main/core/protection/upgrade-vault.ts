import type { Job } from '../../../preload/contract.js';
import type { ProtectionContext } from './context.js';

/**
 * Upgrade a vault to the newest format (W25) as an UpgradeVault job: under the exclusive lock
 * (a backup or prune holding the vault is waited for, cancellable), with progress, and resumable:
 * a cancelled or killed upgrade is finished by starting it again (see vault/upgrade.ts).
 */
export function upgradeVault(ctx: ProtectionContext, vaultName: string): Job {
  const vaultId = ctx.vaults.idOf(vaultName);
  return ctx.jobs.start('UpgradeVault', { vaultId, vaultName }, async (job) => {
    const vault = await ctx.vaults.openVault(vaultName);
    try {
      const report = await vault.upgrade({
        signal: job.signal,
        onWait: (_message, holder) => job.note({ code: 'WaitingForLock', params: holder }),
        onProgress: (p) => {
          job.note(null);
          job.progress({ bytesDone: p.bytesDone, bytesTotal: p.bytesTotal });
        },
      });
      return {
        summary: { code: 'VaultUpgraded', params: { vault: vaultName, from: report.fromVersion, to: report.toVersion, converted: report.pointsConverted, points: report.points } },
        details: { ...report },
      };
    } finally {
      // The switch may have happened even when the job failed or was cancelled afterwards.
      ctx.vaults.recordFormatVersion(vaultName, vault.config.version);
    }
  });
}
