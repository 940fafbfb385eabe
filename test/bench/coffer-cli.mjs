// One Coffer operation per process, so the benchmark sees its wall time and peak RSS like a
// user would: node coffer-cli.mjs init|backup|restore REPO ...
import { Vault, LocalFolderStore } from '../../dist/bench-engine.mjs';

const [op, repo, ...rest] = process.argv.slice(2);
const pass = process.env.COFFER_BENCH_PASSPHRASE ?? 'bench passphrase';
const store = new LocalFolderStore(repo);
// Pool size override for measurements (default: the engine's choice).
const workers = process.env.COFFER_BENCH_WORKERS ? Number(process.env.COFFER_BENCH_WORKERS) : undefined;
const t0 = process.hrtime.bigint();
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
out.seconds = Number(process.hrtime.bigint() - t0) / 1e9;
out.maxRssBytes = process.resourceUsage().maxRSS * 1024;
process.stdout.write(`${JSON.stringify(out)}\n`);
