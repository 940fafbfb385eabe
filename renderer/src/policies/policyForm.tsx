// The policy form of the Protect wizard and the Policies page: schedule (daily or weekly, at
// chosen times) and the four retention tiers, validated inline by the contract's PolicySpec.
import {
  Button,
  Checkbox,
  Field,
  Input,
  Radio,
  RadioGroup,
  Select,
  Text,
  makeStyles,
  tokens,
} from '@fluentui/react-components';
import { Add16Regular, Dismiss16Regular } from '@fluentui/react-icons';
import type { ReactElement, ReactNode } from 'react';
import {
  LIMITS,
  MONTHS,
  MONTH_RULES,
  PolicyName,
  PolicySpec,
  WEEKDAYS,
  backupsPerWeek,
  parseMonthRule,
  type MonthName,
  type MonthRule,
  type RetentionSpec,
  type Weekday,
} from '../../../preload/contract.js';
import { useI18n, type I18n } from '../i18n/index.js';
import { NumberInput, useFieldVisibility } from '../shell/ui.js';
import { TimeField } from '../shell/DateTimeFields.js';

export interface PolicyDraft {
  name: string;
  kind: 'daily' | 'weekly';
  weekdays: Weekday[];
  times: string[];
  daily: { on: boolean; days: number };
  weekly: { on: boolean; weekday: Weekday; weeks: number };
  monthly: { on: boolean; rule: MonthRule; months: number };
  yearly: { on: boolean; month: MonthName; rule: MonthRule; years: number };
  /** Read unchanged disks in full every N backups; undefined: the default, once a week of the schedule. */
  fullReadEvery?: number | undefined;
}

export const defaultDraft: PolicyDraft = {
  name: '',
  kind: 'daily',
  weekdays: ['SUN'],
  times: ['22:00'],
  daily: { on: true, days: 30 },
  weekly: { on: false, weekday: 'SUN', weeks: 104 },
  monthly: { on: false, rule: 'last-SUN', months: 120 },
  yearly: { on: false, month: 'JAN', rule: 'first-SUN', years: 99 },
};

export function draftFromSpec(name: string, spec: PolicySpec): PolicyDraft {
  const r = spec.retention;
  return {
    name,
    kind: spec.schedule.kind,
    weekdays: spec.schedule.kind === 'weekly' ? [...spec.schedule.weekdays] : ['SUN'],
    times: [...spec.schedule.times],
    daily: { on: r.dailyDays !== undefined, days: r.dailyDays ?? defaultDraft.daily.days },
    weekly: r.weekly ? { on: true, ...r.weekly } : defaultDraft.weekly,
    monthly: r.monthly ? { on: true, ...r.monthly } : defaultDraft.monthly,
    yearly: r.yearly ? { on: true, ...r.yearly } : defaultDraft.yearly,
    fullReadEvery: spec.fullReadEvery,
  };
}

export function specOfDraft(d: PolicyDraft): unknown {
  const retention: Record<string, unknown> = {};
  if (d.daily.on) retention.dailyDays = d.daily.days;
  if (d.weekly.on) retention.weekly = { weekday: d.weekly.weekday, weeks: d.weekly.weeks };
  if (d.monthly.on) retention.monthly = { rule: d.monthly.rule, months: d.monthly.months };
  if (d.yearly.on) retention.yearly = { month: d.yearly.month, rule: d.yearly.rule, years: d.yearly.years };
  return {
    schedule: d.kind === 'daily' ? { kind: 'daily', times: d.times } : { kind: 'weekly', weekdays: d.weekdays, times: d.times },
    retention,
    ...(d.fullReadEvery !== undefined ? { fullReadEvery: d.fullReadEvery } : {}),
  };
}

/** A field path of the form ('schedule.times', 'retention.weekly.weekday', 'name') -> a message. */
export type PolicyErrors = Partial<Record<string, string>>;

/** Validates with the contract's zod schema and maps each issue to a message in the user's language. */
export function validateDraft(t: I18n['t'], d: PolicyDraft, withName: boolean): { spec?: PolicySpec; errors: PolicyErrors } {
  const errors: PolicyErrors = {};
  if (withName && !PolicyName.safeParse(d.name).success) errors.name = t('policy.err.name');
  const r = PolicySpec.safeParse(specOfDraft(d));
  if (!r.success) {
    for (const issue of r.error.issues) {
      const path = issue.path.filter((p) => typeof p === 'string').join('.');
      if (errors[path]) continue;
      errors[path] = issueMessage(t, path, issue.code, d);
    }
  }
  return { spec: r.success && Object.keys(errors).length === 0 ? r.data : undefined, errors };
}

function issueMessage(t: I18n['t'], path: string, code: string, d: PolicyDraft): string {
  const count = (max: number) => t('policy.err.count', { max });
  switch (path) {
    case 'schedule.times':
      // The contract says which rule failed: no time (too_small), a time twice (its refine) or a malformed time.
      return code === 'too_small' ? t('policy.err.timesMin') : code === 'custom' ? t('policy.err.timesDup') : t('policy.err.time');
    case 'schedule.weekdays':
      return t('policy.err.weekdays');
    case 'retention':
      return t('policy.err.noTier');
    case 'retention.dailyDays':
      return code === 'custom' ? t('policy.err.dailyRequired') : count(LIMITS.dailyDays);
    case 'retention.weekly.weeks':
      return count(LIMITS.weeklyWeeks);
    case 'retention.monthly.months':
      return count(LIMITS.monthlyMonths);
    case 'retention.yearly.years':
      return count(LIMITS.yearlyYears);
    case 'retention.weekly.weekday':
      return t('policy.err.weekdayNotScheduled');
    case 'fullReadEvery':
      return count(LIMITS.fullReadEvery);
    case 'retention.monthly.rule':
      return ruleMessage(t, d, d.monthly.rule);
    case 'retention.yearly.rule':
      return ruleMessage(t, d, d.yearly.rule);
    default:
      return t('validation.invalid');
  }
}

/** A day-of-month rule fails on a weekly schedule; a weekday rule fails on a weekday the schedule skips. */
function ruleMessage(t: I18n['t'], d: PolicyDraft, rule: MonthRule): string {
  return d.kind === 'weekly' && parseMonthRule(rule).kind === 'day' ? t('policy.err.dayRuleNeedsDaily') : t('policy.err.ruleNotScheduled');
}

export function ruleLabel(i18n: Pick<I18n, 't' | 'weekdayName'>, rule: MonthRule): string {
  const parsed = parseMonthRule(rule);
  if (parsed.kind === 'weekday') return i18n.t('policy.rule.weekday', { ordinal: i18n.t(`policy.ordinal.${parsed.ordinal}`), weekday: i18n.weekdayName(parsed.weekday) });
  return parsed.day === 'last' ? i18n.t('policy.rule.lastDay') : i18n.t('policy.rule.day', { day: parsed.day });
}

/** "Daily at 22:00" / "Weekly on Saturday, Sunday at 02:00". */
export function describeSchedule(i18n: I18n, s: PolicySpec['schedule']): string {
  const times = s.times.map((time) => i18n.formatClock(time)).join(', ');
  if (s.kind === 'daily') return i18n.t('policy.describe.daily', { times });
  return i18n.t('policy.describe.weekly', { days: s.weekdays.map((d) => i18n.weekdayName(d)).join(', '), times });
}

/** One line per retention tier, in the user's language. */
export function describeRetention(i18n: I18n, r: RetentionSpec): string[] {
  const out: string[] = [];
  if (r.dailyDays !== undefined) out.push(i18n.t('policy.describe.dailyTier', { count: r.dailyDays }));
  if (r.weekly) out.push(i18n.t('policy.describe.weeklyTier', { weekday: i18n.weekdayName(r.weekly.weekday), count: r.weekly.weeks }));
  if (r.monthly) out.push(i18n.t('policy.describe.monthlyTier', { rule: ruleLabel(i18n, r.monthly.rule), count: r.monthly.months }));
  if (r.yearly) out.push(i18n.t('policy.describe.yearlyTier', { rule: ruleLabel(i18n, r.yearly.rule), month: i18n.monthName(r.yearly.month), count: r.yearly.years }));
  return out;
}

const useStyles = makeStyles({
  form: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalM },
  section: {
    display: 'flex',
    flexDirection: 'column',
    gap: tokens.spacingVerticalS,
    border: `${tokens.strokeWidthThin} solid ${tokens.colorNeutralStroke2}`,
    borderRadius: tokens.borderRadiusMedium,
    padding: `${tokens.spacingVerticalS} ${tokens.spacingHorizontalM} ${tokens.spacingVerticalM}`,
    margin: 0,
  },
  legend: { fontWeight: tokens.fontWeightSemibold, paddingInline: tokens.spacingHorizontalXS },
  times: { display: 'flex', gap: tokens.spacingHorizontalS, flexWrap: 'wrap', alignItems: 'center' },
  time: { display: 'flex', alignItems: 'center', gap: tokens.spacingHorizontalXXS },
  weekdays: { display: 'flex', flexWrap: 'wrap', columnGap: tokens.spacingHorizontalS },
  tier: { display: 'grid', gridTemplateColumns: 'minmax(160px, 200px) 1fr', gap: tokens.spacingHorizontalM, alignItems: 'start' },
  // "Not kept" on the line of its tier's checkbox label: the label's padding less its -2px margin, same text size.
  off: { paddingTop: `calc(${tokens.spacingVerticalS} - 2px)`, color: tokens.colorNeutralForeground2 },
  tierFields: { display: 'flex', gap: tokens.spacingHorizontalM, flexWrap: 'wrap', alignItems: 'flex-start' },
  count: { width: '110px' },
  error: { color: tokens.colorPaletteRedForeground1 },
});

/**
 * The controlled form; `errors` come from validateDraft. A field shows its error once it was
 * edited and left, every field once `submitted` (default: show every error given).
 */
export function PolicyForm({
  draft,
  onChange,
  errors,
  withName,
  idPrefix,
  submitted = true,
}: {
  draft: PolicyDraft;
  onChange: (d: PolicyDraft) => void;
  errors: PolicyErrors;
  withName: boolean;
  idPrefix: string;
  submitted?: boolean;
}): ReactElement {
  const i18n = useI18n();
  const { t, weekdayName, monthName } = i18n;
  const styles = useStyles();
  const visibility = useFieldVisibility<string>();
  const set = (patch: Partial<PolicyDraft>) => onChange({ ...draft, ...patch });
  const err = (path: string) => (submitted ? errors[path] : visibility.show(path, errors[path]));
  const state = (path: string) => (err(path) ? 'error' : 'none') as 'error' | 'none';
  // Every count goes through the console's number field: 2.5 reaches the contract's schema as 2.5 and is refused there.
  const count = (path: string, value: number, max: number, onValue: (n: number) => void) => (
    <NumberInput
      className={styles.count}
      min={1}
      max={max}
      value={value}
      onBlur={visibility.blur(path)}
      onValue={(n) => {
        visibility.edit(path);
        onValue(n);
      }}
    />
  );

  // The default full-read interval of the schedule as drafted: its backups in a week.
  const weekly = Math.max(1, backupsPerWeek(draft.kind === 'daily' ? { kind: 'daily', times: draft.times } : { kind: 'weekly', weekdays: draft.weekdays, times: draft.times }));
  const ruleOptions = MONTH_RULES.filter((r) => draft.kind === 'daily' || parseMonthRule(r).kind === 'weekday').map((r) => (
    <option key={r} value={r}>
      {ruleLabel(i18n, r)}
    </option>
  ));
  const weekdayOptions = WEEKDAYS.map((d) => (
    <option key={d} value={d}>
      {weekdayName(d)}
    </option>
  ));

  const tier = (key: 'daily' | 'weekly' | 'monthly' | 'yearly', on: boolean, fields: ReactNode) => (
    <div className={styles.tier}>
      <Checkbox
        checked={on}
        label={t(`policy.tier.${key}`)}
        onChange={(_, d) => set({ [key]: { ...draft[key], on: d.checked === true } } as Partial<PolicyDraft>)}
      />
      {on ? <div className={styles.tierFields}>{fields}</div> : <Text className={styles.off}>{t('policy.tier.off')}</Text>}
    </div>
  );

  return (
    <div className={styles.form}>
      {withName && (
        <Field label={t('policy.name')} hint={t('policy.nameHint')} required validationMessage={err('name')} validationState={state('name')}>
          <Input
            id={`${idPrefix}-name`}
            value={draft.name}
            onChange={(_, d) => {
              visibility.edit('name');
              set({ name: d.value });
            }}
            onBlur={visibility.blur('name')}
            autoComplete="off"
            spellCheck={false}
          />
        </Field>
      )}
      <fieldset className={styles.section}>
        <legend className={styles.legend}>{t('policy.schedule')}</legend>
        <RadioGroup layout="horizontal" value={draft.kind} onChange={(_, d) => set({ kind: d.value as 'daily' | 'weekly' })} aria-label={t('policy.frequency')}>
          <Radio value="daily" label={t('policy.kind.daily')} />
          <Radio value="weekly" label={t('policy.kind.weekly')} />
        </RadioGroup>
        {draft.kind === 'weekly' && (
          <Field label={t('policy.weekdays')} validationMessage={err('schedule.weekdays')} validationState={state('schedule.weekdays')}>
            <div className={styles.weekdays} role="group" aria-label={t('policy.weekdays')}>
              {WEEKDAYS.map((d) => (
                <Checkbox
                  key={d}
                  label={weekdayName(d, 'short')}
                  aria-label={weekdayName(d)}
                  checked={draft.weekdays.includes(d)}
                  onChange={(_, c) => set({ weekdays: c.checked === true ? [...draft.weekdays, d] : draft.weekdays.filter((x) => x !== d) })}
                />
              ))}
            </div>
          </Field>
        )}
        <Field label={t('policy.times')} hint={t('policy.timesHint', { max: LIMITS.timesPerDay })} validationMessage={err('schedule.times')} validationState={state('schedule.times')}>
          <div className={styles.times}>
            {draft.times.map((time, i) => (
              <span key={i} className={styles.time}>
                <TimeField
                  value={time}
                  aria-label={t('policy.timeN', { n: i + 1 })}
                  onChange={(value) => set({ times: draft.times.map((x, j) => (j === i ? value : x)) })}
                />
                {draft.times.length > 1 && (
                  <Button
                    size="small"
                    appearance="subtle"
                    icon={<Dismiss16Regular />}
                    aria-label={t('policy.removeTime', { time: i18n.formatClock(time) })}
                    onClick={() => set({ times: draft.times.filter((_, j) => j !== i) })}
                  />
                )}
              </span>
            ))}
            {draft.times.length < LIMITS.timesPerDay && (
              <Button size="small" icon={<Add16Regular />} onClick={() => set({ times: [...draft.times, '12:00'] })}>
                {t('policy.addTime')}
              </Button>
            )}
          </div>
        </Field>
        <Field
          label={t('policy.fullReadEvery')}
          hint={t('policy.fullReadEveryHint', { n: weekly })}
          validationMessage={err('fullReadEvery')}
          validationState={state('fullReadEvery')}
        >
          {count('fullReadEvery', draft.fullReadEvery ?? weekly, LIMITS.fullReadEvery, (n) => set({ fullReadEvery: n }))}
        </Field>
      </fieldset>
      <fieldset className={styles.section}>
        <legend className={styles.legend}>{t('policy.retention')}</legend>
        {err('retention') && (
          <Text role="alert" className={styles.error}>
            {err('retention')}
          </Text>
        )}
        {tier(
          'daily',
          draft.daily.on,
          <Field label={t('policy.keepDays')} validationMessage={err('retention.dailyDays')} validationState={state('retention.dailyDays')}>
            {count('retention.dailyDays', draft.daily.days, LIMITS.dailyDays, (days) => set({ daily: { ...draft.daily, days } }))}
          </Field>,
        )}
        {!draft.daily.on && err('retention.dailyDays') && (
          <Text role="alert" className={styles.error}>
            {err('retention.dailyDays')}
          </Text>
        )}
        {tier(
          'weekly',
          draft.weekly.on,
          <>
            <Field label={t('policy.onWeekday')} validationMessage={err('retention.weekly.weekday')} validationState={state('retention.weekly.weekday')}>
              <Select value={draft.weekly.weekday} onChange={(_, d) => set({ weekly: { ...draft.weekly, weekday: d.value as Weekday } })}>
                {weekdayOptions}
              </Select>
            </Field>
            <Field label={t('policy.keepWeeks')} validationMessage={err('retention.weekly.weeks')} validationState={state('retention.weekly.weeks')}>
              {count('retention.weekly.weeks', draft.weekly.weeks, LIMITS.weeklyWeeks, (weeks) => set({ weekly: { ...draft.weekly, weeks } }))}
            </Field>
          </>,
        )}
        {tier(
          'monthly',
          draft.monthly.on,
          <>
            <Field label={t('policy.onRule')} validationMessage={err('retention.monthly.rule')} validationState={state('retention.monthly.rule')}>
              <Select value={draft.monthly.rule} onChange={(_, d) => set({ monthly: { ...draft.monthly, rule: d.value as MonthRule } })}>
                {ruleOptions}
              </Select>
            </Field>
            <Field label={t('policy.keepMonths')} validationMessage={err('retention.monthly.months')} validationState={state('retention.monthly.months')}>
              {count('retention.monthly.months', draft.monthly.months, LIMITS.monthlyMonths, (months) => set({ monthly: { ...draft.monthly, months } }))}
            </Field>
          </>,
        )}
        {tier(
          'yearly',
          draft.yearly.on,
          <>
            <Field label={t('policy.inMonth')}>
              <Select value={draft.yearly.month} onChange={(_, d) => set({ yearly: { ...draft.yearly, month: d.value as MonthName } })}>
                {MONTHS.map((m) => (
                  <option key={m} value={m}>
                    {monthName(m)}
                  </option>
                ))}
              </Select>
            </Field>
            <Field label={t('policy.onRule')} validationMessage={err('retention.yearly.rule')} validationState={state('retention.yearly.rule')}>
              <Select value={draft.yearly.rule} onChange={(_, d) => set({ yearly: { ...draft.yearly, rule: d.value as MonthRule } })}>
                {ruleOptions}
              </Select>
            </Field>
            <Field label={t('policy.keepYears')} validationMessage={err('retention.yearly.years')} validationState={state('retention.yearly.years')}>
              {count('retention.yearly.years', draft.yearly.years, LIMITS.yearlyYears, (years) => set({ yearly: { ...draft.yearly, years } }))}
            </Field>
          </>,
        )}
      </fieldset>
    </div>
  );
}

/** A policy's schedule and retention, read-only (W11: the wizard cannot change it). */
export function PolicySummary({ spec }: { spec: PolicySpec }): ReactElement {
  const i18n = useI18n();
  return (
    <dl style={{ margin: 0, display: 'grid', gridTemplateColumns: 'max-content 1fr', columnGap: '16px', rowGap: '4px' }}>
      <dt>
        <Text weight="semibold">{i18n.t('policy.schedule')}</Text>
      </dt>
      <dd style={{ margin: 0 }}>{describeSchedule(i18n, spec.schedule)}</dd>
      <dt>
        <Text weight="semibold">{i18n.t('policy.retention')}</Text>
      </dt>
      <dd style={{ margin: 0 }}>
        {describeRetention(i18n, spec.retention).map((line) => (
          <div key={line}>{line}</div>
        ))}
      </dd>
    </dl>
  );
}
