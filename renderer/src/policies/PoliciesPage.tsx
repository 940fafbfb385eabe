// The Policies page: a vault's policies with their schedule and retention, and which VMs each protects.
import {
  Badge,
  Button,
  Table,
  TableBody,
  TableCell,
  TableHeader,
  TableHeaderCell,
  TableRow,
  Text,
  Title3,
  makeStyles,
  tokens,
} from '@fluentui/react-components';
import { Add20Regular, Delete20Regular, DocumentBulletList20Regular, Edit20Regular } from '@fluentui/react-icons';
import { useState, type ReactElement } from 'react';
import { vmLabel, type ApiError, type Policy } from '../../../preload/contract.js';
import { call, useAction, useApi } from '../api.js';
import { useI18n } from '../i18n/index.js';
import { ActionButton } from '../shell/ActionButton.js';
import { ProtectionBadge } from '../shell/labels.js';
import { useNotify } from '../shell/notify.js';
import { ErrorBar, Page } from '../shell/Page.js';
import { EmptyState, VaultPicker, usePanelStyles, useVaultChoice } from '../shell/ui.js';
import { PolicyDialog } from './PolicyDialog.js';
import { PolicySummary, describeRetention, describeSchedule } from './policyForm.js';
import { useLocation } from '../routes.js';

const useStyles = makeStyles({
  layout: { display: 'grid', gridTemplateColumns: 'minmax(0, 3fr) minmax(280px, 2fr)', gap: tokens.spacingHorizontalL, alignItems: 'start' },
  selected: { backgroundColor: tokens.colorNeutralBackground1Selected },
  vmList: { margin: 0, paddingInlineStart: tokens.spacingHorizontalL },
  nameButton: { fontWeight: tokens.fontWeightSemibold, minWidth: 0, paddingInline: 0 },
});

function PolicyDetails({ vault, name }: { vault: string; name: string }): ReactElement {
  const { t } = useI18n();
  const panel = usePanelStyles();
  const styles = useStyles();
  const policy = useApi('showPolicy', { vault, name }, { refreshOn: ['protectionChanged'] });
  const p = policy.data;
  return (
    <section className={panel.padded} aria-labelledby="policy-details-title">
      <Title3 as="h2" id="policy-details-title">
        {name}
      </Title3>
      {policy.error && <ErrorBar error={policy.error} />}
      {p && (
        <>
          <PolicySummary spec={p} />
          <Text weight="semibold">{t('policies.usedBy', { count: p.vms.length })}</Text>
          {p.vms.length === 0 ? (
            <Text className={panel.muted}>{t('policies.unused')}</Text>
          ) : (
            <ul className={styles.vmList}>
              {p.vms.map((vm) => (
                <li key={vm.id}>
                  {vmLabel(vm)} <ProtectionBadge state={vm.protectionState} />
                </li>
              ))}
            </ul>
          )}
        </>
      )}
    </section>
  );
}

export function PoliciesPage(): ReactElement {
  const i18n = useI18n();
  const { t, formatNumber } = i18n;
  const styles = useStyles();
  const panel = usePanelStyles();
  const notify = useNotify();
  // A deep link's ?vault= picks the vault (and becomes the current one), as on every vault page.
  const choice = useVaultChoice(useLocation().query.get('vault'));
  const vault = choice.vault;
  const policies = useApi('listPolicies', vault ? { vault } : undefined, { refreshOn: ['protectionChanged', 'vaultsChanged'] });
  const [selected, setSelected] = useState<string>();
  const [dialog, setDialog] = useState<{ editing?: Policy } | undefined>();
  const removal = useAction();
  /** The policy of the last delete, named in its error. */
  const [removed, setRemoved] = useState<string>();

  const remove = async (p: Policy) => {
    if (!vault) return;
    setRemoved(p.name);
    await removal.run(async () => {
      await call('deletePolicy', { vault, name: p.name });
      notify('success', t('policies.deleted', { name: p.name }));
      if (selected === p.name) setSelected(undefined);
      policies.reload();
    }, p.name);
  };

  const inUseVms = (e: ApiError): string => {
    const vms = (e.details as { vms?: unknown } | undefined)?.vms;
    return Array.isArray(vms) ? vms.join(', ') : '';
  };

  const list = policies.data ?? [];
  const current = list.find((p) => p.name === selected) ?? list[0];
  return (
    <Page
      title={t('policies.title')}
      intro={t('policies.intro')}
      toolbar={
        <Button appearance="primary" icon={<Add20Regular />} onClick={() => setDialog({})} disabled={!vault}>
          {t('policies.create')}
        </Button>
      }
    >
      <VaultPicker choice={choice} />
      {policies.error && <ErrorBar error={policies.error} onRetry={policies.reload} />}
      {removal.error &&
        (removal.error.code === 'PolicyInUse' ? (
          <ErrorBar error={{ ...removal.error, message: t('policies.inUse', { name: removed ?? '', vms: inUseVms(removal.error) }), remedy: t('policies.inUseRemedy') }} onDismiss={removal.clearError} />
        ) : (
          <ErrorBar error={removal.error} onDismiss={removal.clearError} />
        ))}
      {choice.vaults.data?.length === 0 && <EmptyState icon={<DocumentBulletList20Regular />} title={t('items.noVault.title')} body={t('items.noVault.body')} />}
      {list.length > 0 && vault && (
        <div className={styles.layout}>
          <div className={panel.panel}>
            <Table aria-label={t('policies.tableLabel', { vault })}>
              <TableHeader>
                <TableRow>
                  <TableHeaderCell>{t('policies.col.name')}</TableHeaderCell>
                  <TableHeaderCell>{t('policy.schedule')}</TableHeaderCell>
                  <TableHeaderCell style={{ width: '40%' }}>{t('policy.retention')}</TableHeaderCell>
                  <TableHeaderCell style={{ width: '64px' }}>{t('policies.col.vms')}</TableHeaderCell>
                  <TableHeaderCell>{t('common.actions')}</TableHeaderCell>
                </TableRow>
              </TableHeader>
              <TableBody>
                {list.map((p) => (
                  <TableRow key={p.id} className={current?.name === p.name ? styles.selected : undefined} aria-selected={current?.name === p.name}>
                    <TableCell>
                      <Button appearance="transparent" className={styles.nameButton} onClick={() => setSelected(p.name)} aria-label={t('policies.showDetails', { name: p.name })}>
                        {p.name}
                      </Button>{' '}
                      {p.builtin && (
                        <Badge appearance="tint" color="informative" size="small">
                          {t('policies.builtin')}
                        </Badge>
                      )}
                    </TableCell>
                    <TableCell>{describeSchedule(i18n, p.schedule)}</TableCell>
                    <TableCell>
                      {describeRetention(i18n, p.retention).map((line) => (
                        <div key={line}>{line}</div>
                      ))}
                    </TableCell>
                    <TableCell>{formatNumber(p.vmCount)}</TableCell>
                    <TableCell>
                      <div className={panel.row}>
                        <Button size="small" appearance="subtle" icon={<Edit20Regular />} aria-label={t('policies.editLabel', { name: p.name })} onClick={() => setDialog({ editing: p })}>
                          {t('policies.edit')}
                        </Button>
                        {!p.builtin && (
                          <ActionButton action={removal} runKey={p.name} size="small" appearance="subtle" icon={<Delete20Regular />} aria-label={t('policies.deleteLabel', { name: p.name })} onClick={() => void remove(p)}>
                            {t('vaults.delete')}
                          </ActionButton>
                        )}
                      </div>
                    </TableCell>
                  </TableRow>
                ))}
              </TableBody>
            </Table>
          </div>
          {current && <PolicyDetails key={current.name} vault={vault} name={current.name} />}
        </div>
      )}
      {vault && dialog && (
        <PolicyDialog
          key={dialog.editing?.id ?? 'new'}
          vault={vault}
          editing={dialog.editing}
          open
          onClose={() => setDialog(undefined)}
          onSaved={(p, created) => {
            setDialog(undefined);
            notify('success', t(created ? 'policies.created' : 'policies.saved', { name: p.name }));
            setSelected(p.name);
            policies.reload();
          }}
        />
      )}
    </Page>
  );
}
