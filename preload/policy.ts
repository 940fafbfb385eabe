import { z } from 'zod';

/**
 * A backup policy: when backups run (wall-clock times in the console's time zone) and how long
 * their recovery points are kept (GFS tiers, as in Azure Backup). Pure data and validation; the
 * schedule maths lives in schedule.ts and the pruning decisions in retention.ts.
 */

export const WEEKDAYS = ['MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT', 'SUN'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'] as const;
export type MonthName = (typeof MONTHS)[number];

export const WEEK_ORDINALS = ['first', 'second', 'third', 'fourth', 'last'] as const;
export type WeekOrdinal = (typeof WEEK_ORDINALS)[number];

// Days 1..28 only: every month has them, so a `day-N` tier never silently skips a month.
const MONTH_DAYS = [
  1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28,
] as const;
export type MonthRule = `${WeekOrdinal}-${Weekday}` | `day-${(typeof MONTH_DAYS)[number]}` | 'last-day';

export const MONTH_RULES: readonly MonthRule[] = [
  ...WEEK_ORDINALS.flatMap((o) => WEEKDAYS.map((d) => `${o}-${d}` as const)),
  ...MONTH_DAYS.map((n) => `day-${n}` as const),
  'last-day',
];

export const LIMITS = {
  timesPerDay: 6,
  dailyDays: 9999,
  weeklyWeeks: 5163,
  monthlyMonths: 1188,
  yearlyYears: 99,
  fullReadEvery: 1000,
} as const;

/** Recovery points one VM may hold (`RecoveryPointLimitReached` beyond it), as in Azure Backup. */
export const MAX_POINTS_PER_VM = 9999;

/** A month rule taken apart: a weekday rule ("last Sunday") or a day-of-month rule ("day 1", "last day"). */
export type ParsedMonthRule =
  | { kind: 'weekday'; ordinal: WeekOrdinal; weekday: Weekday }
  | { kind: 'day'; day: number | 'last' };

export function parseMonthRule(rule: MonthRule): ParsedMonthRule {
  if (rule === 'last-day') return { kind: 'day', day: 'last' };
  const [head, tail] = rule.split('-') as [string, string];
  if (head === 'day') return { kind: 'day', day: Number(tail) };
  return { kind: 'weekday', ordinal: head as WeekOrdinal, weekday: tail as Weekday };
}

const weekdayField = z.enum(WEEKDAYS, { error: () => `Use a weekday: ${WEEKDAYS.join(', ')}.` });
const monthField = z.enum(MONTHS, { error: () => `Use a month: ${MONTHS.join(', ')}.` });
const monthRuleField = z.enum(MONTH_RULES as [MonthRule, ...MonthRule[]], {
  error: () => 'Use a rule such as first-SUN .. last-SAT (first, second, third, fourth or last + weekday), day-1 .. day-28, or last-day.',
});

/**
 * The number a count field or flag says (`30`, `2.5`, `2,5`), NaN when it is no number at all
 * (a sign, an exponent, words).
 * Never rounded: whether it is whole and in range is the count schemas' rule, so `2.5` is refused
 * with their message in the console and the CLI alike.
 */
export function numberFromText(text: string): number {
  const s = text.trim();
  return /^(\d+([.,]\d*)?|[.,]\d+)$/.test(s) ? Number(s.replace(',', '.')) : Number.NaN;
}

function count(what: string, max: number) {
  return z
    .number({ error: () => `${what} must be a whole number from 1 to ${max}.` })
    .int({ error: () => `${what} must be a whole number from 1 to ${max}.` })
    .min(1, { error: () => `${what} must be at least 1.` })
    .max(max, { error: () => `${what} can be at most ${max}.` });
}

const timeOfDay = z
  .string()
  .regex(/^([01]\d|2[0-3]):[0-5]\d$/, { error: (iss) => `"${String(iss.input)}" is not a time; use HH:MM from 00:00 to 23:59.` });

// Stored sorted so two equal policies compare equal and descriptions read in order.
const backupTimes = z
  .array(timeOfDay)
  .min(1, { error: () => 'Give at least one backup time.' })
  .max(LIMITS.timesPerDay, { error: () => `At most ${LIMITS.timesPerDay} backup times a day.` })
  .refine((ts) => new Set(ts).size === ts.length, { error: () => 'Each backup time may appear only once.' })
  .overwrite((ts) => [...ts].sort());

const backupWeekdays = z
  .array(weekdayField)
  .min(1, { error: () => 'Choose at least one weekday.' })
  .max(7)
  .refine((ds) => new Set(ds).size === ds.length, { error: () => 'Each weekday may appear only once.' })
  .overwrite((ds) => [...ds].sort((a, b) => WEEKDAYS.indexOf(a) - WEEKDAYS.indexOf(b)));

export const PolicySchedule = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('daily'), times: backupTimes }),
  z.object({ kind: z.literal('weekly'), weekdays: backupWeekdays, times: backupTimes }),
]);
export type PolicySchedule = z.infer<typeof PolicySchedule>;

export const RetentionSpec = z.object({
  dailyDays: count('Daily retention (days)', LIMITS.dailyDays).optional(),
  weekly: z.object({ weekday: weekdayField, weeks: count('Weekly retention (weeks)', LIMITS.weeklyWeeks) }).optional(),
  monthly: z.object({ rule: monthRuleField, months: count('Monthly retention (months)', LIMITS.monthlyMonths) }).optional(),
  yearly: z
    .object({ month: monthField, rule: monthRuleField, years: count('Yearly retention (years)', LIMITS.yearlyYears) })
    .optional(),
});
export type RetentionSpec = z.infer<typeof RetentionSpec>;

/** The weekdays a schedule backs up on (a daily schedule: all of them). */
export function scheduledWeekdays(schedule: PolicySchedule): readonly Weekday[] {
  return schedule.kind === 'daily' ? WEEKDAYS : schedule.weekdays;
}

/**
 * How often a disk that looks unchanged (same size, mtime, ctime and inode as its parent point
 * recorded) is read in full all the same, against tools that preserve mtime: every N backups,
 * N = fullReadEvery, counted per disk (manual backups count too). 1: every backup reads in full.
 */
const fullReadEvery = count('Full read every (backups)', LIMITS.fullReadEvery);

export const PolicySpec = z
  .object({ schedule: PolicySchedule, retention: RetentionSpec, fullReadEvery: fullReadEvery.optional() })
  .superRefine(({ schedule, retention }, ctx) => {
    // Zod runs this even when fields failed; cross-field messages only make sense on a valid
    // schedule, and a field that failed already has its own message.
    if (!PolicySchedule.safeParse(schedule).success || typeof retention !== 'object' || retention === null) return;
    const fed = new Set(scheduledWeekdays(schedule));
    const scheduleText = schedule.kind === 'daily' ? 'every day' : `only on ${schedule.weekdays.join(', ')}`;
    const { dailyDays, weekly, monthly, yearly } = retention;
    if (dailyDays === undefined && !weekly && !monthly && !yearly) {
      ctx.addIssue({ code: 'custom', path: ['retention'], message: 'Keep at least one retention tier: daily, weekly, monthly or yearly.' });
    }
    // As in Azure Backup: a daily schedule always has a daily tier, else most of its points would die at once.
    if (schedule.kind === 'daily' && dailyDays === undefined) {
      ctx.addIssue({ code: 'custom', path: ['retention', 'dailyDays'], message: 'A daily schedule needs a daily retention tier (keep N days).' });
    }
    if (weekly && WEEKDAYS.includes(weekly.weekday) && !fed.has(weekly.weekday)) {
      ctx.addIssue({
        code: 'custom',
        path: ['retention', 'weekly', 'weekday'],
        message: `The weekly tier keeps ${weekly.weekday} backups, but the schedule backs up ${scheduleText}.`,
      });
    }
    const checkRule = (tier: 'monthly' | 'yearly', rule: MonthRule) => {
      if (!MONTH_RULES.includes(rule)) return;
      const parsed = parseMonthRule(rule);
      if (parsed.kind === 'day' && schedule.kind !== 'daily') {
        ctx.addIssue({
          code: 'custom',
          path: ['retention', tier, 'rule'],
          message: `The ${tier} rule ${rule} names a day of the month, which only a daily schedule is sure to back up on; use a weekday rule such as last-${schedule.weekdays[0] ?? 'SUN'}.`,
        });
      } else if (parsed.kind === 'weekday' && !fed.has(parsed.weekday)) {
        ctx.addIssue({
          code: 'custom',
          path: ['retention', tier, 'rule'],
          message: `The ${tier} rule ${rule} keeps ${parsed.weekday} backups, but the schedule backs up ${scheduleText}.`,
        });
      }
    };
    if (monthly) checkRule('monthly', monthly.rule);
    if (yearly) checkRule('yearly', yearly.rule);
  });
export type PolicySpec = z.infer<typeof PolicySpec>;

/** The backups a schedule makes in a week: a daily schedule its times 7 days, a weekly one its times on each of its days. */
export function backupsPerWeek(schedule: PolicySchedule): number {
  return schedule.times.length * scheduledWeekdays(schedule).length;
}

/**
 * Every how many backups a disk is read in full although it looks unchanged: the policy's
 * fullReadEvery, else once a week of its schedule (a daily 22:00 schedule: every 7th backup; two
 * times a day: every 14th; SAT,SUN: every 2nd).
 */
export function fullReadInterval(spec: Pick<PolicySpec, 'schedule' | 'fullReadEvery'>): number {
  return spec.fullReadEvery ?? backupsPerWeek(spec.schedule);
}

/** The built-in `DefaultPolicy` of every vault (W8): one backup a day, kept 30 days. */
export const DEFAULT_POLICY_SPEC: PolicySpec = {
  schedule: { kind: 'daily', times: ['22:00'] },
  retention: { dailyDays: 30 },
};

/**
 * An upper bound on the scheduled points the policy can hold at once (manual points not counted),
 * if every slot produced a point and no tiers overlapped. Lets the console warn before
 * `RecoveryPointLimitReached` (MAX_POINTS_PER_VM) can ever happen.
 */
export function maxPointsKept(spec: PolicySpec): number {
  const { schedule, retention } = spec;
  const perDay = schedule.times.length;
  let daily = 0;
  if (retention.dailyDays !== undefined) {
    const backupDays = schedule.kind === 'daily' ? retention.dailyDays : Math.ceil(retention.dailyDays / 7) * schedule.weekdays.length;
    daily = backupDays * perDay;
  }
  return daily + (retention.weekly?.weeks ?? 0) + (retention.monthly?.months ?? 0) + (retention.yearly?.years ?? 0);
}

/** The CLI flags of `coffer policy create|edit`, as commander hands them over (camelCase). */
export interface PolicyCliFlags {
  daily?: string;
  weekly?: string;
  keepDaily?: string | number;
  keepWeekly?: string;
  keepMonthly?: string;
  keepYearly?: string;
  /** `--full-read-every N`: read unchanged disks in full every N backups (default: once a week of the schedule). */
  fullReadEvery?: string;
}

/**
 * Parses `--daily HH:MM[,..] | --weekly DAY[,..]@HH:MM[,..]` and the `--keep-*` flags into a
 * validated spec. Syntax errors come back as zod issues on the same paths as validation errors,
 * so the CLI prints both the same way (e.g. with `z.prettifyError`).
 */
export function policySpecFromCli(flags: PolicyCliFlags): z.ZodSafeParseResult<PolicySpec> {
  const issues: z.core.$ZodIssue[] = [];
  const syntax = (path: (string | number)[], flag: string, input: unknown, shape: string) => {
    issues.push({ code: 'custom', path, input, message: `${flag} "${String(input)}" must look like ${shape}.` });
  };
  const list = (s: string) => s.split(',').map((x) => x.trim()).filter((x) => x !== '');
  // Counts are checked for whole-ness and range by the schema; here only that they are numbers at all.
  const number = numberFromText;

  let schedule: unknown;
  if (flags.daily !== undefined && flags.weekly !== undefined) {
    issues.push({ code: 'custom', path: ['schedule'], input: flags, message: 'Give either --daily or --weekly, not both.' });
  } else if (flags.daily !== undefined) {
    schedule = { kind: 'daily', times: list(flags.daily) };
  } else if (flags.weekly !== undefined) {
    const [days, times, extra] = flags.weekly.split('@');
    if (days === undefined || times === undefined || extra !== undefined) {
      syntax(['schedule'], '--weekly', flags.weekly, 'DAY[,DAY...]@HH:MM[,HH:MM...], e.g. SAT,SUN@02:00');
    } else {
      schedule = { kind: 'weekly', weekdays: list(days).map((d) => d.toUpperCase()), times: list(times) };
    }
  } else {
    issues.push({ code: 'custom', path: ['schedule'], input: flags, message: 'Give a schedule: --daily HH:MM[,HH:MM...] or --weekly DAY[,DAY...]@HH:MM[,HH:MM...].' });
  }

  const retention: Record<string, unknown> = {};
  if (flags.keepDaily !== undefined) {
    const n = typeof flags.keepDaily === 'number' ? flags.keepDaily : number(flags.keepDaily);
    if (Number.isNaN(n)) syntax(['retention', 'dailyDays'], '--keep-daily', flags.keepDaily, 'a number of days, e.g. 30');
    else retention.dailyDays = n;
  }
  if (flags.keepWeekly !== undefined) {
    const parts = flags.keepWeekly.split(':');
    const n = number(parts[1] ?? '');
    if (parts.length !== 2 || Number.isNaN(n)) syntax(['retention', 'weekly'], '--keep-weekly', flags.keepWeekly, 'DAY:N, e.g. SUN:104');
    else retention.weekly = { weekday: parts[0]!.trim().toUpperCase(), weeks: n };
  }
  if (flags.keepMonthly !== undefined) {
    const parts = flags.keepMonthly.split(':');
    const n = number(parts[1] ?? '');
    if (parts.length !== 2 || Number.isNaN(n)) syntax(['retention', 'monthly'], '--keep-monthly', flags.keepMonthly, 'RULE:N, e.g. last-SUN:120 or day-1:12');
    else retention.monthly = { rule: normalizeRule(parts[0]!), months: n };
  }
  if (flags.keepYearly !== undefined) {
    const parts = flags.keepYearly.split(':');
    const n = number(parts[2] ?? '');
    if (parts.length !== 3 || Number.isNaN(n)) syntax(['retention', 'yearly'], '--keep-yearly', flags.keepYearly, 'MONTH:RULE:N, e.g. JAN:first-SUN:99');
    else retention.yearly = { month: parts[0]!.trim().toUpperCase(), rule: normalizeRule(parts[1]!), years: n };
  }

  let every: number | undefined;
  if (flags.fullReadEvery !== undefined) {
    every = number(flags.fullReadEvery);
    if (Number.isNaN(every)) syntax(['fullReadEvery'], '--full-read-every', flags.fullReadEvery, 'a number of backups, e.g. 7');
  }

  if (issues.length > 0) return { success: false, error: new z.ZodError(issues) as z.ZodError<PolicySpec> };
  return PolicySpec.safeParse({ schedule, retention, ...(every !== undefined ? { fullReadEvery: every } : {}) });
}

// Accepts `Last-sun` as well as `last-SUN`: the canonical form has a lowercase word and an uppercase day.
function normalizeRule(rule: string): string {
  const [head, tail] = rule.trim().split('-');
  if (head === undefined || tail === undefined) return rule.trim();
  return head.toLowerCase() === 'day' || tail.toLowerCase() === 'day' ? `${head.toLowerCase()}-${tail.toLowerCase()}` : `${head.toLowerCase()}-${tail.toUpperCase()}`;
}

const WEEKDAY_NAMES: Record<Weekday, string> = {
  MON: 'Monday', TUE: 'Tuesday', WED: 'Wednesday', THU: 'Thursday', FRI: 'Friday', SAT: 'Saturday', SUN: 'Sunday',
};
const MONTH_NAMES: Record<MonthName, string> = {
  JAN: 'January', FEB: 'February', MAR: 'March', APR: 'April', MAY: 'May', JUN: 'June',
  JUL: 'July', AUG: 'August', SEP: 'September', OCT: 'October', NOV: 'November', DEC: 'December',
};

function plural(n: number, unit: string): string {
  return `${n} ${unit}${n === 1 ? '' : 's'}`;
}

/** "last Sunday", "day 1", "last day". */
export function describeMonthRule(rule: MonthRule): string {
  const parsed = parseMonthRule(rule);
  if (parsed.kind === 'weekday') return `${parsed.ordinal} ${WEEKDAY_NAMES[parsed.weekday]}`;
  return parsed.day === 'last' ? 'last day' : `day ${parsed.day}`;
}

/**
 * One line for lists and `coffer policy show`, e.g. "Daily at 22:00; keep daily 30 days,
 * weekly Sunday 104 weeks, monthly last Sunday 120 months, yearly first Sunday of January 99 years".
 */
export function describePolicy(spec: PolicySpec): string {
  const { schedule, retention } = spec;
  const at = `at ${schedule.times.join(', ')}`;
  const when =
    schedule.kind === 'daily'
      ? `Daily ${at}`
      : schedule.weekdays.length === 7
        ? `Weekly on every day ${at}`
        : `Weekly on ${schedule.weekdays.map((d) => WEEKDAY_NAMES[d]).join(', ')} ${at}`;
  const tiers: string[] = [];
  if (retention.dailyDays !== undefined) tiers.push(`daily ${plural(retention.dailyDays, 'day')}`);
  if (retention.weekly) tiers.push(`weekly ${WEEKDAY_NAMES[retention.weekly.weekday]} ${plural(retention.weekly.weeks, 'week')}`);
  if (retention.monthly) tiers.push(`monthly ${describeMonthRule(retention.monthly.rule)} ${plural(retention.monthly.months, 'month')}`);
  if (retention.yearly) {
    const { month, rule, years } = retention.yearly;
    tiers.push(`yearly ${describeMonthRule(rule)} of ${MONTH_NAMES[month]} ${plural(years, 'year')}`);
  }
  const full = spec.fullReadEvery !== undefined ? `; full read every ${plural(spec.fullReadEvery, 'backup')}` : '';
  return `${when}; keep ${tiers.join(', ')}${full}`;
}

/** YYYY-MM-DD naming a day that exists (not 2027-02-30): a "keep until DATE" the faces may send. */
export function isCalendarDate(date: string): boolean {
  const t = /^\d{4}-\d{2}-\d{2}$/.test(date) ? Date.parse(`${date}T00:00:00Z`) : NaN;
  return !Number.isNaN(t) && new Date(t).toISOString().slice(0, 10) === date;
}
