import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { unwrap } from '../helpers/cli.js';
import { useEngines } from '../helpers/engine.js';
import { useTmp } from '../helpers/tmp.js';

const tmp = useTmp();
const open = useEngines();

let uuidSeq = 0;
function libvirtVm(dir: string, name: string): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, `${name}.img`), Buffer.alloc(64 * 1024, 1));
  fs.writeFileSync(
    path.join(dir, `${name}.xml`),
    `<domain type='kvm'><name>${name}</name><uuid>6d1a2b3c-0000-4000-8000-${String(++uuidSeq).padStart(12, '0')}</uuid>
      <devices><disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${name}.img'/><target dev='vda'/></disk></devices></domain>`,
  );
}

describe('VM labels of a folder source through the API', () => {
  it('names a VM in its own folder by the folder above, and a label a rescan changed still finds the VM', async () => {
    const dir = tmp();
    const hv = path.join(dir, 'hv');
    libvirtVm(path.join(hv, 'lab', 'web01'), 'web01');
    libvirtVm(path.join(hv, 'shop', 'web01'), 'web01');
    const { engine, router } = open(path.join(dir, 'data'));
    unwrap(await router.invoke('addSource', { kind: 'folder', target: hv, region: 'r1', name: 'hv' }));
    unwrap(await router.invoke('createVault', { name: 'vault-a', region: 'r1', path: path.join(dir, 'v'), passphrase: 'correct horse battery' }));
    const discover = async () => {
      await engine.jobs.wait(unwrap(await router.invoke('discoverVms', { vault: 'vault-a' })).id);
      return unwrap(await router.invoke('discoveryResult', { vault: 'vault-a' })).candidates.map((v) => `${v.cloudService}/${v.name}`).sort();
    };
    expect(await discover()).toEqual(['lab/web01', 'shop/web01']);
    const [job] = unwrap(await router.invoke('registerVms', { vault: 'vault-a', vms: ['lab/web01'] }));
    expect((await engine.jobs.wait(job!.id)).summary).toEqual({ code: 'VmRegistered', params: { vm: 'lab/web01', vault: 'vault-a' } });

    // A second VM in web01's folder: the folder is no longer web01's own, so it names both.
    libvirtVm(path.join(hv, 'lab', 'web01'), 'web01-test');
    expect(await discover()).toEqual(['lab/web01/web01-test', 'shop/web01']);
    const [un] = unwrap(await router.invoke('unregisterVms', { vault: 'vault-a', vms: ['lab/web01'] }));
    expect((await engine.jobs.wait(un!.id)).summary).toEqual({ code: 'VmUnregistered', params: { vm: 'lab/web01/web01', vault: 'vault-a' } });
  });
});
