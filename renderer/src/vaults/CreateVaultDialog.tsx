import { Checkbox, Field, Input, MessageBar, MessageBarBody, MessageBarTitle, ProgressBar, Text, makeStyles, tokens } from '@fluentui/react-components';
import type { ReactElement } from 'react';
import { isWeakPassphrase, passphraseStrength, PASSPHRASE_MIN, type VaultSummary } from '../../../preload/contract.js';
import { call, useAction } from '../api.js';
import { useT, type MessageKey } from '../i18n/index.js';
import { FormDialog } from '../shell/FormDialog.js';
import { storageArgs, weakPassphraseArgs } from './validation.js';
import { FormField, StorageFields, useVaultForm } from './vaultForm.js';

const useStyles = makeStyles({
  surface: { maxWidth: '560px', width: '100%' },
  intro: { color: tokens.colorNeutralForeground2 },
  strength: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalXXS },
});

const strengthColor = ['error', 'error', 'warning', 'success', 'success'] as const;

export function CreateVaultDialog({ open, onClose, onCreated }: { open: boolean; onClose: () => void; onCreated: (vault: VaultSummary) => void }): ReactElement {
  const t = useT();
  const styles = useStyles();
  const form = useVaultForm('create');
  const { values } = form;
  const action = useAction({ placeError: form.placeError });

  const reset = () => {
    form.reset();
    action.clearError();
  };

  const close = () => {
    reset();
    onClose();
  };

  const text = (field: 'name' | 'region' | 'passphrase' | 'confirm', type: 'text' | 'password' = 'text', autoComplete = 'off') => (
    <Input type={type} value={values[field]} onChange={(_, d) => form.setValue(field, d.value)} onBlur={form.blur(field)} autoComplete={autoComplete} spellCheck={false} autoFocus={field === 'name'} />
  );

  const submit = async () => {
    action.clearError();
    if (!form.check()) return;
    await action.run(async () => {
      const vault = await call('createVault', { name: values.name.trim(), region: values.region.trim(), passphrase: values.passphrase, ...storageArgs(values), ...weakPassphraseArgs(values) });
      reset();
      onCreated(vault);
    });
  };

  const strength = passphraseStrength(values.passphrase);
  const strengthKey: MessageKey = `vaults.strength.${strength}`;
  // The risk is offered once the passphrase passes the hard minimum but is weak (the contract's rule).
  const offerRisk = values.passphrase.length >= PASSPHRASE_MIN && isWeakPassphrase(values.passphrase);

  return (
    <FormDialog
      open={open}
      title={t('vaults.createDialog.title')}
      className={styles.surface}
      action={action}
      onClose={close}
      submit={{ label: action.busy ? t('vaults.createDialog.submitting') : t('vaults.createDialog.submit'), onSubmit: submit }}
    >
      <Text className={styles.intro}>{t('vaults.createDialog.intro')}</Text>
      <FormField form={form} name="name" label="vaults.createDialog.name" hint="vaults.createDialog.nameHint">
        {text('name')}
      </FormField>
      <FormField form={form} name="region" label="vaults.createDialog.region" hint="vaults.createDialog.regionHint">
        {text('region')}
      </FormField>
      <StorageFields form={form} mode="create" />
      <FormField form={form} name="passphrase" label="vaults.createDialog.passphrase">
        {text('passphrase', 'password', 'new-password')}
      </FormField>
      <div className={styles.strength}>
        <Field
          label={t('vaults.strength.label')}
          validationMessage={values.passphrase ? `${t(strengthKey)}${strength < 3 ? ` · ${t('vaults.strength.tip')}` : ''}` : t('vaults.strength.tip')}
          validationState="none"
          size="small"
        >
          <ProgressBar value={strength / 4} max={1} thickness="large" color={strengthColor[strength]} aria-valuetext={t(strengthKey)} />
        </Field>
      </div>
      {offerRisk && <Checkbox checked={values.acceptWeak} onChange={(_, d) => form.setAcceptWeak(d.checked === true)} label={t('vaults.createDialog.acceptWeak')} />}
      <FormField form={form} name="confirm" label="vaults.createDialog.confirm">
        {text('confirm', 'password', 'new-password')}
      </FormField>
      <MessageBar intent="warning" layout="multiline">
        <MessageBarBody>
          <MessageBarTitle>{t('vaults.createDialog.warningTitle')}</MessageBarTitle> {t('vaults.createDialog.warning')}
        </MessageBarBody>
      </MessageBar>
    </FormDialog>
  );
}
