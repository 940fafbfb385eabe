import type { Command } from 'commander';
import { formatBytes } from '../../../preload/units.js';
import { deferReasonEnglish, vmLabel } from '../../../preload/contract.js';
import { printTable } from '../format.js';
import type { Cli } from '../io.js';

export function dashboardCommand(program: Command, cli: Cli): void {
  const { io, call, print } = cli;
  program
    .command('dashboard')
    .description('protected VMs, jobs of the last 24 hours, storage per vault, next backups (W18)')
    .option('--json', 'print as JSON')
    .action(async (o: { json?: boolean }) => {
      const d = await call('dashboard', {});
      print(d, o.json, () => {
        const states = Object.entries(d.protectedByState).map(([k, n]) => `${k} ${n}`).join(', ') || 'none';
        io.out(`Protected VMs: ${states}\n`);
        io.out(`Jobs (24 h): ${d.jobs24h.completed} completed, ${d.jobs24h.warnings} with warnings, ${d.jobs24h.failed} failed, ${d.jobs24h.inProgress} in progress\n`);
        for (const v of d.vaults) io.out(`Vault ${v.name}: ${v.pointCount} point(s), ${formatBytes(v.storedBytes)} stored, ${formatBytes(v.savedBytes)} saved by deduplication\n`);
        if (d.vms.length) {
          printTable(io.out, ['VM', 'VAULT', 'STATE', 'LAST BACKUP', 'NEXT BACKUP'], d.vms.map((v) => [vmLabel(v), v.vaultName, v.state, v.lastBackupAt ?? 'never', v.nextBackupAt ? `${v.nextBackupAt}${v.deferred ? ` (deferred: ${deferReasonEnglish[v.deferred]})` : ''}` : '']));
        }
      });
    });
}
