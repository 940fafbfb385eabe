import { WEEKDAYS, type PolicySchedule, type Weekday } from './spec.js';

/**
 * When scheduled backups run. Pure functions of (schedule, now, time zone, history) so the
 * scheduler can be driven by a manual clock in tests (as Backrest's `Next(now, history)`).
 *
 * Times are wall-clock times in the console's local IANA time zone. Daylight-saving rules:
 * - A slot that falls in the skipped hour (02:30 on the spring-forward day) runs once, at the
 *   first valid instant after the gap (03:00 local, the moment the clocks jump). Skipping it
 *   would silently lose a day's backup; several slots in one gap collapse into that one run.
 * - A slot that falls in the repeated hour (02:30 on the fall-back day) runs once, at its first
 *   occurrence (the earlier offset); the second 02:30 is not a slot.
 * The conversions use Intl.DateTimeFormat, so they follow the IANA rules bundled with Node.
 */

const MINUTE = 60_000;
const DAY = 86_400_000;

// -- Local wall time <-> UTC ---------------------------------------------------------------

const formatters = new Map<string, Intl.DateTimeFormat>();
// Offsets by exact instant: retention asks about the same points again after every backup.
const offsetCache = new Map<string, Map<number, number>>();
const OFFSET_CACHE_LIMIT = 100_000;

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** The zone's offset from UTC at an instant, in milliseconds (local = utc + offset). */
export function zoneOffsetMs(utcMs: number, timeZone: string): number {
  let cache = offsetCache.get(timeZone);
  if (!cache) offsetCache.set(timeZone, (cache = new Map()));
  const hit = cache.get(utcMs);
  if (hit !== undefined) return hit;
  const p: Record<string, number> = {};
  for (const part of formatterFor(timeZone).formatToParts(utcMs)) {
    if (part.type !== 'literal') p[part.type] = Number(part.value);
  }
  const wholeSeconds = Math.floor(utcMs / 1000) * 1000;
  const offset = Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!) - wholeSeconds;
  if (cache.size >= OFFSET_CACHE_LIMIT) cache.clear();
  cache.set(utcMs, offset);
  return offset;
}

/**
 * Local wall time as a "naive" timestamp: milliseconds since 1970-01-01 00:00 *local*. Calendar
 * maths (day numbers, weekdays, adding days or months) is plain UTC maths on this value.
 */
export function toWallMs(instant: Date | number, timeZone: string): number {
  const ms = typeof instant === 'number' ? instant : instant.getTime();
  return ms + zoneOffsetMs(ms, timeZone);
}

/**
 * The instant a local wall time denotes. In a fall-back overlap: the first occurrence. In a
 * spring-forward gap: the first instant after the gap (the transition itself).
 */
export function fromWallMs(wallMs: number, timeZone: string): number {
  // Any transition that affects this wall time lies well within a day of it.
  const offsetBefore = zoneOffsetMs(wallMs - DAY, timeZone);
  const offsetAfter = zoneOffsetMs(wallMs + DAY, timeZone);
  const candidates = [wallMs - offsetBefore, wallMs - offsetAfter].filter((t) => toWallMs(t, timeZone) === wallMs);
  if (candidates.length > 0) return Math.min(...candidates);
  // In the gap: the transition T satisfies T + before <= wall < T + after, so T is in (lo, hi].
  let lo = wallMs - offsetAfter;
  let hi = wallMs - offsetBefore;
  while (hi - lo > 1000) {
    const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
    if (zoneOffsetMs(mid, timeZone) === offsetBefore) lo = mid;
    else hi = mid;
  }
  return hi;
}

/** Days since 1970-01-01 of a wall time. */
export function wallDay(wallMs: number): number {
  return Math.floor(wallMs / DAY);
}

/** Weekday of a day number (1970-01-01 was a Thursday). */
export function weekdayOfDay(day: number): Weekday {
  return WEEKDAYS[(((day + 3) % 7) + 7) % 7]!;
}

// -- Slots -----------------------------------------------------------------------------------

function minutesOfDay(time: string): number {
  const [h, m] = time.split(':').map(Number) as [number, number];
  return h * 60 + m;
}

/** The instants of the slots on one local day (sorted, gap slots merged), or none if it is not a backup day. */
function slotsOnDay(schedule: PolicySchedule, day: number, timeZone: string): number[] {
  if (schedule.kind === 'weekly' && !schedule.weekdays.includes(weekdayOfDay(day))) return [];
  const instants = schedule.times.map((t) => fromWallMs(day * DAY + minutesOfDay(t) * MINUTE, timeZone));
  return [...new Set(instants)].sort((a, b) => a - b);
}

// A weekly schedule backs up at least once a week; 8 days plus a DST margin always finds a slot.
const SEARCH_DAYS = 9;

/** The first slot strictly after `now`. */
export function nextRun(schedule: PolicySchedule, now: Date, timeZone: string): Date {
  const nowMs = now.getTime();
  const today = wallDay(toWallMs(nowMs, timeZone));
  for (let day = today - 1; day <= today + SEARCH_DAYS; day++) {
    const slot = slotsOnDay(schedule, day, timeZone).find((t) => t > nowMs);
    if (slot !== undefined) return new Date(slot);
  }
  throw new Error('A schedule with no backup days has no next run.');
}

/** Every slot in (from, to], oldest first. */
export function slotsBetween(schedule: PolicySchedule, from: Date, to: Date, timeZone: string): Date[] {
  const fromMs = from.getTime();
  const toMs = to.getTime();
  const slots: Date[] = [];
  if (toMs <= fromMs) return slots;
  // One day of margin either side: a slot's local day can differ from its UTC day.
  const last = wallDay(toWallMs(toMs, timeZone)) + 1;
  for (let day = wallDay(toWallMs(fromMs, timeZone)) - 1; day <= last; day++) {
    for (const t of slotsOnDay(schedule, day, timeZone)) if (t > fromMs && t <= toMs) slots.push(new Date(t));
  }
  return slots;
}

/**
 * The latest slot in (last, now], or null. `last` is the last backup start (scheduled or
 * manual) or the protection time. A machine that slept over many slots runs this one slot once.
 */
export function missedRun(schedule: PolicySchedule, lastRunOrProtectedAt: Date, now: Date, timeZone: string): Date | null {
  const lastMs = lastRunOrProtectedAt.getTime();
  const nowMs = now.getTime();
  if (nowMs <= lastMs) return null;
  const firstDay = wallDay(toWallMs(lastMs, timeZone)) - 1;
  // Walks back from today; stops at the first slot, so a long sleep costs at most a week of days.
  for (let day = wallDay(toWallMs(nowMs, timeZone)) + 1; day >= firstDay; day--) {
    const slots = slotsOnDay(schedule, day, timeZone);
    for (let i = slots.length - 1; i >= 0; i--) {
      const t = slots[i]!;
      if (t <= nowMs) return t > lastMs ? new Date(t) : null;
    }
  }
  return null;
}

/** A slot later than this before `now` means the machine slept or Coffer was not running. */
export const CATCH_UP_AFTER_MS = 5 * MINUTE;

export interface ScheduledVm {
  vmId: string;
  schedule: PolicySchedule;
  timeZone: string;
  /** Start of the last scheduled or manual backup, or the protection time if none ran yet. */
  lastAttemptAt: Date;
}

export interface DueBackup {
  vmId: string;
  /** The slot this backup stands for. */
  slot: Date;
  /** The slot passed more than CATCH_UP_AFTER_MS ago: the job should say it is a catch-up. */
  catchUp: boolean;
}

/** The backups to start now, one per VM at most, in the order the VMs were given. */
export function dueBackups(vms: readonly ScheduledVm[], now: Date): DueBackup[] {
  const due: DueBackup[] = [];
  for (const vm of vms) {
    const slot = missedRun(vm.schedule, vm.lastAttemptAt, now, vm.timeZone);
    if (slot) due.push({ vmId: vm.vmId, slot, catchUp: now.getTime() - slot.getTime() > CATCH_UP_AFTER_MS });
  }
  return due;
}
