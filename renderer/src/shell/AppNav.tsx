import {
  NavDrawer,
  NavDrawerBody,
  NavItem,
  NavSectionHeader,
  NavDivider,
  makeStyles,
  tokens,
} from '@fluentui/react-components';
import {
  Board20Filled,
  Board20Regular,
  DocumentBulletList20Filled,
  History20Filled,
  History20Regular,
  PlugConnected20Filled,
  PlugConnected20Regular,
  DocumentBulletList20Regular,
  ServerMultiple20Filled,
  ServerMultiple20Regular,
  ShieldCheckmark20Filled,
  ShieldCheckmark20Regular,
  TaskListLtr20Filled,
  TaskListLtr20Regular,
  Vault20Filled,
  Vault20Regular,
  bundleIcon,
} from '@fluentui/react-icons';
import { Fragment, type ReactElement } from 'react';
import { useT, type MessageKey } from '../i18n/index.js';
import { hrefOf, routes, type RouteDef, type RouteId } from '../routes.js';

const icons: Record<RouteId, ReturnType<typeof bundleIcon>> = {
  dashboard: bundleIcon(Board20Filled, Board20Regular),
  vaults: bundleIcon(Vault20Filled, Vault20Regular),
  sources: bundleIcon(PlugConnected20Filled, PlugConnected20Regular),
  recoveryPoints: bundleIcon(History20Filled, History20Regular),
  registeredItems: bundleIcon(ServerMultiple20Filled, ServerMultiple20Regular),
  protectedItems: bundleIcon(ShieldCheckmark20Filled, ShieldCheckmark20Regular),
  jobs: bundleIcon(TaskListLtr20Filled, TaskListLtr20Regular),
  policies: bundleIcon(DocumentBulletList20Filled, DocumentBulletList20Regular),
};

const sectionLabels: Record<RouteDef['section'], MessageKey> = {
  overview: 'nav.section.overview',
  manage: 'nav.section.manage',
  monitor: 'nav.section.monitor',
};

const useStyles = makeStyles({
  nav: { display: 'flex', flexShrink: 0 },
  drawer: {
    height: '100%',
    borderRight: `${tokens.strokeWidthThin} solid ${tokens.colorNeutralStroke2}`,
  },
});

/** The admin-portal left navigation; each item is a real link (#/path), so it works with the keyboard and deep links. */
export function AppNav({ current }: { current: RouteId | undefined }): ReactElement {
  const t = useT();
  const styles = useStyles();
  const sections = [...new Set(routes.map((r) => r.section))];
  return (
    <nav aria-label={t('nav.label')} className={styles.nav}>
    <NavDrawer open type="inline" selectedValue={current ?? ''} className={styles.drawer}>
      <NavDrawerBody>
        {sections.map((section, i) => (
          <Fragment key={section}>
            {i > 0 && <NavDivider />}
            <NavSectionHeader>{t(sectionLabels[section])}</NavSectionHeader>
            {routes
              .filter((r) => r.section === section)
              .map((r) => {
                const Icon = icons[r.id];
                return (
                  <NavItem key={r.id} value={r.id} href={hrefOf(r.id)} icon={<Icon />}>
                    {t(r.label)}
                  </NavItem>
                );
              })}
          </Fragment>
        ))}
      </NavDrawerBody>
    </NavDrawer>
    </nav>
  );
}
