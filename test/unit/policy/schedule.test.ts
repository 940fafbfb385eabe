import { describe, expect, it } from 'vitest';
import type { PolicySchedule } from '../../../main/core/policy/spec.js';
import {
  CATCH_UP_AFTER_MS,
  dueBackups,
  fromWallMs,
  missedRun,
  nextRun,
  slotsBetween,
  type ScheduledVm,
} from '../../../main/core/policy/schedule.js';

const AMS = 'Europe/Amsterdam';
const daily = (...times: string[]): PolicySchedule => ({ kind: 'daily', times });
const weekly = (weekdays: ('MON' | 'TUE' | 'WED' | 'THU' | 'FRI' | 'SAT' | 'SUN')[], ...times: string[]): PolicySchedule => ({ kind: 'weekly', weekdays, times });
const at = (iso: string) => new Date(iso);
const iso = (d: Date | null) => d?.toISOString() ?? null;
const MINUTE = 60_000;

// Europe/Amsterdam 2026: CET (+01) until 2026-03-29 01:00Z, when 02:00 local jumps to 03:00 CEST (+02);
// back at 2026-10-25 01:00Z, when 03:00 CEST falls back to 02:00 CET, so 02:00..02:59 happens twice.
describe('nextRun', () => {
  it.each<[string, PolicySchedule, string, string, string]>([
    ['later today', daily('22:00'), AMS, '2026-01-10T12:00:00+01:00', '2026-01-10T22:00:00+01:00'],
    ['tomorrow once today has passed', daily('22:00'), AMS, '2026-01-10T22:30:00+01:00', '2026-01-11T22:00:00+01:00'],
    ['strictly after now: at the slot, the next one', daily('22:00'), AMS, '2026-01-10T22:00:00+01:00', '2026-01-11T22:00:00+01:00'],
    ['the next of several times', daily('06:00', '12:00', '22:00'), AMS, '2026-01-10T06:00:00+01:00', '2026-01-10T12:00:00+01:00'],
    ['summer time', daily('22:00'), AMS, '2026-07-01T12:00:00+02:00', '2026-07-01T22:00:00+02:00'],
    ['weekly, later in the week', weekly(['SAT'], '02:00'), AMS, '2026-01-05T10:00:00+01:00', '2026-01-10T02:00:00+01:00'],
    ['weekly, a full week ahead', weekly(['MON'], '02:00'), AMS, '2026-01-05T02:00:00+01:00', '2026-01-12T02:00:00+01:00'],
    ['weekly, the first of two days', weekly(['WED', 'SUN'], '23:00'), AMS, '2026-01-08T00:00:00+01:00', '2026-01-11T23:00:00+01:00'],
    ['just after midnight local, before midnight UTC', daily('00:30'), AMS, '2026-01-10T00:10:00+01:00', '2026-01-10T00:30:00+01:00'],
    // Spring forward: 02:30 does not exist on 2026-03-29; it runs when the clocks jump (03:00 CEST = 01:00Z).
    ['spring forward: a slot in the gap runs at 03:00', daily('02:30'), AMS, '2026-03-28T22:00:00Z', '2026-03-29T01:00:00Z'],
    ['spring forward: the slot at 02:00 runs at 03:00 too', daily('02:00'), AMS, '2026-03-28T22:00:00Z', '2026-03-29T01:00:00Z'],
    ['spring forward: the day after is normal again', daily('02:30'), AMS, '2026-03-29T01:00:00Z', '2026-03-30T00:30:00Z'],
    ['spring forward: gap slots and 03:00 run once, then 04:00', daily('02:00', '02:30', '03:00', '04:00'), AMS, '2026-03-29T01:00:00Z', '2026-03-29T02:00:00Z'],
    ['spring forward: 22:00 is in summer time', daily('22:00'), AMS, '2026-03-29T12:00:00Z', '2026-03-29T20:00:00Z'],
    // Fall back: 02:30 happens at 00:30Z (CEST) and again at 01:30Z (CET); only the first counts.
    ['fall back: a repeated slot runs at its first occurrence', daily('02:30'), AMS, '2026-10-24T22:00:00Z', '2026-10-25T00:30:00Z'],
    ['fall back: and not again an hour later', daily('02:30'), AMS, '2026-10-25T00:30:00Z', '2026-10-26T01:30:00Z'],
    ['fall back: from inside the second 02:xx hour', daily('02:30', '02:45'), AMS, '2026-10-25T01:20:00Z', '2026-10-26T01:30:00Z'],
    ['fall back: 03:00 comes after both 02:xx hours', daily('03:00'), AMS, '2026-10-25T00:30:00Z', '2026-10-25T02:00:00Z'],
    ['New York spring forward', daily('02:30'), 'America/New_York', '2026-03-08T05:00:00Z', '2026-03-08T07:00:00Z'],
    ['New York fall back', daily('01:30'), 'America/New_York', '2026-11-01T04:00:00Z', '2026-11-01T05:30:00Z'],
    // Lord Howe Island moves its clocks by 30 minutes (02:00 -> 02:30 in October, 02:00 -> 01:30 in April).
    ['a half-hour gap', daily('02:15'), 'Australia/Lord_Howe', '2026-10-03T12:00:00Z', '2026-10-03T15:30:00Z'],
    ['a half-hour overlap', daily('01:45'), 'Australia/Lord_Howe', '2026-04-04T12:00:00Z', '2026-04-04T14:45:00Z'],
    ['UTC', daily('22:00'), 'UTC', '2026-03-29T00:00:00Z', '2026-03-29T22:00:00Z'],
  ])('%s', (_name, schedule, tz, now, expected) => {
    expect(nextRun(schedule, at(now), tz).toISOString()).toBe(at(expected).toISOString());
  });
});

describe('fromWallMs', () => {
  it.each<[string, number, string]>([
    ['a normal winter time', Date.UTC(2026, 0, 10, 22, 0), '2026-01-10T21:00:00.000Z'],
    ['the first instant of the gap', Date.UTC(2026, 2, 29, 2, 0), '2026-03-29T01:00:00.000Z'],
    ['the last minute of the gap', Date.UTC(2026, 2, 29, 2, 59), '2026-03-29T01:00:00.000Z'],
    ['right after the gap', Date.UTC(2026, 2, 29, 3, 0), '2026-03-29T01:00:00.000Z'],
    ['the repeated hour', Date.UTC(2026, 9, 25, 2, 0), '2026-10-25T00:00:00.000Z'],
    ['right after the repeated hour', Date.UTC(2026, 9, 25, 3, 0), '2026-10-25T02:00:00.000Z'],
  ])('%s', (_name, wall, expected) => {
    expect(new Date(fromWallMs(wall, AMS)).toISOString()).toBe(expected);
  });
});

describe('slotsBetween', () => {
  it.each<[string, PolicySchedule, string, string, string[]]>([
    ['(from, to]: excludes from, includes to', daily('22:00'), '2026-01-10T22:00:00+01:00', '2026-01-12T22:00:00+01:00', ['2026-01-11T21:00:00.000Z', '2026-01-12T21:00:00.000Z']],
    ['the spring-forward week, once a day', daily('02:30'), '2026-03-27T12:00:00Z', '2026-03-31T12:00:00Z', [
      '2026-03-28T01:30:00.000Z', '2026-03-29T01:00:00.000Z', '2026-03-30T00:30:00.000Z', '2026-03-31T00:30:00.000Z',
    ]],
    ['the fall-back week, once a day', daily('02:30'), '2026-10-23T12:00:00Z', '2026-10-27T12:00:00Z', [
      '2026-10-24T00:30:00.000Z', '2026-10-25T00:30:00.000Z', '2026-10-26T01:30:00.000Z', '2026-10-27T01:30:00.000Z',
    ]],
    ['several times across the gap', daily('01:30', '02:30', '03:30'), '2026-03-28T23:00:00Z', '2026-03-29T03:00:00Z', [
      '2026-03-29T00:30:00.000Z', '2026-03-29T01:00:00.000Z', '2026-03-29T01:30:00.000Z',
    ]],
    ['weekly over three weeks', weekly(['SUN'], '22:00'), '2026-01-01T00:00:00Z', '2026-01-22T00:00:00Z', [
      '2026-01-04T21:00:00.000Z', '2026-01-11T21:00:00.000Z', '2026-01-18T21:00:00.000Z',
    ]],
    ['an empty range', daily('22:00'), '2026-01-10T12:00:00Z', '2026-01-10T12:00:00Z', []],
  ])('%s', (_name, schedule, from, to, expected) => {
    expect(slotsBetween(schedule, at(from), at(to), AMS).map((d) => d.toISOString())).toEqual(expected);
  });

  it('has exactly one slot per day over the DST year', () => {
    const slots = slotsBetween(daily('02:30'), at('2026-01-01T00:00:00Z'), at('2027-01-01T00:00:00Z'), AMS);
    expect(slots).toHaveLength(365);
  });
});

describe('missedRun', () => {
  it.each<[string, PolicySchedule, string, string, string | null]>([
    ['nothing missed', daily('22:00'), '2026-01-10T22:00:00+01:00', '2026-01-11T21:59:00+01:00', null],
    ['the slot right now', daily('22:00'), '2026-01-10T22:00:00+01:00', '2026-01-11T22:00:00+01:00', '2026-01-11T22:00:00+01:00'],
    ['slept over one slot', daily('22:00'), '2026-01-10T22:00:00+01:00', '2026-01-12T08:00:00+01:00', '2026-01-11T22:00:00+01:00'],
    ['slept over many slots: only the latest', daily('22:00'), '2026-01-10T22:00:00+01:00', '2026-01-20T08:00:00+01:00', '2026-01-19T22:00:00+01:00'],
    ['slept over several times of one day', daily('06:00', '12:00', '18:00'), '2026-01-10T06:00:00+01:00', '2026-01-10T19:00:00+01:00', '2026-01-10T18:00:00+01:00'],
    ['a manual backup after the slot covers it', daily('22:00'), '2026-01-11T22:03:00+01:00', '2026-01-12T08:00:00+01:00', null],
    ['a manual backup before the slot does not', daily('22:00'), '2026-01-11T21:00:00+01:00', '2026-01-12T08:00:00+01:00', '2026-01-11T22:00:00+01:00'],
    ['protected after today’s slot: the first run is tomorrow', daily('22:00'), '2026-01-11T22:30:00+01:00', '2026-01-11T23:00:00+01:00', null],
    ['weekly, away for a month', weekly(['SUN'], '22:00'), '2026-01-04T22:00:00+01:00', '2026-02-03T09:00:00+01:00', '2026-02-01T22:00:00+01:00'],
    ['weekly, away for years', weekly(['SUN'], '22:00'), '2020-01-05T22:00:00+01:00', '2026-02-03T09:00:00+01:00', '2026-02-01T22:00:00+01:00'],
    ['slept over the spring-forward gap', daily('02:30'), '2026-03-28T02:30:00+01:00', '2026-03-29T09:00:00+02:00', '2026-03-29T03:00:00+02:00'],
    ['the second 02:30 of fall-back night is not a slot', daily('02:30'), '2026-10-25T00:30:00Z', '2026-10-25T01:45:00Z', null],
    ['a clock that went backwards', daily('22:00'), '2026-01-12T08:00:00+01:00', '2026-01-11T08:00:00+01:00', null],
  ])('%s', (_name, schedule, last, now, expected) => {
    expect(iso(missedRun(schedule, at(last), at(now), AMS))).toBe(expected && at(expected).toISOString());
  });
});

describe('dueBackups', () => {
  const vm = (vmId: string, schedule: PolicySchedule, lastAttemptAt: string): ScheduledVm => ({ vmId, schedule, timeZone: AMS, lastAttemptAt: at(lastAttemptAt) });

  it('lists each VM at most once, flags catch-ups', () => {
    const now = at('2026-01-12T22:01:00+01:00');
    expect(
      dueBackups(
        [
          vm('on-time', daily('22:00'), '2026-01-11T22:00:00+01:00'),
          vm('slept', daily('06:00'), '2026-01-05T06:00:00+01:00'),
          vm('done', daily('22:00'), '2026-01-12T22:00:30+01:00'),
          vm('weekly', weekly(['SUN'], '22:00'), '2026-01-04T22:00:00+01:00'),
        ],
        now,
      ),
    ).toEqual([
      { vmId: 'on-time', slot: at('2026-01-12T22:00:00+01:00'), catchUp: false },
      { vmId: 'slept', slot: at('2026-01-12T06:00:00+01:00'), catchUp: true },
      { vmId: 'weekly', slot: at('2026-01-11T22:00:00+01:00'), catchUp: true },
    ]);
  });

  it.each<[string, number, boolean]>([
    ['on the slot', 0, false],
    ['exactly at the grace limit', CATCH_UP_AFTER_MS, false],
    ['just past it', CATCH_UP_AFTER_MS + 1, true],
  ])('catch-up flag %s', (_name, late, catchUp) => {
    const slot = at('2026-01-12T22:00:00+01:00');
    const [due] = dueBackups([vm('a', daily('22:00'), '2026-01-11T22:00:00+01:00')], new Date(slot.getTime() + late));
    expect(due).toEqual({ vmId: 'a', slot, catchUp });
  });

  /**
   * A manual clock ticking once a minute; a due backup starts at once (lastAttemptAt = now).
   * `sleeps` are [from, to] spans in which the machine is off: the clock jumps over them.
   */
  function runScheduler(schedule: PolicySchedule, protectedAt: string, until: string, sleeps: [string, string][] = []) {
    const started: { at: string; slot: string; catchUp: boolean }[] = [];
    let state = vm('vm', schedule, protectedAt);
    let now = at(protectedAt).getTime();
    const end = at(until).getTime();
    while (now <= end) {
      const sleep = sleeps.find(([from, to]) => now >= at(from).getTime() && now < at(to).getTime());
      if (sleep) now = at(sleep[1]).getTime();
      for (const due of dueBackups([state], new Date(now))) {
        started.push({ at: new Date(now).toISOString(), slot: due.slot.toISOString(), catchUp: due.catchUp });
        state = { ...state, lastAttemptAt: new Date(now) };
      }
      now += MINUTE;
    }
    return started;
  }

  it('runs a normal week once a day on the slot', () => {
    const runs = runScheduler(daily('22:00'), '2026-01-05T10:00:00+01:00', '2026-01-11T23:59:00+01:00');
    expect(runs).toHaveLength(7);
    expect(runs.every((r) => r.at === r.slot && !r.catchUp)).toBe(true);
    expect(runs[0]!.at).toBe('2026-01-05T21:00:00.000Z');
  });

  it('runs once through the spring-forward night, at 03:00 CEST', () => {
    const runs = runScheduler(daily('02:30'), '2026-03-27T12:00:00Z', '2026-03-30T12:00:00Z');
    expect(runs.map((r) => r.at)).toEqual(['2026-03-28T01:30:00.000Z', '2026-03-29T01:00:00.000Z', '2026-03-30T00:30:00.000Z']);
  });

  it('runs once through the fall-back night, at the first 02:30', () => {
    const runs = runScheduler(daily('02:30'), '2026-10-23T12:00:00Z', '2026-10-26T12:00:00Z');
    expect(runs.map((r) => r.at)).toEqual(['2026-10-24T00:30:00.000Z', '2026-10-25T00:30:00.000Z', '2026-10-26T01:30:00.000Z']);
  });

  it('catches up one slot after sleeping over it, then keeps the schedule', () => {
    const runs = runScheduler(daily('22:00'), '2026-01-05T10:00:00+01:00', '2026-01-07T23:00:00+01:00', [
      ['2026-01-05T21:00:00+01:00', '2026-01-06T07:30:00+01:00'],
    ]);
    expect(runs).toEqual([
      { at: '2026-01-06T06:30:00.000Z', slot: '2026-01-05T21:00:00.000Z', catchUp: true },
      { at: '2026-01-06T21:00:00.000Z', slot: '2026-01-06T21:00:00.000Z', catchUp: false },
      { at: '2026-01-07T21:00:00.000Z', slot: '2026-01-07T21:00:00.000Z', catchUp: false },
    ]);
  });

  it('catches up once, not once per slot, after sleeping over many', () => {
    const runs = runScheduler(daily('06:00', '22:00'), '2026-01-05T10:00:00+01:00', '2026-01-15T12:00:00+01:00', [
      ['2026-01-05T21:00:00+01:00', '2026-01-15T09:00:00+01:00'],
    ]);
    expect(runs).toEqual([{ at: '2026-01-15T08:00:00.000Z', slot: '2026-01-15T05:00:00.000Z', catchUp: true }]);
  });

  it('after a restart in the middle of a job, the interrupted slot is not rerun and the next slot proceeds', () => {
    // The job started at 22:00 and the host died at 22:10; lastAttemptAt is that start.
    const runs = runScheduler(daily('22:00'), '2026-01-05T22:00:00+01:00', '2026-01-06T23:00:00+01:00', [
      ['2026-01-05T22:10:00+01:00', '2026-01-05T22:20:00+01:00'],
    ]);
    expect(runs).toEqual([{ at: '2026-01-06T21:00:00.000Z', slot: '2026-01-06T21:00:00.000Z', catchUp: false }]);
  });

  it('a newly protected VM waits for its first slot (the initial backup)', () => {
    expect(dueBackups([vm('new', daily('22:00'), '2026-01-05T23:00:00+01:00')], at('2026-01-06T08:00:00+01:00'))).toEqual([]);
  });
});
