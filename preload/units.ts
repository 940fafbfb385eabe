// Sizes and rates as every face shows them: IEC binary units (KiB, MiB, GiB, TiB, as the vault
// engine measures them), one decimal, the number in the reader's locale (nl: "1,5 GiB"). The
// console passes its UI locale; the CLI speaks English. One home, so console and CLI agree.

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'] as const;

const numberFormats = new Map<string, { whole: Intl.NumberFormat; tenths: Intl.NumberFormat }>();

function formatsOf(locale: string): { whole: Intl.NumberFormat; tenths: Intl.NumberFormat } {
  let f = numberFormats.get(locale);
  if (!f) {
    // No grouping: a value stays under 1024 of its unit, and "1.023,5" reads like two numbers.
    f = {
      whole: new Intl.NumberFormat(locale, { maximumFractionDigits: 0, useGrouping: false }),
      tenths: new Intl.NumberFormat(locale, { minimumFractionDigits: 1, maximumFractionDigits: 1, useGrouping: false }),
    };
    numberFormats.set(locale, f);
  }
  return f;
}

/** "512 B", "1.5 MiB", "1,5 MiB" (nl): binary units, one decimal above bytes. */
export function formatBytes(n: number, locale = 'en'): string {
  const f = formatsOf(locale);
  let v = Number.isFinite(n) ? Math.max(0, n) : 0;
  let u = 0;
  // Compare as shown, so 1023.96 KiB reads "1.0 MiB", not "1024.0 KiB".
  const shown = (x: number, unit: number) => (unit === 0 ? Math.round(x) : Math.round(x * 10) / 10);
  while (u < UNITS.length - 1 && shown(v, u) >= 1024) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? f.whole.format(v) : f.tenths.format(v)} ${UNITS[u]}`;
}

/** "12.5 MiB/s": a byte rate in the same units. */
export function formatRate(bytesPerSecond: number, locale = 'en'): string {
  return `${formatBytes(bytesPerSecond, locale)}/s`;
}
