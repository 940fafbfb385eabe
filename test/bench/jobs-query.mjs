#!/usr/bin/env node
// The Jobs page on a big catalog: 1,000,000 jobs (--jobs N), then each filter the page offers,
// one keyset page of 100, timed as the median of 25 runs. Target: well under 100 ms.
import { mkdtempSync, rmSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

const { openCatalog, EngineEvents, JobService } = await import(new URL('../../dist/bench-jobs.mjs', import.meta.url).href);
const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const total = Number(arg('--jobs', process.argv.includes('--smoke') ? '100000' : '1000000'));
const dir = mkdtempSync(path.join(tmpdir(), 'coffer-jobs-bench-'));
try {
  const db = openCatalog(dir);
  const ops = ['Backup', 'Backup', 'Backup', 'Backup', 'Prune', 'Register', 'ConfigureProtection', 'Restore', 'Verify'];
  const start = Date.parse('2024-01-01T00:00:00Z');
  const span = 2 * 365 * 86_400_000;
  const insert = db.prepare(
    `INSERT INTO jobs (operation, status, vault_id, vault_name, vm_id, vm_name, created_at, started_at, ended_at, error_code)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const t0 = performance.now();
  let seed = 42;
  const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  db.transaction(() => {
    for (let i = 0; i < total; i++) {
      const created = new Date(start + Math.floor((i / total) * span)).toISOString();
      const failed = rand() < 0.03;
      const vault = `vault-${i % 4}`;
      const vm = `vm-${i % 500}`;
      insert.run(ops[i % ops.length], failed ? 'Failed' : 'Completed', vault, vault, vm, vm, created, created, created, failed ? 'DiskUnreadable' : null);
    }
  })();
  const loadSeconds = (performance.now() - t0) / 1000;
  const jobs = new JobService(db, new EngineEvents());
  const day = (d) => new Date(start + d * 86_400_000).toISOString();
  const cases = [
    ['newest page, no filter', { limit: 100 }],
    ['status = Failed', { limit: 100, status: ['Failed'] }],
    ['operation = Restore', { limit: 100, operation: ['Restore'] }],
    ['from..to one day', { limit: 100, from: day(300), to: day(301) }],
    ['Failed in one week', { limit: 100, status: ['Failed'], from: day(400), to: day(407) }],
    ['Backup of one vault', { limit: 100, operation: ['Backup'] }, 'vault-2'],
    ['one VM', { limit: 100 }, undefined, ['vm-77']],
    ['page 500 via cursor', { limit: 100, cursor: String(total - 50_000) }],
  ];
  const results = [];
  for (const [name, q, vault, vms] of cases) {
    const times = [];
    let rows = 0;
    for (let i = 0; i < 25; i++) {
      const s = performance.now();
      rows = jobs.query(q, vault, vms).jobs.length;
      times.push(performance.now() - s);
    }
    times.sort((a, b) => a - b);
    results.push({ case: name, rows, median_ms: +times[12].toFixed(2), max_ms: +times[24].toFixed(2) });
  }
  db.close();
  console.log(`\nJob log query: ${total.toLocaleString('en')} jobs (loaded in ${loadSeconds.toFixed(1)} s), one page of 100`);
  console.log('case'.padEnd(26), 'rows'.padStart(5), 'median ms'.padStart(10), 'max ms'.padStart(8));
  for (const r of results) console.log(r.case.padEnd(26), String(r.rows).padStart(5), String(r.median_ms).padStart(10), String(r.max_ms).padStart(8));
  const file = path.resolve('bench-results.json');
  const out = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};
  out.job_query = { jobs: total, results };
  writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
