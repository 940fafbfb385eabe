// A small typed message lookup: t('vaults.title'), t('vaults.created', { name }).
// The locale comes from the browser/OS language, can be switched, and is remembered.
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import type { ApiError, ErrorCode, ErrorInfo } from '../../../preload/errors.js';
import { errorCatalog } from '../../../preload/errors.js';
import { englishJobMessages, jobMessageText, pluralCounter, type JobMessage, type JobMessageTexts, type MessageFormat } from '../../../preload/job-messages.js';
import type { JobWarning } from '../../../preload/contract.js';
import { formatBytes, formatRate } from '../../../preload/units.js';
import { formatClock, formatTimeField } from './dateTime.js';
import { en, type MessageKey, type Messages } from './en.js';
import { nl, nlErrors, nlJobMessages } from './nl.js';

export type { MessageKey } from './en.js';

export const locales = ['en', 'nl'] as const;
export type Locale = (typeof locales)[number];

const catalogs: Record<Locale, { messages: Messages; errors: Partial<Record<ErrorCode, ErrorInfo>>; jobMessages: JobMessageTexts }> = {
  // English error texts come from the engine itself (errorCatalog or a more specific message);
  // English job messages from the contract (preload/job-messages.ts), which the CLI shares.
  en: { messages: en, errors: {}, jobMessages: englishJobMessages },
  nl: { messages: nl, errors: nlErrors, jobMessages: nlJobMessages },
};

/**
 * A message with plural forms is written as keys `base.one`, `base.other` (and `base.zero`,
 * `base.few`... where a language needs them); t.plural('jobs.count', n) picks the form through
 * Intl.PluralRules and fills {count} with n, formatted.
 */
export type PluralKey = { [K in MessageKey]: K extends `${infer B}.other` ? B : never }[MessageKey];

export type Vars = Record<string, string | number>;

/** An engine error as carried by a result or by a failed job. */
export type ErrorLike = Pick<ApiError, 'code' | 'message' | 'remedy'>;

export function isLocale(value: unknown): value is Locale {
  return typeof value === 'string' && (locales as readonly string[]).includes(value);
}

/** Picks the first supported language of the browser, e.g. nl-BE -> nl; English otherwise. */
export function detectLocale(languages: readonly string[] = typeof navigator === 'undefined' ? [] : navigator.languages ?? [navigator.language]): Locale {
  for (const lang of languages) {
    const base = lang.toLowerCase().split('-')[0];
    if (isLocale(base)) return base;
  }
  return 'en';
}

export function format(template: string, vars?: Vars): string {
  if (!vars) return template;
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => (name in vars ? String(vars[name]) : whole));
}

export function translate(locale: Locale, key: MessageKey, vars?: Vars): string {
  return format(catalogs[locale].messages[key] ?? en[key], vars);
}

/** The form of a plural message for `count` in the locale ({count} filled with the formatted number). */
export function translatePlural(locale: Locale, key: PluralKey, count: number, vars?: Vars): string {
  const form = new Intl.PluralRules(locale).select(count);
  const messages = catalogs[locale].messages as Record<string, string | undefined>;
  const template = messages[`${key}.${form}`] ?? messages[`${key}.other`] ?? (en as Record<string, string>)[`${key}.other`] ?? key;
  return format(template, { count: new Intl.NumberFormat(locale).format(count), ...vars });
}

/** A job's result (or what it waits for) in the chosen language. */
export function translateJobMessage(locale: Locale, m: JobMessage, f: MessageFormat): string {
  return jobMessageText(m, f, catalogs[locale].jobMessages);
}

/** A job warning in the chosen language: what it is about, the code's text, and the untranslatable detail. */
export function translateWarning(locale: Locale, w: JobWarning): string {
  const text = (catalogs[locale].errors[w.code] ?? errorCatalog[w.code]).message;
  const about = w.subject ? translate(locale, 'jobs.warning.subject', { subject: w.subject, text }) : text;
  return w.detail ? translate(locale, 'jobs.warning.detail', { text: about, detail: w.detail }) : about;
}

/** The message and remedy of an engine error in the chosen language. */
export function translateError(locale: Locale, error: ErrorLike): ErrorInfo {
  return catalogs[locale].errors[error.code] ?? { message: error.message, remedy: error.remedy };
}

const STORAGE_KEY = 'coffer.locale';

function initialLocale(): Locale {
  try {
    const saved = localStorage.getItem(STORAGE_KEY);
    if (isLocale(saved)) return saved;
  } catch {
    // storage unavailable (privacy mode): fall through to the browser language
  }
  return detectLocale();
}

export interface I18n {
  locale: Locale;
  setLocale(locale: Locale): void;
  t(key: MessageKey, vars?: Vars): string;
  /** A counted message in the locale's plural form: plural('jobs.count', 1) -> "1 job". */
  plural(key: PluralKey, count: number, vars?: Vars): string;
  /** A job's result (or what it waits for) in this language. */
  jobText(m: JobMessage): string;
  /** A job warning in this language. */
  warningText(w: JobWarning): string;
  /** "a, b and c" in this language. */
  formatList(items: readonly string[]): string;
  errorText(error: ErrorLike): ErrorInfo;
  formatDateTime(iso: string | number | Date): string;
  formatDate(iso: string | number | Date): string;
  formatNumber(n: number): string;
  /** 1.5 GiB, 820 KiB (binary units as the engine and the CLI use, locale digits: preload/units.ts). */
  formatBytes(n: number): string;
  /** 1 h 2 min, 45 s. */
  formatDuration(ms: number): string;
  /** 12.5 MiB/s. */
  formatRate(bytesPerSecond: number): string;
  /** The time of an instant in the locale's clock: "10:00 PM" (en), "22:00" (nl). */
  formatTime(iso: string | number | Date): string;
  /** A schedule time "HH:mm" in the locale's clock: "22:00" reads "10:00 PM" in en. */
  formatClock(hhmm: string): string;
  /** Mon, Tue... for a contract weekday code. */
  weekdayName(code: string, width?: 'long' | 'short'): string;
  /** January... for a contract month code. */
  monthName(code: string): string;
}

const WEEKDAY_CODES = ['MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT', 'SUN'];
const MONTH_CODES = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];

const I18nContext = createContext<I18n | null>(null);

export function I18nProvider({ children, locale: forced }: { children: ReactNode; locale?: Locale }) {
  const [locale, setLocaleState] = useState<Locale>(() => forced ?? initialLocale());

  const setLocale = useCallback((next: Locale) => {
    setLocaleState(next);
    try {
      localStorage.setItem(STORAGE_KEY, next);
    } catch {
      // not remembered; still switched for this session
    }
  }, []);

  useEffect(() => {
    document.documentElement.lang = locale;
  }, [locale]);

  const value = useMemo<I18n>(() => {
    const dateFmt = new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short' });
    const dayFmt = new Intl.DateTimeFormat(locale, { dateStyle: 'medium' });
    const numberFmt = new Intl.NumberFormat(locale);
    const weekdayFmt = { long: new Intl.DateTimeFormat(locale, { weekday: 'long', timeZone: 'UTC' }), short: new Intl.DateTimeFormat(locale, { weekday: 'short', timeZone: 'UTC' }) };
    const monthFmt = new Intl.DateTimeFormat(locale, { month: 'long', timeZone: 'UTC' });
    const unitFmt = (unit: 'hour' | 'minute' | 'second') => new Intl.NumberFormat(locale, { style: 'unit', unit, unitDisplay: 'narrow', maximumFractionDigits: 0 });
    const hFmt = unitFmt('hour');
    const mFmt = unitFmt('minute');
    const sFmt = unitFmt('second');
    const listFmt = new Intl.ListFormat(locale, { type: 'conjunction' });
    const i18n: I18n = {
      locale,
      setLocale,
      t: (key, vars) => translate(locale, key, vars),
      plural: (key, count, vars) => translatePlural(locale, key, count, vars),
      // Sizes and numbers inside a job text look like every other size on the page.
      jobText: (m) => translateJobMessage(locale, m, { bytes: i18n.formatBytes, number: i18n.formatNumber, count: pluralCounter(locale, i18n.formatNumber) }),
      warningText: (w) => translateWarning(locale, w),
      formatList: (items) => listFmt.format(items),
      errorText: (error) => translateError(locale, error),
      formatDateTime: (iso) => {
        const d = iso instanceof Date ? iso : new Date(iso);
        return Number.isNaN(d.getTime()) ? String(iso) : dateFmt.format(d).replace(/\u202f/g, ' ');
      },
      formatDate: (iso) => {
        const d = iso instanceof Date ? iso : new Date(iso);
        return Number.isNaN(d.getTime()) ? String(iso) : dayFmt.format(d);
      },
      formatNumber: (n) => numberFmt.format(n),
      formatBytes: (n) => formatBytes(n, locale),
      formatRate: (n) => formatRate(n, locale),
      formatTime: (iso) => {
        const d = iso instanceof Date ? iso : new Date(iso);
        return Number.isNaN(d.getTime()) ? String(iso) : formatTimeField(d, locale);
      },
      formatClock: (hhmm) => formatClock(hhmm, locale),
      formatDuration: (ms) => {
        const total = Math.max(0, Math.round(ms / 1000));
        const h = Math.floor(total / 3600);
        const m = Math.floor((total % 3600) / 60);
        const sec = total % 60;
        if (h > 0) return `${hFmt.format(h)} ${mFmt.format(m)}`;
        if (m > 0) return `${mFmt.format(m)} ${sFmt.format(sec)}`;
        return sFmt.format(sec);
      },
      // 2024-01-01 was a Monday; 2024-MM-01 gives each month.
      weekdayName: (code, width = 'long') => {
        const i = WEEKDAY_CODES.indexOf(code);
        return i < 0 ? code : weekdayFmt[width].format(Date.UTC(2024, 0, 1 + i));
      },
      monthName: (code) => {
        const i = MONTH_CODES.indexOf(code);
        return i < 0 ? code : monthFmt.format(Date.UTC(2024, i, 1));
      },
    };
    return i18n;
  }, [locale, setLocale]);

  return <I18nContext.Provider value={value}>{children}</I18nContext.Provider>;
}

export function useI18n(): I18n {
  const ctx = useContext(I18nContext);
  if (!ctx) throw new Error('useI18n must be used inside <I18nProvider>');
  return ctx;
}

/** Shorthand for components that only need t(). */
export function useT(): I18n['t'] {
  return useI18n().t;
}
