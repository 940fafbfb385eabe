import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import type { ApiError, Result } from '../../preload/contract.js';
import { HOST_STOP_GRACE_MS, stopChild } from './processes.js';
import { cliPath, repoRoot } from './tmp.js';

export interface CliRun {
  code: number | null;
  out: string;
  err: string;
}

/**
 * The `coffer` CLI as a user runs it: a child process of the built dist/cli.mjs. COFFER_PASSPHRASE
 * is empty unless `env` gives one, so a test never inherits a passphrase by accident.
 */
export function runCoffer(args: string[], env: Record<string, string | undefined> = {}, input?: string): CliRun {
  const r = spawnSync(process.execPath, [cliPath, ...args], {
    encoding: 'utf8',
    env: { ...process.env, COFFER_PASSPHRASE: '', ...env },
    ...(input === undefined ? { stdio: ['ignore', 'pipe', 'pipe'] } : { input }),
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** A runner bound to one data folder and environment: `coffer('vault', 'list')`. */
export function cofferIn(dataDir: string, env: Record<string, string | undefined> = {}): (...args: string[]) => CliRun {
  return (...args) => runCoffer(['--data-dir', dataDir, ...args], env);
}

/** `coffer serve` on a free port; resolves with the child and the console URL once it printed it. */
export function startServe(dataDir: string, extraArgs: string[] = [], env: Record<string, string | undefined> = {}): Promise<{ child: ChildProcessWithoutNullStreams; url: URL; stop: () => Promise<number | null> }> {
  const child = spawn(process.execPath, [cliPath, '--data-dir', dataDir, 'serve', '--port', '0', ...extraArgs], {
    cwd: repoRoot,
    // stdin stays open while this process lives: the host stops by itself when it closes.
    env: { ...process.env, COFFER_TEST_EXIT_WITH_STDIN: '1', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  /** SIGTERM, awaited; the exit code (null: it had to be killed after the grace period). */
  const stop = async (): Promise<number | null> => (await stopChild(child, HOST_STOP_GRACE_MS))?.code ?? null;
  return new Promise((resolve, reject) => {
    let buf = '';
    let errBuf = '';
    child.stderr.on('data', (d: Buffer) => (errBuf += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = /Coffer console: (\S+)\n/.exec(buf);
      if (m) resolve({ child, url: new URL(m[1]!), stop });
    });
    child.once('exit', (code) => reject(new Error(`serve exited ${code}: ${errBuf}`)));
  });
}

/** The value of an API result, or a thrown error naming its code and message. */
export function unwrap<T>(r: Result<T>): T {
  if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
  return r.value;
}

/** The error of an API result that must have failed (throws, naming the value, when it did not). */
export function errorOf(r: Result<unknown>): ApiError {
  if (r.ok) throw new Error(`expected a failure, got ${JSON.stringify(r.value)}`);
  return r.error;
}

/** The same as runCoffer, without blocking this process (for tests that serve something the CLI calls). */
export function runCofferAsync(args: string[], env: Record<string, string | undefined> = {}): Promise<CliRun> {
  const child = spawn(process.execPath, [cliPath, ...args], { env: { ...process.env, COFFER_PASSPHRASE: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, out, err }));
  });
}
