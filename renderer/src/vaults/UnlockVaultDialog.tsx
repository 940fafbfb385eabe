import { Button, Checkbox, Input, MessageBar, MessageBarActions, MessageBarBody, Text, makeStyles } from '@fluentui/react-components';
import { useState, type ReactElement } from 'react';
import type { VaultSummary } from '../../../preload/contract.js';
import { call, useAction, useApi } from '../api.js';
import { useT } from '../i18n/index.js';
import { CheckedField, FormDialog } from '../shell/FormDialog.js';

const useStyles = makeStyles({
  surface: { maxWidth: '520px', width: '100%' },
});

/**
 * Opens a locked vault with its passphrase. "Remember" (the OS keychain) is offered only where the
 * engine says this host can keep secrets; elsewhere the dialog says why and offers the key file.
 */
export function UnlockVaultDialog({
  vault,
  onClose,
  onUnlocked,
  onSetUpKeyFile,
}: {
  vault: VaultSummary | undefined;
  onClose: () => void;
  onUnlocked: (v: VaultSummary) => void;
  /** Opens the key-file setup for this vault (instead of this dialog). */
  onSetUpKeyFile: (v: VaultSummary) => void;
}): ReactElement {
  const t = useT();
  const styles = useStyles();
  const info = useApi('engineInfo', {});
  const keepsSecrets = info.data?.keepsSecrets === true;
  const [passphrase, setPassphrase] = useState('');
  const [remember, setRemember] = useState(false);
  const action = useAction();
  const { busy, error } = action;
  const reset = () => {
    setPassphrase('');
    setRemember(false);
    action.clearError();
  };
  const close = () => {
    reset();
    onClose();
  };
  const submit = async () => {
    if (!vault || passphrase === '') return;
    const v = await action.run(() => call('unlockVault', { name: vault.name, passphrase, remember: keepsSecrets && remember }));
    if (!v) return;
    reset();
    onUnlocked(v);
  };
  const wrong = error?.code === 'WrongPassphrase';
  return (
    <FormDialog
      open={vault !== undefined}
      title={t('vaults.unlockDialog.title', { name: vault?.name ?? '' })}
      className={styles.surface}
      action={action}
      showError={!wrong}
      onClose={close}
      submit={{ label: t('vaults.unlock'), disabled: passphrase === '', onSubmit: submit }}
    >
      <Text>{t('vaults.unlockDialog.intro')}</Text>
      <CheckedField label={t('vaults.createDialog.passphrase')} required error={wrong ? t('vaults.unlockDialog.wrong') : undefined}>
        <Input type="password" value={passphrase} onChange={(_, d) => setPassphrase(d.value)} autoComplete="current-password" autoFocus />
      </CheckedField>
      {keepsSecrets ? (
        <>
          <Checkbox checked={remember} onChange={(_, d) => setRemember(d.checked === true)} label={t('vaults.unlockDialog.remember')} />
          <Text size={200}>{t('vaults.unlockDialog.rememberHint')}</Text>
        </>
      ) : vault?.unlocksAtStart.via === 'keyFile' ? (
        <Text size={200}>{t('vaults.unlockDialog.viaKeyFile', { path: vault.unlocksAtStart.keyFile })}</Text>
      ) : (
        info.data && (
          <MessageBar intent="info" layout="multiline">
            <MessageBarBody>{t('vaults.unlockDialog.noKeychain')}</MessageBarBody>
            <MessageBarActions>
              <Button
                onClick={() => {
                  if (!vault || busy) return;
                  reset();
                  onSetUpKeyFile(vault);
                }}
              >
                {t('vaults.unlockDialog.setUpKeyFile')}
              </Button>
            </MessageBarActions>
          </MessageBar>
        )
      )}
    </FormDialog>
  );
}
