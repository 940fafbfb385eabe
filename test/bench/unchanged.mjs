#!/usr/bin/env node
// Case `unchanged` (issue 13 §6): the second backup of an untouched VM that is off, through the
// product path (a folder source with a libvirt definition, registered and protected; `coffer
// backup now --wait` twice, the second one timed) with `coffer serve` running, as scheduled
// backups run (the CLI hands the job to the host, where the vault stays open), against restic's second backup of the same
// disk file (restic skips a file whose size, mtime and inode match its parent snapshot), and
// restic's second backup with --force (it reads the file again: what a backup of a disk costs
// when the tool cannot trust the file's metadata). Wall seconds and CPU seconds (user+sys) per
// process; appended to bench-results.json as `unchanged`, one row per tool as vault-bench.mjs.
// node test/bench/unchanged.mjs [--smoke] [--size 4G] [--work DIR] [--keep]
// Needs dist/cli.mjs (`npm run build`; run.mjs builds it when missing).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startHost } from './coffer-host.mjs';
import { NODE_FLAGS } from '../../scripts/node-flags.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const args = process.argv.slice(2);
const opt = (n, d) => {
  const i = args.indexOf(n);
  return i >= 0 ? args[i + 1] : d;
};
const smoke = args.includes('--smoke');
const size = opt('--size', smoke ? '64M' : '4G');
const work = path.resolve(opt('--work', path.join(os.tmpdir(), 'coffer-bench-unchanged')));
const keep = args.includes('--keep');
const shared = [path.resolve(root, '../shared/bench'), '/work/shared/bench'].find((p) => fs.existsSync(path.join(p, 'make-vm-image.mjs')));
if (!shared) throw new Error('cannot find shared/bench/make-vm-image.mjs next to the repository');
const cliPath = path.join(root, 'dist/cli.mjs');
if (!fs.existsSync(cliPath)) throw new Error('dist/cli.mjs is missing: run `npm run build` first');
const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const timeBin = fs.existsSync('/usr/bin/time') ? '/usr/bin/time' : null;
const MiB = 1024 * 1024;
const log = (...a) => console.log(...a);

fs.rmSync(work, { recursive: true, force: true });
fs.mkdirSync(work, { recursive: true });

/** Runs a command; wall seconds, CPU seconds (user+sys, through /usr/bin/time when there), stdout. */
function run(cmd, argv, { env = {} } = {}) {
  return new Promise((resolve, reject) => {
    const full = timeBin ? [timeBin, ['-f', '__CPU__%U %S', cmd, ...argv]] : [cmd, argv];
    const t0 = process.hrtime.bigint();
    const child = spawn(full[0], full[1], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      if (code !== 0) return reject(new Error(`${cmd} ${argv.join(' ')} failed (${code}): ${err.slice(-2000)}`));
      const m = /__CPU__([\d.]+) ([\d.]+)/.exec(err);
      resolve({ seconds, cpu: m ? Number(m[1]) + Number(m[2]) : null, out });
    });
  });
}

// ---- the VM: the reference image as the disk of a libvirt definition in a folder source ----
const hv = path.join(work, 'hypervisor', 'bench');
fs.mkdirSync(hv, { recursive: true });
const disk = path.join(hv, 'disk.img');
const gen = spawnSync(process.execPath, [path.join(shared, 'make-vm-image.mjs'), disk, size], { encoding: 'utf8' });
if (gen.status !== 0) throw new Error(`make-vm-image.mjs failed: ${gen.stderr}`);
const logical = fs.statSync(disk).size;
fs.writeFileSync(
  path.join(hv, 'web.xml'),
  `<domain type='kvm'><name>web</name><uuid>5d6e7f80-1111-4222-8333-444455556666</uuid><memory unit='MiB'>512</memory>
  <devices><disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='disk.img'/><target dev='vda' bus='virtio'/></disk></devices></domain>`,
);
log(`unchanged: ${size} image in ${work}`);

const pass = 'bench passphrase';
const data = path.join(work, 'data');
const coffer = (...a) => run(process.execPath, [...NODE_FLAGS, cliPath, '--data-dir', data, ...a], { env: { COFFER_PASSPHRASE: pass } });
await coffer('vault', 'create', 'bench', '--region', 'local', '--path', path.join(work, 'vault'));
await coffer('source', 'add', 'folder', path.join(work, 'hypervisor'), '--region', 'local', '--name', 'lab');
await coffer('vm', 'discover', '--vault', 'bench');
await coffer('vm', 'register', '--vault', 'bench', 'web');
await coffer('protect', '--vault', 'bench', '--policy', 'DefaultPolicy', 'web');

// The host: the scheduler's process, where backups run; the CLI below talks to it.
const stopHost = await startHost(cliPath, data, { COFFER_PASSPHRASE: pass });

const results = [];
const add = (tool, kase, r, extra = {}) => {
  const row = { tool, case: kase, seconds: +r.seconds.toFixed(3), cpu_seconds: r.cpu === null ? null : +r.cpu.toFixed(2), mib_per_s: +(logical / MiB / r.seconds).toFixed(1), ...extra };
  results.push(row);
  log(`  ${tool.padEnd(13)} ${kase.padEnd(10)} ${row.seconds.toFixed(2).padStart(7)} s  cpu ${String(row.cpu_seconds ?? '-').padStart(6)} s ${row.mib_per_s.toFixed(0).padStart(8)} MiB/s`);
  return row;
};

log('coffer:');
const first = await coffer('backup', 'now', 'web', '--wait', '--json');
add('coffer', 'first', first);
const loadAtSecond = os.loadavg().map((x) => +x.toFixed(2));
const second = await coffer('backup', 'now', 'web', '--wait', '--json');
const [job] = JSON.parse(second.out);
const s = job.summary;
if (s?.code !== 'BackupDone' || s.params.reads?.[0]?.read !== 'unchanged') throw new Error(`the second backup was not an unchanged one: ${JSON.stringify(s)}`);
const jobSeconds = (Date.parse(job.endedAt) - Date.parse(job.startedAt)) / 1000;
const c = add('coffer', 'unchanged', second, { bytes_read: s.params.bytesRead, job_seconds: jobSeconds });

const restic = {};
if (has('restic')) {
  log('restic:');
  const env = { RESTIC_PASSWORD: pass, RESTIC_CACHE_DIR: path.join(work, 'restic-cache') };
  const repo = path.join(work, 'repo-restic');
  await run('restic', ['-r', repo, 'init', '--repository-version', '2'], { env });
  add('restic', 'first', await run('restic', ['-r', repo, 'backup', '--compression', 'auto', '--host', 'web', disk], { env }));
  restic.unchanged = add('restic', 'unchanged', await run('restic', ['-r', repo, 'backup', '--compression', 'auto', '--host', 'web', disk], { env }));
  restic.force = add('restic --force', 'unchanged', await run('restic', ['-r', repo, 'backup', '--compression', 'auto', '--host', 'web', '--force', disk], { env }));
}

// ---- table ----
// Speed ratios: the CLI's wall time (what an admin waits for), and the Backup job's own time in the host (a scheduled backup).
log('\n| case | coffer CLI s | coffer job s | coffer CLI CPU s | coffer bytes read | restic s | restic CPU s | coffer/restic speed (CLI, job) | restic --force s | coffer/restic --force speed (CLI, job) |');
const ratio = (o) => (o ? `${(o.seconds / c.seconds).toFixed(1)}x, ${(o.seconds / jobSeconds).toFixed(1)}x` : '-');
log(
  `| unchanged | ${c.seconds.toFixed(2)} | ${jobSeconds.toFixed(3)} | ${c.cpu_seconds ?? '-'} | ${c.bytes_read} | ${restic.unchanged?.seconds.toFixed(2) ?? '-'} | ${restic.unchanged?.cpu_seconds ?? '-'} | ${ratio(restic.unchanged)} | ${restic.force?.seconds.toFixed(2) ?? '-'} | ${ratio(restic.force)} |`,
);
log(`(the Backup job itself took ${jobSeconds.toFixed(3)} s of the CLI's ${c.seconds.toFixed(2)} s; the rest is starting the CLI and reaching the host)`);
// What the target (>= 50x restic) compares: the job time (a scheduled nightly of an off VM, run by
// the host) against restic --force, the cost of a tool that reads the disk to know it is unchanged.
// restic's plain run skips the file on metadata as Coffer does: with equal work both are fixed
// costs (process start, repository or vault open), so that ratio says nothing of the disk's size.
log(`target: the job time against restic --force: ${restic.force ? `${(restic.force.seconds / jobSeconds).toFixed(1)}x` : '-'} (load average ${loadAtSecond.join(' ')} at the second backup)`);

await stopHost();
const file = path.resolve('bench-results.json');
const out = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : {};
out.unchanged = {
  image_bytes: logical,
  image_size: size,
  smoke,
  load_at_start: os.loadavg().map((x) => +x.toFixed(2)),
  load_at_second_backup: loadAtSecond,
  speedup_vs_restic: restic.unchanged ? +(restic.unchanged.seconds / c.seconds).toFixed(2) : null,
  speedup_vs_restic_force: restic.force ? +(restic.force.seconds / c.seconds).toFixed(2) : null,
  job_speedup_vs_restic: restic.unchanged ? +(restic.unchanged.seconds / jobSeconds).toFixed(2) : null,
  job_speedup_vs_restic_force: restic.force ? +(restic.force.seconds / jobSeconds).toFixed(2) : null,
  results,
};
fs.writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
log(`wrote ${file} (unchanged)`);
if (!keep) fs.rmSync(work, { recursive: true, force: true });
