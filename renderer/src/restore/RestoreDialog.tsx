// The Restore wizard (W23): a recovery point's disks to a folder or the whole VM as a new VM,
// with the job's live progress (the frame is JobDialog's).
import { Field, Input, Radio, RadioGroup, Select, Text, makeStyles } from '@fluentui/react-components';
import { ArrowUndo20Regular } from '@fluentui/react-icons';
import { useState, type ReactElement } from 'react';
import { AbsolutePath, RestoredVmName, restoreFormats, type RestoreFormat, type RecoveryPoint, type Vm, type VmNameParts } from '../../../preload/contract.js';
import { call } from '../api.js';
import { useI18n } from '../i18n/index.js';
import { FolderInput } from '../shell/FolderInput.js';
import { JobDialog, StartedJobStatus, useStartedJob } from '../shell/JobDialog.js';
import { vmNames } from '../items/VmName.js';
import { useFieldVisibility } from '../shell/ui.js';

const useStyles = makeStyles({
  surface: { maxWidth: '600px', width: '100%' },
});

export function RestoreDialog({ vm, point, among = [], onClose }: { vm: Vm; point: RecoveryPoint | undefined; among?: readonly VmNameParts[]; onClose: () => void }): ReactElement {
  const { t, formatDateTime, formatBytes } = useI18n();
  const styles = useStyles();
  const started = useStartedJob();
  const { job } = started;
  const [mode, setMode] = useState<'disks' | 'newVm'>('disks');
  const [target, setTarget] = useState('');
  const [newName, setNewName] = useState(`${vm.name}-restored`);
  const [format, setFormat] = useState<RestoreFormat | ''>('');
  const fields = useFieldVisibility<'newName' | 'target'>();
  const pathOk = AbsolutePath.safeParse(target).success;
  const nameOk = mode === 'disks' || RestoredVmName.safeParse(newName).success;
  const nameError = fields.show('newName', nameOk ? undefined : t('restore.newNameInvalid'));
  const targetError = fields.show('target', pathOk ? undefined : t('validation.path.absolute'));

  const submit = async () => {
    fields.submit();
    if (!point || !pathOk || !nameOk) return;
    await started.start(() =>
      call('restorePoint', { vm: vm.id, pointId: point.id, mode, targetDir: target, ...(mode === 'newVm' ? { newName: newName.trim() } : {}), ...(format ? { format } : {}) }),
    );
  };

  return (
    <JobDialog
      open={point !== undefined}
      title={t('restore.title', { name: vmNames([vm], among) })}
      className={styles.surface}
      started={started}
      onClose={() => (fields.reset(), onClose())}
      submit={{ label: t('restore.submit'), icon: <ArrowUndo20Regular />, onSubmit: submit }}
    >
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
      {job && <StartedJobStatus job={job} label={t('restore.progress')} field />}
    </JobDialog>
  );
}
