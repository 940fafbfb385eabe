#!/usr/bin/env node
// Coffer with the vault on object storage: azurite (Azure Blob) and s3rver (S3), each started on
// 127.0.0.1 for the run. Cases full_azure, restore_azure, full_s3, restore_s3 on the same
// reference image as vault-bench.mjs (same generator and size), appended to bench-results.json
// beside the local-folder figures, with requests per GiB (object stores bill per request).
// The ratio to the local folder compares with a local-folder backup and restore of the same image
// measured in this run just before (same operations, same process per operation): the machine's
// load changes between runs, so figures from bench-results.json could be stale.
// Besides wall time it reports CPU seconds per GiB of the Coffer process (all threads) and of the
// emulator (from /proc/PID/stat): on a shared machine those, and the ratios within one run, say
// more than MiB/s. It also gives each operation's own seconds (Vault.backup / Vault.restore, without
// the process start, the SDK import and the unlock, which are paid once in the host): that ratio
// shows the per-byte work alone. Each vault keeps the install's index cache (as the app does, per
// vault in its data folder), so the restore after the backup lists the index objects instead of
// reading them.
// node test/bench/store-bench.mjs [--smoke] [--size 4G] [--work DIR] [--chunk-size N] [--keep]
//   [--stores local,azure,s3] [--threads] [--node-args "--cpu-prof ..."] [--wrap "perf record -g --"]
// --stores runs only those vaults (one case in isolation, e.g. `--stores s3`; the ratio needs
// `local` among them; a partial run leaves bench-results.json alone). --threads prints each
// operation's CPU seconds per thread (main, each restore or backup worker, libuv pool, V8
// helpers) from /proc/self/task. --node-args / --wrap go in front of each operation's process
// (profilers: `--node-args --cpu-prof`, `--wrap "perf record -g -o F --" --node-args --perf-basic-prof`).
// Needs dist/bench-store.mjs and dist/vault-worker.mjs (test/bench/run.mjs builds them).
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NODE_FLAGS } from '../../scripts/node-flags.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const args = process.argv.slice(2);
const opt = (n, d) => {
  const i = args.indexOf(n);
  return i >= 0 ? args[i + 1] : d;
};
const smoke = args.includes('--smoke');
const size = opt('--size', smoke ? '64M' : '4G');
const work = path.resolve(opt('--work', path.join(os.tmpdir(), 'coffer-bench')) + '-stores');
const chunkSize = opt('--chunk-size');
const keep = args.includes('--keep');
const stores = opt('--stores', 'local,azure,s3').split(',');
const partial = ['local', 'azure', 's3'].some((k) => !stores.includes(k));
const threads = args.includes('--threads');
const nodeArgs = [...NODE_FLAGS, ...(opt('--node-args', '') ?? '').split(' ').filter(Boolean)];
const wrap = (opt('--wrap', '') ?? '').split(' ').filter(Boolean);
const shared = [path.resolve(root, '../shared/bench'), '/work/shared/bench'].find((p) => fs.existsSync(path.join(p, 'make-vm-image.mjs')));
if (!shared) throw new Error('cannot find shared/bench/make-vm-image.mjs next to the repository');
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const log = (...a) => console.log(...a);

const { startAzurite, startS3rver, formatVaultLocation, describeStore, parseStoredLocation } = await import(path.join(root, 'dist/bench-store.mjs'));

fs.rmSync(work, { recursive: true, force: true });
fs.mkdirSync(work, { recursive: true });
const image = path.join(work, 'base.img');
const gen = spawnSync(process.execPath, [path.join(shared, 'make-vm-image.mjs'), image, size], { encoding: 'utf8' });
if (gen.status !== 0) throw new Error(`make-vm-image.mjs failed: ${gen.stderr}`);
const logical = fs.statSync(image).size;

function sha256File(file) {
  const h = createHash('sha256');
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.alloc(8 * MiB);
  for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0; ) h.update(buf.subarray(0, n));
  fs.closeSync(fd);
  return h.digest('hex');
}
const want = sha256File(image); // also puts the image in page cache, as for the local figures

/** CPU seconds (user + system) a process has used so far, from /proc/PID/stat (Linux; 0 elsewhere). */
const TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
function cpuOf(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / TICKS; // utime, stime (fields 14 and 15)
  } catch {
    return 0;
  }
}

/**
 * One store-cli.mjs operation in its own process: wall seconds, what it printed (its own CPU
 * seconds among it) and, given the emulator's pid, the CPU seconds the emulator spent meanwhile.
 */
function cli(env, emulatorPid, ...a) {
  return new Promise((resolve, reject) => {
    const emStart = emulatorPid ? cpuOf(emulatorPid) : 0;
    const t0 = process.hrtime.bigint();
    const argv = [...nodeArgs, path.join(root, 'test/bench/store-cli.mjs'), ...a];
    const child = spawn(wrap[0] ?? process.execPath, wrap.length > 0 ? [...wrap.slice(1), process.execPath, ...argv] : argv, {
      env: { ...process.env, ...env, ...(threads ? { COFFER_BENCH_THREADS: '1' } : {}) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      if (code !== 0) return reject(new Error(`store-cli ${a[0]} failed (${code}): ${err.slice(-2000)}`));
      const emulatorCpuSeconds = emulatorPid ? cpuOf(emulatorPid) - emStart : 0;
      const m = JSON.parse(out.trim().split('\n').at(-1));
      if (threads && m.threads) {
        log(`  threads of ${a[0]} ${a[1]}: ${m.cpuSeconds.toFixed(2)} CPU-s in all${emulatorPid ? `, emulator ${emulatorCpuSeconds.toFixed(2)}` : ''}`);
        for (const t of m.threads) log(`    ${t.name.padEnd(18)} ${t.cpuSeconds.toFixed(2).padStart(6)} CPU-s${t.count > 1 ? ` (${t.count} threads)` : ''}`);
      }
      resolve({ seconds, emulatorCpuSeconds, ...m });
    });
  });
}

const file = path.resolve('bench-results.json');
const prior = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : {};
const results = [];
const startedAt = new Date().toISOString();
const loadAtStart = os.loadavg().map((x) => +x.toFixed(2));

// What one process costs before any data moves (start, connect with SDK import and probe, open
// the vault, list its points): paid by every backup and restore, whatever the image size.
const fixedCosts = {};
// The local-folder reference of this run: the same image, backed up and restored the same way.
const localFigures = {};
if (stores.includes('local')) {
  const where = path.join(work, 'vault-local');
  // Each vault has the install's index cache, as the app keeps one per vault in its data folder.
  const env = { COFFER_BENCH_CACHE_DIR: path.join(work, 'cache-local') };
  await cli(env, 0, 'init', where, ...(chunkSize ? [chunkSize] : []));
  const b = await cli(env, 0, 'backup', where, 'a', image);
  const target = path.join(work, 'restore-local');
  const r = await cli(env, 0, 'restore', where, target);
  if (sha256File(r.file) !== want) throw new Error('restore from the local folder does not match the image');
  if (!smoke) fixedCosts.local = await cli(env, 0, 'open', where);
  fs.rmSync(target, { recursive: true, force: true });
  fs.rmSync(where, { recursive: true, force: true });
  for (const [kase, m] of [
    ['full', b],
    ['restore', r],
  ]) {
    localFigures[kase] = { seconds: m.seconds, op_seconds: m.opSeconds, mib_per_s: logical / MiB / m.seconds, peak_rss_bytes: m.maxRssBytes, cpu_s_per_gib: m.cpuSeconds / (logical / GiB) };
  }
}
const local = (kase) => localFigures[kase] ?? { mib_per_s: NaN };
const lockModes = {};
log(`\nvault on object storage (${size} image, emulators on 127.0.0.1 sharing the cores; ${startedAt}, load ${loadAtStart.join(' ')}):`);
for (const [kind, start] of [
  ['azure', startAzurite],
  ['s3', startS3rver],
].filter(([k]) => stores.includes(k))) {
  const em = await start();
  try {
    const loc = em.location('bench', 'vault');
    const where = formatVaultLocation(loc);
    const env = { ...em.env, COFFER_BENCH_CACHE_DIR: path.join(work, `cache-${kind}`) };
    await cli(env, em.pid, 'init', where, ...(chunkSize ? [chunkSize] : []));
    const b = await cli(env, em.pid, 'backup', where, 'a', image);
    lockModes[kind] = describeStore(parseStoredLocation(where), b.conditionalCreate);
    const target = path.join(work, `restore-${kind}`);
    const r = await cli(env, em.pid, 'restore', where, target);
    if (sha256File(r.file) !== want) throw new Error(`restore from ${kind} does not match the image`);
    fs.rmSync(target, { recursive: true, force: true });
    if (!smoke) fixedCosts[kind] = await cli(env, em.pid, 'open', where);
    for (const [kase, m, added, ref] of [
      [`full_${kind}`, b, b.addedBytes, local('full')],
      [`restore_${kind}`, r, 0, local('restore')],
    ]) {
      const mibPerS = logical / MiB / m.seconds;
      const row = {
        tool: 'coffer',
        case: kase,
        seconds: +m.seconds.toFixed(3),
        // The operation alone (Vault.backup / Vault.restore), without the process start and the unlock.
        op_seconds: +m.opSeconds.toFixed(3),
        mib_per_s: +mibPerS.toFixed(1),
        added_bytes: added,
        peak_rss_bytes: m.maxRssBytes,
        requests: m.requests,
        requests_per_gib: +(m.requests / (logical / GiB)).toFixed(0),
        cpu_s_per_gib: +(m.cpuSeconds / (logical / GiB)).toFixed(2),
        emulator_cpu_s_per_gib: +(m.emulatorCpuSeconds / (logical / GiB)).toFixed(2),
        local_mib_per_s: +ref.mib_per_s.toFixed(1),
        ratio_to_local: +(mibPerS / ref.mib_per_s).toFixed(2),
        op_ratio_to_local: +(ref.op_seconds / m.opSeconds).toFixed(2),
      };
      results.push(row);
      log(`  coffer ${kase.padEnd(13)} ${row.seconds.toFixed(2).padStart(7)} s ${row.mib_per_s.toFixed(0).padStart(6)} MiB/s  rss ${(row.peak_rss_bytes / MiB).toFixed(0)} MiB  ${row.requests} requests (${row.requests_per_gib}/GiB)  cpu ${row.cpu_s_per_gib} s/GiB + emulator ${row.emulator_cpu_s_per_gib} s/GiB`);
    }
  } finally {
    await em.dispose();
  }
}

log(`\n| case | s | MiB/s | RSS MiB | requests/GiB | Coffer CPU-s/GiB | emulator CPU-s/GiB | vs local folder | operation alone: s, vs local |`);
log(`|---|---|---|---|---|---|---|---|---|`);
for (const kase of ['full', 'restore']) {
  const l = localFigures[kase];
  if (l) log(`| ${kase} (local folder, this run) | ${l.seconds.toFixed(2)} | ${l.mib_per_s.toFixed(0)} | ${(l.peak_rss_bytes / MiB).toFixed(0)} | - | ${l.cpu_s_per_gib.toFixed(2)} | - | 1.00x | ${l.op_seconds.toFixed(2)}, 1.00x |`);
  for (const r of results.filter((x) => x.case.startsWith(`${kase}_`))) {
    log(`| ${r.case} | ${r.seconds.toFixed(2)} | ${r.mib_per_s.toFixed(0)} | ${(r.peak_rss_bytes / MiB).toFixed(0)} | ${r.requests_per_gib} | ${r.cpu_s_per_gib.toFixed(2)} | ${r.emulator_cpu_s_per_gib.toFixed(2)} | ${r.ratio_to_local.toFixed(2)}x | ${r.op_seconds.toFixed(2)}, ${r.op_ratio_to_local.toFixed(2)}x |`);
  }
}
for (const [kind, m] of Object.entries(fixedCosts)) {
  log(`fixed cost of one process on ${kind === 'local' ? 'the local folder' : kind === 'azure' ? 'azurite' : 's3rver'}: ${m.cpuSeconds.toFixed(2)} CPU-s, ${m.requests} requests, emulator ${m.emulatorCpuSeconds.toFixed(2)} CPU-s (start, connect, open, list points)`);
}
for (const [kind, mode] of Object.entries(lockModes)) log(`lock mode on ${kind === 'azure' ? 'azurite' : 's3rver'}: ${mode}`);

if (partial) {
  log(`a partial run (--stores ${stores.join(',')}): ${file} left as it was`);
  if (!keep) fs.rmSync(work, { recursive: true, force: true });
  process.exit(0);
}
const version = (pkg) => JSON.parse(fs.readFileSync(path.join(root, 'node_modules', pkg, 'package.json'), 'utf8')).version;
prior.results = [...(prior.results ?? []).filter((r) => !/_(azure|s3)$/.test(r.case)), ...results];
const localRef = Object.fromEntries(Object.entries(localFigures).map(([k, v]) => [k, { seconds: +v.seconds.toFixed(3), op_seconds: +v.op_seconds.toFixed(3), mib_per_s: +v.mib_per_s.toFixed(1), peak_rss_bytes: v.peak_rss_bytes, cpu_s_per_gib: +v.cpu_s_per_gib.toFixed(2) }]));
prior.machine = {
  ...prior.machine,
  object_storage: { measured: startedAt, load_average: loadAtStart, azurite: version('azurite'), s3rver: version('s3rver'), image_bytes: logical, image_size: size, lock_modes: lockModes, local_folder_this_run: localRef,
    fixed_cost_per_process: Object.fromEntries(Object.entries(fixedCosts).map(([k, m]) => [k, { cpu_s: +m.cpuSeconds.toFixed(2), requests: m.requests ?? 0, emulator_cpu_s: +m.emulatorCpuSeconds.toFixed(2) }])) },
};
fs.writeFileSync(file, `${JSON.stringify(prior, null, 2)}\n`);
log(`updated ${file}`);
if (!keep) fs.rmSync(work, { recursive: true, force: true });
