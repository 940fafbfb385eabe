import { Button, Dialog, DialogActions, DialogBody, DialogContent, DialogSurface, DialogTitle, Field, Input, MessageBar, MessageBarBody, Radio, RadioGroup, Spinner } from '@fluentui/react-components';
import { Stop20Regular } from '@fluentui/react-icons';
import { useState, type FormEvent, type ReactElement } from 'react';
import { isActiveProtection, type Vm, type VmNameParts } from '../../../preload/contract.js';
import { call, useAction } from '../api.js';
import { useI18n } from '../i18n/index.js';
import { useTrackJobs } from '../shell/notify.js';
import { ErrorBar } from '../shell/Page.js';
import { useDialogStyles } from './dialogStyles.js';
import { vmNames } from './VmName.js';

type Mode = 'keep' | 'delete';

/** Stop protection, keeping the recovery points or deleting them after the VM's name is typed back (W16). */
export function StopProtectionDialog({
  vm,
  among = [],
  onClose,
}: {
  vm: Pick<Vm, 'id' | 'name' | 'cloudService' | 'protectionState'> | undefined;
  /** The VMs the page shows: a name they repeat is given with its cloud service. */
  among?: readonly VmNameParts[];
  onClose: () => void;
}): ReactElement {
  const { t } = useI18n();
  const styles = useDialogStyles();
  const trackJobs = useTrackJobs();
  const action = useAction();
  const [chosen, setMode] = useState<Mode>('keep');
  const [typed, setTyped] = useState('');
  const name = vm?.name ?? '';
  // A stopped or Backup data only item has nothing to stop: only its data can go.
  const canKeep = vm === undefined || isActiveProtection(vm.protectionState);
  const mode: Mode = canKeep ? chosen : 'delete';
  const ok = mode === 'keep' || typed === name;
  const reset = () => {
    setMode('keep');
    setTyped('');
    action.clearError();
  };
  const close = () => {
    if (action.busy) return;
    reset();
    onClose();
  };
  const submit = async (ev: FormEvent) => {
    ev.preventDefault();
    if (!vm || !ok) return;
    const job = await action.run(() => call('stopProtection', { vm: vm.id, deleteData: mode === 'delete', ...(mode === 'delete' ? { confirmName: typed } : {}) }));
    if (!job) return;
    trackJobs([job]);
    reset();
    onClose();
  };
  return (
    <Dialog open={vm !== undefined} onOpenChange={(_, d) => !d.open && close()} modalType="alert">
      <DialogSurface className={styles.surface}>
        <form onSubmit={submit} noValidate>
          <DialogBody>
            <DialogTitle>{t('stop.title', { name: vm ? vmNames([vm], among) : '' })}</DialogTitle>
            <DialogContent className={styles.form}>
              <RadioGroup value={mode} onChange={(_, d) => setMode(d.value === 'delete' ? 'delete' : 'keep')} aria-label={t('stop.choice')}>
                <Radio value="keep" label={t('stop.keep')} disabled={!canKeep} />
                <Radio value="delete" label={t('stop.delete')} />
              </RadioGroup>
              {mode === 'delete' && (
                <>
                  <MessageBar intent="warning" layout="multiline">
                    <MessageBarBody>{t('stop.deleteWarning')}</MessageBarBody>
                  </MessageBar>
                  <Field label={t('stop.typeName', { name })} validationMessage={typed !== '' && typed !== name ? t('vaults.deleteDialog.typeNameMismatch') : undefined} validationState={typed !== '' && typed !== name ? 'error' : 'none'}>
                    <Input value={typed} onChange={(_, d) => setTyped(d.value)} autoComplete="off" spellCheck={false} />
                  </Field>
                </>
              )}
              {action.error && <ErrorBar error={action.error} />}
            </DialogContent>
            <DialogActions>
              <Button appearance="secondary" onClick={close} disabled={action.busy}>
                {t('common.cancel')}
              </Button>
              <Button appearance="primary" type="submit" disabled={action.busy || !ok} icon={action.busy ? <Spinner size="tiny" /> : <Stop20Regular />}>
                {mode === 'delete' ? t('stop.submitDelete') : t('stop.submit')}
              </Button>
            </DialogActions>
          </DialogBody>
        </form>
      </DialogSurface>
    </Dialog>
  );
}
