import { spawnSync } from 'node:child_process';

/** Why qemu-img cannot be used here (sparse-file tests map holes with it), or null when it can. */
export function whyNoQemuImg(): string | null {
  return spawnSync('qemu-img', ['--version'], { stdio: 'ignore' }).status === 0 ? null : 'qemu-img is not installed (apt-get install qemu-utils)';
}

/**
 * Whether two files hold the same bytes, compared by `qemu-img compare` of their raw contents:
 * it asks each file for its data and holes, so two 64 GiB sparse files compare without reading
 * 64 GiB of zeros.
 */
export function sameRawContent(a: string, b: string): { same: boolean; output: string } {
  const r = spawnSync('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', a, b], { encoding: 'utf8' });
  return { same: r.status === 0, output: `${r.stdout}${r.stderr}`.trim() };
}
