import { Checkbox, Input, MessageBar, MessageBarBody, Text, makeStyles, tokens } from '@fluentui/react-components';
import { useState, type ReactElement } from 'react';
import type { ResultOf, VaultSummary } from '../../../preload/contract.js';
import { call, useAction } from '../api.js';
import { useT } from '../i18n/index.js';
import { CheckedField, FormDialog } from '../shell/FormDialog.js';

const useStyles = makeStyles({
  danger: {
    backgroundColor: tokens.colorPaletteRedBackground3,
    color: tokens.colorNeutralForegroundOnBrand,
    ':hover': { backgroundColor: tokens.colorPaletteRedForeground1, color: tokens.colorNeutralForegroundOnBrand },
    ':hover:active': { backgroundColor: tokens.colorPaletteRedForeground1, color: tokens.colorNeutralForegroundOnBrand },
  },
});

/** Deleting needs the vault name typed exactly; deleting its data folder is a separate, explicit choice. */
export function DeleteVaultDialog({
  vault,
  onClose,
  onDeleted,
}: {
  vault: VaultSummary | undefined;
  onClose: () => void;
  onDeleted: (result: ResultOf<'deleteVault'>) => void;
}): ReactElement {
  const t = useT();
  const styles = useStyles();
  const [typed, setTyped] = useState('');
  const [deleteData, setDeleteData] = useState(false);
  const action = useAction();
  const { busy } = action;
  const name = vault?.name ?? '';
  const matches = typed === name && name !== '';

  const close = () => {
    setTyped('');
    setDeleteData(false);
    action.clearError();
    onClose();
  };

  const submit = async () => {
    if (!matches) return;
    const result = await action.run(() => call('deleteVault', { name, deleteData }));
    if (!result) return;
    setTyped('');
    setDeleteData(false);
    onDeleted(result);
  };

  return (
    <FormDialog
      open={vault !== undefined}
      title={t('vaults.deleteDialog.title', { name })}
      modalType="alert"
      action={action}
      onClose={close}
      submit={{ label: busy ? t('vaults.deleteDialog.submitting') : t('vaults.deleteDialog.submit'), disabled: !matches, className: matches && !busy ? styles.danger : undefined, onSubmit: submit }}
    >
      <Text>{t('vaults.deleteDialog.body')}</Text>
      <Text>{t('vaults.deleteDialog.keepData')}</Text>
      <Checkbox
        checked={deleteData}
        onChange={(_, data) => setDeleteData(data.checked === true)}
        label={t('vaults.deleteDialog.deleteData', { location: vault?.location ?? '' })}
      />
      {deleteData && (
        <MessageBar intent="warning">
          <MessageBarBody>{t('vaults.deleteDialog.deleteDataWarning')}</MessageBarBody>
        </MessageBar>
      )}
      <CheckedField label={t('vaults.deleteDialog.typeName', { name })} error={typed !== '' && !matches ? t('vaults.deleteDialog.typeNameMismatch') : undefined}>
        <Input value={typed} onChange={(_, data) => setTyped(data.value)} autoComplete="off" spellCheck={false} autoFocus />
      </CheckedField>
    </FormDialog>
  );
}
