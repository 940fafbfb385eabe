// What the Create and Connect vault dialogs share: the form state with its inline validation, and
// the storage choice (Folder / Azure Blob / S3-compatible) with the fields each kind needs.
import { Field, Input, Radio, RadioGroup, Text, makeStyles, tokens } from '@fluentui/react-components';
import { useState, type ReactElement } from 'react';
import type { ApiError } from '../../../preload/contract.js';
import { useI18n, type MessageKey } from '../i18n/index.js';
import { FolderInput } from '../shell/FolderInput.js';
import { CheckedField } from '../shell/FormDialog.js';
import { useFieldVisibility } from '../shell/ui.js';
import {
  emptyValues,
  fieldErrorsFromApi,
  validateAll,
  validateField,
  type DialogMode,
  type FieldError,
  type FieldErrors,
  type StorageKind,
  type VaultField,
  type VaultValues,
} from './validation.js';

const useStyles = makeStyles({
  note: { color: tokens.colorNeutralForeground2 },
});

export interface VaultForm {
  values: VaultValues;
  setValue(field: Exclude<VaultField, 'remember'>, value: string): void;
  setKind(kind: StorageKind): void;
  /** The "I understand the risk" of a weak passphrase. */
  setAcceptWeak(accepted: boolean): void;
  blur(field: VaultField): () => void;
  /** The message shown beside a field: the engine's (after a submit) or the local check's (once edited and left, or submitted). */
  errorOf(field: VaultField): string | undefined;
  /** Marks every field touched; true when the values pass the local checks. */
  check(): boolean;
  /** Places an engine error beside its field; false when it belongs to no field (show it as a bar). */
  placeError(error: ApiError): boolean;
  reset(): void;
}

export function useVaultForm(mode: DialogMode): VaultForm {
  const { t, errorText } = useI18n();
  const [values, setValues] = useState<VaultValues>(emptyValues);
  const visibility = useFieldVisibility<VaultField>();
  const [serverErrors, setServerErrors] = useState<FieldErrors>({});

  const message = (e: FieldError | undefined): string | undefined => {
    if (!e) return undefined;
    if ('key' in e) return t(e.key);
    if ('text' in e) return e.text;
    const text = errorText(e.error);
    return `${text.message} ${t('common.remedy', { remedy: text.remedy })}`;
  };

  return {
    values,
    setValue: (field, value) => {
      setValues((v) => ({ ...v, [field]: value }));
      visibility.edit(field);
      setServerErrors((e) => ({ ...e, [field]: undefined }));
    },
    setAcceptWeak: (accepted) => {
      setValues((v) => ({ ...v, acceptWeak: accepted }));
      setServerErrors((e) => ({ ...e, passphrase: undefined }));
    },
    setKind: (kind) => {
      setValues((v) => ({ ...v, kind }));
      setServerErrors({});
    },
    blur: visibility.blur,
    errorOf: (field) => message(serverErrors[field]) ?? message(visibility.show(field, validateField(field, values, mode))),
    check: () => {
      visibility.submit();
      return Object.keys(validateAll(values, mode)).length === 0;
    },
    placeError: (error) => {
      const fields = fieldErrorsFromApi(error, values, mode);
      if (!fields) return false;
      setServerErrors(fields);
      return true;
    },
    reset: () => {
      setValues(emptyValues);
      visibility.reset();
      setServerErrors({});
    },
  };
}

/** A labelled field with its validation message. */
export function FormField({ form, name, label, hint, required = true, children }: { form: VaultForm; name: VaultField; label: MessageKey; hint?: MessageKey; required?: boolean; children: ReactElement }): ReactElement {
  const { t } = useI18n();
  const error = form.errorOf(name);
  return (
    <CheckedField label={t(label)} required={required} hint={hint ? t(hint) : undefined} error={error}>
      {children}
    </CheckedField>
  );
}

const kindLabel: Record<StorageKind, MessageKey> = {
  folder: 'vaults.storage.folder',
  azure: 'vaults.storage.azure',
  s3: 'vaults.storage.s3',
};

/** The storage choice and the fields of the chosen kind. Keys are never typed here: they come from the environment or a file. */
export function StorageFields({ form, mode }: { form: VaultForm; mode: DialogMode }): ReactElement {
  const { t } = useI18n();
  const styles = useStyles();
  const { values } = form;
  const input = (field: 'azure' | 's3' | 'endpoint' | 's3Region', placeholder?: string) => (
    <Input value={values[field]} onChange={(_, d) => form.setValue(field, d.value)} onBlur={form.blur(field)} autoComplete="off" spellCheck={false} placeholder={placeholder} />
  );
  return (
    <>
      <Field label={t('vaults.storage.kind')}>
        <RadioGroup value={values.kind} onChange={(_, d) => form.setKind(d.value as StorageKind)} layout="horizontal">
          {(['folder', 'azure', 's3'] as const).map((k) => (
            <Radio key={k} value={k} label={t(kindLabel[k])} />
          ))}
        </RadioGroup>
      </Field>
      {values.kind === 'folder' && (
        <FormField form={form} name="path" label="vaults.createDialog.path" hint={mode === 'create' ? 'vaults.createDialog.pathHint' : 'vaults.connectDialog.pathHint'}>
          <FolderInput value={values.path} onValue={(value) => form.setValue('path', value)} onBlur={form.blur('path')} />
        </FormField>
      )}
      {values.kind === 'azure' && (
        <FormField form={form} name="azure" label="vaults.storage.azureUrl" hint="vaults.storage.azureUrlHint">
          {input('azure', 'https://ACCOUNT.blob.core.windows.net/CONTAINER')}
        </FormField>
      )}
      {values.kind === 's3' && (
        <>
          <FormField form={form} name="s3" label="vaults.storage.s3Url" hint="vaults.storage.s3UrlHint">
            {input('s3', 's3://BUCKET/PREFIX')}
          </FormField>
          <FormField form={form} name="endpoint" label="vaults.storage.endpoint" hint="vaults.storage.endpointHint" required={false}>
            {input('endpoint', 'https://s3.example.com')}
          </FormField>
          <FormField form={form} name="s3Region" label="vaults.storage.s3Region" hint="vaults.storage.s3RegionHint" required={false}>
            {input('s3Region', 'eu-west-1')}
          </FormField>
        </>
      )}
      {values.kind !== 'folder' && (
        <>
          <FormField form={form} name="credentialsFile" label="vaults.storage.credentialsFile" hint="vaults.storage.credentialsFileHint" required={false}>
            <Input value={values.credentialsFile} onChange={(_, d) => form.setValue('credentialsFile', d.value)} onBlur={form.blur('credentialsFile')} autoComplete="off" spellCheck={false} />
          </FormField>
          <Text size={200} className={styles.note}>
            {t(values.kind === 'azure' ? 'vaults.storage.keysAzure' : 'vaults.storage.keysS3')}
          </Text>
        </>
      )}
    </>
  );
}
