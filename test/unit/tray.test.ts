import { describe, expect, it } from 'vitest';
import {
  jobNotification,
  MAX_TRAY_JOBS,
  restoreBounds,
  shouldNotify,
  trayMenuModel,
  trayStatus,
  trackJob,
  type JobLike,
  type JobStatus,
  type TrayMenuItem,
} from '../../main/core/tray.js';

const backup = (vmName: string, status: JobStatus, endedAt?: string, id = `${vmName}-${endedAt ?? status}`): JobLike => ({
  id,
  operation: 'Backup',
  status,
  vmName,
  ...(endedAt ? { endedAt } : {}),
});

const labels = (items: TrayMenuItem[]) => items.map((i) => (i.kind === 'separator' ? '---' : i.label));

describe('trayStatus', () => {
  it.each<[string, JobLike[], ReturnType<typeof trayStatus>]>([
    ['no jobs at all', [], 'idle'],
    ['only successes', [backup('web', 'Completed', '2025-01-01T02:00:00Z')], 'idle'],
    ['a backup is running', [backup('web', 'InProgress')], 'running'],
    ['a job is still cancelling', [backup('web', 'Cancelling')], 'running'],
    ['queued jobs do not count as running', [backup('web', 'Queued')], 'idle'],
    ['the latest backup failed', [backup('web', 'Completed', '2025-01-01T02:00:00Z'), backup('web', 'Failed', '2025-01-02T02:00:00Z')], 'failed'],
    ['a newer success clears an older failure', [backup('web', 'Failed', '2025-01-01T02:00:00Z'), backup('web', 'Completed', '2025-01-02T02:00:00Z')], 'idle'],
    ['success with warnings also clears it', [backup('web', 'Failed', '2025-01-01T02:00:00Z'), backup('web', 'CompletedWithWarnings', '2025-01-02T02:00:00Z')], 'idle'],
    ['a cancelled retry leaves the failure standing', [backup('web', 'Failed', '2025-01-01T02:00:00Z'), backup('web', 'Cancelled', '2025-01-02T02:00:00Z')], 'failed'],
    ['one VM failing is enough', [backup('web', 'Completed', '2025-01-02T02:00:00Z'), backup('db', 'Failed', '2025-01-01T02:00:00Z')], 'failed'],
    ['running wins over failed', [backup('db', 'Failed', '2025-01-01T02:00:00Z'), backup('web', 'InProgress')], 'running'],
    ['order in the list does not matter, time does', [backup('web', 'Completed', '2025-01-03T02:00:00Z'), backup('web', 'Failed', '2025-01-02T02:00:00Z')], 'idle'],
    ['a failed restore is not a failed backup', [{ id: 'r1', operation: 'Restore', status: 'Failed', vmName: 'web', endedAt: 1 }], 'idle'],
    ['epoch milliseconds work as endedAt', [{ ...backup('web', 'Failed'), endedAt: 2000 }, { ...backup('web', 'Completed'), endedAt: 1000 }], 'failed'],
  ])('%s', (_name, jobs, expected) => {
    expect(trayStatus(jobs)).toBe(expected);
  });
});

describe('trackJob', () => {
  const fold = (updates: JobLike[]) => {
    let log: JobLike[] = [];
    const finishedAt: (string | number)[] = [];
    for (const u of updates) {
      const r = trackJob(log, u);
      log = r.log;
      if (r.justFinished) finishedAt.push(u.id);
    }
    return { log, finishedAt };
  };

  it('reports a job as finished once, however often the engine echoes it', () => {
    const { finishedAt } = fold([
      backup('web', 'Queued', undefined, 'j1'),
      backup('web', 'InProgress', undefined, 'j1'),
      backup('web', 'Failed', '2025-01-01T02:00:00Z', 'j1'),
      backup('web', 'Failed', '2025-01-01T02:00:00Z', 'j1'),
    ]);
    expect(finishedAt).toEqual(['j1']);
  });

  it('keeps the running jobs and each VM\'s latest finished backup, nothing more', () => {
    const { log } = fold([
      backup('web', 'Failed', '2025-01-01T02:00:00Z', 'j1'),
      backup('web', 'Completed', '2025-01-02T02:00:00Z', 'j2'),
      backup('db', 'InProgress', undefined, 'j3'),
      { id: 'j4', operation: 'Register', status: 'Completed', vmName: 'web', endedAt: '2025-01-02T03:00:00Z' },
      backup('mail', 'Cancelled', '2025-01-02T04:00:00Z', 'j5'),
    ]);
    expect(log.map((j) => j.id).sort()).toEqual(['j2', 'j3']);
    expect(trayStatus(log)).toBe('running');
  });

  it('lets the tray turn failed, then idle again after a good backup', () => {
    let { log } = fold([backup('web', 'InProgress', undefined, 'j1')]);
    log = trackJob(log, backup('web', 'Failed', '2025-01-01T02:00:00Z', 'j1')).log;
    expect(trayStatus(log)).toBe('failed');
    log = trackJob(log, backup('web', 'Completed', '2025-01-02T02:00:00Z', 'j2')).log;
    expect(trayStatus(log)).toBe('idle');
  });

  it('keeps two VMs of the same name apart by their id', () => {
    const { log } = fold([
      { ...backup('web', 'Failed', '2025-01-01T02:00:00Z', 'j1'), vmId: 'svc-a/web' },
      { ...backup('web', 'Completed', '2025-01-02T02:00:00Z', 'j2'), vmId: 'svc-b/web' },
    ]);
    expect(trayStatus(log)).toBe('failed');
  });

  it('ignores a finished backup older than the one it already holds', () => {
    const { log } = fold([
      backup('web', 'Completed', '2025-01-02T02:00:00Z', 'j2'),
      backup('web', 'Failed', '2025-01-01T02:00:00Z', 'j1'),
    ]);
    expect(log.map((j) => j.id)).toEqual(['j2']);
  });
});

describe('trayMenuModel', () => {
  it('offers the notification level and start at login when the OS has them', () => {
    const items = trayMenuModel({ jobs: [], protectedVmCount: 0, notify: 'all', openAtLogin: false });
    expect(items).toContainEqual({
      kind: 'choice',
      label: 'Notifications',
      options: [
        { value: 'off', label: 'Off', checked: false },
        { value: 'failures', label: 'Failures only', checked: false },
        { value: 'all', label: 'All finished jobs', checked: true },
      ],
    });
    expect(items).toContainEqual({ kind: 'toggle', action: 'toggleOpenAtLogin', label: 'Start Coffer at login', checked: false });
    // Linux has no login items: the toggle is left out rather than shown and ignored.
    expect(trayMenuModel({ jobs: [], protectedVmCount: 0, notify: 'failures' }).some((i) => i.kind === 'toggle')).toBe(false);
  });

  it('offers Open and Quit when nothing is protected or running', () => {
    expect(labels(trayMenuModel({ jobs: [], protectedVmCount: 0 }))).toEqual(['Open Coffer', '---', 'Quit Coffer']);
  });

  it('offers Back up all now once a VM is protected', () => {
    const items = trayMenuModel({ jobs: [], protectedVmCount: 2 });
    expect(labels(items)).toEqual(['Open Coffer', '---', 'Back up all now', '---', 'Quit Coffer']);
    expect(items).toContainEqual({ kind: 'action', action: 'backUpAll', label: 'Back up all now' });
  });

  it('lists running jobs with their progress, and only running ones', () => {
    const jobs: JobLike[] = [
      { id: 'j1', operation: 'Backup', status: 'InProgress', vmName: 'web-01', progress: 0.424 },
      { id: 'j2', operation: 'Restore', status: 'InProgress', vmName: 'db' },
      { id: 'j3', operation: 'Backup', status: 'Cancelling', vmName: 'mail' },
      { id: 'j4', operation: 'Backup', status: 'Queued', vmName: 'queued-vm' },
      { id: 'j5', operation: 'Backup', status: 'Completed', vmName: 'done-vm', endedAt: 1 },
      { id: 'j6', operation: 'Verify', status: 'InProgress', progress: 7 },
    ];
    const items = trayMenuModel({ jobs, protectedVmCount: 1 });
    expect(labels(items)).toEqual([
      'Open Coffer',
      '---',
      'Backup web-01: 42%',
      'Restore db',
      'Backup mail (cancelling)',
      'Verify: 100%',
      '---',
      'Back up all now',
      '---',
      'Quit Coffer',
    ]);
    expect(items.filter((i) => i.kind === 'job').map((i) => (i.kind === 'job' ? i.jobId : ''))).toEqual(['j1', 'j2', 'j3', 'j6']);
  });

  it('collapses a long list of running jobs into one line', () => {
    const jobs = Array.from({ length: MAX_TRAY_JOBS + 3 }, (_, n) => backup(`vm${n}`, 'InProgress'));
    const items = trayMenuModel({ jobs, protectedVmCount: 0 });
    expect(items.filter((i) => i.kind === 'job')).toHaveLength(MAX_TRAY_JOBS);
    expect(labels(items)).toContain('3 more running');
  });
});

describe('shouldNotify', () => {
  const statuses: JobStatus[] = ['Queued', 'InProgress', 'Completed', 'CompletedWithWarnings', 'Failed', 'Cancelling', 'Cancelled'];
  const notified = (setting: 'off' | 'failures' | 'all') =>
    statuses.filter((status) => shouldNotify(backup('web', status), setting));

  it('stays silent when the user turned notifications off', () => {
    expect(notified('off')).toEqual([]);
  });
  it('reports only failures at the failures level', () => {
    expect(notified('failures')).toEqual(['Failed']);
  });
  it('reports every finished job the user did not cancel at the all level', () => {
    expect(notified('all')).toEqual(['Completed', 'CompletedWithWarnings', 'Failed']);
  });
});

describe('jobNotification', () => {
  it('tells what failed and what to do next', () => {
    const job: JobLike = {
      ...backup('web-01', 'Failed', '2025-01-01T02:00:00Z'),
      error: { message: 'A disk file of the VM could not be read.', remedy: 'Check that the file exists.' },
    };
    expect(jobNotification(job)).toEqual({
      title: 'Backup web-01 failed',
      body: 'A disk file of the VM could not be read. Check that the file exists.',
    });
  });
  it('shows the summary of a success', () => {
    const job: JobLike = { ...backup('web-01', 'CompletedWithWarnings', '2025-01-01T02:00:00Z'), summary: { code: 'BackupDone', params: { pointId: 'p7', disks: 2, bytesRead: 2.1 * 2 ** 30, bytesStored: 140 * 2 ** 20 } } };
    expect(jobNotification(job)).toEqual({ title: 'Backup web-01 completed with warnings', body: 'Recovery point p7: 2 disks, 2.1 GiB read, 140.0 MiB stored.' });
  });
});

describe('restoreBounds', () => {
  const laptop = { workArea: { x: 0, y: 0, width: 1920, height: 1040 } };
  const monitorOnTheRight = { workArea: { x: 1920, y: 0, width: 2560, height: 1400 } };

  it('restores bounds that sit on a display', () => {
    expect(restoreBounds({ x: 100, y: 80, width: 1200, height: 800 }, [laptop])).toEqual({ x: 100, y: 80, width: 1200, height: 800 });
  });
  it('keeps the maximized flag', () => {
    expect(restoreBounds({ x: 100, y: 80, width: 1200, height: 800, maximized: true }, [laptop])).toMatchObject({ maximized: true });
  });
  it('restores onto a second display while it is attached', () => {
    expect(restoreBounds({ x: 2200, y: 100, width: 1600, height: 1000 }, [laptop, monitorOnTheRight])).toEqual({ x: 2200, y: 100, width: 1600, height: 1000 });
  });
  it('gives up when that display was unplugged', () => {
    expect(restoreBounds({ x: 2200, y: 100, width: 1600, height: 1000 }, [laptop])).toBeUndefined();
  });
  it('gives up when only a sliver of the title bar would show', () => {
    expect(restoreBounds({ x: 1860, y: 100, width: 1000, height: 700 }, [laptop])).toBeUndefined();
    expect(restoreBounds({ x: 100, y: -50, width: 1000, height: 700 }, [laptop])).toBeUndefined();
  });
  it('tolerates a few pixels outside the work area, as Windows reports snapped windows', () => {
    expect(restoreBounds({ x: -7, y: -5, width: 1000, height: 700 }, [laptop])).toEqual({ x: -7, y: -5, width: 1000, height: 700 });
  });
  it('shrinks a window larger than the display it lands on', () => {
    expect(restoreBounds({ x: 0, y: 0, width: 2560, height: 1400 }, [laptop])).toEqual({ x: 0, y: 0, width: 1920, height: 1040 });
  });
  it.each([
    ['nothing saved', undefined],
    ['garbage in the preferences file', 'wide'],
    ['a missing field', { x: 1, y: 2, width: 800 }],
    ['a non-number', { x: '1', y: 2, width: 800, height: 600 }],
    ['NaN', { x: Number.NaN, y: 2, width: 800, height: 600 }],
    ['a collapsed window', { x: 10, y: 10, width: 20, height: 10 }],
  ])('ignores %s', (_name, saved) => {
    expect(restoreBounds(saved, [laptop])).toBeUndefined();
  });
  it('ignores everything when no display is known', () => {
    expect(restoreBounds({ x: 100, y: 80, width: 1200, height: 800 }, [])).toBeUndefined();
  });
});
