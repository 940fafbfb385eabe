// Bundled by test/bench/run.mjs into dist/bench-store.mjs: the engine on object storage and the emulators.
export { Vault } from '../../main/core/vault/vault.js';
export { openStore, parseStoredLocation, formatVaultLocation, describeStore } from '../../main/core/vault/stores.js';
export { startAzurite, startS3rver } from '../helpers/emulators.js';
