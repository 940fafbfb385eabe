import type { RetainUntilBasis } from '../../../preload/contract.js';
import { isCalendarDate, MONTHS, parseMonthRule, WEEKDAYS, type MonthRule, type RetentionSpec } from './spec.js';
import { fromWallMs, toWallMs, wallDay, weekdayOfDay } from './schedule.js';

/**
 * Which recovery points a policy keeps (grandfather-father-son, as in Azure Backup). A pure
 * function of (retention, points, now, time zone); the Prune job deletes what it says to drop.
 *
 * Every tier keeps a point until the tier has produced N newer periods of it, measured in local
 * wall-clock calendar units: a point is kept while `now` is before the same slot N periods later.
 * With a backup every period that keeps exactly N points of the tier at every moment, including
 * right after the backup that replaces the oldest one (no N-1 dip, no N+1 bulge).
 * - daily N: every scheduled point, for N days after it was taken (two backups a day keep both:
 *   the user chose that granularity). Expires at the same wall time N days later.
 * - weekly WEEKDAY N: the last scheduled point of each local WEEKDAY, for N weeks.
 * - monthly RULE N: the last scheduled point of the day RULE names in its month (e.g. the last
 *   Sunday), kept until the RULE day N months later, at the same wall time.
 * - yearly MONTH RULE N: likewise, the RULE day of MONTH, kept until that day N years later.
 * A point kept by several tiers lists every reason. "Last point of the day" means a later backup
 * on the same day takes the tier over; the earlier one stays only if another tier keeps it.
 *
 * Backup Now points (`manual`) follow their retain-until date only (as Azure's on-demand
 * backups): kept while retainUntil is in the future, never counted by the tiers. Without a date
 * they get the Backup Now default: the daily retention, or 30 days for policies without one.
 * A scheduled point with a future retainUntil is also kept, with that reason added.
 *
 * Safety net: the newest scheduled point is always kept ('latest'), so a policy edit or a long
 * run of failed backups can never prune a VM down to nothing.
 */

export type RetentionReason = 'daily' | 'weekly' | 'monthly' | 'yearly' | 'retain-until' | 'latest';

export interface RetentionPoint {
  id: string;
  createdAt: Date;
  retainUntil?: Date | null;
  /** Taken by Backup Now rather than by the schedule. */
  manual?: boolean;
  /** Where retainUntil came from, when it was recorded. */
  retainBasis?: RetainUntilBasis | null;
}

export interface RetentionDecision {
  id: string;
  keep: boolean;
  reasons: RetentionReason[];
}

const DAY = 86_400_000;

/** Backup Now's retain-until when the user gives none and the policy has no daily tier. */
export const MANUAL_RETENTION_FALLBACK_DAYS = 30;

/** How long Backup Now keeps a point when the admin gives no date, and why: the policy's daily retention, else 30 days. */
export function backupNowDefault(retention: RetentionSpec): Extract<RetainUntilBasis, { kind: 'default' }> {
  return retention.dailyDays !== undefined
    ? { kind: 'default', days: retention.dailyDays, from: 'daily' }
    : { kind: 'default', days: MANUAL_RETENTION_FALLBACK_DAYS, from: 'fallback' };
}

/** The default retain-until of a Backup Now point: the policy's daily retention (W15), at the same wall time. */
export function defaultRetainUntil(retention: RetentionSpec, createdAt: Date, timeZone: string): Date {
  const { days } = backupNowDefault(retention);
  return new Date(fromWallMs(toWallMs(createdAt, timeZone) + days * DAY, timeZone));
}

/** A point's retain-until as it is kept: the instant and where it came from. */
export interface RetainUntil {
  until: Date;
  basis: RetainUntilBasis;
}

/** What Backup Now keeps a new point until: the date the admin gave, else the default from `now`. */
export function backupNowRetainUntil(retention: RetentionSpec, given: Date | undefined, now: Date, timeZone: string): RetainUntil {
  if (given) return { until: given, basis: { kind: 'chosen' } };
  return { until: defaultRetainUntil(retention, now, timeZone), basis: backupNowDefault(retention) };
}

/**
 * Until when a point's retain-until keeps it, and why (the one rule the decisions, the console and
 * the CLI show): its stored date with the basis recorded beside it; a Backup Now point stored
 * without a date gets the policy's default from its creation; a scheduled point without a date has none.
 */
export function keptUntil(retention: RetentionSpec | null, point: RetentionPoint, timeZone: string): RetainUntil | null {
  if (point.retainUntil) return { until: point.retainUntil, basis: point.retainBasis ?? { kind: 'unknown' } };
  // Without a policy (a VM no longer protected) there is no default to name.
  if (!point.manual || !retention) return null;
  return { until: defaultRetainUntil(retention, point.createdAt, timeZone), basis: backupNowDefault(retention) };
}

/** Day-of-month (1-based) that a rule names in a month (month0 is 0-based). */
export function ruleDayOfMonth(rule: MonthRule, year: number, month0: number): number {
  const daysInMonth = new Date(Date.UTC(year, month0 + 1, 0)).getUTCDate();
  const parsed = parseMonthRule(rule);
  if (parsed.kind === 'day') return parsed.day === 'last' ? daysInMonth : parsed.day;
  const firstDay = Date.UTC(year, month0, 1) / DAY;
  const target = WEEKDAYS.indexOf(parsed.weekday);
  const firstWeekdayIndex = WEEKDAYS.indexOf(weekdayOfDay(firstDay));
  const firstMatch = 1 + ((target - firstWeekdayIndex + 7) % 7);
  if (parsed.ordinal === 'last') return firstMatch + 7 * Math.floor((daysInMonth - firstMatch) / 7);
  return firstMatch + 7 * ['first', 'second', 'third', 'fourth'].indexOf(parsed.ordinal);
}

interface LocalPoint {
  point: RetentionPoint;
  wallMs: number;
  day: number;
}

export function retentionDecisions(
  retention: RetentionSpec,
  points: readonly RetentionPoint[],
  now: Date,
  timeZone: string,
): RetentionDecision[] {
  const wallNow = toWallMs(now, timeZone);
  const nowMs = now.getTime();

  const scheduled: LocalPoint[] = [];
  for (const point of points) {
    if (point.manual) continue;
    const wallMs = toWallMs(point.createdAt, timeZone);
    scheduled.push({ point, wallMs, day: wallDay(wallMs) });
  }
  // The weekly, monthly and yearly tiers each take one point per day: the last one of that day.
  const lastOfDay = new Map<number, LocalPoint>();
  for (const p of scheduled) {
    const current = lastOfDay.get(p.day);
    if (!current || p.wallMs > current.wallMs) lastOfDay.set(p.day, p);
  }
  let newest: LocalPoint | undefined;
  for (const p of scheduled) if (!newest || p.point.createdAt.getTime() > newest.point.createdAt.getTime()) newest = p;

  const reasonsById = new Map<RetentionPoint, RetentionReason[]>();
  for (const p of scheduled) {
    const reasons: RetentionReason[] = [];
    const timeOfDay = p.wallMs - p.day * DAY;
    const date = new Date(p.day * DAY);
    const [year, month0, dayOfMonth] = [date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()];
    const isLastOfDay = lastOfDay.get(p.day) === p;

    if (retention.dailyDays !== undefined && wallNow < p.wallMs + retention.dailyDays * DAY) reasons.push('daily');

    const { weekly, monthly, yearly } = retention;
    if (weekly && isLastOfDay && weekdayOfDay(p.day) === weekly.weekday && wallNow < p.wallMs + weekly.weeks * 7 * DAY) {
      reasons.push('weekly');
    }
    if (monthly && isLastOfDay && ruleDayOfMonth(monthly.rule, year, month0) === dayOfMonth) {
      const expiryMonth = month0 + monthly.months;
      const expiryYear = year + Math.floor(expiryMonth / 12);
      const expiryDay = Date.UTC(expiryYear, expiryMonth % 12, ruleDayOfMonth(monthly.rule, expiryYear, expiryMonth % 12)) / DAY;
      if (wallNow < expiryDay * DAY + timeOfDay) reasons.push('monthly');
    }
    if (yearly && isLastOfDay && MONTHS.indexOf(yearly.month) === month0 && ruleDayOfMonth(yearly.rule, year, month0) === dayOfMonth) {
      const expiryYear = year + yearly.years;
      const expiryDay = Date.UTC(expiryYear, month0, ruleDayOfMonth(yearly.rule, expiryYear, month0)) / DAY;
      if (wallNow < expiryDay * DAY + timeOfDay) reasons.push('yearly');
    }

    if (p.point.retainUntil && p.point.retainUntil.getTime() > nowMs) reasons.push('retain-until');
    if (p === newest) reasons.push('latest');
    reasonsById.set(p.point, reasons);
  }

  return points.map((point) => {
    let reasons = reasonsById.get(point);
    if (!reasons) {
      const until = keptUntil(retention, point, timeZone)?.until;
      reasons = until && until.getTime() > nowMs ? ['retain-until'] : [];
    }
    return { id: point.id, keep: reasons.length > 0, reasons };
  });
}

const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;

/**
 * The last millisecond of a calendar day (YYYY-MM-DD) in a time zone: what "keep until DATE"
 * means in the CLI and the console alike (that day is kept whole, wherever the clocks jump).
 */
export function endOfLocalDay(date: string, timeZone: string): Date {
  const m = DATE_ONLY.exec(date);
  if (!m || !isCalendarDate(date)) throw new RangeError(`${date} is not a YYYY-MM-DD calendar date`);
  const nextMidnight = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]) + 1);
  return new Date(fromWallMs(nextMidnight, timeZone) - 1);
}

/** A retain-until as the faces send it: a date alone is the end of that local day; a date-time is that instant. */
export function retainUntilInstant(value: string, timeZone: string): Date {
  return DATE_ONLY.test(value) ? endOfLocalDay(value, timeZone) : new Date(value);
}
