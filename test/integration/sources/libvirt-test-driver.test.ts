import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProvider } from '../../../main/core/sources/index.js';
import { withConsistentSnapshot } from '../../../main/core/sources/libvirt-snapshot.js';
import { LibvirtProvider } from '../../../main/core/sources/libvirt.js';
import type { DiscoveredVm } from '../../../main/core/sources/types.js';

// The real virsh against libvirt's in-process test driver, loaded with node files written here.
let dir: string;
let hostA: string;
let hostB: string;
const domain = (o: { name: string; uuid: string; state?: number; disks?: string; agent?: boolean }) => `
  <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
    <name>${o.name}</name><uuid>${o.uuid}</uuid><memory>65536</memory><os><type>hvm</type></os>
    <devices>${o.disks ?? ''}${o.agent ? "<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>" : ''}</devices>
    ${o.state ? `<test:runstate>${o.state}</test:runstate>` : ''}
  </domain>`;
const fileDisk = (p: string, dev: string, type: string) => `<disk type='file' device='disk'><driver name='qemu' type='${type}'/><source file='${p}'/><target dev='${dev}' bus='virtio'/></disk>`;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'coffer-virsh-'));
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', path.join(dir, 'base.qcow2'), '1M']);
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', 'base.qcow2', '-F', 'qcow2', path.join(dir, 'web-a.qcow2')]);
  execFileSync('qemu-img', ['create', '-q', '-f', 'raw', path.join(dir, 'db.img'), '1M']);
  hostA = path.join(dir, 'host-a.xml');
  hostB = path.join(dir, 'host-b.xml');
  // runstate 5 = shut off, 3 = paused; the test driver starts the others running.
  writeFileSync(
    hostA,
    `<node>${[
      domain({ name: 'web', uuid: 'a0000000-0000-4000-8000-00000000000a', agent: true, disks: fileDisk(path.join(dir, 'web-a.qcow2'), 'vda', 'qcow2') + "<disk type='file' device='cdrom'><target dev='sda'/><readonly/></disk>" }),
      domain({ name: 'db', uuid: 'a0000000-0000-4000-8000-00000000000d', state: 5, disks: fileDisk(path.join(dir, 'db.img'), 'vda', 'raw') + fileDisk(path.join(dir, 'db-missing.img'), 'vdb', 'raw') }),
      domain({ name: 'batch', uuid: 'a0000000-0000-4000-8000-00000000000b', state: 3 }),
    ].join('')}</node>`,
  );
  writeFileSync(hostB, `<node>${domain({ name: 'web', uuid: 'b0000000-0000-4000-8000-00000000000a', disks: fileDisk(path.join(dir, 'base.qcow2'), 'vda', 'qcow2') })}</node>`);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('libvirt through the real virsh (test driver)', () => {
  let a: DiscoveredVm[];
  let b: DiscoveredVm[];
  beforeAll(async () => {
    a = await createProvider({ kind: 'libvirt', uri: `test://${hostA}`, cloudServiceLabel: 'rack-1' }).list();
    b = await createProvider({ kind: 'libvirt', uri: `test://${hostB}`, cloudServiceLabel: 'rack-2' }).list();
  });

  it('lists every domain with its UUID and power state (running, shut off, paused)', () => {
    expect(a.map((v) => [v.name, v.stableId, v.powerState, v.cloudService])).toEqual([
      ['batch', 'a0000000-0000-4000-8000-00000000000b', 'paused', 'rack-1'],
      ['db', 'a0000000-0000-4000-8000-00000000000d', 'off', 'rack-1'],
      ['web', 'a0000000-0000-4000-8000-00000000000a', 'running', 'rack-1'],
    ]);
  });

  it('tells the two domains named web apart by cloud service and UUID', () => {
    const webs = [...a, ...b].filter((v) => v.name === 'web');
    expect(webs.map((v) => [v.cloudService, v.stableId])).toEqual([
      ['rack-1', 'a0000000-0000-4000-8000-00000000000a'],
      ['rack-2', 'b0000000-0000-4000-8000-00000000000a'],
    ]);
  });

  it('reads disks from dumpxml with the local backing chain, skips the CD-ROM, and sees the guest agent channel', () => {
    const web = a.find((v) => v.name === 'web')!;
    expect(web.guestAgent).toBe(true);
    expect(web.disks.map((d) => [d.name, path.basename(d.path), d.format, d.role, d.exists])).toEqual([
      ['vda', 'web-a.qcow2', 'qcow2', 'disk', true],
      ['base.qcow2', 'base.qcow2', 'qcow2', 'backing', true],
    ]);
    expect(a.find((v) => v.name === 'batch')!.guestAgent).toBe(false);
  });

  it('reports a disk file that is missing', () => {
    const db = a.find((v) => v.name === 'db')!;
    expect(db.disks.map((d) => [d.name, d.format, d.exists])).toEqual([
      ['vda', 'raw', true],
      ['vdb', 'raw', false],
    ]);
    expect(db.problems).toEqual([`disk vdb is missing: ${path.join(dir, 'db-missing.img')}`]);
  });

  it('uses the URI host as cloud service when no label is set', async () => {
    const vms = await new LibvirtProvider(`test://${hostB}`).list();
    expect(vms[0]!.cloudService).toBe('test');
  });

  it('status: reachable, unreachable with virsh\'s reason, tool-missing without virsh', async () => {
    expect((await new LibvirtProvider(`test://${hostA}`).status()).state).toBe('reachable');
    const bad = await new LibvirtProvider(`test://${path.join(dir, 'nope.xml')}`).status();
    expect(bad.state).toBe('unreachable');
    expect(bad.message).toMatch(/failed to connect to the hypervisor/);
    const missing = new LibvirtProvider(`test://${hostA}`, { virsh: 'virsh-not-installed-here' });
    expect((await missing.status()).state).toBe('tool-missing');
    expect((await missing.status()).message).toMatch(/virsh not found on PATH/);
    expect(await missing.list()).toEqual([]);
  });

  it('withConsistentSnapshot on a shut-off domain reads the disk files directly: consistency offline', async () => {
    const r = await withConsistentSnapshot(`test://${hostA}`, 'a0000000-0000-4000-8000-00000000000d', async (disks) => disks);
    expect(r.consistency).toBe('offline');
    expect(r.warnings).toEqual([]);
    expect(r.value).toEqual([
      { name: 'vda', path: path.join(dir, 'db.img') },
      { name: 'vdb', path: path.join(dir, 'db-missing.img') },
    ]);
  });
});
