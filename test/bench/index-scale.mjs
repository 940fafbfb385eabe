#!/usr/bin/env node
// index_scale (issue 13 §4): a vault of N stored chunks (default 8,000,000 with the peak projected to the 80,000,000 target; --smoke 200,000;
// --chunks N), made of synthetic index objects (real sealed `index/<packId>` objects naming chunk
// ids, without pack payload: nothing reads them), then one backup of a 256 MiB disk (--disk-mib)
// against it in a child process whose peak RSS (getrusage maxrss) is the figure. Target: under
// 300 MB at 80 million chunks. Adds index_scale to bench-results.json.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleWithWorker } from './bench-util.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bundle = path.join(root, 'dist/bench-index.mjs');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const MiB = 1024 * 1024;
const PASS = 'index-scale-bench';

if (process.argv[2] === '--child') {
  // The measured process: open the vault, back the disk up, report the peak RSS.
  const [, , , vaultDir, disk] = process.argv;
  const { Vault, LocalFolderStore } = await import(bundle);
  const t0 = process.cpuUsage();
  const v = await Vault.open(new LocalFolderStore(vaultDir), PASS);
  const p = await v.backup({ vmName: 'scale', disks: [{ name: 'disk.img', path: disk }] });
  const stats = await v.stats();
  await v.close();
  const cpu = process.cpuUsage(t0);
  process.stdout.write(`${JSON.stringify({ peak_rss_bytes: process.resourceUsage().maxRSS * 1024, chunk_count: stats.chunkCount, new_chunks: p.newChunks, cpu_seconds: (cpu.user + cpu.system) / 1e6 })}\n`);
  process.exit(0);
}

await bundleWithWorker({ 'bench-index': path.join(root, 'test/bench/index-scale-entry.ts') });
const { LocalFolderStore, createVaultConfig, writeVaultConfig, seal, encodeIndex, indexKey, newPackId, indexAad, DEFAULT_CHUNK_SIZE } = await import(bundle);

const smoke = process.argv.includes('--smoke');
// The target is 80,000,000 chunks (`--chunks 80000000`). While the chunk index is still held in RAM
// (about 150 bytes per chunk), that run needs about 12 GB and an hour, so the default is a tenth of
// it, and the result projects the peak to the target linearly (an over-estimate: the baseline is counted too).
const TARGET_CHUNKS = 80_000_000;
const chunks = Number(arg('--chunks', smoke ? '200000' : '8000000'));
const diskMib = Number(arg('--disk-mib', smoke ? '64' : '256'));
const work = fs.mkdtempSync(path.join(arg('--work', tmpdir()), 'coffer-index-scale-'));
try {
  const vaultDir = path.join(work, 'vault');
  const store = new LocalFolderStore(vaultDir);
  const { config, keys } = await createVaultConfig({ name: 'scale', region: 'bench', passphrase: PASS, chunkSize: DEFAULT_CHUNK_SIZE, kdf: { N: 1024, r: 8, p: 1 } });
  await writeVaultConfig(store, config);
  // Index objects as backups write them: one per pack of 16 MiB of 128 KiB chunks stored at about 75%.
  const perPack = 170;
  const t0 = Date.now();
  let written = 0;
  while (written < chunks) {
    const n = Math.min(perPack, chunks - written);
    const ids = randomBytes(n * 32);
    const entries = [];
    let off = 8;
    for (let i = 0; i < n; i++) {
      entries.push({ id: ids.subarray(i * 32, i * 32 + 32), offset: off, length: 98_000, rawLength: DEFAULT_CHUNK_SIZE, flags: 1 });
      off += 98_000;
    }
    const packId = newPackId();
    await store.put(indexKey(packId), seal(keys.encKey, encodeIndex(packId, entries), indexAad(packId)));
    written += n;
  }
  const buildSeconds = (Date.now() - t0) / 1000;
  // A disk of fresh data (new chunks, as a first backup of a VM into a big vault).
  const disk = path.join(work, 'disk.img');
  const fd = fs.openSync(disk, 'w');
  for (let i = 0; i < diskMib; i++) fs.writeSync(fd, randomBytes(MiB), 0, MiB, i * MiB);
  fs.closeSync(fd);
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', vaultDir, disk], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`index_scale child failed (${r.status ?? r.signal}): ${r.stderr}`);
  const m = JSON.parse(r.stdout.trim().split('\n').at(-1));
  const result = {
    chunks,
    disk_bytes: diskMib * MiB,
    peak_rss_bytes: m.peak_rss_bytes,
    rss_bytes_per_chunk: +(m.peak_rss_bytes / chunks).toFixed(1),
    target_rss_bytes: 300e6,
    within_target: m.peak_rss_bytes < 300e6,
    chunk_count_after: m.chunk_count,
    child_cpu_seconds: +m.cpu_seconds.toFixed(2),
    build_seconds: +buildSeconds.toFixed(1),
    target_chunks: TARGET_CHUNKS,
    projected_rss_bytes_at_target: Math.round((m.peak_rss_bytes / chunks) * TARGET_CHUNKS),
  };
  console.log(`\nindex_scale: a vault of ${chunks.toLocaleString('en')} chunks (synthetic index objects, built in ${result.build_seconds} s), one backup of ${diskMib} MiB`);
  console.log('case'.padEnd(14), 'chunks'.padStart(12), 'peak RSS MiB'.padStart(13), 'B/chunk'.padStart(8), 'target'.padStart(8), 'cpu s'.padStart(7));
  console.log(
    'index_scale'.padEnd(14),
    String(chunks).padStart(12),
    (m.peak_rss_bytes / MiB).toFixed(0).padStart(13),
    String(result.rss_bytes_per_chunk).padStart(8),
    (result.within_target && result.projected_rss_bytes_at_target < 300e6 ? 'met' : 'MISSED').padStart(8),
    String(result.child_cpu_seconds).padStart(7),
  );
  if (chunks < TARGET_CHUNKS) console.log(`  projected to ${TARGET_CHUNKS.toLocaleString('en')} chunks: ${(result.projected_rss_bytes_at_target / MiB).toFixed(0)} MiB peak RSS (target 300 MB)`);
  const file = path.resolve('bench-results.json');
  const out = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : {};
  out.index_scale = result;
  fs.writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
