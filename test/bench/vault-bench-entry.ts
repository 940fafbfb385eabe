// Bundled by test/bench/run.mjs into .bench/engine.mjs (beside a copy of the worker) for the benchmark.
export { Vault, DEFAULT_CHUNK_SIZE } from '../../main/core/vault/vault.js';
export { LocalFolderStore } from '../../main/core/vault/local-store.js';
// The stage benchmark (test/bench/stages.mjs) times the workers' own per-chunk code and index.
export { ChunkCompressor, ChunkDecompressor, hashChunk, openChunk, sealInto } from '../../main/core/vault/chunk-codec.js';
export { ChunkIndex } from '../../main/core/vault/chunk-index.js';
export { ZSTD_LEVEL, PACK_TARGET_SIZE } from '../../main/core/vault/format.js';
