import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ConnectedVault, PendingProtection, RecoveryPoint, VaultDetails, VaultSummary, Vm } from '../../preload/contract.js';
import { backend, catalogBytes, runner } from '../helpers/cli-backends.js';
import type { Emulator } from '../helpers/emulators.js';
import { useTmp } from '../helpers/tmp.js';

// Disaster recovery from the CLI alone, on every backend: install A (its own data folder) makes a
// vault, backs a VM up into it; install B (another data folder, as on a new machine) connects the
// vault under another name and restores the VM byte-identical. Real emulators on 127.0.0.1.

const tmp = useTmp();
const UUID = '0b3c9a52-1111-4222-8333-444455556666';
const sha256 = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

const emulators: Emulator[] = [];
afterAll(async () => {
  for (const e of emulators.splice(0)) await e.dispose();
});

/** A libvirt VM as a folder source holds it: definition and an 8 MiB raw disk, half data, half holes. */
function makeVm(dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  const disk = path.join(dir, 'web01.img');
  const fd = fs.openSync(disk, 'w');
  for (let mib = 0; mib < 8; mib += 2) fs.writeSync(fd, randomBytes(1 << 20), 0, 1 << 20, mib << 20);
  fs.ftruncateSync(fd, 8 << 20);
  fs.closeSync(fd);
  fs.writeFileSync(
    path.join(dir, 'web01.xml'),
    `<domain type='kvm'><name>web01</name><uuid>${UUID}</uuid><memory unit='MiB'>256</memory>
      <devices><disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='web01.img'/><target dev='vda' bus='virtio'/></disk></devices></domain>`,
  );
  return disk;
}

describe.each(['folder', 'azure', 's3'] as const)('disaster recovery through the CLI on %s', (kind) => {
  it('connects the vault from a new install, shows the VM as Backup data only and restores it byte-identical', { timeout: 180_000 }, async () => {
    const dir = tmp();
    const be = await backend(kind, dir, emulators);
    const disk = makeVm(path.join(dir, 'hypervisor', 'shop'));
    const dataA = path.join(dir, 'data-a');
    const dataB = path.join(dir, 'data-b');
    const a = runner(dataA, be.env);

    // Install A: a vault, a folder source, the VM registered, protected and backed up.
    expect(a.ok('vault', 'create', 'team-a', '--region', 'lab', ...be.where('team'))).toContain('Vault team-a created');
    a.ok('source', 'add', 'folder', path.join(dir, 'hypervisor'), '--region', 'lab', '--name', 'lab');
    a.ok('vm', 'discover', '--vault', 'team-a');
    a.ok('vm', 'register', '--vault', 'team-a', 'shop/web01');
    a.ok('protect', '--vault', 'team-a', '--policy', 'DefaultPolicy', 'web01');
    expect(a.ok('backup', 'now', 'web01', '--wait')).toMatch(/Backup .*: Completed - Recovery point/);
    const diskAtBackup = sha256(disk);
    const [pointA] = a.json<RecoveryPoint[]>('point', 'list', 'web01');

    const shown = a.json<VaultDetails>('vault', 'show', 'team-a');
    expect(shown.storage).toMatchObject({ kind: kind === 'folder' ? 'folder' : kind, lockMode: be.lockMode });
    expect(shown.pointCount).toBe(1);
    // The location listed is the URL (or path) without any secret.
    expect(a.ok('vault', 'list')).toContain(shown.location);

    // Install B, as on a new machine: connect under another name, with the same credentials.
    const b = runner(dataB, be.env);
    const connected = b.json<ConnectedVault>('vault', 'connect', 'team-b', ...be.where('team'));
    expect(connected).toMatchObject({ name: 'team-b', region: 'lab', pointCount: 1, backupDataOnlyVms: ['web01'] });
    // The second connect of the same vault is refused by its id, under any name.
    const again = b.coffer('vault', 'connect', 'team-c', ...be.where('team'));
    expect(again.code).toBe(1);
    expect(again.err).toContain('VaultAlreadyConnected');

    const [pointB] = b.json<RecoveryPoint[]>('point', 'list', 'web01');
    expect(pointB!.id).toBe(pointA!.id);
    const vm = b.json<Vm[]>('vm', 'list', '--vault', 'team-b').find((v) => v.name === 'web01');
    expect(vm?.protectionState).toBe('BackupDataOnly');
    // Its protection waits for the admin; a Backup data only item cannot be protected as it is.
    expect(b.json<PendingProtection[]>('protection', 'pending', 'team-b')).toEqual([expect.objectContaining({ vmName: 'web01', policy: 'DefaultPolicy', backupDataOnly: true })]);
    const refused = b.coffer('protect', '--vault', 'team-b', '--policy', 'DefaultPolicy', 'web01');
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('VmBackupDataOnly');

    const target = path.join(dir, 'restored');
    b.ok('restore', 'web01', '--point', pointB!.id, '--disks-to', target, '--wait');
    expect(sha256(path.join(target, 'web01.img'))).toBe(diskAtBackup);
    expect(b.ok('vault', 'show', 'team-b')).toContain(`Lock mode:        ${be.lockMode}`);

    if (kind === 'folder') {
      // Disconnect keeps the data: connecting again finds the same point (the same code on every backend).
      expect(b.ok('vault', 'disconnect', 'team-b')).toContain('disconnected');
      expect(b.json<VaultSummary[]>('vault', 'list')).toEqual([]);
      expect(b.json<ConnectedVault>('vault', 'connect', 'team-b', ...be.where('team')).pointCount).toBe(1);
    }

    for (const data of [dataA, dataB]) for (const s of be.secrets) expect(catalogBytes(data)).not.toContain(s);
  });
});
