import { Button, Dialog, DialogActions, DialogBody, DialogContent, DialogSurface, DialogTitle, Spinner, Text, makeStyles } from '@fluentui/react-components';
import { useState, type ReactElement } from 'react';
import type { Vm } from '../../../preload/contract.js';
import { call, useAction } from '../api.js';
import { useI18n } from '../i18n/index.js';
import { useTrackJobs } from '../shell/notify.js';
import { ErrorBar } from '../shell/Page.js';
import { usePanelStyles } from '../shell/ui.js';
import { VmPickTable } from './VmPickTable.js';
import { vmNames } from './VmName.js';

const useStyles = makeStyles({
  surface: { maxWidth: '860px', width: '100%' },
});

/** Registers the chosen discovered VMs with the vault (W4). */
export function RegisterDialog({
  vault,
  candidates,
  open,
  onClose,
}: {
  vault: string;
  candidates: Vm[];
  open: boolean;
  onClose: () => void;
}): ReactElement {
  const { t } = useI18n();
  const styles = useStyles();
  const panel = usePanelStyles();
  const trackJobs = useTrackJobs();
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const action = useAction();
  const { busy, error } = action;

  const close = () => {
    if (busy) return;
    setSelected(new Set());
    action.clearError();
    onClose();
  };
  const submit = async () => {
    const jobs = await action.run(() => call('registerVms', { vault, vms: [...selected] }));
    if (!jobs) return;
    trackJobs(jobs);
    setSelected(new Set());
    onClose();
  };

  return (
    <Dialog open={open} onOpenChange={(_, d) => !d.open && close()}>
      <DialogSurface className={styles.surface}>
        <DialogBody>
          <DialogTitle>{t('register.title', { vault })}</DialogTitle>
          <DialogContent className={panel.padded}>
            <Text>{t('register.intro')}</Text>
            <VmPickTable label={t('register.tableLabel')} vms={candidates} selected={selected} onChange={setSelected} showDisks />
            {selected.size > 0 && <Text>{t('register.chosen', { names: vmNames(candidates.filter((v) => selected.has(v.id)), candidates) })}</Text>}
            {error && <ErrorBar error={error} />}
          </DialogContent>
          <DialogActions>
            <Text className={panel.muted} aria-live="polite">
              {t('register.selected', { count: selected.size })}
            </Text>
            <Button appearance="secondary" onClick={close} disabled={busy}>
              {t('common.cancel')}
            </Button>
            <Button appearance="primary" onClick={() => void submit()} disabled={busy || selected.size === 0} icon={busy ? <Spinner size="tiny" /> : undefined}>
              {t('register.submit')}
            </Button>
          </DialogActions>
        </DialogBody>
      </DialogSurface>
    </Dialog>
  );
}
