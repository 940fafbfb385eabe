#!/usr/bin/env node
// Coffer vs restic vs borg on the reference VM images (see ../shared/bench/README.md).
// node test/bench/vault-bench.mjs [--smoke] [--size 4G] [--work DIR] [--chunk-size N] [--tools coffer,restic,borg] [--keep]
// Needs dist/bench-engine.mjs and dist/vault-worker.mjs (test/bench/run.mjs builds them).
import { spawn, spawnSync } from 'node:child_process';
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

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

/** Runs a command, returns wall seconds, peak RSS (of the process tree's largest, via time or VmHWM) and stdout. */
function run(cmd, argv, { env = {}, cwd } = {}) {
  return new Promise((resolve, reject) => {
    const useTime = timeBin !== null;
    const full = useTime ? [timeBin, ['-f', '__RSS__%M', cmd, ...argv]] : [cmd, argv];
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
      const m = /__RSS__(\d+)/.exec(err);
      if (m) hwm = Number(m[1]) * 1024;
      if (code !== 0) return reject(new Error(`${cmd} ${argv.join(' ')} failed (${code}): ${err.slice(-2000)}`));
      // COFFER_MEMTRACE=1: coffer-cli.mjs prints where its memory went; pass it on.
      for (const line of err.split('\n')) if (line.startsWith('memtrace ')) log(`    ${line}`);
      resolve({ seconds, peak: hwm, out });
    });
  });
}

// ---- raw CPU throughput of the pipeline's stages (one thread) ----
function rawThroughput() {
  const require = createRequire(path.join(root, 'package.json'));
  const zstd = require('zstd-napi');
  const chunk = 128 * 1024;
  const data = [];
  const fd = fs.openSync(img('base.img'), 'r');
  const total = Math.min(fs.statSync(img('base.img')).size, 256 * MiB);
  const zero = Buffer.alloc(chunk);
  for (let o = 0; o < total; o += chunk) {
    const b = Buffer.alloc(chunk);
    fs.readSync(fd, b, 0, chunk, o);
    if (!b.equals(zero)) data.push(b);
  }
  fs.closeSync(fd);
  const bytes = data.length * chunk;
  const rate = (fn) => {
    const t = process.hrtime.bigint();
    for (const b of data) fn(b);
    return bytes / MiB / (Number(process.hrtime.bigint() - t) / 1e9);
  };
  const key = randomBytes(32);
  const c = new zstd.Compressor();
  c.setParameters({ compressionLevel: 1 });
  return {
    chunk_bytes: chunk,
    sample_mib: +(bytes / MiB).toFixed(1),
    zero_check_mib_per_s: +rate((b) => b.equals(zero)).toFixed(0),
    sha256_mib_per_s: +rate((b) => createHash('sha256').update(b).digest()).toFixed(0),
    zstd1_mib_per_s: +rate((b) => c.compress(b)).toFixed(0),
    aes256gcm_mib_per_s: +rate((b) => {
      const x = createCipheriv('aes-256-gcm', key, randomBytes(12));
      x.update(b);
      x.final();
    }).toFixed(0),
  };
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
const raw = rawThroughput();
log(`raw single-thread throughput (MiB/s, ${raw.chunk_bytes / 1024} KiB chunks): zero check ${raw.zero_check_mib_per_s}, sha256 ${raw.sha256_mib_per_s}, zstd-1 ${raw.zstd1_mib_per_s}, AES-256-GCM ${raw.aes256gcm_mib_per_s}`);

const results = [];
const repoSizes = {};
const add = (tool, kase, seconds, added, peak) => {
  const r = { tool, case: kase, seconds: +seconds.toFixed(3), mib_per_s: +(logical / MiB / seconds).toFixed(1), added_bytes: added, peak_rss_bytes: peak };
  results.push(r);
  log(`  ${tool.padEnd(6)} ${kase.padEnd(11)} ${r.seconds.toFixed(2).padStart(7)} s ${r.mib_per_s.toFixed(0).padStart(6)} MiB/s  +${(added / 1e6).toFixed(1).padStart(8)} MB  rss ${(peak / MiB).toFixed(0)} MiB`);
};
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
    add(tool, kase, r.seconds, dirBytes(repo) - before, r.peak);
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
  add(tool, 'restore', r.seconds, 0, r.peak);
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
log(`repository after the three backups (MB): ${Object.entries(repoSizes).map(([t, b]) => `${t} ${(b / 1e6).toFixed(0)}`).join(', ')}`);

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
  raw_throughput: raw,
  smoke,
};
fs.writeFileSync('bench-results.json', `${JSON.stringify({ machine, results }, null, 2)}\n`);
log(`wrote ${path.resolve('bench-results.json')}`);
if (!keep) fs.rmSync(work, { recursive: true, force: true });
