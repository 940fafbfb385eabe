// Test restore of a recovery point: the point booted as a temporary VM on an isolated network
// until it answers, then removed. Shows the job's progress, its result and, when the VM did not
// answer, the last lines of its serial console.
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
  Spinner,
  Text,
  makeStyles,
  tokens,
} from '@fluentui/react-components';
import { HeartPulse20Regular } from '@fluentui/react-icons';
import { useState, type FormEvent, type ReactElement } from 'react';
import { finishedStatuses, methods, type Job, type RecoveryPoint, type Vm, type VmNameParts } from '../../../preload/contract.js';
import { call, catchUpStartedJob, useAction, useEngineEvent } from '../api.js';
import { useI18n } from '../i18n/index.js';
import { vmNames } from '../items/VmName.js';
import { hrefOf } from '../routes.js';
import { JobStatusBadge } from '../shell/labels.js';
import { useTrackJobs } from '../shell/notify.js';
import { ErrorBar } from '../shell/Page.js';
import { useFieldVisibility } from '../shell/ui.js';

const useStyles = makeStyles({
  form: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalM },
  surface: { maxWidth: '640px', width: '100%' },
  badges: { display: 'flex', gap: tokens.spacingHorizontalXS, flexWrap: 'wrap' },
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
  const { t, formatDateTime, formatBytes, jobText } = useI18n();
  const styles = useStyles();
  const trackJobs = useTrackJobs();
  const [uri, setUri] = useState('qemu:///system');
  const [heartbeat, setHeartbeat] = useState('login:');
  const [timeout, setTimeoutText] = useState('600');
  const fields = useFieldVisibility<'uri' | 'heartbeat' | 'timeout'>();
  const action = useAction();
  const [job, setJob] = useState<Job>();
  const parsed = argsSchema.safeParse({ vm: vm.id, pointId: point?.id ?? 'x', uri, heartbeat, timeoutSeconds: Number(timeout) });
  const issue = (field: string) => (parsed.success ? undefined : parsed.error.issues.find((i) => i.path[0] === field));
  const uriError = fields.show('uri', issue('uri') ? t('restoreTest.uriInvalid') : undefined);
  const heartbeatError = fields.show('heartbeat', issue('heartbeat') ? t('restoreTest.heartbeatInvalid') : undefined);
  const timeoutError = fields.show('timeout', issue('timeoutSeconds') || !/^\d+$/.test(timeout.trim()) ? t('restoreTest.timeoutInvalid') : undefined);

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
    if (!point || !parsed.success || !/^\d+$/.test(timeout.trim())) return;
    await action.run(async () => {
      const j = await call('testRestore', { vm: vm.id, pointId: point.id, uri: uri.trim(), heartbeat, timeoutSeconds: Number(timeout) });
      trackJobs([j]);
      setJob(j);
      await catchUpStartedJob(j, setJob);
    });
  };
  const done = job && finishedStatuses.includes(job.status);
  const lines = serialLines(job);

  return (
    <Dialog open={point !== undefined} onOpenChange={(_, d) => !d.open && close()}>
      <DialogSurface className={styles.surface}>
        <form onSubmit={submit} noValidate>
          <DialogBody>
            <DialogTitle>{t('restoreTest.title', { name: vmNames([vm], among) })}</DialogTitle>
            <DialogContent className={styles.form}>
              {point && <Text>{t('restore.point', { created: formatDateTime(point.created), size: formatBytes(point.logicalBytes) })}</Text>}
              {!job && (
                <>
                  <Text>{t('restoreTest.intro')}</Text>
                  <Field label={t('restoreTest.uri')} hint={t('restoreTest.uriHint')} required validationMessage={uriError} validationState={uriError ? 'error' : 'none'}>
                    <Input value={uri} onChange={(_, d) => (setUri(d.value), fields.edit('uri'))} onBlur={fields.blur('uri')} autoComplete="off" spellCheck={false} />
                  </Field>
                  <Field label={t('restoreTest.heartbeat')} hint={t('restoreTest.heartbeatHint')} required validationMessage={heartbeatError} validationState={heartbeatError ? 'error' : 'none'}>
                    <Input value={heartbeat} onChange={(_, d) => (setHeartbeat(d.value), fields.edit('heartbeat'))} onBlur={fields.blur('heartbeat')} autoComplete="off" spellCheck={false} />
                  </Field>
                  <Field label={t('restoreTest.timeout')} required validationMessage={timeoutError} validationState={timeoutError ? 'error' : 'none'}>
                    <Input type="number" min={5} value={timeout} onChange={(_, d) => (setTimeoutText(d.value), fields.edit('timeout'))} onBlur={fields.blur('timeout')} />
                  </Field>
                </>
              )}
              {job && (
                <div aria-live="polite">
                  <Field
                    label={t('restoreTest.progress')}
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
              {done && lines.length > 0 && (
                <Field label={t('restoreTest.serial')}>
                  <pre className={styles.serial} tabIndex={0} aria-label={t('restoreTest.serial')}>
                    {lines.join('\n')}
                  </pre>
                </Field>
              )}
              {action.error && <ErrorBar error={action.error} />}
            </DialogContent>
            <DialogActions>
              <Button appearance={job ? 'primary' : 'secondary'} onClick={close} disabled={action.busy}>
                {job ? t('common.close') : t('common.cancel')}
              </Button>
              {!job && (
                <Button appearance="primary" type="submit" disabled={action.busy} icon={action.busy ? <Spinner size="tiny" /> : <HeartPulse20Regular />}>
                  {t('restoreTest.submit')}
                </Button>
              )}
            </DialogActions>
          </DialogBody>
        </form>
      </DialogSurface>
    </Dialog>
  );
}
