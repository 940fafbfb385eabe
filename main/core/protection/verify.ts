import type { Job } from '../../../preload/contract.js';
import { CofferError } from '../errors.js';
import type { ProtectionContext } from './context.js';

/** Verify a vault (quick: every chunk present; full: every chunk read and checked) as a Verify job. */
export function verifyVault(ctx: ProtectionContext, vaultName: string, full: boolean): Job {
  const vaultId = ctx.vaults.idOf(vaultName);
  return ctx.jobs.start('Verify', { vaultId, vaultName }, async (job) => {
    const vault = await ctx.vaults.openVault(vaultName);
    const report = await vault.verify({ full, onProgress: (p) => job.progress({ bytesDone: p.bytesDone, bytesTotal: p.bytesTotal }) });
    if (!report.ok) {
      throw new CofferError(
        'ChunkCorrupt',
        `${report.damaged.length} recovery point(s) of ${report.damagedVms.join(', ') || 'no VM'} are damaged: ${report.missingChunks} chunk(s) missing, ${report.corruptChunks} corrupt.`,
        { damaged: report.damaged, damagedVms: report.damagedVms, unreadableIndexes: report.unreadableIndexes },
      );
    }
    return {
      summary: { code: 'VerifyDone', params: { full, points: report.pointsChecked, chunks: report.chunksChecked } },
      details: { ...report },
    };
  });
}
