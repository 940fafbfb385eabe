// The job log (W13, W19, W21): filters in the address (#/jobs?status=Failed&id=12), a
// virtualised list paged by keyset as you scroll, and a live details pane.
import {
  Button,
  ProgressBar,
  Spinner,
  Text,
  Title3,
  makeStyles,
  mergeClasses,
  tokens,
} from '@fluentui/react-components';
import { Dismiss20Regular, DismissCircle20Regular, FilterDismiss20Regular, TaskListLtr20Regular } from '@fluentui/react-icons';
import { useVirtualizer } from '@tanstack/react-virtual';
import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState, type CSSProperties, type ReactElement } from 'react';
import { jobOperations, jobStatuses, jobTriggers, vmLabel, type ApiError, type Job, type JobOperation, type JobStatus, type JobTrigger } from '../../../preload/contract.js';
import { call, toApiError, useAction, useApi, useEngineEvent } from '../api.js';
import { useI18n } from '../i18n/index.js';
import { replaceQuery, useLocation } from '../routes.js';
import { JobStatusBadge, jobSubject, operationLabel, statusLabel, triggerLabel } from '../shell/labels.js';
import { useNotify, useTrackJobs } from '../shell/notify.js';
import { ErrorBar, Page } from '../shell/Page.js';
import { ActionButton } from '../shell/ActionButton.js';
import { JobProgress } from '../shell/JobProgress.js';
import { EmptyState, usePanelStyles } from '../shell/ui.js';
import { inRange, JobFilterBar, rangeQuery } from './JobFilters.js';

const PAGE = 100;
const ROW_HEIGHT = 52;

const useStyles = makeStyles({
  layout: { display: 'grid', gridTemplateColumns: 'minmax(0, 3fr) minmax(320px, 2fr)', gap: tokens.spacingHorizontalL, alignItems: 'start' },
  layoutSingle: { display: 'grid', gridTemplateColumns: 'minmax(0, 1fr)' },
  // The Operation column is never narrower than the longest operation label in this language
  // (--jobs-op, measured), the same in every row; with the details panel open the list keeps its
  // primary columns (trigger and duration of the selected job are in the panel).
  columnsFull: { gridTemplateColumns: 'minmax(var(--jobs-op, auto), 1.2fr) minmax(0, 1.3fr) minmax(0, 1.2fr) minmax(0, 0.8fr) minmax(0, 1.6fr) minmax(0, 0.6fr)' },
  columnsCompact: { gridTemplateColumns: 'minmax(var(--jobs-op, auto), 1.2fr) minmax(0, 1.3fr) minmax(0, 1.2fr) minmax(0, 1.6fr)' },
  measure: {
    position: 'absolute',
    visibility: 'hidden',
    height: 0,
    overflow: 'hidden',
    display: 'flex',
    flexDirection: 'column',
    alignItems: 'flex-start',
    fontSize: tokens.fontSizeBase300,
    whiteSpace: 'nowrap',
  },
  listHead: {
    display: 'grid',
    gap: tokens.spacingHorizontalM,
    padding: `${tokens.spacingVerticalS} ${tokens.spacingHorizontalL}`,
    fontWeight: tokens.fontWeightSemibold,
    borderBottom: `${tokens.strokeWidthThin} solid ${tokens.colorNeutralStroke2}`,
    color: tokens.colorNeutralForeground2,
    fontSize: tokens.fontSizeBase200,
  },
  scroller: { height: 'calc(100vh - 360px)', minHeight: '280px', overflowY: 'auto', position: 'relative' },
  row: {
    position: 'absolute',
    left: 0,
    width: '100%',
    display: 'grid',
    gap: tokens.spacingHorizontalM,
    alignItems: 'center',
    padding: `0 ${tokens.spacingHorizontalL}`,
    boxSizing: 'border-box',
    border: 'none',
    borderBottom: `${tokens.strokeWidthThin} solid ${tokens.colorNeutralStroke3}`,
    backgroundColor: 'transparent',
    color: tokens.colorNeutralForeground1,
    fontFamily: 'inherit',
    fontSize: tokens.fontSizeBase300,
    textAlign: 'start',
    cursor: 'pointer',
    ':hover': { backgroundColor: tokens.colorNeutralBackground1Hover },
    ':focus-visible': { outline: `${tokens.strokeWidthThick} solid ${tokens.colorStrokeFocus2}`, outlineOffset: '-2px' },
  },
  rowSelected: { backgroundColor: tokens.colorNeutralBackground1Selected },
  cell: { overflow: 'hidden', textOverflow: 'ellipsis', whiteSpace: 'nowrap' },
  progressCell: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalXXS },
  details: { position: 'sticky', top: 0 },
  dl: { margin: 0, display: 'grid', gridTemplateColumns: 'max-content 1fr', columnGap: tokens.spacingHorizontalL, rowGap: tokens.spacingVerticalXS },
  dd: { margin: 0, overflowWrap: 'anywhere' },
  head: { display: 'flex', justifyContent: 'space-between', alignItems: 'flex-start', gap: tokens.spacingHorizontalS },
  failure: {
    display: 'flex',
    flexDirection: 'column',
    gap: tokens.spacingVerticalXS,
    padding: tokens.spacingHorizontalM,
    borderRadius: tokens.borderRadiusMedium,
    backgroundColor: tokens.colorPaletteRedBackground1,
    borderLeft: `${tokens.strokeWidthThicker} solid ${tokens.colorPaletteRedBorder2}`,
  },
  code: { fontFamily: tokens.fontFamilyMonospace },
  footer: { padding: `${tokens.spacingVerticalS} ${tokens.spacingHorizontalL}`, color: tokens.colorNeutralForeground2, borderTop: `${tokens.strokeWidthThin} solid ${tokens.colorNeutralStroke2}` },
});

interface Filters {
  status: JobStatus[];
  operation: JobOperation[];
  trigger: JobTrigger[];
  from: string;
  to: string;
  vault: string;
  vm: string;
}

function list<T extends string>(raw: string | null, allowed: readonly T[]): T[] {
  return (raw ?? '')
    .split(',')
    .filter((x): x is T => (allowed as readonly string[]).includes(x));
}

function filtersOf(q: URLSearchParams): Filters {
  return {
    status: list(q.get('status'), jobStatuses),
    operation: list(q.get('operation'), jobOperations),
    trigger: list(q.get('trigger'), jobTriggers),
    from: q.get('from') ?? '',
    to: q.get('to') ?? '',
    vault: q.get('vault') ?? '',
    vm: q.get('vm') ?? '',
  };
}

function queryOf(f: Filters) {
  const { from, to } = rangeQuery(f);
  return {
    ...(f.status.length ? { status: f.status } : {}),
    ...(f.operation.length ? { operation: f.operation } : {}),
    ...(f.trigger.length ? { trigger: f.trigger } : {}),
    ...(from ? { from } : {}),
    ...(to ? { to } : {}),
    ...(f.vault ? { vault: f.vault } : {}),
    ...(f.vm ? { vm: f.vm } : {}),
  };
}

function matches(job: Job, f: Filters): boolean {
  if (f.status.length && !f.status.includes(job.status)) return false;
  if (f.operation.length && !f.operation.includes(job.operation)) return false;
  if (f.trigger.length && !f.trigger.includes(job.trigger)) return false;
  if (f.vault && job.vaultName?.toLowerCase() !== f.vault.toLowerCase()) return false;
  if (f.vm && job.vmId !== f.vm) return false;
  return inRange(job.createdAt, f);
}

function JobDetails({ job, onClose }: { job: Job; onClose: () => void }): ReactElement {
  const { t, formatDateTime, formatBytes, formatDuration, errorText, jobText, warningText } = useI18n();
  const styles = useStyles();
  const panel = usePanelStyles();
  const trackJobs = useTrackJobs();
  const cancelAction = useAction();
  const { busy: cancelling, error: cancelError } = cancelAction;
  const running = job.status === 'Queued' || job.status === 'InProgress';
  const duration = job.durationMs ?? (job.startedAt ? Date.now() - Date.parse(job.startedAt) : null);
  const error = job.error ? errorText(job.error) : undefined;

  const cancel = async () => {
    const j = await cancelAction.run(() => call('cancelJob', { id: job.id }));
    if (j) trackJobs([j], { announceStart: false });
  };
  // A backup held because the VM's disk paths changed: the admin approves the new paths here.
  const approveAction = useAction();
  const notify = useNotify();
  const vmId = job.vmId;
  const approve = async () => {
    if (!vmId) return;
    const vm = await approveAction.run(() => call('approveDiskPaths', { vm: vmId }));
    if (vm) notify('success', t('jobs.disksApproved', { vm: vmLabel(vm) }));
  };

  const row = (label: string, value: string | ReactElement | null | undefined) =>
    value === null || value === undefined || value === '' ? null : (
      <>
        <dt>
          <Text weight="semibold">{label}</Text>
        </dt>
        <dd className={styles.dd}>{value}</dd>
      </>
    );

  return (
    <section className={mergeClasses(panel.padded, styles.details)} aria-labelledby="job-details-title" aria-live="polite">
      <div className={styles.head}>
        <div>
          <Title3 as="h2" id="job-details-title">
            {t('jobs.detailsTitle', { operation: operationLabel(t, job.operation), id: job.id })}
          </Title3>
          <Text block className={panel.muted}>
            {jobSubject(job)}
          </Text>
        </div>
        <Button appearance="subtle" icon={<Dismiss20Regular />} aria-label={t('jobs.closeDetails')} onClick={onClose} />
      </div>
      <div className={panel.row}>
        <JobStatusBadge status={job.status} />
      </div>
      <JobProgress job={job} label={t('jobs.progress')} field />
      {error && job.error && (
        <div className={styles.failure} role="group" aria-label={t('jobs.failure')}>
          <Text weight="semibold">
            {t('jobs.errorCode')}: <span className={styles.code}>{job.error.code}</span>
          </Text>
          <Text>{job.error.message}</Text>
          {error.message !== job.error.message && <Text className={panel.muted}>{error.message}</Text>}
          <Text>
            <strong>{t('jobs.remedy')}:</strong> {error.remedy}
          </Text>
          {job.error.code === 'DiskPathsChanged' && vmId && (
            <div>
              <ActionButton action={approveAction} appearance="primary" onClick={() => void approve()}>
                {t('jobs.approveDisks')}
              </ActionButton>
            </div>
          )}
          {approveAction.error && <ErrorBar error={approveAction.error} />}
        </div>
      )}
      <dl className={styles.dl}>
        {row(t('jobs.col.operation'), operationLabel(t, job.operation))}
        {row(t('jobs.trigger'), `${triggerLabel(t, job.trigger)} · ${t(`jobs.triggerHint.${job.trigger}`)}`)}
        {row(t('jobs.filter.vault'), job.vaultName)}
        {row(t('jobs.col.item'), job.vmName ? jobSubject(job) : null)}
        {row(t('jobs.created'), formatDateTime(job.createdAt))}
        {row(t('jobs.started'), job.startedAt ? formatDateTime(job.startedAt) : null)}
        {row(t('jobs.ended'), job.endedAt ? formatDateTime(job.endedAt) : null)}
        {row(t('jobs.duration'), duration !== null ? formatDuration(duration) : null)}
        {row(t('jobs.bytes'), job.bytesTotal > 0 ? t('jobs.bytesOf', { done: formatBytes(job.bytesDone), total: formatBytes(job.bytesTotal) }) : null)}
        {row(t('jobs.rate'), job.bytesPerSecond > 0 ? t('jobs.perSecond', { size: formatBytes(job.bytesPerSecond) }) : null)}
        {row(t('jobs.summary'), job.summary ? jobText(job.summary) : null)}
      </dl>
      {job.warnings.length > 0 && (
        <div>
          <Text weight="semibold">{t('jobs.warnings')}</Text>
          <ul>
            {job.warnings.map((w, i) => (
              <li key={i}>
                <span className={styles.code}>{w.code}</span>: {warningText(w)}
              </li>
            ))}
          </ul>
        </div>
      )}
      {running && (
        <div>
          <Button icon={cancelling ? <Spinner size="tiny" /> : <DismissCircle20Regular />} onClick={() => void cancel()} disabled={cancelling}>
            {t('jobs.cancel')}
          </Button>
        </div>
      )}
      {cancelError && <ErrorBar error={cancelError} />}
    </section>
  );
}

export function JobsPage(): ReactElement {
  const i18n = useI18n();
  const { t, formatDateTime, formatList } = i18n;
  const styles = useStyles();
  const panel = usePanelStyles();
  const location = useLocation();
  const filters = useMemo(() => filtersOf(location.query), [location.query.toString()]);
  const selectedId = Number(location.query.get('id') ?? '') || undefined;
  const filterKey = JSON.stringify(queryOf(filters));
  const vaults = useApi('listVaults', {}, { refreshOn: ['vaultsChanged'] });
  const vms = useApi('listVms', { registered: true }, { refreshOn: ['vaultsChanged'] });

  const [jobs, setJobs] = useState<Job[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<ApiError>();
  const [detail, setDetail] = useState<Job>();
  const seq = useRef(0);
  const loadingMore = useRef(false);

  const setQuery = (patch: Partial<Record<keyof Filters | 'id', string>>) => {
    const current: Record<string, string> = {};
    location.query.forEach((v, k) => (current[k] = v));
    replaceQuery('jobs', { ...current, ...patch });
  };

  // First page whenever the filters change.
  useEffect(() => {
    const mine = ++seq.current;
    setLoading(true);
    setError(undefined);
    call('listJobs', { ...(JSON.parse(filterKey) as object), limit: PAGE }).then(
      (r) => {
        if (mine !== seq.current) return;
        setJobs(r.jobs);
        setCursor(r.nextCursor);
        setLoading(false);
      },
      (err: unknown) => {
        if (mine !== seq.current) return;
        setError(toApiError(err));
        setLoading(false);
      },
    );
  }, [filterKey]);

  const loadMore = useCallback(() => {
    if (!cursor || loadingMore.current) return;
    loadingMore.current = true;
    const mine = seq.current;
    call('listJobs', { ...(JSON.parse(filterKey) as object), limit: PAGE, cursor }).then(
      (r) => {
        loadingMore.current = false;
        if (mine !== seq.current) return;
        setJobs((js) => [...js, ...r.jobs.filter((j) => !js.some((x) => x.id === j.id))]);
        setCursor(r.nextCursor);
      },
      (err: unknown) => {
        loadingMore.current = false;
        setError(toApiError(err));
      },
    );
  }, [cursor, filterKey]);

  // The details of a deep-linked job that is not (yet) in the loaded pages.
  useEffect(() => {
    if (selectedId === undefined) {
      setDetail(undefined);
      return;
    }
    let live = true;
    call('showJob', { id: selectedId }).then(
      (j) => live && setDetail(j),
      (err: unknown) => live && setError(toApiError(err)),
    );
    return () => {
      live = false;
    };
  }, [selectedId]);

  // Live: update rows in place, add new jobs that match the filters on top.
  useEngineEvent('jobUpdated', (job) => {
    setJobs((js) => {
      const i = js.findIndex((j) => j.id === job.id);
      if (i >= 0) return js.map((j) => (j.id === job.id ? job : j));
      if (!matches(job, filters)) return js;
      if (js.length > 0 && job.id < js[0]!.id) return js;
      return [job, ...js];
    });
    if (job.id === selectedId) setDetail(job);
  });

  const scroller = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer({ count: jobs.length, getScrollElement: () => scroller.current, estimateSize: () => ROW_HEIGHT, overscan: 10 });
  const items = virtualizer.getVirtualItems();
  const last = items[items.length - 1];
  useEffect(() => {
    if (last && last.index >= jobs.length - 20) loadMore();
  }, [last?.index, jobs.length, loadMore]);

  const vmOptions = vms.data ?? [];
  const vmName = vmOptions.find((v) => v.id === filters.vm);
  const anyFilter = filterKey !== '{}' || filters.from !== '' || filters.to !== '';
  // The empty text names what hides every job: "Status: Failed; Vault: lab".
  const bounds = rangeQuery(filters);
  const activeFilters = [
    filters.status.length ? t('jobs.filterItem', { label: t('jobs.filter.status'), value: formatList(filters.status.map((s) => statusLabel(t, s))) }) : '',
    filters.operation.length ? t('jobs.filterItem', { label: t('jobs.filter.operation'), value: formatList(filters.operation.map((o) => operationLabel(t, o))) }) : '',
    filters.trigger.length ? t('jobs.filterItem', { label: t('jobs.filter.trigger'), value: formatList(filters.trigger.map((g) => triggerLabel(t, g))) }) : '',
    bounds.from ? t('jobs.filterItem', { label: t('jobs.filter.from'), value: formatDateTime(bounds.from) }) : '',
    bounds.to ? t('jobs.filterItem', { label: t('jobs.filter.to'), value: formatDateTime(bounds.to) }) : '',
    filters.vault ? t('jobs.filterItem', { label: t('jobs.filter.vault'), value: filters.vault }) : '',
    filters.vm ? t('jobs.filterItem', { label: t('jobs.filter.vm'), value: vmName ? vmLabel(vmName) : filters.vm }) : '',
  ].filter(Boolean);
  const columns = detail ? styles.columnsCompact : styles.columnsFull;
  // The width of the longest operation label as the rows render it, for the Operation column.
  const measure = useRef<HTMLDivElement>(null);
  const [operationWidth, setOperationWidth] = useState<number>();
  useLayoutEffect(() => {
    const labels = [...(measure.current?.children ?? [])];
    setOperationWidth(Math.ceil(Math.max(0, ...labels.map((l) => l.getBoundingClientRect().width))));
  }, [t]);

  return (
    <Page title={t('jobs.title')} intro={t('jobs.intro')}>
      <JobFilterBar filters={filters} setQuery={setQuery} onClear={() => replaceQuery('jobs', {})} anyFilter={anyFilter} vaults={vaults.data ?? []} vms={vms.data ?? []} />
      {error && <ErrorBar error={error} onDismiss={() => setError(undefined)} />}
      <div className={styles.measure} ref={measure} aria-hidden>
        {jobOperations.map((o) => (
          <span key={o}>{operationLabel(t, o)}</span>
        ))}
      </div>
      <div className={detail ? styles.layout : styles.layoutSingle}>
        {!loading && jobs.length === 0 ? (
          anyFilter ? (
            <EmptyState
              icon={<TaskListLtr20Regular />}
              title={t('jobs.empty.filtered')}
              body={t('jobs.empty.filteredBody', { filters: activeFilters.join('; ') })}
              action={
                <Button appearance="primary" icon={<FilterDismiss20Regular />} onClick={() => replaceQuery('jobs', {})}>
                  {t('jobs.clearFilters')}
                </Button>
              }
            />
          ) : (
            <EmptyState icon={<TaskListLtr20Regular />} title={t('jobs.empty.title')} body={t('jobs.empty.body')} />
          )
        ) : (
          <div className={panel.panel} style={operationWidth ? ({ '--jobs-op': `${operationWidth}px` } as CSSProperties) : undefined}>
            <div className={mergeClasses(styles.listHead, columns)} aria-hidden>
              <span>{t('jobs.col.operation')}</span>
              <span>{t('jobs.col.item')}</span>
              <span>{t('jobs.col.status')}</span>
              {!detail && <span>{t('jobs.col.trigger')}</span>}
              <span>{t('jobs.col.created')}</span>
              {!detail && <span>{t('jobs.col.duration')}</span>}
            </div>
            <div ref={scroller} className={styles.scroller}>
              <div role="list" aria-label={t('jobs.listLabel')} aria-busy={loading} style={{ height: virtualizer.getTotalSize(), position: 'relative' }}>
                {items.map((item) => {
                  const job = jobs[item.index]!;
                  const selected = job.id === selectedId;
                  return (
                    <div role="listitem" key={job.id}>
                      <button
                        type="button"
                        className={mergeClasses(styles.row, columns, selected && styles.rowSelected)}
                        style={{ top: item.start, height: item.size }}
                        aria-current={selected ? 'true' : undefined}
                        onClick={() => setQuery({ id: String(job.id) })}
                      >
                        <span className={styles.cell} data-col="operation">
                          {operationLabel(t, job.operation)}
                        </span>
                        <span className={styles.cell}>{jobSubject(job)}</span>
                        <span className={styles.progressCell}>
                          <JobStatusBadge status={job.status} />
                          {job.status === 'InProgress' && <ProgressBar value={job.progress} max={1} aria-hidden />}
                        </span>
                        {!detail && (
                          <span className={styles.cell} data-col="trigger">
                            {triggerLabel(t, job.trigger)}
                          </span>
                        )}
                        <span className={styles.cell}>{formatDateTime(job.createdAt)}</span>
                        {!detail && <span className={styles.cell}>{job.durationMs !== null ? i18n.formatDuration(job.durationMs) : '—'}</span>}
                      </button>
                    </div>
                  );
                })}
              </div>
            </div>
            <div className={styles.footer} aria-live="polite">
              {loading ? t('common.loading') : i18n.plural(cursor ? 'jobs.countMore' : 'jobs.count', jobs.length)}
            </div>
          </div>
        )}
        {detail && <JobDetails job={detail} onClose={() => setQuery({ id: '' })} />}
      </div>
    </Page>
  );
}
