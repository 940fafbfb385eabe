// The Restore wizard (W23): a recovery point's disks to a folder or the whole VM as a new VM,
// with the job's live progress.
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
  Link,
  ProgressBar,
  Radio,
  RadioGroup,
  Select,
  Spinner,
  Text,
  makeStyles,
  tokens,
} from '@fluentui/react-components';
import { ArrowUndo20Regular } from '@fluentui/react-icons';
import { useState, type FormEvent, type ReactElement } from 'react';
import { AbsolutePath, RestoredVmName, finishedStatuses, restoreFormats, type Job, type RestoreFormat, type RecoveryPoint, type Vm, type VmNameParts } from '../../../preload/contract.js';
import { call, catchUpStartedJob, useAction, useEngineEvent } from '../api.js';
import { useI18n } from '../i18n/index.js';
import { hrefOf } from '../routes.js';
import { FolderInput } from '../shell/FolderInput.js';
import { JobStatusBadge } from '../shell/labels.js';
import { useTrackJobs } from '../shell/notify.js';
import { vmNames } from '../items/VmName.js';
import { ErrorBar } from '../shell/Page.js';
import { useFieldVisibility } from '../shell/ui.js';

const useStyles = makeStyles({
  form: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalM },
  surface: { maxWidth: '600px', width: '100%' },
  badges: { display: 'flex', gap: tokens.spacingHorizontalXS, flexWrap: 'wrap' },
});

export function RestoreDialog({ vm, point, among = [], onClose }: { vm: Vm; point: RecoveryPoint | undefined; among?: readonly VmNameParts[]; onClose: () => void }): ReactElement {
  const { t, formatDateTime, formatBytes, jobText } = useI18n();
  const styles = useStyles();
  const trackJobs = useTrackJobs();
  const [mode, setMode] = useState<'disks' | 'newVm'>('disks');
  const [target, setTarget] = useState('');
  const [newName, setNewName] = useState(`${vm.name}-restored`);
  const [format, setFormat] = useState<RestoreFormat | ''>('');
  const fields = useFieldVisibility<'newName' | 'target'>();
  const action = useAction();
  const [job, setJob] = useState<Job>();
  const pathOk = AbsolutePath.safeParse(target).success;
  const nameOk = mode === 'disks' || RestoredVmName.safeParse(newName).success;
  const nameError = fields.show('newName', nameOk ? undefined : t('restore.newNameInvalid'));
  const targetError = fields.show('target', pathOk ? undefined : t('validation.path.absolute'));

  useEngineEvent('jobUpdated', (j) => {
    if (job && j.id === job.id) setJob(j);
  });

  const close = () => {
    if (action.busy) return;
    setJob(undefined);
    action.clearError();
    fields.reset();
    onClose();
  };
  const submit = async (ev: FormEvent) => {
    ev.preventDefault();
    fields.submit();
    if (!point || !pathOk || !nameOk) return;
    await action.run(async () => {
      const j = await call('restorePoint', { vm: vm.id, pointId: point.id, mode, targetDir: target, ...(mode === 'newVm' ? { newName: newName.trim() } : {}), ...(format ? { format } : {}) });
      trackJobs([j]);
      setJob(j);
      await catchUpStartedJob(j, setJob);
    });
  };
  const done = job && finishedStatuses.includes(job.status);

  return (
    <Dialog open={point !== undefined} onOpenChange={(_, d) => !d.open && close()}>
      <DialogSurface className={styles.surface}>
        <form onSubmit={submit} noValidate>
          <DialogBody>
            <DialogTitle>{t('restore.title', { name: vmNames([vm], among) })}</DialogTitle>
            <DialogContent className={styles.form}>
              {point && <Text>{t('restore.point', { created: formatDateTime(point.created), size: formatBytes(point.logicalBytes) })}</Text>}
              {!job && (
                <>
                  <Field label={t('restore.mode')}>
                    <RadioGroup value={mode} onChange={(_, d) => setMode(d.value as 'disks' | 'newVm')}>
                      <Radio value="disks" label={t('restore.mode.disks')} />
                      <Radio value="newVm" label={t('restore.mode.newVm')} />
                    </RadioGroup>
                  </Field>
                  {mode === 'newVm' && (
                    <Field label={t('restore.newName')} required validationMessage={nameError} validationState={nameError ? 'error' : 'none'}>
                      <Input
                        value={newName}
                        onChange={(_, d) => {
                          setNewName(d.value);
                          fields.edit('newName');
                        }}
                        onBlur={fields.blur('newName')}
                        autoComplete="off"
                        spellCheck={false}
                      />
                    </Field>
                  )}
                  <Field
                    label={t('restore.target')}
                    hint={t('restore.targetHint')}
                    required
                    validationMessage={targetError}
                    validationState={targetError ? 'error' : 'none'}
                  >
                    <FolderInput
                      value={target}
                      onValue={(v) => {
                        setTarget(v);
                        fields.edit('target');
                      }}
                      onBlur={fields.blur('target')}
                    />
                  </Field>
                  <Field label={t('restore.format')} hint={t('restore.formatHint')}>
                    <Select value={format} onChange={(_, d) => setFormat(d.value as RestoreFormat | '')}>
                      <option value="">{t('restore.format.original')}</option>
                      {restoreFormats.map((f) => (
                        <option key={f} value={f}>
                          {f}
                        </option>
                      ))}
                    </Select>
                  </Field>
                </>
              )}
              {job && (
                <div aria-live="polite">
                  <Field
                    label={t('restore.progress')}
                    validationMessage={t('jobs.progressText', { percent: Math.round(job.progress * 100), done: formatBytes(job.bytesDone), total: formatBytes(job.bytesTotal) })}
                    validationState="none"
                  >
                    <ProgressBar value={job.progress} max={1} thickness="large" color={job.status === 'Failed' ? 'error' : done ? 'success' : 'brand'} />
                  </Field>
                  <div className={styles.badges}>
                    <JobStatusBadge status={job.status} />
                    <Link href={hrefOf('jobs', { id: String(job.id) })}>{t('notify.viewJob')}</Link>
                  </div>
                  {job.summary && <Text block>{jobText(job.summary)}</Text>}
                </div>
              )}
              {job?.error && <ErrorBar error={job.error} />}
              {action.error && <ErrorBar error={action.error} />}
            </DialogContent>
            <DialogActions>
              <Button appearance={job ? 'primary' : 'secondary'} onClick={close} disabled={action.busy}>
                {job ? t('common.close') : t('common.cancel')}
              </Button>
              {!job && (
                <Button appearance="primary" type="submit" disabled={action.busy} icon={action.busy ? <Spinner size="tiny" /> : <ArrowUndo20Regular />}>
                  {t('restore.submit')}
                </Button>
              )}
            </DialogActions>
          </DialogBody>
        </form>
      </DialogSurface>
    </Dialog>
  );
}
