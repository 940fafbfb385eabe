import {
  Button,
  Checkbox,
  Dialog,
  DialogActions,
  DialogBody,
  DialogContent,
  DialogSurface,
  DialogTitle,
  Field,
  Input,
  MessageBar,
  MessageBarActions,
  MessageBarBody,
  Spinner,
  Text,
  makeStyles,
  tokens,
} from '@fluentui/react-components';
import { useState, type FormEvent, type ReactElement } from 'react';
import type { VaultSummary } from '../../../preload/contract.js';
import { call, useAction, useApi } from '../api.js';
import { useT } from '../i18n/index.js';
import { ErrorBar } from '../shell/Page.js';

const useStyles = makeStyles({
  content: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalM },
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
    if (busy) return;
    reset();
    onClose();
  };
  const submit = async (ev: FormEvent) => {
    ev.preventDefault();
    if (!vault || passphrase === '') return;
    const v = await action.run(() => call('unlockVault', { name: vault.name, passphrase, remember: keepsSecrets && remember }));
    if (!v) return;
    reset();
    onUnlocked(v);
  };
  const wrong = error?.code === 'WrongPassphrase';
  return (
    <Dialog open={vault !== undefined} onOpenChange={(_, d) => !d.open && close()}>
      <DialogSurface className={styles.surface}>
        <form onSubmit={submit} noValidate>
          <DialogBody>
            <DialogTitle>{t('vaults.unlockDialog.title', { name: vault?.name ?? '' })}</DialogTitle>
            <DialogContent className={styles.content}>
              <Text>{t('vaults.unlockDialog.intro')}</Text>
              <Field label={t('vaults.createDialog.passphrase')} required validationMessage={wrong ? t('vaults.unlockDialog.wrong') : undefined} validationState={wrong ? 'error' : 'none'}>
                <Input type="password" value={passphrase} onChange={(_, d) => setPassphrase(d.value)} autoComplete="current-password" autoFocus />
              </Field>
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
              {error && !wrong && <ErrorBar error={error} />}
            </DialogContent>
            <DialogActions>
              <Button appearance="secondary" onClick={close} disabled={busy}>
                {t('common.cancel')}
              </Button>
              <Button appearance="primary" type="submit" disabled={busy || passphrase === ''} icon={busy ? <Spinner size="tiny" /> : undefined}>
                {t('vaults.unlock')}
              </Button>
            </DialogActions>
          </DialogBody>
        </form>
      </DialogSurface>
    </Dialog>
  );
}
