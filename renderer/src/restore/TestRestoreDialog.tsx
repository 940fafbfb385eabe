// Test restore of a recovery point: the point booted as a temporary VM on an isolated network
// until it answers, then removed. Shows the job's progress, its result and, when the VM did not
// answer, the last lines of its serial console.
import { Field, Input, Text, makeStyles, tokens } from '@fluentui/react-components';
import { HeartPulse20Regular } from '@fluentui/react-icons';
import { useState, type ReactElement } from 'react';
import { methods, type Job, type RecoveryPoint, type Vm, type VmNameParts } from '../../../preload/contract.js';
import { call } from '../api.js';
import { useI18n } from '../i18n/index.js';
import { vmNames } from '../items/VmName.js';
import { CheckedField } from '../shell/FormDialog.js';
import { PointJobDialog, useStartedJob } from '../shell/JobDialog.js';
import { useFieldVisibility } from '../shell/ui.js';

const useStyles = makeStyles({
  surface: { maxWidth: '640px', width: '100%' },
  serial: {
    fontFamily: tokens.fontFamilyMonospace,
    fontSize: tokens.fontSizeBase200,
    backgroundColor: tokens.colorNeutralBackground3,
    color: tokens.colorNeutralForeground1,
    padding: tokens.spacingHorizontalS,
    borderRadius: tokens.borderRadiusMedium,
    maxHeight: '240px',
    overflow: 'auto',
    whiteSpace: 'pre-wrap',
    margin: 0,
  },
});

const argsSchema = methods.testRestore.args;

/** The serial console lines a failed or passed test reported (details.serialTail). */
function serialLines(job: Job | undefined): string[] {
  const from = job?.details.serialTail;
  return Array.isArray(from) ? from.filter((l): l is string => typeof l === 'string') : [];
}

export function TestRestoreDialog({ vm, point, among = [], onClose }: { vm: Vm; point: RecoveryPoint | undefined; among?: readonly VmNameParts[]; onClose: () => void }): ReactElement {
  const { t } = useI18n();
  const styles = useStyles();
  const started = useStartedJob();
  const [uri, setUri] = useState('qemu:///system');
  const [heartbeat, setHeartbeat] = useState('login:');
  const [timeout, setTimeoutText] = useState('600');
  const fields = useFieldVisibility<'uri' | 'heartbeat' | 'timeout'>();
  const parsed = argsSchema.safeParse({ vm: vm.id, pointId: point?.id ?? 'x', uri, heartbeat, timeoutSeconds: Number(timeout) });
  const issue = (field: string) => (parsed.success ? undefined : parsed.error.issues.find((i) => i.path[0] === field));
  const wholeSeconds = /^\d+$/.test(timeout.trim());
  const lines = serialLines(started.job);

  return (
    <PointJobDialog
      point={point}
      title={t('restoreTest.title', { name: vmNames([vm], among) })}
      className={styles.surface}
      started={started}
      fields={fields}
      valid={parsed.success && wholeSeconds}
      submitLabel={t('restoreTest.submit')}
      submitIcon={<HeartPulse20Regular />}
      begin={(p) => call('testRestore', { vm: vm.id, pointId: p.id, uri: uri.trim(), heartbeat, timeoutSeconds: Number(timeout) })}
      progressLabel={t('restoreTest.progress')}
      onClose={onClose}
      after={
        started.done &&
        lines.length > 0 && (
          <Field label={t('restoreTest.serial')}>
            <pre className={styles.serial} tabIndex={0} aria-label={t('restoreTest.serial')}>
              {lines.join('\n')}
            </pre>
          </Field>
        )
      }
    >
      <Text>{t('restoreTest.intro')}</Text>
      <CheckedField label={t('restoreTest.uri')} hint={t('restoreTest.uriHint')} required error={fields.show('uri', issue('uri') ? t('restoreTest.uriInvalid') : undefined)}>
        <Input value={uri} onChange={(_, d) => (setUri(d.value), fields.edit('uri'))} onBlur={fields.blur('uri')} autoComplete="off" spellCheck={false} />
      </CheckedField>
      <CheckedField label={t('restoreTest.heartbeat')} hint={t('restoreTest.heartbeatHint')} required error={fields.show('heartbeat', issue('heartbeat') ? t('restoreTest.heartbeatInvalid') : undefined)}>
        <Input value={heartbeat} onChange={(_, d) => (setHeartbeat(d.value), fields.edit('heartbeat'))} onBlur={fields.blur('heartbeat')} autoComplete="off" spellCheck={false} />
      </CheckedField>
      <CheckedField label={t('restoreTest.timeout')} required error={fields.show('timeout', issue('timeoutSeconds') || !wholeSeconds ? t('restoreTest.timeoutInvalid') : undefined)}>
        <Input type="number" min={5} value={timeout} onChange={(_, d) => (setTimeoutText(d.value), fields.edit('timeout'))} onBlur={fields.blur('timeout')} />
      </CheckedField>
    </PointJobDialog>
  );
}
