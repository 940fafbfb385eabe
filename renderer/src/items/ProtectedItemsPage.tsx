import type { ReactElement } from 'react';
import { useT } from '../i18n/index.js';
import { Page } from '../shell/Page.js';

export function ProtectedItemsPage(): ReactElement {
  const t = useT();
  return <Page title={t('items.protected.title')} intro={t('items.protected.intro')} />;
}
