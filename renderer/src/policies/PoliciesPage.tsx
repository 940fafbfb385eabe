import type { ReactElement } from 'react';
import { useT } from '../i18n/index.js';
import { Page } from '../shell/Page.js';

export function PoliciesPage(): ReactElement {
  const t = useT();
  return <Page title={t('policies.title')} intro={t('policies.intro')} />;
}
