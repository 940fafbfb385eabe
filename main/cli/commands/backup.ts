import type { Command } from 'commander';
import * as path from 'node:path';
import { CofferError } from '../../core/errors.js';
import { formatBytes } from '../../../preload/units.js';
import { printTable } from '../format.js';
import type { Cli } from '../io.js';
import type { KeptUntil } from '../../../preload/contract.js';

/** "2026-12-31T21:00:00.000Z (Backup Now default: 30 days)": the core's kept-until instant and its basis. */
export function keptUntilText(kept: KeptUntil | null): string {
  if (!kept) return '';
  const b = kept.basis;
  const why =
    b.kind === 'chosen'
      ? ' (date given at Backup Now)'
      : b.kind === 'default'
        ? b.from === 'daily'
          ? ` (Backup Now default: the policy's daily retention, ${b.days} days)`
          : ` (Backup Now default: ${b.days} days, the policy has no daily tier)`
        : '';
  return `${kept.until}${why}`;
}

export function backupCommands(program: Command, cli: Cli): void {
  const { io, call, print, unlock, finish } = cli;
  const backup = program.command('backup').description('back up protected VMs');
  backup
    .command('now <vms...>')
    .description('start a Backup job per VM at once (W15)')
    .option('--retain-until <date>', 'keep this point until the end of local day DATE (YYYY-MM-DD) or an ISO date-time (default: the policy daily retention)')
    .option('--full-read', 'read every disk in full, even those unchanged since their last point')
    .option('--wait', 'wait for the jobs to end; exit 1 if one failed')
    .option('--passphrase-file <file>', 'passphrase of the vault if it is locked')
    .option('--json', 'print as JSON')
    .action(async (vms: string[], o: { retainUntil?: string; fullRead?: boolean; wait?: boolean; passphraseFile?: string; json?: boolean }) => {
      await unlock({ vms }, o.passphraseFile);
      // A plain DATE is sent as it is: the core resolves it to the end of that local day, as for the console.
      const jobs = await call('backupNow', { vms, ...(o.retainUntil !== undefined ? { retainUntil: o.retainUntil } : {}), ...(o.fullRead ? { fullRead: true } : {}) });
      await finish(jobs, o);
    });

  program
    .command('restore <vm>')
    .description('restore a recovery point as a new VM, its disks into an empty folder, or over its own disks (W23)')
    .requiredOption('--point <id>', 'the recovery point (see `coffer point list VM`)')
    .option('--as-new <name>', 'restore the whole VM under a new name (new UUID)')
    .option('--to <dir>', 'target folder for --as-new')
    .option('--define-on <uri>', 'with --as-new: also define the VM on this libvirt connection')
    .option('--disks-to <dir>', 'restore only the disks into this folder')
    .option('--replace-disks', "replace the VM's own disk files (VM off; the old files are kept as safety copies)")
    .option('--wait', 'wait for the job to end; exit 1 if it failed')
    .option('--passphrase-file <file>', 'passphrase of the vault if it is locked')
    .option('--json', 'print as JSON')
    .action(
      async (
        vm: string,
        o: { point: string; asNew?: string; to?: string; defineOn?: string; disksTo?: string; replaceDisks?: boolean; wait?: boolean; passphraseFile?: string; json?: boolean },
      ) => {
        const how =
          o.asNew !== undefined && o.to !== undefined && o.disksTo === undefined && !o.replaceDisks
            ? { mode: 'newVm' as const, targetDir: path.resolve(o.to), newName: o.asNew, ...(o.defineOn ? { defineOn: o.defineOn } : {}) }
            : o.disksTo !== undefined && o.asNew === undefined && !o.replaceDisks
              ? { mode: 'disks' as const, targetDir: path.resolve(o.disksTo) }
              : o.replaceDisks && o.asNew === undefined && o.disksTo === undefined
                ? { mode: 'replaceDisks' as const }
                : undefined;
        if (!how) throw new CofferError('InvalidArgument', 'Give one of: --as-new NAME --to DIR, --disks-to DIR, or --replace-disks.');
        await unlock({ vms: [vm] }, o.passphraseFile);
        await finish([await call('restorePoint', { vm, pointId: o.point, ...how })], o);
      },
    );

  program
    .command('verify <vault>')
    .description('check that every recovery point is readable (--full: read and authenticate every chunk)')
    .option('--full', 'read, decrypt and hash every chunk')
    .option('--wait', 'wait for the job to end; exit 1 if it failed')
    .option('--passphrase-file <file>', 'passphrase of the vault if it is locked')
    .option('--json', 'print as JSON')
    .action(async (vault: string, o: { full?: boolean; wait?: boolean; passphraseFile?: string; json?: boolean }) => {
      await unlock({ vaults: [vault] }, o.passphraseFile);
      await finish([await call('verifyVault', { vault, full: o.full ?? false })], o);
    });

  const point = program.command('point').description('recovery points');
  point
    .command('list <vm>')
    .option('--json', 'print as JSON')
    .action(async (vm: string, o: { json?: boolean }) => {
      const points = await call('listPoints', { vm });
      print(points, o.json, () =>
        printTable(
          io.out,
          ['ID', 'CREATED', 'CONSISTENCY', 'SIZE', 'ADDED', 'KEPT BY', 'KEPT UNTIL'],
          points.map((p) => [p.id, p.created, p.consistency, formatBytes(p.logicalBytes), formatBytes(p.addedBytes), p.keptBy.join(',') || 'nothing (pruned next)', keptUntilText(p.keptUntil)]),
        ),
      );
    });
}
