import type { Command } from 'commander';
import * as path from 'node:path';
import { printVms, type Cli } from '../io.js';
import { printTable } from '../format.js';

export function sourceCommands(program: Command, cli: Cli): void {
  const { io, call, print } = cli;
  const source = program.command('source').description('places Coffer finds VMs in: folders and hypervisor connections');
  const addSource = source.command('add').description('add a source');
  for (const kind of ['folder', 'libvirt'] as const) {
    addSource
      .command(`${kind} <${kind === 'folder' ? 'path' : 'uri'}>`)
      .description(kind === 'folder' ? 'a folder tree of VM definitions and disk images' : 'a libvirt connection (virsh -c URI)')
      .requiredOption('--region <region>', 'the region label of the VMs found here')
      .option('--name <name>', 'a name for the source')
      .option('--cloud-service <label>', 'group label for its VMs (libvirt: default the URI host)')
      .option('--json', 'print as JSON')
      .action(async (target: string, o: { region: string; name?: string; cloudService?: string; json?: boolean }) => {
        const s = await call('addSource', {
          kind,
          target: kind === 'folder' ? path.resolve(target) : target,
          region: o.region,
          ...(o.name ? { name: o.name } : {}),
          ...(o.cloudService ? { cloudServiceLabel: o.cloudService } : {}),
        });
        print(s, o.json, () => io.out(`Source ${s.name} added (${s.kind} ${s.target}, region ${s.region}): ${s.state}${s.message ? ` - ${s.message}` : ''}\n`));
      });
  }
  for (const kind of ['virtualbox', 'vmware', 'hyperv'] as const) {
    addSource
      .command(kind)
      .description(`the ${kind} VMs of this machine (needs its command-line tool)`)
      .requiredOption('--region <region>', 'the region label of the VMs found here')
      .option('--name <name>', 'a name for the source')
      .option('--json', 'print as JSON')
      .action(async (o: { region: string; name?: string; json?: boolean }) => {
        const s = await call('addSource', { kind, target: '', region: o.region, ...(o.name ? { name: o.name } : {}) });
        print(s, o.json, () => io.out(`Source ${s.name} added (region ${s.region}): ${s.state}${s.message ? ` - ${s.message}` : ''}\n`));
      });
  }
  source
    .command('list')
    .option('--json', 'print as JSON')
    .action(async (o: { json?: boolean }) => {
      const list = await call('listSources', {});
      print(list, o.json, () =>
        printTable(
          io.out,
          ['NAME', 'KIND', 'TARGET', 'REGION', 'STATE', 'VMS', 'LAST SCAN'],
          list.map((s) => [s.name, s.kind, s.target, s.region, s.state, String(s.vmCount), s.lastScanAt ?? 'never']),
        ),
      );
    });
  source
    .command('show <name>')
    .option('--json', 'print as JSON')
    .action(async (name: string, o: { json?: boolean }) => {
      const s = await call('showSource', { name });
      print(s, o.json, () => {
        io.out(`${s.name}: ${s.kind} ${s.target}, region ${s.region}, ${s.state}${s.message ? ` (${s.message})` : ''}\n`);
        printVms(io.out, s.vms);
      });
    });
  source
    .command('edit <name>')
    .option('--rename <newName>', 'a new name')
    .option('--region <region>', 'a new region label (refused while VMs of the source are registered)')
    .option('--cloud-service <label>', 'a new group label')
    .option('--json', 'print as JSON')
    .action(async (name: string, o: { rename?: string; region?: string; cloudService?: string; json?: boolean }) => {
      const s = await call('editSource', {
        name,
        ...(o.rename ? { newName: o.rename } : {}),
        ...(o.region ? { region: o.region } : {}),
        ...(o.cloudService ? { cloudServiceLabel: o.cloudService } : {}),
      });
      print(s, o.json, () => io.out(`Source ${s.name} updated.\n`));
    });
  source.command('remove <name>').action(async (name: string) => {
    const r = await call('removeSource', { name });
    io.out(`Source ${r.name} removed (${r.forgottenVms} discovered VM(s) forgotten).\n`);
  });
}
