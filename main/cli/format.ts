/** A plain aligned table for terminals. */
export function printTable(out: (t: string) => void, header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  out(`${[line(header), ...rows.map(line)].join('\n')}\n`);
}
