// A small typed message lookup: t('vaults.title'), t('vaults.created', { name }).
// The locale comes from the browser/OS language, can be switched, and is remembered.
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import type { ApiError, ErrorCode, ErrorInfo } from '../../../preload/errors.js';
import { en, type MessageKey, type Messages } from './en.js';
import { nl, nlErrors } from './nl.js';

export type { MessageKey } from './en.js';

export const locales = ['en', 'nl'] as const;
export type Locale = (typeof locales)[number];

const catalogs: Record<Locale, { messages: Messages; errors: Partial<Record<ErrorCode, ErrorInfo>> }> = {
  // English error texts come from the engine itself (errorCatalog or a more specific message).
  en: { messages: en, errors: {} },
  nl: { messages: nl, errors: nlErrors },
};

export type Vars = Record<string, string | number>;

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

/** The message and remedy of an engine error in the chosen language. */
export function translateError(locale: Locale, error: Pick<ApiError, 'code' | 'message' | 'remedy'>): ErrorInfo {
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
  errorText(error: Pick<ApiError, 'code' | 'message' | 'remedy'>): ErrorInfo;
  formatDateTime(iso: string | number | Date): string;
  formatNumber(n: number): string;
}

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
    const numberFmt = new Intl.NumberFormat(locale);
    return {
      locale,
      setLocale,
      t: (key, vars) => translate(locale, key, vars),
      errorText: (error) => translateError(locale, error),
      formatDateTime: (iso) => {
        const d = iso instanceof Date ? iso : new Date(iso);
        return Number.isNaN(d.getTime()) ? String(iso) : dateFmt.format(d);
      },
      formatNumber: (n) => numberFmt.format(n),
    };
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
