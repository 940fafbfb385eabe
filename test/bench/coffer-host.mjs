// `coffer serve` for the benches that run Coffer as an admin does (unchanged, incremental_cbt):
// the host where backups run with the vault unlocked once; `coffer backup now` talks to it.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { NODE_FLAGS } from '../../scripts/node-flags.mjs';

/** Starts the host on a random port and waits until it serves; answers its stop() (with the host's `pid`, to read its CPU time). */
export async function startHost(cliPath, dataDir, env) {
  // stdin open while this process lives: the host stops by itself when it closes (a killed bench).
  // COFFER_BENCH_HOST_PROFILE=DIR: the host writes a V8 CPU profile there when it stops (where the job's CPU goes).
  const prof = process.env.COFFER_BENCH_HOST_PROFILE ? ['--cpu-prof', '--cpu-prof-dir', process.env.COFFER_BENCH_HOST_PROFILE] : [];
  const host = spawn(process.execPath, [...NODE_FLAGS, ...prof, cliPath, '--data-dir', dataDir, 'serve', '--port', '0'], { env: { ...process.env, COFFER_TEST_EXIT_WITH_STDIN: '1', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise((resolve) => host.once('exit', resolve));
  process.on('exit', () => host.exitCode === null && host.kill('SIGKILL'));
  await new Promise((resolve, reject) => {
    let buf = '';
    host.stdout.on('data', (d) => {
      buf += d;
      if (/Coffer console: \S+\n/.test(buf)) resolve();
    });
    host.once('exit', (code) => reject(new Error(`coffer serve exited ${code}`)));
  });
  const stop = async () => {
    if (host.exitCode === null) host.kill('SIGTERM');
    await exited;
  };
  stop.pid = host.pid;
  return stop;
}

/** CPU-seconds (user + system) in a /proc `stat` file (a process's or one thread's); throws when it cannot be read. */
export function statCpuSeconds(file) {
  const st = readFileSync(file, 'utf8');
  const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // USER_HZ on Linux
}

/**
 * CPU-seconds of each thread of process `pid` (Linux /proc), grouped: its main thread, its vault
 * workers (named coffer-worker) and the rest (V8 helpers, libuv's pool). Null where /proc is not readable.
 */
export function threadCpuSeconds(pid) {
  try {
    const out = { main: 0, workers: 0, helpers: 0 };
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        const cpu = statCpuSeconds(`/proc/${pid}/task/${tid}/stat`);
        const comm = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
        out[Number(tid) === pid ? 'main' : comm === 'coffer-worker' ? 'workers' : 'helpers'] += cpu;
      } catch {
        // the thread ended between the listing and the read
      }
    }
    return out;
  } catch {
    return null;
  }
}

/** CPU-seconds (user + system, every thread) the process has used so far (Linux; null elsewhere). */
export function processCpuSeconds(pid) {
  try {
    return statCpuSeconds(`/proc/${pid}/stat`);
  } catch {
    return null;
  }
}
