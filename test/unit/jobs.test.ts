import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Job } from '../../preload/contract.js';
import { openCatalog, type Db } from '../../main/core/catalog/catalog.js';
import { CofferError } from '../../main/core/errors.js';
import { EngineEvents } from '../../main/core/events.js';
import { JobService } from '../../main/core/jobs.js';
import { useTmp } from '../helpers/tmp.js';

const tmp = useTmp();
const dbs: Db[] = [];
afterEach(() => {
  for (const db of dbs.splice(0)) db.close();
});

function setup(dir = tmp()) {
  const db = openCatalog(path.join(dir, 'data'));
  dbs.push(db);
  const events = new EngineEvents();
  const seen: Job[] = [];
  events.subscribe((e, p) => e === 'jobUpdated' && seen.push(p as Job));
  return { db, jobs: new JobService(db, events), seen, dir };
}

const defaults = { limit: 100 } as const;

describe('job log', () => {
  it('runs a job through Queued, InProgress and Completed with progress and a summary', async () => {
    const { jobs, seen } = setup();
    const job = jobs.start('Backup', { vmId: 'vm1', vmName: 'web01', vaultName: 'v' }, async (ctx) => {
      ctx.progress({ bytesDone: 50, bytesTotal: 100 });
      await Promise.resolve(); // the job yields between reads, as a real one does
      ctx.progress({ bytesDone: 100, bytesTotal: 100 });
      return { summary: { code: 'BackupDone', params: { pointId: 'p1', disks: 1, bytesRead: 100, bytesStored: 40 } }, details: { pointId: 'p1' } };
    });
    expect(job.status).toBe('Queued');
    const done = await jobs.wait(job.id);
    expect(done).toMatchObject({ status: 'Completed', bytesDone: 100, bytesTotal: 100, progress: 1, summary: { code: 'BackupDone', params: { pointId: 'p1', disks: 1, bytesRead: 100, bytesStored: 40 } }, details: { pointId: 'p1' } });
    expect(done.durationMs).toBeGreaterThanOrEqual(0);
    expect(seen.map((j) => j.status)).toEqual(expect.arrayContaining(['Queued', 'InProgress', 'Completed']));
  });

  it('records the error code, message and remedy of a failure, and warnings', async () => {
    const { jobs } = setup();
    const failed = await jobs.wait(jobs.start('Backup', { vmId: 'vm1' }, async () => {
      throw new CofferError('DiskUnreadable', 'Cannot read /vm/disk.img');
    }).id);
    expect(failed.status).toBe('Failed');
    expect(failed.error).toEqual({ code: 'DiskUnreadable', message: 'Cannot read /vm/disk.img', remedy: expect.stringContaining('Check') });
    const warned = await jobs.wait(jobs.start('Backup', { vmId: 'vm2' }, async (ctx) => ctx.warn({ code: 'GuestAgentUnavailable', message: 'web01: crash-consistent', subject: 'web01', detail: 'no agent' })).id);
    expect(warned.status).toBe('CompletedWithWarnings');
    expect(warned.warnings).toEqual([{ code: 'GuestAgentUnavailable', message: 'web01: crash-consistent', subject: 'web01', detail: 'no agent' }]);
  });

  it('cancels a running job cleanly and refuses to cancel a finished one', async () => {
    const { jobs } = setup();
    let running!: () => void;
    const inProgress = new Promise<void>((r) => (running = r));
    const job = jobs.start('Restore', {}, (ctx) => {
      running(); // the work runs: the job is InProgress
      return new Promise((_r, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)));
    });
    await inProgress;
    expect(jobs.cancel(job.id).status).toBe('Cancelling');
    const ended = await jobs.wait(job.id);
    expect(ended.status).toBe('Cancelled');
    expect(ended.error?.code).toBe('OperationCancelled');
    expect(() => jobs.cancel(job.id)).toThrow(/already ended/);
    expect(() => jobs.get(999)).toThrow(CofferError);
  });

  it('keeps heavy jobs to the concurrency limit', async () => {
    const { jobs } = setup();
    let running = 0;
    let peak = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let full!: () => void;
    const twoRunning = new Promise<void>((r) => (full = r));
    const work = async () => {
      running++;
      peak = Math.max(peak, running);
      if (running === 2) full();
      await gate; // held until the test has looked at the queue
      running--;
    };
    const started = [1, 2, 3, 4, 5].map((i) => jobs.start('Backup', { vmId: `vm${i}` }, work));
    await twoRunning;
    expect(started.map((j) => jobs.get(j.id).status)).toEqual(['InProgress', 'InProgress', 'Queued', 'Queued', 'Queued']);
    release();
    const ended = await Promise.all(started.map((j) => jobs.wait(j.id)));
    expect(ended.map((j) => j.status)).toEqual(Array(5).fill('Completed'));
    expect(peak).toBe(2);
  });

  it('marks jobs of a dead process Failed with Interrupted when the catalog is opened again', async () => {
    const dir = tmp();
    const first = setup(dir);
    first.db
      .prepare("INSERT INTO jobs (operation, status, created_at, owner_pid, started_at) VALUES ('Backup', 'InProgress', ?, 999999999, ?)")
      .run(new Date().toISOString(), new Date().toISOString());
    const second = setup(dir);
    const [job] = second.jobs.query({ ...defaults }).jobs;
    expect(job).toMatchObject({ status: 'Failed', error: { code: 'Interrupted' } });
  });

  it('filters by status, operation, time and VM with stable keyset pages', async () => {
    const { jobs } = setup();
    for (let i = 0; i < 7; i++) {
      await jobs.wait(jobs.start(i % 2 ? 'Register' : 'Backup', { vmId: `vm${i % 3}` }, async () => {
        if (i === 4) throw new CofferError('DiskUnreadable');
      }).id);
    }
    const page1 = jobs.query({ limit: 3 });
    expect(page1.jobs.map((j) => j.id)).toEqual([7, 6, 5]);
    const page2 = jobs.query({ limit: 3, cursor: page1.nextCursor! });
    expect(page2.jobs.map((j) => j.id)).toEqual([4, 3, 2]);
    const page3 = jobs.query({ limit: 3, cursor: page2.nextCursor! });
    expect(page3).toEqual({ jobs: [expect.objectContaining({ id: 1 })], nextCursor: null });

    expect(jobs.query({ ...defaults, status: ['Failed'] }).jobs.map((j) => j.id)).toEqual([5]);
    expect(jobs.query({ ...defaults, operation: ['Register'] }).jobs.map((j) => j.id)).toEqual([6, 4, 2]);
    expect(jobs.query({ ...defaults }, undefined, ['vm0']).jobs.map((j) => j.id)).toEqual([7, 4, 1]);
    expect(jobs.query({ ...defaults, from: new Date(Date.now() + 60_000).toISOString() }).jobs).toEqual([]);
    expect(jobs.query({ ...defaults, to: new Date(Date.now() + 60_000).toISOString() }).jobs).toHaveLength(7);
  });
});
