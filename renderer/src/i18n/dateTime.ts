// Dates and times in the UI language, both ways: what the console shows (Intl with the UI locale:
// nl "01-12-2026" and "22:00", en "12/01/2026" and "10:00 PM") and what the date and time fields
// read back. Values travel as local "YYYY-MM-DD" days and "HH:mm" clock times.
import { SANE_YEARS } from '../../../preload/time-bounds.js';

/** A clock time of the day. */
export interface ClockTime {
  hours: number;
  minutes: number;
}

// Intl puts a narrow no-break space before AM/PM; fields and tests read plain spaces.
const plainSpaces = (s: string) => s.replace(/[\u202f\u00a0]/g, ' ');

const cache = new Map<string, Intl.DateTimeFormat>();
function fmt(locale: string, kind: 'date' | 'time'): Intl.DateTimeFormat {
  const key = `${locale}|${kind}`;
  let f = cache.get(key);
  if (!f) {
    // A 24-hour clock reads 07:05 (nl), a 12-hour one 7:05 AM (en).
    f = new Intl.DateTimeFormat(locale, kind === 'date' ? { day: '2-digit', month: '2-digit', year: 'numeric' } : { hour: hourCycleOf(locale) === 'h23' ? '2-digit' : 'numeric', minute: '2-digit' });
    cache.set(key, f);
  }
  return f;
}

/** 12-hour (en) or 24-hour (nl) clock, as the locale reads it. */
export function hourCycleOf(locale: string): 'h12' | 'h23' {
  const cycle = new Intl.DateTimeFormat(locale, { hour: 'numeric' }).resolvedOptions().hourCycle;
  return cycle === 'h11' || cycle === 'h12' ? 'h12' : 'h23';
}

/** The first day of the week (0 Sunday .. 6 Saturday): Monday in nl, Sunday in en-US. */
export function firstDayOfWeek(locale: string): number {
  const info = (new Intl.Locale(locale) as Intl.Locale & { weekInfo?: { firstDay: number }; getWeekInfo?: () => { firstDay: number } });
  const first = info.getWeekInfo?.().firstDay ?? info.weekInfo?.firstDay ?? 7;
  return first % 7;
}

/** A day as a date field shows it: "01-12-2026" (nl), "12/01/2026" (en). */
export function formatDateField(d: Date, locale: string): string {
  return fmt(locale, 'date').format(d);
}

/** A time as a time field shows it: "22:00" (nl), "10:00 PM" (en). */
export function formatTimeField(d: Date, locale: string): string {
  return plainSpaces(fmt(locale, 'time').format(d));
}

/** "22:00" (a schedule time) in the locale's clock: "10:00 PM" in en. */
export function formatClock(hhmm: string, locale: string): string {
  const t = parseClockKey(hhmm);
  return t ? formatTimeField(new Date(2024, 0, 1, t.hours, t.minutes), locale) : hhmm;
}

/** The order of day, month and year in the locale's numeric dates. */
function fieldOrder(locale: string): ('day' | 'month' | 'year')[] {
  return fmt(locale, 'date')
    .formatToParts(new Date(2026, 11, 1))
    .map((p) => p.type)
    .filter((t): t is 'day' | 'month' | 'year' => t === 'day' || t === 'month' || t === 'year');
}

/**
 * What someone typed into a date field, in the locale's order ("1-12-2026", "01.12.2026" in nl;
 * "12/1/2026" in en), or a plain ISO day. Null for anything else: a day that does not exist, a
 * two-digit year, a year outside SANE_YEARS.
 */
export function parseDateField(text: string, locale: string): Date | null {
  const s = text.trim();
  const iso = /^(\d{4})-(\d{1,2})-(\d{1,2})$/.exec(s);
  let day: number, month: number, year: number;
  if (iso) {
    [year, month, day] = [Number(iso[1]), Number(iso[2]), Number(iso[3])];
  } else {
    const parts = s.split(/[\s./-]+/);
    if (parts.length !== 3 || !parts.every((p) => /^\d+$/.test(p))) return null;
    const order = fieldOrder(locale);
    const at = (k: 'day' | 'month' | 'year') => parts[order.indexOf(k)]!;
    if (at('year').length !== 4) return null;
    [day, month, year] = [Number(at('day')), Number(at('month')), Number(at('year'))];
  }
  if (year < SANE_YEARS.min || year > SANE_YEARS.max) return null;
  const d = new Date(year, month - 1, day);
  return d.getFullYear() === year && d.getMonth() === month - 1 && d.getDate() === day ? d : null;
}

/** "22:00", "9:05", "10:00 PM", "10 pm", "22.00" into a clock time, or null. */
export function parseTimeField(text: string): ClockTime | null {
  const m = /^(\d{1,2})(?:[:.](\d{2}))?\s*([ap])?\.?\s*(?:m\.?)?$/i.exec(plainSpaces(text).trim());
  if (!m) return null;
  let hours = Number(m[1]);
  const minutes = m[2] === undefined ? 0 : Number(m[2]);
  if (m[2] === undefined && !m[3]) return null;
  if (minutes > 59) return null;
  if (m[3]) {
    if (hours < 1 || hours > 12) return null;
    hours = (hours % 12) + (m[3].toLowerCase() === 'p' ? 12 : 0);
  } else if (hours > 23) return null;
  return { hours, minutes };
}

const pad = (n: number) => String(n).padStart(2, '0');

/** The local day of a date as "YYYY-MM-DD". */
export function dayKey(d: Date): string {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** Local midnight of a "YYYY-MM-DD" day, or null. */
export function dateOfDayKey(key: string): Date | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(key);
  if (!m) return null;
  const d = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return dayKey(d) === key ? d : null;
}

/** "HH:mm" of a clock time. */
export function clockKey(t: ClockTime): string {
  return `${pad(t.hours)}:${pad(t.minutes)}`;
}

/** The clock time of "HH:mm", or null. */
export function parseClockKey(key: string): ClockTime | null {
  const m = /^(\d{2}):(\d{2})$/.exec(key);
  if (!m) return null;
  const t = { hours: Number(m[1]), minutes: Number(m[2]) };
  return t.hours < 24 && t.minutes < 60 ? t : null;
}

/** "YYYY-MM-DDTHH:mm" in local time: the value of the Jobs filters in the address. */
export function localDateTime(d: Date): string {
  return `${dayKey(d)}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** The instant of a local "YYYY-MM-DDTHH:mm" as an ISO bound to the minute ("2026-12-01T20:49Z"), or undefined. */
export function minuteBound(local: string): string | undefined {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})$/.exec(local);
  if (!m) return undefined;
  const day = dateOfDayKey(m[1]!);
  const t = parseClockKey(m[2]!);
  if (!day || !t) return undefined;
  day.setHours(t.hours, t.minutes);
  return `${day.toISOString().slice(0, 16)}Z`;
}
