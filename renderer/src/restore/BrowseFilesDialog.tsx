// Browse files (file-level restore): a recovery point's disks and partitions, the folders of the
// one picked, a filter by name, multi-select, "Restore to folder" as a job with progress and, in
// the browser console, "Download" (one file, or a zip of the selection).
import {
  Button,
  Checkbox,
  Field,
  Input,
  Link,
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
import { ArrowDownload20Regular, ArrowUndo20Regular, ArrowUp20Regular, Document20Regular, Folder20Regular, Link20Regular, Search20Regular } from '@fluentui/react-icons';
import { useState, type FormEvent, type ReactElement } from 'react';
import { AbsolutePath, formatMode, type ApiError, type PointFileEntry, type RecoveryPoint, type Vm } from '../../../preload/contract.js';
import { call, useApi } from '../api.js';
import { useI18n } from '../i18n/index.js';
import { FolderInput } from '../shell/FolderInput.js';
import { JobDialog, StartedJobStatus, useStartedJob } from '../shell/JobDialog.js';
import { ErrorBar } from '../shell/Page.js';

const useStyles = makeStyles({
  surface: { maxWidth: '1100px', width: '100%' },
  layout: { display: 'grid', gridTemplateColumns: 'minmax(200px, 260px) 1fr', gap: tokens.spacingHorizontalL, alignItems: 'start' },
  nav: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalXS },
  disk: { fontWeight: tokens.fontWeightSemibold, marginTop: tokens.spacingVerticalS },
  part: { justifyContent: 'flex-start', textAlign: 'left' },
  muted: { color: tokens.colorNeutralForeground2 },
  main: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalS, minWidth: 0 },
  bar: { display: 'flex', gap: tokens.spacingHorizontalS, alignItems: 'center', flexWrap: 'wrap' },
  crumbs: { display: 'flex', gap: tokens.spacingHorizontalXS, alignItems: 'center', flexWrap: 'wrap' },
  table: { maxHeight: '420px', overflowY: 'auto' },
  name: { display: 'flex', gap: tokens.spacingHorizontalXS, alignItems: 'center', wordBreak: 'break-all' },
  form: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalM },
});

const join = (dir: string, name: string): string => (dir === '/' ? `/${name}` : `${dir}/${name}`);

export function BrowseFilesDialog({ vm, point, onClose }: { vm: Vm; point: RecoveryPoint | undefined; onClose: () => void }): ReactElement {
  const { t, formatDateTime, formatBytes } = useI18n();
  const styles = useStyles();
  const started = useStartedJob();
  const { job, done, action } = started;
  const [where, setWhere] = useState<{ disk?: string; partition?: number }>({});
  const [dir, setDir] = useState('/');
  const [filter, setFilter] = useState('');
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  const [restoring, setRestoring] = useState(false);
  const [target, setTarget] = useState('');
  const [keepBoth, setKeepBoth] = useState(false);
  const [downloaded, setDownloaded] = useState<string>();
  const [downloadError, setDownloadError] = useState<ApiError>();
  const listing = useApi(
    'listPointFiles',
    point ? { vm: vm.id, pointId: point.id, path: dir, ...(where.disk !== undefined ? { disk: where.disk } : {}), ...(where.partition !== undefined ? { partition: where.partition } : {}) } : undefined,
  );

  const l = listing.data;
  const shown = (l?.entries ?? []).filter((e) => e.name.toLowerCase().includes(filter.trim().toLowerCase()));
  const pathOk = AbsolutePath.safeParse(target).success;
  const sel = { ...(l?.disk ? { disk: l.disk } : {}), ...(l?.partition ? { partition: l.partition } : {}) };
  const open = (d: string) => {
    setDir(d);
    setFilter('');
  };
  const pick = (disk: string, partition: number) => {
    setWhere({ disk, partition });
    setSelected(new Set());
    open('/');
  };
  const toggle = (p: string, on: boolean) => {
    const next = new Set(selected);
    if (on) next.add(p);
    else next.delete(p);
    setSelected(next);
  };
  const allShown = shown.length > 0 && shown.every((e) => selected.has(join(dir, e.name)));
  const startRestore = async (ev: FormEvent) => {
    ev.preventDefault();
    if (!point || !pathOk || selected.size === 0) return;
    await started.start(() => call('restorePointFiles', { vm: vm.id, pointId: point.id, ...sel, paths: [...selected], targetDir: target, keepBoth }));
  };
  const download = async () => {
    if (!point || !window.cofferDownload) return;
    setDownloaded(undefined);
    setDownloadError(undefined);
    await action.run(async () => {
      const r = await window.cofferDownload!({ vm: vm.id, pointId: point.id, ...sel, paths: [...selected] });
      if (r.ok) setDownloaded(t('files.downloaded', { name: r.value.fileName, size: formatBytes(r.value.bytes) }));
      else setDownloadError(r.error);
    });
  };
  const crumbs = dir === '/' ? [] : dir.slice(1).split('/');
  const icon = (e: PointFileEntry) => (e.kind === 'dir' ? <Folder20Regular /> : e.kind === 'symlink' ? <Link20Regular /> : <Document20Regular />);

  return (
    <JobDialog
      open={point !== undefined}
      title={t('files.title', { name: vm.name })}
      className={styles.surface}
      started={started}
      onClose={onClose}
      actions={
        <>
          {window.cofferDownload && (
            <Button icon={<ArrowDownload20Regular />} disabled={selected.size === 0 || action.busy} onClick={() => void download()}>
              {t('files.download')}
            </Button>
          )}
          <Button icon={<ArrowUndo20Regular />} disabled={selected.size === 0 || restoring || action.busy} onClick={() => setRestoring(true)}>
            {t('files.restore')}
          </Button>
        </>
      }
    >
      {point && (
        <Text block className={styles.muted}>
          {t('files.point', { created: formatDateTime(point.created) })}
        </Text>
      )}
      {listing.error && <ErrorBar error={listing.error} onRetry={listing.reload} />}
      {!l && !listing.error && <Spinner size="small" />}
      {l && (
        <div className={styles.layout}>
          <nav className={styles.nav} aria-label={t('files.disks')}>
            {l.disks.map((d) => (
              <div key={d.name} className={styles.nav}>
                <Text className={styles.disk}>
                  {d.name} · {d.format} · {formatBytes(d.size)} · {d.scheme === 'none' ? t('files.noTable') : d.scheme.toUpperCase()}
                </Text>
                {d.reason && (
                  <Text size={200} className={styles.muted}>
                    {t('files.notBrowsable', { reason: d.reason })}
                  </Text>
                )}
                {d.partitions.map((p) => {
                  const text = t('files.partition', { number: p.number, filesystem: p.filesystemLabel, size: formatBytes(p.size) }) + (p.label ? ` “${p.label}”` : '');
                  return p.browsable ? (
                    <Button
                      key={p.number}
                      className={styles.part}
                      appearance={l.disk === d.name && l.partition === p.number ? 'primary' : 'subtle'}
                      aria-current={l.disk === d.name && l.partition === p.number ? 'true' : undefined}
                      onClick={() => pick(d.name, p.number)}
                    >
                      {text}
                    </Button>
                  ) : (
                    <Text key={p.number} size={200} className={styles.muted}>
                      {text}: {t('files.notBrowsable', { reason: p.reason ?? '' })}
                    </Text>
                  );
                })}
              </div>
            ))}
          </nav>
          <div className={styles.main}>
            {l.disk === null ? (
              <Text>{t('files.nothing')}</Text>
            ) : (
              <>
                <div className={styles.bar}>
                  <Button size="small" icon={<ArrowUp20Regular />} disabled={dir === '/'} onClick={() => open(dir.slice(0, dir.lastIndexOf('/')) || '/')} aria-label={t('files.up')} />
                  <div className={styles.crumbs}>
                    <Link onClick={() => open('/')}>{t('files.root')}</Link>
                    {crumbs.map((c, i) => (
                      <span key={i}>
                        {' / '}
                        <Link onClick={() => open(`/${crumbs.slice(0, i + 1).join('/')}`)}>{c}</Link>
                      </span>
                    ))}
                  </div>
                </div>
                <Field label={t('files.filter')}>
                  <Input value={filter} onChange={(_, d) => setFilter(d.value)} contentBefore={<Search20Regular />} autoComplete="off" spellCheck={false} />
                </Field>
                <div className={styles.table}>
                  <Table size="small" aria-label={t('files.tableLabel', { path: dir })}>
                    <TableHeader>
                      <TableRow>
                        <TableHeaderCell>
                          <Checkbox
                            checked={allShown}
                            aria-label={t('files.selectAll')}
                            onChange={(_, d) => {
                              const next = new Set(selected);
                              for (const e of shown) (d.checked ? next.add.bind(next) : next.delete.bind(next))(join(dir, e.name));
                              setSelected(next);
                            }}
                          />
                        </TableHeaderCell>
                        <TableHeaderCell>{t('files.col.name')}</TableHeaderCell>
                        <TableHeaderCell>{t('files.col.size')}</TableHeaderCell>
                        <TableHeaderCell>{t('files.col.modified')}</TableHeaderCell>
                        <TableHeaderCell>{t('files.col.mode')}</TableHeaderCell>
                      </TableRow>
                    </TableHeader>
                    <TableBody>
                      {shown.map((e) => {
                        const p = join(dir, e.name);
                        return (
                          <TableRow key={e.name}>
                            <TableCell>
                              <Checkbox checked={selected.has(p)} onChange={(_, d) => toggle(p, d.checked === true)} aria-label={t('files.select', { name: e.name })} />
                            </TableCell>
                            <TableCell>
                              <span className={styles.name}>
                                {icon(e)}
                                {e.kind === 'dir' ? (
                                  <Link onClick={() => open(p)} aria-label={t('files.openFolder', { name: e.name })}>
                                    {e.name}
                                  </Link>
                                ) : (
                                  <span>
                                    {e.name}
                                    {e.target !== null ? ` → ${e.target}` : ''}
                                  </span>
                                )}
                              </span>
                            </TableCell>
                            <TableCell>{e.kind === 'file' ? formatBytes(e.size) : ''}</TableCell>
                            <TableCell>{formatDateTime(e.mtime)}</TableCell>
                            <TableCell>
                              <code>{formatMode(e.mode)}</code>
                            </TableCell>
                          </TableRow>
                        );
                      })}
                    </TableBody>
                  </Table>
                  {l.entries.length === 0 && <Text>{t('files.empty')}</Text>}
                  {l.entries.length > 0 && shown.length === 0 && <Text>{t('files.noMatch', { filter })}</Text>}
                </div>
                <Text size={200} className={styles.muted}>
                  {t('files.selected', { count: selected.size })} · {t('files.fetched', { size: formatBytes(l.bytesFetched) })}
                </Text>
              </>
            )}
            {restoring && !job && (
              <form className={styles.form} onSubmit={startRestore} noValidate>
                <Field label={t('files.target')} hint={t('files.targetHint')} required validationState={target && !pathOk ? 'error' : 'none'} validationMessage={target && !pathOk ? t('validation.path.absolute') : undefined}>
                  <FolderInput value={target} onValue={setTarget} />
                </Field>
                <Checkbox checked={keepBoth} onChange={(_, d) => setKeepBoth(d.checked === true)} label={t('files.keepBoth')} />
                <div className={styles.bar}>
                  <Button appearance="primary" type="submit" disabled={action.busy || !pathOk || selected.size === 0} icon={action.busy ? <Spinner size="tiny" /> : <ArrowUndo20Regular />}>
                    {t('files.startRestore', { count: selected.size })}
                  </Button>
                  <Button onClick={() => setRestoring(false)}>{t('common.cancel')}</Button>
                </div>
              </form>
            )}
            {job && (
              <div className={styles.form}>
                <StartedJobStatus job={job} label={t('files.progress')} />
                {done && (
                  <Button
                    onClick={() => {
                      started.reset();
                      setRestoring(false);
                    }}
                  >
                    {t('files.back')}
                  </Button>
                )}
              </div>
            )}
            {downloaded && (
              <Text block aria-live="polite">
                {downloaded}
              </Text>
            )}
            {downloadError && <ErrorBar error={downloadError} />}
          </div>
        </div>
      )}
    </JobDialog>
  );
}
