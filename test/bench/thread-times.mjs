#!/usr/bin/env node
// Where a run's threads spend their time (issue 13 §3: are both cores busy?): runs a command and
// samples every thread of it every 20 ms from /proc/PID/task/TID/schedstat (Linux), then prints
// per thread its on-CPU seconds, its run-queue wait (runnable, but the machine's other processes
// had the cores) and the rest, blocked (waiting for work, a lock, I/O), and a timeline of its
// demand (on-CPU + run-queue wait per bucket: ' ' idle, '.' < 35%, ':' < 65%, '+' < 95%, '#').
// On a shared machine the blocked column is the one that says whether a thread waited for work;
// the wall time says only how many others were running.
// node test/bench/thread-times.mjs [--bucket 0.25] -- node test/bench/coffer-cli.mjs backup REPO vm IMAGE
import { spawn } from 'node:child_process';
import fs from 'node:fs';

const argv = process.argv.slice(2);
const sep = argv.indexOf('--');
const opts = sep >= 0 ? argv.slice(0, sep) : [];
const [cmd, ...args] = sep >= 0 ? argv.slice(sep + 1) : argv;
if (!cmd) {
  console.error('usage: thread-times.mjs [--bucket S] -- CMD ARGS...');
  process.exit(2);
}
const bi = opts.indexOf('--bucket');
const bucket = bi >= 0 ? Number(opts[bi + 1]) : 0.25;
const t0 = performance.now();
const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
let out = '';
child.stdout.on('data', (d) => (out += d));
/** tid -> first seen (s) and samples [t, on-CPU s, run-queue wait s] */
const tasks = new Map();
const sample = () => {
  const t = (performance.now() - t0) / 1000;
  let tids;
  try {
    tids = fs.readdirSync(`/proc/${child.pid}/task`);
  } catch {
    return; // exited
  }
  for (const tid of tids) {
    try {
      const [run, wait] = fs.readFileSync(`/proc/${child.pid}/task/${tid}/schedstat`, 'utf8').split(' ').map(Number);
      let e = tasks.get(tid);
      if (!e) tasks.set(tid, (e = { first: t, s: [] }));
      e.s.push([t, run / 1e9, wait / 1e9]);
    } catch {
      // the thread has just ended
    }
  }
};
const timer = setInterval(sample, 20);
child.on('close', (code) => {
  clearInterval(timer);
  const wall = (performance.now() - t0) / 1000;
  const nb = Math.max(1, Math.ceil(wall / bucket));
  const rows = [];
  const small = { run: 0, wait: 0, n: 0 };
  let run = 0;
  let wait = 0;
  for (const [tid, e] of tasks) {
    const [last, r, w] = e.s.at(-1);
    run += r;
    wait += w;
    // Threads under 0.15 CPU-s (V8 and libuv helpers that hardly ran) are summed in one line.
    if (Number(tid) !== child.pid && r < 0.15) {
      small.run += r;
      small.wait += w;
      small.n++;
      continue;
    }
    const b = new Array(nb).fill(0);
    let pr = 0;
    let pw = 0;
    for (const [t, sr, sw] of e.s) {
      b[Math.min(nb - 1, Math.floor(t / bucket))] += sr - pr + (sw - pw);
      pr = sr;
      pw = sw;
    }
    const line = b.map((x) => (x / bucket < 0.05 ? ' ' : x / bucket < 0.35 ? '.' : x / bucket < 0.65 ? ':' : x / bucket < 0.95 ? '+' : '#')).join('');
    rows.push({ name: Number(tid) === child.pid ? 'main' : `tid ${tid}`, first: e.first, run: r, wait: w, blocked: last - e.first - r - w, line });
  }
  console.log(`exit ${code}, wall ${wall.toFixed(2)} s, on-CPU ${run.toFixed(2)} s, run-queue wait ${wait.toFixed(2)} s (${(run / wall).toFixed(2)} cores used)`);
  if (out.trim()) console.log(out.trim());
  console.log(`thread      from s  on-CPU s  runq-wait s  blocked s | demand per ${bucket} s`);
  for (const r of rows.sort((a, b) => b.run - a.run)) {
    console.log(`${r.name.padEnd(10)} ${r.first.toFixed(2).padStart(7)} ${r.run.toFixed(2).padStart(9)} ${r.wait.toFixed(2).padStart(12)} ${r.blocked.toFixed(2).padStart(10)} |${r.line}|`);
  }
  console.log(`${small.n} threads under 0.15 CPU-s each: on-CPU ${small.run.toFixed(2)} s, run-queue wait ${small.wait.toFixed(2)} s`);
  process.exit(code ?? 1);
});
