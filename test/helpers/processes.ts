import type { ChildProcess } from 'node:child_process';

/** How long `coffer serve` may take to exit after SIGTERM (it aborts its jobs and closes its vaults) before it is killed. */
export const HOST_STOP_GRACE_MS = 30_000;

/** How a stopped child ended; `killed`: it outlived the grace period after SIGTERM and got SIGKILL. */
export interface Stopped {
  code: number | null;
  signal: NodeJS.Signals | null;
  killed: boolean;
}

/**
 * Stops a child process a test started and resolves once it has exited (its folders can go then):
 * SIGTERM, then SIGKILL when it is still there `graceMs` later. The one way every test helper
 * stops a server it started (`coffer serve`, the emulators), so none outlives its test.
 */
export async function stopChild(child: ChildProcess | undefined, graceMs: number): Promise<Stopped | undefined> {
  if (!child || child.pid === undefined) return undefined;
  if (child.exitCode !== null || child.signalCode !== null) return { code: child.exitCode, signal: child.signalCode, killed: false };
  const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once('exit', (code, signal) => resolve([code, signal])));
  child.kill('SIGTERM');
  let killed = false;
  // A grace period, not a synchronisation: the wait is for the exit event.
  const timer = setTimeout(() => {
    killed = true;
    child.kill('SIGKILL');
  }, graceMs);
  const [code, signal] = await exited;
  clearTimeout(timer);
  return { code, signal, killed };
}
