import { Button, MessageBar, MessageBarActions, MessageBarBody, MessageBarTitle } from '@fluentui/react-components';
import type { ReactElement } from 'react';
import { useConnection } from '../api.js';
import { useT } from '../i18n/index.js';

/** Shown while window.coffer reports the engine as unreachable. */
export function ConnectionBanner(): ReactElement | null {
  const connected = useConnection();
  const t = useT();
  if (connected) return null;
  return (
    <MessageBar intent="error" layout="multiline" role="alert">
      <MessageBarBody>
        <MessageBarTitle>{t('connection.lostTitle')}</MessageBarTitle> {t('connection.lostBody')}
      </MessageBarBody>
      <MessageBarActions>
        <Button onClick={() => window.location.reload()}>{t('connection.reload')}</Button>
      </MessageBarActions>
    </MessageBar>
  );
}
