import type { UnlockAtStart } from '../../preload/contract.js';

// Sizes have one home for every face without a locale of their own (CLI, tray): preload/units.ts.
export { formatBytes } from '../../preload/units.js';

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
