// Child process of test/integration/vault/chunk-db.test.ts: a second Coffer process on the same
// data folder (same cache folder, so the same chunks.db) backing up one disk.
//   chunk-db-child.ts VAULT_DIR CACHE_DIR PASSPHRASE VM DISK
// Prints {"newChunks":n,"id":pointId} and exits 0; any error ends it non-zero with the error on stderr.
import { LocalFolderStore } from '../../main/core/vault/local-store.js';
import { Vault } from '../../main/core/vault/vault.js';

const [vaultDir, cacheDir, passphrase, vmName, disk] = process.argv.slice(2) as [string, string, string, string, string];
const v = await Vault.open(new LocalFolderStore(vaultDir), passphrase, { cacheDir });
try {
  const p = await v.backup({ vmName, disks: [{ name: 'disk.img', path: disk }] });
  process.stdout.write(`${JSON.stringify({ newChunks: p.newChunks, id: p.id })}\n`);
} finally {
  await v.close();
}
