import {
  Badge,
  Button,
  Dropdown,
  Field,
  MessageBar,
  MessageBarActions,
  MessageBarBody,
  MessageBarTitle,
  Option,
  Spinner,
  Table,
  TableBody,
  TableCell,
  TableCellLayout,
  TableHeader,
  TableHeaderCell,
  TableRow,
  Text,
  makeStyles,
  tokens,
} from '@fluentui/react-components';
import { Add20Regular, Delete20Regular, Search20Regular, ServerMultiple20Regular } from '@fluentui/react-icons';
import { useRef, useState, type ReactElement } from 'react';
import { diskCount, finishedStatuses, vmLabel, type Job, type ResultOf, type Vm } from '../../../preload/contract.js';
import { call, toApiError, useAction, useApi, useEngineEvent } from '../api.js';
import { useI18n, type MessageKey } from '../i18n/index.js';
import { hrefOf, useLocation } from '../routes.js';
import { ConfirmDialog } from '../shell/ConfirmDialog.js';
import { ProtectionBadge } from '../shell/labels.js';
import { useNotify, useTrackJobs } from '../shell/notify.js';
import { NextStepEmptyState } from '../shell/NextStepEmptyState.js';
import { ErrorBar, Page } from '../shell/Page.js';
import { EmptyState, VaultPicker, usePanelStyles, useVaultChoice } from '../shell/ui.js';
import { VmName, duplicateNames, vmNames } from './VmName.js';
import { RegisterDialog } from './RegisterDialog.js';

const useStyles = makeStyles({
  pickers: { display: 'flex', gap: tokens.spacingHorizontalXL, flexWrap: 'wrap', alignItems: 'flex-end' },
  reasons: { margin: 0, paddingInlineStart: tokens.spacingHorizontalXL, display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalXS },
  reasonHead: { fontWeight: tokens.fontWeightSemibold },
});

type Discovery = ResultOf<'discoveryResult'>;

const reasonKeys: Record<Discovery['excluded'][number]['reason'], MessageKey> = {
  OtherRegion: 'discover.reason.OtherRegion',
  AlreadyRegistered: 'discover.reason.AlreadyRegistered',
  Missing: 'discover.reason.Missing',
};

function DiscoveryPanel({ vault, result, onRegister }: { vault: string; result: Discovery; onRegister: () => void }): ReactElement | null {
  const { t, formatDateTime } = useI18n();
  const styles = useStyles();
  if (!result.job) return null;
  const when = formatDateTime(result.job.endedAt ?? result.job.createdAt);
  if (result.candidates.length > 0) {
    return (
      <MessageBar intent="success" layout="multiline">
        <MessageBarBody>
          <MessageBarTitle>{result.candidates.length === 1 ? t('discover.candidatesOne') : t('discover.candidates', { count: result.candidates.length })}</MessageBarTitle> {t('discover.lastRun', { when })}
        </MessageBarBody>
        <MessageBarActions>
          <Button appearance="primary" icon={<Add20Regular />} onClick={onRegister}>
            {t('register.open')}
          </Button>
        </MessageBarActions>
      </MessageBar>
    );
  }
  // A VM registered elsewhere is listed under the vault that holds it: this one, or another by name.
  const groups = (['OtherRegion', 'AlreadyRegistered', 'Missing'] as const).flatMap((reason) => {
    const items = result.excluded.filter((e) => e.reason === reason);
    if (reason !== 'AlreadyRegistered') return items.length > 0 ? [{ key: reason, head: t(reasonKeys[reason], { count: items.length }), items }] : [];
    const byVault = new Map<string, typeof items>();
    for (const e of items) byVault.set(e.vm.vaultName ?? '', [...(byVault.get(e.vm.vaultName ?? '') ?? []), e]);
    return [...byVault].map(([holder, list]) => ({
      key: `${reason}:${holder}`,
      head:
        holder.toLowerCase() === vault.toLowerCase()
          ? t('discover.reason.AlreadyRegisteredHere', { count: list.length })
          : t('discover.reason.AlreadyRegisteredTo', { vault: holder, count: list.length }),
      items: list,
    }));
  });
  const seen = [...result.candidates, ...result.excluded.map((e) => e.vm)];
  return (
    <MessageBar intent="info" layout="multiline">
      <MessageBarBody>
        <MessageBarTitle>{t('discover.nothing')}</MessageBarTitle> {t('discover.lastRun', { when })}
        {groups.length === 0 ? (
          <Text block>{t('discover.nothingSeen')}</Text>
        ) : (
          <>
            <Text block>{t('discover.explain')}</Text>
            <ul className={styles.reasons}>
              {groups.map((g) => (
                <li key={g.key}>
                  <span className={styles.reasonHead}>{g.head}</span> {vmNames(g.items.map((e) => e.vm), seen)}
                </li>
              ))}
            </ul>
          </>
        )}
      </MessageBarBody>
    </MessageBar>
  );
}

export function RegisteredItemsPage(): ReactElement {
  const { t } = useI18n();
  const styles = useStyles();
  const panel = usePanelStyles();
  const notify = useNotify();
  const trackJobs = useTrackJobs();
  // A deep link's ?vault= picks the vault (and becomes the current one), as on every vault page.
  const choice = useVaultChoice(useLocation().query.get('vault'));
  const vault = choice.vault;
  const vms = useApi('listVms', vault ? { vault, registered: true } : undefined, { refreshOn: ['vaultsChanged', 'jobUpdated', 'protectionChanged'] });
  const discovery = useApi('discoveryResult', vault ? { vault } : undefined, { refreshOn: ['vaultsChanged'] });
  const sources = useApi('listSources', {});
  const [discoveryJob, setDiscoveryJob] = useState<number>();
  const [registering, setRegistering] = useState(false);
  const action = useAction();
  const setError = action.setError;

  // A discovery's end is handled once, from its event or, when it ended before this page knew its
  // id (a quick job: the event can arrive before the call's answer), from its state read back.
  const ended = useRef(new Set<number>());
  const discoveryEnded = (job: Job) => {
    if (ended.current.has(job.id)) return;
    ended.current.add(job.id);
    setDiscoveryJob(undefined);
    if (job.status === 'Failed' || job.status === 'Cancelled' || !vault) return;
    call('discoveryResult', { vault }).then(
      (r) => {
        notify('success', t('discover.finished', { count: r.candidates.length }), undefined, job.id);
        discovery.reload();
      },
      (err: unknown) => setError(toApiError(err)),
    );
  };

  useEngineEvent('jobUpdated', (job) => {
    if (job.id !== discoveryJob || !finishedStatuses.includes(job.status)) return;
    discoveryEnded(job);
  });

  const discover = async () => {
    if (!vault) return;
    const job = await action.run(() => call('discoverVms', { vault }));
    if (!job) return;
    trackJobs([job], { announceStart: false, announceEnd: false });
    notify('info', t('discover.running'), t('discover.runningBody'), job.id);
    setDiscoveryJob(job.id);
    const now = finishedStatuses.includes(job.status) ? job : await call('showJob', { id: job.id }).catch(() => job);
    if (finishedStatuses.includes(now.status)) discoveryEnded(now);
  };

  // Asked first (ConfirmDialog): the dialog names the VM and says what becomes of its recovery points.
  const [unregistering, setUnregistering] = useState<Vm>();
  const unregister = async (vm: Vm) => {
    if (!vault) return;
    trackJobs(await call('unregisterVms', { vault, vms: [vm.id] }));
  };

  const list = vms.data ?? [];
  const dups = duplicateNames(list);
  const candidates = discovery.data?.candidates ?? [];
  const noVaults = choice.vaults.data?.length === 0;

  return (
    <Page
      title={t('items.registered.title')}
      intro={t('items.registered.intro')}
      toolbar={
        <>
          <Button appearance="primary" icon={discoveryJob ? <Spinner size="tiny" /> : <Search20Regular />} onClick={() => void discover()} disabled={!vault || discoveryJob !== undefined}>
            {discoveryJob ? t('discover.runningShort') : t('discover.button')}
          </Button>
          <Button icon={<Add20Regular />} onClick={() => setRegistering(true)} disabled={!vault || candidates.length === 0}>
            {t('register.open')}
          </Button>
        </>
      }
    >
      <div className={styles.pickers}>
        <VaultPicker choice={choice} />
        <Field label={t('items.type')}>
          <Dropdown value={t('items.type.vm')} selectedOptions={['vm']}>
            <Option value="vm">{t('items.type.vm')}</Option>
          </Dropdown>
        </Field>
      </div>
      {action.error && <ErrorBar error={action.error} onDismiss={action.clearError} />}
      {vms.error && <ErrorBar error={vms.error} onRetry={vms.reload} />}
      {noVaults && (
        <EmptyState
          icon={<ServerMultiple20Regular />}
          title={t('items.noVault.title')}
          body={t('items.noVault.body')}
          action={
            <Button as="a" href={hrefOf('vaults')} appearance="primary">
              {t('dashboard.goToVaults')}
            </Button>
          }
        />
      )}
      {discovery.data && vault && <DiscoveryPanel vault={vault} result={discovery.data} onRegister={() => setRegistering(true)} />}
      {vault && vms.data && discovery.data && sources.data && list.length === 0 && (
        <NextStepEmptyState
          icon={<ServerMultiple20Regular />}
          title={t('items.registered.empty.title')}
          steps={[
            {
              applies: sources.data.length === 0,
              body: t('items.registered.next.addSource'),
              action: (
                <Button as="a" href={hrefOf('sources')} appearance="primary">
                  {t('items.goToSources')}
                </Button>
              ),
            },
            { applies: !discovery.data.job, body: t('items.registered.empty.body') },
            { applies: candidates.length > 0, body: t('items.registered.next.register') },
            { applies: true, body: t('items.registered.next.nothingFound') },
          ]}
        />
      )}
      {list.length > 0 && (
        <div className={panel.panel}>
          <Table aria-label={t('items.registered.tableLabel', { vault: vault ?? '' })}>
            <TableHeader>
              <TableRow>
                <TableHeaderCell>{t('items.col.name')}</TableHeaderCell>
                <TableHeaderCell>{t('items.cloudService')}</TableHeaderCell>
                <TableHeaderCell>{t('items.col.status')}</TableHeaderCell>
                <TableHeaderCell>{t('items.col.protection')}</TableHeaderCell>
                <TableHeaderCell>{t('items.col.source')}</TableHeaderCell>
                <TableHeaderCell>{t('items.col.disks')}</TableHeaderCell>
                <TableHeaderCell>{t('common.actions')}</TableHeaderCell>
              </TableRow>
            </TableHeader>
            <TableBody>
              {list.map((vm) => (
                <TableRow key={vm.id}>
                  <TableCell>
                    <TableCellLayout>
                      <VmName vm={vm} duplicates={dups} />
                    </TableCellLayout>
                  </TableCell>
                  <TableCell>{vm.cloudService}</TableCell>
                  <TableCell>
                    {vm.registrationState === 'Registering' ? (
                      <Badge appearance="tint" color="brand" icon={<Spinner size="extra-tiny" />}>
                        {t('items.state.Registering')}
                      </Badge>
                    ) : (
                      <Badge appearance="tint" color="success">
                        {t('items.state.Registered')}
                      </Badge>
                    )}
                    {vm.missing && (
                      <Badge appearance="tint" color="warning">
                        {t('items.state.missing')}
                      </Badge>
                    )}
                  </TableCell>
                  <TableCell>
                    <ProtectionBadge state={vm.protectionState} />
                  </TableCell>
                  <TableCell>{vm.sourceName}</TableCell>
                  <TableCell>{diskCount(vm)}</TableCell>
                  <TableCell>
                    <Button
                      size="small"
                      appearance="subtle"
                      icon={action.busyKey === vm.id ? <Spinner size="tiny" /> : <Delete20Regular />}
                      disabled={action.busyKey !== undefined || vm.registrationState !== 'Registered'}
                      aria-label={t('items.unregisterLabel', { name: vmLabel(vm) })}
                      onClick={() => setUnregistering(vm)}
                    >
                      {t('items.unregister')}
                    </Button>
                  </TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
        </div>
      )}
      {vault && <RegisterDialog vault={vault} candidates={candidates} open={registering} onClose={() => setRegistering(false)} />}
      <ConfirmDialog
        open={unregistering !== undefined}
        title={t('items.unregisterDialog.title', { name: unregistering ? vmNames([unregistering], list) : '' })}
        confirmLabel={t('items.unregister')}
        confirmIcon={<Delete20Regular />}
        onConfirm={() => (unregistering ? unregister(unregistering) : Promise.resolve())}
        onClose={() => setUnregistering(undefined)}
      >
        {unregistering && (
          <>
            <Text>
              {t(unregistering.missing ? 'items.unregisterDialog.missing' : 'items.unregisterDialog.body', { name: vmNames([unregistering], list), vault: vault ?? '' })}
            </Text>
            <Text>{t('items.unregisterDialog.points', { vault: vault ?? '' })}</Text>
          </>
        )}
      </ConfirmDialog>
    </Page>
  );
}
