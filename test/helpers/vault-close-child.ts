// Child process of test/integration/vault/handle-close.test.ts: a Coffer process that opens a vault
// handle as the engine does (unlock, then openWithKeys: no pool started yet), runs two operations
// on it at once (each needs the handle's worker pool), closes it and then has nothing left to do:
// it must end by itself.
//   vault-close-child.ts VAULT_DIR PASSPHRASE DISK_A DISK_B
// Prints, after close, the resources still keeping the process alive (JSON), then returns.
import { readVaultConfig, unlockVaultConfig } from '../../main/core/vault/config.js';
import { LocalFolderStore } from '../../main/core/vault/local-store.js';
import { Vault } from '../../main/core/vault/vault.js';

const [vaultDir, passphrase, diskA, diskB] = process.argv.slice(2) as [string, string, string, string];
const store = new LocalFolderStore(vaultDir);
const v = await Vault.openWithKeys(store, await unlockVaultConfig(await readVaultConfig(store), passphrase));
await Promise.all([
  v.backup({ vmName: 'alpha', disks: [{ name: 'disk.img', path: diskA }] }),
  v.backup({ vmName: 'beta', disks: [{ name: 'disk.img', path: diskB }] }),
]);
await v.close();
process.stdout.write(`${JSON.stringify(process.getActiveResourcesInfo().filter((r) => r === 'MessagePort' || r === 'Worker'))}\n`);
