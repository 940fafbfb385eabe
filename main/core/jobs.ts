import PQueue from 'p-queue';
import {
  finishedStatuses,
  JobMessage,
  type ErrorCode,
  type Job,
  type JobOperation,
  type JobStatus,
  type JobTrigger,
  type JobWarning,
  type ParsedArgsOf,
} from '../../preload/contract.js';
import { endOfBound } from '../../preload/time-bounds.js';
import type { Db } from './catalog/catalog.js';
import { CofferError, toApiError } from './errors.js';
import type { EngineEvents } from './events.js';
import { processAlive } from './process-alive.js';

interface JobRow {
  id: number;
  operation: JobOperation;
  status: JobStatus;
  vault_id: string | null;
  vault_name: string | null;
  vm_id: string | null;
  vm_name: string | null;
  cloud_service: string | null;
  created_at: string;
  started_at: string | null;
  ended_at: string | null;
  bytes_done: number;
  bytes_total: number;
  progress: number;
  bytes_per_second: number;
  trigger_kind: JobTrigger;
  summary: string | null;
  error_code: ErrorCode | null;
  error_message: string | null;
  error_remedy: string | null;
  warnings: string;
  details: string;
}

export interface JobSubject {
  vaultId?: string | null;
  vaultName?: string | null;
  vmId?: string | null;
  vmName?: string | null;
  cloudService?: string | null;
  /** Who started the job; 'manual' unless told. */
  trigger?: JobTrigger;
}

/** What a running job can do: see cancellation, report progress and warnings. */
export interface JobContext {
  readonly job: Job;
  readonly signal: AbortSignal;
  progress(p: { bytesDone: number; bytesTotal: number; bytesPerSecond?: number }): void;
  warn(warning: WarningInput): void;
  /** What the job is doing right now, shown as its summary while it runs (e.g. why it waits); null clears it. */
  note(message: JobMessage | null): void;
}

/** A warning as the engine raises it: `message` is its English sentence (CLI, JSON). */
export interface WarningInput {
  code: ErrorCode;
  message: string;
  /** What it is about: a source, a VM's domain. */
  subject?: string | null;
  /** What no face can translate: a hypervisor's own words, file names. */
  detail?: string | null;
}

export interface JobOutcome {
  summary?: JobMessage;
  details?: Record<string, unknown>;
}

/** Operations that read or write whole disks share a global concurrency limit. */
const HEAVY: ReadonlySet<JobOperation> = new Set(['Backup', 'Restore', 'Verify', 'Prune', 'DeleteBackupData', 'UpgradeVault', 'TestRestore']);
const PROGRESS_INTERVAL_MS = 500;

/**
 * The job log and the runner. Every state change is a row here and a `jobUpdated` event, so the
 * Jobs page, the dashboard, the tray and notifications are all views of this one log.
 */
export class JobService {
  private readonly heavy: PQueue;
  private readonly running = new Map<number, AbortController>();
  private readonly settled = new Map<number, Promise<Job>>();

  constructor(
    private readonly db: Db,
    private readonly events: EngineEvents,
    concurrency = 2,
  ) {
    this.heavy = new PQueue({ concurrency });
    this.failInterrupted();
  }

  /** Creates a Queued job and runs `work` (now, or when a heavy-job slot frees). */
  start(operation: JobOperation, subject: JobSubject, work: (ctx: JobContext) => Promise<JobOutcome | void>): Job {
    const now = new Date().toISOString();
    const info = this.db
      .prepare(
        `INSERT INTO jobs (operation, status, vault_id, vault_name, vm_id, vm_name, cloud_service, created_at, trigger_kind, owner_pid)
         VALUES (?, 'Queued', ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(operation, ...subjectColumns(subject), now, subject.trigger ?? 'manual', process.pid);
    const id = Number(info.lastInsertRowid);
    const controller = new AbortController();
    this.running.set(id, controller);
    const job = this.emit(id);
    const task = (): Promise<Job> => this.execute(id, controller, work);
    const done = HEAVY.has(operation) ? (this.heavy.add(task) as Promise<Job>) : task();
    this.settled.set(id, done);
    void done.finally(() => {
      this.running.delete(id);
      this.settled.delete(id);
    });
    return job;
  }

  /** Logs a job that was refused before it could run: Failed at once, with the error's code and remedy. */
  recordFailure(operation: JobOperation, subject: JobSubject, error: unknown): Job {
    const now = new Date().toISOString();
    const e = toApiError(error);
    const info = this.db
      .prepare(
        `INSERT INTO jobs (operation, status, vault_id, vault_name, vm_id, vm_name, cloud_service, created_at, started_at, ended_at, trigger_kind,
           error_code, error_message, error_remedy, details, owner_pid)
         VALUES (?, 'Failed', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(operation, ...subjectColumns(subject), now, now, now, subject.trigger ?? 'manual', e.code, e.message, e.remedy, JSON.stringify(e.details ?? {}), process.pid);
    return this.emit(Number(info.lastInsertRowid));
  }

  /** Resolves with the job once it has finished (at once if it already has). */
  async wait(id: number): Promise<Job> {
    return (await this.settled.get(id)) ?? this.get(id);
  }

  get(id: number): Job {
    const row = this.db.prepare('SELECT * FROM jobs WHERE id = ?').get(id) as JobRow | undefined;
    if (!row) throw new CofferError('JobNotFound', `No job with id ${id}.`);
    return toJob(row);
  }

  /** Active jobs of a VM (used to keep one job at a time per VM). */
  activeForVm(vmId: string): Job[] {
    const rows = this.db
      .prepare("SELECT * FROM jobs WHERE vm_id = ? AND status IN ('Queued', 'InProgress', 'Cancelling') ORDER BY id")
      .all(vmId) as JobRow[];
    return rows.map(toJob);
  }

  cancel(id: number): Job {
    const job = this.get(id);
    if (finishedStatuses.includes(job.status)) {
      throw new CofferError('JobNotCancellable', `Job ${id} has already ended (${job.status}).`);
    }
    const controller = this.running.get(id);
    if (!controller) {
      throw new CofferError('JobNotCancellable', `Job ${id} runs in another Coffer process; cancel it there.`);
    }
    if (job.status === 'InProgress') {
      this.db.prepare("UPDATE jobs SET status = 'Cancelling' WHERE id = ?").run(id);
      this.emit(id);
    }
    controller.abort(new CofferError('OperationCancelled'));
    return this.get(id);
  }

  query(q: ParsedArgsOf<'listJobs'>, vaultId?: string | null, vmIds?: string[]): { jobs: Job[]; nextCursor: string | null } {
    const where: string[] = [];
    const params: unknown[] = [];
    if (q.status?.length) {
      where.push(`status IN (${q.status.map(() => '?').join(',')})`);
      params.push(...q.status);
    }
    if (q.operation?.length) {
      where.push(`operation IN (${q.operation.map(() => '?').join(',')})`);
      params.push(...q.operation);
    }
    if (q.trigger?.length) {
      where.push(`trigger_kind IN (${q.trigger.map(() => '?').join(',')})`);
      params.push(...q.trigger);
    }
    if (q.from) {
      where.push('created_at >= ?');
      params.push(new Date(q.from).toISOString());
    }
    if (q.to) {
      // The whole minute (or day) the bound names: preload/time-bounds.ts.
      where.push('created_at < ?');
      params.push(new Date(endOfBound(q.to)).toISOString());
    }
    if (vaultId !== undefined) {
      where.push('vault_id IS ?');
      params.push(vaultId);
    }
    if (vmIds !== undefined) {
      where.push(`vm_id IN (${vmIds.map(() => '?').join(',') || "''"})`);
      params.push(...vmIds);
    }
    if (q.cursor !== undefined) {
      const after = Number(q.cursor);
      if (!Number.isInteger(after) || after < 0) throw new CofferError('InvalidArgument', 'cursor: not a cursor from a previous page');
      where.push('id < ?');
      params.push(after);
    }
    const sql = `SELECT * FROM jobs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
    const rows = this.db.prepare(sql).all(...params, q.limit + 1) as JobRow[];
    const page = rows.slice(0, q.limit).map(toJob);
    return { jobs: page, nextCursor: rows.length > q.limit ? String(page[page.length - 1]!.id) : null };
  }

  /**
   * Jobs that ended with one of `statuses` after the point `after` in the order (ended_at, id),
   * newest first, at most `limit`: what notifications read (main/core/notifications.ts).
   */
  endedAfter(statuses: readonly JobStatus[], after: EndPoint | null, limit: number): Job[] {
    const { sql, params } = endedWhere(statuses, after);
    const rows = this.db.prepare(`SELECT * FROM jobs WHERE ${sql} ORDER BY ended_at DESC, id DESC LIMIT ?`).all(...params, limit) as JobRow[];
    return rows.map(toJob);
  }

  /** How many jobs ended with one of `statuses` after `after` (the unread count of notifications). */
  countEndedAfter(statuses: readonly JobStatus[], after: EndPoint | null): number {
    const { sql, params } = endedWhere(statuses, after);
    return (this.db.prepare(`SELECT count(*) AS n FROM jobs WHERE ${sql}`).get(...params) as { n: number }).n;
  }

  /** Waits for every running job (used when the engine closes). */
  async drain(): Promise<void> {
    for (const c of this.running.values()) c.abort(new CofferError('Interrupted'));
    await Promise.allSettled([...this.settled.values()]);
  }

  private async execute(id: number, controller: AbortController, work: (ctx: JobContext) => Promise<JobOutcome | void>): Promise<Job> {
    if (controller.signal.aborted) return this.finish(id, 'Cancelled', { error: toApiError(controller.signal.reason) });
    const started = Date.now();
    this.db.prepare("UPDATE jobs SET status = 'InProgress', started_at = ? WHERE id = ?").run(new Date(started).toISOString(), id);
    const job = this.emit(id);
    const warnings: JobWarning[] = [];
    let lastEmit = 0;
    let pending: { bytesDone: number; bytesTotal: number; bytesPerSecond?: number } | undefined;
    const flush = (): void => {
      if (!pending) return;
      const p = pending;
      pending = undefined;
      const seconds = (Date.now() - started) / 1000;
      const rate = p.bytesPerSecond ?? (seconds > 0 ? p.bytesDone / seconds : 0);
      const progress = p.bytesTotal > 0 ? Math.min(1, p.bytesDone / p.bytesTotal) : 0;
      this.db
        .prepare('UPDATE jobs SET bytes_done = ?, bytes_total = ?, progress = ?, bytes_per_second = ? WHERE id = ?')
        .run(p.bytesDone, p.bytesTotal, progress, rate, id);
      this.emit(id);
      lastEmit = Date.now();
    };
    const ctx: JobContext = {
      job,
      signal: controller.signal,
      progress: (p) => {
        pending = p;
        // Progress events at most every 500 ms keep the catalog and the sockets quiet.
        if (Date.now() - lastEmit >= PROGRESS_INTERVAL_MS) flush();
      },
      warn: (w) => {
        warnings.push({ code: w.code, message: w.message, subject: w.subject ?? null, detail: w.detail ?? null });
      },
      note: (message) => {
        this.db.prepare('UPDATE jobs SET summary = ? WHERE id = ?').run(message === null ? null : JSON.stringify(message), id);
        this.emit(id);
      },
    };
    try {
      const outcome = (await work(ctx)) ?? {};
      flush();
      if (controller.signal.aborted) throw controller.signal.reason;
      return this.finish(id, warnings.length ? 'CompletedWithWarnings' : 'Completed', { ...outcome, warnings });
    } catch (e) {
      flush();
      const error = toApiError(controller.signal.aborted ? controller.signal.reason : e);
      const cancelled = error.code === 'OperationCancelled';
      return this.finish(id, cancelled ? 'Cancelled' : 'Failed', { error, warnings, details: error.details });
    }
  }

  private finish(
    id: number,
    status: JobStatus,
    o: JobOutcome & { error?: { code: string; message: string; remedy: string }; warnings?: JobWarning[] },
  ): Job {
    this.db
      .prepare(
        `UPDATE jobs SET status = ?, ended_at = ?, summary = coalesce(?, summary), error_code = ?, error_message = ?,
         error_remedy = ?, warnings = ?, details = ?, progress = CASE WHEN ? THEN 1 ELSE progress END WHERE id = ?`,
      )
      .run(
        status,
        new Date().toISOString(),
        o.summary ? JSON.stringify(o.summary) : null,
        o.error?.code ?? null,
        o.error?.message ?? null,
        o.error?.remedy ?? null,
        JSON.stringify(o.warnings ?? []),
        JSON.stringify(o.details ?? {}),
        status === 'Completed' || status === 'CompletedWithWarnings' ? 1 : 0,
        id,
      );
    return this.emit(id);
  }

  /** Jobs left active by a process that no longer exists were interrupted: say so, once. */
  private failInterrupted(): void {
    const rows = this.db
      .prepare("SELECT id, owner_pid FROM jobs WHERE status IN ('Queued', 'InProgress', 'Cancelling')")
      .all() as { id: number; owner_pid: number | null }[];
    const info = new CofferError('Interrupted');
    for (const r of rows) {
      if (r.owner_pid !== null && r.owner_pid !== process.pid && processAlive(r.owner_pid)) continue;
      this.db
        .prepare("UPDATE jobs SET status = 'Failed', ended_at = ?, error_code = ?, error_message = ?, error_remedy = ? WHERE id = ?")
        .run(new Date().toISOString(), info.code, info.message, info.remedy, r.id);
    }
  }

  private emit(id: number): Job {
    const job = this.get(id);
    this.events.emit('jobUpdated', job);
    return job;
  }
}

function toJob(r: JobRow): Job {
  const started = r.started_at ? Date.parse(r.started_at) : null;
  const ended = r.ended_at ? Date.parse(r.ended_at) : null;
  return {
    id: r.id,
    operation: r.operation,
    status: r.status,
    vaultName: r.vault_name,
    vmId: r.vm_id,
    vmName: r.vm_name,
    cloudService: r.cloud_service,
    createdAt: r.created_at,
    startedAt: r.started_at,
    endedAt: r.ended_at,
    durationMs: started !== null ? (ended ?? Date.now()) - started : null,
    bytesDone: r.bytes_done,
    bytesTotal: r.bytes_total,
    progress: r.progress,
    bytesPerSecond: r.bytes_per_second,
    trigger: r.trigger_kind,
    summary: storedMessage(r.summary),
    error: r.error_code ? { code: r.error_code, message: r.error_message ?? '', remedy: r.error_remedy ?? '' } : null,
    warnings: (JSON.parse(r.warnings) as LegacyWarning[]).map(storedWarning),
    details: JSON.parse(r.details) as Record<string, unknown>,
  };
}

/** A point in the order jobs ended: by ended_at, then by id. */
export interface EndPoint {
  endedAt: string;
  id: number;
}

function endedWhere(statuses: readonly JobStatus[], after: EndPoint | null): { sql: string; params: unknown[] } {
  const where = [`ended_at IS NOT NULL`, `status IN (${statuses.map(() => '?').join(',') || "''"})`];
  const params: unknown[] = [...statuses];
  if (after) {
    where.push('(ended_at > ? OR (ended_at = ? AND id > ?))');
    params.push(after.endedAt, after.endedAt, after.id);
  }
  return { sql: where.join(' AND '), params };
}

/** The columns vault_id, vault_name, vm_id, vm_name, cloud_service of a job row, in that order. */
function subjectColumns(subject: JobSubject): [string | null, string | null, string | null, string | null, string | null] {
  return [subject.vaultId ?? null, subject.vaultName ?? null, subject.vmId ?? null, subject.vmName ?? null, subject.cloudService ?? null];
}

/**
 * A summary as stored: JSON of a job message, or (rows written before message codes existed)
 * plain English text, which stays readable as LegacyText.
 */
export function storedMessage(stored: string | null): JobMessage | null {
  if (stored === null || stored === '') return null;
  try {
    const parsed = JobMessage.safeParse(JSON.parse(stored));
    if (parsed.success) return parsed.data;
  } catch {
    // not JSON: a legacy text
  }
  return { code: 'LegacyText', params: { text: stored } };
}

/** A warning as stored; rows written before warnings had a subject keep their sentence as the detail. */
type LegacyWarning = Pick<JobWarning, 'code' | 'message'> & Partial<Pick<JobWarning, 'subject' | 'detail'>>;

function storedWarning(w: LegacyWarning): JobWarning {
  return 'subject' in w || 'detail' in w ? { code: w.code, message: w.message, subject: w.subject ?? null, detail: w.detail ?? null } : { code: w.code, message: w.message, subject: null, detail: w.message };
}

