// Bundled by test/bench/incremental-cbt.mjs into dist/bench-cbt.mjs: the vault engine and the
// changed-block-tracking read of a running libvirt domain, as the Backup job uses them.
export { Vault } from '../../main/core/vault/vault.js';
export { LocalFolderStore } from '../../main/core/vault/local-store.js';
export { withChangedBlocks } from '../../main/core/sources/libvirt-cbt.js';
export { planCbtDisks } from '../../main/core/protection/cbt-backup.js';
