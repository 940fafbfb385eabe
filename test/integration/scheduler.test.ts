import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Job } from '../../preload/contract.js';
import type { Engine } from '../../main/core/engine.js';
import { Scheduler } from '../../main/core/scheduler.js';
import { cofferIn, unwrap } from '../helpers/cli.js';
import { useEngines } from '../helpers/engine.js';
import { useTmp } from '../helpers/tmp.js';

const tmp = useTmp();
const open = useEngines();

/** One protected VM (policy: daily at the given local times) and a scheduler on a manual clock. */
async function setup(times: string[], dataDir?: string) {
  const dir = dataDir ? path.dirname(dataDir) : tmp();
  const data = dataDir ?? path.join(dir, 'data');
  const { engine, router } = open(data);
  engine.protection.timeZone = 'Europe/Amsterdam';
  if (!dataDir) {
    const vmDir = path.join(dir, 'src', 'rack1');
    fs.mkdirSync(vmDir, { recursive: true });
    fs.writeFileSync(path.join(vmDir, 'db01.img'), randomBytes(256 * 1024));
    fs.writeFileSync(
      path.join(vmDir, 'db01.xml'),
      `<domain type='kvm'><name>db01</name><uuid>5e0f8a1c-2222-4333-8444-555566667777</uuid><devices><disk type='file' device='disk'><source file='db01.img'/><target dev='vda'/></disk></devices></domain>`,
    );
    unwrap(await router.invoke('createVault', { name: 'vault-a', region: 'r1', path: path.join(dir, 'vault'), passphrase: 'correct horse battery' }));
    unwrap(await router.invoke('addSource', { kind: 'folder', target: path.join(dir, 'src'), region: 'r1' }));
    await engine.jobs.wait(unwrap(await router.invoke('discoverVms', { vault: 'vault-a' })).id);
    for (const j of unwrap(await router.invoke('registerVms', { vault: 'vault-a', vms: ['db01'] }))) await engine.jobs.wait(j.id);
    unwrap(await router.invoke('createPolicy', { vault: 'vault-a', name: 'Nightly', spec: { schedule: { kind: 'daily', times }, retention: { dailyDays: 7 } } }));
    for (const j of unwrap(await router.invoke('protectVms', { vault: 'vault-a', vms: ['db01'], policy: 'Nightly' }))) await engine.jobs.wait(j.id);
    // Protected on a Friday morning in Amsterdam, in the clock's terms.
    engine.db.prepare("UPDATE vms SET protected_at = '2026-03-27T08:00:00.000Z'").run();
  }
  const scheduler = new Scheduler(engine.db, engine.protection);
  return { engine, router, scheduler, data };
}

const at = (iso: string) => new Date(iso);

/**
 * Cancels a job from inside its first progress event that is not its last, so the job cannot
 * finish between "it is running" and "cancel it", however fast the machine is.
 */
function cancelOnFirstProgress(engine: Engine, id: number): Promise<Job> {
  return new Promise((resolve, reject) => {
    const off = engine.subscribe((event, payload) => {
      const j = payload as Job;
      if (event !== 'jobUpdated' || j.id !== id) return;
      if (j.status === 'InProgress' && j.bytesTotal > 0 && j.bytesDone < j.bytesTotal) {
        off();
        resolve(engine.jobs.cancel(id));
      } else if (j.status !== 'Queued' && j.status !== 'InProgress') {
        off();
        reject(new Error(`job ${id} ended (${j.status}) before it reported progress`));
      }
    });
  });
}

describe('scheduler on a manual clock', () => {
  it('runs the initial backup at the first slot, once, and then the next day', async () => {
    const { engine, scheduler, router } = await setup(['22:00']);
    expect(scheduler.tick(at('2026-03-27T20:59:00Z'))).toEqual([]); // 21:59 CET
    const [first] = scheduler.tick(at('2026-03-27T21:00:20Z'));
    expect(first).toMatchObject({ operation: 'Backup', trigger: 'scheduled', vmName: 'db01' });
    expect(scheduler.tick(at('2026-03-27T21:00:40Z'))).toEqual([]); // busy, and the slot is taken
    expect((await engine.jobs.wait(first!.id)).status).toBe('Completed');
    expect(scheduler.tick(at('2026-03-27T21:30:00Z'))).toEqual([]);
    expect(unwrap(await router.invoke('dashboard', {})).protectedByState).toEqual({ Protected: 1 });
    // Saturday 22:00 CET is 21:00Z; Sunday after the spring-forward night, 22:00 CEST is 20:00Z.
    expect(scheduler.tick(at('2026-03-28T21:00:30Z'))).toHaveLength(1);
    await Promise.all(engine.jobs.query({ limit: 10, status: ['Queued', 'InProgress'] }).jobs.map((j) => engine.jobs.wait(j.id)));
    expect(scheduler.tick(at('2026-03-29T19:59:00Z'))).toEqual([]);
    expect(scheduler.tick(at('2026-03-29T20:00:30Z'))).toHaveLength(1);
  });

  it('runs a slot in the skipped DST hour once, when the clocks jump', async () => {
    const { engine, scheduler } = await setup(['02:30']);
    engine.db.prepare("UPDATE vms SET protected_at = '2026-03-28T12:00:00.000Z'").run();
    // 2026-03-29 02:30 does not exist in Amsterdam: it runs at 03:00 CEST = 01:00Z.
    expect(scheduler.tick(at('2026-03-29T00:59:00Z'))).toEqual([]);
    const jobs = scheduler.tick(at('2026-03-29T01:00:10Z'));
    expect(jobs).toHaveLength(1);
    await engine.jobs.wait(jobs[0]!.id);
    expect(scheduler.tick(at('2026-03-29T01:40:00Z'))).toEqual([]);
  });

  it('runs the repeated DST hour slot once, at its first occurrence', async () => {
    const { engine, scheduler } = await setup(['02:30']);
    engine.db.prepare("UPDATE vms SET protected_at = '2026-10-24T12:00:00.000Z'").run();
    const jobs = scheduler.tick(at('2026-10-25T00:30:10Z')); // 02:30 CEST
    expect(jobs).toHaveLength(1);
    await engine.jobs.wait(jobs[0]!.id);
    expect(scheduler.tick(at('2026-10-25T01:30:10Z'))).toEqual([]); // 02:30 CET, the second time
  });

  it('after sleeping over many slots runs the latest missed one once, as a catch-up', async () => {
    const { engine, scheduler } = await setup(['06:00', '18:00']);
    const jobs = scheduler.tick(at('2026-04-02T09:00:00Z')); // six days and twelve slots later
    expect(jobs).toHaveLength(1);
    expect(jobs[0]!.trigger).toBe('catchUp');
    await engine.jobs.wait(jobs[0]!.id);
    expect(scheduler.tick(at('2026-04-02T09:01:00Z'))).toEqual([]);
    const next = scheduler.tick(at('2026-04-02T16:00:30Z')); // 18:00 CEST
    expect(next).toHaveLength(1);
    expect(next[0]!.trigger).toBe('scheduled');
    await engine.jobs.wait(next[0]!.id);
  });

  it('records who started each backup (catch-up, schedule, Backup Now) and the CLI lists it', async () => {
    const { engine, router, scheduler, data } = await setup(['06:00', '18:00']);
    const [catchUp] = scheduler.tick(at('2026-04-02T09:00:00Z'));
    await engine.jobs.wait(catchUp!.id);
    const [scheduled] = scheduler.tick(at('2026-04-02T16:00:30Z'));
    await engine.jobs.wait(scheduled!.id);
    const [manual] = unwrap(await router.invoke('backupNow', { vms: ['db01'] }));
    expect(manual!.trigger).toBe('manual');
    await engine.jobs.wait(manual!.id);
    const backups = unwrap(await router.invoke('listJobs', { operation: ['Backup'], limit: 10 })).jobs;
    expect(backups.map((j) => [j.trigger, j.status, j.summary?.code])).toEqual([
      ['manual', 'Completed', 'BackupDone'],
      ['scheduled', 'Completed', 'BackupDone'],
      ['catchUp', 'Completed', 'BackupDone'],
    ]);
    expect(unwrap(await router.invoke('listJobs', { trigger: ['scheduled', 'catchUp'], limit: 10 })).jobs.map((j) => j.id)).toEqual([scheduled!.id, catchUp!.id]);
    await engine.close();

    const coffer = cofferIn(data);
    const list = coffer('job', 'list', '--operation', 'Backup');
    expect(list.code).toBe(0);
    const rows = list.out.split('\n').filter((l) => /^\d+\s+Backup/.test(l));
    expect(rows.map((l) => l.split(/\s+/)[2])).toEqual(['manual', 'scheduled', 'catchUp']);
    expect(rows[0]).toMatch(/Recovery point \S+: 1 disk, [\d.]+ (B|KiB) read, [\d.]+ (B|KiB) stored\./);
    expect(coffer('job', 'show', String(catchUp!.id)).out).toContain('trigger catchUp');
    expect(coffer('job', 'list', '--trigger', 'scheduled').out).not.toMatch(/\bcatchUp\b|\bmanual\b/);
  });

  it('marks a job cut off by a restart Interrupted and goes on at the next slot', async () => {
    const first = await setup(['22:00']);
    const [job] = first.scheduler.tick(at('2026-03-27T21:00:20Z'));
    await first.engine.jobs.wait(job!.id);
    // A crash mid-backup: the row says InProgress and its process is gone.
    first.engine.db
      .prepare("INSERT INTO jobs (operation, status, vm_id, vm_name, created_at, started_at, owner_pid) SELECT 'Backup', 'InProgress', id, name, ?, ?, 999999999 FROM vms")
      .run('2026-03-28T21:00:05.000Z', '2026-03-28T21:00:05.000Z');
    first.engine.db.prepare("UPDATE vms SET last_attempt_at = '2026-03-28T21:00:05.000Z'").run();
    await first.engine.close();

    const again = await setup(['22:00'], first.data);
    const interrupted = again.engine.jobs.query({ limit: 1 }).jobs[0]!;
    expect(interrupted).toMatchObject({ status: 'Failed', error: { code: 'Interrupted' } });
    expect(again.scheduler.tick(at('2026-03-28T21:30:00Z'))).toEqual([]);
    // A restarted console has no key in memory until the vault is opened again.
    unwrap(await again.router.invoke('unlockVault', { name: 'vault-a', passphrase: 'correct horse battery' }));
    const next = again.scheduler.tick(at('2026-03-29T20:00:30Z'));
    expect(next).toHaveLength(1);
    expect((await again.engine.jobs.wait(next[0]!.id)).status).toBe('Completed');
  });

  it('fails a scheduled run of a locked vault visibly with VaultLocked and a remedy', async () => {
    const { engine, scheduler, router } = await setup(['22:00']);
    unwrap(await router.invoke('lockVault', { name: 'vault-a' }));
    const [job] = scheduler.tick(at('2026-03-27T21:00:20Z'));
    const ended = await engine.jobs.wait(job!.id);
    expect(ended.status).toBe('Failed');
    expect(ended.error).toMatchObject({ code: 'VaultLocked', remedy: expect.stringContaining('passphrase') });
    expect(unwrap(await router.invoke('dashboard', {})).protectedByState).toEqual({ ProtectionError: 1 });
  });

  it('unlocks a vault from a private key file for unattended runs, and refuses a readable one', async () => {
    const { engine, router, data } = await setup(['22:00']);
    const keyFile = path.join(path.dirname(data), 'vault-a.key');
    fs.writeFileSync(keyFile, 'correct horse battery\n', { mode: 0o644 });
    const loose = await router.invoke('setVaultKeyFile', { name: 'vault-a', keyFile });
    expect(loose.ok).toBe(false);
    expect(!loose.ok && loose.error.remedy).toContain('chmod 600');
    fs.chmodSync(keyFile, 0o600);
    unwrap(await router.invoke('setVaultKeyFile', { name: 'vault-a', keyFile }));
    // A restarted host has no key in memory: the key file opens the vault for the scheduled run.
    await engine.close();
    const again = await setup(['22:00'], data);
    const [job] = again.scheduler.tick(at('2026-03-27T21:00:20Z'));
    expect((await again.engine.jobs.wait(job!.id)).status).toBe('Completed');
  });

  it('a vault the admin locked stays locked despite its key file, until the admin unlocks it', async () => {
    const { engine, scheduler, router, data } = await setup(['22:00']);
    const keyFile = path.join(path.dirname(data), 'vault-a.key');
    fs.writeFileSync(keyFile, 'correct horse battery\n', { mode: 0o600 });
    unwrap(await router.invoke('setVaultKeyFile', { name: 'vault-a', keyFile }));
    expect(unwrap(await router.invoke('lockVault', { name: 'vault-a' })).unlocked).toBe(false);
    const [scheduled] = scheduler.tick(at('2026-03-27T21:00:20Z'));
    expect((await engine.jobs.wait(scheduled!.id)).error).toMatchObject({ code: 'VaultLocked' });
    const [now] = unwrap(await router.invoke('backupNow', { vms: ['db01'] }));
    expect((await engine.jobs.wait(now!.id)).error).toMatchObject({ code: 'VaultLocked' });
    // Still locked after a restart: the lock is not undone by the key file either.
    await engine.close();
    const again = await setup(['22:00'], data);
    const [afterRestart] = unwrap(await again.router.invoke('backupNow', { vms: ['db01'] }));
    expect((await again.engine.jobs.wait(afterRestart!.id)).error).toMatchObject({ code: 'VaultLocked' });
    unwrap(await again.router.invoke('unlockVault', { name: 'vault-a', passphrase: 'correct horse battery' }));
    const [unlocked] = unwrap(await again.router.invoke('backupNow', { vms: ['db01'] }));
    expect((await again.engine.jobs.wait(unlocked!.id)).status).toBe('Completed');
  });
});

describe('one VM failing does not stop the others', () => {
  it('turns a backup that throws at once into a Failed job with code and remedy, and still starts the VMs after it', async () => {
    const { engine, scheduler, router, data } = await setup(['22:00']);
    // A second VM in the same folder, protected with the same policy.
    const vmDir = path.join(path.dirname(data), 'src', 'rack1');
    fs.writeFileSync(path.join(vmDir, 'db02.img'), randomBytes(128 * 1024));
    fs.writeFileSync(
      path.join(vmDir, 'db02.xml'),
      `<domain type='kvm'><name>db02</name><uuid>5e0f8a1c-2222-4333-8444-555566668888</uuid><devices><disk type='file' device='disk'><source file='db02.img'/><target dev='vda'/></disk></devices></domain>`,
    );
    await engine.jobs.wait(unwrap(await router.invoke('discoverVms', { vault: 'vault-a' })).id);
    for (const j of unwrap(await router.invoke('registerVms', { vault: 'vault-a', vms: ['db02'] }))) await engine.jobs.wait(j.id);
    for (const j of unwrap(await router.invoke('protectVms', { vault: 'vault-a', vms: ['db02'], policy: 'Nightly' }))) await engine.jobs.wait(j.id);
    engine.db.prepare("UPDATE vms SET protected_at = '2026-03-27T08:00:00.000Z'").run();
    // Both VMs hold the recovery point limit in turn: whichever the scheduler meets first refuses at once.
    const ids = (engine.db.prepare('SELECT id, vault_id FROM vms ORDER BY name').all() as { id: string; vault_id: string }[]);
    const fill = (vm: { id: string; vault_id: string }, n: number) => {
      const ins = engine.db.prepare("INSERT INTO points (vault_id, id, vm_id, vm_name, created_at, consistency, manual, logical_bytes, added_bytes, disks) VALUES (?, ?, ?, 'x', ?, 'offline', 0, 0, 0, '[]')");
      engine.db.transaction(() => {
        for (let i = 0; i < n; i++) ins.run(vm.vault_id, `${vm.id}-${i}`, vm.id, new Date(Date.UTC(2000, 0, 1) + i * 60_000).toISOString());
      })();
    };
    for (const [full, other] of [[ids[0]!, ids[1]!], [ids[1]!, ids[0]!]] as const) {
      engine.db.prepare('DELETE FROM points').run();
      engine.db.prepare("UPDATE vms SET last_attempt_at = NULL, protection_state = 'Protected'").run();
      fill(full, 9999);
      const started = scheduler.tick(at('2026-03-27T21:00:20Z'));
      const byVm = new Map(started.map((j) => [j.vmId, j]));
      expect([...byVm.keys()].sort()).toEqual([full.id, other.id].sort());
      const failed = await engine.jobs.wait(byVm.get(full.id)!.id);
      expect(failed).toMatchObject({ operation: 'Backup', status: 'Failed', error: { code: 'RecoveryPointLimitReached', remedy: expect.stringContaining('retention') } });
      expect((await engine.jobs.wait(byVm.get(other.id)!.id)).status).toBe('Completed');
      // The refused slot counts as attempted: the next tick does not fail it again.
      expect(scheduler.tick(at('2026-03-27T21:01:00Z'))).toEqual([]);
      expect(engine.inventory.allVms().find((v) => v.id === full.id)!.protectionState).toBe('ProtectionError');
    }
  });
});

describe('retain until a date', () => {
  it('keeps a Backup Now point until the end of the given day in the console time zone, whichever face sends the date', async () => {
    const { engine, router } = await setup(['22:00']);
    // Amsterdam in summer is UTC+2: the end of 30 June 2099 there is 21:59:59.999Z.
    const [job] = unwrap(await router.invoke('backupNow', { vms: ['db01'], retainUntil: '2099-06-30' }));
    expect((await engine.jobs.wait(job!.id)).status).toBe('Completed');
    const [point] = unwrap(await router.invoke('listPoints', { vm: 'db01' }));
    expect(point!.retainUntil).toBe('2099-06-30T21:59:59.999Z');
    const past = await router.invoke('backupNow', { vms: ['db01'], retainUntil: '2020-01-01' });
    expect(!past.ok && past.error).toMatchObject({ code: 'InvalidArgument', details: { field: 'retainUntil' } });
  });
});

describe('retention after backups', () => {
  it('prunes the points the policy no longer keeps and leaves the rest restorable', async () => {
    const { engine, scheduler, router, data } = await setup(['22:00']);
    for (const day of ['2026-03-27', '2026-03-28', '2026-03-29']) {
      const [job] = scheduler.tick(at(`${day}T23:30:00Z`));
      expect((await engine.jobs.wait(job!.id)).status).toBe('Completed');
    }
    const manual = unwrap(await router.invoke('backupNow', { vms: ['db01'], retainUntil: new Date(Date.now() + 30 * 86_400_000).toISOString() }));
    await engine.jobs.wait(manual[0]!.id);
    const points = unwrap(await router.invoke('listPoints', { vm: 'db01' }));
    expect(points).toHaveLength(4);
    expect(points[0]!.keptBy).toEqual(['retain-until']);

    // Eight days on, the daily tier (7 days) keeps nothing; the newest scheduled point is kept as
    // a safety net and the Backup Now point until its retain-until date.
    const prune = engine.protection.applyRetention(engine.inventory.allVms()[0]!.id, new Date(Date.now() + 8 * 86_400_000));
    const ended = await engine.jobs.wait(prune!.id);
    expect(ended).toMatchObject({ operation: 'Prune', status: 'Completed' });
    const left = unwrap(await router.invoke('listPoints', { vm: 'db01' }));
    expect(left.map((p) => p.id)).toEqual([points[0]!.id, points[1]!.id]);

    const verify = unwrap(await router.invoke('verifyVault', { vault: 'vault-a', full: true }));
    expect((await engine.jobs.wait(verify.id)).status).toBe('Completed');
    const target = path.join(path.dirname(data), 'restored');
    const restore = unwrap(await router.invoke('restorePoint', { vm: 'db01', pointId: left[1]!.id, mode: 'disks', targetDir: target }));
    expect((await engine.jobs.wait(restore.id)).status).toBe('Completed');
    expect(fs.readFileSync(path.join(target, 'db01.img')).equals(fs.readFileSync(path.join(path.dirname(data), 'src', 'rack1', 'db01.img')))).toBe(true);
  });
});

describe('cancel', () => {
  /** The job has its total and is not done: cancelling now stops it mid-way (the last event before Completed is all bytes done). */
  it('cancels a running backup and a running restore cleanly: no point, no partial target', async () => {
    const { engine, router, data } = await setup(['22:00']);
    const diskPath = path.join(path.dirname(data), 'src', 'rack1', 'db01.img');
    const fd = fs.openSync(diskPath, 'w');
    for (let i = 0; i < 96; i++) fs.writeSync(fd, randomBytes(1 << 20));
    fs.closeSync(fd);
    await engine.jobs.wait(unwrap(await router.invoke('discoverVms', { vault: 'vault-a' })).id);

    const [backup] = unwrap(await router.invoke('backupNow', { vms: ['db01'] }));
    await cancelOnFirstProgress(engine, backup!.id);
    const cancelled = await engine.jobs.wait(backup!.id);
    expect(cancelled.status).toBe('Cancelled');
    expect(unwrap(await router.invoke('listPoints', { vm: 'db01' }))).toEqual([]);

    const [ok] = unwrap(await router.invoke('backupNow', { vms: ['db01'] }));
    expect((await engine.jobs.wait(ok!.id)).status).toBe('Completed');
    const [point] = unwrap(await router.invoke('listPoints', { vm: 'db01' }));
    const target = path.join(path.dirname(data), 'restore-cancelled');
    const restore = unwrap(await router.invoke('restorePoint', { vm: 'db01', pointId: point!.id, mode: 'disks', targetDir: target }));
    await cancelOnFirstProgress(engine, restore.id);
    expect((await engine.jobs.wait(restore.id)).status).toBe('Cancelled');
    expect(fs.existsSync(target) ? fs.readdirSync(target) : []).toEqual([]);
    const verify = unwrap(await router.invoke('verifyVault', { vault: 'vault-a', full: true }));
    expect((await engine.jobs.wait(verify.id)).status).toBe('Completed');
  });
});

describe('verify', () => {
  it('fails with ChunkCorrupt naming the damaged VM when a pack is corrupted', async () => {
    const { engine, router, scheduler, data } = await setup(['22:00']);
    const [job] = scheduler.tick(at('2026-03-27T21:00:20Z'));
    await engine.jobs.wait(job!.id);
    const packs = path.join(path.dirname(data), 'vault', 'packs');
    const pack = fs.readdirSync(packs, { recursive: true, withFileTypes: true }).find((e) => e.isFile())!;
    const file = path.join(pack.parentPath, pack.name);
    const bytes = fs.readFileSync(file);
    bytes[bytes.length >> 1] = bytes[bytes.length >> 1]! ^ 0xff;
    fs.writeFileSync(file, bytes);
    const quick = await engine.jobs.wait(unwrap(await router.invoke('verifyVault', { vault: 'vault-a' })).id);
    expect(quick.status).toBe('Completed'); // quick: every chunk present
    const full = await engine.jobs.wait(unwrap(await router.invoke('verifyVault', { vault: 'vault-a', full: true })).id);
    expect(full.status).toBe('Failed');
    expect(full.error).toMatchObject({ code: 'ChunkCorrupt', message: expect.stringContaining('db01') });
  });
});
