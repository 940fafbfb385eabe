#!/usr/bin/env node
// `npm run bench [-- --smoke] [--size 4G] [--work DIR]`: bundles the vault engine and its worker
// into dist/ (esbuild), then runs test/bench/vault-bench.mjs with the same arguments.
// `npm run bench -- --build-only`: only the bundles above.
// `npm run bench -- --fuzz [--runs N]`: only the host fuzz test (test/integration/host-fuzz.test.ts),
// with N cases per property (default 20000; COFFER_FUZZ_SEED picks another seed).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { bundledNode } from '../../scripts/bundle-options.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const args = process.argv.slice(2);
if (args.includes('--fuzz')) {
  const at = args.indexOf('--runs');
  const runs = at >= 0 ? args[at + 1] : (process.env.COFFER_FUZZ_RUNS ?? '20000');
  const vitest = path.join(root, 'node_modules/vitest/vitest.mjs');
  const f = spawnSync(process.execPath, [vitest, 'run', '--project', 'unit', 'test/integration/host-fuzz.test.ts', '--testTimeout', '3600000'], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, COFFER_FUZZ_RUNS: runs },
  });
  process.exit(f.status ?? 1);
}
// Built like dist/cli.mjs (scripts/bundle-options.mjs): a bench process that stands for one CLI command starts as the CLI does.
const common = { ...bundledNode, logLevel: 'warning' };
await esbuild.build({
  ...common,
  entryPoints: {
    'vault-worker': path.join(root, 'main/core/vault/worker.ts'),
    'bench-engine': path.join(root, 'test/bench/vault-bench-entry.ts'),
    'bench-jobs': path.join(root, 'test/bench/jobs-query-entry.ts'),
    'bench-store': path.join(root, 'test/bench/store-bench-entry.ts'),
  },
  outdir: path.join(root, 'dist'),
  outExtension: { '.js': '.mjs' },
});
// `--build-only`: just the bundles (for test/bench/stages.mjs or one case run by hand).
if (args.includes('--build-only')) process.exit(0);
const r = spawnSync(process.execPath, [path.join(root, 'test/bench/vault-bench.mjs'), ...process.argv.slice(2)], { stdio: 'inherit' });
if (r.status !== 0) process.exit(r.status ?? 1);
// The Jobs page on a catalog of 1,000,000 jobs (100,000 with --smoke); adds job_query to bench-results.json.
const q = spawnSync(process.execPath, [path.join(root, 'test/bench/jobs-query.mjs'), ...process.argv.slice(2)], { stdio: 'inherit' });
if (q.status !== 0) process.exit(q.status ?? 1);
// The vault on azurite and s3rver: adds full_azure, restore_azure, full_s3, restore_s3 to bench-results.json.
const s = spawnSync(process.execPath, [path.join(root, 'test/bench/store-bench.mjs'), ...process.argv.slice(2)], { stdio: 'inherit' });
if (s.status !== 0) process.exit(s.status ?? 1);
// The second backup of an untouched VM that is off, through `coffer backup now` with a host: adds unchanged to bench-results.json.
if (!fs.existsSync(path.join(root, 'dist/cli.mjs'))) spawnSync(process.execPath, [path.join(root, 'scripts/build.mjs')], { cwd: root, stdio: 'inherit' });
const u = spawnSync(process.execPath, [path.join(root, 'test/bench/unchanged.mjs'), ...process.argv.slice(2)], { stdio: 'inherit' });
if (u.status !== 0) process.exit(u.status ?? 1);
// A backup against a vault of 8,000,000 chunks (the 80,000,000 target projected; 200,000 with --smoke), peak RSS: adds index_scale to bench-results.json.
const ix = spawnSync(process.execPath, [path.join(root, 'test/bench/index-scale.mjs'), ...process.argv.slice(2)], { stdio: 'inherit' });
if (ix.status !== 0) process.exit(ix.status ?? 1);
// A 2 TiB sparse raw disk (16 GiB with --smoke): backup, incremental, verify, restore, peak RSS each: adds sparse_2tib to bench-results.json.
const sp = spawnSync(process.execPath, [path.join(root, 'test/bench/sparse-2tib.mjs'), ...process.argv.slice(2)], { stdio: 'inherit' });
if (sp.status !== 0) process.exit(sp.status ?? 1);
// A running VM's changed-block incremental against restic on the same qcow2: adds incremental_cbt (skips, with the reason, without qemu/libvirt).
const cbt = spawnSync(process.execPath, [path.join(root, 'test/bench/incremental-cbt.mjs'), ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(cbt.status ?? 1);
