import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Dashboard, Job, RecoveryPoint } from '../../preload/contract.js';
import { cofferIn } from '../helpers/cli.js';
import { useTmp } from '../helpers/tmp.js';

const tmp = useTmp();
const sha256 = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

/** A VM as a folder source holds it: libvirt XML, a raw disk with data and holes, a qcow2 disk. */
function makeVm(dir: string): { disk: string; qcow: string } {
  fs.mkdirSync(dir, { recursive: true });
  const disk = path.join(dir, 'web01.img');
  const fd = fs.openSync(disk, 'w');
  for (let mib = 0; mib < 8; mib++) {
    // Every other MiB stays a hole: zero chunks cost nothing in the vault.
    if (mib % 2 === 0) fs.writeSync(fd, randomBytes(1 << 20), 0, 1 << 20, mib << 20);
  }
  fs.ftruncateSync(fd, 8 << 20);
  fs.closeSync(fd);
  const qcow = path.join(dir, 'web01-data.qcow2');
  expect(spawnSync('qemu-img', ['create', '-q', '-f', 'qcow2', qcow, '64M']).status).toBe(0);
  fs.writeFileSync(
    path.join(dir, 'web01.xml'),
    `<domain type='kvm'><name>web01</name><uuid>0b3c9a52-1111-4222-8333-444455556666</uuid><memory unit='MiB'>512</memory>
      <os><type arch='x86_64'>hvm</type></os>
      <devices>
        <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='web01.img'/><target dev='vda' bus='virtio'/></disk>
        <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='web01-data.qcow2'/><target dev='vdb' bus='virtio'/></disk>
      </devices></domain>`,
  );
  return { disk, qcow };
}

describe('the walkthrough W1..W23 from the CLI alone', () => {
  it('goes from an empty data folder to a restored, byte-identical VM', () => {
    const dir = tmp();
    const data = path.join(dir, 'data');
    const { disk, qcow } = makeVm(path.join(dir, 'hypervisor', 'shop'));
    const coffer = cofferIn(data, { COFFER_PASSPHRASE: 'correct horse battery staple' });
    const ok = (...args: string[]) => {
      const r = coffer(...args);
      expect(r.code, `coffer ${args.join(' ')}\n${r.out}\n${r.err}`).toBe(0);
      return r.out;
    };
    const json = <T>(...args: string[]): T => JSON.parse(ok(...args, '--json')) as T;

    ok(...'vault create vault-ams --region lab-amsterdam --path'.split(' '), path.join(dir, 'vault'));
    ok('source', 'add', 'folder', path.join(dir, 'hypervisor'), '--region', 'lab-amsterdam', '--name', 'lab');
    // W1..W3: discover lists the VM with its cloud service.
    expect(ok('vm', 'discover', '--vault', 'vault-ams')).toMatch(/web01\s+shop\s+lab-amsterdam/);
    // W4..W6: one Register job per VM.
    expect(ok('vm', 'register', '--vault', 'vault-ams', 'shop/web01')).toMatch(/Register .*: Completed/);
    // W8: the default policy exists; W10: a new policy with the seed's four tiers.
    expect(ok('policy', 'list', '--vault', 'vault-ams')).toContain('DefaultPolicy (built-in): Daily at 22:00; keep daily 30 days');
    ok(...'policy create Gold --vault vault-ams --daily 22:00 --keep-daily 30 --keep-weekly SUN:104 --keep-monthly last-SUN:120 --keep-yearly JAN:first-SUN:99'.split(' '));
    const bad = coffer(...'policy create Bad --vault vault-ams --weekly MON@22:00 --keep-weekly SUN:4'.split(' '));
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('retention.weekly.weekday');
    // W9, W13, W14: protect -> pending initial backup.
    expect(ok('protect', '--vault', 'vault-ams', '--policy', 'Gold', 'web01')).toMatch(/ConfigureProtection .*: Completed/);
    expect(json<Dashboard>('dashboard').protectedByState).toEqual({ ProtectedPendingInitialBackup: 1 });
    expect(coffer('policy', 'delete', 'Gold', '--vault', 'vault-ams').err).toContain('PolicyInUse');

    // W15..W17: Backup Now makes the first point; the VM becomes Protected.
    expect(ok('backup', 'now', 'web01', '--wait')).toMatch(/Backup .*: Completed - Recovery point/);
    const dash = json<Dashboard>('dashboard');
    expect(dash.protectedByState).toEqual({ Protected: 1 });
    expect(dash.jobs24h.failed).toBe(0);
    expect(dash.vms[0]!.nextBackupAt).not.toBeNull();
    expect(dash.vaults[0]!.pointCount).toBe(1);

    // A second backup after a guest write adds little: only the changed chunks.
    const diskAtFirstBackup = sha256(disk);
    const fd = fs.openSync(disk, 'r+');
    fs.writeSync(fd, randomBytes(64 * 1024), 0, 64 * 1024, 3 << 20);
    fs.closeSync(fd);
    ok('backup', 'now', 'web01', '--wait', '--retain-until', new Date(Date.now() + 7 * 86_400_000).toISOString());
    const points = json<RecoveryPoint[]>('point', 'list', 'web01');
    expect(points).toHaveLength(2);
    expect(points[0]!.addedBytes).toBeLessThan(2 << 20);
    expect(points[0]!.keptBy).toContain('retain-until');
    expect(points.every((p) => p.consistency === 'offline')).toBe(true);

    // W19, W21: the job log filters, and a failure carries its code and remedy.
    const backups = json<Job[]>('job', 'list', '--operation', 'Backup', '--status', 'Completed');
    expect(backups).toHaveLength(2);
    fs.renameSync(qcow, `${qcow}.moved`);
    const failed = coffer('backup', 'now', 'web01', '--wait');
    expect(failed.code).toBe(1);
    expect(failed.err).toContain('DiskUnreadable');
    expect(failed.err).toContain('remedy:');
    const [lastFailed] = json<Job[]>('job', 'list', '--status', 'Failed');
    expect(lastFailed!.error).toMatchObject({ code: 'DiskUnreadable', remedy: expect.any(String) });
    expect(json<Dashboard>('dashboard').protectedByState).toEqual({ ProtectionError: 1 });
    fs.renameSync(`${qcow}.moved`, qcow);

    // W23: restore the disks of the first point; they are byte-identical to what was backed up.
    const first = points[1]!;
    const target = path.join(dir, 'restored-disks');
    ok('restore', 'web01', '--point', first.id, '--disks-to', target, '--wait');
    const restoredQcow = path.join(target, 'web01-data.qcow2');
    expect(sha256(restoredQcow)).toBe(sha256(qcow));
    expect(sha256(path.join(target, 'web01.img'))).toBe(diskAtFirstBackup);
    expect(sha256(path.join(target, 'web01.img'))).not.toBe(sha256(disk));
    expect(spawnSync('qemu-img', ['check', restoredQcow]).status).toBe(0);
    // Never overwrite: the same target again is refused.
    expect(coffer('restore', 'web01', '--point', first.id, '--disks-to', target).err).toContain('RestoreTargetNotEmpty');

    // Restore as a new VM: new name and UUID, disks pointing at the restored files.
    const asNew = path.join(dir, 'web01-copy');
    ok('restore', 'web01', '--point', points[0]!.id, '--as-new', 'web01-copy', '--to', asNew, '--wait');
    const xml = fs.readFileSync(path.join(asNew, 'web01.xml'), 'utf8');
    expect(xml).toContain('<name>web01-copy</name>');
    expect(xml).not.toContain('0b3c9a52-1111-4222-8333-444455556666');
    expect(xml).toContain(`file='${path.join(asNew, 'web01.img')}'`);
    expect(sha256(path.join(asNew, 'web01.img'))).toBe(sha256(disk));

    // ...and defined on a libvirt connection (the test driver accepts the definition).
    expect(ok('restore', 'web01', '--point', points[0]!.id, '--as-new', 'web01-copy2', '--to', path.join(dir, 'copy2'), '--define-on', 'test:///default', '--wait')).toContain(
      'defined as web01-copy2 on test:///default',
    );

    // Replace the VM's own disks (it is off): the current files stay as safety copies.
    const current = sha256(disk);
    ok('restore', 'web01', '--point', first.id, '--replace-disks', '--wait');
    expect(sha256(disk)).toBe(diskAtFirstBackup);
    const safety = fs.readdirSync(path.dirname(disk)).filter((f) => f.startsWith('web01.img.coffer-safety-'));
    expect(safety).toHaveLength(1);
    expect(sha256(path.join(path.dirname(disk), safety[0]!))).toBe(current);
    expect(fs.readdirSync(path.dirname(disk)).filter((f) => f.startsWith('.coffer-restore'))).toEqual([]);

    ok('verify', 'vault-ams', '--full', '--wait');

    // W22: stop keeping data, resume, then stop deleting data; unregister; delete the vault.
    ok('protection', 'stop', 'web01', '--keep-data');
    expect(coffer('vm', 'unregister', '--vault', 'vault-ams', 'web01', '--yes').code).toBe(0);
    ok('vm', 'register', '--vault', 'vault-ams', 'shop/web01');
    ok('protect', '--vault', 'vault-ams', '--policy', 'DefaultPolicy', 'web01');
    ok('backup', 'now', 'web01', '--wait');
    expect(coffer('vm', 'unregister', '--vault', 'vault-ams', 'web01', '--yes').err).toContain('VmIsProtected');
    ok('protection', 'stop', 'web01', '--delete-data', '--confirm', 'web01');
    expect(json<RecoveryPoint[]>('point', 'list', 'web01').filter((p) => p.vmName === 'web01')).toEqual([]);
    ok('vm', 'unregister', '--vault', 'vault-ams', 'web01', '--yes');
    ok('vault', 'delete', 'vault-ams', '--delete-data');
    expect(fs.existsSync(path.join(dir, 'vault'))).toBe(false);
  }, 300_000); // dozens of CLI processes: a generous bound against a hang on a busy machine, not a speed target
});
