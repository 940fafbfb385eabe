// The Sources page: the hypervisor connections and folders Coffer scans, their state and VM count.
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
  makeStyles,
  tokens,
  type BadgeProps,
} from '@fluentui/react-components';
import { Add20Regular, ArrowClockwise20Regular, Delete20Regular, Edit20Regular, PlugConnected20Regular } from '@fluentui/react-icons';
import { useState, type ReactElement } from 'react';
import type { Source } from '../../../preload/contract.js';
import { call, useAction, useApi } from '../api.js';
import { useI18n } from '../i18n/index.js';
import { ActionButton } from '../shell/ActionButton.js';
import { useNotify } from '../shell/notify.js';
import { PathText } from '../shell/Path.js';
import { ErrorBar, Page } from '../shell/Page.js';
import { EmptyState, usePanelStyles } from '../shell/ui.js';
import { AddSourceDialog } from './AddSourceDialog.js';
import { EditSourceDialog } from './EditSourceDialog.js';

const useStyles = makeStyles({
  message: { color: tokens.colorNeutralForeground2, display: 'block', maxWidth: '40ch' },
  // Columns sized by their content: the folder path gets the room its longest name needs.
  table: { tableLayout: 'auto' },
});

const stateColor: Record<Source['state'], BadgeProps['color']> = {
  unknown: 'informative',
  reachable: 'success',
  unreachable: 'danger',
  'tool-missing': 'warning',
};

export function SourcesPage(): ReactElement {
  const { t, formatDateTime, formatNumber } = useI18n();
  const styles = useStyles();
  const panel = usePanelStyles();
  const notify = useNotify();
  const sources = useApi('listSources', {}, { refreshOn: ['vaultsChanged', 'jobUpdated'] });
  const [adding, setAdding] = useState(false);
  const [editing, setEditing] = useState<Source>();
  const removal = useAction();

  const remove = (s: Source) =>
    removal.run(async () => {
      const r = await call('removeSource', { name: s.name });
      notify('success', t('sources.removed', { name: r.name }));
      sources.reload();
    }, s.name);

  const list = sources.data;
  return (
    <Page
      title={t('sources.title')}
      intro={t('sources.intro')}
      toolbar={
        <>
          <Button appearance="primary" icon={<Add20Regular />} onClick={() => setAdding(true)}>
            {t('sources.add')}
          </Button>
          <Button appearance="subtle" icon={<ArrowClockwise20Regular />} onClick={sources.reload}>
            {t('common.refresh')}
          </Button>
        </>
      }
    >
      {sources.error && <ErrorBar error={sources.error} onRetry={sources.reload} />}
      {removal.error && <ErrorBar error={removal.error} onDismiss={removal.clearError} />}
      {list && list.length === 0 && (
        <EmptyState
          icon={<PlugConnected20Regular />}
          title={t('sources.empty.title')}
          body={t('sources.empty.body')}
          action={
            <Button appearance="primary" icon={<Add20Regular />} onClick={() => setAdding(true)}>
              {t('sources.add')}
            </Button>
          }
        />
      )}
      {list && list.length > 0 && (
        <div className={panel.panel}>
          <Table aria-label={t('sources.title')} className={styles.table}>
            <TableHeader>
              <TableRow>
                <TableHeaderCell>{t('sources.col.name')}</TableHeaderCell>
                <TableHeaderCell>{t('sources.col.kind')}</TableHeaderCell>
                <TableHeaderCell>{t('sources.col.target')}</TableHeaderCell>
                <TableHeaderCell>{t('sources.col.region')}</TableHeaderCell>
                <TableHeaderCell>{t('sources.col.status')}</TableHeaderCell>
                <TableHeaderCell>{t('sources.col.vms')}</TableHeaderCell>
                <TableHeaderCell>{t('sources.col.lastScan')}</TableHeaderCell>
                <TableHeaderCell>{t('common.actions')}</TableHeaderCell>
              </TableRow>
            </TableHeader>
            <TableBody>
              {list.map((s) => (
                <TableRow key={s.id}>
                  <TableCell>
                    <Text weight="semibold">{s.name}</Text>
                    {s.cloudServiceLabel && (
                      <Text size={200} block className={panel.muted}>
                        {t('sources.cloudServiceShort', { label: s.cloudServiceLabel })}
                      </Text>
                    )}
                  </TableCell>
                  <TableCell>{t(`sources.kind.${s.kind}`)}</TableCell>
                  <TableCell>
                    <PathText mono text={s.target || '—'} />
                  </TableCell>
                  <TableCell>{s.region}</TableCell>
                  <TableCell>
                    <Badge appearance="tint" color={stateColor[s.state]}>
                      {t(`sources.state.${s.state}`)}
                    </Badge>
                    {s.message && (
                      <Text size={200} className={styles.message}>
                        <PathText text={s.message} />
                      </Text>
                    )}
                  </TableCell>
                  <TableCell>{formatNumber(s.vmCount)}</TableCell>
                  <TableCell>{s.lastScanAt ? formatDateTime(s.lastScanAt) : t('sources.neverScanned')}</TableCell>
                  <TableCell>
                    {s.kind === 'folder' && (
                      <Button size="small" appearance="subtle" icon={<Edit20Regular />} aria-label={t('sources.editLabel', { name: s.name })} onClick={() => setEditing(s)}>
                        {t('sources.edit')}
                      </Button>
                    )}
                    <ActionButton action={removal} runKey={s.name} size="small" appearance="subtle" icon={<Delete20Regular />} aria-label={t('sources.removeLabel', { name: s.name })} onClick={() => void remove(s)}>
                      {t('sources.remove')}
                    </ActionButton>
                  </TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
        </div>
      )}
      <EditSourceDialog
        source={editing}
        onClose={() => setEditing(undefined)}
        onSaved={(saved) => {
          setEditing(undefined);
          notify('success', t('sources.saved', { name: saved.name }));
          sources.reload();
        }}
      />
      <AddSourceDialog
        open={adding}
        onClose={() => setAdding(false)}
        onAdded={(s) => {
          setAdding(false);
          notify('success', t('sources.added', { name: s.name }));
          sources.reload();
        }}
      />
    </Page>
  );
}
