// One Coffer operation on a vault in object storage per process, so the benchmark sees its wall
// time, peak RSS and request count: node store-cli.mjs init|backup|restore|open LOCATION ...
// Credentials come from the environment (AZURE_STORAGE_* / AWS_*), as for a scheduled job.
// COFFER_BENCH_CACHE_DIR: the install's index cache for this vault, as the app keeps one in its
// data folder (<dataDir>/cache/<vaultId>): a restore after a backup by the same install then lists
// the index objects instead of reading each one again.
// COFFER_BENCH_THREADS=1: also CPU seconds per thread (store-bench.mjs --threads). The threads
// that exist before the engine loads are V8's platform helpers (concurrent GC, compiler), node's
// own and libuv's pool (started by the module loader's reads: a local folder's preads, fsyncs
// and scrypt run there); restore and backup workers name themselves coffer-worker.
import fs from 'node:fs';
import { statCpuSeconds } from './coffer-host.mjs';

const early = new Set(fs.readdirSync('/proc/self/task'));
const { Vault, openStore, parseStoredLocation } = await import('../../dist/bench-store.mjs');
function threadTimes() {
  const groups = new Map();
  for (const tid of fs.readdirSync('/proc/self/task')) {
    try {
      const cpu = statCpuSeconds(`/proc/self/task/${tid}/stat`);
      const comm = fs.readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim();
      const name = Number(tid) === process.pid ? 'main' : comm === 'coffer-worker' ? `worker ${tid}` : early.has(tid) ? 'helpers (V8, libuv)' : 'other';
      const g = groups.get(name) ?? { name, cpuSeconds: 0, count: 0 };
      g.cpuSeconds += cpu;
      g.count++;
      groups.set(name, g);
    } catch {
      // the thread has just ended
    }
  }
  return [...groups.values()];
}

const [op, location, ...rest] = process.argv.slice(2);
const pass = process.env.COFFER_BENCH_PASSPHRASE ?? 'bench passphrase';
const counters = { requests: 0, bytesUp: 0, bytesDown: 0 };
const cacheDir = process.env.COFFER_BENCH_CACHE_DIR;
const opts = cacheDir ? { cacheDir } : {};
const store = await openStore(parseStoredLocation(location), { create: op === 'init', counters });
let out = {};
if (op === 'init') {
  const chunkSize = rest[0] ? Number(rest[0]) : undefined;
  const v = await Vault.create(store, { name: 'bench', region: 'local', passphrase: pass, ...(chunkSize ? { chunkSize } : {}) });
  out = { chunkSize: v.config.chunking.chunkSize };
  await v.close();
} else if (op === 'backup') {
  const [vm, img] = rest;
  const v = await Vault.open(store, pass, opts);
  const p = await v.backup({ vmName: vm, disks: [{ name: 'disk.img', path: img }] });
  out = { id: p.id, addedBytes: p.addedBytes, newChunks: p.newChunks, opSeconds: p.seconds };
  if (process.env.COFFER_BENCH_THREADS) out.threads = threadTimes();
  await v.close();
} else if (op === 'restore') {
  const [target] = rest;
  const v = await Vault.open(store, pass, opts);
  const points = await v.listPoints();
  const r = await v.restore(points.at(-1).id, target);
  out = { file: r.files[0].path, opSeconds: r.seconds };
  if (process.env.COFFER_BENCH_THREADS) out.threads = threadTimes();
  await v.close();
} else if (op === 'open') {
  // The fixed cost of one process: connect (SDK import, probe), open the vault, list its points.
  const v = await Vault.open(store, pass, opts);
  out = { points: (await v.listPoints()).length };
  await v.close();
} else {
  console.error('usage: store-cli.mjs init|backup|restore|open LOCATION ...');
  process.exit(2);
}
out.conditionalCreate = store.conditionalCreate;
out.requests = counters.requests;
out.bytesUp = counters.bytesUp;
out.bytesDown = counters.bytesDown;
out.maxRssBytes = process.resourceUsage().maxRSS * 1024;
// CPU of the whole process (every thread: workers included), since it started, as seconds.
const cpu = process.cpuUsage();
out.cpuSeconds = (cpu.user + cpu.system) / 1e6;
process.stdout.write(`${JSON.stringify(out)}\n`);
