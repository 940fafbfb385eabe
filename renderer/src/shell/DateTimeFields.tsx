// The console's date and time fields: Fluent's DatePicker and TimePicker in the UI language
// (nl: "01-12-2026", "22:00", weeks from Monday; en: "12/01/2026", "10:00 PM"), whatever the
// browser's own language. Every date or time the admin enters goes through these.
import { Label, Text, makeStyles, tokens, useId } from '@fluentui/react-components';
import { DatePicker, type CalendarStrings, type DatePickerProps } from '@fluentui/react-datepicker-compat';
import { TimePicker, type TimePickerProps } from '@fluentui/react-timepicker-compat';
import { useEffect, useMemo, useState, type ReactElement } from 'react';
import {
  clockKey,
  dateOfDayKey,
  dayKey,
  firstDayOfWeek,
  formatDateField,
  formatTimeField,
  hourCycleOf,
  parseClockKey,
  parseDateField,
  parseTimeField,
} from '../i18n/dateTime.js';
import { useI18n, type I18n } from '../i18n/index.js';

/** What a typed date or time failed on: not a date, or outside the allowed days. */
export type FieldProblem = 'invalid' | 'outOfRange';

function calendarStrings(i18n: I18n): CalendarStrings {
  const { t, locale } = i18n;
  const month = (width: 'long' | 'short') => new Intl.DateTimeFormat(locale, { month: width, timeZone: 'UTC' });
  const weekday = (width: 'long' | 'narrow') => new Intl.DateTimeFormat(locale, { weekday: width, timeZone: 'UTC' });
  // 2024-01-07 was a Sunday: the calendar's arrays start on Sunday.
  const days = (width: 'long' | 'narrow') => Array.from({ length: 7 }, (_, i) => weekday(width).format(Date.UTC(2024, 0, 7 + i)));
  const months = (width: 'long' | 'short') => Array.from({ length: 12 }, (_, i) => month(width).format(Date.UTC(2024, i, 1)));
  return {
    months: months('long'),
    shortMonths: months('short'),
    days: days('long'),
    shortDays: days('narrow'),
    goToToday: t('calendar.goToToday'),
    prevMonthAriaLabel: t('calendar.prevMonth'),
    nextMonthAriaLabel: t('calendar.nextMonth'),
    prevYearAriaLabel: t('calendar.prevYear'),
    nextYearAriaLabel: t('calendar.nextYear'),
    prevYearRangeAriaLabel: t('calendar.prevYearRange'),
    nextYearRangeAriaLabel: t('calendar.nextYearRange'),
    closeButtonAriaLabel: t('common.close'),
    selectedDateFormatString: t('calendar.selectedDate'),
    todayDateFormatString: t('calendar.today'),
    monthPickerHeaderAriaLabel: t('calendar.monthPickerHeader'),
    yearPickerHeaderAriaLabel: t('calendar.yearPickerHeader'),
    dayMarkedAriaLabel: t('calendar.marked'),
  };
}

/** The locale's DatePicker settings, for every date field. */
function useDatePickerLocale(): Pick<DatePickerProps, 'strings' | 'firstDayOfWeek' | 'formatDate' | 'parseDateFromString' | 'dateTimeFormatter' | 'placeholder'> {
  const i18n = useI18n();
  const { locale, t } = i18n;
  return useMemo(() => {
    const strings = calendarStrings(i18n);
    const long = new Intl.DateTimeFormat(locale, { dateStyle: 'long' });
    const monthYear = new Intl.DateTimeFormat(locale, { month: 'long', year: 'numeric' });
    return {
      strings,
      firstDayOfWeek: firstDayOfWeek(locale),
      formatDate: (d?: Date) => (d ? formatDateField(d, locale) : ''),
      parseDateFromString: (s: string) => parseDateField(s, locale),
      dateTimeFormatter: {
        formatDay: (d: Date) => String(d.getDate()),
        formatMonth: (d: Date) => strings.months[d.getMonth()]!,
        formatYear: (d: Date) => String(d.getFullYear()),
        formatMonthDayYear: (d: Date) => long.format(d),
        formatMonthYear: (d: Date) => monthYear.format(d),
      },
      placeholder: t('dateTime.datePlaceholder'),
    };
  }, [i18n, locale, t]);
}

/** The message of a field problem, in the UI language. */
export function fieldProblemText(t: I18n['t'], problem: FieldProblem, kind: 'date' | 'time'): string {
  if (kind === 'time') return t('dateTime.timeInvalid', { example: t('dateTime.timeExample') });
  return problem === 'outOfRange' ? t('dateTime.dateOutOfRange') : t('dateTime.dateInvalid', { example: t('dateTime.datePlaceholder') });
}

export interface DateFieldProps {
  /** A local day "YYYY-MM-DD", or '' for none. */
  value: string;
  onChange(day: string): void;
  /** Typed text that is no day (or outside min/max); undefined once a day is picked. */
  onProblem?(problem: FieldProblem | undefined): void;
  /** The first and last day that may be picked ("YYYY-MM-DD"). */
  min?: string;
  max?: string;
  'aria-label'?: string;
  'aria-invalid'?: boolean;
  className?: string;
}

/** A date field in the UI language; put it inside a Fluent Field for its label and message. */
export function DateField({ value, onChange, onProblem, min, max, className, ...aria }: DateFieldProps): ReactElement {
  const localeProps = useDatePickerLocale();
  const minDate = min ? (dateOfDayKey(min) ?? undefined) : undefined;
  const maxDate = max ? (dateOfDayKey(max) ?? undefined) : undefined;
  return (
    <DatePicker
      {...localeProps}
      {...aria}
      className={className}
      allowTextInput
      value={dateOfDayKey(value)}
      minDate={minDate}
      maxDate={maxDate}
      onSelectDate={(d) => {
        onProblem?.(undefined);
        onChange(d ? dayKey(d) : '');
      }}
      onValidationResult={({ error }) => onProblem?.(error === 'invalid-input' ? 'invalid' : error === 'out-of-bounds' ? 'outOfRange' : undefined)}
    />
  );
}

export interface TimeFieldProps {
  /** "HH:mm", or text the admin typed that is no time (the caller's validation refuses it). */
  value: string;
  onChange(value: string): void;
  'aria-label'?: string;
  'aria-invalid'?: boolean;
  className?: string;
  /** The minutes between the times offered in the list (the admin may type any minute). */
  increment?: number;
}

/** A time field in the UI language: a list of times every half hour, any time typed. */
export function TimeField({ value, onChange, increment = 30, className, ...aria }: TimeFieldProps): ReactElement {
  const styles = useStyles();
  const { locale } = useI18n();
  const [anchor] = useState(() => new Date(2024, 0, 1));
  const selected = useMemo(() => {
    const t = parseClockKey(value);
    return t ? new Date(anchor.getFullYear(), anchor.getMonth(), anchor.getDate(), t.hours, t.minutes) : null;
  }, [anchor, value]);
  const shown = selected ? formatTimeField(selected, locale) : value;
  const [text, setText] = useState(shown);
  useEffect(() => setText(shown), [shown]);
  const parse: NonNullable<TimePickerProps['parseTimeStringToDate']> = (s) => {
    const t = s ? parseTimeField(s) : null;
    if (!s) return { date: null, errorType: 'required-input' };
    if (!t) return { date: null, errorType: 'invalid-input' };
    return { date: new Date(anchor.getFullYear(), anchor.getMonth(), anchor.getDate(), t.hours, t.minutes) };
  };
  return (
    <TimePicker
      {...aria}
      className={className}
      input={{ className: styles.timeInput }}
      freeform
      increment={increment}
      hourCycle={hourCycleOf(locale)}
      dateAnchor={anchor}
      selectedTime={selected}
      value={text}
      formatDateToTimeString={(d) => formatTimeField(d, locale)}
      parseTimeStringToDate={parse}
      onInput={(e) => setText((e.target as HTMLInputElement).value)}
      onTimeChange={(_, data) => {
        if (data.selectedTime) onChange(clockKey({ hours: data.selectedTime.getHours(), minutes: data.selectedTime.getMinutes() }));
        else onChange(data.selectedTimeText ?? '');
        setText(data.selectedTime ? formatTimeField(data.selectedTime, locale) : (data.selectedTimeText ?? ''));
      }}
    />
  );
}

const useStyles = makeStyles({
  group: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalXXS },
  controls: { display: 'flex', gap: tokens.spacingHorizontalXS, alignItems: 'center' },
  date: { width: '150px' },
  time: { width: '130px', minWidth: '130px' },
  // The input shrinks to the field (an <input> is 20 characters wide by itself), so the chevron stays inside.
  timeInput: { minWidth: 0, width: '100%' },
  error: { color: tokens.colorPaletteRedForeground1 },
});

export interface DateTimeFieldProps {
  label: string;
  /** A local "YYYY-MM-DDTHH:mm", or '' for none. */
  value: string;
  onChange(value: string): void;
  /** The time a day alone means: the day's first minute (From) or its last (To). */
  dayTime: '00:00' | '23:59';
  /** A message about the value (e.g. From after To) from the caller's validation. */
  error?: string;
}

/** A date and a time under one label (the Jobs filters From and To). */
export function DateTimeField({ label, value, onChange, dayTime, error }: DateTimeFieldProps): ReactElement {
  const { t } = useI18n();
  const styles = useStyles();
  const labelId = useId('datetime-label');
  const errorId = useId('datetime-error');
  const [problem, setProblem] = useState<FieldProblem>();
  const [day, time] = value.includes('T') ? [value.slice(0, value.indexOf('T')), value.slice(value.indexOf('T') + 1)] : [value, ''];
  const message = problem ? fieldProblemText(t, problem, 'date') : error;
  const invalid = message !== undefined;
  return (
    <div role="group" aria-labelledby={labelId} aria-describedby={invalid ? errorId : undefined} className={styles.group}>
      <Label id={labelId}>{label}</Label>
      <div className={styles.controls}>
        <DateField
          className={styles.date}
          aria-label={t('dateTime.dateOf', { label })}
          aria-invalid={invalid}
          value={dateOfDayKey(day) ? day : ''}
          onProblem={setProblem}
          onChange={(d) => onChange(d ? `${d}T${parseClockKey(time) ? time : dayTime}` : '')}
        />
        <TimeField
          className={styles.time}
          aria-label={t('dateTime.timeOf', { label })}
          aria-invalid={invalid}
          value={time}
          onChange={(v) => {
            const d = dateOfDayKey(day) ? day : dayKey(new Date());
            if (parseClockKey(v)) onChange(`${d}T${v}`);
          }}
        />
      </div>
      {message && (
        <Text id={errorId} role="alert" size={200} className={styles.error}>
          {message}
        </Text>
      )}
    </div>
  );
}
