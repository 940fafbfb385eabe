// "Connect existing vault": makes a vault made by another install (or by this one before its data
// folder was lost) usable here, then shows what arrived and offers to resume the protections the
// vault records.
import {
  Badge,
  Button,
  Checkbox,
  Dialog,
  DialogActions,
  DialogBody,
  DialogContent,
  DialogSurface,
  DialogTitle,
  Input,
  MessageBar,
  MessageBarBody,
  Text,
  makeStyles,
  tokens,
} from '@fluentui/react-components';
import { useState, type FormEvent, type ReactElement } from 'react';
import type { ConnectedVault } from '../../../preload/contract.js';
import { call, useAction, useApi } from '../api.js';
import { useI18n } from '../i18n/index.js';
import { ActionButton } from '../shell/ActionButton.js';
import { ErrorBar } from '../shell/Page.js';
import { PendingProtections } from './PendingProtections.js';
import { storageArgs } from './validation.js';
import { FormField, StorageFields, useVaultForm } from './vaultForm.js';

const useStyles = makeStyles({
  surface: { maxWidth: '600px', width: '100%' },
  form: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalM },
  intro: { color: tokens.colorNeutralForeground2 },
  facts: { display: 'grid', gridTemplateColumns: 'max-content 1fr', columnGap: tokens.spacingHorizontalL, rowGap: tokens.spacingVerticalXS, margin: 0 },
  term: { color: tokens.colorNeutralForeground2 },
  def: { margin: 0 },
  list: { margin: 0, paddingInlineStart: tokens.spacingHorizontalXL, display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalXS },
});

export function ConnectVaultDialog({ open, onClose, onConnected }: { open: boolean; onClose: () => void; onConnected: (vault: ConnectedVault) => void }): ReactElement {
  const { t, formatNumber } = useI18n();
  const styles = useStyles();
  const form = useVaultForm('connect');
  const { values } = form;
  const info = useApi('engineInfo', {});
  // Only a host with an OS keychain remembers a passphrase (the engine says so); elsewhere a key file does.
  const canRemember = info.data?.keepsSecrets === true;
  const [remember, setRemember] = useState(false);
  // An engine error about a field (a wrong passphrase, an unusable location) is shown beside it.
  const action = useAction({ placeError: form.placeError });
  const [connected, setConnected] = useState<ConnectedVault>();

  const reset = () => {
    form.reset();
    setRemember(false);
    action.clearError();
    setConnected(undefined);
  };
  const close = () => {
    if (action.busy) return;
    reset();
    onClose();
  };

  const submit = async (ev: FormEvent) => {
    ev.preventDefault();
    action.clearError();
    if (!form.check()) return;
    await action.run(async () => {
      const vault = await call('connectVault', { name: values.name.trim(), passphrase: values.passphrase, remember: canRemember && remember, ...storageArgs(values) });
      setConnected(vault);
      onConnected(vault);
    });
  };

  return (
    <Dialog open={open} onOpenChange={(_, d) => !d.open && close()} modalType="modal">
      <DialogSurface className={styles.surface}>
        {connected ? (
          <DialogBody>
            <DialogTitle>{t('vaults.connectDialog.doneTitle', { name: connected.name })}</DialogTitle>
            <DialogContent className={styles.form}>
              <MessageBar intent="success">
                <MessageBarBody>{t('vaults.connectDialog.done', { name: connected.name })}</MessageBarBody>
              </MessageBar>
              <dl className={styles.facts}>
                <dt className={styles.term}>{t('vaults.col.region')}</dt>
                <dd className={styles.def}>{connected.region}</dd>
                <dt className={styles.term}>{t('vaults.col.location')}</dt>
                <dd className={styles.def}>{connected.location}</dd>
                <dt className={styles.term}>{t('vaults.connectDialog.points')}</dt>
                <dd className={styles.def}>{formatNumber(connected.pointCount)}</dd>
              </dl>
              {connected.backupDataOnlyVms.length > 0 && (
                <section aria-label={t('vaults.connectDialog.backupDataOnly')}>
                  <Text weight="semibold" block>
                    {t('vaults.connectDialog.backupDataOnly')}
                  </Text>
                  <Text block className={styles.intro}>
                    {t('vaults.connectDialog.backupDataOnlyHint')}
                  </Text>
                  <ul className={styles.list}>
                    {connected.backupDataOnlyVms.map((name) => (
                      <li key={name}>
                        {name}{' '}
                        <Badge appearance="tint" color="warning" size="small">
                          {t('protection.BackupDataOnly')}
                        </Badge>
                      </li>
                    ))}
                  </ul>
                </section>
              )}
              <PendingProtections vault={connected.name} pending={connected.pendingProtections} />
            </DialogContent>
            <DialogActions>
              <Button appearance="primary" onClick={close}>
                {t('common.close')}
              </Button>
            </DialogActions>
          </DialogBody>
        ) : (
          <form onSubmit={submit} noValidate>
            <DialogBody>
              <DialogTitle>{t('vaults.connectDialog.title')}</DialogTitle>
              <DialogContent className={styles.form}>
                <Text className={styles.intro}>{t('vaults.connectDialog.intro')}</Text>
                <FormField form={form} name="name" label="vaults.connectDialog.name" hint="vaults.connectDialog.nameHint">
                  <Input value={values.name} onChange={(_, d) => form.setValue('name', d.value)} onBlur={form.blur('name')} autoComplete="off" spellCheck={false} autoFocus />
                </FormField>
                <StorageFields form={form} mode="connect" />
                <FormField form={form} name="passphrase" label="vaults.createDialog.passphrase">
                  <Input type="password" value={values.passphrase} onChange={(_, d) => form.setValue('passphrase', d.value)} onBlur={form.blur('passphrase')} autoComplete="current-password" />
                </FormField>
                {canRemember ? (
                  <>
                    <Checkbox checked={remember} onChange={(_, d) => setRemember(d.checked === true)} label={t('vaults.unlockDialog.remember')} />
                    <Text size={200}>{t('vaults.unlockDialog.rememberHint')}</Text>
                  </>
                ) : (
                  <Text size={200} className={styles.intro}>
                    {t('vaults.connectDialog.rememberElsewhere')}
                  </Text>
                )}
                {action.error && <ErrorBar error={action.error} />}
              </DialogContent>
              <DialogActions>
                <Button appearance="secondary" onClick={close} disabled={action.busy}>
                  {t('common.cancel')}
                </Button>
                <ActionButton action={action} appearance="primary" type="submit">
                  {action.busy ? t('vaults.connectDialog.submitting') : t('vaults.connectDialog.submit')}
                </ActionButton>
              </DialogActions>
            </DialogBody>
          </form>
        )}
      </DialogSurface>
    </Dialog>
  );
}
