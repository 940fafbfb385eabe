import { Menu, MenuItemRadio, MenuList, MenuPopover, MenuTrigger, Button, Text, makeStyles, tokens } from '@fluentui/react-components';
import { DarkTheme20Regular, LocalLanguage20Regular, LockClosed16Regular, Vault24Filled, WeatherMoon20Regular, WeatherSunny20Regular } from '@fluentui/react-icons';
import { useEffect, type ReactElement } from 'react';
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
  managed: { display: 'inline-flex', alignItems: 'center', gap: tokens.spacingHorizontalXS, color: tokens.colorNeutralForegroundOnBrand },
  onBrand: {
    color: tokens.colorNeutralForegroundOnBrand,
    ':hover': { color: tokens.colorNeutralForegroundOnBrand, backgroundColor: tokens.colorBrandBackgroundHover },
    ':hover:active': { color: tokens.colorNeutralForegroundOnBrand, backgroundColor: tokens.colorBrandBackgroundPressed },
  },
});

const languageNames: Record<Locale, MessageKey> = { en: 'language.en', nl: 'language.nl' };
const themeNames: Record<ThemeChoice, MessageKey> = { light: 'header.theme.light', dark: 'header.theme.dark', system: 'header.theme.system' };
const themeIcons: Record<ThemeChoice, ReactElement> = { light: <WeatherSunny20Regular />, dark: <WeatherMoon20Regular />, system: <DarkTheme20Regular /> };

/**
 * A setting the machine's deployment file fixes: its value on a disabled (still focusable) button
 * with a lock, and the words "Managed by your organisation" (deploymentInfo, main/core/deployment.ts).
 */
function ManagedSetting({ setting, value, icon, className }: { setting: string; value: string; icon: ReactElement; className: string }): ReactElement {
  const { t } = useI18n();
  const styles = useStyles();
  return (
    <span className={styles.managed} data-managed="true">
      <Button appearance="transparent" className={className} icon={icon} disabledFocusable aria-label={t('managed.setting', { setting, value })}>
        {value}
      </Button>
      <LockClosed16Regular aria-hidden />
      <Text size={200}>{t('managed.byOrganisation')}</Text>
    </span>
  );
}

/** Light, dark or the system's setting; remembered in this browser, or fixed by the deployment file. */
function ThemeMenu({ className, managed }: { className: string; managed: ThemeChoice | null }): ReactElement {
  const { t } = useI18n();
  const { choice, setChoice } = useColorSchemeChoice();
  useEffect(() => {
    if (managed && managed !== choice) setChoice(managed);
  }, [managed, choice, setChoice]);
  if (managed) return <ManagedSetting setting={t('header.theme')} value={t(themeNames[managed])} icon={themeIcons[managed]} className={className} />;
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
  const deployment = useApi('deploymentInfo', {}).data;
  const managedLanguage = deployment?.managed.includes('language') ? deployment.language : null;
  const managedTheme = deployment?.managed.includes('theme') ? deployment.theme : null;
  useEffect(() => {
    if (managedLanguage && managedLanguage !== locale) setLocale(managedLanguage);
  }, [managedLanguage, locale, setLocale]);
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
      <ThemeMenu className={styles.onBrand} managed={managedTheme} />
      {managedLanguage ? (
        <ManagedSetting setting={t('header.language')} value={t(languageNames[managedLanguage])} icon={<LocalLanguage20Regular />} className={styles.onBrand} />
      ) : (
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
      )}
    </header>
  );
}
