import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { unwrap } from '../../helpers/cli.js';
import { discoverRegisterProtect, useEngines } from '../../helpers/engine.js';
import { useTmp } from '../../helpers/tmp.js';

/*
 * Backup Now of libvirt domains through the real virsh and libvirt's test driver (a node file
 * written here): a domain that is shut off, and a running one whose disk-only snapshot the test
 * driver refuses, as a hypervisor without external snapshots would.
 */
const tmp = useTmp();
const open = useEngines();

const OFF_UUID = 'c0000000-0000-4000-8000-0000000000d1';
const RUNNING_UUID = 'c0000000-0000-4000-8000-0000000000e2';

async function setup() {
  const dir = tmp();
  const disk = (n: string) => {
    const p = path.join(dir, `${n}.img`);
    fs.writeFileSync(p, randomBytes(192 * 1024));
    return p;
  };
  const domain = (name: string, uuid: string, file: string, runstate?: number) => `
    <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
      <name>${name}</name><uuid>${uuid}</uuid><memory>65536</memory><os><type>hvm</type></os>
      <devices><disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${file}'/><target dev='vda' bus='virtio'/></disk></devices>
      ${runstate ? `<test:runstate>${runstate}</test:runstate>` : ''}
    </domain>`;
  const node = path.join(dir, 'host.xml');
  // runstate 5 = shut off; without one the test driver starts the domain running.
  fs.writeFileSync(node, `<node>${domain('db-off', OFF_UUID, disk('db-off'), 5)}${domain('web-live', RUNNING_UUID, disk('web-live'))}</node>`);
  const installed = open(path.join(dir, 'data'));
  const { router } = installed;
  unwrap(await router.invoke('createVault', { name: 'vault-v', region: 'r1', path: path.join(dir, 'vault'), passphrase: 'correct horse battery' }));
  unwrap(await router.invoke('addSource', { kind: 'libvirt', target: `test://${node}`, region: 'r1', name: 'host' }));
  await discoverRegisterProtect(installed, 'vault-v', ['db-off', 'web-live']);
  return installed;
}

describe('Backup Now of libvirt domains (real virsh, test driver)', () => {
  it('records a domain that is shut off as offline, not crash-consistent', async () => {
    const { engine, router } = await setup();
    const [job] = unwrap(await router.invoke('backupNow', { vms: ['db-off'] }));
    const ended = await engine.jobs.wait(job!.id);
    expect(ended.status, JSON.stringify(ended.error)).toBe('Completed');
    expect(ended.details).toMatchObject({ consistency: 'offline' });
    const [point] = unwrap(await router.invoke('listPoints', { vm: 'db-off' }));
    expect(point!.consistency).toBe('offline');
  });

  it('fails a running domain whose snapshot the hypervisor refuses with SnapshotFailed and its remedy, not Internal', async () => {
    const { engine, router } = await setup();
    const [job] = unwrap(await router.invoke('backupNow', { vms: ['web-live'] }));
    const ended = await engine.jobs.wait(job!.id);
    expect(ended.status).toBe('Failed');
    expect(ended.error).toMatchObject({ code: 'SnapshotFailed', message: expect.stringContaining('web-live'), remedy: expect.stringContaining('virsh') });
    expect(unwrap(await router.invoke('listPoints', { vm: 'web-live' }))).toEqual([]);
  });
});
