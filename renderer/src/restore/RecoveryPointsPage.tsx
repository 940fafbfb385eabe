// A VM's recovery points, newest first, with the tiers that keep each one, and the Restore
// wizard (W23): disks to a folder or the whole VM as a new VM, with the job's live progress.
import {
  Badge,
  Button,
  Dialog,
  DialogActions,
  DialogBody,
  DialogContent,
  DialogSurface,
  DialogTitle,
  Dropdown,
  Field,
  Input,
  Link,
  Option,
  ProgressBar,
  Radio,
  RadioGroup,
  Spinner,
  Table,
  TableBody,
  TableCell,
  TableHeader,
  TableHeaderCell,
  TableRow,
  Text,
  makeStyles,
  tokens,
} from '@fluentui/react-components';
import { ArrowUndo20Regular, History20Regular } from '@fluentui/react-icons';
import { useState, type FormEvent, type ReactElement } from 'react';
import { AbsolutePath, RestoredVmName, finishedStatuses, vmLabel, type ApiError, type Job, type RecoveryPoint, type Vm } from '../../../preload/contract.js';
import { call, toApiError, useApi, useEngineEvent } from '../api.js';
import { useI18n, type MessageKey } from '../i18n/index.js';
import { FolderInput } from '../shell/FolderInput.js';
import { PointsTimeline } from './PointsTimeline.js';
import { hrefOf, replaceQuery, useLocation } from '../routes.js';
import { JobStatusBadge } from '../shell/labels.js';
import { useTrackJobs } from '../shell/notify.js';
import { ErrorBar, Page } from '../shell/Page.js';
import { EmptyState, VaultPicker, usePanelStyles, useVaultChoice } from '../shell/ui.js';

const useStyles = makeStyles({
  pickers: { display: 'flex', gap: tokens.spacingHorizontalXL, flexWrap: 'wrap', alignItems: 'flex-end' },
  form: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalM },
  surface: { maxWidth: '600px', width: '100%' },
  badges: { display: 'flex', gap: tokens.spacingHorizontalXS, flexWrap: 'wrap' },
  vmPicker: { minWidth: '240px' },
});

const tierKeys: Record<string, MessageKey> = {
  daily: 'points.tier.daily',
  weekly: 'points.tier.weekly',
  monthly: 'points.tier.monthly',
  yearly: 'points.tier.yearly',
  'retain-until': 'points.tier.retainUntil',
  latest: 'points.tier.latest',
};

const consistencyKeys: Record<string, MessageKey> = {
  offline: 'points.consistency.offline',
  crash: 'points.consistency.crash',
  filesystem: 'points.consistency.filesystem',
  application: 'points.consistency.application',
};

function RestoreDialog({ vm, point, onClose }: { vm: Vm; point: RecoveryPoint | undefined; onClose: () => void }): ReactElement {
  const { t, formatDateTime, formatBytes } = useI18n();
  const styles = useStyles();
  const trackJobs = useTrackJobs();
  const [mode, setMode] = useState<'disks' | 'newVm'>('disks');
  const [target, setTarget] = useState('');
  const [newName, setNewName] = useState(`${vm.name}-restored`);
  const [touched, setTouched] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError>();
  const [job, setJob] = useState<Job>();
  const pathOk = AbsolutePath.safeParse(target).success;
  const nameOk = mode === 'disks' || RestoredVmName.safeParse(newName).success;

  useEngineEvent('jobUpdated', (j) => {
    if (job && j.id === job.id) setJob(j);
  });

  const close = () => {
    if (busy) return;
    setJob(undefined);
    setError(undefined);
    setTouched(false);
    onClose();
  };
  const submit = async (ev: FormEvent) => {
    ev.preventDefault();
    setTouched(true);
    if (!point || !pathOk || !nameOk) return;
    setBusy(true);
    setError(undefined);
    try {
      const j = await call('restorePoint', { vm: vm.id, pointId: point.id, mode, targetDir: target, ...(mode === 'newVm' ? { newName: newName.trim() } : {}) });
      trackJobs([j]);
      setJob(j);
    } catch (err) {
      setError(toApiError(err));
    } finally {
      setBusy(false);
    }
  };
  const done = job && finishedStatuses.includes(job.status);

  return (
    <Dialog open={point !== undefined} onOpenChange={(_, d) => !d.open && close()}>
      <DialogSurface className={styles.surface}>
        <form onSubmit={submit} noValidate>
          <DialogBody>
            <DialogTitle>{t('restore.title', { name: vmLabel(vm) })}</DialogTitle>
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
                    <Field label={t('restore.newName')} required validationMessage={touched && !nameOk ? t('restore.newNameInvalid') : undefined} validationState={touched && !nameOk ? 'error' : 'none'}>
                      <Input value={newName} onChange={(_, d) => setNewName(d.value)} autoComplete="off" spellCheck={false} />
                    </Field>
                  )}
                  <Field
                    label={t('restore.target')}
                    hint={t('restore.targetHint')}
                    required
                    validationMessage={touched && !pathOk ? t('validation.path.absolute') : undefined}
                    validationState={touched && !pathOk ? 'error' : 'none'}
                  >
                    <FolderInput value={target} onValue={setTarget} onBlur={() => setTouched(true)} />
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
                  {job.summary && <Text block>{job.summary}</Text>}
                </div>
              )}
              {job?.error && <ErrorBar error={job.error} />}
              {error && <ErrorBar error={error} />}
            </DialogContent>
            <DialogActions>
              <Button appearance={job ? 'primary' : 'secondary'} onClick={close} disabled={busy}>
                {job ? t('common.close') : t('common.cancel')}
              </Button>
              {!job && (
                <Button appearance="primary" type="submit" disabled={busy} icon={busy ? <Spinner size="tiny" /> : <ArrowUndo20Regular />}>
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

export function RecoveryPointsPage(): ReactElement {
  const { t, formatDateTime, formatBytes, formatNumber } = useI18n();
  const styles = useStyles();
  const panel = usePanelStyles();
  const location = useLocation();
  const choice = useVaultChoice(location.query.get('vault'));
  const vault = choice.vault;
  const vms = useApi('listVms', vault ? { vault, registered: true } : undefined, { refreshOn: ['vaultsChanged', 'protectionChanged'] });
  const candidates = (vms.data ?? []).filter((v) => v.protectionState);
  const wanted = location.query.get('vm');
  const vm = candidates.find((v) => v.id === wanted) ?? candidates[0];
  const points = useApi('listPoints', vm ? { vm: vm.id } : undefined, { refreshOn: ['protectionChanged'] });
  const [restoring, setRestoring] = useState<RecoveryPoint>();
  const list = [...(points.data ?? [])].sort((a, b) => b.created.localeCompare(a.created));

  return (
    <Page title={t('points.title')} intro={t('points.intro')}>
      <div className={styles.pickers}>
        <VaultPicker choice={choice} />
        <Field label={t('points.vm')}>
          <Dropdown
            className={styles.vmPicker}
            value={vm ? vmLabel(vm) : ''}
            selectedOptions={vm ? [vm.id] : []}
            placeholder={t('points.noVm')}
            disabled={candidates.length === 0}
            onOptionSelect={(_, d) => d.optionValue && replaceQuery('recoveryPoints', { vault: vault ?? '', vm: d.optionValue })}
          >
            {candidates.map((v) => (
              <Option key={v.id} value={v.id} text={vmLabel(v)}>
                {vmLabel(v)}
              </Option>
            ))}
          </Dropdown>
        </Field>
      </div>
      {points.error && <ErrorBar error={points.error} onRetry={points.reload} />}
      {vms.data && candidates.length === 0 && <EmptyState icon={<History20Regular />} title={t('points.noVm')} body={t('points.noVmBody')} />}
      {vm && points.data && list.length === 0 && <EmptyState icon={<History20Regular />} title={t('points.empty.title')} body={t('points.empty.body')} />}
      {vm && list.length > 0 && (
        <div className={panel.panel}>
          <PointsTimeline points={list} onPick={setRestoring} />
          <Table aria-label={t('points.tableLabel', { name: vmLabel(vm) })}>
            <TableHeader>
              <TableRow>
                <TableHeaderCell>{t('points.col.created')}</TableHeaderCell>
                <TableHeaderCell>{t('points.col.consistency')}</TableHeaderCell>
                <TableHeaderCell>{t('points.col.size')}</TableHeaderCell>
                <TableHeaderCell>{t('points.col.added')}</TableHeaderCell>
                <TableHeaderCell>{t('points.col.keptBy')}</TableHeaderCell>
                <TableHeaderCell>{t('points.col.disks')}</TableHeaderCell>
                <TableHeaderCell>{t('common.actions')}</TableHeaderCell>
              </TableRow>
            </TableHeader>
            <TableBody>
              {list.map((p, i) => (
                <TableRow key={p.id}>
                  <TableCell>
                    <Text weight={i === 0 ? 'semibold' : 'regular'}>{formatDateTime(p.created)}</Text>
                    {p.manual && (
                      <Text size={200} block className={panel.muted}>
                        {p.retainUntil ? t('points.manualUntil', { date: formatDateTime(p.retainUntil) }) : t('points.manual')}
                      </Text>
                    )}
                  </TableCell>
                  <TableCell>
                    <Badge appearance="tint" color={p.consistency === 'crash' ? 'warning' : 'success'}>
                      {consistencyKeys[p.consistency] ? t(consistencyKeys[p.consistency]!) : p.consistency}
                    </Badge>
                  </TableCell>
                  <TableCell>{formatBytes(p.logicalBytes)}</TableCell>
                  <TableCell>{formatBytes(p.addedBytes)}</TableCell>
                  <TableCell>
                    <div className={styles.badges}>
                      {p.keptBy.map((k) => (
                        <Badge key={k} appearance="outline" color="brand" size="small">
                          {tierKeys[k] ? t(tierKeys[k]) : k}
                        </Badge>
                      ))}
                    </div>
                  </TableCell>
                  <TableCell>{formatNumber(p.disks.length)}</TableCell>
                  <TableCell>
                    <Button size="small" icon={<ArrowUndo20Regular />} onClick={() => setRestoring(p)} aria-label={t('restore.label', { created: formatDateTime(p.created) })}>
                      {t('restore.open')}
                    </Button>
                  </TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
        </div>
      )}
      {vm && <RestoreDialog key={restoring?.id ?? 'none'} vm={vm} point={restoring} onClose={() => setRestoring(undefined)} />}
    </Page>
  );
}
