import type { ReactElement } from 'react';
import { useT } from '../i18n/index.js';
import { Page } from '../shell/Page.js';

export function JobsPage(): ReactElement {
  const t = useT();
  return <Page title={t('jobs.title')} intro={t('jobs.intro')} />;
}
