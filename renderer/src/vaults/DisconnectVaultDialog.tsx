// Disconnect: this install forgets the vault, its data stays in the storage for any install
// (this one too) to connect again. Not Delete: nothing in the storage is touched.
import { Button, Dialog, DialogActions, DialogBody, DialogContent, DialogSurface, DialogTitle, Spinner, Text, makeStyles, tokens } from '@fluentui/react-components';
import { PlugDisconnected20Regular } from '@fluentui/react-icons';
import type { ReactElement } from 'react';
import type { ResultOf, VaultSummary } from '../../../preload/contract.js';
import { call, useAction } from '../api.js';
import { useT } from '../i18n/index.js';
import { ErrorBar } from '../shell/Page.js';

const useStyles = makeStyles({
  content: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalM },
  mono: { fontFamily: tokens.fontFamilyMonospace, fontSize: tokens.fontSizeBase200, overflowWrap: 'anywhere' },
});

export function DisconnectVaultDialog({
  vault,
  onClose,
  onDisconnected,
}: {
  vault: VaultSummary | undefined;
  onClose: () => void;
  onDisconnected: (result: ResultOf<'disconnectVault'>) => void;
}): ReactElement {
  const t = useT();
  const styles = useStyles();
  const action = useAction();
  const close = () => {
    if (action.busy) return;
    action.clearError();
    onClose();
  };
  const disconnect = async () => {
    if (!vault) return;
    const result = await action.run(() => call('disconnectVault', { name: vault.name }));
    if (result) onDisconnected(result);
  };
  return (
    <Dialog open={vault !== undefined} onOpenChange={(_, d) => !d.open && close()}>
      <DialogSurface>
        <DialogBody>
          <DialogTitle>{t('vaults.disconnectDialog.title', { name: vault?.name ?? '' })}</DialogTitle>
          <DialogContent className={styles.content}>
            <Text>{t('vaults.disconnectDialog.body')}</Text>
            <Text className={styles.mono}>{vault?.location}</Text>
            <Text>{t('vaults.disconnectDialog.again')}</Text>
            <Text>{t('vaults.disconnectDialog.notDelete')}</Text>
            {action.error && <ErrorBar error={action.error} />}
          </DialogContent>
          <DialogActions>
            <Button appearance="secondary" onClick={close} disabled={action.busy}>
              {t('common.cancel')}
            </Button>
            <Button appearance="primary" onClick={() => void disconnect()} disabled={action.busy} icon={action.busy ? <Spinner size="tiny" /> : <PlugDisconnected20Regular />}>
              {t('vaults.disconnect')}
            </Button>
          </DialogActions>
        </DialogBody>
      </DialogSurface>
    </Dialog>
  );
}
