import { Button, Dialog, DialogActions, DialogBody, DialogContent, DialogSurface, DialogTitle, Dropdown, Field, Option } from '@fluentui/react-components';
import { useState, type FormEvent, type ReactElement } from 'react';
import type { Policy, Vm, VmNameParts } from '../../../preload/contract.js';
import { call, useAction } from '../api.js';
import { useI18n } from '../i18n/index.js';
import { useTrackJobs } from '../shell/notify.js';
import { ErrorBar } from '../shell/Page.js';
import { useDialogStyles } from './dialogStyles.js';
import { vmNames } from './VmName.js';

/** Moves a protected VM to another policy of its vault. */
export function ChangePolicyDialog({
  vm,
  policies,
  among = [],
  onClose,
}: {
  vm: (Pick<Vm, 'id' | 'name' | 'cloudService'> & { policy: string | null }) | undefined;
  policies: Policy[];
  /** The VMs the page shows: a name they repeat is given with its cloud service. */
  among?: readonly VmNameParts[];
  onClose: () => void;
}): ReactElement {
  const { t } = useI18n();
  const styles = useDialogStyles();
  const trackJobs = useTrackJobs();
  const action = useAction();
  const [choice, setChoice] = useState('');
  const current = vm?.policy ?? '';
  const value = choice || current;
  const submit = async (ev: FormEvent) => {
    ev.preventDefault();
    if (!vm || !value) return;
    const job = await action.run(() => call('changePolicy', { vm: vm.id, policy: value }));
    if (!job) return;
    trackJobs([job]);
    setChoice('');
    onClose();
  };
  return (
    <Dialog open={vm !== undefined} onOpenChange={(_, d) => !d.open && !action.busy && onClose()}>
      <DialogSurface className={styles.surface}>
        <form onSubmit={submit} noValidate>
          <DialogBody>
            <DialogTitle>{t('changePolicy.title', { name: vm ? vmNames([vm], among) : '' })}</DialogTitle>
            <DialogContent className={styles.form}>
              <Field label={t('protect.policy')}>
                <Dropdown value={value} selectedOptions={value ? [value] : []} onOptionSelect={(_, d) => d.optionValue && setChoice(d.optionValue)}>
                  {policies.map((p) => (
                    <Option key={p.id} value={p.name}>
                      {p.name}
                    </Option>
                  ))}
                </Dropdown>
              </Field>
              {action.error && <ErrorBar error={action.error} />}
            </DialogContent>
            <DialogActions>
              <Button appearance="secondary" onClick={onClose} disabled={action.busy}>
                {t('common.cancel')}
              </Button>
              <Button appearance="primary" type="submit" disabled={action.busy || !value || value === current}>
                {t('changePolicy.submit')}
              </Button>
            </DialogActions>
          </DialogBody>
        </form>
      </DialogSurface>
    </Dialog>
  );
}
