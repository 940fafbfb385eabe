// The Restore wizard (W23): a recovery point's disks to a folder or the whole VM as a new VM,
// with the job's live progress (the frame is PointJobDialog's).
import { Field, Input, Radio, RadioGroup, Select, makeStyles } from '@fluentui/react-components';
import { ArrowUndo20Regular } from '@fluentui/react-icons';
import { useState, type ReactElement } from 'react';
import { AbsolutePath, RestoredVmName, restoreFormats, type RestoreFormat, type RecoveryPoint, type Vm, type VmNameParts } from '../../../preload/contract.js';
import { call } from '../api.js';
import { useI18n } from '../i18n/index.js';
import { FolderInput } from '../shell/FolderInput.js';
import { CheckedField } from '../shell/FormDialog.js';
import { PointJobDialog, useStartedJob } from '../shell/JobDialog.js';
import { vmNames } from '../items/VmName.js';
import { useFieldVisibility } from '../shell/ui.js';

const useStyles = makeStyles({
  surface: { maxWidth: '600px', width: '100%' },
});

export function RestoreDialog({ vm, point, among = [], onClose }: { vm: Vm; point: RecoveryPoint | undefined; among?: readonly VmNameParts[]; onClose: () => void }): ReactElement {
  const { t } = useI18n();
  const styles = useStyles();
  const started = useStartedJob();
  const [mode, setMode] = useState<'disks' | 'newVm'>('disks');
  const [target, setTarget] = useState('');
  const [newName, setNewName] = useState(`${vm.name}-restored`);
  const [format, setFormat] = useState<RestoreFormat | ''>('');
  const fields = useFieldVisibility<'newName' | 'target'>();
  const pathOk = AbsolutePath.safeParse(target).success;
  const nameOk = mode === 'disks' || RestoredVmName.safeParse(newName).success;

  return (
    <PointJobDialog
      point={point}
      title={t('restore.title', { name: vmNames([vm], among) })}
      className={styles.surface}
      started={started}
      fields={fields}
      valid={pathOk && nameOk}
      submitLabel={t('restore.submit')}
      submitIcon={<ArrowUndo20Regular />}
      begin={(p) => call('restorePoint', { vm: vm.id, pointId: p.id, mode, targetDir: target, ...(mode === 'newVm' ? { newName: newName.trim() } : {}), ...(format ? { format } : {}) })}
      progressLabel={t('restore.progress')}
      onClose={onClose}
    >
      <Field label={t('restore.mode')}>
        <RadioGroup value={mode} onChange={(_, d) => setMode(d.value as 'disks' | 'newVm')}>
          <Radio value="disks" label={t('restore.mode.disks')} />
          <Radio value="newVm" label={t('restore.mode.newVm')} />
        </RadioGroup>
      </Field>
      {mode === 'newVm' && (
        <CheckedField label={t('restore.newName')} required error={fields.show('newName', nameOk ? undefined : t('restore.newNameInvalid'))}>
          <Input value={newName} onChange={(_, d) => (setNewName(d.value), fields.edit('newName'))} onBlur={fields.blur('newName')} autoComplete="off" spellCheck={false} />
        </CheckedField>
      )}
      <CheckedField label={t('restore.target')} hint={t('restore.targetHint')} required error={fields.show('target', pathOk ? undefined : t('validation.path.absolute'))}>
        <FolderInput value={target} onValue={(v) => (setTarget(v), fields.edit('target'))} onBlur={fields.blur('target')} />
      </CheckedField>
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
    </PointJobDialog>
  );
}
