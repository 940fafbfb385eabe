import type { UnlockAtStart } from '../../preload/contract.js';

/** Sizes as people read them: binary units, one decimal. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`;
}

/** A plain aligned table for terminals. */
export function printTable(out: (t: string) => void, header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  out(`${[line(header), ...rows.map(line)].join('\n')}\n`);
}

/** How a vault unlocks when the host starts, as `vault list` and `vault show` print it. */
export function unlocksAtStartText(u: UnlockAtStart): string {
  switch (u.via) {
    case 'keychain':
      return 'Keychain';
    case 'keyFile':
      return `Key file (${u.keyFile})`;
    case 'none':
      return 'Not at all: scheduled backups will fail';
  }
}
