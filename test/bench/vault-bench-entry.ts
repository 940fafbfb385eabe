// Bundled by test/bench/run.mjs into .bench/engine.mjs (beside a copy of the worker) for the benchmark.
export { Vault, DEFAULT_CHUNK_SIZE } from '../../main/core/vault/vault.js';
export { LocalFolderStore } from '../../main/core/vault/local-store.js';
