import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withConsistentSnapshot } from '../../../main/core/sources/libvirt-snapshot.js';
import { domainState, domblklist, LibvirtProvider } from '../../../main/core/sources/libvirt.js';
import type { DiscoveredVm } from '../../../main/core/sources/types.js';

/*
 * virsh looks a domain up as an id, then a UUID, then a name. On this host (the real virsh, the test
 * driver) the domain named "3" is not domain id 3, "1" is not id 1, one domain is named like
 * another's UUID and one like a UUID no domain has. Each VM's discovery, state and disks must be its own.
 */
const A = 'a0000000-0000-4000-8000-000000000001';
const B = 'b0000000-0000-4000-8000-000000000002';
const C = 'c0000000-0000-4000-8000-000000000003';
const D = 'd0000000-0000-4000-8000-000000000004';
const E = 'e0000000-0000-4000-8000-000000000005';
const F = 'f0000000-0000-4000-8000-000000000006';
const NOBODY = 'f0000000-0000-4000-8000-000000000099';

let dir: string;
let uri: string;
// runstate 5 = shut off, 3 = paused; the others run. Running and paused domains get ids 1, 2, 3... in order.
const domains: { name: string; uuid: string; state?: number; disk: string; power: string }[] = [
  { name: 'alpha', uuid: A, disk: 'alpha.img', power: 'running' }, // id 1
  { name: '3', uuid: B, state: 5, disk: 'three.img', power: 'off' },
  { name: E, uuid: C, disk: 'named-like-e.img', power: 'running' }, // id 2
  { name: NOBODY, uuid: D, state: 5, disk: 'named-like-nobody.img', power: 'off' },
  { name: 'echo', uuid: E, state: 3, disk: 'echo.img', power: 'paused' }, // id 3
  { name: '1', uuid: F, disk: 'one.img', power: 'running' }, // id 4
];

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'coffer-virsh-uuid-'));
  const xml = domains.map((d) => {
    writeFileSync(path.join(dir, d.disk), Buffer.alloc(4096, d.disk.length));
    return `<domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
      <name>${d.name}</name><uuid>${d.uuid}</uuid><memory>65536</memory><os><type>hvm</type></os>
      <devices><disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${path.join(dir, d.disk)}'/><target dev='vda'/></disk></devices>
      ${d.state ? `<test:runstate>${d.state}</test:runstate>` : ''}
    </domain>`;
  });
  writeFileSync(path.join(dir, 'node.xml'), `<node>${xml.join('')}</node>`);
  uri = `test://${path.join(dir, 'node.xml')}`;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('libvirt domains are addressed by UUID', () => {
  it('discovery gives each VM its own UUID, power state and disk', async () => {
    const vms: DiscoveredVm[] = await new LibvirtProvider(uri).list();
    const byUuid = new Map(vms.map((v) => [v.stableId, v]));
    for (const d of domains) {
      const vm = byUuid.get(d.uuid);
      expect(vm, d.name).toBeDefined();
      expect([vm!.name, vm!.powerState, vm!.disks.map((k) => path.basename(k.path))]).toEqual([d.name, d.power, [d.disk]]);
    }
  });

  it('power state and disk list of each domain come from that domain', async () => {
    for (const d of domains) {
      expect(await domainState(uri, d.uuid), d.name).toBe(d.power);
      expect((await domblklist(uri, d.uuid)).map((b) => path.basename(b.source)), d.name).toEqual([d.disk]);
    }
  });

  it('a name is refused, not looked up as an id: "3" is not domain id 3, "1" is not id 1', async () => {
    await expect(domainState(uri, '3')).rejects.toMatchObject({ code: 'InvalidArgument' });
    let called = false;
    await expect(
      withConsistentSnapshot(uri, '1', async () => {
        called = true;
      }),
    ).rejects.toMatchObject({ code: 'InvalidArgument' });
    expect(called).toBe(false);
  });

  it('a UUID no domain has is not found, although a domain is named like it', async () => {
    await expect(domainState(uri, NOBODY)).rejects.toMatchObject({ code: 'VmNotFound' });
    let read: string[] = [];
    await expect(
      withConsistentSnapshot(uri, NOBODY, async (disks) => {
        read = disks.map((k) => k.path);
      }),
    ).rejects.toMatchObject({ code: 'VmNotFound' });
    expect(read).toEqual([]);
  });

  it('a backup of a shut-off domain reads that domain\'s disks', async () => {
    const r = await withConsistentSnapshot(uri, B, async (disks) => disks.map((k) => path.basename(k.path)));
    expect([r.consistency, r.value]).toEqual(['offline', ['three.img']]);
    const r2 = await withConsistentSnapshot(uri, D, async (disks) => disks.map((k) => path.basename(k.path)));
    expect(r2.value).toEqual(['named-like-nobody.img']);
  });
});
