// Notifications are a view of the job log (STYLE: jobs are the log; the tray and notifications
// are views of it). Which finished job is news, and how it looks, is decided here once: the
// console's notification centre reads it through the contract, the tray's OS notifications
// (core/tray.ts) through notificationIntent. What the admin has read is kept in the catalog
// (migration 8), so a reload, a second page and a restart all see the same unread count.
import type { JobNotification, JobNotificationList, JobStatus, NotificationIntent } from '../../preload/contract.js';
import type { Db } from './catalog/catalog.js';
import { CofferError } from './errors.js';
import type { EngineEvents } from './events.js';
import type { EndPoint, JobService } from './jobs.js';

/**
 * A finished job is news unless the admin cancelled it (their own doing): completed, completed
 * with warnings, or failed, whatever the operation, and whoever started it (a page, the
 * scheduler, the CLI, a job interrupted by a restart).
 */
const intentOf: Partial<Record<JobStatus, NotificationIntent>> = {
  Completed: 'success',
  CompletedWithWarnings: 'warning',
  Failed: 'error',
};
export const notifiedStatuses = Object.keys(intentOf) as JobStatus[];

/** How a job's state looks as a notification; null while it runs, or when it is no news (cancelled). */
export function notificationIntent(job: { status: JobStatus }): NotificationIntent | null {
  return intentOf[job.status] ?? null;
}

type Mark = 'read' | 'cleared';

/** A cursor is `<ended_at>|<job id>`; pages hold it as an opaque string. */
export function cursorOf(p: EndPoint): string {
  return `${p.endedAt}|${p.id}`;
}

function parseCursor(cursor: string, field: string): EndPoint {
  const at = cursor.lastIndexOf('|');
  const endedAt = cursor.slice(0, at);
  const id = Number(cursor.slice(at + 1));
  if (at <= 0 || !Number.isInteger(id) || id < 0 || Number.isNaN(Date.parse(endedAt))) {
    throw new CofferError('InvalidArgument', `${field}: not a cursor from listNotifications`, { field });
  }
  return { endedAt, id };
}

const later = (a: EndPoint | null, b: EndPoint | null): EndPoint | null => {
  if (!a) return b;
  if (!b) return a;
  return a.endedAt > b.endedAt || (a.endedAt === b.endedAt && a.id > b.id) ? a : b;
};
const atOrBefore = (p: EndPoint, mark: EndPoint | null): boolean => mark !== null && later(p, mark) === mark;

export class NotificationService {
  constructor(
    private readonly db: Db,
    private readonly jobs: JobService,
    private readonly events: EngineEvents,
  ) {}

  /** The most recent notifications not cleared, or those newer than `since`, newest first. */
  list(opts: { since?: string | undefined; limit: number }): JobNotificationList {
    const read = this.mark('read');
    const since = opts.since === undefined ? null : parseCursor(opts.since, 'since');
    const jobs = this.jobs.endedAfter(notifiedStatuses, later(this.mark('cleared'), since), opts.limit);
    const notifications = jobs.map((job): JobNotification => {
      const point = { endedAt: job.endedAt!, id: job.id };
      return { cursor: cursorOf(point), intent: notificationIntent(job)!, read: atOrBefore(point, read), job };
    });
    return { notifications, unread: this.unread(), latest: notifications[0]?.cursor ?? opts.since ?? null };
  }

  /** Everything up to `upTo` is read (and, with `clear`, no longer listed); marks never move back. */
  markRead(upTo: string, clear: boolean): { unread: number } {
    const point = parseCursor(upTo, 'upTo');
    this.db.transaction(() => {
      this.setMark('read', point);
      if (clear) this.setMark('cleared', point);
    })();
    const unread = this.unread();
    this.events.emit('notificationsRead', { unread });
    return { unread };
  }

  unread(): number {
    return this.jobs.countEndedAfter(notifiedStatuses, later(this.mark('read'), this.mark('cleared')));
  }

  private mark(name: Mark): EndPoint | null {
    const row = this.db.prepare('SELECT ended_at, job_id FROM notification_marks WHERE name = ?').get(name) as { ended_at: string; job_id: number } | undefined;
    return row ? { endedAt: row.ended_at, id: row.job_id } : null;
  }

  private setMark(name: Mark, point: EndPoint): void {
    const next = later(this.mark(name), point)!;
    this.db
      .prepare('INSERT INTO notification_marks (name, ended_at, job_id) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET ended_at = excluded.ended_at, job_id = excluded.job_id')
      .run(name, next.endedAt, next.id);
  }
}
