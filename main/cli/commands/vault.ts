import type { Command } from 'commander';
import * as path from 'node:path';
import type { Cli } from '../io.js';
import { formatBytes, printTable } from '../format.js';
import { readPassphrase } from '../passphrase.js';

export function vaultCommands(program: Command, cli: Cli): void {
  const { io, call, print } = cli;
  const vault = program.command('vault').description('create, list, show and delete vaults');

  vault
    .command('create <name>')
    .description('create a vault in an empty or new folder (passphrase from COFFER_PASSPHRASE, --passphrase-file or a prompt)')
    .requiredOption('--region <region>', 'the region label of the vault (a site or host)')
    .requiredOption('--path <dir>', 'the storage folder: empty or absent')
    .option('--passphrase-file <file>', 'read the passphrase from the first line of this file')
    .option('--json', 'print the result as JSON')
    .action(async (name: string, o: { region: string; path: string; passphraseFile?: string; json?: boolean }) => {
      const passphrase = await readPassphrase({ file: o.passphraseFile, confirm: true, io });
      const v = await call('createVault', { name, region: o.region, path: path.resolve(o.path), passphrase });
      print(v, o.json, () => io.out(`Vault ${v.name} created in region ${v.region} at ${v.location} (policy DefaultPolicy: daily, keep 30 days).\n`));
    });

  vault
    .command('list')
    .description('list the vaults of this console')
    .option('--json', 'print as JSON')
    .action(async (o: { json?: boolean }) => {
      const list = await call('listVaults', {});
      print(list, o.json, () =>
        list.length === 0
          ? io.out('No vaults yet. Create one with `coffer vault create NAME --region R --path DIR`.\n')
          : printTable(
              io.out,
              ['NAME', 'REGION', 'LOCATION', 'REGISTERED', 'KEY'],
              list.map((v) => [v.name, v.region, v.location, String(v.registeredCount), v.unlocked ? 'unlocked' : 'locked']),
            ),
      );
    });

  vault
    .command('show <name>')
    .description('show a vault: region, location, size used, recovery points, policies')
    .option('--json', 'print as JSON')
    .action(async (name: string, o: { json?: boolean }) => {
      const v = await call('showVault', { name });
      print(v, o.json, () => {
        io.out(
          [
            `Name:             ${v.name}`,
            `Region:           ${v.region}`,
            `Location:         ${v.location}`,
            `Created:          ${v.created}`,
            `Format version:   ${v.formatVersion}`,
            `Size used:        ${formatBytes(v.usedBytes)}`,
            `Recovery points:  ${v.pointCount}`,
            `Registered VMs:   ${v.registeredCount}`,
            `Policies:         ${v.policies.map((p) => p.name).join(', ')}`,
            '',
          ].join('\n'),
        );
      });
    });

  vault
    .command('delete <name>')
    .description('remove a vault from this console (refused while it has registered VMs)')
    .option('--delete-data', "also delete the vault's storage folder and every backup in it")
    .option('--json', 'print the result as JSON')
    .action(async (name: string, o: { deleteData?: boolean; json?: boolean }) => {
      const r = await call('deleteVault', { name, deleteData: o.deleteData ?? false });
      print(r, o.json, () =>
        io.out(
          r.dataDeleted
            ? `Vault ${r.name} deleted with its data at ${r.location}.\n`
            : `Vault ${r.name} removed from this console; its data stays at ${r.location}.\n`,
        ),
      );
    });

  vault
    .command('unlock <name>')
    .description('give this console (or the running host) the vault key')
    .option('--passphrase-file <file>', 'read the passphrase from this file')
    .action(async (name: string, o: { passphraseFile?: string }) => {
      const passphrase = await readPassphrase({ file: o.passphraseFile, confirm: false, io });
      await call('unlockVault', { name, passphrase });
      io.out(`Vault ${name} unlocked.\n`);
    });

  vault
    .command('remember <name>')
    .description('unattended backups: unlock the vault from a key file readable only by this user')
    .requiredOption('--key-file <file>', 'a file (mode 0600) holding the passphrase on its first line')
    .action(async (name: string, o: { keyFile: string }) => {
      await call('setVaultKeyFile', { name, keyFile: path.resolve(o.keyFile) });
      io.out(`Vault ${name} will be unlocked from ${path.resolve(o.keyFile)} for scheduled backups.\n`);
    });
}
