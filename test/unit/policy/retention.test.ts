import { describe, expect, it } from 'vitest';
import type { RetentionSpec } from '../../../main/core/policy/spec.js';
import {
  backupNowRetainUntil,
  defaultRetainUntil,
  keptUntil,
  retentionDecisions,
  ruleDayOfMonth,
  type RetentionPoint,
  type RetentionReason,
} from '../../../main/core/policy/retention.js';

const AMS = 'Europe/Amsterdam';
const DAY = 86_400_000;
const at = (iso: string) => new Date(iso);

/** Points named by their local time in Amsterdam, e.g. '2026-01-04T22:00+01:00'. */
const point = (local: string, extra: Partial<RetentionPoint> = {}): RetentionPoint => ({ id: local, createdAt: at(local), ...extra });

function decide(retention: RetentionSpec, points: RetentionPoint[], now: string) {
  return Object.fromEntries(retentionDecisions(retention, points, at(now), AMS).map((d) => [d.id, d.reasons]));
}

describe('ruleDayOfMonth', () => {
  it.each<[Parameters<typeof ruleDayOfMonth>[0], number, number, number]>([
    ['first-SUN', 2026, 0, 4],
    ['last-SUN', 2026, 0, 25],
    ['second-TUE', 2026, 2, 10],
    ['fourth-FRI', 2026, 1, 27],
    ['last-SAT', 2026, 9, 31],
    ['first-THU', 2026, 0, 1],
    ['last-day', 2028, 1, 29],
    ['last-day', 2026, 1, 28],
    ['day-28', 2026, 1, 28],
    ['day-1', 2026, 11, 1],
  ])('%s of %i-%i is day %i', (rule, year, month0, day) => {
    expect(ruleDayOfMonth(rule, year, month0)).toBe(day);
  });
});

describe('retentionDecisions', () => {
  const tenDailies = Array.from({ length: 10 }, (_, i) => point(`2026-01-${String(i + 1).padStart(2, '0')}T22:00:00+01:00`));

  it.each<[string, RetentionSpec, RetentionPoint[], string, Record<string, RetentionReason[]>]>([
    ['an empty list', { dailyDays: 30 }, [], '2026-01-10T22:00:00+01:00', {}],
    [
      'daily: a point exactly N days old is gone (each tier keeps N, not N+1)',
      { dailyDays: 3 },
      tenDailies.slice(5),
      '2026-01-10T22:00:00+01:00',
      {
        '2026-01-06T22:00:00+01:00': [],
        '2026-01-07T22:00:00+01:00': [],
        '2026-01-08T22:00:00+01:00': ['daily'],
        '2026-01-09T22:00:00+01:00': ['daily'],
        '2026-01-10T22:00:00+01:00': ['daily', 'latest'],
      },
    ],
    [
      'daily: a minute before that it is still kept (no dip to N-1 before the next backup)',
      { dailyDays: 3 },
      tenDailies.slice(5, 9),
      '2026-01-10T21:59:00+01:00',
      {
        '2026-01-06T22:00:00+01:00': [],
        '2026-01-07T22:00:00+01:00': ['daily'],
        '2026-01-08T22:00:00+01:00': ['daily'],
        '2026-01-09T22:00:00+01:00': ['daily', 'latest'],
      },
    ],
    [
      'daily: several backups a day are all kept for N days',
      { dailyDays: 1 },
      [point('2026-01-09T06:00:00+01:00'), point('2026-01-09T22:00:00+01:00'), point('2026-01-10T06:00:00+01:00'), point('2026-01-10T12:00:00+01:00')],
      '2026-01-10T12:00:00+01:00',
      {
        '2026-01-09T06:00:00+01:00': [],
        '2026-01-09T22:00:00+01:00': ['daily'],
        '2026-01-10T06:00:00+01:00': ['daily'],
        '2026-01-10T12:00:00+01:00': ['daily', 'latest'],
      },
    ],
    [
      'daily: measured in wall-clock days across the spring-forward night (23 hours)',
      { dailyDays: 1 },
      [point('2026-03-28T22:00:00+01:00'), point('2026-03-29T22:00:00+02:00')],
      '2026-03-29T21:59:00+02:00',
      { '2026-03-28T22:00:00+01:00': ['daily'], '2026-03-29T22:00:00+02:00': ['daily', 'latest'] },
    ],
    [
      'weekly: only the last point of the weekday counts',
      { weekly: { weekday: 'SUN', weeks: 2 } },
      [
        point('2026-01-04T10:00:00+01:00'),
        point('2026-01-04T22:00:00+01:00'),
        point('2026-01-05T22:00:00+01:00'),
        point('2026-01-11T22:00:00+01:00'),
        point('2026-01-12T22:00:00+01:00'),
      ],
      '2026-01-13T12:00:00+01:00',
      {
        '2026-01-04T10:00:00+01:00': [],
        '2026-01-04T22:00:00+01:00': ['weekly'],
        '2026-01-05T22:00:00+01:00': [],
        '2026-01-11T22:00:00+01:00': ['weekly'],
        '2026-01-12T22:00:00+01:00': ['latest'],
      },
    ],
    [
      'weekly: N weeks to the minute',
      { weekly: { weekday: 'SUN', weeks: 1 } },
      [point('2026-01-04T22:00:00+01:00'), point('2026-01-11T22:00:00+01:00')],
      '2026-01-11T22:00:00+01:00',
      { '2026-01-04T22:00:00+01:00': [], '2026-01-11T22:00:00+01:00': ['weekly', 'latest'] },
    ],
    [
      'monthly: the rule day only, kept until the rule day N months on',
      { monthly: { rule: 'last-SUN', months: 2 } },
      [
        point('2025-12-28T22:00:00+01:00'),
        point('2026-01-18T22:00:00+01:00'),
        point('2026-01-25T22:00:00+01:00'),
        point('2026-02-22T22:00:00+01:00'),
        point('2026-02-23T22:00:00+01:00'),
      ],
      // Two months after 2025-12-28 is the last Sunday of February: 2026-02-22.
      '2026-02-22T22:30:00+01:00',
      {
        '2025-12-28T22:00:00+01:00': [],
        '2026-01-18T22:00:00+01:00': [],
        '2026-01-25T22:00:00+01:00': ['monthly'],
        '2026-02-22T22:00:00+01:00': ['monthly'],
        '2026-02-23T22:00:00+01:00': ['latest'],
      },
    ],
    [
      'monthly: on the rule day, the oldest point waits for the new backup’s time (no dip to N-1)',
      { monthly: { rule: 'last-SUN', months: 2 } },
      [point('2025-12-28T22:00:00+01:00'), point('2026-01-25T22:00:00+01:00'), point('2026-02-21T22:00:00+01:00')],
      '2026-02-22T12:00:00+01:00',
      { '2025-12-28T22:00:00+01:00': ['monthly'], '2026-01-25T22:00:00+01:00': ['monthly'], '2026-02-21T22:00:00+01:00': ['latest'] },
    ],
    [
      'yearly: likewise on the rule day N years on',
      { yearly: { month: 'JAN', rule: 'first-SUN', years: 1 } },
      [point('2025-01-05T22:00:00+01:00'), point('2026-01-03T22:00:00+01:00')],
      '2026-01-04T21:59:00+01:00',
      { '2025-01-05T22:00:00+01:00': ['yearly'], '2026-01-03T22:00:00+01:00': ['latest'] },
    ],
    [
      'monthly: the previous rule point lives on until this month’s rule day',
      { monthly: { rule: 'last-SUN', months: 2 } },
      [point('2025-12-28T22:00:00+01:00'), point('2026-01-25T22:00:00+01:00'), point('2026-02-20T22:00:00+01:00')],
      '2026-02-21T12:00:00+01:00',
      { '2025-12-28T22:00:00+01:00': ['monthly'], '2026-01-25T22:00:00+01:00': ['monthly'], '2026-02-20T22:00:00+01:00': ['latest'] },
    ],
    [
      'monthly: day rules and last-day in a leap year',
      { dailyDays: 1, monthly: { rule: 'last-day', months: 12 } },
      [point('2028-01-31T01:00:00+01:00'), point('2028-02-28T01:00:00+01:00'), point('2028-02-29T01:00:00+01:00'), point('2028-03-01T01:00:00+01:00')],
      '2028-03-01T02:00:00+01:00',
      {
        '2028-01-31T01:00:00+01:00': ['monthly'],
        '2028-02-28T01:00:00+01:00': [],
        '2028-02-29T01:00:00+01:00': ['monthly'],
        '2028-03-01T01:00:00+01:00': ['daily', 'latest'],
      },
    ],
    [
      'yearly: month and rule, for N years',
      { yearly: { month: 'JAN', rule: 'first-SUN', years: 2 } },
      [
        point('2024-01-07T22:00:00+01:00'),
        point('2025-01-05T22:00:00+01:00'),
        point('2025-02-02T22:00:00+01:00'),
        point('2026-01-04T22:00:00+01:00'),
        point('2026-01-11T22:00:00+01:00'),
      ],
      '2026-01-11T23:00:00+01:00',
      {
        '2024-01-07T22:00:00+01:00': [],
        '2025-01-05T22:00:00+01:00': ['yearly'],
        '2025-02-02T22:00:00+01:00': [],
        '2026-01-04T22:00:00+01:00': ['yearly'],
        '2026-01-11T22:00:00+01:00': ['latest'],
      },
    ],
    [
      'a point kept by every tier lists every reason',
      { dailyDays: 30, weekly: { weekday: 'SUN', weeks: 104 }, monthly: { rule: 'first-SUN', months: 120 }, yearly: { month: 'JAN', rule: 'first-SUN', years: 99 } },
      [point('2026-01-04T22:00:00+01:00')],
      '2026-01-05T00:00:00+01:00',
      { '2026-01-04T22:00:00+01:00': ['daily', 'weekly', 'monthly', 'yearly', 'latest'] },
    ],
    [
      'Backup Now points follow their retain-until only, and do not feed the tiers',
      { dailyDays: 30, weekly: { weekday: 'SUN', weeks: 4 } },
      [
        point('2026-01-04T10:00:00+01:00', { manual: true, retainUntil: at('2026-03-01T00:00:00+01:00') }),
        point('2026-01-04T11:00:00+01:00', { manual: true, retainUntil: at('2026-01-06T00:00:00+01:00') }),
        point('2026-01-05T22:00:00+01:00'),
      ],
      '2026-01-06T00:00:00+01:00',
      {
        '2026-01-04T10:00:00+01:00': ['retain-until'],
        // retain-until is exclusive: at that instant the point goes.
        '2026-01-04T11:00:00+01:00': [],
        '2026-01-05T22:00:00+01:00': ['daily', 'latest'],
      },
    ],
    [
      'a Backup Now point without a date gets the daily retention',
      { dailyDays: 2 },
      [point('2026-01-01T10:00:00+01:00', { manual: true }), point('2026-01-02T10:00:00+01:00', { manual: true, retainUntil: null })],
      '2026-01-03T10:00:00+01:00',
      { '2026-01-01T10:00:00+01:00': [], '2026-01-02T10:00:00+01:00': ['retain-until'] },
    ],
    [
      'a scheduled point with a later retain-until adds that reason',
      { dailyDays: 1 },
      [point('2026-01-01T22:00:00+01:00', { retainUntil: at('2027-01-01T00:00:00Z') }), point('2026-01-10T22:00:00+01:00')],
      '2026-01-10T23:00:00+01:00',
      { '2026-01-01T22:00:00+01:00': ['retain-until'], '2026-01-10T22:00:00+01:00': ['daily', 'latest'] },
    ],
    [
      'backups failing for months: the newest point stays',
      { dailyDays: 7 },
      [point('2026-01-01T22:00:00+01:00'), point('2026-01-02T22:00:00+01:00')],
      '2026-04-01T22:00:00+02:00',
      { '2026-01-01T22:00:00+01:00': [], '2026-01-02T22:00:00+01:00': ['latest'] },
    ],
    [
      'a shortened policy prunes at once; the order of points does not matter',
      { dailyDays: 2 },
      [tenDailies[9]!, tenDailies[3]!, tenDailies[8]!, tenDailies[7]!],
      '2026-01-10T23:00:00+01:00',
      {
        '2026-01-10T22:00:00+01:00': ['daily', 'latest'],
        '2026-01-04T22:00:00+01:00': [],
        '2026-01-09T22:00:00+01:00': ['daily'],
        '2026-01-08T22:00:00+01:00': [],
      },
    ],
  ])('%s', (_name, retention, points, now, expected) => {
    const decisions = retentionDecisions(retention, points, at(now), AMS);
    expect(decisions.map((d) => d.id)).toEqual(points.map((p) => p.id));
    expect(decisions.every((d) => d.keep === d.reasons.length > 0)).toBe(true);
    expect(decide(retention, points, now)).toEqual(expected);
  });

  it('defaultRetainUntil is the daily retention in wall-clock days, or 30 days', () => {
    expect(defaultRetainUntil({ dailyDays: 7 }, at('2026-03-25T12:00:00+01:00'), AMS)).toEqual(at('2026-04-01T12:00:00+02:00'));
    expect(defaultRetainUntil({ weekly: { weekday: 'SUN', weeks: 4 } }, at('2026-01-01T12:00:00+01:00'), AMS)).toEqual(at('2026-01-31T12:00:00+01:00'));
  });

  it('keptUntil names the instant a Backup Now point is kept to and where it came from', () => {
    const created = at('2026-03-25T12:00:00+01:00');
    // No date given: the default, from the policy's daily tier or the 30-day fallback, with its days.
    expect(backupNowRetainUntil({ dailyDays: 7 }, undefined, created, AMS)).toEqual({ until: at('2026-04-01T12:00:00+02:00'), basis: { kind: 'default', days: 7, from: 'daily' } });
    expect(backupNowRetainUntil({ weekly: { weekday: 'SUN', weeks: 4 } }, undefined, created, AMS)).toEqual({
      until: at('2026-04-24T12:00:00+02:00'),
      basis: { kind: 'default', days: 30, from: 'fallback' },
    });
    // A date given is kept as given.
    expect(backupNowRetainUntil({ dailyDays: 7 }, at('2026-12-31T22:59:59.999Z'), created, AMS)).toEqual({ until: at('2026-12-31T22:59:59.999Z'), basis: { kind: 'chosen' } });
    // A stored date with its recorded basis; without a record the basis is unknown, never guessed.
    const stored = point('2026-03-25T12:00+01:00', { manual: true, retainUntil: at('2026-04-01T12:00:00+02:00'), retainBasis: { kind: 'default', days: 7, from: 'daily' } });
    expect(keptUntil({ dailyDays: 30 }, stored, AMS)).toEqual({ until: at('2026-04-01T12:00:00+02:00'), basis: { kind: 'default', days: 7, from: 'daily' } });
    expect(keptUntil({ dailyDays: 30 }, { ...stored, retainBasis: null }, AMS)?.basis).toEqual({ kind: 'unknown' });
    // A Backup Now point stored without a date (older catalogs) is kept until the policy's default, and says so.
    const legacy = point('2026-03-25T12:00+01:00', { manual: true });
    expect(keptUntil({ dailyDays: 14 }, legacy, AMS)).toEqual({ until: at('2026-04-08T12:00:00+02:00'), basis: { kind: 'default', days: 14, from: 'daily' } });
    expect(decide({ dailyDays: 14 }, [legacy], '2026-04-08T11:59:00+02:00')).toEqual({ [legacy.id]: ['retain-until'] });
    expect(decide({ dailyDays: 14 }, [legacy], '2026-04-08T12:00:00+02:00')).toEqual({ [legacy.id]: [] });
    // Scheduled points without a date, and points of a VM without a policy, have no retain-until.
    expect(keptUntil({ dailyDays: 14 }, point('2026-03-25T22:00+01:00'), AMS)).toBeNull();
    expect(keptUntil(null, legacy, AMS)).toBeNull();
  });
});

// -- Simulations -------------------------------------------------------------------------------
// The expected sets are computed here from the calendar alone, not with the code under test:
// Amsterdam is UTC+2 from the last Sunday of March to the last Sunday of October, else UTC+1
// (the switch happens at 01:00Z, so a 22:00 backup on the switch day already has the new offset).

const dayNumber = (y: number, m0: number, d: number) => Date.UTC(y, m0, d) / DAY;
const dateOf = (day: number) => new Date(day * DAY);
const isoDate = (day: number) => dateOf(day).toISOString().slice(0, 10);
const weekday = (day: number) => dateOf(day).getUTCDay(); // 0 = Sunday
const lastSundayOf = (y: number, m0: number) => {
  const last = dayNumber(y, m0 + 1, 0);
  return last - weekday(last);
};
const isSummer = (day: number) => {
  const y = dateOf(day).getUTCFullYear();
  return day >= lastSundayOf(y, 2) && day < lastSundayOf(y, 9);
};
/** The instant of HH:MM Amsterdam time on a day (never inside a DST switch for the times used here). */
const amsterdam = (day: number, hour: number, minute = 0) => new Date(day * DAY + ((hour - (isSummer(day) ? 2 : 1)) * 60 + minute) * 60_000);

const isLastSundayOfMonth = (day: number) => weekday(day) === 0 && dateOf(day + 7).getUTCMonth() !== dateOf(day).getUTCMonth();
const isFirstSundayOfJanuary = (day: number) => weekday(day) === 0 && dateOf(day).getUTCMonth() === 0 && dateOf(day).getUTCDate() <= 7;

/** Back up at the given days and local time, pruning after each backup; returns the kept set at the end. */
function simulate(retention: RetentionSpec, backupDays: number[], hour: number, onPrune?: (day: number, reasons: Map<string, RetentionReason[]>) => void) {
  let kept: RetentionPoint[] = [];
  for (const day of backupDays) {
    const createdAt = amsterdam(day, hour);
    kept.push({ id: isoDate(day), createdAt });
    // The prune runs after the backup, a few minutes later.
    const decisions = retentionDecisions(retention, kept, new Date(createdAt.getTime() + 7 * 60_000), AMS);
    const keep = new Set(decisions.filter((d) => d.keep).map((d) => d.id));
    kept = kept.filter((p) => keep.has(p.id));
    onPrune?.(day, new Map(decisions.filter((d) => d.keep).map((d) => [d.id, d.reasons])));
  }
  return kept.map((p) => p.id).sort();
}

const lastN = (days: number[], n: number) => days.slice(Math.max(0, days.length - n));

describe('the seed policy over 10 years of daily backups at 22:00', () => {
  const seed: RetentionSpec = {
    dailyDays: 30,
    weekly: { weekday: 'SUN', weeks: 104 },
    monthly: { rule: 'last-SUN', months: 120 },
    yearly: { month: 'JAN', rule: 'first-SUN', years: 99 },
  };
  const first = dayNumber(2026, 0, 1);
  const last = dayNumber(2035, 12 - 1, 31);
  const days = Array.from({ length: last - first + 1 }, (_, i) => first + i);

  it('keeps exactly what each tier promises, after every prune and at the end', () => {
    let checked = 0;
    const kept = simulate(seed, days, 22, (today, reasons) => {
      const upToToday = days.filter((d) => d <= today);
      const expectedByTier: Record<string, number[]> = {
        daily: lastN(upToToday, 30),
        // Sundays of the last 104 weeks: the one 104 weeks ago expired at 22:00 today.
        weekly: upToToday.filter((d) => weekday(d) === 0 && d > today - 104 * 7),
        monthly: lastN(upToToday.filter(isLastSundayOfMonth), 120),
        yearly: upToToday.filter(isFirstSundayOfJanuary),
      };
      for (const [tier, expected] of Object.entries(expectedByTier)) {
        const actual = [...reasons].filter(([, r]) => r.includes(tier as RetentionReason)).map(([id]) => id).sort();
        expect(actual, `${tier} tier on ${isoDate(today)}`).toEqual(expected.map(isoDate));
      }
      checked++;
    });

    expect(checked).toBe(days.length);
    const sundays = days.filter((d) => weekday(d) === 0);
    const expected = new Set([
      ...lastN(days, 30),
      ...lastN(sundays, 104),
      ...lastN(days.filter(isLastSundayOfMonth), 120),
      ...days.filter(isFirstSundayOfJanuary),
    ].map(isoDate));
    expect(kept).toEqual([...expected].sort());
    // What the user was promised, in numbers: 10 years hold 120 last Sundays and 10 first Sundays of January.
    expect(days.filter(isLastSundayOfMonth)).toHaveLength(120);
    expect(days.filter(isFirstSundayOfJanuary).map(isoDate)).toEqual([
      '2026-01-04', '2027-01-03', '2028-01-02', '2029-01-07', '2030-01-06',
      '2031-01-05', '2032-01-04', '2033-01-02', '2034-01-01', '2035-01-07',
    ]);
    expect(kept).toContain('2026-01-25'); // the oldest last Sunday, still inside 120 months
  }, 60_000);
});

describe('a weekly schedule (Saturday and Sunday at 03:00) over two years', () => {
  const retention: RetentionSpec = { weekly: { weekday: 'SAT', weeks: 8 }, monthly: { rule: 'first-SUN', months: 6 } };
  const first = dayNumber(2026, 0, 1);
  const all = Array.from({ length: 731 }, (_, i) => first + i);
  const backupDays = all.filter((d) => weekday(d) === 6 || weekday(d) === 0);

  it('keeps 8 Saturdays, 6 first Sundays, and the newest backup', () => {
    const kept = simulate(retention, backupDays, 3);
    const end = backupDays[backupDays.length - 1]!;
    const expected = new Set([
      ...lastN(backupDays.filter((d) => weekday(d) === 6), 8),
      ...lastN(backupDays.filter((d) => weekday(d) === 0 && dateOf(d).getUTCDate() <= 7), 6),
      end,
    ].map(isoDate));
    expect(kept).toEqual([...expected].sort());
    expect(kept.length).toBeGreaterThanOrEqual(14);
  });
});
