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
  Spinner,
  Text,
  makeStyles,
  tokens,
} from '@fluentui/react-components';
import { useState, type FormEvent, type ReactElement } from 'react';
import type { VaultSummary } from '../../../preload/contract.js';
import { call, useAction } from '../api.js';
import { useT } from '../i18n/index.js';
import { ErrorBar } from '../shell/Page.js';

const useStyles = makeStyles({
  content: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalM },
  surface: { maxWidth: '520px', width: '100%' },
});

/** Opens a locked vault with its passphrase; "remember" keeps it in the OS keychain where the engine can. */
export function UnlockVaultDialog({ vault, onClose, onUnlocked }: { vault: VaultSummary | undefined; onClose: () => void; onUnlocked: (v: VaultSummary) => void }): ReactElement {
  const t = useT();
  const styles = useStyles();
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
    const v = await action.run(() => call('unlockVault', { name: vault.name, passphrase, remember }));
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
              <Checkbox checked={remember} onChange={(_, d) => setRemember(d.checked === true)} label={t('vaults.unlockDialog.remember')} />
              <Text size={200}>{t('vaults.unlockDialog.rememberHint')}</Text>
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
