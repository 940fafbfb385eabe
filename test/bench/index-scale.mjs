#!/usr/bin/env node
// index_scale (issue 13 §4): a vault of N stored chunks (default 8,000,000; the target run is
// --chunks 80000000; --smoke 200,000), made of synthetic index objects (real sealed
// `index/<packId>` objects naming chunk ids, without pack payload: nothing reads them). Then, each in
// a child process with the install's cache folder (`cacheDir`, as the app opens vaults):
//   build:  the first open, which builds the on-disk chunk index (chunks.db) from the index objects;
//   backup: one backup of a fresh 256 MiB disk (--disk-mib) against the vault;
//   lookup: 100,000 lookups of stored ids and 100,000 of absent ids in the db (CPU per lookup; 10,000 each with --smoke);
//   verify: a quick verify (metadata: every referenced chunk indexed in a pack that is long enough);
//   gc:     a garbage collection (the weekly prune's second half).
// For verify and GC the vault also holds its packs (sparse files of the right size, no payload)
// and two recovery points sharing one version 2 chunk list that names the chunks of 9 packs in 10:
// GC deletes the 10th pack and its index object (no repack: every other pack is wholly live).
// Figures: peak RSS (getrusage maxrss) and CPU-seconds of each child, db size on disk, lookup CPU
// per GiB backed up (8,192 chunks of 128 KiB). Target: every peak under 300 MB at 80 million
// chunks. Adds index_scale to bench-results.json.
// --dir DIR keeps the vault in DIR (not a temporary folder, not deleted): a later run with the same
// --dir and --chunks reuses it (the generator takes minutes at 80M) and rebuilds the db from scratch;
// --generate-only stops after writing the vault.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleWithWorker } from './bench-util.mjs';
import { NODE_FLAGS } from '../../scripts/node-flags.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
// INDEX_SCALE_DIST=dir bundles elsewhere than dist/ (a long --chunks run keeps its own copy while dist/ is rebuilt).
const distDir = path.join(root, process.env.INDEX_SCALE_DIST ?? 'dist');
const bundle = path.join(distDir, 'bench-index.mjs');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const MiB = 1024 * 1024;
const PASS = 'index-scale-bench';

if (process.argv[2] === '--child') {
  // A measured process (build, backup or lookup), reporting its peak RSS and CPU.
  const [, , , what, vaultDir, cacheDir, disk, lookups = '100000'] = process.argv;
  const L = Number(lookups);
  const { Vault, LocalFolderStore, ChunkDb } = await import(bundle);
  const t0 = process.cpuUsage();
  const w0 = Date.now();
  const out = {};
  if (what === 'lookup') {
    const vaultId = JSON.parse(fs.readFileSync(path.join(vaultDir, 'config'), 'utf8')).id;
    const db = ChunkDb.open(cacheDir, vaultId);
    // Stored ids: the first entries of cached index objects are not at hand unsealed, so take them from the db itself.
    const { default: Database } = await import('better-sqlite3');
    const raw = new Database(path.join(cacheDir, 'chunks.db'), { readonly: true });
    const hits = raw.prepare('SELECT id FROM chunks WHERE id >= ? LIMIT 1').pluck();
    const known = [];
    for (let i = 0; i < L; i++) known.push(hits.get(randomBytes(32)) ?? Buffer.alloc(32));
    raw.close();
    const absent = Array.from({ length: L }, () => randomBytes(32));
    const l0 = process.cpuUsage();
    let found = 0;
    for (const id of known) if (db.packOf(id) !== undefined) found++;
    const l1 = process.cpuUsage(l0);
    for (const id of absent) if (db.packOf(id) !== undefined) found++;
    const l2 = process.cpuUsage(l0);
    db.close();
    Object.assign(out, { hit_us: (l1.user + l1.system) / L, miss_us: (l2.user + l2.system - l1.user - l1.system) / L, found });
  } else if (what === 'verify' || what === 'gc') {
    const v = await Vault.open(new LocalFolderStore(vaultDir), PASS, { cacheDir });
    if (what === 'verify') {
      const r = await v.verify();
      Object.assign(out, { ok: r.ok, points: r.pointsChecked, chunks_checked: r.chunksChecked, missing: r.missingChunks });
    } else {
      const r = await v.collectGarbage({ wait: false });
      Object.assign(out, { packs_deleted: r.packsDeleted, packs_repacked: r.packsRepacked, bytes_freed: r.bytesFreed });
    }
    await v.close();
  } else {
    const v = await Vault.open(new LocalFolderStore(vaultDir), PASS, { cacheDir });
    if (what === 'backup') out.new_chunks = (await v.backup({ vmName: 'scale', disks: [{ name: 'disk.img', path: disk }] })).newChunks;
    out.chunk_count = (await v.stats()).chunkCount;
    await v.close();
  }
  const cpu = process.cpuUsage(t0);
  Object.assign(out, { peak_rss_bytes: process.resourceUsage().maxRSS * 1024, cpu_seconds: (cpu.user + cpu.system) / 1e6, wall_seconds: (Date.now() - w0) / 1000 });
  process.stdout.write(`${JSON.stringify(out)}\n`);
  process.exit(0);
}

await bundleWithWorker({ 'bench-index': path.join(root, 'test/bench/index-scale-entry.ts') }, distDir);
const { LocalFolderStore, createVaultConfig, writeVaultConfig, seal, encodeIndex, newPackId, indexAad, DEFAULT_CHUNK_SIZE, ChunkListWriter, encodeManifest, newPointId, pointKey, packKey } =
  await import(bundle);

const smoke = process.argv.includes('--smoke');
// The target is 80,000,000 chunks (`--chunks 80000000`: about 470,000 index objects, 3.4 GB of
// them and as much again for the install's copy, plus the db): the default is a tenth of it.
const TARGET_CHUNKS = 80_000_000;
const chunks = Number(arg('--chunks', smoke ? '200000' : '8000000'));
const diskMib = Number(arg('--disk-mib', smoke ? '64' : '256'));
const keepDir = arg('--dir', undefined);
const work = keepDir ? path.resolve(keepDir) : fs.mkdtempSync(path.join(arg('--work', tmpdir()), 'coffer-index-scale-'));
const generated = path.join(work, 'generated.json');
try {
  const vaultDir = path.join(work, 'vault');
  const disk = path.join(work, 'disk.img');
  let genSeconds;
  const reuse = keepDir && fs.existsSync(generated) && JSON.parse(fs.readFileSync(generated, 'utf8')).chunks === chunks;
  if (reuse) genSeconds = JSON.parse(fs.readFileSync(generated, 'utf8')).generate_seconds;
  else {
  if (keepDir) fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(work, { recursive: true });
  const store = new LocalFolderStore(vaultDir);
  const { config, keys } = await createVaultConfig({ name: 'scale', region: 'bench', passphrase: PASS, chunkSize: DEFAULT_CHUNK_SIZE, kdf: { N: 1024, r: 8, p: 1 } });
  await writeVaultConfig(store, config);
  // Index objects as backups write them: one per pack of 16 MiB of 128 KiB chunks stored at about 75%.
  // Written straight into the folder store's layout (index/<packId>), synchronously: 470,000 puts
  // through the store's temp-and-rename would take most of the run. One plaintext template per
  // pack size; only the pack id and the chunk ids change.
  const perPack = 170;
  const t0 = Date.now();
  const indexDir = path.join(vaultDir, 'index');
  fs.mkdirSync(indexDir, { recursive: true });
  const templates = new Map();
  const template = (n) => {
    if (!templates.has(n)) {
      const entries = [];
      for (let i = 0; i < n; i++) entries.push({ id: Buffer.alloc(32), offset: 8 + i * 98_000, length: 98_000, rawLength: DEFAULT_CHUNK_SIZE, flags: 1 });
      templates.set(n, encodeIndex('0'.repeat(32), entries));
    }
    return templates.get(n);
  };
  // The packs: sparse files as long as their index says (verify checks lengths, GC deletes whole dead packs).
  const list = new ChunkListWriter(store, keys);
  let written = 0;
  let listed = 0;
  for (let k = 0; written < chunks; k++) {
    const n = Math.min(perPack, chunks - written);
    const plain = template(n);
    const packId = newPackId();
    Buffer.from(packId, 'hex').copy(plain, 5);
    const ids = randomBytes(n * 32);
    for (let i = 0; i < n; i++) ids.copy(plain, 25 + i * 45, i * 32, i * 32 + 32);
    fs.writeFileSync(path.join(indexDir, packId), seal(keys.encKey, plain, indexAad(packId)));
    const packFile = path.join(vaultDir, ...packKey(packId).split('/'));
    fs.mkdirSync(path.dirname(packFile), { recursive: true });
    fs.closeSync(fs.openSync(packFile, 'w'));
    fs.truncateSync(packFile, 8 + n * 98_000);
    if (k % 10 !== 9) {
      await list.add(ids);
      listed += n;
    }
    written += n;
  }
  // Two points (a VM backed up twice, unchanged) naming the same chunk list.
  const { list: ref } = await list.finish();
  for (let p = 0; p < 2; p++) {
    const id = newPointId(new Date(Date.UTC(2026, 0, 1 + p)));
    const disk = { name: 'disk.img', size: listed * DEFAULT_CHUNK_SIZE, sha256: '0'.repeat(64), zeroBytes: 0, digestOver: 'ids', list: ref };
    const stats = { logicalBytes: disk.size, zeroBytes: 0, newChunks: 0, newRawBytes: 0, addedBytes: 0, seconds: 0 };
    const m = { format: 'coffer-point', version: 2, id, created: new Date().toISOString(), vm: { name: 'synthetic' }, consistency: 'crash', retainUntil: null, policy: null, chunkSize: DEFAULT_CHUNK_SIZE, definition: null, disks: [disk], stats };
    await store.put(pointKey(id), encodeManifest(keys, m));
  }
  genSeconds = (Date.now() - t0) / 1000;
  // A disk of fresh data (new chunks, as a first backup of a VM into a big vault).
  const fd = fs.openSync(disk, 'w');
  for (let i = 0; i < diskMib; i++) fs.writeSync(fd, randomBytes(MiB), 0, MiB, i * MiB);
  fs.closeSync(fd);
  if (keepDir) fs.writeFileSync(generated, `${JSON.stringify({ chunks, generate_seconds: genSeconds })}\n`);
  console.log(`index_scale: ${chunks} chunks written to ${vaultDir} in ${genSeconds.toFixed(1)} s`);
  }
  if (process.argv.includes('--generate-only')) process.exit(0);
  // The install's data folder starts empty: the first open builds the db.
  fs.rmSync(path.join(work, 'data'), { recursive: true, force: true });
  const cacheDir = path.join(work, 'data', 'cache', 'vault');
  const child = (what) => {
    const r = spawnSync(process.execPath, [...NODE_FLAGS, fileURLToPath(import.meta.url), '--child', what, vaultDir, cacheDir, disk, smoke ? '10000' : '100000'], { encoding: 'utf8', maxBuffer: 1 << 20 });
    if (r.status !== 0) throw new Error(`index_scale ${what} child failed (${r.status ?? r.signal}): ${r.stderr}`);
    return JSON.parse(r.stdout.trim().split('\n').at(-1));
  };
  const build = child('build');
  const dbBytes = ['', '-wal'].reduce((s, x) => s + (fs.statSync(path.join(cacheDir, `chunks.db${x}`), { throwIfNoEntry: false })?.size ?? 0), 0);
  const backup = child('backup');
  const lookup = child('lookup');
  const verify = child('verify');
  const gc = child('gc');
  // A reused --dir keeps the points of earlier runs' backups (and the pack an earlier GC deleted).
  if (!verify.ok || (reuse ? verify.points < 3 : verify.points !== 3)) throw new Error(`index_scale: the synthetic vault does not verify: ${JSON.stringify(verify)}`);
  const chunksPerGiB = 1024 / (DEFAULT_CHUNK_SIZE / MiB);
  const peak = Math.max(build.peak_rss_bytes, backup.peak_rss_bytes, verify.peak_rss_bytes, gc.peak_rss_bytes);
  const result = {
    chunks,
    disk_bytes: diskMib * MiB,
    peak_rss_bytes: backup.peak_rss_bytes,
    build_peak_rss_bytes: build.peak_rss_bytes,
    verify_peak_rss_bytes: verify.peak_rss_bytes,
    verify_cpu_seconds: +verify.cpu_seconds.toFixed(1),
    gc_peak_rss_bytes: gc.peak_rss_bytes,
    gc_cpu_seconds: +gc.cpu_seconds.toFixed(1),
    gc_packs_deleted: gc.packs_deleted,
    target_rss_bytes: 300e6,
    within_target: peak < 300e6,
    chunk_count_after: backup.chunk_count,
    new_chunks: backup.new_chunks,
    child_cpu_seconds: +backup.cpu_seconds.toFixed(2),
    db_build_seconds: +build.wall_seconds.toFixed(1),
    db_build_cpu_seconds: +build.cpu_seconds.toFixed(1),
    db_bytes: dbBytes,
    db_bytes_per_chunk: +(dbBytes / chunks).toFixed(1),
    lookup_hit_us: +lookup.hit_us.toFixed(2),
    lookup_miss_us: +lookup.miss_us.toFixed(2),
    lookup_cpu_seconds_per_gib: +((Math.max(lookup.hit_us, lookup.miss_us) * chunksPerGiB) / 1e6).toFixed(3),
    generate_seconds: +genSeconds.toFixed(1),
    target_chunks: TARGET_CHUNKS,
  };
  console.log(`\nindex_scale: a vault of ${chunks.toLocaleString('en')} chunks (synthetic index objects, written in ${result.generate_seconds} s), one backup of ${diskMib} MiB`);
  console.log('case'.padEnd(14), 'chunks'.padStart(12), 'peak RSS MiB'.padStart(13), 'cpu s'.padStart(8), 'wall s'.padStart(8), 'target'.padStart(8));
  for (const [name, m] of [['build (db)', build], ['backup', backup], ['verify', verify], ['gc', gc]]) {
    console.log(name.padEnd(14), String(chunks).padStart(12), (m.peak_rss_bytes / MiB).toFixed(0).padStart(13), m.cpu_seconds.toFixed(1).padStart(8), m.wall_seconds.toFixed(1).padStart(8), (m.peak_rss_bytes < 300e6 ? 'met' : 'MISSED').padStart(8));
  }
  console.log(`  chunks.db: ${(dbBytes / MiB).toFixed(0)} MiB (${result.db_bytes_per_chunk} B/chunk); lookup ${result.lookup_hit_us} µs (stored id) / ${result.lookup_miss_us} µs (absent) CPU: ${result.lookup_cpu_seconds_per_gib} CPU-s per GiB backed up`);
  if (chunks < TARGET_CHUNKS) console.log(`  the target is measured with --chunks ${TARGET_CHUNKS}`);
  const file = path.resolve('bench-results.json');
  const out = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : {};
  out.index_scale = result;
  fs.writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
} finally {
  if (!keepDir) fs.rmSync(work, { recursive: true, force: true });
}
