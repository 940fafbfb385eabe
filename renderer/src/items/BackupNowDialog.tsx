import { Button, Checkbox, Dialog, DialogActions, DialogBody, DialogContent, DialogSurface, DialogTitle, Field, Spinner, Text } from '@fluentui/react-components';
import { Play20Regular } from '@fluentui/react-icons';
import { useState, type FormEvent, type ReactElement } from 'react';
import type { Vm, VmNameParts } from '../../../preload/contract.js';
import { call, useAction } from '../api.js';
import { dayKey } from '../i18n/dateTime.js';
import { useI18n } from '../i18n/index.js';
import { DateField, fieldProblemText, type FieldProblem } from '../shell/DateTimeFields.js';
import { useTrackJobs } from '../shell/notify.js';
import { ErrorBar } from '../shell/Page.js';
import { useDialogStyles } from './dialogStyles.js';
import { vmNames } from './VmName.js';

/** Backup Now for the chosen VMs, optionally kept until a date (W15). Open while `vms` is not empty; `among`: the VMs the page shows. */
export function BackupNowDialog({ vms, among = [], onClose }: { vms: Pick<Vm, 'id' | 'name' | 'cloudService'>[]; among?: readonly VmNameParts[]; onClose: () => void }): ReactElement {
  const { t } = useI18n();
  const styles = useDialogStyles();
  const trackJobs = useTrackJobs();
  const action = useAction();
  const [retainUntil, setRetainUntil] = useState('');
  const [fullRead, setFullRead] = useState(false);
  const [problem, setProblem] = useState<FieldProblem>();
  // Today and tomorrow as local days (YYYY-MM-DD): the first day a point may be kept until is tomorrow.
  const now = new Date();
  const today = dayKey(now);
  const tomorrow = dayKey(new Date(now.getFullYear(), now.getMonth(), now.getDate() + 1));
  const past = retainUntil !== '' && retainUntil <= today;
  const invalid = past || problem !== undefined;
  const message = problem === 'invalid' ? fieldProblemText(t, problem, 'date') : past || problem === 'outOfRange' ? t('backupNow.retainUntilPast') : undefined;
  const submit = async (ev: FormEvent) => {
    ev.preventDefault();
    if (invalid) return;
    await action.run(async () => {
      // The plain day: the engine keeps the point to the end of that day in its own time zone.
      trackJobs(await call('backupNow', { vms: vms.map((v) => v.id), ...(retainUntil ? { retainUntil } : {}), ...(fullRead ? { fullRead: true } : {}) }));
      onClose();
    });
  };
  return (
    <Dialog open={vms.length > 0} onOpenChange={(_, d) => !d.open && !action.busy && onClose()}>
      <DialogSurface className={styles.surface}>
        <form onSubmit={submit} noValidate>
          <DialogBody>
            <DialogTitle>{t('backupNow.title')}</DialogTitle>
            <DialogContent className={styles.form}>
              <Text>{t('backupNow.intro', { names: vmNames(vms, among) })}</Text>
              <Field
                label={t('backupNow.retainUntil')}
                hint={t('backupNow.retainUntilHint')}
                validationMessage={message}
                validationState={invalid ? 'error' : 'none'}
              >
                <DateField value={retainUntil} min={tomorrow} onProblem={setProblem} onChange={setRetainUntil} />
              </Field>
              <Field hint={t('backupNow.fullReadHint')}>
                <Checkbox label={t('backupNow.fullRead')} checked={fullRead} onChange={(_, d) => setFullRead(d.checked === true)} />
              </Field>
              {action.error && <ErrorBar error={action.error} />}
            </DialogContent>
            <DialogActions>
              <Button appearance="secondary" onClick={onClose} disabled={action.busy}>
                {t('common.cancel')}
              </Button>
              <Button appearance="primary" type="submit" disabled={action.busy || invalid} icon={action.busy ? <Spinner size="tiny" /> : <Play20Regular />}>
                {t('backupNow.submit')}
              </Button>
            </DialogActions>
          </DialogBody>
        </form>
      </DialogSurface>
    </Dialog>
  );
}
