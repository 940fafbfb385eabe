#!/usr/bin/env node
// Bench case incremental_cbt (issue 13 §6): a running libvirt domain (KVM, or QEMU's TCG where
// /dev/kvm is absent) with a qcow2 disk holding the reference image, 2% of it rewritten by
// scattered 64 KiB guest writes (through the QEMU monitor, as the guest's own writes go), then
// Coffer's changed-block incremental (libvirt checkpoint + pull backup over NBD) against restic
// backing up the same disk file (the qcow2, read while the domain is paused). Target: at least
// 20x restic's speed, adding at most half of restic's bytes. Appends to bench-results.json.
// Coffer runs as an admin runs it: `coffer serve` (the host: vault unlocked once, as the desktop
// app or a scheduler holds it) and `coffer backup now VM --wait` through it. Two figures: the CLI's
// wall time (what the admin waits for: CLI start, reaching the host, the job) and the Backup job's
// own time from the job log (what a scheduled nightly costs). restic has no host: its process wall
// time, and it re-reads the changed qcow2 whole (its metadata skip cannot apply: the file changed).
// node test/bench/incremental-cbt.mjs [--smoke] [--size 4G] [--work DIR] [--keep]
// Skips (exit 0, with the reason) without root, libvirt, qemu or restic. Needs dist/cli.mjs.
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { guestDomainXml, QEMU_DOMAIN_TYPE } from '../helpers/guest-domain.mjs';
import { processCpuSeconds, startHost, threadCpuSeconds } from './coffer-host.mjs';
import { NODE_FLAGS } from '../../scripts/node-flags.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const URI = 'qemu:///system';
const args = process.argv.slice(2);
const MiB = 1024 * 1024;

// ---- child: the check restore (untimed), from the vault folder ----
if (args[0] === '--child') {
  const { Vault, LocalFolderStore } = await import(pathToFileURL(path.join(root, 'dist/bench-cbt.mjs')).href);
  const [, op, repo, a] = args;
  const pass = 'bench passphrase';
  const t0 = process.hrtime.bigint();
  let out = {};
  if (op === 'restore') {
    const v = await Vault.open(new LocalFolderStore(repo), pass);
    const points = await v.listPoints();
    const res = await v.restore(points.at(-1).id, a);
    out = { file: res.files[0].path };
    await v.close();
  }
  out.seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  process.stdout.write(`${JSON.stringify(out)}\n`);
  process.exit(0);
}

const opt = (n, d) => {
  const i = args.indexOf(n);
  return i >= 0 ? args[i + 1] : d;
};
const smoke = args.includes('--smoke');
const size = opt('--size', smoke ? '64M' : '4G');
// Its own folder under --work: vault-bench.mjs's (kept with --keep) is left alone.
const work = path.join(path.resolve(opt('--work', path.join(os.tmpdir(), 'coffer-bench'))), 'incremental-cbt');
const keep = args.includes('--keep');
const log = (...a) => console.log(...a);
const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const resultsFile = path.resolve('bench-results.json');

function writeResults(rows, skipped) {
  const prior = fs.existsSync(resultsFile) ? JSON.parse(fs.readFileSync(resultsFile, 'utf8')) : { results: [] };
  prior.results = [...(prior.results ?? []).filter((r) => r.case !== 'incremental_cbt'), ...rows];
  prior.skipped = { ...(prior.skipped ?? {}) };
  if (skipped) prior.skipped.incremental_cbt = skipped;
  else delete prior.skipped.incremental_cbt;
  fs.writeFileSync(resultsFile, `${JSON.stringify(prior, null, 2)}\n`);
}

function whyNot() {
  if (process.platform !== 'linux') return 'not Linux';
  if (process.getuid?.() !== 0) return 'not root (the bench starts libvirtd and defines a domain)';
  for (const t of ['virsh', 'libvirtd', 'virtlogd', 'qemu-system-x86_64', 'qemu-img', 'restic']) if (!has(t)) return `${t} is not installed`;
  const answers = () => spawnSync('virsh', ['-c', URI, 'version'], { stdio: 'ignore', timeout: 10_000 }).status === 0;
  if (answers()) return undefined;
  spawnSync('virtlogd', ['-d'], { stdio: 'ignore' });
  spawnSync('libvirtd', ['-d'], { stdio: 'ignore' });
  for (let i = 0; i < 40; i++) {
    if (answers()) return undefined;
    spawnSync('sleep', ['0.25']);
  }
  return `virsh -c ${URI} does not answer after starting libvirtd`;
}

const why = whyNot();
if (why) {
  log(`incremental_cbt skipped: ${why}`);
  writeResults([], why);
  process.exit(0);
}

const shared = [path.resolve(root, '../shared/bench'), '/work/shared/bench'].find((p) => fs.existsSync(path.join(p, 'make-vm-image.mjs')));
if (!shared) throw new Error('cannot find shared/bench/make-vm-image.mjs next to the repository');
const { bundleWithWorker } = await import('./bench-util.mjs');
await bundleWithWorker({ 'bench-cbt': path.join(root, 'test/bench/incremental-cbt-entry.ts') });

const virsh = (...a) => {
  const r = spawnSync('virsh', ['-c', URI, ...a], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`virsh ${a.join(' ')}: ${r.stderr.trim()}`);
  return r.stdout;
};
const sh = (cmd, a, extraEnv = {}) => {
  const r = spawnSync(cmd, a, { encoding: 'utf8', maxBuffer: 64 * MiB, env: { ...process.env, ...extraEnv } });
  if (r.status !== 0) throw new Error(`${cmd} ${a.join(' ')}: ${r.stderr.trim()}`);
  return r.stdout;
};

function dirBytes(d) {
  let s = 0;
  if (!fs.existsSync(d)) return 0;
  for (const e of fs.readdirSync(d, { withFileTypes: true, recursive: true })) if (e.isFile()) s += fs.statSync(path.join(e.parentPath ?? e.path, e.name)).size;
  return s;
}

function sha256File(file) {
  const h = createHash('sha256');
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.alloc(8 * MiB);
  for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0; ) h.update(buf.subarray(0, n));
  fs.closeSync(fd);
  return h.digest('hex');
}

/** Runs a command under /usr/bin/time: wall seconds, CPU seconds (user+sys, children included), peak RSS, stdout. */
function timed(cmd, argv, env = {}) {
  return new Promise((resolve, reject) => {
    const useTime = fs.existsSync('/usr/bin/time');
    const [c, a] = useTime ? ['/usr/bin/time', ['-f', '__TIME__ %U %S %M', cmd, ...argv]] : [cmd, argv];
    const t0 = process.hrtime.bigint();
    const child = spawn(c, a, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      if (code !== 0) return reject(new Error(`${cmd} ${argv.join(' ')} failed (${code}): ${err.slice(-2000)}`));
      const m = /__TIME__ ([\d.]+) ([\d.]+) (\d+)/.exec(err);
      resolve({ seconds, cpu: m ? Number(m[1]) + Number(m[2]) : null, peak: m ? Number(m[3]) * 1024 : 0, out });
    });
  });
}

/** A deterministic PRNG (mulberry32), so every run writes the same places. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** 2% of the disk in non-overlapping 64 KiB writes at 4 KiB-aligned offsets, as mutate-image.mjs places them. */
function writePlan(bytes) {
  const P = 4096;
  const W = 64 * 1024;
  const pages = Math.floor(bytes / P);
  const used = new Uint8Array(pages);
  const rand = prng(42);
  const out = [];
  for (let written = 0; written < Math.floor(bytes * 0.02); ) {
    const p0 = Math.floor(rand() * (pages - W / P));
    let free = true;
    for (let i = p0; i < p0 + W / P; i++) if (used[i]) free = false;
    if (!free) continue;
    used.fill(1, p0, p0 + W / P);
    out.push(p0 * P);
    written += W;
  }
  return out;
}

/** The guest's writes through the QEMU monitor, all in one virsh session (one process, not one per write). */
function guestWrites(uuid, offsets, srcDir) {
  const info = virsh('qemu-monitor-command', uuid, '--hmp', 'info block');
  const dev = /Attached to:\s+(\S+)/.exec(info)?.[1];
  if (!dev) throw new Error(`no attached block device: ${info}`);
  fs.mkdirSync(srcDir, { recursive: true });
  const lines = offsets.map((off, i) => {
    // Fresh content for every write (60% random, 30% text-like, 10% zeros, as mutate-image.mjs).
    const src = path.join(srcDir, `w${i}`);
    const kind = i % 10;
    const line = `line ${i} of the guest's log: ${randomBytes(24).toString('hex')}\n`;
    const buf = kind < 6 ? randomBytes(64 * 1024) : kind < 9 ? Buffer.from(line.repeat(Math.ceil((64 * 1024) / line.length))).subarray(0, 64 * 1024) : Buffer.alloc(64 * 1024);
    fs.writeFileSync(src, buf);
    return `qemu-monitor-command ${uuid} --hmp 'qemu-io -d ${dev} "write -s ${src} ${off} 65536"'`;
  });
  const r = spawnSync('virsh', ['-c', URI], { input: `${lines.join('\n')}\nquit\n`, encoding: 'utf8', maxBuffer: 64 * MiB });
  if (r.status !== 0 || /error/i.test(r.stdout + r.stderr)) throw new Error(`guest writes failed: ${(r.stderr || r.stdout).slice(-2000)}`);
  fs.rmSync(srcDir, { recursive: true, force: true });
}

/** sha256 of the disk as the guest sees it (the domain paused, converted to raw). */
function guestView(uuid, disk, raw) {
  virsh('suspend', uuid);
  try {
    sh('qemu-img', ['convert', '-U', '-f', 'qcow2', '-O', 'raw', disk, raw]);
  } finally {
    virsh('resume', uuid);
  }
  const h = sha256File(raw);
  fs.rmSync(raw);
  return h;
}

fs.rmSync(work, { recursive: true, force: true });
fs.mkdirSync(work, { recursive: true });
fs.chmodSync(work, 0o755);
const name = `coffer-bench-cbt-${randomBytes(3).toString('hex')}`;
const disk = path.join(work, 'disk.qcow2');
const repo = path.join(work, 'repo-coffer');
const restic = path.join(work, 'repo-restic');
const env = { RESTIC_PASSWORD: 'bench passphrase', RESTIC_CACHE_DIR: path.join(work, 'restic-cache') };
const domainType = QEMU_DOMAIN_TYPE;
let defined = false;
let stopHost = async () => undefined;
try {
  log(`incremental_cbt: ${size} reference image in a qcow2 disk of a running ${domainType} domain, in ${work}`);
  const base = JSON.parse(sh(process.execPath, [path.join(shared, 'make-vm-image.mjs'), path.join(work, 'base.img'), size]).trim().split('\n').at(-1));
  sh('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', '-o', 'compat=1.1', path.join(work, 'base.img'), disk]);
  fs.rmSync(path.join(work, 'base.img'));
  fs.rmSync(path.join(work, 'base.img.layout.json'), { force: true });
  const xml = path.join(work, 'domain.xml');
  fs.writeFileSync(xml, guestDomainXml({ name, disk }));
  virsh('define', xml);
  defined = true;
  virsh('start', name);
  const uuid = virsh('domuuid', name).trim();

  const child = (...a) => timed(process.execPath, [...NODE_FLAGS, fileURLToPath(import.meta.url), '--child', ...a]);
  // Coffer as an admin runs it: a console data folder, the system libvirt as a source, the domain
  // registered and protected, `coffer serve` running, `coffer backup now` through it.
  const cliPath = path.join(root, 'dist/cli.mjs');
  if (!fs.existsSync(cliPath)) throw new Error('dist/cli.mjs is missing: run `npm run build` first');
  const data = path.join(work, 'data');
  const cenv = { COFFER_PASSPHRASE: 'bench passphrase' };
  const coffer = (...a) => timed(process.execPath, [...NODE_FLAGS, cliPath, '--data-dir', data, ...a], cenv);
  await coffer('vault', 'create', 'bench', '--region', 'local', '--path', repo);
  await coffer('source', 'add', 'libvirt', URI, '--region', 'local', '--name', 'kvm');
  await coffer('vm', 'discover', '--vault', 'bench');
  await coffer('vm', 'register', '--vault', 'bench', name);
  await coffer('protect', '--vault', 'bench', '--policy', 'DefaultPolicy', name);
  // Its vault workers name themselves (COFFER_BENCH_THREADS), so the host's CPU is given by thread.
  stopHost = await startHost(cliPath, data, { ...cenv, COFFER_BENCH_THREADS: '1' });
  const backupNow = async () => {
    const t = await coffer('backup', 'now', name, '--wait', '--json');
    const [job] = JSON.parse(t.out);
    if (job.status !== 'Completed' && job.status !== 'CompletedWithWarnings') throw new Error(`the backup failed: ${JSON.stringify(job.error ?? job)}`);
    return { ...t, job, jobSeconds: (Date.parse(job.endedAt) - Date.parse(job.startedAt)) / 1000 };
  };
  const first = await backupNow();
  sh('restic', ['-r', restic, 'init', '--repository-version', '2'], env);
  const resticBackup = async () => {
    virsh('suspend', uuid);
    try {
      return await timed('restic', ['-r', restic, 'backup', '--compression', 'auto', '--host', 'vm', disk], env);
    } finally {
      virsh('resume', uuid);
    }
  };
  const resticFirst = await resticBackup();
  log(`  first backups: coffer ${first.seconds.toFixed(2)} s (job ${first.jobSeconds.toFixed(2)} s, ${first.job.details.reads[0].reason}), restic ${resticFirst.seconds.toFixed(2)} s`);

  const virtual = first.job.details.logicalBytes;
  const offsets = writePlan(virtual);
  guestWrites(uuid, offsets, path.join(work, 'writes'));
  log(`  guest wrote ${offsets.length} x 64 KiB (${((offsets.length * 64 * 1024) / MiB).toFixed(0)} MiB, 2%)`);
  const want = guestView(uuid, disk, path.join(work, 'view.raw'));

  let before = dirBytes(repo);
  const load = os.loadavg().map((x) => +x.toFixed(2));
  // CPU of the host (the job) and of QEMU (the NBD export, all its threads) over the incremental.
  const qemuPid = Number(fs.readFileSync(`/run/libvirt/qemu/${name}.pid`, 'utf8'));
  // and the bytes QEMU had the storage (not the page cache) fetch for it (/proc/PID/io read_bytes).
  const storageRead = () => Number(/read_bytes: (\d+)/.exec(fs.readFileSync(`/proc/${qemuPid}/io`, 'utf8'))?.[1] ?? NaN);
  const cpu0 = { host: processCpuSeconds(stopHost.pid), qemu: processCpuSeconds(qemuPid), storage: storageRead() };
  const threads0 = threadCpuSeconds(stopHost.pid);
  const c = await backupNow();
  const threads1 = threadCpuSeconds(stopHost.pid);
  const hostThreads = threads0 && threads1 ? Object.fromEntries(Object.keys(threads0).map((k) => [k, +(threads1[k] - threads0[k]).toFixed(2)])) : null;
  const cpuOf = (what, pid) => {
    const now = processCpuSeconds(pid);
    return now === null || cpu0[what] === null ? null : +(now - cpu0[what]).toFixed(2);
  };
  const hostCpu = cpuOf('host', stopHost.pid);
  const qemuCpu = cpuOf('qemu', qemuPid);
  const qemuStorageBytes = storageRead() - cpu0.storage;
  const cOut = { readBytes: c.job.details.bytesRead, reads: c.job.details.reads, jobSeconds: c.jobSeconds };
  if (cOut.reads[0].read !== 'changed') throw new Error(`Coffer's second backup was not incremental: ${JSON.stringify(cOut.reads)}`);
  const cAdded = dirBytes(repo) - before;
  log(`  coffer incremental: CLI ${c.seconds.toFixed(2)} s, job ${c.jobSeconds.toFixed(3)} s, read ${cOut.readBytes} bytes; CPU: host ${hostCpu} s${hostThreads ? ` (main thread ${hostThreads.main}, workers ${hostThreads.workers}, V8 and libuv ${hostThreads.helpers})` : ''}, QEMU ${qemuCpu} s; QEMU read ${qemuStorageBytes} bytes from the storage`);
  // Where the job's time went (its own timestamps, from the job's details): start and length of each step.
  const steps = c.job.details.steps ?? [];
  for (const s of steps) log(`    ${String(s.at).padStart(6)} ms +${String(s.ms).padStart(6)} ms  ${s.step}`);
  before = dirBytes(restic);
  const r = await resticBackup();
  const rAdded = dirBytes(restic) - before;
  await stopHost();

  // The incremental point restores to exactly what the guest saw.
  const target = path.join(work, 'restore');
  const rs = JSON.parse((await child('restore', repo, target)).out);
  if (sha256File(rs.file) !== want) throw new Error('the restored incremental point differs from the guest view');
  fs.rmSync(target, { recursive: true, force: true });

  const row = (tool, t, added, extra = {}) => ({
    tool,
    case: 'incremental_cbt',
    seconds: +t.seconds.toFixed(3),
    mib_per_s: +(virtual / MiB / t.seconds).toFixed(1),
    added_bytes: added,
    peak_rss_bytes: t.peak,
    cpu_seconds: t.cpu === null ? null : +t.cpu.toFixed(2),
    ...extra,
  });
  // seconds: the CLI's wall time (`coffer backup now --wait` through the host: CLI start, reaching
  // the host, the job); cpu_seconds: the CLI process only (the job's CPU is the host's); job_seconds:
  // the Backup job alone, from the job log (a scheduled backup costs this); host_cpu_seconds and
  // qemu_cpu_seconds: the host's and QEMU's CPU over the incremental. restic: its process.
  const rows = [
    row('coffer', c, cAdded, { read_bytes: cOut.readBytes, job_seconds: cOut.jobSeconds, host_cpu_seconds: hostCpu, host_thread_cpu_seconds: hostThreads, qemu_cpu_seconds: qemuCpu, qemu_storage_read_bytes: qemuStorageBytes, load_average: load, steps }),
    row('restic', r, rAdded, { read_bytes: fs.statSync(disk).size, load_average: load }),
  ];
  const [rc, rr] = rows;
  log(`\n| case | coffer CLI s | job s | MiB/s | added MB | RSS MiB | CPU s | read MB | restic s | MiB/s | added MB | RSS MiB | CPU s | coffer/restic speed (CLI, job) | CPU | bytes |`);
  log(
    `| incremental_cbt | ${rc.seconds.toFixed(2)} | ${rc.job_seconds.toFixed(2)} | ${rc.mib_per_s.toFixed(0)} | ${(rc.added_bytes / 1e6).toFixed(1)} | ${(rc.peak_rss_bytes / MiB).toFixed(0)} | ${rc.cpu_seconds} | ${(rc.read_bytes / 1e6).toFixed(1)} | ${rr.seconds.toFixed(2)} | ${rr.mib_per_s.toFixed(0)} | ${(rr.added_bytes / 1e6).toFixed(1)} | ${(rr.peak_rss_bytes / MiB).toFixed(0)} | ${rr.cpu_seconds} | ${(rr.seconds / rc.seconds).toFixed(2)}x, ${(rr.seconds / rc.job_seconds).toFixed(2)}x | ${rc.cpu_seconds && rr.cpu_seconds ? `${(rr.cpu_seconds / rc.cpu_seconds).toFixed(2)}x` : '-'} | ${(rc.added_bytes / rr.added_bytes).toFixed(2)} |`,
  );
  log(`load average at the incremental: ${load.join(' ')}; the target compares the job time (a nightly run by the host) with restic's`);
  log(`target: at least 20x restic's speed, at most 0.5 of its bytes (virtual disk ${(virtual / MiB).toFixed(0)} MiB, ${base.composition ? JSON.stringify(base.composition) : ''})`);
  writeResults(rows.map((x) => ({ ...x, smoke, image_size: size, domain_type: domainType })));
  log(`wrote ${resultsFile}`);
} finally {
  await stopHost().catch(() => undefined);
  if (defined) {
    spawnSync('virsh', ['-c', URI, 'domjobabort', name], { stdio: 'ignore' });
    spawnSync('virsh', ['-c', URI, 'destroy', name], { stdio: 'ignore' });
    spawnSync('virsh', ['-c', URI, 'undefine', name, '--checkpoints-metadata'], { stdio: 'ignore' });
  }
  if (!keep) fs.rmSync(work, { recursive: true, force: true });
}
