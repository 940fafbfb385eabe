// Builds every face into dist/ with esbuild (typechecking is `npm run typecheck`).
// dist/cli.mjs            the CLI and `coffer serve` (Node, ESM)
// dist/vault-worker.mjs   the hash/compress/encrypt worker of the vault engine
// dist/electron/          Electron main (main.mjs) and the sandboxed preload (preload.cjs)
// dist/renderer/          the console: index.html, app.js, web-bridge.js (browser only)
import * as esbuild from 'esbuild';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { bundledNode } from './bundle-options.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = path.join(root, 'dist');
const watch = process.argv.includes('--watch');
const at = (p) => path.join(root, p);

const node = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  packages: 'external',
  sourcemap: 'linked',
  logLevel: 'warning',
};

const builds = [
  {
    // Started for every `coffer` command: its pure-JavaScript dependencies are bundled (bundle-options.mjs).
    ...bundledNode,
    sourcemap: 'linked',
    logLevel: 'warning',
    entryPoints: { cli: at('main/cli/index.ts') },
    outdir: dist,
    outExtension: { '.js': '.mjs' },
  },
  {
    ...node,
    format: 'esm',
    entryPoints: { 'vault-worker': at('main/core/vault/worker.ts') },
    outdir: dist,
    outExtension: { '.js': '.mjs' },
  },
  {
    // ESM like the CLI: p-queue is ESM-only and the worker pool resolves its script by import.meta.url.
    ...node,
    format: 'esm',
    entryPoints: { main: at('main/electron/main.ts') },
    outdir: path.join(dist, 'electron'),
    outExtension: { '.js': '.mjs' },
    external: ['electron'],
  },
  {
    // Sandboxed preloads may require only 'electron': everything else is bundled in.
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    entryPoints: { preload: at('preload/electron.ts') },
    outdir: path.join(dist, 'electron'),
    outExtension: { '.js': '.cjs' },
    external: ['electron'],
    logLevel: 'warning',
  },
  {
    bundle: true,
    platform: 'browser',
    target: 'es2022',
    format: 'esm',
    jsx: 'automatic',
    entryPoints: { app: at('renderer/src/main.tsx') },
    outdir: path.join(dist, 'renderer'),
    minify: !watch,
    sourcemap: 'linked',
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'warning',
  },
  {
    bundle: true,
    platform: 'browser',
    target: 'es2022',
    format: 'iife',
    entryPoints: { 'web-bridge': at('preload/web.ts') },
    outdir: path.join(dist, 'renderer'),
    minify: !watch,
    logLevel: 'warning',
  },
].filter((b) => Object.values(b.entryPoints).every((p) => existsSync(p)));

mkdirSync(path.join(dist, 'renderer'), { recursive: true });
if (existsSync(at('renderer/index.html'))) copyFileSync(at('renderer/index.html'), path.join(dist, 'renderer/index.html'));

const started = Date.now();
await Promise.all(builds.map((b) => esbuild.build(b)));
console.log(`Coffer built into dist/ in ${Date.now() - started} ms`);
