import {
  Badge,
  Button,
  DataGrid,
  DataGridBody,
  DataGridCell,
  DataGridHeader,
  DataGridHeaderCell,
  DataGridRow,
  Skeleton,
  SkeletonItem,
  Text,
  Title3,
  Tooltip,
  createTableColumn,
  makeStyles,
  tokens,
  type TableColumnDefinition,
} from '@fluentui/react-components';
import { Add20Regular, ArrowClockwise20Regular, ArrowUpload20Regular, Delete20Regular, Key20Regular, LockClosed16Regular, PlugConnectedAdd20Regular, PlugDisconnected20Regular, LockClosed20Regular, LockOpen16Regular, LockOpen20Regular, ShieldCheckmark20Regular, VaultRegular } from '@fluentui/react-icons';
import { useMemo, useState, type ReactElement } from 'react';
import type { VaultSummary } from '../../../preload/contract.js';
import { call, useAction, useApi } from '../api.js';
import { ActionButton } from '../shell/ActionButton.js';
import { ConfirmDialog } from '../shell/ConfirmDialog.js';
import { useI18n } from '../i18n/index.js';
import { useNotify, useTrackJobs } from '../shell/notify.js';
import { ErrorBar, Page } from '../shell/Page.js';
import { rememberVault } from '../shell/ui.js';
import { ConnectVaultDialog } from './ConnectVaultDialog.js';
import { CreateVaultDialog } from './CreateVaultDialog.js';
import { DeleteVaultDialog } from './DeleteVaultDialog.js';
import { DisconnectVaultDialog } from './DisconnectVaultDialog.js';
import { KeyFileDialog } from './KeyFileDialog.js';
import { UnlocksAtStart } from './unlocksAtStart.js';
import { UnlockVaultDialog } from './UnlockVaultDialog.js';

const useStyles = makeStyles({
  grid: {
    backgroundColor: tokens.colorNeutralBackground1,
    borderRadius: tokens.borderRadiusLarge,
    boxShadow: tokens.shadow4,
    overflow: 'hidden',
  },
  location: { fontFamily: tokens.fontFamilyMonospace, fontSize: tokens.fontSizeBase200, overflow: 'hidden', textOverflow: 'ellipsis', whiteSpace: 'nowrap' },
  name: { fontWeight: tokens.fontWeightSemibold },
  count: { color: tokens.colorNeutralForeground2 },
  empty: {
    display: 'flex',
    flexDirection: 'column',
    alignItems: 'center',
    textAlign: 'center',
    gap: tokens.spacingVerticalM,
    padding: `${tokens.spacingVerticalXXXL} ${tokens.spacingHorizontalXXL}`,
    backgroundColor: tokens.colorNeutralBackground1,
    borderRadius: tokens.borderRadiusLarge,
    boxShadow: tokens.shadow4,
  },
  // Relative column widths (cells are flex items): the storage path gets the most room. The minimum
  // widths add up to less than the page at 1440 px, so no column is cut off there.
  colName: { flexGrow: 1.3, minWidth: '100px' },
  colRegion: { flexGrow: 0.9, minWidth: '64px' },
  colLocation: { flexGrow: 2.2, minWidth: '110px' },
  colRegistered: { flexGrow: 1, minWidth: '88px' },
  colState: { flexGrow: 0.9, minWidth: '110px' },
  colCreated: { flexGrow: 1.4, minWidth: '110px' },
  colUnlocksAtStart: { flexGrow: 1.6, minWidth: '150px' },
  colActions: { flexGrow: 2, minWidth: '200px' },
  // The row's actions wrap onto a second line rather than push the table wider than the page.
  actions: { display: 'flex', flexWrap: 'wrap', gap: tokens.spacingHorizontalXS, paddingBlock: tokens.spacingVerticalXXS },
  emptyIcon: { color: tokens.colorBrandForeground1 },
  emptyBody: { color: tokens.colorNeutralForeground2, maxWidth: '44ch' },
});

export function VaultsPage(): ReactElement {
  const { t, formatDateTime, formatNumber } = useI18n();
  const styles = useStyles();
  const notify = useNotify();
  const vaults = useApi('listVaults', {}, { refreshOn: ['vaultsChanged'] });
  const [creating, setCreating] = useState(false);
  const [connecting, setConnecting] = useState(false);
  const [disconnecting, setDisconnecting] = useState<VaultSummary>();
  const [deleting, setDeleting] = useState<VaultSummary>();
  const [unlocking, setUnlocking] = useState<VaultSummary>();
  const [locking, setLocking] = useState<VaultSummary>();
  const [keyFileFor, setKeyFileFor] = useState<VaultSummary>();
  const [upgrading, setUpgrading] = useState<VaultSummary>();
  const rowAction = useAction();
  const trackJobs = useTrackJobs();

  // Asked first (ConfirmDialog): locking stops the vault's scheduled backups until it is unlocked.
  const lock = async (v: VaultSummary) => {
    await call('lockVault', { name: v.name });
    notify('success', t('vaults.locked', { name: v.name }));
    vaults.reload();
  };
  // A full verify reads every chunk of every point: the job shows which points and VMs are damaged.
  const verify = (v: VaultSummary) =>
    rowAction.run(async () => {
      trackJobs([await call('verifyVault', { vault: v.name, full: true })]);
    }, `verify:${v.name}`);
  // Asked first (ConfirmDialog): once upgraded, a Coffer that knows only the older format no longer opens the vault.
  const upgrade = async (v: VaultSummary) => {
    trackJobs([await call('upgradeVault', { vault: v.name })]);
    vaults.reload();
  };

  const columns = useMemo<TableColumnDefinition<VaultSummary>[]>(
    () => [
      createTableColumn<VaultSummary>({
        columnId: 'name',
        compare: (a, b) => a.name.localeCompare(b.name),
        renderHeaderCell: () => t('vaults.col.name'),
        renderCell: (v) => <span className={styles.name}>{v.name}</span>,
      }),
      createTableColumn<VaultSummary>({
        columnId: 'region',
        compare: (a, b) => a.region.localeCompare(b.region),
        renderHeaderCell: () => t('vaults.col.region'),
        renderCell: (v) => v.region,
      }),
      createTableColumn<VaultSummary>({
        columnId: 'location',
        compare: (a, b) => a.location.localeCompare(b.location),
        renderHeaderCell: () => t('vaults.col.location'),
        renderCell: (v) => (
          <Tooltip content={v.location} relationship="description">
            <span className={styles.location}>{v.location}</span>
          </Tooltip>
        ),
      }),
      createTableColumn<VaultSummary>({
        columnId: 'registered',
        compare: (a, b) => a.registeredCount - b.registeredCount,
        renderHeaderCell: () => t('vaults.col.registered'),
        renderCell: (v) => formatNumber(v.registeredCount),
      }),
      createTableColumn<VaultSummary>({
        columnId: 'state',
        compare: (a, b) => Number(a.unlocked) - Number(b.unlocked),
        renderHeaderCell: () => t('vaults.col.state'),
        renderCell: (v) =>
          v.unlocked ? (
            <Badge appearance="tint" color="success" icon={<LockOpen16Regular />}>
              {t('vaults.state.unlocked')}
            </Badge>
          ) : (
            <Badge appearance="tint" color="informative" icon={<LockClosed16Regular />}>
              {t('vaults.state.locked')}
            </Badge>
          ),
      }),
      createTableColumn<VaultSummary>({
        columnId: 'unlocksAtStart',
        compare: (a, b) => a.unlocksAtStart.via.localeCompare(b.unlocksAtStart.via),
        renderHeaderCell: () => t('vaults.col.unlocksAtStart'),
        renderCell: (v) => <UnlocksAtStart how={v.unlocksAtStart} scheduledCount={v.scheduledCount} />,
      }),
      createTableColumn<VaultSummary>({
        columnId: 'created',
        compare: (a, b) => a.created.localeCompare(b.created),
        renderHeaderCell: () => t('vaults.col.created'),
        renderCell: (v) => formatDateTime(v.created),
      }),
      createTableColumn<VaultSummary>({
        columnId: 'actions',
        renderHeaderCell: () => t('common.actions'),
        renderCell: (v) => (
          <div className={styles.actions}>
            {v.unlocked ? (
              <Button appearance="subtle" size="small" icon={<LockClosed20Regular />} aria-label={t('vaults.lockLabel', { name: v.name })} onClick={() => setLocking(v)}>
                {t('vaults.lock')}
              </Button>
            ) : (
              <Button appearance="subtle" size="small" icon={<LockOpen20Regular />} aria-label={t('vaults.unlockLabel', { name: v.name })} onClick={() => setUnlocking(v)}>
                {t('vaults.unlock')}
              </Button>
            )}
            {v.unlocked && (
              <ActionButton action={rowAction} runKey={`verify:${v.name}`} appearance="subtle" size="small" icon={<ShieldCheckmark20Regular />} aria-label={t('vaults.verifyLabel', { name: v.name })} onClick={() => void verify(v)}>
                {t('vaults.verify')}
              </ActionButton>
            )}
            {v.unlocked && v.formatUpgradable && (
              <Button appearance="subtle" size="small" icon={<ArrowUpload20Regular />} aria-label={t('vaults.upgradeLabel', { name: v.name, version: formatNumber(v.formatVersion) })} onClick={() => setUpgrading(v)}>
                {t('vaults.upgrade')}
              </Button>
            )}
            <Button appearance="subtle" size="small" icon={<Key20Regular />} aria-label={t('vaults.keyFileLabel', { name: v.name })} onClick={() => setKeyFileFor(v)}>
              {t('vaults.keyFile')}
            </Button>
            <Button appearance="subtle" size="small" icon={<PlugDisconnected20Regular />} aria-label={t('vaults.disconnectLabel', { name: v.name })} onClick={() => setDisconnecting(v)}>
              {t('vaults.disconnect')}
            </Button>
            <Button appearance="subtle" size="small" icon={<Delete20Regular />} aria-label={t('vaults.deleteVaultLabel', { name: v.name })} onClick={() => setDeleting(v)}>
              {t('vaults.delete')}
            </Button>
          </div>
        ),
      }),
    ],
    [t, formatDateTime, formatNumber, styles],
  );

  const colClass = (id: string | number): string | undefined =>
    ({
      name: styles.colName,
      region: styles.colRegion,
      location: styles.colLocation,
      registered: styles.colRegistered,
      state: styles.colState,
      created: styles.colCreated,
      unlocksAtStart: styles.colUnlocksAtStart,
      actions: styles.colActions,
    })[String(id)];

  const list = vaults.data;
  const toolbar = (
    <>
      <Button appearance="primary" icon={<Add20Regular />} onClick={() => setCreating(true)}>
        {t('vaults.create')}
      </Button>
      <Button icon={<PlugConnectedAdd20Regular />} onClick={() => setConnecting(true)}>
        {t('vaults.connect')}
      </Button>
      <Button appearance="subtle" icon={<ArrowClockwise20Regular />} onClick={vaults.reload} disabled={vaults.loading}>
        {t('common.refresh')}
      </Button>
      {list && list.length > 0 && (
        <Text className={styles.count} aria-live="polite">
          {list.length === 1 ? t('vaults.countOne') : t('vaults.count', { count: formatNumber(list.length) })}
        </Text>
      )}
    </>
  );

  return (
    <Page title={t('vaults.title')} intro={t('vaults.intro')} toolbar={toolbar}>
      {vaults.error && <ErrorBar error={vaults.error} onRetry={vaults.reload} />}
      {rowAction.error && <ErrorBar error={rowAction.error} onDismiss={rowAction.clearError} />}
      {!list && vaults.loading && (
        <Skeleton aria-label={t('common.loading')}>
          <SkeletonItem size={32} />
          <SkeletonItem size={32} />
          <SkeletonItem size={32} />
        </Skeleton>
      )}
      {list && list.length === 0 && (
        <div className={styles.empty}>
          <VaultRegular className={styles.emptyIcon} fontSize={48} aria-hidden />
          <Title3 as="h2">{t('vaults.empty.title')}</Title3>
          <Text align="center" className={styles.emptyBody}>{t('vaults.empty.body')}</Text>
          <div className={styles.actions}>
            <Button appearance="primary" icon={<Add20Regular />} onClick={() => setCreating(true)}>
              {t('vaults.create')}
            </Button>
            <Button icon={<PlugConnectedAdd20Regular />} onClick={() => setConnecting(true)}>
              {t('vaults.connect')}
            </Button>
          </div>
        </div>
      )}
      {list && list.length > 0 && (
        <DataGrid
          className={styles.grid}
          items={list}
          columns={columns}
          sortable
          defaultSortState={{ sortColumn: 'name', sortDirection: 'ascending' }}
          getRowId={(v: VaultSummary) => v.id}
          focusMode="composite"
          aria-label={t('vaults.tableLabel')}
        >
          <DataGridHeader>
            <DataGridRow>{({ renderHeaderCell, columnId }) => <DataGridHeaderCell className={colClass(columnId)}>{renderHeaderCell()}</DataGridHeaderCell>}</DataGridRow>
          </DataGridHeader>
          <DataGridBody<VaultSummary>>
            {({ item, rowId }) => (
              <DataGridRow<VaultSummary> key={rowId}>
                {({ renderCell, columnId }) => <DataGridCell className={colClass(columnId)} focusMode={columnId === 'actions' ? 'group' : 'cell'}>{renderCell(item)}</DataGridCell>}
              </DataGridRow>
            )}
          </DataGridBody>
        </DataGrid>
      )}
      <CreateVaultDialog
        open={creating}
        onClose={() => setCreating(false)}
        onCreated={(vault) => {
          setCreating(false);
          // The vault just made is the one every page shows next.
          rememberVault(vault.name);
          notify('success', t('vaults.created', { name: vault.name }));
          vaults.reload();
        }}
      />
      <ConnectVaultDialog open={connecting} onClose={() => setConnecting(false)} onConnected={(v) => {
          rememberVault(v.name);
          notify('success', t('vaults.connected', { name: v.name }));
          vaults.reload();
        }}
      />
      <DisconnectVaultDialog
        vault={disconnecting}
        onClose={() => setDisconnecting(undefined)}
        onDisconnected={(result) => {
          setDisconnecting(undefined);
          notify('success', t('vaults.disconnected', { name: result.name }));
          vaults.reload();
        }}
      />
      <UnlockVaultDialog
        vault={unlocking}
        onClose={() => setUnlocking(undefined)}
        onUnlocked={(v) => {
          setUnlocking(undefined);
          notify('success', t('vaults.unlocked', { name: v.name }));
          vaults.reload();
        }}
        onSetUpKeyFile={(v) => {
          setUnlocking(undefined);
          setKeyFileFor(v);
        }}
      />
      <KeyFileDialog
        vault={keyFileFor}
        onClose={() => setKeyFileFor(undefined)}
        onChanged={(v, removed) => {
          if (removed) {
            setKeyFileFor(undefined);
            notify('success', t('vaults.keyFileDialog.removed', { name: v.name }));
          }
          vaults.reload();
        }}
      />
      <ConfirmDialog
        open={locking !== undefined}
        title={t('vaults.lockDialog.title', { name: locking?.name ?? '' })}
        confirmLabel={t('vaults.lockDialog.submit')}
        confirmIcon={<LockClosed20Regular />}
        onConfirm={() => (locking ? lock(locking) : Promise.resolve())}
        onClose={() => setLocking(undefined)}
      >
        {locking && <LockConsequences vault={locking} />}
      </ConfirmDialog>
      <ConfirmDialog
        open={upgrading !== undefined}
        title={t('vaults.upgradeDialog.title', { name: upgrading?.name ?? '' })}
        confirmLabel={t('vaults.upgradeDialog.submit')}
        confirmIcon={<ArrowUpload20Regular />}
        onConfirm={() => (upgrading ? upgrade(upgrading) : Promise.resolve())}
        onClose={() => setUpgrading(undefined)}
      >
        <Text>{t('vaults.upgradeDialog.body', { name: upgrading?.name ?? '', version: formatNumber(upgrading?.formatVersion ?? 0) })}</Text>
        <Text>{t('vaults.upgradeDialog.safe')}</Text>
        <Text>{t('vaults.upgradeDialog.older')}</Text>
      </ConfirmDialog>
      <DeleteVaultDialog
        vault={deleting}
        onClose={() => setDeleting(undefined)}
        onDeleted={(result) => {
          setDeleting(undefined);
          notify('success', t(result.dataDeleted ? 'vaults.deletedWithData' : 'vaults.deleted', { name: result.name }));
          vaults.reload();
        }}
      />
    </Page>
  );
}

/** What locking stops: the vault's scheduled backups, and every way it had to unlock at start. */
function LockConsequences({ vault }: { vault: VaultSummary }): ReactElement {
  const { t, formatNumber } = useI18n();
  const n = vault.scheduledCount;
  const how = vault.unlocksAtStart;
  return (
    <>
      <Text>{t('vaults.lockDialog.body', { name: vault.name })}</Text>
      <Text weight={n > 0 ? 'semibold' : 'regular'}>
        {n === 0 ? t('vaults.lockDialog.scheduledNone') : n === 1 ? t('vaults.lockDialog.scheduledOne') : t('vaults.lockDialog.scheduled', { count: formatNumber(n) })}
      </Text>
      {how.via === 'keychain' && <Text>{t('vaults.lockDialog.forgetsKeychain')}</Text>}
      {how.via === 'keyFile' && <Text>{t('vaults.lockDialog.forgetsKeyFile', { path: how.keyFile })}</Text>}
    </>
  );
}
