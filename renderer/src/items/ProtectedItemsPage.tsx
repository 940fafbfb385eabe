import {
  Button,
  Checkbox,
  Link,
  Menu,
  MenuItem,
  MenuList,
  MenuPopover,
  MenuTrigger,
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
  Link20Regular,
  MoreHorizontal20Regular,
  Play20Regular,
  ShieldAdd20Regular,
  ShieldCheckmark20Regular,
  Stop20Regular,
} from '@fluentui/react-icons';
import { useState, type ReactElement } from 'react';
import { BackupDataOnlyState, isActiveProtection, vmLabel, type ProtectedItem } from '../../../preload/contract.js';
import { call, useAction, useApi } from '../api.js';
import { useI18n } from '../i18n/index.js';
import { hrefOf, navigate, useLocation } from '../routes.js';
import { JobProgress } from '../shell/JobProgress.js';
import { JobStatusBadge, ProtectionBadge, operationLabel } from '../shell/labels.js';
import { NextStepEmptyState } from '../shell/NextStepEmptyState.js';
import { useTrackJobs } from '../shell/notify.js';
import { ErrorBar, Page } from '../shell/Page.js';
import { VaultPicker, usePanelStyles, useVaultChoice } from '../shell/ui.js';
import { PendingProtections } from '../vaults/PendingProtections.js';
import { AssociateVmDialog } from './AssociateVmDialog.js';
import { BackupNowDialog } from './BackupNowDialog.js';
import { ChangePolicyDialog } from './ChangePolicyDialog.js';
import { ProtectWizard } from './ProtectWizard.js';
import { StopProtectionDialog } from './StopProtectionDialog.js';
import { VmName, duplicateNames } from './VmName.js';

const useStyles = makeStyles({
  when: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalXXS, alignItems: 'flex-start' },
});

type Row = ProtectedItem;

export function ProtectedItemsPage(): ReactElement {
  const { t, formatDateTime } = useI18n();
  const styles = useStyles();
  const panel = usePanelStyles();
  const trackJobs = useTrackJobs();
  // A deep link's ?vault= picks the vault (and becomes the current one), as on every vault page.
  const choice = useVaultChoice(useLocation().query.get('vault'));
  const vault = choice.vault;
  const refreshOn = ['vaultsChanged', 'jobUpdated', 'protectionChanged'] as const;
  const vms = useApi('listVms', vault ? { vault, registered: true } : undefined, { refreshOn });
  const items = useApi('listProtectedItems', vault ? { vault } : undefined, { refreshOn });
  const policies = useApi('listPolicies', vault ? { vault } : undefined, { refreshOn: ['protectionChanged'] });
  const [wizard, setWizard] = useState(false);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [backup, setBackup] = useState<Row[]>([]);
  const [stopping, setStopping] = useState<Row>();
  const [changing, setChanging] = useState<Row>();
  const [associating, setAssociating] = useState<Row>();
  const action = useAction();

  const rows: Row[] = items.data ?? [];
  const dups = duplicateNames(rows);
  // A VM with a job running now cannot start a backup (one job at a time per VM).
  const chosen = rows.filter((r) => selected.has(r.id) && isActiveProtection(r.protectionState) && !r.activeJob);

  const resume = (vm: Row) =>
    action.run(async () => {
      trackJobs([await call('resumeProtection', { vm: vm.id })]);
    }, vm.id);

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
      {vault && <PendingProtections key={vault} vault={vault} />}
      {action.error && <ErrorBar error={action.error} onDismiss={action.clearError} />}
      {items.error && <ErrorBar error={items.error} onRetry={items.reload} />}
      {vault && items.data && vms.data && rows.length === 0 && (
        <NextStepEmptyState
          icon={<ShieldCheckmark20Regular />}
          title={t('items.protected.empty.title')}
          steps={[
            {
              applies: vms.data.length === 0,
              body: t('items.protected.next.register'),
              action: (
                <Button as="a" href={hrefOf('registeredItems')} appearance="primary">
                  {t('items.goToRegistered')}
                </Button>
              ),
            },
            {
              applies: true,
              body: t('items.protected.empty.body'),
              action: (
                <Button appearance="primary" icon={<ShieldAdd20Regular />} onClick={() => setWizard(true)}>
                  {t('protect.open')}
                </Button>
              ),
            },
          ]}
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
                const stopped = !isActiveProtection(vm.protectionState);
                const dataOnly = vm.protectionState === BackupDataOnlyState;
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
                    <TableCell>{vm.policy ?? '—'}</TableCell>
                    <TableCell>
                      {vm.activeJob ? (
                        // The job running on the VM now, live (the list reloads on each job event), until it ends.
                        <div className={styles.when}>
                          <div className={panel.row}>
                            <Text size={200}>{operationLabel(t, vm.activeJob.operation)}</Text>
                            <JobStatusBadge status={vm.activeJob.status} />
                          </div>
                          <JobProgress job={vm.activeJob} label={t('items.activeJob.progressLabel', { operation: operationLabel(t, vm.activeJob.operation), name: label })} />
                          <Link href={hrefOf('jobs', { id: String(vm.activeJob.id) })}>{t('notify.viewJob')}</Link>
                        </div>
                      ) : (
                        <div className={styles.when}>
                          {vm.lastBackupAt ? formatDateTime(vm.lastBackupAt) : t('items.never')}
                          {vm.lastBackupStatus && <JobStatusBadge status={vm.lastBackupStatus} />}
                        </div>
                      )}
                    </TableCell>
                    <TableCell>{vm.nextBackupAt ? formatDateTime(vm.nextBackupAt) : '—'}</TableCell>
                    <TableCell>
                      <div className={panel.row}>
                        <Button size="small" icon={<Play20Regular />} disabled={stopped || vm.activeJob !== null} onClick={() => setBackup([vm])} aria-label={t('backupNow.label', { name: label })}>
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
                              {dataOnly && (
                                <MenuItem icon={<Link20Regular />} onClick={() => setAssociating(vm)}>
                                  {t('associate.open')}
                                </MenuItem>
                              )}
                              {stopped && !dataOnly && (
                                <MenuItem icon={<ArrowSync20Regular />} onClick={() => void resume(vm)}>
                                  {t('items.resume')}
                                </MenuItem>
                              )}
                              <MenuItem icon={<Stop20Regular />} onClick={() => setStopping(vm)}>
                                {dataOnly ? t('stop.deleteData') : t('stop.open')}
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
      {backup.length > 0 && <BackupNowDialog vms={backup} among={rows} onClose={() => setBackup([])} />}
      <StopProtectionDialog vm={stopping} among={rows} onClose={() => setStopping(undefined)} />
      <AssociateVmDialog item={associating} onClose={() => setAssociating(undefined)} />
      <ChangePolicyDialog vm={changing} policies={policies.data ?? []} among={rows} onClose={() => setChanging(undefined)} />
    </Page>
  );
}
