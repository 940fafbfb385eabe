import { Menu, MenuItemRadio, MenuList, MenuPopover, MenuTrigger, Button, Text, makeStyles, tokens } from '@fluentui/react-components';
import { DarkTheme20Regular, LocalLanguage20Regular, Vault24Filled, WeatherMoon20Regular, WeatherSunny20Regular } from '@fluentui/react-icons';
import type { ReactElement } from 'react';
import { useApi } from '../api.js';
import { NotificationCentre } from './NotificationCentre.js';
import { locales, useI18n, type Locale, type MessageKey } from '../i18n/index.js';
import { isThemeChoice, themeChoices, useColorSchemeChoice, type ThemeChoice } from './useColorScheme.js';

const useStyles = makeStyles({
  header: {
    display: 'flex',
    alignItems: 'center',
    gap: tokens.spacingHorizontalM,
    height: '48px',
    paddingInline: tokens.spacingHorizontalL,
    backgroundColor: tokens.colorBrandBackground,
    color: tokens.colorNeutralForegroundOnBrand,
    flexShrink: 0,
  },
  brand: {
    display: 'flex',
    alignItems: 'center',
    gap: tokens.spacingHorizontalS,
    color: tokens.colorNeutralForegroundOnBrand,
    textDecoration: 'none',
  },
  name: { fontWeight: tokens.fontWeightSemibold, fontSize: tokens.fontSizeBase400 },
  tagline: { color: tokens.colorNeutralForegroundOnBrand },
  spacer: { flexGrow: 1 },
  version: { color: tokens.colorNeutralForegroundOnBrand },
  onBrand: {
    color: tokens.colorNeutralForegroundOnBrand,
    ':hover': { color: tokens.colorNeutralForegroundOnBrand, backgroundColor: tokens.colorBrandBackgroundHover },
    ':hover:active': { color: tokens.colorNeutralForegroundOnBrand, backgroundColor: tokens.colorBrandBackgroundPressed },
  },
});

const languageNames: Record<Locale, MessageKey> = { en: 'language.en', nl: 'language.nl' };
const themeNames: Record<ThemeChoice, MessageKey> = { light: 'header.theme.light', dark: 'header.theme.dark', system: 'header.theme.system' };
const themeIcons: Record<ThemeChoice, ReactElement> = { light: <WeatherSunny20Regular />, dark: <WeatherMoon20Regular />, system: <DarkTheme20Regular /> };

/** Light, dark or the system's setting; remembered in this browser. */
function ThemeMenu({ className }: { className: string }): ReactElement {
  const { t } = useI18n();
  const { choice, setChoice } = useColorSchemeChoice();
  return (
    <Menu
      checkedValues={{ theme: [choice] }}
      onCheckedValueChange={(_, data) => {
        const next = data.checkedItems[0];
        if (isThemeChoice(next)) setChoice(next);
      }}
    >
      <MenuTrigger disableButtonEnhancement>
        <Button appearance="transparent" className={className} icon={themeIcons[choice]} aria-label={`${t('header.theme')}: ${t(themeNames[choice])}`} />
      </MenuTrigger>
      <MenuPopover>
        <MenuList>
          {themeChoices.map((c) => (
            <MenuItemRadio key={c} name="theme" value={c} icon={themeIcons[c]}>
              {t(themeNames[c])}
            </MenuItemRadio>
          ))}
        </MenuList>
      </MenuPopover>
    </Menu>
  );
}

export function Header(): ReactElement {
  const { t, locale, setLocale } = useI18n();
  const styles = useStyles();
  const info = useApi('engineInfo', {});
  return (
    <header className={styles.header}>
      <a className={styles.brand} href="#/dashboard">
        <Vault24Filled aria-hidden />
        <Text className={styles.name}>{t('app.name')}</Text>
        <Text className={styles.tagline} size={200}>
          {t('app.tagline')}
        </Text>
      </a>
      <span className={styles.spacer} />
      {info.data && (
        <Text size={200} className={styles.version}>
          {t('header.engineVersion', { version: info.data.version })}
        </Text>
      )}
      <NotificationCentre />
      <ThemeMenu className={styles.onBrand} />
      <Menu
        checkedValues={{ language: [locale] }}
        onCheckedValueChange={(_, data) => {
          const next = data.checkedItems[0];
          if (next === 'en' || next === 'nl') setLocale(next);
        }}
      >
        <MenuTrigger disableButtonEnhancement>
          <Button appearance="transparent" className={styles.onBrand} icon={<LocalLanguage20Regular />} aria-label={`${t('header.language')}: ${t(languageNames[locale])}`}>
            {t(languageNames[locale])}
          </Button>
        </MenuTrigger>
        <MenuPopover>
          <MenuList>
            {locales.map((l) => (
              <MenuItemRadio key={l} name="language" value={l} lang={l}>
                {t(languageNames[l])}
              </MenuItemRadio>
            ))}
          </MenuList>
        </MenuPopover>
      </Menu>
    </header>
  );
}
