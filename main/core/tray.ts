// The desktop shell's decisions as pure functions of the job log: what the tray menu lists, which
// icon the tray shows, which finished job raises an OS notification, and where the window reopens.
// main/electron only renders these answers, so they are tested in plain Node.
import { englishJobText, type JobMessage } from '../../preload/job-messages.js';

import { finishedStatuses, type JobStatus } from '../../preload/contract.js';
import { notificationIntent } from './notifications.js';

export type { JobStatus };

/** The few fields of a job these decisions read; the contract's Job rows fit as they are. */
export interface JobLike {
  id: string | number;
  /** Stable operation name: Backup, Restore, Register, ... */
  operation: string;
  status: JobStatus;
  /** Tells apart VMs with equal names in two cloud services. */
  vmId?: string | null;
  vmName?: string | null;
  /** Fraction done, 0..1, when the job reports it. */
  progress?: number;
  /** ISO 8601 time or epoch milliseconds; set once the job finished. */
  endedAt?: string | number | null;
  /** The job's result as a message code; the notification renders it in the labels' language. */
  summary?: JobMessage | null;
  error?: { message: string; remedy?: string } | null;
}

export function isFinished(job: JobLike): boolean {
  return finishedStatuses.includes(job.status);
}

const vmKey = (job: JobLike) => job.vmId ?? job.vmName ?? '';

export type TrayStatus = 'idle' | 'running' | 'failed';

/** A job that still occupies its VM: Cancelling jobs are still stopping their work. */
export function isActive(job: JobLike): boolean {
  return job.status === 'InProgress' || job.status === 'Cancelling';
}

function endedMillis(job: JobLike): number {
  if (typeof job.endedAt === 'number') return job.endedAt;
  if (typeof job.endedAt === 'string') {
    const t = Date.parse(job.endedAt);
    if (Number.isFinite(t)) return t;
  }
  return Number.NEGATIVE_INFINITY;
}

/**
 * Like Backrest's tray: running while any job works; otherwise failed when some VM's latest
 * finished backup failed and nothing newer succeeded; otherwise idle. Cancelled backups are the
 * user's choice, so they neither clear nor raise a failure.
 */
export function trayStatus(jobs: readonly JobLike[]): TrayStatus {
  if (jobs.some(isActive)) return 'running';
  const latestPerVm = new Map<string, JobLike>();
  for (const job of jobs) {
    if (job.operation !== 'Backup') continue;
    if (job.status !== 'Completed' && job.status !== 'CompletedWithWarnings' && job.status !== 'Failed') continue;
    const key = vmKey(job);
    const seen = latestPerVm.get(key);
    if (!seen || endedMillis(job) >= endedMillis(seen)) latestPerVm.set(key, job);
  }
  for (const job of latestPerVm.values()) if (job.status === 'Failed') return 'failed';
  return 'idle';
}

/**
 * Folds one job update into the little log the tray keeps, and says whether this update is the
 * moment the job finished (so it notifies once, not on every later echo). The log stays small:
 * the jobs still queued or running, plus each VM's latest finished backup, which is all that
 * trayStatus reads.
 */
export function trackJob<J extends JobLike>(log: readonly J[], job: J): { log: J[]; justFinished: boolean } {
  const before = log.find((j) => j.id === job.id);
  const justFinished = isFinished(job) && (before === undefined || !isFinished(before));
  const rest = log.filter((j) => j.id !== job.id);
  if (!isFinished(job)) return { log: [...rest, job], justFinished };
  if (job.operation !== 'Backup' || job.status === 'Cancelled') return { log: rest, justFinished };
  const older = rest.find(
    (j) => j.operation === 'Backup' && isFinished(j) && j.status !== 'Cancelled' && vmKey(j) === vmKey(job),
  );
  if (older && endedMillis(older) > endedMillis(job)) return { log: rest, justFinished };
  return { log: [...rest.filter((j) => j !== older), job], justFinished };
}

/** The words of the tray; a caller with a translation passes its own (issue 6: nl and en). */
export interface TrayLabels {
  open: string;
  backUpAll: string;
  quit: string;
  openAtLogin: string;
  notifications: string;
  notifyLevels: Record<NotifySetting, string>;
  cancelling: string;
  /** Shown when more jobs run than the menu lists. */
  moreRunning: (count: number) => string;
  tooltip: Record<TrayStatus, string>;
  /** OS notification titles, by how the job ended. */
  notification: (subject: string, status: 'Completed' | 'CompletedWithWarnings' | 'Failed') => string;
  /** A job's result in this language. */
  jobText?: (m: JobMessage) => string;
}

export const englishTrayLabels: TrayLabels = {
  open: 'Open Coffer',
  backUpAll: 'Back up all now',
  quit: 'Quit Coffer',
  openAtLogin: 'Start Coffer at login',
  notifications: 'Notifications',
  notifyLevels: { off: 'Off', failures: 'Failures only', all: 'All finished jobs' },
  cancelling: 'cancelling',
  moreRunning: (count) => `${count} more running`,
  tooltip: { idle: 'Coffer', running: 'Coffer: backing up', failed: 'Coffer: last backup failed' },
  notification: (subject, status) =>
    status === 'Failed' ? `${subject} failed` : status === 'CompletedWithWarnings' ? `${subject} completed with warnings` : `${subject} completed`,
};

export interface TrayState {
  jobs: readonly JobLike[];
  /** VMs with a protection policy; "Back up all now" is pointless without one. */
  protectedVmCount: number;
  labels?: TrayLabels;
  /** Whether Coffer starts at login; undefined where the OS offers no login items (Linux). */
  openAtLogin?: boolean;
  /** The notification level, shown as a choice when given. */
  notify?: NotifySetting;
}

export type TrayAction = 'open' | 'backUpAll' | 'quit' | 'toggleOpenAtLogin';

export type TrayMenuItem =
  | { kind: 'action'; action: TrayAction; label: string }
  | { kind: 'job'; jobId: JobLike['id']; label: string }
  | { kind: 'note'; label: string }
  | { kind: 'toggle'; action: TrayAction; label: string; checked: boolean }
  | { kind: 'choice'; label: string; options: { value: NotifySetting; label: string; checked: boolean }[] }
  | { kind: 'separator' };

/** A tray menu stays short: more jobs than this collapse into one "N more running" line. */
export const MAX_TRAY_JOBS = 5;

const subjectOf = (job: JobLike) => (job.vmName ? `${job.operation} ${job.vmName}` : job.operation);

function jobLabel(job: JobLike, labels: TrayLabels): string {
  const subject = subjectOf(job);
  if (job.status === 'Cancelling') return `${subject} (${labels.cancelling})`;
  if (typeof job.progress === 'number' && Number.isFinite(job.progress)) {
    const percent = Math.round(Math.min(1, Math.max(0, job.progress)) * 100);
    return `${subject}: ${percent}%`;
  }
  return subject;
}

/** Open, the running jobs (with progress when known), Back up all now, Quit. */
export function trayMenuModel(state: TrayState): TrayMenuItem[] {
  const labels = state.labels ?? englishTrayLabels;
  const items: TrayMenuItem[] = [{ kind: 'action', action: 'open', label: labels.open }];
  const running = state.jobs.filter(isActive);
  if (running.length > 0) {
    items.push({ kind: 'separator' });
    for (const job of running.slice(0, MAX_TRAY_JOBS)) {
      items.push({ kind: 'job', jobId: job.id, label: jobLabel(job, labels) });
    }
    if (running.length > MAX_TRAY_JOBS) {
      items.push({ kind: 'note', label: labels.moreRunning(running.length - MAX_TRAY_JOBS) });
    }
  }
  if (state.protectedVmCount > 0) {
    items.push({ kind: 'separator' }, { kind: 'action', action: 'backUpAll', label: labels.backUpAll });
  }
  if (state.notify !== undefined || state.openAtLogin !== undefined) items.push({ kind: 'separator' });
  if (state.notify !== undefined) {
    const levels: NotifySetting[] = ['off', 'failures', 'all'];
    items.push({ kind: 'choice', label: labels.notifications, options: levels.map((value) => ({ value, label: labels.notifyLevels[value], checked: value === state.notify })) });
  }
  if (state.openAtLogin !== undefined) {
    items.push({ kind: 'toggle', action: 'toggleOpenAtLogin', label: labels.openAtLogin, checked: state.openAtLogin });
  }
  items.push({ kind: 'separator' }, { kind: 'action', action: 'quit', label: labels.quit });
  return items;
}

export type NotifySetting = 'off' | 'failures' | 'all';

/**
 * Whether a job's latest state deserves an OS notification. Only finished jobs notify, once each
 * (the caller passes each transition once). 'failures' is the default level: failures always get
 * through unless the user turned notifications off; 'all' adds the rest of what the console's
 * notification centre lists (core/notifications.ts: the one rule of what is news), so successes,
 * including those with warnings; a cancelled job was the user's own doing and never notifies.
 */
export function shouldNotify(job: JobLike, setting: NotifySetting): boolean {
  const intent = notificationIntent(job);
  switch (setting) {
    case 'off':
      return false;
    case 'failures':
      return intent === 'error';
    case 'all':
      return intent !== null;
  }
}

/** Title and body of the OS notification for a finished job: for a failure, what to do next. */
export function jobNotification(job: JobLike, labels: TrayLabels = englishTrayLabels): { title: string; body: string } {
  const status = job.status === 'Failed' || job.status === 'CompletedWithWarnings' ? job.status : 'Completed';
  const body =
    job.status === 'Failed' && job.error
      ? [job.error.message, job.error.remedy].filter(Boolean).join(' ')
      : job.summary
        ? (labels.jobText ?? englishJobText)(job.summary)
        : '';
  return { title: labels.notification(subjectOf(job), status), body };
}

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface SavedBounds extends Rect {
  maximized?: boolean;
}

/** The band at the top of a window where the title bar sits. */
const TITLE_STRIP = 60;
/** How much of that band must land on a display so the user can grab and move the window
 *  (a little slack: Windows reports snapped windows a few pixels outside the work area). */
export const MIN_VISIBLE = { width: 120, height: 40 } as const;
export const MIN_WINDOW = { width: 640, height: 420 } as const;

function intersect(a: Rect, b: Rect): Rect | undefined {
  const x = Math.max(a.x, b.x);
  const y = Math.max(a.y, b.y);
  const right = Math.min(a.x + a.width, b.x + b.width);
  const bottom = Math.min(a.y + a.height, b.y + b.height);
  if (right <= x || bottom <= y) return undefined;
  return { x, y, width: right - x, height: bottom - y };
}

/**
 * The saved window bounds if they still make sense on today's displays, else undefined (the
 * caller centres a default window). A monitor that went away must not leave the window off
 * screen, so the window's top strip, where the title bar is, has to overlap a work area. The size
 * is shrunk to fit that display.
 */
export function restoreBounds(
  saved: unknown,
  displays: readonly { workArea: Rect }[],
): SavedBounds | undefined {
  if (typeof saved !== 'object' || saved === null) return undefined;
  const s = saved as Record<string, unknown>;
  const nums = [s.x, s.y, s.width, s.height];
  if (!nums.every((n): n is number => typeof n === 'number' && Number.isFinite(n))) return undefined;
  const [x, y, width, height] = nums as [number, number, number, number];
  if (width < MIN_WINDOW.width || height < MIN_WINDOW.height) return undefined;
  const titleStrip: Rect = { x, y, width, height: TITLE_STRIP };
  for (const { workArea } of displays) {
    const seen = intersect(titleStrip, workArea);
    if (!seen || seen.width < MIN_VISIBLE.width || seen.height < MIN_VISIBLE.height) continue;
    const restored: SavedBounds = {
      x: Math.round(x),
      y: Math.round(y),
      width: Math.round(Math.min(width, workArea.width)),
      height: Math.round(Math.min(height, workArea.height)),
    };
    if (s.maximized === true) restored.maximized = true;
    return restored;
  }
  return undefined;
}

