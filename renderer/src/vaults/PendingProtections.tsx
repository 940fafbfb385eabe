// The protections a vault records that this install resumes only once the admin confirms them
// (after Connect existing vault, or when another install protected a VM of a shared vault).
import { Button, MessageBar, MessageBarActions, MessageBarBody, MessageBarTitle, Spinner, Text, makeStyles, tokens } from '@fluentui/react-components';
import { ShieldCheckmark20Regular } from '@fluentui/react-icons';
import { useState, type ReactElement } from 'react';
import { vmLabel, type PendingProtection } from '../../../preload/contract.js';
import { call, useAction, useApi } from '../api.js';
import { useI18n } from '../i18n/index.js';
import { useNotify } from '../shell/notify.js';
import { ErrorBar } from '../shell/Page.js';

const useStyles = makeStyles({
  list: { margin: 0, paddingInlineStart: tokens.spacingHorizontalXL },
  wrap: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalS },
});

/**
 * A banner listing the pending protections of a vault with "Confirm". `pending` as the caller has
 * it (the result of connectVault), else loaded and kept fresh here.
 */
export function PendingProtections({ vault, pending }: { vault: string; pending?: PendingProtection[] }): ReactElement | null {
  const { t } = useI18n();
  const styles = useStyles();
  const notify = useNotify();
  const action = useAction();
  const loaded = useApi('listPendingProtections', pending ? undefined : { vault }, { refreshOn: ['protectionChanged', 'vaultsChanged'] });
  const [confirmed, setConfirmed] = useState<Set<string>>(new Set());
  const list = (pending ?? loaded.data ?? []).filter((p) => !confirmed.has(p.vmId));
  if (list.length === 0 && !action.error) return null;
  const ready = list.filter((p) => !p.backupDataOnly);
  const waiting = list.filter((p) => p.backupDataOnly);

  const confirm = async () => {
    const vms = await action.run(() => call('confirmProtections', { vault, vms: ready.map((p) => p.vmId) }));
    if (!vms) return;
    setConfirmed((s) => new Set([...s, ...vms.map((v) => v.id)]));
    notify('success', t('pending.confirmed', { count: vms.length }));
    loaded.reload();
  };

  return (
    <div className={styles.wrap}>
      {list.length > 0 && (
        <MessageBar intent="info" layout="multiline" aria-label={t('pending.title')}>
          <MessageBarBody>
            <MessageBarTitle>{t('pending.title')}</MessageBarTitle> {t('pending.body')}
            <ul className={styles.list}>
              {list.map((p) => (
                <li key={p.vmId}>
                  {t('pending.item', { name: vmLabel({ name: p.vmName, cloudService: p.cloudService }), policy: p.policy })}
                  {p.backupDataOnly && <Text> {t('pending.needsVm')}</Text>}
                </li>
              ))}
            </ul>
            {waiting.length > 0 && ready.length === 0 && <Text block>{t('pending.allNeedVm')}</Text>}
          </MessageBarBody>
          {ready.length > 0 && (
            <MessageBarActions>
              <Button appearance="primary" icon={action.busy ? <Spinner size="tiny" /> : <ShieldCheckmark20Regular />} disabled={action.busy} onClick={() => void confirm()}>
                {ready.length === 1 ? t('pending.confirmOne') : t('pending.confirm', { count: ready.length })}
              </Button>
            </MessageBarActions>
          )}
        </MessageBar>
      )}
      {action.error && <ErrorBar error={action.error} onDismiss={action.clearError} />}
    </div>
  );
}
