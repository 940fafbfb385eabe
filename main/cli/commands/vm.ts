import type { Command } from 'commander';
import { vmLabel } from '../../../preload/contract.js';
import { confirmedYes } from '../confirm.js';
import { printVms, type Cli } from '../io.js';

export function vmCommands(program: Command, cli: Cli): void {
  const { io, call, print, waitFor } = cli;
  const vm = program.command('vm').description('discover, list, register and unregister virtual machines');
  vm.command('discover')
    .description('query every source and list the VMs the vault can register (W1..W3)')
    .requiredOption('--vault <vault>', 'the vault')
    .option('--json', 'print as JSON')
    .action(async (o: { vault: string; json?: boolean }) => {
      const job = await call('discoverVms', { vault: o.vault });
      await waitFor([job], o.json);
      const r = await call('discoveryResult', { vault: o.vault });
      print(r, o.json, () => {
        if (r.candidates.length) printVms(io.out, r.candidates);
        for (const e of r.excluded) io.out(`  not listed: ${vmLabel(e.vm)} (${e.reason}: ${e.detail})\n`);
      });
    });
  vm.command('list')
    .option('--vault <vault>', 'only VMs registered to this vault')
    .option('--json', 'print as JSON')
    .action(async (o: { vault?: string; json?: boolean }) => {
      const list = await call('listVms', o.vault ? { vault: o.vault } : {});
      print(list, o.json, () => printVms(io.out, list));
    });
  vm.command('register <vms...>')
    .description('register VMs with a vault: one Register job per VM (W4..W7)')
    .requiredOption('--vault <vault>', 'the vault')
    .option('--json', 'print as JSON')
    .action(async (vms: string[], o: { vault: string; json?: boolean }) => {
      const ended = await waitFor(await call('registerVms', { vault: o.vault, vms }), o.json);
      print(ended, o.json, () => undefined);
    });
  vm.command('unregister <vms...>')
    .description('unregister VMs from a vault (refused while protected); their recovery points stay in the vault')
    .requiredOption('--vault <vault>', 'the vault')
    .option('--yes', 'do not ask (asked in a terminal; required without one)')
    .option('--json', 'print as JSON')
    .action(async (vms: string[], o: { vault: string; yes?: boolean; json?: boolean }) => {
      const names = vms.join(', ');
      const sure = await confirmedYes(
        io,
        o.yes,
        `Unregister ${names} from vault ${o.vault}? Their recovery points stay in the vault: unregistering deletes none of them.`,
        `Unregistering ${names} from vault ${o.vault} needs a confirmation.`,
      );
      if (!sure) {
        io.out('Nothing unregistered.\n');
        return;
      }
      const ended = await waitFor(await call('unregisterVms', { vault: o.vault, vms }), o.json);
      print(ended, o.json, () => undefined);
    });
  vm.command('approve-disks <vm>')
    .description("approve the disk paths the last discovery found for a VM whose backup waits with DiskPathsChanged")
    .option('--json', 'print as JSON')
    .action(async (ref: string, o: { json?: boolean }) => {
      const r = await call('approveDiskPaths', { vm: ref });
      print(r, o.json, () => {
        io.out(`Disk paths of ${vmLabel(r)} approved; its next backup reads:\n`);
        for (const d of r.disks) io.out(`  ${d.path}\n`);
      });
    });
  vm.command('associate <item>')
    .description('join a Backup data only item (known from a connected vault) with the VM a source lists, so its protection can continue')
    .requiredOption('--with <vm>', 'the VM a source of this install lists (the same machine)')
    .option('--json', 'print as JSON')
    .action(async (item: string, o: { with: string; json?: boolean }) => {
      const v = await call('associateVm', { vm: item, with: o.with });
      print(v, o.json, () => printVms(io.out, [v]));
    });
}
