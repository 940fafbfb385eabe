import {
  Button,
  Dialog,
  DialogActions,
  DialogBody,
  DialogContent,
  DialogSurface,
  DialogTitle,
  Field,
  Input,
  MessageBar,
  MessageBarBody,
  MessageBarTitle,
  ProgressBar,
  Spinner,
  Text,
  makeStyles,
  tokens,
} from '@fluentui/react-components';
import { useState, type FormEvent, type ReactElement } from 'react';
import type { ApiError, VaultSummary } from '../../../preload/contract.js';
import { call, toApiError } from '../api.js';
import { useT, type MessageKey } from '../i18n/index.js';
import { FolderInput } from '../shell/FolderInput.js';
import { ErrorBar } from '../shell/Page.js';
import { passphraseStrength } from './strength.js';
import { fieldErrorsFromApi, validateAll, validateField, type CreateField, type CreateValues, type FieldError, type FieldErrors } from './validation.js';

const useStyles = makeStyles({
  surface: { maxWidth: '560px', width: '100%' },
  form: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalM },
  intro: { color: tokens.colorNeutralForeground2 },
  strength: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalXXS },
});

const empty: CreateValues = { name: '', region: '', path: '', passphrase: '', confirm: '' };

const strengthColor = ['error', 'error', 'warning', 'success', 'success'] as const;

export function CreateVaultDialog({ open, onClose, onCreated }: { open: boolean; onClose: () => void; onCreated: (vault: VaultSummary) => void }): ReactElement {
  const t = useT();
  const styles = useStyles();
  const [values, setValues] = useState<CreateValues>(empty);
  const [touched, setTouched] = useState<Partial<Record<CreateField, boolean>>>({});
  const [serverErrors, setServerErrors] = useState<FieldErrors>({});
  const [formError, setFormError] = useState<ApiError>();
  const [busy, setBusy] = useState(false);

  const reset = () => {
    setValues(empty);
    setTouched({});
    setServerErrors({});
    setFormError(undefined);
    setBusy(false);
  };

  const close = () => {
    if (busy) return;
    reset();
    onClose();
  };

  const set = (field: CreateField) => (_: unknown, data: { value: string }) => {
    setValues((v) => ({ ...v, [field]: data.value }));
    setServerErrors((e) => ({ ...e, [field]: undefined }));
  };
  const blur = (field: CreateField) => () => setTouched((s) => ({ ...s, [field]: true }));

  const message = (e: FieldError | undefined): string | undefined => (!e ? undefined : 'key' in e ? t(e.key) : e.text);
  const errorOf = (field: CreateField): string | undefined =>
    message(serverErrors[field]) ?? (touched[field] && (field !== 'confirm' || values.confirm !== '' || touched.passphrase) ? message(validateField(field, values)) : undefined);

  const submit = async (ev: FormEvent) => {
    ev.preventDefault();
    setTouched({ name: true, region: true, path: true, passphrase: true, confirm: true });
    setFormError(undefined);
    if (Object.keys(validateAll(values)).length > 0) return;
    setBusy(true);
    try {
      const vault = await call('createVault', {
        name: values.name.trim(),
        region: values.region.trim(),
        path: values.path,
        passphrase: values.passphrase,
      });
      reset();
      onCreated(vault);
    } catch (err) {
      const apiError = toApiError(err);
      const fields = fieldErrorsFromApi(apiError, values);
      if (fields) setServerErrors(fields);
      else setFormError(apiError);
      setBusy(false);
    }
  };

  const strength = passphraseStrength(values.passphrase);
  const strengthKey: MessageKey = `vaults.strength.${strength}`;

  const field = (name: CreateField, label: MessageKey, hint: MessageKey | undefined, input: ReactElement, required = true) => {
    const error = errorOf(name);
    return (
      <Field label={t(label)} required={required} hint={hint ? t(hint) : undefined} validationMessage={error} validationState={error ? 'error' : 'none'}>
        {input}
      </Field>
    );
  };

  return (
    <Dialog open={open} onOpenChange={(_, data) => !data.open && close()} modalType="modal">
      <DialogSurface className={styles.surface}>
        <form onSubmit={submit} noValidate>
          <DialogBody>
            <DialogTitle>{t('vaults.createDialog.title')}</DialogTitle>
            <DialogContent className={styles.form}>
              <Text className={styles.intro}>{t('vaults.createDialog.intro')}</Text>
              {field('name', 'vaults.createDialog.name', 'vaults.createDialog.nameHint', <Input value={values.name} onChange={set('name')} onBlur={blur('name')} autoComplete="off" spellCheck={false} autoFocus />)}
              {field('region', 'vaults.createDialog.region', 'vaults.createDialog.regionHint', <Input value={values.region} onChange={set('region')} onBlur={blur('region')} autoComplete="off" spellCheck={false} />)}
              {field('path', 'vaults.createDialog.path', 'vaults.createDialog.pathHint', <FolderInput value={values.path} onValue={(value) => set('path')(undefined, { value })} onBlur={blur('path')} />)}
              {field('passphrase', 'vaults.createDialog.passphrase', undefined, <Input type="password" value={values.passphrase} onChange={set('passphrase')} onBlur={blur('passphrase')} autoComplete="new-password" />)}
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
              {field('confirm', 'vaults.createDialog.confirm', undefined, <Input type="password" value={values.confirm} onChange={set('confirm')} onBlur={blur('confirm')} autoComplete="new-password" />)}
              <MessageBar intent="warning" layout="multiline">
                <MessageBarBody>
                  <MessageBarTitle>{t('vaults.createDialog.warningTitle')}</MessageBarTitle> {t('vaults.createDialog.warning')}
                </MessageBarBody>
              </MessageBar>
              {formError && <ErrorBar error={formError} />}
            </DialogContent>
            <DialogActions>
              <Button appearance="secondary" onClick={close} disabled={busy}>
                {t('common.cancel')}
              </Button>
              <Button appearance="primary" type="submit" disabled={busy} icon={busy ? <Spinner size="tiny" /> : undefined}>
                {busy ? t('vaults.createDialog.submitting') : t('vaults.createDialog.submit')}
              </Button>
            </DialogActions>
          </DialogBody>
        </form>
      </DialogSurface>
    </Dialog>
  );
}
