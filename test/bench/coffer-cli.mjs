// One Coffer operation per process, so the benchmark sees its wall time and peak RSS like a
// user would: node coffer-cli.mjs init|backup|restore REPO ...
import fs from 'node:fs';
import { Vault, LocalFolderStore } from '../../dist/bench-engine.mjs';

const [op, repo, ...rest] = process.argv.slice(2);
const pass = process.env.COFFER_BENCH_PASSPHRASE ?? 'bench passphrase';
const store = new LocalFolderStore(repo);
// Pool size override for measurements (default: the engine's choice).
const workers = process.env.COFFER_BENCH_WORKERS ? Number(process.env.COFFER_BENCH_WORKERS) : undefined;
const t0 = process.hrtime.bigint();
// COFFER_MEMTRACE=1: samples memoryUsage() every 200 ms and prints the peaks to stderr (2: every sample too).
const trace = process.env.COFFER_MEMTRACE ? startMemTrace(process.env.COFFER_MEMTRACE === '2') : undefined;
let out = {};
if (op === 'init') {
  const chunkSize = rest[0] ? Number(rest[0]) : undefined;
  const v = await Vault.create(store, { name: 'bench', region: 'local', passphrase: pass, ...(chunkSize ? { chunkSize } : {}) });
  out = { chunkSize: v.config.chunking.chunkSize };
  await v.close();
} else if (op === 'backup') {
  const [vm, img] = rest;
  const v = await Vault.open(store, pass);
  if (workers) v.workers = workers;
  const p = await v.backup({ vmName: vm, disks: [{ name: 'disk.img', path: img }] });
  out = { id: p.id, addedBytes: p.addedBytes, newChunks: p.newChunks, opSeconds: p.seconds };
  await v.close();
} else if (op === 'restore') {
  const [target] = rest;
  const v = await Vault.open(store, pass);
  if (workers) v.workers = workers;
  const points = await v.listPoints();
  const r = await v.restore(points.at(-1).id, target);
  out = { file: r.files[0].path, opSeconds: r.seconds };
  await v.close();
} else {
  console.error('usage: coffer-cli.mjs init|backup|restore REPO ...');
  process.exit(2);
}
trace?.stop();
out.seconds = Number(process.hrtime.bigint() - t0) / 1e9;
out.maxRssBytes = process.resourceUsage().maxRSS * 1024;
// CPU-seconds of the engine's main thread (bookkeeping, pack assembly) and of the whole process
// (workers, I/O threads, GC), so the bench can say where a run's CPU went.
const all = process.cpuUsage();
out.cpuSeconds = +((all.user + all.system) / 1e6).toFixed(2);
try {
  const st = fs.readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
  const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
  out.mainThreadCpuSeconds = +((Number(f[11]) + Number(f[12])) / 100).toFixed(2);
} catch {
  // not Linux: the process figure only
}
process.stdout.write(`${JSON.stringify(out)}\n`);

function startMemTrace(verbose) {
  const M = (b) => (b / 1048576).toFixed(1);
  const peak = { rss: 0, heapTotal: 0, heapUsed: 0, external: 0, arrayBuffers: 0 };
  let atPeak;
  const sample = () => {
    const m = process.memoryUsage();
    for (const k of Object.keys(peak)) peak[k] = Math.max(peak[k], m[k]);
    const t = Number(process.hrtime.bigint() - t0) / 1e9;
    if (m.rss >= peak.rss) atPeak = { ...m, t };
    if (verbose) process.stderr.write(`memtrace sample t=${t.toFixed(1)} ${Object.keys(peak).map((k) => `${k} ${M(m[k])}`).join(', ')}\n`);
  };
  const timer = setInterval(sample, 200);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      sample();
      const hwm = /VmHWM:\s+(\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
      const fmt = (o) => Object.keys(peak).map((k) => `${k} ${M(o[k])}`).join(', ');
      process.stderr.write(`memtrace ${op}: VmHWM ${hwm ? M(Number(hwm[1]) * 1024) : '?'} MiB; peaks (MiB): ${fmt(peak)}; at rss peak (t=${atPeak.t.toFixed(1)} s): ${fmt(atPeak)}\n`);
    },
  };
}
