#!/usr/bin/env node
// sparse_2tib (issue 13 §4): a 2 TiB sparse raw disk (--size, bytes or with T/G; --smoke 16 GiB)
// with 1 MiB of random data at 8 scattered offsets, in a vault of the default chunk size and
// scrypt cost: a full backup, an incremental from it (64 KiB changed), a verify and a restore,
// each in a child process of its own (test/integration/vault/fixtures/sparse-child.ts) whose peak
// RSS (getrusage maxrss), CPU-seconds and seconds are the figures. Target: each under 300 MB.
// Adds sparse_2tib to bench-results.json.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { addBenchResult, benchArg as arg, benchRoot as root, bundleWithWorker } from './bench-util.mjs';
import { NODE_FLAGS } from '../../scripts/node-flags.mjs';

const child = path.join(root, 'dist/bench-sparse-child.mjs');
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const parseSize = (s) => {
  const m = /^(\d+(?:\.\d+)?)([KMGT]?)$/i.exec(s);
  if (!m) throw new Error(`--size ${s}: a number of bytes, or with K, M, G or T`);
  return Math.round(Number(m[1]) * 1024 ** ' KMGT'.indexOf((m[2] || ' ').toUpperCase()));
};
const smoke = process.argv.includes('--smoke');
const size = parseSize(arg('--size', smoke ? '16G' : '2T'));
const target = 300e6;

await bundleWithWorker({ 'bench-sparse-child': path.join(root, 'test/integration/vault/fixtures/sparse-child.ts') });

const work = fs.mkdtempSync(path.join(arg('--work', tmpdir()), 'coffer-sparse-'));
try {
  const vaultDir = path.join(work, 'vault');
  const disk = path.join(work, 'big.raw');
  const fd = fs.openSync(disk, 'w');
  fs.ftruncateSync(fd, size);
  const offsets = Array.from({ length: 8 }, (_, i) => Math.floor(((size - MiB) * i) / 7 / 4096) * 4096);
  for (const o of offsets) fs.writeSync(fd, randomBytes(MiB), 0, MiB, o);
  fs.closeSync(fd);
  const job = (...args) => {
    const r = spawnSync(process.execPath, [...NODE_FLAGS, child, args[0], vaultDir, 'sparse-bench', ...args.slice(1)], { encoding: 'utf8', maxBuffer: 1 << 20 });
    if (r.status !== 0) throw new Error(`sparse_2tib ${args[0]} failed (${r.status ?? r.signal}): ${r.stderr}`);
    return JSON.parse(r.stdout.trim().split('\n').at(-1));
  };
  const open = job('create', String(128 * 1024));
  const full = job('backup', disk);
  const changedAt = offsets[3] + 4096;
  const pfd = fs.openSync(disk, 'r+');
  fs.writeSync(pfd, randomBytes(65536), 0, 65536, changedAt);
  fs.closeSync(pfd);
  const inc = job('incremental', disk, full.id, String(changedAt), '65536');
  const verify = job('verify');
  const restore = job('restore', inc.id, path.join(work, 'restored'));
  const blocks = fs.statSync(path.join(work, 'restored', 'big.raw')).blocks * 512;
  const row = (j) => ({ peak_rss_bytes: j.maxRssKiB * 1024, cpu_seconds: +j.cpuSeconds.toFixed(2), seconds: +j.seconds.toFixed(2) });
  const result = {
    disk_bytes: size,
    chunks: Math.ceil(size / (128 * 1024)),
    data_bytes: offsets.length * MiB,
    create: row(open),
    backup: row(full),
    incremental: row(inc),
    verify: row(verify),
    restore: row(restore),
    restored_allocated_bytes: blocks,
    target_rss_bytes: target,
    within_target: [full, inc, verify, restore].every((j) => j.maxRssKiB * 1024 < target),
  };
  console.log(`\nsparse_2tib: a ${(size / GiB).toFixed(0)} GiB sparse raw disk (${result.chunks.toLocaleString('en')} chunks of 128 KiB), ${offsets.length} MiB of data; each job in its own process`);
  console.log('job'.padEnd(12), 'peak RSS MiB'.padStart(13), 'cpu s'.padStart(7), 'wall s'.padStart(7), 'target'.padStart(8));
  for (const k of ['create', 'backup', 'incremental', 'verify', 'restore']) {
    const j = result[k];
    console.log(k.padEnd(12), (j.peak_rss_bytes / MiB).toFixed(0).padStart(13), String(j.cpu_seconds).padStart(7), String(j.seconds).padStart(7), (j.peak_rss_bytes < target ? 'met' : 'MISSED').padStart(8));
  }
  console.log(`  restored file: ${(blocks / MiB).toFixed(1)} MiB allocated of ${(size / GiB).toFixed(0)} GiB (sparse)`);
  addBenchResult('sparse_2tib', result);
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
