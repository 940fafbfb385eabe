import { Option, type Command } from 'commander';
import * as path from 'node:path';
import { CofferError } from '../../core/errors.js';
import { formatBytes } from '../../../preload/units.js';
import { printTable } from '../format.js';
import type { Cli } from '../io.js';
import { restoreFormats, type KeptUntil, type RestoreFormat } from '../../../preload/contract.js';

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

  const restore = program
    .command('restore <vm>')
    .description('restore a recovery point as a new VM, its disks into an empty folder, or over its own disks (W23); `restore test VM` boots it as a test')
    .requiredOption('--point <id>', 'the recovery point (see `coffer point list VM`)')
    .option('--as-new <name>', 'restore the whole VM under a new name (new UUID)')
    .option('--to <dir>', 'target folder for --as-new')
    .option('--define-on <uri>', 'with --as-new: also define the VM on this libvirt connection')
    .option('--disks-to <dir>', 'restore only the disks into this folder')
    .option('--replace-disks', "replace the VM's own disk files (VM off; the old files are kept as safety copies)")
    .addOption(new Option('--format <format>', 'write the disks in this format (qemu-img convert; default: as backed up, qcow2 for a VirtualBox/VMware/OVF VM with --define-on)').choices(restoreFormats))
    .option('--wait', 'wait for the job to end; exit 1 if it failed')
    .option('--passphrase-file <file>', 'passphrase of the vault if it is locked')
    .option('--json', 'print as JSON')
    .action(
      async (
        vm: string,
        o: { point: string; asNew?: string; to?: string; defineOn?: string; disksTo?: string; replaceDisks?: boolean; format?: RestoreFormat; wait?: boolean; passphraseFile?: string; json?: boolean },
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
        if (o.format && how.mode === 'replaceDisks') throw new CofferError('InvalidArgument', '--format: replaced disks keep the format the VM uses.');
        await unlock({ vms: [vm] }, o.passphraseFile);
        await finish([await call('restorePoint', { vm, pointId: o.point, ...how, ...(o.format ? { format: o.format } : {}) })], o);
      },
    );
  restore
    .command('test <vm>')
    .description('test restore: boot the point as a temporary VM (coffer-test-...) on an isolated network until it answers, then remove it with its disks')
    .requiredOption('--point <id>', 'the recovery point (see `coffer point list VM`)')
    .option('--uri <uri>', 'the local libvirt connection the test VM runs on', 'qemu:///system')
    .option('--timeout <seconds>', 'how long the VM has to answer after it starts', (v) => Number(v), 600)
    .option('--heartbeat <text>', 'text the guest prints on its serial console once it is up (without a guest agent channel)', 'login:')
    .option('--network <name>', 'an existing isolated libvirt network (no <forward>) instead of one made for the test')
    .option('--wait', 'wait for the job to end; exit 1 if it failed')
    .option('--passphrase-file <file>', 'passphrase of the vault if it is locked')
    .option('--json', 'print as JSON')
    .action(async (vm: string, o: { point: string; uri: string; timeout: number; heartbeat: string; network?: string; wait?: boolean; passphraseFile?: string; json?: boolean }) => {
      await unlock({ vms: [vm] }, o.passphraseFile);
      const job = await call('testRestore', { vm, pointId: o.point, uri: o.uri, timeoutSeconds: o.timeout, heartbeat: o.heartbeat, ...(o.network ? { network: o.network } : {}) });
      await finish([job], o);
    });

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
