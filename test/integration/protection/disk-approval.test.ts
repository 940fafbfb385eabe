import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Job } from '../../../preload/contract.js';
import { Engine } from '../../../main/core/engine.js';
import { Scheduler } from '../../../main/core/scheduler.js';
import { createRouter } from '../../../main/rpc/router.js';
import { cofferIn, unwrap } from '../../helpers/cli.js';
import { useTmp } from '../../helpers/tmp.js';

// The backup gate (issue 10 item 8): a protected VM whose definition now names other disk files
// does not get them backed up until the admin approves; a disk Coffer may not read refuses the job.
const tmp = useTmp();
const engines: Engine[] = [];
afterEach(async () => {
  for (const e of engines.splice(0)) await e.close();
});

const domain = (disk: string) =>
  `<domain type='kvm'><name>web</name><uuid>7a1b2c3d-1111-4222-8333-444455556666</uuid><devices><disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${disk}'/><target dev='vda'/></disk></devices></domain>`;

async function protectedWeb(disk: string) {
  const dir = tmp();
  const root = path.join(dir, 'src');
  const data = path.join(dir, 'data');
  fs.mkdirSync(root);
  fs.writeFileSync(path.join(root, 'web.img'), randomBytes(128 * 1024));
  fs.writeFileSync(path.join(root, 'other.img'), randomBytes(96 * 1024));
  fs.writeFileSync(path.join(root, 'web.xml'), domain(disk));
  const engine = Engine.open({ dataDir: data });
  engines.push(engine);
  const router = createRouter(engine, 'cli');
  unwrap(await router.invoke('createVault', { name: 'vault-a', region: 'r1', path: path.join(dir, 'vault'), passphrase: 'correct horse battery' }));
  unwrap(await router.invoke('addSource', { kind: 'folder', target: root, region: 'r1', name: 'lab' }));
  const discover = async () => engine.jobs.wait(unwrap(await router.invoke('discoverVms', { vault: 'vault-a' })).id);
  await discover();
  for (const j of unwrap(await router.invoke('registerVms', { vault: 'vault-a', vms: ['web'] }))) await engine.jobs.wait(j.id);
  unwrap(await router.invoke('createPolicy', { vault: 'vault-a', name: 'Nightly', spec: { schedule: { kind: 'daily', times: ['22:00'] }, retention: { dailyDays: 7 } } }));
  for (const j of unwrap(await router.invoke('protectVms', { vault: 'vault-a', vms: ['web'], policy: 'Nightly' }))) await engine.jobs.wait(j.id);
  const backup = async (): Promise<Job> => engine.jobs.wait(unwrap(await router.invoke('backupNow', { vms: ['web'] }))[0]!.id);
  const points = async () => unwrap(await router.invoke('listPoints', { vm: 'web' }));
  return { dir, root, data, engine, router, discover, backup, points };
}

describe('a protected VM whose disk paths changed waits for approval', () => {
  it('fails its backups with DiskPathsChanged (old -> new) and no point, until approve-disks; then backs up the new file', async () => {
    const { root, data, engine, router, discover, backup, points } = await protectedWeb('web.img');
    expect((await backup()).status).toBe('Completed');
    expect(await points()).toHaveLength(1);

    fs.writeFileSync(path.join(root, 'web.xml'), domain('other.img'));
    await discover();
    const held = await backup();
    expect(held.status).toBe('Failed');
    expect(held.error).toMatchObject({ code: 'DiskPathsChanged', remedy: expect.stringContaining('coffer vm approve-disks') });
    expect(held.error!.message).toContain(`${path.join(root, 'web.img')} -> ${path.join(root, 'other.img')}`);
    expect(await points()).toHaveLength(1);

    // The schedule keeps trying at later slots, and each try is held the same way.
    engine.db.prepare("UPDATE vms SET protected_at = '2026-03-27T08:00:00.000Z', last_attempt_at = NULL").run();
    engine.protection.timeZone = 'UTC';
    const scheduler = new Scheduler(engine.db, engine.protection);
    for (const slot of ['2026-03-27T22:00:20Z', '2026-03-28T22:00:20Z']) {
      const [job] = scheduler.tick(new Date(slot));
      expect((await engine.jobs.wait(job!.id)).error?.code).toBe('DiskPathsChanged');
    }
    expect(await points()).toHaveLength(1);

    // The admin approves from the CLI, a process of its own on the same catalog.
    const run = cofferIn(data)('vm', 'approve-disks', 'web');
    expect([run.code, run.err]).toEqual([0, '']);
    expect(run.out).toContain(`approved; its next backup reads:\n  ${path.join(root, 'other.img')}\n`);

    expect((await backup()).status).toBe('Completed');
    const all = await points();
    expect(all.map((p) => p.disks.map((d) => d.name).join())).toEqual(expect.arrayContaining(['web.img', 'other.img']));
    const latest = all.find((p) => p.disks.some((d) => d.name === 'other.img'))!;
    const target = path.join(tmp(), 'restored');
    const restore = unwrap(await router.invoke('restorePoint', { vm: 'web', pointId: latest.id, mode: 'disks', targetDir: target }));
    expect((await engine.jobs.wait(restore.id)).status).toBe('Completed');
    expect(fs.readdirSync(target)).toContain('other.img');
    expect(fs.readFileSync(path.join(target, 'other.img')).equals(fs.readFileSync(path.join(root, 'other.img')))).toBe(true);
  });

  it('approveDiskPaths through the router sets the baseline; protection start sets it too', async () => {
    const { root, engine, router, discover, backup } = await protectedWeb('web.img');
    // Discovered with web.img, changed before protection would be a change; protecting approved what it saw.
    const approved = () => (engine.db.prepare("SELECT approved_disk_paths AS p FROM vms WHERE name = 'web'").get() as { p: string }).p;
    expect(JSON.parse(approved())).toEqual([path.join(root, 'web.img')]);
    fs.writeFileSync(path.join(root, 'web.xml'), domain('other.img'));
    await discover();
    expect((await backup()).error?.code).toBe('DiskPathsChanged');
    const vm = unwrap(await router.invoke('approveDiskPaths', { vm: 'web' }));
    expect(vm.disks.map((d) => d.path)).toEqual([path.join(root, 'other.img')]);
    expect(JSON.parse(approved())).toEqual([path.join(root, 'other.img')]);
    expect((await backup()).status).toBe('Completed');
  });
});

describe('a disk Coffer may not read refuses the backup before anything is read', () => {
  it('a protected VM naming /etc/hostname: the job fails with DiskOutsideSource and no point; approving it is refused too', async () => {
    const { router, backup, points } = await protectedWeb('/etc/hostname');
    const job = await backup();
    expect(job.status).toBe('Failed');
    expect(job.error).toMatchObject({ code: 'DiskOutsideSource', message: expect.stringContaining('/etc/hostname is outside the source folder') });
    expect(await points()).toHaveLength(0);
    const approve = await router.invoke('approveDiskPaths', { vm: 'web' });
    expect(!approve.ok && approve.error.code).toBe('DiskOutsideSource');
  });
});
