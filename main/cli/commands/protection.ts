import type { Command } from 'commander';
import { CofferError } from '../../core/errors.js';
import { confirmation } from '../confirm.js';
import { printTable } from '../format.js';
import { printVms, type Cli } from '../io.js';

export function protectionCommands(program: Command, cli: Cli): void {
  const { io, call, print, waitFor, unlock } = cli;
  program
    .command('protect <vms...>')
    .description('protect registered VMs with a policy: one ConfigureProtection job per VM (W9..W13)')
    .requiredOption('--vault <vault>', 'the vault')
    .requiredOption('--policy <policy>', 'an existing policy of the vault')
    .option('--json', 'print as JSON')
    .action(async (vms: string[], o: { vault: string; policy: string; json?: boolean }) => {
      const ended = await waitFor(await call('protectVms', { vault: o.vault, vms, policy: o.policy }), o.json);
      print(ended, o.json, () => undefined);
    });

  const protection = program.command('protection').description('stop, resume or change the protection of a VM (W22)');
  protection
    .command('stop <vm>')
    .option('--keep-data', 'stop backups, keep the recovery points')
    .option('--delete-data', 'stop backups and delete every recovery point of the VM')
    .option('--confirm <name>', "the VM's name, required with --delete-data (asked in a terminal)")
    .option('--passphrase-file <file>', 'passphrase of the vault if it is locked')
    .action(async (vm: string, o: { keepData?: boolean; deleteData?: boolean; confirm?: string; passphraseFile?: string }) => {
      if (!o.keepData === !o.deleteData) throw new CofferError('InvalidArgument', 'Give exactly one of --keep-data or --delete-data.');
      let confirmName: string | undefined;
      if (o.deleteData) {
        // The typed-back name is the user's safeguard: never filled in for them. The core checks it.
        confirmName = await confirmation(io, {
          given: o.confirm,
          question: `This deletes every recovery point of ${vm}. Type the VM's name to confirm: `,
          refused: `Deleting the recovery points of ${vm} needs its name typed back.`,
          flag: "--confirm with the VM's name",
        });
        await unlock({ vms: [vm] }, o.passphraseFile);
      }
      await waitFor([await call('stopProtection', { vm, deleteData: o.deleteData ?? false, ...(confirmName !== undefined ? { confirmName } : {}) })]);
    });
  protection.command('resume <vm>').action(async (vm: string) => {
    await waitFor([await call('resumeProtection', { vm })]);
  });
  protection
    .command('change-policy <vm>')
    .requiredOption('--policy <policy>', 'the new policy')
    .action(async (vm: string, o: { policy: string }) => {
      await waitFor([await call('changePolicy', { vm, policy: o.policy })]);
    });
  protection
    .command('pending <vault>')
    .description('protections recorded in a connected vault that wait for your confirmation in this install')
    .option('--json', 'print as JSON')
    .action(async (vault: string, o: { json?: boolean }) => {
      const list = await call('listPendingProtections', { vault });
      print(list, o.json, () =>
        list.length === 0
          ? io.out(`No protections of ${vault} wait for confirmation.\n`)
          : printTable(
              io.out,
              ['VM', 'CLOUD SERVICE', 'POLICY', 'NOTE'],
              list.map((p) => [p.vmName, p.cloudService, p.policy, p.backupDataOnly ? 'Backup data only: associate it first' : '']),
            ),
      );
    });
  protection
    .command('confirm <vault> [vms...]')
    .description('resume the protections recorded in the vault (all pending ones, or the VMs named): scheduled backups run here again')
    .option('--json', 'print as JSON')
    .action(async (vault: string, vms: string[], o: { json?: boolean }) => {
      const done = await call('confirmProtections', { vault, ...(vms.length ? { vms } : {}) });
      print(done, o.json, () => (done.length ? printVms(io.out, done) : io.out('Nothing to confirm.\n')));
    });
}
