/*
 * Where a job's wall time goes: named steps with their start (ms since the log began) and
 * duration, so steps that overlap show as overlapping. The Backup job of a running VM puts them in
 * its details (`steps`, see docs/performance.md "incremental_cbt"): each virsh and qemu-img call,
 * backup-begin until the NBD export answers, the block status, the NBD reads, the vault's commit,
 * the cleanup on the domain.
 */

export interface Step {
  step: string;
  /** Milliseconds since the log began. */
  at: number;
  ms: number;
}

export class StepLog {
  private readonly t0 = performance.now();
  readonly steps: Step[] = [];

  /** Milliseconds since the log began. */
  now(): number {
    return performance.now() - this.t0;
  }

  /** Records a step that began at `at` (from now()) and ends now. */
  add(step: string, at: number): void {
    this.steps.push({ step, at: Math.round(at), ms: Math.round(this.now() - at) });
  }

  /** Runs `fn` as one step (recorded also when it throws). */
  async time<T>(step: string, fn: () => Promise<T>): Promise<T> {
    const at = this.now();
    try {
      return await fn();
    } finally {
      this.add(step, at);
    }
  }
}
