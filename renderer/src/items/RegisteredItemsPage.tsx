import type { ReactElement } from 'react';
import { useT } from '../i18n/index.js';
import { Page } from '../shell/Page.js';

export function RegisteredItemsPage(): ReactElement {
  const t = useT();
  return <Page title={t('items.registered.title')} intro={t('items.registered.intro')} />;
}
