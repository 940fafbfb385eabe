// In-window notifications. The notification centre (the bell in the header) is a view of the job
// log on the host (listNotifications): what finished while no page was open, or during a reload,
// is there when a page (re)connects, and the read state lives on the host, so every page and
// every reload shows the same unread count. Toasts: one per job, updated in place from started
// through progress to finished; the jobs this tab started are remembered in sessionStorage, so
// after a reload their toast comes back and still turns into the result. Failures of jobs started
// elsewhere (the scheduler, another page, the CLI) get a toast too (W5, W20).
import { Button, Link, ProgressBar, Toast, ToastBody, ToastTitle, ToastTrigger, Toaster, makeStyles, tokens, useToastController } from '@fluentui/react-components';
import { Dismiss16Regular } from '@fluentui/react-icons';
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactElement, type ReactNode } from 'react';
import { finishedStatuses, type Job, type JobNotification, type JobNotificationList } from '../../../preload/contract.js';
import { call, useEngineEvent } from '../api.js';
import { useI18n, type I18n } from '../i18n/index.js';
import { hrefOf } from '../routes.js';
import { jobSubject, operationLabel } from './labels.js';
import { PathText } from './Path.js';

export const TOASTER_ID = 'coffer-toaster';

/**
 * Where toasts sit: bottom-end, Fluent's default and where the Azure portal's toasts do not hide a
 * blade's command bar, with room to the window edge. The top of every page holds its toolbar and
 * filter bar (Jobs: From/To; Registered Items: the Unregister buttons), so toasts keep off it.
 */
export const TOAST_POSITION = 'bottom-end';
export const TOAST_OFFSET = { horizontal: 24, vertical: 24 } as const;

export function AppToaster(): ReactElement {
  return <Toaster toasterId={TOASTER_ID} position={TOAST_POSITION} offset={TOAST_OFFSET} pauseOnHover pauseOnWindowBlur limit={5} />;
}

export type NotifyIntent = 'success' | 'info' | 'warning' | 'error';

export interface TrackOptions {
  /** Toast "started" (default true); pages with their own wording (Discover) turn it off. */
  announceStart?: boolean;
  /** Toast the successful end (default true); failures are always announced. */
  announceEnd?: boolean;
}

interface Notifications {
  /** The notification centre's list, newest first, from the host's job log. */
  notices: readonly JobNotification[];
  unread: number;
  /** A toast; with a job id it is that job's one toast (updated in place). */
  notify(intent: NotifyIntent, title: string, body?: string, jobId?: number): void;
  trackJobs(jobs: readonly Job[], options?: TrackOptions): void;
  /** Marks what the centre shows read (on the host: every page sees it). */
  markRead(): void;
  clear(): void;
  /** Reads the list again (when the centre opens: jobs of other processes send no event here). */
  refresh(): void;
}

const NotificationsContext = createContext<Notifications | null>(null);
const MAX_NOTICES = 50;
const TRACKED_KEY = 'coffer.trackedJobs';
const toastIdOf = (jobId: number) => `job-${jobId}`;

export function jobTitle(i18n: Pick<I18n, 't'>, job: Job, phase: 'started' | 'finished'): string {
  const { t } = i18n;
  const vars = { operation: operationLabel(t, job.operation), subject: jobSubject(job) };
  if (phase === 'started') return t('notify.jobStarted', vars);
  switch (job.status) {
    case 'Failed':
      return t('notify.jobFailed', vars);
    case 'Cancelled':
      return t('notify.jobCancelled', vars);
    case 'CompletedWithWarnings':
      return t('notify.jobWarnings', vars);
    default:
      return t('notify.jobCompleted', vars);
  }
}

/** The line under a finished job's title: the error in the user's language, or the summary. */
export function jobResultText(i18n: Pick<I18n, 'errorText' | 'jobText'>, job: Job): string | undefined {
  return job.error ? i18n.errorText(job.error).message : job.summary ? i18n.jobText(job.summary) : undefined;
}

function loadTracked(): Map<number, TrackOptions> {
  try {
    const saved = JSON.parse(sessionStorage.getItem(TRACKED_KEY) ?? '{}') as Record<string, TrackOptions>;
    return new Map(Object.entries(saved).map(([id, o]) => [Number(id), o]));
  } catch {
    return new Map();
  }
}

function saveTracked(tracked: Map<number, TrackOptions>): void {
  try {
    sessionStorage.setItem(TRACKED_KEY, JSON.stringify(Object.fromEntries(tracked)));
  } catch {
    // no storage: toasts still work until the next reload
  }
}

const useStyles = makeStyles({
  actions: { display: 'inline-flex', alignItems: 'center', gap: tokens.spacingHorizontalXS },
  body: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalXS, overflowWrap: 'anywhere' },
});

const EMPTY: JobNotificationList = { notifications: [], unread: 0, latest: null };

export function NotificationsProvider({ children }: { children: ReactNode }): ReactElement {
  const i18n = useI18n();
  const { t } = i18n;
  const styles = useStyles();
  const { dispatchToast, updateToast } = useToastController(TOASTER_ID);
  const [list, setList] = useState<JobNotificationList>(EMPTY);
  const latest = useRef<string | null>(null);
  const tracked = useRef(loadTracked());
  const announced = useRef(new Set<number>());
  /** Toasts on screen now (queued or visible), by toast id. */
  const live = useRef(new Set<string>());

  /** Shows the toast, or updates it in place when this job's toast is still on screen. */
  const show = useCallback(
    (content: ReactElement, intent: NotifyIntent, timeout: number, jobId?: number) => {
      if (jobId === undefined) {
        dispatchToast(content, { intent, timeout });
        return;
      }
      const toastId = toastIdOf(jobId);
      if (live.current.has(toastId)) {
        updateToast({ toastId, content, intent, timeout });
        return;
      }
      live.current.add(toastId);
      dispatchToast(content, {
        toastId,
        intent,
        timeout,
        onStatusChange: (_, { status }) => {
          if (status === 'dismissed' || status === 'unmounted') live.current.delete(toastId);
        },
      });
    },
    [dispatchToast, updateToast],
  );

  const content = useCallback(
    (title: string, body: ReactNode, jobId: number | undefined, dismissable: boolean) => (
      <Toast>
        <ToastTitle
          action={
            jobId !== undefined || dismissable ? (
              <span className={styles.actions}>
                {jobId !== undefined && <Link href={hrefOf('jobs', { id: String(jobId) })}>{t('notify.viewJob')}</Link>}
                {dismissable && (
                  <ToastTrigger>
                    <Button size="small" appearance="transparent" icon={<Dismiss16Regular />} aria-label={t('common.dismiss')} />
                  </ToastTrigger>
                )}
              </span>
            ) : undefined
          }
        >
          <PathText text={title} />
        </ToastTitle>
        {body && <ToastBody className={styles.body}>{typeof body === 'string' ? <PathText text={body} /> : body}</ToastBody>}
      </Toast>
    ),
    [styles, t],
  );

  const notify = useCallback(
    (intent: NotifyIntent, title: string, body?: string, jobId?: number) => {
      show(content(title, body, jobId, false), intent, intent === 'error' ? 10000 : 5000, jobId);
    },
    [content, show],
  );

  /** A running job's toast: its title, what it does now (or how far it is), a progress bar; it stays until the job ends. */
  const showRunning = useCallback(
    (job: Job) => {
      const percent = Math.round(job.progress * 100);
      const known = job.status === 'InProgress' && job.bytesTotal > 0;
      const line = (job.summary ? i18n.jobText(job.summary) : undefined) ?? (known ? t('notify.progress', { percent }) : job.status === 'Queued' ? t('notify.queued') : undefined);
      const body = (
        <>
          {line && <span>{line}</span>}
          <ProgressBar value={known ? job.progress : undefined} max={1} aria-label={jobTitle(i18n, job, 'started')} />
        </>
      );
      show(content(jobTitle(i18n, job, 'started'), body, job.id, true), 'info', -1, job.id);
    },
    [content, i18n, show, t],
  );

  const untrack = useCallback((id: number) => {
    if (tracked.current.delete(id)) saveTracked(tracked.current);
  }, []);

  /** A finished job's one toast, once: for the jobs this tab follows (as asked) and for every failure. */
  const announceEnd = useCallback(
    (job: Job) => {
      if (announced.current.has(job.id)) return;
      const options = tracked.current.get(job.id);
      untrack(job.id);
      const failed = job.status === 'Failed';
      if (!failed && (!options || options.announceEnd === false)) {
        // A "started" toast of a job whose end the page words itself does not stay behind.
        return;
      }
      announced.current.add(job.id);
      const intent: NotifyIntent = failed ? 'error' : job.status === 'Completed' ? 'success' : 'warning';
      show(content(jobTitle(i18n, job, 'finished'), jobResultText(i18n, job), job.id, false), intent, failed ? 10000 : 5000, job.id);
    },
    [content, i18n, show, untrack],
  );

  const trackJobs = useCallback(
    (jobs: readonly Job[], options: TrackOptions = {}) => {
      for (const job of jobs) {
        tracked.current.set(job.id, options);
        // Quick jobs may have finished before the call returned: then the result is the only toast.
        if (finishedStatuses.includes(job.status)) announceEnd(job);
        else if (options.announceStart !== false) showRunning(job);
      }
      saveTracked(tracked.current);
    },
    [announceEnd, showRunning],
  );

  // Reads of the host's list: the whole recent list, or (after the first) what is newer than the
  // last cursor. New failures of jobs this tab did not start get a toast; a followed job whose
  // event was missed (reload, reconnect) gets its result.
  /** Job ids of the notifications this page has read so far (null before the first read). */
  const known = useRef<Set<number> | null>(null);
  const reading = useRef<Promise<void> | null>(null);
  const again = useRef<'all' | 'since' | null>(null);
  const read = useCallback(
    (mode: 'all' | 'since') => {
      if (reading.current) {
        again.current = again.current === 'all' || mode === 'all' ? 'all' : 'since';
        return;
      }
      const since = mode === 'since' ? latest.current : null;
      reading.current = call('listNotifications', since ? { since, limit: MAX_NOTICES } : { limit: MAX_NOTICES })
        .then((r) => {
          if (r.latest) latest.current = r.latest;
          if (since) {
            setList((old) => {
              const fresh = new Set(r.notifications.map((n) => n.job.id));
              return { ...r, notifications: [...r.notifications, ...old.notifications.filter((n) => !fresh.has(n.job.id))].slice(0, MAX_NOTICES), latest: latest.current };
            });
          } else {
            setList({ ...r, latest: latest.current });
          }
          const firstRead = known.current === null;
          const seen = (known.current ??= new Set());
          for (const n of r.notifications) {
            if (seen.has(n.job.id)) continue;
            seen.add(n.job.id);
            if (tracked.current.has(n.job.id)) announceEnd(n.job);
            else if (!firstRead && !n.read && n.intent === 'error') announceEnd(n.job);
          }
        })
        .catch(() => {
          // Unreachable: the connection banner says so; the next reconnect reads again.
        })
        .finally(() => {
          reading.current = null;
          const next = again.current;
          again.current = null;
          if (next) read(next);
        });
    },
    [announceEnd],
  );

  /** The jobs this tab follows, read back (after a reload or a reconnect: their events were missed). */
  const resumeTracked = useCallback(() => {
    for (const [id, options] of [...tracked.current]) {
      call('showJob', { id }).then(
        (job) => {
          if (finishedStatuses.includes(job.status)) announceEnd(job);
          else if (options.announceStart !== false) showRunning(job);
        },
        () => untrack(id),
      );
    }
  }, [announceEnd, showRunning, untrack]);

  // The latest closures (they carry the language of the toasts), for the connection listener.
  const current = useRef({ read, resumeTracked });
  current.current = { read, resumeTracked };
  useEffect(() => {
    current.current.read('all');
    current.current.resumeTracked();
    let wasConnected = true;
    return window.coffer?.onConnection((connected) => {
      if (connected && !wasConnected) {
        current.current.read('since');
        current.current.resumeTracked();
      }
      wasConnected = connected;
    });
    // Once per page: a reload or a new tab starts here again.
  }, []);

  useEngineEvent('jobUpdated', (job) => {
    if (finishedStatuses.includes(job.status)) {
      if (tracked.current.has(job.id)) announceEnd(job);
      read('since');
      return;
    }
    const options = tracked.current.get(job.id);
    // Progress only moves a toast still on screen: a dismissed one does not come back for it.
    if (options && options.announceStart !== false && live.current.has(toastIdOf(job.id))) showRunning(job);
  });
  // Another page (or this one) marked notifications read: show the host's state.
  useEngineEvent('notificationsRead', () => read('all'));

  const mark = useCallback(
    (clear: boolean) => {
      const upTo = latest.current;
      if (!upTo || (!clear && list.unread === 0)) return;
      setList((l) => (clear ? { ...l, notifications: [], unread: 0 } : { ...l, unread: 0, notifications: l.notifications.map((n) => ({ ...n, read: true })) }));
      call('markNotificationsRead', { upTo, clear }).then(
        (r) => setList((l) => ({ ...l, unread: r.unread })),
        () => read('all'),
      );
    },
    [list.unread, read],
  );

  const value = useMemo<Notifications>(
    () => ({
      notices: list.notifications,
      unread: list.unread,
      notify,
      trackJobs,
      markRead: () => mark(false),
      clear: () => mark(true),
      refresh: () => read('all'),
    }),
    [list, notify, trackJobs, mark, read],
  );
  return <NotificationsContext.Provider value={value}>{children}</NotificationsContext.Provider>;
}

export function useNotifications(): Notifications {
  const ctx = useContext(NotificationsContext);
  if (!ctx) throw new Error('useNotifications must be used inside <NotificationsProvider>');
  return ctx;
}

/** A toast (with a job id: that job's one toast, updated in place). */
export function useNotify(): Notifications['notify'] {
  return useNotifications().notify;
}

/** Announces jobs the user just started and follows them to their end, across reloads of this tab. */
export function useTrackJobs(): Notifications['trackJobs'] {
  return useNotifications().trackJobs;
}
