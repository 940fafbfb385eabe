import {
  Button,
  Checkbox,
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
  Menu,
  MenuItem,
  MenuList,
  MenuPopover,
  MenuTrigger,
  MessageBar,
  MessageBarBody,
  Option,
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
import {
  ArrowSync20Regular,
  Edit20Regular,
  History20Regular,
  MoreHorizontal20Regular,
  Play20Regular,
  ShieldAdd20Regular,
  ShieldCheckmark20Regular,
  Stop20Regular,
} from '@fluentui/react-icons';
import { useMemo, useState, type FormEvent, type ReactElement } from 'react';
import { vmLabel, type ApiError, type Dashboard, type Policy, type Vm } from '../../../preload/contract.js';
import { call, toApiError, useApi } from '../api.js';
import { useI18n } from '../i18n/index.js';
import { hrefOf, navigate } from '../routes.js';
import { JobStatusBadge, ProtectionBadge } from '../shell/labels.js';
import { useTrackJobs } from '../shell/notify.js';
import { ErrorBar, Page } from '../shell/Page.js';
import { EmptyState, VaultPicker, usePanelStyles, useVaultChoice } from '../shell/ui.js';
import { ProtectWizard } from './ProtectWizard.js';
import { VmName, duplicateNames } from './VmName.js';

const useStyles = makeStyles({
  form: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalM },
  surface: { maxWidth: '560px', width: '100%' },
  when: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalXXS, alignItems: 'flex-start' },
});

type Row = Vm & { info?: Dashboard['vms'][number] };

function BackupNowDialog({ vms, onClose }: { vms: Row[]; onClose: () => void }): ReactElement {
  const { t } = useI18n();
  const styles = useStyles();
  const trackJobs = useTrackJobs();
  const [retainUntil, setRetainUntil] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError>();
  const today = new Date().toISOString().slice(0, 10);
  const invalid = retainUntil !== '' && retainUntil <= today;
  const submit = async (ev: FormEvent) => {
    ev.preventDefault();
    if (invalid) return;
    setBusy(true);
    setError(undefined);
    try {
      // The end of the chosen day in local time.
      const until = retainUntil ? new Date(`${retainUntil}T23:59:59`).toISOString() : undefined;
      trackJobs(await call('backupNow', { vms: vms.map((v) => v.id), ...(until ? { retainUntil: until } : {}) }));
      onClose();
    } catch (err) {
      setError(toApiError(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Dialog open={vms.length > 0} onOpenChange={(_, d) => !d.open && !busy && onClose()}>
      <DialogSurface className={styles.surface}>
        <form onSubmit={submit} noValidate>
          <DialogBody>
            <DialogTitle>{t('backupNow.title')}</DialogTitle>
            <DialogContent className={styles.form}>
              <Text>{t('backupNow.intro', { names: vms.map((v) => v.name).join(', ') })}</Text>
              <Field
                label={t('backupNow.retainUntil')}
                hint={t('backupNow.retainUntilHint')}
                validationMessage={invalid ? t('backupNow.retainUntilPast') : undefined}
                validationState={invalid ? 'error' : 'none'}
              >
                <Input type="date" value={retainUntil} min={today} onChange={(_, d) => setRetainUntil(d.value)} />
              </Field>
              {error && <ErrorBar error={error} />}
            </DialogContent>
            <DialogActions>
              <Button appearance="secondary" onClick={onClose} disabled={busy}>
                {t('common.cancel')}
              </Button>
              <Button appearance="primary" type="submit" disabled={busy || invalid} icon={busy ? <Spinner size="tiny" /> : <Play20Regular />}>
                {t('backupNow.submit')}
              </Button>
            </DialogActions>
          </DialogBody>
        </form>
      </DialogSurface>
    </Dialog>
  );
}

function StopProtectionDialog({ vm, onClose }: { vm: Row | undefined; onClose: () => void }): ReactElement {
  const { t } = useI18n();
  const styles = useStyles();
  const trackJobs = useTrackJobs();
  const [mode, setMode] = useState<'keep' | 'delete'>('keep');
  const [typed, setTyped] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError>();
  const name = vm?.name ?? '';
  const ok = mode === 'keep' || typed === name;
  const close = () => {
    if (busy) return;
    setMode('keep');
    setTyped('');
    setError(undefined);
    onClose();
  };
  const submit = async (ev: FormEvent) => {
    ev.preventDefault();
    if (!vm || !ok) return;
    setBusy(true);
    setError(undefined);
    try {
      const job = await call('stopProtection', { vm: vm.id, deleteData: mode === 'delete', ...(mode === 'delete' ? { confirmName: typed } : {}) });
      trackJobs([job]);
      setBusy(false);
      setMode('keep');
      setTyped('');
      onClose();
    } catch (err) {
      setError(toApiError(err));
      setBusy(false);
    }
  };
  return (
    <Dialog open={vm !== undefined} onOpenChange={(_, d) => !d.open && close()} modalType="alert">
      <DialogSurface className={styles.surface}>
        <form onSubmit={submit} noValidate>
          <DialogBody>
            <DialogTitle>{t('stop.title', { name })}</DialogTitle>
            <DialogContent className={styles.form}>
              <RadioGroup value={mode} onChange={(_, d) => setMode(d.value as 'keep' | 'delete')} aria-label={t('stop.choice')}>
                <Radio value="keep" label={t('stop.keep')} disabled={vm?.protectionState === 'ProtectionStopped'} />
                <Radio value="delete" label={t('stop.delete')} />
              </RadioGroup>
              {mode === 'delete' && (
                <>
                  <MessageBar intent="warning" layout="multiline">
                    <MessageBarBody>{t('stop.deleteWarning')}</MessageBarBody>
                  </MessageBar>
                  <Field label={t('stop.typeName', { name })} validationMessage={typed !== '' && typed !== name ? t('vaults.deleteDialog.typeNameMismatch') : undefined} validationState={typed !== '' && typed !== name ? 'error' : 'none'}>
                    <Input value={typed} onChange={(_, d) => setTyped(d.value)} autoComplete="off" spellCheck={false} />
                  </Field>
                </>
              )}
              {error && <ErrorBar error={error} />}
            </DialogContent>
            <DialogActions>
              <Button appearance="secondary" onClick={close} disabled={busy}>
                {t('common.cancel')}
              </Button>
              <Button appearance="primary" type="submit" disabled={busy || !ok} icon={busy ? <Spinner size="tiny" /> : <Stop20Regular />}>
                {mode === 'delete' ? t('stop.submitDelete') : t('stop.submit')}
              </Button>
            </DialogActions>
          </DialogBody>
        </form>
      </DialogSurface>
    </Dialog>
  );
}

function ChangePolicyDialog({ vm, policies, onClose }: { vm: Row | undefined; policies: Policy[]; onClose: () => void }): ReactElement {
  const { t } = useI18n();
  const styles = useStyles();
  const trackJobs = useTrackJobs();
  const [choice, setChoice] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError>();
  const current = vm?.info?.policy ?? '';
  const value = choice || current;
  const submit = async (ev: FormEvent) => {
    ev.preventDefault();
    if (!vm || !value) return;
    setBusy(true);
    setError(undefined);
    try {
      trackJobs([await call('changePolicy', { vm: vm.id, policy: value })]);
      setChoice('');
      onClose();
    } catch (err) {
      setError(toApiError(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Dialog open={vm !== undefined} onOpenChange={(_, d) => !d.open && !busy && onClose()}>
      <DialogSurface className={styles.surface}>
        <form onSubmit={submit} noValidate>
          <DialogBody>
            <DialogTitle>{t('changePolicy.title', { name: vm?.name ?? '' })}</DialogTitle>
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
              {error && <ErrorBar error={error} />}
            </DialogContent>
            <DialogActions>
              <Button appearance="secondary" onClick={onClose} disabled={busy}>
                {t('common.cancel')}
              </Button>
              <Button appearance="primary" type="submit" disabled={busy || !value || value === current}>
                {t('changePolicy.submit')}
              </Button>
            </DialogActions>
          </DialogBody>
        </form>
      </DialogSurface>
    </Dialog>
  );
}

export function ProtectedItemsPage(): ReactElement {
  const { t, formatDateTime } = useI18n();
  const styles = useStyles();
  const panel = usePanelStyles();
  const trackJobs = useTrackJobs();
  const choice = useVaultChoice();
  const vault = choice.vault;
  const enabled = vault !== undefined;
  const refreshOn = ['vaultsChanged', 'jobUpdated', 'protectionChanged'] as const;
  const vms = useApi('listVms', { vault, registered: true }, { refreshOn, enabled });
  const dash = useApi('dashboard', {}, { refreshOn });
  const policies = useApi('listPolicies', { vault: vault ?? 'x0' }, { refreshOn: ['protectionChanged'], enabled });
  const [wizard, setWizard] = useState(false);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [backup, setBackup] = useState<Row[]>([]);
  const [stopping, setStopping] = useState<Row>();
  const [changing, setChanging] = useState<Row>();
  const [error, setError] = useState<ApiError>();

  const rows: Row[] = useMemo(() => {
    const info = new Map((dash.data?.vms ?? []).map((v) => [v.id, v]));
    return (vms.data ?? []).filter((v) => v.protectionState).map((v) => ({ ...v, info: info.get(v.id) }));
  }, [vms.data, dash.data]);
  const dups = duplicateNames(rows);
  const chosen = rows.filter((r) => selected.has(r.id) && r.protectionState !== 'ProtectionStopped');

  const resume = async (vm: Row) => {
    setError(undefined);
    try {
      trackJobs([await call('resumeProtection', { vm: vm.id })]);
    } catch (err) {
      setError(toApiError(err));
    }
  };

  const toggle = (id: string, on: boolean) =>
    setSelected((s) => {
      const next = new Set(s);
      if (on) next.add(id);
      else next.delete(id);
      return next;
    });

  return (
    <Page
      title={t('items.protected.title')}
      intro={t('items.protected.intro')}
      toolbar={
        <>
          <Button appearance="primary" icon={<ShieldAdd20Regular />} onClick={() => setWizard(true)} disabled={!vault}>
            {t('protect.open')}
          </Button>
          <Button icon={<Play20Regular />} onClick={() => setBackup(chosen)} disabled={chosen.length === 0}>
            {t('backupNow.open')}
          </Button>
        </>
      }
    >
      <VaultPicker choice={choice} />
      {error && <ErrorBar error={error} onDismiss={() => setError(undefined)} />}
      {vms.error && <ErrorBar error={vms.error} onRetry={vms.reload} />}
      {vault && vms.data && rows.length === 0 && (
        <EmptyState
          icon={<ShieldCheckmark20Regular />}
          title={t('items.protected.empty.title')}
          body={t('items.protected.empty.body')}
          action={
            <Button appearance="primary" icon={<ShieldAdd20Regular />} onClick={() => setWizard(true)}>
              {t('protect.open')}
            </Button>
          }
        />
      )}
      {rows.length > 0 && (
        <div className={panel.panel}>
          <Table aria-label={t('items.protected.tableLabel', { vault: vault ?? '' })}>
            <TableHeader>
              <TableRow>
                <TableHeaderCell style={{ width: '44px' }}>
                  <Checkbox
                    aria-label={t('register.selectAll')}
                    checked={selected.size > 0 && selected.size === rows.length ? true : selected.size > 0 ? 'mixed' : false}
                    onChange={(_, d) => setSelected(d.checked === true ? new Set(rows.map((r) => r.id)) : new Set())}
                  />
                </TableHeaderCell>
                <TableHeaderCell>{t('items.col.name')}</TableHeaderCell>
                <TableHeaderCell>{t('items.cloudService')}</TableHeaderCell>
                <TableHeaderCell>{t('items.col.protection')}</TableHeaderCell>
                <TableHeaderCell>{t('protect.policy')}</TableHeaderCell>
                <TableHeaderCell>{t('items.col.lastBackup')}</TableHeaderCell>
                <TableHeaderCell>{t('items.col.nextBackup')}</TableHeaderCell>
                <TableHeaderCell style={{ width: '200px' }}>{t('common.actions')}</TableHeaderCell>
              </TableRow>
            </TableHeader>
            <TableBody>
              {rows.map((vm) => {
                const label = vmLabel(vm);
                const stopped = vm.protectionState === 'ProtectionStopped';
                return (
                  <TableRow key={vm.id}>
                    <TableCell>
                      <Checkbox checked={selected.has(vm.id)} onChange={(_, d) => toggle(vm.id, d.checked === true)} aria-label={t('register.selectVm', { name: label })} />
                    </TableCell>
                    <TableCell>
                      <VmName vm={vm} duplicates={dups} />
                    </TableCell>
                    <TableCell>{vm.cloudService}</TableCell>
                    <TableCell>
                      <ProtectionBadge state={vm.protectionState} />
                    </TableCell>
                    <TableCell>{vm.info?.policy ?? '—'}</TableCell>
                    <TableCell>
                      <div className={styles.when}>
                        {vm.info?.lastBackupAt ? formatDateTime(vm.info.lastBackupAt) : t('items.never')}
                        {vm.info?.lastBackupStatus && <JobStatusBadge status={vm.info.lastBackupStatus as 'Completed'} />}
                      </div>
                    </TableCell>
                    <TableCell>{vm.info?.nextBackupAt ? formatDateTime(vm.info.nextBackupAt) : '—'}</TableCell>
                    <TableCell>
                      <div className={panel.row}>
                        <Button size="small" icon={<Play20Regular />} disabled={stopped} onClick={() => setBackup([vm])} aria-label={t('backupNow.label', { name: label })}>
                          {t('backupNow.short')}
                        </Button>
                        <Menu>
                          <MenuTrigger disableButtonEnhancement>
                            <Button size="small" appearance="subtle" icon={<MoreHorizontal20Regular />} aria-label={t('items.moreActions', { name: label })} />
                          </MenuTrigger>
                          <MenuPopover>
                            <MenuList>
                              <MenuItem icon={<History20Regular />} onClick={() => navigate('recoveryPoints', { vault: vault ?? '', vm: vm.id })}>
                                {t('items.viewPoints')}
                              </MenuItem>
                              {!stopped && (
                                <MenuItem icon={<Edit20Regular />} onClick={() => setChanging(vm)}>
                                  {t('changePolicy.open')}
                                </MenuItem>
                              )}
                              {stopped && (
                                <MenuItem icon={<ArrowSync20Regular />} onClick={() => void resume(vm)}>
                                  {t('items.resume')}
                                </MenuItem>
                              )}
                              <MenuItem icon={<Stop20Regular />} onClick={() => setStopping(vm)}>
                                {t('stop.open')}
                              </MenuItem>
                            </MenuList>
                          </MenuPopover>
                        </Menu>
                      </div>
                    </TableCell>
                  </TableRow>
                );
              })}
            </TableBody>
          </Table>
        </div>
      )}
      <Text className={panel.muted}>
        {t('items.protected.hint')} <Link href={hrefOf('jobs')}>{t('nav.jobs')}</Link>
      </Text>
      {vault && <ProtectWizard vault={vault} vms={vms.data ?? []} policies={policies.data ?? []} open={wizard} onClose={() => setWizard(false)} />}
      {backup.length > 0 && <BackupNowDialog vms={backup} onClose={() => setBackup([])} />}
      <StopProtectionDialog vm={stopping} onClose={() => setStopping(undefined)} />
      <ChangePolicyDialog vm={changing} policies={policies.data ?? []} onClose={() => setChanging(undefined)} />
    </Page>
  );
}
