// A VM's recovery points, newest first, with the tiers that keep each one; Restore opens the
// Restore wizard (RestoreDialog.tsx).
import {
  Badge,
  Button,
  Dropdown,
  Field,
  Option,
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
import { ArrowUndo20Regular, FolderOpen20Regular, HeartPulse20Regular, History20Regular } from '@fluentui/react-icons';
import { useState, type ReactElement } from 'react';
import { vmLabel, type RecoveryPoint } from '../../../preload/contract.js';
import { useApi } from '../api.js';
import { useI18n, type MessageKey } from '../i18n/index.js';
import { PointsTimeline, keptUntilText } from './PointsTimeline.js';
import { replaceQuery, useLocation } from '../routes.js';
import { NextStepEmptyState } from '../shell/NextStepEmptyState.js';
import { TierBadge } from '../shell/labels.js';
import { ErrorBar, Page } from '../shell/Page.js';
import { EmptyState, VaultPicker, usePanelStyles, useVaultChoice } from '../shell/ui.js';
import { RestoreDialog } from './RestoreDialog.js';
import { BrowseFilesDialog } from './BrowseFilesDialog.js';
import { TestRestoreDialog } from './TestRestoreDialog.js';

const useStyles = makeStyles({
  pickers: { display: 'flex', gap: tokens.spacingHorizontalXL, flexWrap: 'wrap', alignItems: 'flex-end' },
  badges: { display: 'flex', gap: tokens.spacingHorizontalXS, flexWrap: 'wrap' },
  actions: { display: 'flex', gap: tokens.spacingHorizontalXS, flexWrap: 'wrap' },
  vmPicker: { minWidth: '240px' },
});

const consistencyKeys: Record<string, MessageKey> = {
  offline: 'points.consistency.offline',
  crash: 'points.consistency.crash',
  filesystem: 'points.consistency.filesystem',
  application: 'points.consistency.application',
};

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
  const [browsing, setBrowsing] = useState<RecoveryPoint>();
  const [testing, setTesting] = useState<RecoveryPoint>();
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
      {vm && points.data && list.length === 0 && (
        <NextStepEmptyState
          icon={<History20Regular />}
          title={t('points.empty.title')}
          steps={[
            { applies: vm.protectionState === 'ProtectionStopped', body: t('points.empty.stopped') },
            { applies: true, body: t('points.empty.body') },
          ]}
        />
      )}
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
                        {t('points.manual')}
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
                        <TierBadge key={k} tier={k} />
                      ))}
                    </div>
                    {p.keptBy.includes('retain-until') && p.keptUntil && (
                      <Text size={200} block className={panel.muted}>
                        {keptUntilText(t, p.keptUntil, formatDateTime(p.keptUntil.until))}
                      </Text>
                    )}
                  </TableCell>
                  <TableCell>{formatNumber(p.disks.length)}</TableCell>
                  <TableCell>
                    <div className={styles.actions}>
                      <Button size="small" icon={<ArrowUndo20Regular />} onClick={() => setRestoring(p)} aria-label={t('restore.label', { created: formatDateTime(p.created) })}>
                        {t('restore.open')}
                      </Button>
                      <Button size="small" icon={<HeartPulse20Regular />} onClick={() => setTesting(p)} aria-label={t('restoreTest.label', { created: formatDateTime(p.created) })}>
                        {t('restoreTest.open')}
                      </Button>
                      <Button size="small" icon={<FolderOpen20Regular />} onClick={() => setBrowsing(p)} aria-label={t('files.label', { created: formatDateTime(p.created) })}>
                        {t('files.open')}
                      </Button>
                    </div>
                  </TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
        </div>
      )}
      {vm && <RestoreDialog key={restoring?.id ?? 'none'} vm={vm} point={restoring} among={candidates} onClose={() => setRestoring(undefined)} />}
      {vm && <BrowseFilesDialog key={browsing?.id ?? 'none'} vm={vm} point={browsing} onClose={() => setBrowsing(undefined)} />}
      {vm && <TestRestoreDialog key={`test-${testing?.id ?? 'none'}`} vm={vm} point={testing} among={candidates} onClose={() => setTesting(undefined)} />}
    </Page>
  );
}
