// How Coffer's Node bundles that start per command are built (dist/cli.mjs, and the benches'
// stand-ins for one CLI process in test/bench/run.mjs): one list, read by both.
//
// Pure-JavaScript dependencies (zod, commander, ws, croner, p-queue, yazl, fast-xml-parser) are
// bundled: resolving and compiling their ESM files one by one was a third of the CLI's start
// (`coffer vault list`, ten runs: 0.45 s and 0.56 CPU-s each with them external, 0.34 s and
// 0.37 CPU-s bundled). What stays in node_modules: native bindings and WebAssembly (loaded from
// their own folders) and the storage SDKs (loaded only for a vault on object storage, by
// `require`/`import()` at that moment).
export const BUNDLE_EXTERNAL = ['better-sqlite3', 'zstd-napi', 'lz4-napi', 'ext2fs', 'fatfs', '@aws-sdk/*', '@azure/*', 'electron'];

/** esbuild options for such a bundle (ESM); bundled CommonJS packages (ws, yazl) get a `require` for Node's built-ins and their optional peers. */
export const bundledNode = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  external: BUNDLE_EXTERNAL,
  banner: { js: "import { createRequire as __cofferRequire } from 'node:module'; const require = __cofferRequire(import.meta.url);" },
};
