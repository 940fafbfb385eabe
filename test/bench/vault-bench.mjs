#!/usr/bin/env node
// Coffer vs restic vs borg on the reference VM images (see ../shared/bench/README.md).
// node test/bench/vault-bench.mjs [--smoke] [--size 4G] [--work DIR] [--chunk-size N] [--tools coffer,restic,borg] [--keep]
// Needs dist/bench-engine.mjs and dist/vault-worker.mjs (test/bench/run.mjs builds them).
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compressionChoices, printCompression, printStages, stageCosts } from './stages.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const args = process.argv.slice(2);
const opt = (n, d) => {
  const i = args.indexOf(n);
  return i >= 0 ? args[i + 1] : d;
};
const smoke = args.includes('--smoke');
const size = opt('--size', smoke ? '64M' : '4G');
const work = path.resolve(opt('--work', path.join(os.tmpdir(), 'coffer-bench')));
const chunkSize = opt('--chunk-size');
const keep = args.includes('--keep');
const shared = [path.resolve(root, '../shared/bench'), '/work/shared/bench'].find((p) => fs.existsSync(path.join(p, 'make-vm-image.mjs')));
if (!shared) throw new Error('cannot find shared/bench/make-vm-image.mjs next to the repository');
const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const wanted = opt('--tools', 'coffer,restic,borg').split(',');
const tools = wanted.filter((t) => t === 'coffer' || has(t));
const timeBin = fs.existsSync('/usr/bin/time') ? '/usr/bin/time' : null;
const MiB = 1024 * 1024;

const log = (...a) => console.log(...a);
fs.rmSync(work, { recursive: true, force: true });
fs.mkdirSync(work, { recursive: true });
const img = (n) => path.join(work, n);

function node(script, ...a) {
  const r = spawnSync(process.execPath, [path.join(shared, script), ...a], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${script} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1));
}

function sha256File(file) {
  const h = createHash('sha256');
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.alloc(8 * MiB);
  for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0; ) h.update(buf.subarray(0, n));
  fs.closeSync(fd);
  return h.digest('hex');
}

function dirBytes(d) {
  let s = 0;
  if (!fs.existsSync(d)) return 0;
  for (const e of fs.readdirSync(d, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) s += fs.statSync(path.join(e.parentPath ?? e.path, e.name)).size;
  }
  return s;
}

function findFile(d, name) {
  for (const e of fs.readdirSync(d, { withFileTypes: true, recursive: true })) {
    if (e.isFile() && e.name === name) return path.join(e.parentPath ?? e.path, e.name);
  }
  throw new Error(`${name} not found under ${d}`);
}

function warm(file) {
  // Images in page cache, as the reference figures were measured.
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.alloc(8 * MiB);
  while (fs.readSync(fd, buf, 0, buf.length, null) > 0);
  fs.closeSync(fd);
}

/** Busy share of each core since the last sample, from /proc/stat (Linux; [] elsewhere). */
function coreTimes() {
  try {
    return fs
      .readFileSync('/proc/stat', 'utf8')
      .split('\n')
      .filter((l) => /^cpu\d+ /.test(l))
      .map((l) => {
        const f = l.trim().split(/\s+/).slice(1).map(Number);
        return { total: f.reduce((a, b) => a + b, 0), idle: f[3] + (f[4] ?? 0) };
      });
  } catch {
    return [];
  }
}

/**
 * Samples every core's busy share every 100 ms while a run lasts: per core the mean over the run
 * and the lowest 100 ms sample (the whole machine's load, other processes included; the run's own
 * share is cpu_seconds / seconds / cores).
 */
function coreSampler() {
  const first = coreTimes();
  let prev = first;
  const lows = first.map(() => 100);
  const timer = setInterval(() => {
    const now = coreTimes();
    now.forEach((c, k) => {
      const dt = c.total - prev[k].total;
      if (dt > 0) lows[k] = Math.min(lows[k], 100 * (1 - (c.idle - prev[k].idle) / dt));
    });
    prev = now;
  }, 100);
  return () => {
    clearInterval(timer);
    const last = coreTimes();
    return last.map((c, k) => {
      const dt = c.total - first[k].total;
      return { mean: dt > 0 ? +(100 * (1 - (c.idle - first[k].idle) / dt)).toFixed(0) : 0, min: +lows[k].toFixed(0) };
    });
  };
}

/**
 * Runs a command, returns wall seconds, peak RSS (of the process tree's largest, via time or
 * VmHWM), the CPU-seconds it used (user + system, via time), the cores' busy shares and stdout.
 */
function run(cmd, argv, { env = {}, cwd } = {}) {
  return new Promise((resolve, reject) => {
    const useTime = timeBin !== null;
    const full = useTime ? [timeBin, ['-f', '__RSS__%M __CPU__%U %S', cmd, ...argv]] : [cmd, argv];
    const cores = coreSampler();
    const t0 = process.hrtime.bigint();
    const child = spawn(full[0], full[1], { env: { ...process.env, ...env }, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let hwm = 0;
    const poll = useTime
      ? null
      : setInterval(() => {
          try {
            const m = /VmHWM:\s+(\d+)/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'));
            if (m) hwm = Math.max(hwm, Number(m[1]) * 1024);
          } catch {
            // the process has just exited
          }
        }, 20);
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (poll) clearInterval(poll);
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      const busy = cores();
      const m = /__RSS__(\d+)/.exec(err);
      if (m) hwm = Number(m[1]) * 1024;
      const c = /__CPU__([\d.]+) ([\d.]+)/.exec(err);
      const cpu = c ? +(Number(c[1]) + Number(c[2])).toFixed(2) : null;
      if (code !== 0) return reject(new Error(`${cmd} ${argv.join(' ')} failed (${code}): ${err.slice(-2000)}`));
      // COFFER_MEMTRACE=1: coffer-cli.mjs prints where its memory went; pass it on.
      for (const line of err.split('\n')) if (line.startsWith('memtrace ')) log(`    ${line}`);
      resolve({ seconds, peak: hwm, out, cpu, busy });
    });
  });
}

// ---- images ----
log(`images: ${size} in ${work} (generators from ${shared})`);
const base = node('make-vm-image.mjs', img('base.img'), size);
const logical = base.size;
fs.copyFileSync(img('base.img'), img('mut.img')); // replaced below by a sparse copy
spawnSync('cp', ['--sparse=always', img('base.img'), img('mut.img')]);
const mut = node('mutate-image.mjs', img('mut.img'));
node('make-second-vm.mjs', img('base.img'), img('second.img'));
const want = { base: sha256File(img('base.img')), mut: sha256File(img('mut.img')), second: sha256File(img('second.img')) };
log(`composition ${JSON.stringify(base.composition)}, mutation changed ${(mut.bytesChanged / 1e6).toFixed(0)} MB`);
// CPU-seconds per GiB of each backup stage and the compression choices (test/bench/stages.mjs).
const reps = smoke ? 1 : 3;
const stages = await stageCosts(img('base.img'), { ...(chunkSize ? { chunkSize: Number(chunkSize) } : {}), reps });
printStages(stages, log);
const compression = await compressionChoices(img('base.img'), { ...(chunkSize ? { chunkSize: Number(chunkSize) } : {}), reps });
printCompression(compression, log);

const results = [];
const repoSizes = {};
const loadNow = () => os.loadavg()[0];
/** coffer-cli.mjs prints its main thread's CPU-seconds in its JSON line. */
const mainCpu = (r) => {
  try {
    return JSON.parse(r.out.trim().split('\n').at(-1)).mainThreadCpuSeconds;
  } catch {
    return undefined;
  }
};
const add = (tool, kase, r, added) => {
  const row = {
    tool,
    case: kase,
    seconds: +r.seconds.toFixed(3),
    mib_per_s: +(logical / MiB / r.seconds).toFixed(1),
    added_bytes: added,
    peak_rss_bytes: r.peak,
    cpu_seconds: r.cpu,
    /** The run's own use of the machine's cores: CPU-seconds / wall seconds / cores, in %. */
    cpu_share_pct: r.cpu !== null ? +((100 * r.cpu) / r.seconds / os.cpus().length).toFixed(0) : null,
    cores_busy_pct: r.busy,
    ...(mainCpu(r) !== undefined ? { main_thread_cpu_seconds: mainCpu(r) } : {}),
    load_1min: +loadNow().toFixed(2),
  };
  results.push(row);
  const busy = r.busy.map((b) => `${b.mean}/${b.min}`).join(' ');
  log(
    `  ${tool.padEnd(6)} ${kase.padEnd(11)} ${row.seconds.toFixed(2).padStart(7)} s ${row.mib_per_s.toFixed(0).padStart(6)} MiB/s  +${(added / 1e6).toFixed(1).padStart(8)} MB  rss ${(r.peak / MiB).toFixed(0)} MiB  cpu ${r.cpu ?? '?'} s${row.main_thread_cpu_seconds !== undefined ? ` (main thread ${row.main_thread_cpu_seconds})` : ''} (${row.cpu_share_pct ?? '?'}% of the cores)  cores busy mean/min % ${busy}  load ${row.load_1min}`,
  );
};

// The machine's limits in this run: reading the image from page cache, and writing it as a sparse copy.
log('system:');
warm(img('base.img'));
add('system', 'limit_read', await run('sh', ['-c', `cat "${img('base.img')}" > /dev/null`]), 0);
warm(img('second.img'));
add('system', 'limit_write', await run('cp', ['--sparse=always', img('second.img'), img('limit-write.img')]), 0);
fs.rmSync(img('limit-write.img'), { force: true });
const cases = [
  ['full', 'a', 'base.img'],
  ['incremental', 'a', 'mut.img'],
  ['second_vm', 'b', 'second.img'],
];

for (const tool of tools) {
  const repo = path.join(work, `repo-${tool}`);
  const target = path.join(work, `restore-${tool}`);
  log(`${tool}:`);
  const env = {
    RESTIC_PASSWORD: 'bench passphrase',
    RESTIC_CACHE_DIR: path.join(work, 'restic-cache'),
    BORG_PASSPHRASE: 'bench passphrase',
    BORG_BASE_DIR: path.join(work, 'borg-base'),
    BORG_RELOCATED_REPO_ACCESS_IS_OK: 'yes',
  };
  const coffer = (...a) => run(process.execPath, [path.join(root, 'test/bench/coffer-cli.mjs'), ...a], { env });
  if (tool === 'coffer') await coffer('init', repo, ...(chunkSize ? [chunkSize] : []));
  if (tool === 'restic') await run('restic', ['-r', repo, 'init', '--repository-version', '2'], { env });
  if (tool === 'borg') await run('borg', ['init', '-e', 'repokey-blake2', repo], { env });
  for (const [kase, vm, file] of cases) {
    warm(img(file));
    const before = dirBytes(repo);
    let r;
    if (tool === 'coffer') r = await coffer('backup', repo, vm, img(file));
    if (tool === 'restic') r = await run('restic', ['-r', repo, 'backup', '--compression', 'auto', '--host', vm, img(file)], { env });
    if (tool === 'borg') r = await run('borg', ['create', '-C', 'zstd,3', `${repo}::${kase}`, img(file)], { env, cwd: work });
    add(tool, kase, r, dirBytes(repo) - before);
  }
  repoSizes[tool] = dirBytes(repo);
  // Restore the newest point (the second VM) and check it byte for byte.
  fs.rmSync(target, { recursive: true, force: true });
  let r;
  if (tool === 'coffer') r = await coffer('restore', repo, target);
  if (tool === 'restic') r = await run('restic', ['-r', repo, 'restore', 'latest', '--target', target], { env });
  if (tool === 'borg') {
    fs.mkdirSync(target, { recursive: true });
    r = await run('borg', ['extract', '--sparse', `${repo}::second_vm`], { env, cwd: target });
  }
  const restored = findFile(target, tool === 'coffer' ? 'disk.img' : 'second.img');
  const ok = sha256File(restored) === want.second;
  if (!ok) throw new Error(`${tool} restore does not match second.img`);
  add(tool, 'restore', r, 0);
  fs.rmSync(target, { recursive: true, force: true });
  if (!keep) fs.rmSync(repo, { recursive: true, force: true });
}

// ---- table ----
const get = (tool, kase) => results.find((r) => r.tool === tool && r.case === kase);
log(`\n| case | ${tools.map((t) => `${t} s | MiB/s | added MB | RSS MiB`).join(' | ')} | ${tools.filter((t) => t !== 'coffer').map((t) => `coffer/${t} speed | bytes`).join(' | ')} |`);
for (const kase of ['full', 'incremental', 'second_vm', 'restore']) {
  const cells = tools.map((t) => {
    const r = get(t, kase);
    return `${r.seconds.toFixed(2)} | ${r.mib_per_s.toFixed(0)} | ${(r.added_bytes / 1e6).toFixed(1)} | ${(r.peak_rss_bytes / MiB).toFixed(0)}`;
  });
  const ratios = tools
    .filter((t) => t !== 'coffer')
    .map((t) => {
      const c = get('coffer', kase);
      const o = get(t, kase);
      const speed = (c.mib_per_s / o.mib_per_s).toFixed(2);
      const bytes = o.added_bytes > 0 ? (c.added_bytes / o.added_bytes).toFixed(2) : '-';
      return `${speed}x | ${bytes}`;
    });
  log(`| ${kase} | ${cells.join(' | ')} | ${ratios.join(' | ')} |`);
}
for (const kase of ['limit_read', 'limit_write']) {
  const r = get('system', kase);
  log(`| ${kase} | ${r.seconds.toFixed(2)} | ${r.mib_per_s.toFixed(0)} | ${kase === 'limit_read' ? 'cat IMAGE > /dev/null' : 'cp --sparse=always IMAGE NEW'} |`);
}
log(`repository after the three backups (MB): ${Object.entries(repoSizes).map(([t, b]) => `${t} ${(b / 1e6).toFixed(0)}`).join(', ')}`);
// The issue-13 targets as ratios of this run: full >= 4x restic with both cores > 85% busy,
// restore >= 2.5x restic and >= half of limit_write.
const ratio = (a, b) => (a && b ? +(a.mib_per_s / b.mib_per_s).toFixed(2) : null);
const ratios = {
  full_over_restic: ratio(get('coffer', 'full'), get('restic', 'full')),
  restore_over_restic: ratio(get('coffer', 'restore'), get('restic', 'restore')),
  restore_over_limit_write: ratio(get('coffer', 'restore'), get('system', 'limit_write')),
  full_over_limit_read: ratio(get('coffer', 'full'), get('system', 'limit_read')),
};
log(`ratios: ${Object.entries(ratios).map(([k, v]) => `${k} ${v ?? '-'}`).join(', ')}`);
for (const kase of ['full', 'restore']) {
  const r = get('coffer', kase);
  if (r) log(`coffer ${kase}: ${r.cpu_seconds ?? '?'} CPU-s (${r.cpu_share_pct ?? '?'}% of the cores), cores busy mean/min % ${r.cores_busy_pct.map((b) => `${b.mean}/${b.min}`).join(' ')}, load ${r.load_1min}`);
}

const version = (cmd, a) => (has(cmd) ? spawnSync(cmd, a, { encoding: 'utf8' }).stdout.trim().split('\n')[0] : null);
const machine = {
  cpus: os.cpus().length,
  cpu_model: os.cpus()[0]?.model ?? '?',
  mem_bytes: os.totalmem(),
  node: process.version,
  restic: version('restic', ['version']),
  borg: version('borg', ['--version']),
  image_bytes: logical,
  image_size: size,
  composition: base.composition,
  mutation_changed_bytes: mut.bytesChanged,
  coffer_chunk_size: chunkSize ? Number(chunkSize) : 'default',
  repo_bytes_after_three_backups: repoSizes,
  stages,
  compression,
  smoke,
};
fs.writeFileSync('bench-results.json', `${JSON.stringify({ machine, results, ratios }, null, 2)}\n`);
log(`wrote ${path.resolve('bench-results.json')}`);
if (!keep) fs.rmSync(work, { recursive: true, force: true });
