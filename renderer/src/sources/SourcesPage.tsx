import {
  Badge,
  Button,
  Dialog,
  DialogActions,
  DialogBody,
  DialogContent,
  DialogSurface,
  DialogTitle,
  Field,
  Input,
  Radio,
  RadioGroup,
  Spinner,
  Switch,
  Table,
  TableBody,
  TableCell,
  TableHeader,
  TableHeaderCell,
  TableRow,
  Text,
  Textarea,
  makeStyles,
  tokens,
  type BadgeProps,
} from '@fluentui/react-components';
import { Add20Regular, ArrowClockwise20Regular, Delete20Regular, Edit20Regular, PlugConnected20Regular } from '@fluentui/react-icons';
import { useState, type FormEvent, type ReactElement } from 'react';
import { methods, type ApiError, type Source } from '../../../preload/contract.js';
import { call, toApiError, useApi } from '../api.js';
import { useI18n, useT, type MessageKey } from '../i18n/index.js';
import { FolderInput } from '../shell/FolderInput.js';
import { useNotify } from '../shell/notify.js';
import { ErrorBar, Page } from '../shell/Page.js';
import { EmptyState, usePanelStyles } from '../shell/ui.js';

const useStyles = makeStyles({
  form: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalM },
  surface: { maxWidth: '560px', width: '100%' },
  message: { color: tokens.colorNeutralForeground2, display: 'block', maxWidth: '40ch' },
});

type Kind = 'folder' | 'libvirt';
type SourceField = 'target' | 'region' | 'name' | 'cloudServiceLabel' | 'allowedRoots';
interface Values {
  kind: Kind;
  target: string;
  region: string;
  name: string;
  cloudServiceLabel: string;
  /** One absolute path a line. */
  allowedRoots: string;
  allowBlockDevices: boolean;
}
const empty: Values = { kind: 'folder', target: '', region: '', name: '', cloudServiceLabel: '', allowedRoots: '', allowBlockDevices: false };

const rootsOf = (text: string): string[] =>
  text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');

function argsOf(v: Values) {
  return {
    kind: v.kind,
    target: v.target.trim(),
    region: v.region.trim(),
    ...(v.name.trim() ? { name: v.name.trim() } : {}),
    ...(v.cloudServiceLabel.trim() ? { cloudServiceLabel: v.cloudServiceLabel.trim() } : {}),
    ...(v.kind === 'folder' ? { allowedRoots: rootsOf(v.allowedRoots), allowBlockDevices: v.allowBlockDevices } : {}),
  };
}

/** Localized messages for the contract's addSource issues, keyed by field. */
function validate(v: Values): Partial<Record<SourceField, MessageKey>> {
  const r = methods.addSource.args.safeParse(argsOf(v));
  if (r.success) return {};
  const out: Partial<Record<SourceField, MessageKey>> = {};
  for (const issue of r.error.issues) {
    const field = issue.path[0];
    if (field === 'target') out.target = v.kind === 'folder' ? 'sources.err.folderPath' : 'sources.err.libvirtUri';
    else if (field === 'region') out.region = v.region.trim() === '' ? 'validation.region.required' : 'validation.region.format';
    else if (field === 'name') out.name = 'sources.err.name';
    else if (field === 'cloudServiceLabel') out.cloudServiceLabel = 'sources.err.label';
    else if (field === 'allowedRoots') out.allowedRoots = 'sources.err.allowedRoots';
  }
  return out;
}

/** Where a folder source may read VM disks besides its own folder (the engine refuses anything else). */
function ConfinementFields({ values, onChange, error, onBlur }: { values: Values; onChange: (v: Partial<Values>) => void; error: string | undefined; onBlur: () => void }): ReactElement {
  const t = useT();
  return (
    <>
      <Field label={t('sources.allowedRoots')} hint={t('sources.allowedRootsHint')} validationMessage={error} validationState={error ? 'error' : 'none'}>
        <Textarea value={values.allowedRoots} onChange={(_, d) => onChange({ allowedRoots: d.value })} onBlur={onBlur} resize="vertical" spellCheck={false} placeholder="/srv/disks" />
      </Field>
      <Switch checked={values.allowBlockDevices} onChange={(_, d) => onChange({ allowBlockDevices: d.checked })} label={t('sources.allowBlockDevices')} />
      <Text size={200}>{t('sources.confinementHelp')}</Text>
    </>
  );
}

function AddSourceDialog({ open, onClose, onAdded }: { open: boolean; onClose: () => void; onAdded: (s: Source) => void }): ReactElement {
  const t = useT();
  const styles = useStyles();
  const [values, setValues] = useState<Values>(empty);
  const [touched, setTouched] = useState<Partial<Record<SourceField, boolean>>>({});
  const [error, setError] = useState<ApiError>();
  const [busy, setBusy] = useState(false);
  const errors = validate(values);

  const close = () => {
    if (busy) return;
    setValues(empty);
    setTouched({});
    setError(undefined);
    onClose();
  };
  const set = (field: keyof Values) => (_: unknown, data: { value: string }) => setValues((v) => ({ ...v, [field]: data.value }));
  const blur = (field: SourceField) => () => setTouched((s) => ({ ...s, [field]: true }));
  const msg = (field: SourceField) => (touched[field] && errors[field] ? t(errors[field]) : undefined);

  const submit = async (ev: FormEvent) => {
    ev.preventDefault();
    setTouched({ target: true, region: true, name: true, cloudServiceLabel: true, allowedRoots: true });
    if (Object.keys(errors).length > 0) return;
    setBusy(true);
    setError(undefined);
    try {
      const source = await call('addSource', argsOf(values));
      setValues(empty);
      setTouched({});
      onAdded(source);
    } catch (err) {
      setError(toApiError(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Dialog open={open} onOpenChange={(_, d) => !d.open && close()}>
      <DialogSurface className={styles.surface}>
        <form onSubmit={submit} noValidate>
          <DialogBody>
            <DialogTitle>{t('sources.add')}</DialogTitle>
            <DialogContent className={styles.form}>
              <Field label={t('sources.kind')}>
                <RadioGroup value={values.kind} onChange={(_, d) => setValues((v) => ({ ...v, kind: d.value as Kind }))} layout="horizontal">
                  <Radio value="folder" label={t('sources.kind.folder')} />
                  <Radio value="libvirt" label={t('sources.kind.libvirt')} />
                </RadioGroup>
              </Field>
              <Field
                label={values.kind === 'folder' ? t('sources.folderPath') : t('sources.libvirtUri')}
                hint={values.kind === 'folder' ? t('sources.folderPathHint') : t('sources.libvirtUriHint')}
                required
                validationMessage={msg('target')}
                validationState={msg('target') ? 'error' : 'none'}
              >
                {values.kind === 'folder' ? (
                  <FolderInput value={values.target} onValue={(value) => set('target')(undefined, { value })} onBlur={blur('target')} autoFocus />
                ) : (
                  <Input value={values.target} onChange={set('target')} onBlur={blur('target')} autoComplete="off" spellCheck={false} autoFocus />
                )}
              </Field>
              <Field label={t('sources.region')} hint={t('sources.regionHint')} required validationMessage={msg('region')} validationState={msg('region') ? 'error' : 'none'}>
                <Input value={values.region} onChange={set('region')} onBlur={blur('region')} autoComplete="off" spellCheck={false} />
              </Field>
              <Field label={t('sources.name')} hint={t('sources.nameHint')} validationMessage={msg('name')} validationState={msg('name') ? 'error' : 'none'}>
                <Input value={values.name} onChange={set('name')} onBlur={blur('name')} autoComplete="off" spellCheck={false} />
              </Field>
              <Field
                label={t('sources.cloudServiceLabel')}
                hint={t('sources.cloudServiceLabelHint')}
                validationMessage={msg('cloudServiceLabel')}
                validationState={msg('cloudServiceLabel') ? 'error' : 'none'}
              >
                <Input value={values.cloudServiceLabel} onChange={set('cloudServiceLabel')} onBlur={blur('cloudServiceLabel')} autoComplete="off" />
              </Field>
              {values.kind === 'folder' && <ConfinementFields values={values} onChange={(p) => setValues((v) => ({ ...v, ...p }))} error={msg('allowedRoots')} onBlur={blur('allowedRoots')} />}
              {error && <ErrorBar error={error} />}
            </DialogContent>
            <DialogActions>
              <Button appearance="secondary" onClick={close} disabled={busy}>
                {t('common.cancel')}
              </Button>
              <Button appearance="primary" type="submit" disabled={busy} icon={busy ? <Spinner size="tiny" /> : undefined}>
                {t('sources.addSubmit')}
              </Button>
            </DialogActions>
          </DialogBody>
        </form>
      </DialogSurface>
    </Dialog>
  );
}

/** Edits where a folder source may read VM disks: its allowed roots and whether block devices are read. */
function EditSourceDialog({ source, onClose, onSaved }: { source: Source | undefined; onClose: () => void; onSaved: (s: Source) => void }): ReactElement {
  const t = useT();
  const styles = useStyles();
  const [values, setValues] = useState<Values>(empty);
  const [loadedFor, setLoadedFor] = useState<string>();
  const [touched, setTouched] = useState(false);
  const [error, setError] = useState<ApiError>();
  const [busy, setBusy] = useState(false);
  if (source && loadedFor !== source.id) {
    setLoadedFor(source.id);
    setValues({ ...empty, kind: 'folder', target: source.target, region: source.region, allowedRoots: source.allowedRoots.join('\n'), allowBlockDevices: source.allowBlockDevices });
  }
  const bad = validate(values).allowedRoots;
  const close = () => {
    if (busy) return;
    setLoadedFor(undefined);
    setTouched(false);
    setError(undefined);
    onClose();
  };
  const submit = async (ev: FormEvent) => {
    ev.preventDefault();
    setTouched(true);
    if (!source || bad) return;
    setBusy(true);
    setError(undefined);
    try {
      const saved = await call('editSource', { name: source.name, allowedRoots: rootsOf(values.allowedRoots), allowBlockDevices: values.allowBlockDevices });
      setLoadedFor(undefined);
      setTouched(false);
      onSaved(saved);
    } catch (err) {
      setError(toApiError(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Dialog open={source !== undefined} onOpenChange={(_, d) => !d.open && close()}>
      <DialogSurface className={styles.surface}>
        <form onSubmit={submit} noValidate>
          <DialogBody>
            <DialogTitle>{t('sources.editTitle', { name: source?.name ?? '' })}</DialogTitle>
            <DialogContent className={styles.form}>
              <Text>{t('sources.editIntro', { target: source?.target ?? '' })}</Text>
              <ConfinementFields values={values} onChange={(p) => setValues((v) => ({ ...v, ...p }))} error={touched && bad ? t(bad) : undefined} onBlur={() => setTouched(true)} />
              {error && <ErrorBar error={error} />}
            </DialogContent>
            <DialogActions>
              <Button appearance="secondary" onClick={close} disabled={busy}>
                {t('common.cancel')}
              </Button>
              <Button appearance="primary" type="submit" disabled={busy} icon={busy ? <Spinner size="tiny" /> : undefined}>
                {t('sources.editSubmit')}
              </Button>
            </DialogActions>
          </DialogBody>
        </form>
      </DialogSurface>
    </Dialog>
  );
}

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
  const [error, setError] = useState<ApiError>();
  const [removing, setRemoving] = useState<string>();
  const [editing, setEditing] = useState<Source>();

  const remove = async (s: Source) => {
    setRemoving(s.name);
    setError(undefined);
    try {
      const r = await call('removeSource', { name: s.name });
      notify('success', t('sources.removed', { name: r.name }));
      sources.reload();
    } catch (err) {
      setError(toApiError(err));
    } finally {
      setRemoving(undefined);
    }
  };

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
      {error && <ErrorBar error={error} onDismiss={() => setError(undefined)} />}
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
          <Table aria-label={t('sources.title')}>
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
                    <span className={panel.mono}>{s.target || '—'}</span>
                  </TableCell>
                  <TableCell>{s.region}</TableCell>
                  <TableCell>
                    <Badge appearance="tint" color={stateColor[s.state]}>
                      {t(`sources.state.${s.state}`)}
                    </Badge>
                    {s.message && (
                      <Text size={200} className={styles.message}>
                        {s.message}
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
                    <Button
                      size="small"
                      appearance="subtle"
                      icon={removing === s.name ? <Spinner size="tiny" /> : <Delete20Regular />}
                      disabled={removing !== undefined}
                      aria-label={t('sources.removeLabel', { name: s.name })}
                      onClick={() => void remove(s)}
                    >
                      {t('sources.remove')}
                    </Button>
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
