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
      .option('--allow-root <dir>', 'folder sources: another folder its VMs may keep disks in (repeatable)', collect, [])
      .option('--allow-block-devices', 'folder sources: read disks that are block devices (inside an allowed root)')
      .option('--json', 'print as JSON')
      .action(async (target: string, o: { region: string; name?: string; cloudService?: string; allowRoot: string[]; allowBlockDevices?: boolean; json?: boolean }) => {
        const s = await call('addSource', {
          kind,
          target: kind === 'folder' ? path.resolve(target) : target,
          region: o.region,
          ...(o.name ? { name: o.name } : {}),
          ...(o.cloudService ? { cloudServiceLabel: o.cloudService } : {}),
          ...(kind === 'folder' ? { allowedRoots: o.allowRoot.map((d) => path.resolve(d)), allowBlockDevices: o.allowBlockDevices === true } : {}),
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
    .option('--allow-root <dir>', 'folder sources: the folders besides its own its VMs may keep disks in (repeatable; replaces the list)', collect)
    .option('--no-allow-roots', 'folder sources: no folder besides its own')
    .option('--allow-block-devices [yes|no]', 'folder sources: read disks that are block devices (inside an allowed root)')
    .option('--json', 'print as JSON')
    .action(async (name: string, o: { rename?: string; region?: string; cloudService?: string; allowRoot?: string[]; allowRoots?: boolean; allowBlockDevices?: boolean | string; json?: boolean }) => {
      const roots = o.allowRoots === false ? [] : o.allowRoot?.map((d) => path.resolve(d));
      const s = await call('editSource', {
        name,
        ...(o.rename ? { newName: o.rename } : {}),
        ...(o.region ? { region: o.region } : {}),
        ...(o.cloudService ? { cloudServiceLabel: o.cloudService } : {}),
        ...(roots !== undefined ? { allowedRoots: roots } : {}),
        ...(o.allowBlockDevices !== undefined ? { allowBlockDevices: o.allowBlockDevices !== 'no' } : {}),
      });
      print(s, o.json, () => io.out(`Source ${s.name} updated.\n`));
    });
  source.command('remove <name>').action(async (name: string) => {
    const r = await call('removeSource', { name });
    io.out(`Source ${r.name} removed (${r.forgottenVms} discovered VM(s) forgotten).\n`);
  });
}

/** commander's collector for a repeatable option. */
function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
