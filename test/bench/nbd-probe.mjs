#!/usr/bin/env node
// What a libvirt pull-backup NBD export can deliver on this machine (issue 13 §6, incremental_cbt):
// a running domain (KVM, or QEMU's TCG where /dev/kvm is absent) with a qcow2 disk holding the
// reference image, `virsh backup-begin` in pull mode, then the same export read by
//  - nbdcopy (libnbd-bin: the reference client) to null:, sequentially, with 1, 4, 16 requests in
//    flight and request sizes of 128 KiB, 1 MiB, 4 MiB;
//  - Coffer's own NBD client (main/core/sources/nbd-client.ts), sequentially with the same
//    in-flight counts and request sizes, as the full backup reads (4 MiB segments, 5 in flight,
//    split into 128 KiB to 1 MiB requests) and as the incremental reads (scattered 128 KiB chunk
//    reads, 1 to 64 in flight), each read into a reused buffer of its own;
// each with its wall time and the CPU-seconds of QEMU (all its threads, /proc/PID/stat) and of
// this process. Prints a table; no target (a probe of the export's limit, not a bench case).
// node test/bench/nbd-probe.mjs [--size 1G] [--work DIR] [--read 512M]
// Needs root, libvirt, qemu, nbdcopy. Leaves nothing behind (domain, socket, scratch image).
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { guestDomainXml, QEMU_DOMAIN_TYPE } from '../helpers/guest-domain.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const URI = 'qemu:///system';
const args = process.argv.slice(2);
const MiB = 1024 * 1024;
const opt = (n, d) => {
  const i = args.indexOf(n);
  return i >= 0 ? args[i + 1] : d;
};
const bytesOf = (s) => {
  const m = /^(\d+)([KMG]?)$/i.exec(s);
  if (!m) throw new Error(`not a size: ${s}`);
  return Number(m[1]) * { '': 1, K: 1024, M: MiB, G: 1024 * MiB }[m[2].toUpperCase()];
};
const size = opt('--size', '1G');
const readBytes = bytesOf(opt('--read', '512M'));
const work = path.join(path.resolve(opt('--work', os.tmpdir())), `nbd-probe-${randomBytes(3).toString('hex')}`);
const log = (...a) => console.log(...a);
const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
for (const t of ['virsh', 'qemu-img', 'nbdcopy']) if (!has(t)) throw new Error(`${t} is not installed`);
if (process.getuid?.() !== 0) throw new Error('not root');

const virsh = (...a) => {
  const r = spawnSync('virsh', ['-c', URI, ...a], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`virsh ${a.join(' ')}: ${r.stderr.trim()}`);
  return r.stdout;
};
const shared = [path.resolve(root, '../shared/bench'), '/work/shared/bench'].find((p) => fs.existsSync(path.join(p, 'make-vm-image.mjs')));
const esbuild = await import('esbuild');
await esbuild.build({ bundle: true, platform: 'node', format: 'esm', logLevel: 'warning', entryPoints: { 'nbd-probe-client': path.join(root, 'main/core/sources/nbd-client.ts') }, outdir: path.join(root, 'dist'), outExtension: { '.js': '.mjs' } });
const { openNbdExport } = await import(pathToFileURL(path.join(root, 'dist/nbd-probe-client.mjs')).href);

/** CPU-seconds of a process and all its threads (utime + stime). */
const cpuOf = (pid) => {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
};
const selfCpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

fs.mkdirSync(work, { recursive: true });
fs.chmodSync(work, 0o755);
const name = `coffer-nbdprobe-${randomBytes(3).toString('hex')}`;
const disk = path.join(work, 'disk.qcow2');
const socket = path.join(work, 'nbd.sock');
let started = false;
try {
  spawnSync(process.execPath, [path.join(shared, 'make-vm-image.mjs'), path.join(work, 'base.img'), size], { stdio: 'ignore' });
  spawnSync('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', '-o', 'compat=1.1', path.join(work, 'base.img'), disk]);
  fs.rmSync(path.join(work, 'base.img'), { force: true });
  const domainType = QEMU_DOMAIN_TYPE;
  const xml = path.join(work, 'domain.xml');
  fs.writeFileSync(xml, guestDomainXml({ name, disk }));
  virsh('create', xml); // transient: gone when destroyed
  started = true;
  const qemuPid = Number(fs.readFileSync(`/run/libvirt/qemu/${name}.pid`, 'utf8'));
  const bxml = path.join(work, 'backup.xml');
  fs.writeFileSync(bxml, `<domainbackup mode='pull'><server transport='unix' socket='${socket}'/><disks><disk name='vda' backup='yes' type='file' exportname='vda'><scratch file='${path.join(work, 'scratch.qcow2')}'/></disk></disks></domainbackup>`);
  virsh('backup-begin', '--domain', name, '--backupxml', bxml);
  const nbd = await openNbdExport(socket, 'vda');
  const exportSize = nbd.size;
  await nbd.close();
  const rows = [];
  const measure = async (tool, label, fn) => {
    const q0 = cpuOf(qemuPid);
    const s0 = selfCpu();
    const t0 = performance.now();
    const bytes = await fn();
    const sec = (performance.now() - t0) / 1000;
    const row = { tool, label, mib: +(bytes / MiB).toFixed(0), seconds: +sec.toFixed(3), mib_per_s: +(bytes / MiB / sec).toFixed(1), qemu_cpu_s: +(cpuOf(qemuPid) - q0).toFixed(2), client_cpu_s: +(selfCpu() - s0).toFixed(2), load: +os.loadavg()[0].toFixed(1) };
    rows.push(row);
    log(`  ${tool.padEnd(7)} ${label.padEnd(34)} ${String(row.mib).padStart(5)} MiB ${row.seconds.toFixed(2).padStart(7)} s ${String(row.mib_per_s).padStart(7)} MiB/s  qemu ${row.qemu_cpu_s} CPU-s  client ${row.client_cpu_s}  load ${row.load}`);
  };
  /**
   * Coffer's client: `inFlight` reads of `req` bytes at the given offsets, on one connection, each
   * into a buffer of its own that is reused (as the backup's segment buffers); `requestBytes`: the
   * largest request a read is split into (the client's default when not given).
   */
  const ours = async (offsets, req, inFlight, requestBytes) => {
    const c = await openNbdExport(socket, 'vda', requestBytes ? { requestBytes } : {});
    let next = 0;
    const worker = async () => {
      const into = Buffer.allocUnsafe(req);
      while (next < offsets.length) await c.read(offsets[next++], req, into);
    };
    await Promise.all(Array.from({ length: inFlight }, worker));
    const n = c.bytesRead;
    await c.close();
    return n;
  };
  const seq = (req) => Array.from({ length: Math.floor(Math.min(readBytes, exportSize) / req) }, (_, i) => i * req);
  const nbdcopyRun = (requests, reqSize, extra = []) =>
    new Promise((resolve, reject) => {
      // The first readBytes of the export (nbdkit-free: nbdcopy reads the whole export, so the export is limited by a URI over the same socket and --length is not an option: read all of it).
      const child = spawn('nbdcopy', ['--no-extents', '-C', '1', `--requests=${requests}`, `--request-size=${reqSize}`, ...extra, `nbd+unix:///vda?socket=${socket}`, 'null:'], { stdio: 'ignore' });
      child.on('close', (code) => (code === 0 ? resolve(exportSize) : reject(new Error(`nbdcopy failed (${code})`))));
    });
  log(`nbd-probe: ${size} reference image, ${domainType} domain, pull backup export; load ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  // A warm-up read of the whole export (QEMU's and the page cache's first touch).
  await measure('nbdcopy', 'warm-up, whole export, 16 x 1 MiB', () => nbdcopyRun(16, MiB));
  for (const [requests, req] of [
    [1, 128 * 1024],
    [4, 128 * 1024],
    [16, 128 * 1024],
    [1, MiB],
    [4, MiB],
    [16, MiB],
    [4, 4 * MiB],
    [16, 4 * MiB],
  ]) {
    await measure('nbdcopy', `whole export, ${requests} x ${req / 1024} KiB`, () => nbdcopyRun(requests, req));
    await measure('coffer', `first ${readBytes / MiB} MiB, ${requests} x ${req / 1024} KiB`, () => ours(seq(req), req, requests, req));
  }
  // As the full backup reads: 4 MiB segments, 5 in flight (two workers' queue), each split into
  // requests of 128 KiB, 256 KiB (the client's default) and 1 MiB.
  await measure('nbdcopy', 'whole export, 16 x 256 KiB', () => nbdcopyRun(16, 256 * 1024));
  for (const rb of [128 * 1024, 256 * 1024, MiB]) await measure('coffer', `first ${readBytes / MiB} MiB, 5 x 4 MiB in ${rb / 1024} KiB requests`, () => ours(seq(4 * MiB), 4 * MiB, 5, rb));
  // As the incremental reads: 128 KiB chunks at scattered chunk-aligned offsets (2% of the disk
  // dirtied by 64 KiB writes is about 1.5 chunks per write).
  const chunk = 128 * 1024;
  const nChunks = Math.floor(exportSize / chunk);
  const want = Math.floor((exportSize * 0.03) / chunk);
  const picks = new Set();
  let a = 42;
  while (picks.size < want) {
    a = (Math.imul(a, 1103515245) + 12345) >>> 0; // 32-bit arithmetic: a float product would lose the low bits
    picks.add((a >>> 8) % nChunks);
  }
  const scattered = [...picks].sort((x, y) => x - y).map((i) => i * chunk);
  for (const inFlight of [1, 5, 16, 32, 64]) await measure('coffer', `scattered ${scattered.length} x 128 KiB, ${inFlight} in flight`, () => ours(scattered, chunk, inFlight));
  fs.writeFileSync(path.join(root, 'nbd-probe-results.json'), `${JSON.stringify({ size, domainType, rows }, null, 2)}\n`);
  log(`wrote ${path.join(root, 'nbd-probe-results.json')}`);
} finally {
  if (started) {
    spawnSync('virsh', ['-c', URI, 'domjobabort', name], { stdio: 'ignore' });
    spawnSync('virsh', ['-c', URI, 'destroy', name], { stdio: 'ignore' });
  }
  fs.rmSync(work, { recursive: true, force: true });
  fs.rmSync(path.join(root, 'dist/nbd-probe-client.mjs'), { force: true });
}
