// Notifications come from the job log on the host: a job that ends while no page is connected is
// listed unread; what the admin marked read stays read across a new engine on the same data folder.
import Database from 'better-sqlite3';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openCatalog } from '../../main/core/catalog/catalog.js';
import { migrations } from '../../main/core/catalog/migrations.js';
import { CofferError } from '../../main/core/errors.js';
import type { Engine } from '../../main/core/engine.js';
import { shouldNotify } from '../../main/core/tray.js';
import { unwrap } from '../helpers/cli.js';
import { useEngines } from '../helpers/engine.js';
import { useTmp } from '../helpers/tmp.js';

const tmp = useTmp();
const open = useEngines();

/** Runs a job to its end with nobody listening (no page, no socket), as the scheduler does at night. */
async function runJob(engine: Engine, vmName: string, outcome: 'ok' | 'fail' | 'cancel' = 'ok'): Promise<number> {
  const job = engine.jobs.start('Backup', { vmId: `id-${vmName}`, vmName, cloudService: 'lab', vaultName: 'vault-lab' }, async (ctx) => {
    if (outcome === 'fail') throw new CofferError('DiskUnreadable', `Cannot read the disk of ${vmName}`);
    if (outcome === 'cancel') {
      engine.jobs.cancel(ctx.job.id);
      throw ctx.signal.reason;
    }
    return { summary: { code: 'LegacyText' as const, params: { text: `${vmName} backed up` } } };
  });
  await engine.jobs.wait(job.id);
  return job.id;
}

describe('notifications from the job log', () => {
  it('lists a job that ended while no page was connected as unread, newest first', async () => {
    const { engine, router } = open(tmp());
    const first = await runJob(engine, 'web01');
    const failed = await runJob(engine, 'db01', 'fail');
    await runJob(engine, 'app01', 'cancel');
    const list = unwrap(await router.invoke('listNotifications', {}));
    // The cancelled job is the admin's own doing: not news.
    expect(list.notifications.map((n) => [n.job.id, n.intent, n.read])).toEqual([
      [failed, 'error', false],
      [first, 'success', false],
    ]);
    expect(list.unread).toBe(2);
    expect(list.notifications[0]!.job.error?.code).toBe('DiskUnreadable');
    expect(list.latest).toBe(list.notifications[0]!.cursor);
  });

  it('keeps what was marked read across a new engine on the same data folder', async () => {
    const dataDir = tmp();
    const a = open(dataDir);
    await runJob(a.engine, 'web01');
    await runJob(a.engine, 'db01', 'fail');
    const seen = unwrap(await a.router.invoke('listNotifications', {}));
    expect(unwrap(await a.router.invoke('markNotificationsRead', { upTo: seen.latest! }))).toEqual({ unread: 0 });
    await a.engine.close();

    const b = open(dataDir);
    const again = unwrap(await b.router.invoke('listNotifications', {}));
    expect(again.unread).toBe(0);
    expect(again.notifications.map((n) => n.read)).toEqual([true, true]);
    // A job that ends afterwards is the only unread one, and the only one newer than the cursor seen.
    const later = await runJob(b.engine, 'app01');
    const since = unwrap(await b.router.invoke('listNotifications', { since: seen.latest! }));
    expect(since.notifications.map((n) => [n.job.id, n.read])).toEqual([[later, false]]);
    expect(since.unread).toBe(1);
  });

  it('tells every page when notifications were read, and clear hides them from the list', async () => {
    const { engine, router } = open(tmp());
    const events: unknown[] = [];
    engine.subscribe((event, payload) => event === 'notificationsRead' && events.push(payload));
    await runJob(engine, 'web01');
    const { latest } = unwrap(await router.invoke('listNotifications', {}));
    unwrap(await router.invoke('markNotificationsRead', { upTo: latest!, clear: true }));
    expect(events).toEqual([{ unread: 0 }]);
    expect(unwrap(await router.invoke('listNotifications', {})).notifications).toEqual([]);
    // A mark never moves back: an older cursor leaves the read state as it is.
    const kept = await runJob(engine, 'db01');
    unwrap(await router.invoke('markNotificationsRead', { upTo: latest! }));
    expect(unwrap(await router.invoke('listNotifications', {})).notifications.map((n) => [n.job.id, n.read])).toEqual([[kept, false]]);
  });

  it('refuses a cursor it did not make', async () => {
    const { router } = open(tmp());
    const r = await router.invoke('markNotificationsRead', { upTo: 'yesterday' });
    expect(r.ok ? null : r.error.code).toBe('InvalidArgument');
    const l = await router.invoke('listNotifications', { since: 'not|a-cursor' });
    expect(l.ok ? null : l.error.code).toBe('InvalidArgument');
  });

  it('lists a job a restart found interrupted as an unread failure', async () => {
    const dataDir = tmp();
    const { engine } = open(dataDir);
    // A job of a Coffer process that died mid-backup (no such PID exists).
    engine.db
      .prepare("INSERT INTO jobs (operation, status, vm_name, created_at, started_at, owner_pid) VALUES ('Backup', 'InProgress', 'web01', ?, ?, 999999999)")
      .run(new Date().toISOString(), new Date().toISOString());
    await engine.close();
    const { router } = open(dataDir);
    const list = unwrap(await router.invoke('listNotifications', {}));
    expect(list.notifications.map((n) => [n.job.vmName, n.intent, n.job.error?.code, n.read])).toEqual([['web01', 'error', 'Interrupted', false]]);
  });

  it('counts the jobs that ended before the upgrade as read (migration 10)', () => {
    const dataDir = path.join(tmp(), 'data');
    fs.mkdirSync(dataDir, { recursive: true });
    // A catalog of the version before the read state (9), with some history.
    const old = new Database(path.join(dataDir, 'catalog.sqlite'));
    for (const m of migrations.slice(0, 9)) m(old);
    old.pragma('user_version = 9');
    old.prepare("INSERT INTO jobs (operation, status, created_at, ended_at) VALUES ('Backup', 'Failed', '2026-01-01T00:00:00.000Z', '2026-01-01T00:10:00.000Z')").run();
    old.close();
    const upgraded = openCatalog(dataDir);
    try {
      expect(upgraded.pragma('user_version', { simple: true })).toBe(migrations.length);
      expect(upgraded.prepare('SELECT name, ended_at FROM notification_marks').all()).toEqual([{ name: 'read', ended_at: '2026-01-01T00:10:00.000Z' }]);
    } finally {
      upgraded.close();
    }
  });

  it('gives the tray the same rule of what is news', () => {
    const job = (status: 'Completed' | 'CompletedWithWarnings' | 'Failed' | 'Cancelled') => ({ id: 1, operation: 'Backup', status });
    expect(['Completed', 'CompletedWithWarnings', 'Failed', 'Cancelled'].map((s) => shouldNotify(job(s as 'Failed'), 'all'))).toEqual([true, true, true, false]);
    expect(['Completed', 'CompletedWithWarnings', 'Failed', 'Cancelled'].map((s) => shouldNotify(job(s as 'Failed'), 'failures'))).toEqual([false, false, true, false]);
  });
});
