// "Associate with VM": joins a Backup data only item with the VM a source of this install lists
// (the same VM), so its points are that VM's again and its protection can continue.
import { Button, Dialog, DialogActions, DialogBody, DialogContent, DialogSurface, DialogTitle, Field, Radio, RadioGroup, Spinner, Text } from '@fluentui/react-components';
import { Link20Regular } from '@fluentui/react-icons';
import { useState, type FormEvent, type ReactElement } from 'react';
import { vmLabel, type Vm } from '../../../preload/contract.js';
import { call, useAction, useApi } from '../api.js';
import { useI18n } from '../i18n/index.js';
import { useNotify } from '../shell/notify.js';
import { ErrorBar } from '../shell/Page.js';
import { useDialogStyles } from './dialogStyles.js';

export function AssociateVmDialog({ item, onClose }: { item: Vm | undefined; onClose: () => void }): ReactElement {
  const { t } = useI18n();
  const styles = useDialogStyles();
  const notify = useNotify();
  const action = useAction();
  const [chosen, setChosen] = useState('');
  // VMs a source lists, registered nowhere, in the item's region: the ones it can become.
  const vms = useApi('listVms', item ? { registered: false } : undefined);
  const candidates = (vms.data ?? []).filter((v) => item && v.region === item.region && !v.missing && v.sourceName);
  const close = () => {
    if (action.busy) return;
    setChosen('');
    action.clearError();
    onClose();
  };
  const submit = async (ev: FormEvent) => {
    ev.preventDefault();
    if (!item || !chosen) return;
    const vm = await action.run(() => call('associateVm', { vm: item.id, with: chosen }));
    if (!vm) return;
    notify('success', t('associate.done', { name: vmLabel(vm) }));
    setChosen('');
    onClose();
  };
  return (
    <Dialog open={item !== undefined} onOpenChange={(_, d) => !d.open && close()}>
      <DialogSurface className={styles.surface}>
        <form onSubmit={submit} noValidate>
          <DialogBody>
            <DialogTitle>{t('associate.title', { name: item ? vmLabel(item) : '' })}</DialogTitle>
            <DialogContent className={styles.form}>
              <Text>{t('associate.intro')}</Text>
              {vms.loading && !vms.data && <Spinner size="small" label={t('common.loading')} />}
              {vms.data && candidates.length === 0 && <Text>{t('associate.none', { region: item?.region ?? '' })}</Text>}
              {candidates.length > 0 && (
                <Field label={t('associate.vm')} required>
                  <RadioGroup value={chosen} onChange={(_, d) => setChosen(d.value)}>
                    {candidates.map((v) => (
                      <Radio key={v.id} value={v.id} label={t('associate.option', { name: vmLabel(v), source: v.sourceName })} />
                    ))}
                  </RadioGroup>
                </Field>
              )}
              {vms.error && <ErrorBar error={vms.error} onRetry={vms.reload} />}
              {action.error && <ErrorBar error={action.error} />}
            </DialogContent>
            <DialogActions>
              <Button appearance="secondary" onClick={close} disabled={action.busy}>
                {t('common.cancel')}
              </Button>
              <Button appearance="primary" type="submit" disabled={action.busy || !chosen} icon={action.busy ? <Spinner size="tiny" /> : <Link20Regular />}>
                {t('associate.submit')}
              </Button>
            </DialogActions>
          </DialogBody>
        </form>
      </DialogSurface>
    </Dialog>
  );
}
