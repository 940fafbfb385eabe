import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  DEFAULT_POLICY_SPEC,
  describePolicy,
  LIMITS,
  MAX_POINTS_PER_VM,
  maxPointsKept,
  MONTH_RULES,
  PolicySpec,
  policySpecFromCli,
  type PolicyCliFlags,
} from '../../../main/core/policy/spec.js';

const daily = (times = ['22:00']) => ({ kind: 'daily' as const, times });
const weekly = (weekdays: string[], times = ['02:00']) => ({ kind: 'weekly' as const, weekdays, times });

const seedFlags: PolicyCliFlags = {
  daily: '22:00',
  keepDaily: '30',
  keepWeekly: 'SUN:104',
  keepMonthly: 'last-SUN:120',
  keepYearly: 'JAN:first-SUN:99',
};
const seedSpec: PolicySpec = {
  schedule: { kind: 'daily', times: ['22:00'] },
  retention: {
    dailyDays: 30,
    weekly: { weekday: 'SUN', weeks: 104 },
    monthly: { rule: 'last-SUN', months: 120 },
    yearly: { month: 'JAN', rule: 'first-SUN', years: 99 },
  },
};

function issuesOf(input: unknown) {
  const result = PolicySpec.safeParse(input);
  expect(result.success).toBe(false);
  return result.error!.issues.map((i) => ({ path: i.path, message: i.message }));
}

describe('PolicySpec accepts', () => {
  it.each<[string, unknown]>([
    ['the seed example', seedSpec],
    ['the built-in default policy', DEFAULT_POLICY_SPEC],
    ['six times a day', { schedule: daily(['00:00', '04:00', '08:00', '12:00', '16:00', '23:59']), retention: { dailyDays: 7 } }],
    ['every count at its limit', {
      schedule: daily(),
      retention: {
        dailyDays: LIMITS.dailyDays,
        weekly: { weekday: 'MON', weeks: LIMITS.weeklyWeeks },
        monthly: { rule: 'day-28', months: LIMITS.monthlyMonths },
        yearly: { month: 'DEC', rule: 'last-day', years: LIMITS.yearlyYears },
      },
    }],
    ['a weekly schedule with only a weekly tier', { schedule: weekly(['SAT', 'SUN']), retention: { weekly: { weekday: 'SUN', weeks: 12 } } }],
    ['a weekly schedule feeding a monthly weekday rule', { schedule: weekly(['MON']), retention: { monthly: { rule: 'first-MON', months: 12 } } }],
    ['a weekly schedule with a daily tier (keeps every backup of the last N days)', { schedule: weekly(['MON']), retention: { dailyDays: 14 } }],
    ['every day of the week as a weekly schedule', { schedule: weekly(['MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT', 'SUN']), retention: { monthly: { rule: 'last-FRI', months: 3 } } }],
  ])('%s', (_name, input) => {
    expect(PolicySpec.safeParse(input).success).toBe(true);
  });

  it('stores times and weekdays in order', () => {
    const spec = PolicySpec.parse({ schedule: weekly(['SUN', 'MON', 'WED'], ['22:00', '06:30']), retention: { dailyDays: 3 } });
    expect(spec.schedule).toEqual({ kind: 'weekly', weekdays: ['MON', 'WED', 'SUN'], times: ['06:30', '22:00'] });
  });

  it('knows all 64 month rules', () => {
    expect(MONTH_RULES).toHaveLength(5 * 7 + 28 + 1);
    expect(MONTH_RULES).toContain('first-SUN');
    expect(MONTH_RULES).toContain('last-SAT');
    expect(MONTH_RULES).toContain('day-28');
    expect(MONTH_RULES).not.toContain('day-29');
  });
});

describe('PolicySpec rejects, naming the field', () => {
  it.each<[string, unknown, (string | number)[], RegExp]>([
    ['no retention tier at all', { schedule: weekly(['SUN']), retention: {} }, ['retention'], /at least one retention tier/],
    ['a daily schedule without a daily tier', { schedule: daily(), retention: { weekly: { weekday: 'SUN', weeks: 4 } } }, ['retention', 'dailyDays'], /daily schedule needs a daily retention tier/],
    ['a weekly tier on a day without backups', { schedule: weekly(['SAT']), retention: { weekly: { weekday: 'SUN', weeks: 4 } } }, ['retention', 'weekly', 'weekday'], /keeps SUN backups, but the schedule backs up only on SAT/],
    ['a monthly rule the schedule does not feed', { schedule: weekly(['MON']), retention: { monthly: { rule: 'last-SUN', months: 12 } } }, ['retention', 'monthly', 'rule'], /last-SUN keeps SUN backups, but the schedule backs up only on MON/],
    ['a yearly rule the schedule does not feed', { schedule: weekly(['MON']), retention: { yearly: { month: 'JAN', rule: 'first-SUN', years: 5 } } }, ['retention', 'yearly', 'rule'], /first-SUN keeps SUN backups/],
    ['a day-of-month rule on a weekly schedule', { schedule: weekly(['MON']), retention: { monthly: { rule: 'day-1', months: 12 } } }, ['retention', 'monthly', 'rule'], /only a daily schedule/],
    ['last-day on a weekly schedule', { schedule: weekly(['MON']), retention: { yearly: { month: 'DEC', rule: 'last-day', years: 5 } } }, ['retention', 'yearly', 'rule'], /only a daily schedule/],
    ['daily 0 days', { schedule: daily(), retention: { dailyDays: 0 } }, ['retention', 'dailyDays'], /at least 1/],
    ['daily 10000 days', { schedule: daily(), retention: { dailyDays: 10000 } }, ['retention', 'dailyDays'], /at most 9999/],
    ['daily 1.5 days', { schedule: daily(), retention: { dailyDays: 1.5 } }, ['retention', 'dailyDays'], /whole number/],
    ['weekly 5164 weeks', { schedule: daily(), retention: { dailyDays: 1, weekly: { weekday: 'SUN', weeks: 5164 } } }, ['retention', 'weekly', 'weeks'], /at most 5163/],
    ['monthly 1189 months', { schedule: daily(), retention: { dailyDays: 1, monthly: { rule: 'day-1', months: 1189 } } }, ['retention', 'monthly', 'months'], /at most 1188/],
    ['yearly 100 years', { schedule: daily(), retention: { dailyDays: 1, yearly: { month: 'JAN', rule: 'day-1', years: 100 } } }, ['retention', 'yearly', 'years'], /at most 99/],
    ['a fifth weekday', { schedule: daily(), retention: { dailyDays: 1, monthly: { rule: 'fifth-SUN', months: 1 } } }, ['retention', 'monthly', 'rule'], /first-SUN .. last-SAT/],
    ['day 29 (not in every month)', { schedule: daily(), retention: { dailyDays: 1, monthly: { rule: 'day-29', months: 1 } } }, ['retention', 'monthly', 'rule'], /day-1 .. day-28/],
    ['a month name spelt out', { schedule: daily(), retention: { dailyDays: 1, yearly: { month: 'January', rule: 'day-1', years: 1 } } }, ['retention', 'yearly', 'month'], /Use a month: JAN/],
    ['24:00', { schedule: daily(['24:00']), retention: { dailyDays: 1 } }, ['schedule', 'times', 0], /"24:00" is not a time/],
    ['a time without its leading zero', { schedule: daily(['7:00']), retention: { dailyDays: 1 } }, ['schedule', 'times', 0], /HH:MM/],
    ['the same time twice', { schedule: daily(['07:00', '07:00']), retention: { dailyDays: 1 } }, ['schedule', 'times'], /only once/],
    ['seven times a day', { schedule: daily(['01:00', '02:00', '03:00', '04:00', '05:00', '06:00', '07:00']), retention: { dailyDays: 1 } }, ['schedule', 'times'], /At most 6/],
    ['no time', { schedule: daily([]), retention: { dailyDays: 1 } }, ['schedule', 'times'], /at least one backup time/],
    ['no weekday', { schedule: weekly([]), retention: { dailyDays: 1 } }, ['schedule', 'weekdays'], /at least one weekday/],
    ['the same weekday twice', { schedule: weekly(['MON', 'MON']), retention: { dailyDays: 1 } }, ['schedule', 'weekdays'], /only once/],
    ['a weekday in lowercase', { schedule: weekly(['mon']), retention: { dailyDays: 1 } }, ['schedule', 'weekdays', 0], /Use a weekday/],
  ])('%s', (_name, input, path, message) => {
    const issues = issuesOf(input);
    expect(issues).toContainEqual({ path, message: expect.stringMatching(message) });
  });

  it('reports every problem at once, each on its own field', () => {
    const issues = issuesOf({
      schedule: weekly(['MON']),
      retention: { weekly: { weekday: 'SUN', weeks: 0 }, monthly: { rule: 'last-SUN', months: 2000 } },
    });
    expect(issues.map((i) => i.path.join('.')).sort()).toEqual([
      'retention.monthly.months',
      'retention.monthly.rule',
      'retention.weekly.weekday',
      'retention.weekly.weeks',
    ]);
  });

  it('does not pile cross-field messages on a broken schedule', () => {
    const issues = issuesOf({ schedule: { kind: 'hourly' }, retention: { monthly: { rule: 'last-SUN', months: 1 } } });
    expect(issues.every((i) => i.path[0] === 'schedule')).toBe(true);
  });
});

describe('policySpecFromCli', () => {
  it('parses the seed example', () => {
    expect(policySpecFromCli(seedFlags)).toEqual({ success: true, data: seedSpec });
  });

  it.each<[string, PolicyCliFlags, PolicySpec]>([
    ['several daily times', { daily: '22:00, 06:00', keepDaily: 7 }, { schedule: daily(['06:00', '22:00']), retention: { dailyDays: 7 } }],
    ['a weekly schedule', { weekly: 'SAT,SUN@02:00,14:00', keepWeekly: 'SUN:12' }, {
      schedule: { kind: 'weekly', weekdays: ['SAT', 'SUN'], times: ['02:00', '14:00'] },
      retention: { weekly: { weekday: 'SUN', weeks: 12 } },
    }],
    ['lowercase days and rules', { weekly: 'sun@03:00', keepMonthly: 'Last-sun:6', keepYearly: 'dec:LAST-SUN:2' }, {
      schedule: { kind: 'weekly', weekdays: ['SUN'], times: ['03:00'] },
      retention: { monthly: { rule: 'last-SUN', months: 6 }, yearly: { month: 'DEC', rule: 'last-SUN', years: 2 } },
    }],
    ['day rules', { daily: '01:00', keepDaily: '1', keepMonthly: 'day-1:12', keepYearly: 'FEB:last-day:3' }, {
      schedule: daily(['01:00']),
      retention: { dailyDays: 1, monthly: { rule: 'day-1', months: 12 }, yearly: { month: 'FEB', rule: 'last-day', years: 3 } },
    }],
  ])('parses %s', (_name, flags, spec) => {
    expect(policySpecFromCli(flags)).toEqual({ success: true, data: spec });
  });

  it.each<[string, PolicyCliFlags, (string | number)[], RegExp]>([
    ['no schedule', { keepDaily: '30' }, ['schedule'], /--daily HH:MM/],
    ['both schedules', { daily: '22:00', weekly: 'SUN@22:00', keepDaily: '30' }, ['schedule'], /either --daily or --weekly/],
    ['--weekly without times', { weekly: 'SUN', keepWeekly: 'SUN:4' }, ['schedule'], /DAY\[,DAY...\]@HH:MM/],
    ['--keep-daily that is not a number', { daily: '22:00', keepDaily: 'thirty' }, ['retention', 'dailyDays'], /--keep-daily "thirty" must look like a number of days/],
    ['--keep-weekly without a colon', { daily: '22:00', keepDaily: '30', keepWeekly: 'SUN104' }, ['retention', 'weekly'], /DAY:N, e.g. SUN:104/],
    ['--keep-monthly with a negative count', { daily: '22:00', keepDaily: '30', keepMonthly: 'last-SUN:-1' }, ['retention', 'monthly'], /RULE:N/],
    ['--keep-yearly without a month', { daily: '22:00', keepDaily: '30', keepYearly: 'first-SUN:99' }, ['retention', 'yearly'], /MONTH:RULE:N/],
    ['a daily schedule without --keep-daily', { daily: '22:00', keepWeekly: 'SUN:4' }, ['retention', 'dailyDays'], /needs a daily retention tier/],
    ['a weekly schedule that does not feed the monthly rule', { weekly: 'MON@01:00', keepMonthly: 'last-SUN:12' }, ['retention', 'monthly', 'rule'], /SUN backups/],
    ['a count above its limit', { daily: '22:00', keepDaily: '10000' }, ['retention', 'dailyDays'], /at most 9999/],
    // Never rounded: 2.5 years is refused by the schema's whole-number rule, the one the console uses too.
    ['a count that is not whole', { daily: '22:00', keepDaily: '2.5' }, ['retention', 'dailyDays'], /must be a whole number from 1 to 9999/],
    ['a yearly count that is not whole', { daily: '22:00', keepDaily: '30', keepYearly: 'JAN:first-SUN:2.5' }, ['retention', 'yearly', 'years'], /whole number from 1 to 99/],
    ['a time that is a number', { daily: '2.5', keepDaily: '30' }, ['schedule', 'times', 0], /not a time/],
    ['a bad time', { daily: '25:00', keepDaily: '1' }, ['schedule', 'times', 0], /not a time/],
  ])('reports %s', (_name, flags, path, message) => {
    const result = policySpecFromCli(flags);
    expect(result.success).toBe(false);
    expect(result.error).toBeInstanceOf(z.ZodError);
    expect(result.error!.issues).toContainEqual(expect.objectContaining({ path, message: expect.stringMatching(message) }));
  });

  it('errors print readably with zod', () => {
    const result = policySpecFromCli({ weekly: 'MON@01:00', keepMonthly: 'last-SUN:12' });
    expect(z.prettifyError(result.error!)).toContain('→ at retention.monthly.rule');
  });
});

describe('describePolicy', () => {
  it.each<[string, PolicySpec, string]>([
    ['the seed example', seedSpec, 'Daily at 22:00; keep daily 30 days, weekly Sunday 104 weeks, monthly last Sunday 120 months, yearly first Sunday of January 99 years'],
    ['the default policy', DEFAULT_POLICY_SPEC, 'Daily at 22:00; keep daily 30 days'],
    ['weekly, singular counts', {
      schedule: { kind: 'weekly', weekdays: ['MON', 'FRI'], times: ['02:00', '14:30'] },
      retention: { weekly: { weekday: 'FRI', weeks: 1 }, monthly: { rule: 'second-MON', months: 1 } },
    }, 'Weekly on Monday, Friday at 02:00, 14:30; keep weekly Friday 1 week, monthly second Monday 1 month'],
    ['day rules', {
      schedule: daily(['06:00']),
      retention: { dailyDays: 1, monthly: { rule: 'day-1', months: 12 }, yearly: { month: 'DEC', rule: 'last-day', years: 1 } },
    }, 'Daily at 06:00; keep daily 1 day, monthly day 1 12 months, yearly last day of December 1 year'],
  ])('%s', (_name, spec, text) => {
    expect(describePolicy(spec)).toBe(text);
  });
});

describe('maxPointsKept', () => {
  it.each<[string, PolicySpec, number]>([
    ['the seed example', seedSpec, 30 + 104 + 120 + 99],
    ['two backups a day for 30 days', { schedule: daily(['06:00', '18:00']), retention: { dailyDays: 30 } }, 60],
    ['weekly on two days, daily tier of 15 days', { schedule: { kind: 'weekly', weekdays: ['SAT', 'SUN'], times: ['02:00'] }, retention: { dailyDays: 15 } }, 3 * 2],
  ])('%s', (_name, spec, expected) => {
    expect(maxPointsKept(spec)).toBe(expected);
  });

  it('flags policies that could exceed the per-VM limit', () => {
    const spec: PolicySpec = { schedule: daily(['06:00', '18:00']), retention: { dailyDays: 9999 } };
    expect(maxPointsKept(spec)).toBeGreaterThan(MAX_POINTS_PER_VM);
  });
});
