import { FluentProvider, Text, makeStyles, tokens, webDarkTheme, webLightTheme } from '@fluentui/react-components';
import type { ComponentType, ReactElement } from 'react';
import { DashboardPage } from './dashboard/DashboardPage.js';
import { I18nProvider, useT, type Locale } from './i18n/index.js';
import { ProtectedItemsPage } from './items/ProtectedItemsPage.js';
import { RegisteredItemsPage } from './items/RegisteredItemsPage.js';
import { JobsPage } from './jobs/JobsPage.js';
import { PoliciesPage } from './policies/PoliciesPage.js';
import { RecoveryPointsPage } from './restore/RecoveryPointsPage.js';
import { SourcesPage } from './sources/SourcesPage.js';
import { useLocation, type RouteId } from './routes.js';
import { AppNav } from './shell/AppNav.js';
import { ConnectionBanner } from './shell/ConnectionBanner.js';
import { Header } from './shell/Header.js';
import { AppToaster, NotificationsProvider } from './shell/notify.js';
import { Page } from './shell/Page.js';
import { ColorSchemeContext, useColorScheme } from './shell/useColorScheme.js';
import { VaultsPage } from './vaults/VaultsPage.js';

const pages: Record<RouteId, ComponentType> = {
  dashboard: DashboardPage,
  vaults: VaultsPage,
  sources: SourcesPage,
  recoveryPoints: RecoveryPointsPage,
  registeredItems: RegisteredItemsPage,
  protectedItems: ProtectedItemsPage,
  jobs: JobsPage,
  policies: PoliciesPage,
};

const useStyles = makeStyles({
  shell: {
    display: 'flex',
    flexDirection: 'column',
    height: '100vh',
    backgroundColor: tokens.colorNeutralBackground2,
    color: tokens.colorNeutralForeground1,
  },
  skip: {
    position: 'absolute',
    left: '-10000px',
    ':focus': { left: tokens.spacingHorizontalS, top: tokens.spacingVerticalS, zIndex: 1000, padding: tokens.spacingHorizontalS, backgroundColor: tokens.colorNeutralBackground1, color: tokens.colorNeutralForeground1 },
  },
  body: { display: 'flex', flexGrow: 1, minHeight: 0 },
  main: { flexGrow: 1, overflowY: 'auto', minWidth: 0, outlineStyle: 'none' },
});

function NotFound(): ReactElement {
  const t = useT();
  return (
    <Page title={t('notFound.title')}>
      <Text>{t('notFound.body')}</Text>
    </Page>
  );
}

function Shell(): ReactElement {
  const styles = useStyles();
  const t = useT();
  const location = useLocation();
  const Current = location.route ? pages[location.route.id] : NotFound;
  return (
    <div className={styles.shell}>
      <a className={styles.skip} href="#main" onClick={(e) => {
        e.preventDefault();
        document.getElementById('main')?.focus();
      }}>
        {t('app.skipToContent')}
      </a>
      <Header />
      <ConnectionBanner />
      <div className={styles.body}>
        <AppNav current={location.route?.id} />
        <main id="main" className={styles.main} tabIndex={-1}>
          <Current key={location.route?.id ?? location.path} />
        </main>
      </div>
      <AppToaster />
    </div>
  );
}

export function App({ locale }: { locale?: Locale } = {}): ReactElement {
  const scheme = useColorScheme();
  // No className here: Fluent copies it onto every portal node (dialogs, menus, toasts).
  return (
    <ColorSchemeContext.Provider value={scheme}>
      <FluentProvider theme={scheme.dark ? webDarkTheme : webLightTheme}>
        <I18nProvider locale={locale}>
          <NotificationsProvider>
            <Shell />
          </NotificationsProvider>
        </I18nProvider>
      </FluentProvider>
    </ColorSchemeContext.Provider>
  );
}

