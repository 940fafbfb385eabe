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
  MessageBarBody,
  Spinner,
  Text,
  makeStyles,
  tokens,
} from '@fluentui/react-components';
import { useState, type FormEvent, type ReactElement } from 'react';
import type { ResultOf, VaultSummary } from '../../../preload/contract.js';
import { call, useAction } from '../api.js';
import { useT } from '../i18n/index.js';
import { ErrorBar } from '../shell/Page.js';

const useStyles = makeStyles({
  content: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalM },
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
  const { busy, error } = action;
  const name = vault?.name ?? '';
  const matches = typed === name && name !== '';

  const close = () => {
    if (busy) return;
    setTyped('');
    setDeleteData(false);
    action.clearError();
    onClose();
  };

  const submit = async (ev: FormEvent) => {
    ev.preventDefault();
    if (!matches) return;
    const result = await action.run(() => call('deleteVault', { name, deleteData }));
    if (!result) return;
    setTyped('');
    setDeleteData(false);
    onDeleted(result);
  };

  return (
    <Dialog open={vault !== undefined} onOpenChange={(_, data) => !data.open && close()} modalType="alert">
      <DialogSurface>
        <form onSubmit={submit} noValidate>
          <DialogBody>
            <DialogTitle>{t('vaults.deleteDialog.title', { name })}</DialogTitle>
            <DialogContent className={styles.content}>
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
              <Field
                label={t('vaults.deleteDialog.typeName', { name })}
                validationMessage={typed !== '' && !matches ? t('vaults.deleteDialog.typeNameMismatch') : undefined}
                validationState={typed !== '' && !matches ? 'error' : 'none'}
              >
                <Input value={typed} onChange={(_, data) => setTyped(data.value)} autoComplete="off" spellCheck={false} autoFocus />
              </Field>
              {error && <ErrorBar error={error} />}
            </DialogContent>
            <DialogActions>
              <Button appearance="secondary" onClick={close} disabled={busy}>
                {t('common.cancel')}
              </Button>
              <Button type="submit" appearance="primary" className={matches && !busy ? styles.danger : undefined} disabled={!matches || busy} icon={busy ? <Spinner size="tiny" /> : undefined}>
                {busy ? t('vaults.deleteDialog.submitting') : t('vaults.deleteDialog.submit')}
              </Button>
            </DialogActions>
          </DialogBody>
        </form>
      </DialogSurface>
    </Dialog>
  );
}
