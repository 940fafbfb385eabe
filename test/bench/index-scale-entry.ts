// Bundled by test/bench/index-scale.mjs into dist/bench-index.mjs: what the index_scale case needs
// to write a synthetic vault (index objects without pack payload) and back up against it.
export { Vault } from '../../main/core/vault/vault.js';
export { LocalFolderStore } from '../../main/core/vault/local-store.js';
export { createVaultConfig, writeVaultConfig } from '../../main/core/vault/config.js';
export { seal } from '../../main/core/vault/crypto.js';
export { encodeIndex, indexKey, newPackId, DEFAULT_CHUNK_SIZE } from '../../main/core/vault/format.js';
export { indexAad } from '../../main/core/vault/packs.js';
export { ChunkDb } from '../../main/core/vault/chunk-db.js';
export { ChunkListWriter } from '../../main/core/vault/chunk-lists.js';
export { encodeManifest } from '../../main/core/vault/manifest.js';
export { newPointId, pointKey, packKey } from '../../main/core/vault/format.js';
