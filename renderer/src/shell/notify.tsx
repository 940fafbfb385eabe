// In-window notifications: Fluent toasts plus a notification centre (the bell in the header)
// that keeps the recent ones. Jobs the user started are tracked: each one gets a toast when it
// starts and when it ends; every failed job gets a toast, started here or by the scheduler (W5, W20).
import { Link, Toast, ToastBody, ToastTitle, Toaster, useToastController } from '@fluentui/react-components';
import { createContext, useCallback, useContext, useMemo, useRef, useState, type ReactElement, type ReactNode } from 'react';
import { finishedStatuses, type Job } from '../../../preload/contract.js';
import { useEngineEvent } from '../api.js';
import { useI18n, type I18n } from '../i18n/index.js';
import { hrefOf } from '../routes.js';
import { jobSubject, operationLabel } from './labels.js';
import { PathText } from './Path.js';

export const TOASTER_ID = 'coffer-toaster';

export function AppToaster(): ReactElement {
  return <Toaster toasterId={TOASTER_ID} position="top-end" pauseOnHover pauseOnWindowBlur limit={5} />;
}

export type NotifyIntent = 'success' | 'info' | 'warning' | 'error';

export interface Notice {
  id: number;
  intent: NotifyIntent;
  title: string;
  body?: string;
  jobId?: number;
  at: number;
}

export interface TrackOptions {
  /** Toast "started" (default true); pages with their own wording (Discover) turn it off. */
  announceStart?: boolean;
  /** Toast the successful end (default true); failures are always announced. */
  announceEnd?: boolean;
}

interface Notifications {
  notices: readonly Notice[];
  unread: number;
  notify(intent: NotifyIntent, title: string, body?: string, jobId?: number): void;
  trackJobs(jobs: readonly Job[], options?: TrackOptions): void;
  markRead(): void;
  clear(): void;
}

const NotificationsContext = createContext<Notifications | null>(null);
const MAX_NOTICES = 50;

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

export function NotificationsProvider({ children }: { children: ReactNode }): ReactElement {
  const i18n = useI18n();
  const { t, errorText } = i18n;
  const { dispatchToast } = useToastController(TOASTER_ID);
  const [notices, setNotices] = useState<Notice[]>([]);
  const [readUpTo, setReadUpTo] = useState(0);
  const nextId = useRef(1);
  const tracked = useRef(new Map<number, TrackOptions>());
  const announced = useRef(new Set<number>());

  const notify = useCallback(
    (intent: NotifyIntent, title: string, body?: string, jobId?: number) => {
      const id = nextId.current++;
      setNotices((list) => [{ id, intent, title, body, jobId, at: Date.now() }, ...list].slice(0, MAX_NOTICES));
      dispatchToast(
        <Toast>
          <ToastTitle
            action={
              jobId !== undefined ? (
                <Link href={hrefOf('jobs', { id: String(jobId) })}>{t('notify.viewJob')}</Link>
              ) : undefined
            }
          >
            <PathText text={title} />
          </ToastTitle>
          {body && (
            <ToastBody>
              <PathText text={body} />
            </ToastBody>
          )}
        </Toast>,
        { intent, timeout: intent === 'error' ? 10000 : 5000 },
      );
    },
    [dispatchToast, t],
  );

  const announceEnd = useCallback(
    (job: Job) => {
      if (announced.current.has(job.id)) return;
      const options = tracked.current.get(job.id);
      const failed = job.status === 'Failed';
      if (!failed && (!options || options.announceEnd === false)) return;
      announced.current.add(job.id);
      tracked.current.delete(job.id);
      const intent: NotifyIntent = failed ? 'error' : job.status === 'Completed' ? 'success' : 'warning';
      const body = job.error ? errorText(job.error).message : (job.summary ?? undefined);
      notify(intent, jobTitle(i18n, job, 'finished'), body, job.id);
    },
    [errorText, i18n, notify],
  );

  const trackJobs = useCallback(
    (jobs: readonly Job[], options: TrackOptions = {}) => {
      for (const job of jobs) {
        tracked.current.set(job.id, options);
        if (options.announceStart !== false) notify('info', jobTitle(i18n, job, 'started'), undefined, job.id);
        // Quick jobs may have finished before the call returned.
        if (finishedStatuses.includes(job.status)) announceEnd(job);
      }
    },
    [announceEnd, i18n, notify],
  );

  useEngineEvent('jobUpdated', (job) => {
    if (finishedStatuses.includes(job.status)) announceEnd(job);
  });

  const value = useMemo<Notifications>(
    () => ({
      notices,
      unread: notices.filter((n) => n.id > readUpTo).length,
      notify,
      trackJobs,
      markRead: () => setReadUpTo(nextId.current - 1),
      clear: () => {
        setNotices([]);
        setReadUpTo(nextId.current - 1);
      },
    }),
    [notices, readUpTo, notify, trackJobs],
  );
  return <NotificationsContext.Provider value={value}>{children}</NotificationsContext.Provider>;
}

export function useNotifications(): Notifications {
  const ctx = useContext(NotificationsContext);
  if (!ctx) throw new Error('useNotifications must be used inside <NotificationsProvider>');
  return ctx;
}

/** A toast that is also kept in the notification centre. */
export function useNotify(): Notifications['notify'] {
  return useNotifications().notify;
}

/** Announces jobs the user just started and follows them to their end. */
export function useTrackJobs(): Notifications['trackJobs'] {
  return useNotifications().trackJobs;
}
