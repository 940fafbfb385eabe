// Bundled by test/bench/incremental-cbt.mjs into dist/bench-cbt.mjs: the vault engine, for the
// check restore of the incremental point (the backups themselves go through `coffer serve`).
export { Vault } from '../../main/core/vault/vault.js';
export { LocalFolderStore } from '../../main/core/vault/local-store.js';
