import { createContext, useCallback, useContext, useEffect, useState } from 'react';

const QUERY = '(prefers-color-scheme: dark)';
const STORAGE_KEY = 'coffer.theme';

/** The theme the admin chose in the header: light, dark, or whatever the system uses. */
export const themeChoices = ['light', 'dark', 'system'] as const;
export type ThemeChoice = (typeof themeChoices)[number];

export function isThemeChoice(value: unknown): value is ThemeChoice {
  return typeof value === 'string' && (themeChoices as readonly string[]).includes(value);
}

/** Follows the OS light/dark setting live. */
export function usePrefersDark(): boolean {
  const [dark, setDark] = useState(() => typeof window !== 'undefined' && !!window.matchMedia?.(QUERY).matches);
  useEffect(() => {
    const mq = window.matchMedia?.(QUERY);
    if (!mq) return;
    const onChange = (e: MediaQueryListEvent) => setDark(e.matches);
    setDark(mq.matches);
    mq.addEventListener('change', onChange);
    return () => mq.removeEventListener('change', onChange);
  }, []);
  return dark;
}

function storedChoice(): ThemeChoice {
  try {
    const saved = localStorage.getItem(STORAGE_KEY);
    if (isThemeChoice(saved)) return saved;
  } catch {
    // storage unavailable (privacy mode): follow the system
  }
  return 'system';
}

export interface ColorScheme {
  choice: ThemeChoice;
  setChoice(choice: ThemeChoice): void;
  /** What the console shows now: the choice, or the system's setting when it follows the system. */
  dark: boolean;
}

/** The theme choice, remembered in this browser (localStorage), and the scheme it gives. */
export function useColorScheme(): ColorScheme {
  const prefersDark = usePrefersDark();
  const [choice, setChoiceState] = useState<ThemeChoice>(storedChoice);
  const setChoice = useCallback((next: ThemeChoice) => {
    setChoiceState(next);
    try {
      localStorage.setItem(STORAGE_KEY, next);
    } catch {
      // not remembered; still switched for this session
    }
  }, []);
  const dark = choice === 'system' ? prefersDark : choice === 'dark';
  useEffect(() => {
    document.documentElement.style.colorScheme = dark ? 'dark' : 'light';
  }, [dark]);
  return { choice, setChoice, dark };
}

/** The App's color scheme, for the header's theme menu. */
export const ColorSchemeContext = createContext<ColorScheme | null>(null);

export function useColorSchemeChoice(): ColorScheme {
  const ctx = useContext(ColorSchemeContext);
  if (!ctx) throw new Error('useColorSchemeChoice must be used inside <ColorSchemeContext.Provider>');
  return ctx;
}
