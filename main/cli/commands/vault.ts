import type { Command } from 'commander';
import * as path from 'node:path';
import type { Cli } from '../io.js';
import { formatBytes, printTable, unlocksAtStartText } from '../format.js';
import { readPassphrase } from '../passphrase.js';

/** The storage options of `vault create` and `vault connect`, as commander hands them over. */
interface StorageOptions {
  path?: string;
  azure?: string;
  s3?: string;
  endpoint?: string;
  s3Region?: string;
  credentialsFile?: string;
}

const STORAGE_HELP = `
Storage (exactly one of --path, --azure, --s3):
  --path /srv/vaults/ams
  --azure https://ACCOUNT.blob.core.windows.net/CONTAINER[/PREFIX]   (or an emulator: http://127.0.0.1:10000/devstoreaccount1/CONTAINER)
  --s3 s3://BUCKET[/PREFIX] [--endpoint https://minio.example:9000] [--s3-region eu-west-1]
Credentials for object storage come from the environment of Coffer (AZURE_STORAGE_CONNECTION_STRING,
or AZURE_STORAGE_ACCOUNT + AZURE_STORAGE_KEY, or AZURE_STORAGE_SAS_TOKEN; AWS_ACCESS_KEY_ID +
AWS_SECRET_ACCESS_KEY + AWS_REGION), or from --credentials-file FILE: JSON, chmod 600, e.g.
  {"azure": {"accountName": "...", "accountKey": "..."}}   or   {"s3": {"accessKeyId": "...", "secretAccessKey": "...", "region": "..."}}
Only the file's path is kept; scheduled backups read it (or the environment) again each time.
`;

function withStorageOptions(c: Command, pathHelp: string): Command {
  return c
    .option('--path <dir>', pathHelp)
    .option('--azure <url>', 'an Azure Blob container: https://ACCOUNT.blob.core.windows.net/CONTAINER[/PREFIX]')
    .option('--s3 <url>', 'an S3 bucket: s3://BUCKET[/PREFIX]')
    .option('--endpoint <url>', 'with --s3: the endpoint of an S3-compatible server (MinIO, Ceph, ...)')
    .option('--s3-region <region>', 'with --s3: the region of the bucket (else AWS_REGION)')
    .option('--credentials-file <file>', 'object storage: a JSON credentials file readable only by you (chmod 600)')
    .addHelpText('after', STORAGE_HELP);
}

/** The contract's storage fields from the options: paths made absolute, absent ones left out. */
function storageArgs(o: StorageOptions): { path?: string; azure?: string; s3?: string; endpoint?: string; s3Region?: string; credentialsFile?: string } {
  return {
    ...(o.path !== undefined ? { path: path.resolve(o.path) } : {}),
    ...(o.azure !== undefined ? { azure: o.azure } : {}),
    ...(o.s3 !== undefined ? { s3: o.s3 } : {}),
    ...(o.endpoint !== undefined ? { endpoint: o.endpoint } : {}),
    ...(o.s3Region !== undefined ? { s3Region: o.s3Region } : {}),
    ...(o.credentialsFile !== undefined ? { credentialsFile: path.resolve(o.credentialsFile) } : {}),
  };
}

export function vaultCommands(program: Command, cli: Cli): void {
  const { io, call, print } = cli;
  const vault = program.command('vault').description('create, connect, list, show, disconnect and delete vaults');

  withStorageOptions(
    vault
      .command('create <name>')
      .description('create a vault in an empty or new folder, Azure Blob container or S3 bucket (passphrase from COFFER_PASSPHRASE, --passphrase-file or a prompt)')
      .requiredOption('--region <region>', 'the region label of the vault (a site or host)'),
    'the storage folder: empty or absent',
  )
    .option('--passphrase-file <file>', 'read the passphrase from the first line of this file')
    .option('--weak-passphrase-ok', 'accept a weak passphrase (shorter than 12 characters or little variety): if it is lost or guessed, the backups are lost')
    .option('--json', 'print the result as JSON')
    .action(async (name: string, o: StorageOptions & { region: string; passphraseFile?: string; weakPassphraseOk?: boolean; json?: boolean }) => {
      const passphrase = await readPassphrase({ file: o.passphraseFile, confirm: true, io });
      const v = await call('createVault', { name, region: o.region, passphrase, ...storageArgs(o), ...(o.weakPassphraseOk ? { weakPassphraseOk: true } : {}) });
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
              ['NAME', 'REGION', 'LOCATION', 'REGISTERED', 'KEY', 'UNLOCKS AT START'],
              // The location as the catalog holds it: a path or a URL, never a key or token.
              list.map((v) => [v.name, v.region, v.location, String(v.registeredCount), v.unlocked ? 'unlocked' : 'locked', unlocksAtStartText(v.unlocksAtStart)]),
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
            `Storage:          ${v.storage.description}`,
            `Lock mode:        ${v.storage.lockMode}`,
            `Created:          ${v.created}`,
            `Format version:   ${v.formatVersion}${v.formatUpgradable ? ` (older than this Coffer writes: coffer vault upgrade ${v.name})` : ''}`,
            `Size used:        ${formatBytes(v.usedBytes)}`,
            `Recovery points:  ${v.pointCount}`,
            `Registered VMs:   ${v.registeredCount}`,
            `Policies:         ${v.policies.map((p) => p.name).join(', ')}`,
            `Unlocks at start: ${unlocksAtStartText(v.unlocksAtStart)}`,
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

  withStorageOptions(
    vault
      .command('connect <name>')
      .description(
        'connect an existing vault (made by another install, or before this machine was rebuilt) under a local name: reads its config, asks the passphrase, lists its policies and every recovery point',
      ),
    'the folder holding the vault',
  )
    .option('--passphrase-file <file>', 'read the passphrase from the first line of this file')
    .option('--json', 'print the result as JSON')
    .action(async (name: string, o: StorageOptions & { passphraseFile?: string; json?: boolean }) => {
      const passphrase = await readPassphrase({ file: o.passphraseFile, confirm: false, io, prompt: `Passphrase of the vault to connect as ${name}: ` });
      const v = await call('connectVault', { name, passphrase, ...storageArgs(o) });
      print(v, o.json, () => {
        const lines = [`Vault ${v.name} connected (region ${v.region}, ${v.location}): ${v.pointCount} recovery point(s).`];
        if (v.backupDataOnlyVms.length) lines.push(`Backup data only: ${v.backupDataOnlyVms.join(', ')} (restore them, or \`coffer vm associate ITEM --with VM\` once a source lists them).`);
        for (const p of v.pendingProtections) lines.push(`Pending protection: ${p.cloudService ? `${p.cloudService}/` : ''}${p.vmName} with ${p.policy}${p.backupDataOnly ? ' (associate it first)' : ''}.`);
        if (v.pendingProtections.length) lines.push(`Resume them with \`coffer protection confirm ${v.name}\`.`);
        io.out(`${lines.join('\n')}\n`);
      });
    });

  vault
    .command('disconnect <name>')
    .description("forget a vault in this console and keep its data: any install (this one too) can connect it again")
    .option('--json', 'print the result as JSON')
    .action(async (name: string, o: { json?: boolean }) => {
      const r = await call('disconnectVault', { name });
      print(r, o.json, () => io.out(`Vault ${r.name} disconnected; its data stays at ${r.location}.\n`));
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
    .description('unattended backups: unlock the vault from a key file readable only by this user (checked and tried first); --off stops it')
    .option('--key-file <file>', 'a file (mode 0600) holding the passphrase on its first line')
    .option('--off', 'stop unlocking the vault from its key file at start')
    .action(async (name: string, o: { keyFile?: string; off?: boolean }, cmd: Command) => {
      if ((o.keyFile === undefined) === (o.off !== true)) cmd.error('error: give either --key-file FILE or --off');
      if (o.keyFile === undefined) {
        await call('setVaultKeyFile', { name, keyFile: null });
        io.out(`Vault ${name} no longer unlocks from a key file at start.\n`);
        return;
      }
      await call('setVaultKeyFile', { name, keyFile: path.resolve(o.keyFile) });
      io.out(`Vault ${name} will be unlocked from ${path.resolve(o.keyFile)} for scheduled backups.\n`);
    });

  vault
    .command('upgrade <name>')
    .description('upgrade the vault to the newest format as an Upgrade job (exclusive lock; cancel or crash at any moment and run it again to finish)')
    .option('--wait', 'wait for the job to end; exit 1 if it failed')
    .option('--passphrase-file <file>', 'passphrase of the vault if it is locked')
    .option('--json', 'print as JSON')
    .action(async (name: string, o: { wait?: boolean; passphraseFile?: string; json?: boolean }) => {
      await cli.unlock({ vaults: [name] }, o.passphraseFile);
      await cli.finish([await call('upgradeVault', { vault: name })], o);
    });
}
